"""Choose one reading per cell so that the report's rules hold, at the least cost (OR-Tools CP-SAT).

Each OCR'd cell has candidate readings with probabilities (:mod:`service.reconcile.candidates`); every other
cell is a constant (digital sources are never changed). Every rule equation of the format that involves a
cell with more than one candidate becomes a constraint that may be broken at a cost (``rule_cost``: real
reports break their own arithmetic); the objective is the sum of the chosen readings' costs (-log p) plus
the cost of the broken rules (the one model of :func:`service.rules.model.solve`). A cell whose chosen
reading differs from the one read is *repaired*, with the rules that the repair satisfies; the rules still
broken are findings about the source.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from service.options import ReconcileOptions
from service.reconcile.candidates import Priors, Reading, candidates
from service.result import CellValue
from service.rules import Equation, Option, blank_side, equations, holds, rule_value, solve
from service.rules.equations import Number
from service.schema import FormatSchema

SECONDS = 1.0  # the solver's time limit per report (a proven optimum is needed to change a reading)


@dataclass
class Decision:
    cell_id: str
    reading: Reading  # the chosen reading
    original: Reading  # the reading as printed
    candidates: list[Reading]
    rules: list[str] = field(default_factory=list)  # ids of the rules a repair makes hold


@dataclass
class Reconciliation:
    decisions: dict[str, Decision]  # every cell that had more than one candidate
    broken: list[Equation]  # the equations the chosen readings still break
    status: str  # "optimal" | "skipped" | "too many repairs" | the solver's status when not optimal
    seconds: float
    implied: dict[str, Number] = field(default_factory=dict)  # absent cells: the value the chosen readings imply
    readings: dict[str, float] = field(default_factory=dict)  # OCR'd cells: probability of the reading as read

    @property
    def repaired(self) -> dict[str, Decision]:
        return {cid: d for cid, d in self.decisions.items() if d.reading.value != d.original.value}


def zeros_printed(cells: dict[str, CellValue]) -> set[str]:
    """Tables (t2/t3/t4) whose OCR'd cells print zeros as 0 (three or more): a blank there may be a lost 0."""
    count: dict[str, int] = {}
    for cid, cell in cells.items():
        if cell.ocr is not None and cell.value == 0 and (cell.raw or "").strip() == "0":
            count[cid.split(".")[0]] = count.get(cid.split(".")[0], 0) + 1
    return {t for t, n in count.items() if n >= 3}


def _free(cell: CellValue | None) -> bool:
    return cell is not None and cell.status == "absent"


def side_by_side(cells: dict[str, CellValue]) -> list[tuple[str, str]]:
    """Pairs (left, right) of OCR'd value cells printed next to each other in one table row (same schema row,
    same page, boxes overlapping vertically, nothing between them)."""
    rows: dict[tuple[str, int | None], list[tuple[float, float, float, float, str]]] = {}
    for cid, cell in cells.items():
        src = cell.source
        if cell.ocr is None or src is None or src.bbox is None or cell.status not in ("read", "blank"):
            continue
        rows.setdefault((cid.rsplit(".", 1)[0], src.page), []).append((*src.bbox, cid))
    out = []
    for boxes in rows.values():
        boxes.sort()
        for (_x0, y0, _x1, y1, a), (_u0, v0, _u1, v1, b) in zip(boxes, boxes[1:]):
            if min(y1, v1) - max(y0, v0) >= 0.5 * min(y1 - y0, v1 - v0):
                out.append((a, b))
    return out


def _moves(left: CellValue, right: CellValue) -> list[tuple[int, int]]:
    """(left, right) values if a digit printed in one cell was read in its neighbour: 1 | 23 -> 12 | 3, 12 | 3 ->
    1 | 23."""
    a = "" if left.value is None else str(left.value)
    b = "" if right.value is None else str(right.value)
    out = []
    if len(b) >= 2 and (len(b) == 2 or b[1] != "0"):
        out.append((int(a + b[0]), int(b[1:])))
    if len(a) >= 2 and (a[-1] != "0" or not b):
        out.append((int(a[:-1]), int(a[-1] + b)))
    return [(x, y) for x, y in out if (x, y) != (left.value, right.value)]


