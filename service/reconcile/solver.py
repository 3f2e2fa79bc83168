"""Choose one reading per cell so that the report's rules hold, at the least cost (OR-Tools CP-SAT).

Each OCR'd cell has candidate readings with probabilities (:mod:`service.reconcile.candidates`); every other
cell is a constant (digital sources are never changed). Every rule equation of the format that involves a
cell with more than one candidate becomes a constraint that may be broken at a cost (``rule_cost``: real
reports break their own arithmetic); the objective is the sum of the chosen readings' costs (-log p) plus
the cost of the broken rules. A cell whose chosen reading differs from the one read is *repaired*, with the
rules that the repair satisfies; the rules still broken are findings about the source.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from service.reconcile.candidates import Priors, Reading, candidates
from service.reconcile.rules import Equation, equations, rule_value
from service.result import CellValue
from service.schema import FormatSchema

SCALE = 1000  # costs are integers: -log p in thousandths
FREE_MAX = 10**7  # bound of the unknown value of an absent cell


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
    implied: dict[str, int] = field(default_factory=dict)  # absent cells: the value the chosen readings imply
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


def holds(eq: Equation, cells: dict[str, CellValue]) -> bool:
    """Whether the equation holds on the cells' current values (True when not assessable)."""
    values = [rule_value(cells.get(c)) for c in eq.lhs + eq.rhs]
    if any(v is None for v in values):
        return True  # not assessable as read
    lhs, rhs = sum(values[:len(eq.lhs)]), sum(values[len(eq.lhs):])
    return {"==": abs(lhs - rhs) <= 1e-6, "<=": lhs <= rhs + 1e-6, ">=": lhs >= rhs - 1e-6}[eq.op]


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
        for (x0, y0, x1, y1, a), (u0, v0, u1, v1, b) in zip(boxes, boxes[1:]):
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


def blank_side(eq: Equation, cells: dict[str, CellValue]) -> bool:
    """Whether one side of the equation is printed all blank (a 总计 left empty: counted as 0 by the checks, but
    the author stated nothing there)."""
    def blank(ids: tuple[str, ...]) -> bool:
        return all((c := cells.get(cid)) is not None and c.status == "blank" for cid in ids)

    return blank(eq.lhs) or blank(eq.rhs)