def reconcile(
    cells: dict[str, CellValue],
    schema: FormatSchema,
    options: ReconcileOptions,
    *,
    single_other_processing: bool = False,
) -> Reconciliation:
    """The least-cost readings under the rules. ``options.rule_cost``: the cost of a broken rule, in nats;
    ``options.doubt``: a cell whose reading as printed has less probability than this is open to change even
    under rules that hold. Readings change only when the solver proves its choice optimal and it repairs at most
    ``options.max_repairs`` cells (more is no longer a small explanation of the broken rules: the reviewer
    decides)."""
    t0 = time.perf_counter()
    priors = Priors.of(options)
    zeros = zeros_printed(cells)
    cands = {cid: candidates(cell, priors, zeros_printed=cid.split(".")[0] in zeros) for cid, cell in cells.items()}
    readings = {cid: cs[0].prob for cid, cs in cands.items() if cells[cid].ocr is not None}
    # As read, every rule that holds costs nothing to keep: only cells of a broken rule (and readings the
    # recognizer itself doubts) are open to change; all the rules they take part in constrain them.
    every = [
        eq
        for eq in equations(schema, single_other_processing=single_other_processing)
        if all(
            rule_value(cells.get(c)) is not None or len(cands.get(c, ())) > 1 or _free(cells.get(c)) for c in eq.cells
        )
    ]
    # a rule that fails because one side is printed blank (a blank 总计) says nothing about the readings
    every = [eq for eq in every if holds(eq, cells) or not blank_side(eq, cells)]
    failing = [eq for eq in every if not holds(eq, cells)]
    variable = {c for eq in failing for c in eq.cells if len(cands.get(c, ())) > 1}
    variable |= {cid for cid, cs in cands.items() if len(cs) > 1 and cs[0].prob < options.doubt}
    pairs = [(a, b) for a, b in side_by_side(cells) if a in variable or b in variable]
    variable |= {c for pair in pairs for c in pair}  # a digit may have moved (a blank cell included)
    eqs = [eq for eq in every if any(c in variable for c in eq.cells)]
    if not variable or not eqs:
        return Reconciliation({}, failing, "skipped", time.perf_counter() - t0, readings=readings)
    involved = sorted({c for eq in eqs for c in eq.cells if c in variable})

    # the readings of each cell (their cost relative to the reading as printed), then the moves of a digit
    # between two side-by-side cells: one choice that reads both cells
    choices: list[Option] = []
    readings_of: list[tuple[str, Reading]] = []
    for cid in involved:
        base = cands[cid][0].cost
        for r in cands[cid]:
            choices.append(Option({cid: r.value}, r.cost - base))
            readings_of.append((cid, r))
    moved: list[tuple[str, str, Reading, Reading]] = []
    for a, b in pairs:
        if a not in involved or b not in involved:
            continue
        for va, vb in _moves(cells[a], cells[b]):
            how = "split across cells"
            moved.append(
                (
                    a,
                    b,
                    Reading(va, str(va), cands[a][0].prob * priors.split, how),
                    Reading(vb, str(vb), cands[b][0].prob, how),
                )
            )
            choices.append(Option({a: va, b: vb}, -math.log(priors.split)))
    constants = {
        c: round(rule_value(cells.get(c)) or 0)
        for eq in eqs
        for c in eq.cells
        if c not in variable and not _free(cells.get(c))
    }
    solution = solve(
        choices,
        eqs,
        constants=constants,
        free={c for eq in eqs for c in eq.cells if _free(cells.get(c))},
        rule_cost=lambda eq: options.heuristic_rule_cost if eq.status == "heuristic" else options.rule_cost,
        seconds=SECONDS,
    )
    if solution.status != "optimal":  # only a proven least-cost choice changes a reading
        return Reconciliation({}, failing, solution.status, time.perf_counter() - t0, readings=readings)
    offered: dict[str, list[Reading]] = {cid: [] for cid in involved}
    chosen: dict[str, Reading] = {}
    picked = set(solution.chosen)
    for k, (cid, r) in enumerate(readings_of):
        offered[cid].append(r)
        if k in picked:
            chosen[cid] = r
    for k, (a, b, ra, rb) in enumerate(moved, start=len(readings_of)):
        offered[a].append(ra)
        offered[b].append(rb)
        if k in picked:
            chosen[a], chosen[b] = ra, rb
    decisions = {cid: Decision(cid, chosen[cid], cands[cid][0], offered[cid]) for cid in involved}
    broken = [eq for eq, k in zip(eqs, solution.kept) if k is False]
    held = [eq for eq, k in zip(eqs, solution.kept) if k]
    for d in decisions.values():
        if d.reading.value != d.original.value:
            d.rules = sorted({eq.rule for eq in held if d.cell_id in eq.cells})
    changed = [d for d in decisions.values() if d.reading.value != d.original.value]
    if len(changed) > options.max_repairs:  # no small explanation: leave the readings to the reviewer
        return Reconciliation({}, failing, "too many repairs", time.perf_counter() - t0, readings=readings)
    return Reconciliation(decisions, broken, "optimal", time.perf_counter() - t0, solution.free, readings)