def reconcile(cells: dict[str, CellValue], schema: FormatSchema, *, single_other_processing: bool = False,
              priors: Priors = Priors(), rule_cost: float = 7.0, heuristic_rule_cost: float = 3.5, doubt: float = 0.6,
              max_repairs: int = 4, time_limit: float = 1.0) -> Reconciliation:
    """The least-cost readings under the rules. ``rule_cost``: the cost of a broken rule, in nats; ``doubt``: a
    cell whose reading as printed has less probability than this is open to change even under rules that hold.
    Readings change only when the solver proves its choice optimal and it repairs at most ``max_repairs`` cells
    (more is no longer a small explanation of the broken rules: the reviewer decides)."""
    t0 = time.perf_counter()
    zeros = zeros_printed(cells)
    cands = {cid: candidates(cell, zeros_printed=cid.split(".")[0] in zeros, priors=priors)
             for cid, cell in cells.items()}
    readings = {cid: cs[0].prob for cid, cs in cands.items() if cells[cid].ocr is not None}
    # As read, every rule that holds costs nothing to keep: only cells of a broken rule (and readings the
    # recognizer itself doubts) are open to change; all the rules they take part in constrain them.
    every = [eq for eq in equations(schema, single_other_processing=single_other_processing)
             if all(rule_value(cells.get(c)) is not None or len(cands.get(c, ())) > 1 or _free(cells.get(c))
                    for c in eq.lhs + eq.rhs)]
    # a rule that fails because one side is printed blank (a blank 总计) says nothing about the readings
    every = [eq for eq in every if holds(eq, cells) or not blank_side(eq, cells)]
    failing = [eq for eq in every if not holds(eq, cells)]
    variable = {c for eq in failing for c in eq.lhs + eq.rhs if len(cands.get(c, ())) > 1}
    variable |= {cid for cid, cs in cands.items() if len(cs) > 1 and cs[0].prob < doubt}
    pairs = [(a, b) for a, b in side_by_side(cells) if a in variable or b in variable]
    variable |= {c for pair in pairs for c in pair}  # a digit may have moved (a blank cell included)
    eqs = [eq for eq in every if any(c in variable for c in eq.lhs + eq.rhs)]
    if not variable or not eqs:
        return Reconciliation({}, failing, "skipped", time.perf_counter() - t0, readings=readings)
    involved = {c for eq in eqs for c in eq.lhs + eq.rhs if c in variable}

    model = cp_model.CpModel()
    free: dict[str, cp_model.IntVar] = {}  # absent cells: unknowns the rules may set (their inference is redone)
    cost_terms = []
    options: dict[str, list[tuple[Reading, cp_model.IntVar]]] = {}
    for cid in sorted(involved):
        base = cands[cid][0].cost
        options[cid] = []
        for k, r in enumerate(cands[cid]):
            x = model.NewBoolVar(f"{cid}#{k}")
            options[cid].append((r, x))
            cost_terms.append(round(SCALE * (r.cost - base)) * x)
    for a, b in pairs:  # a number split across two cells: one choice shared by both cells
        if a not in options or b not in options:
            continue
        for k, (va, vb) in enumerate(_moves(cells[a], cells[b])):
            m = model.NewBoolVar(f"{a}~{b}#{k}")
            how = "split across cells"
            options[a].append((Reading(va, str(va), cands[a][0].prob * priors.split, how), m))
            options[b].append((Reading(vb, str(vb), cands[b][0].prob, how), m))
            cost_terms.append(round(SCALE * -math.log(priors.split)) * m)
    for opts in options.values():
        model.AddExactlyOne([x for _, x in opts])

    def expr(ids: tuple[str, ...]):
        terms, const = [], 0
        for c in ids:
            if c in options:
                terms += [(r.value or 0) * x for r, x in options[c]]
            elif _free(cells.get(c)):
                if c not in free:
                    free[c] = model.NewIntVar(0, FREE_MAX, f"free:{c}")
                terms.append(free[c])
            else:
                const += round(rule_value(cells.get(c)) or 0)
        return sum(terms) + const

    ok: list[tuple[Equation, cp_model.IntVar]] = []
    for i, eq in enumerate(eqs):
        kept = model.NewBoolVar(f"rule{i}")
        lhs, rhs = expr(eq.lhs), expr(eq.rhs)
        if eq.op == "==":
            model.Add(lhs == rhs).OnlyEnforceIf(kept)
        elif eq.op == "<=":
            model.Add(lhs <= rhs).OnlyEnforceIf(kept)
        else:
            model.Add(lhs >= rhs).OnlyEnforceIf(kept)
        ok.append((eq, kept))
        cost = heuristic_rule_cost if eq.status == "heuristic" else rule_cost
        cost_terms.append(round(SCALE * cost) * (1 - kept))
    model.Minimize(sum(cost_terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 1
    status = solver.Solve(model)
    if status != cp_model.OPTIMAL:  # only a proven least-cost choice changes a reading
        return Reconciliation({}, failing, solver.StatusName(status).lower(), time.perf_counter() - t0,
                              readings=readings)
    decisions: dict[str, Decision] = {}
    for cid, opts in options.items():
        chosen = next(r for r, x in opts if solver.Value(x))
        decisions[cid] = Decision(cid, chosen, cands[cid][0], [r for r, _ in opts])
    broken = [eq for eq, kept in ok if not solver.Value(kept)]
    held = [eq for eq, kept in ok if solver.Value(kept)]
    for d in decisions.values():
        if d.reading.value != d.original.value:
            d.rules = sorted({eq.rule for eq in held if d.cell_id in eq.lhs + eq.rhs})
    implied = {c: solver.Value(v) for c, v in free.items()}
    changed = [d for d in decisions.values() if d.reading.value != d.original.value]
    if len(changed) > max_repairs:  # no small explanation: leave the readings to the reviewer
        return Reconciliation({}, failing, "too many repairs", time.perf_counter() - t0, readings=readings)
    return Reconciliation(decisions, broken, "optimal", time.perf_counter() - t0, implied, readings)

