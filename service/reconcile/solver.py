"""Choose one reading per cell so that the report's rules hold, at the least cost (OR-Tools CP-SAT).

Each OCR'd cell has candidate readings with probabilities (:mod:`service.reconcile.candidates`); every other
cell is a constant (digital sources are never changed). Every rule equation of the format that involves a
cell with more than one candidate becomes a constraint that may be broken at a cost (``rule_cost``: real
reports break their own arithmetic); the objective is the sum of the chosen readings' costs (-log p) plus
the cost of the broken rules. A cell whose chosen reading differs from the one read is *repaired*, with the
rules that the repair satisfies; the rules still broken are findings about the source.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from service.reconcile.candidates import Priors, Reading, candidates
from service.reconcile.rules import Equation, equations
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
    status: str  # "optimal" | "feasible" | "skipped" | solver status name
    seconds: float
    implied: dict[str, int] = field(default_factory=dict)  # absent cells: the value the chosen readings imply

    @property
    def repaired(self) -> dict[str, Decision]:
        return {cid: d for cid, d in self.decisions.items() if d.reading.value != d.original.value}


def _zeros_printed(cells: dict[str, CellValue]) -> set[str]:
    """Tables (t2/t3/t4) whose OCR'd cells print zeros as 0 (three or more): a blank there may be a lost 0."""
    count: dict[str, int] = {}
    for cid, cell in cells.items():
        if cell.ocr is not None and cell.value == 0 and (cell.raw or "").strip() == "0":
            count[cid.split(".")[0]] = count.get(cid.split(".")[0], 0) + 1
    return {t for t, n in count.items() if n >= 3}


def _free(cell: CellValue | None) -> bool:
    return cell is not None and cell.status == "absent"


def _constant(cell: CellValue | None) -> float | None:
    """A cell's value in a rule when it has a single reading (blank and n/a count 0), None: not assessable."""
    if cell is None:
        return None
    if cell.value is not None:
        return float(cell.value)
    if cell.status in ("blank", "not_applicable"):
        return 0.0
    if cell.status == "absent" and cell.inferred_value is not None:
        return float(cell.inferred_value)
    return None


def holds(eq: Equation, cells: dict[str, CellValue]) -> bool:
    """Whether the equation holds on the cells' current values (True when not assessable)."""
    values = [_constant(cells.get(c)) for c in eq.lhs + eq.rhs]
    if any(v is None for v in values):
        return True  # not assessable as read
    lhs, rhs = sum(values[:len(eq.lhs)]), sum(values[len(eq.lhs):])
    return {"==": abs(lhs - rhs) <= 1e-6, "<=": lhs <= rhs + 1e-6, ">=": lhs >= rhs - 1e-6}[eq.op]


def blank_side(eq: Equation, cells: dict[str, CellValue]) -> bool:
    """Whether one side of the equation is printed all blank (a 总计 left empty: counted as 0 by the checks, but
    the author stated nothing there)."""
    def blank(ids: tuple[str, ...]) -> bool:
        return all((c := cells.get(cid)) is not None and c.status == "blank" for cid in ids)

    return blank(eq.lhs) or blank(eq.rhs)


def reconcile(cells: dict[str, CellValue], schema: FormatSchema, *, single_other_processing: bool = False,
              priors: Priors = Priors(), rule_cost: float = 7.0, heuristic_rule_cost: float = 3.5, doubt: float = 0.6,
              time_limit: float = 2.0) -> Reconciliation:
    """The least-cost readings under the rules. ``rule_cost``: the cost of a broken rule, in nats; ``doubt``: a
    cell whose reading as printed has less probability than this is open to change even under rules that hold."""
    t0 = time.perf_counter()
    zeros = _zeros_printed(cells)
    cands = {cid: candidates(cell, zeros_printed=cid.split(".")[0] in zeros, priors=priors)
             for cid, cell in cells.items()}
    # As read, every rule that holds costs nothing to keep: only cells of a broken rule (and readings the
    # recognizer itself doubts) are open to change; all the rules they take part in constrain them.
    every = [eq for eq in equations(schema, single_other_processing=single_other_processing)
             if all(_constant(cells.get(c)) is not None or len(cands.get(c, ())) > 1 or _free(cells.get(c))
                    for c in eq.lhs + eq.rhs)]
    # a rule that fails because one side is printed blank (a blank 总计) says nothing about the readings
    every = [eq for eq in every if holds(eq, cells) or not blank_side(eq, cells)]
    failing = [eq for eq in every if not holds(eq, cells)]
    variable = {c for eq in failing for c in eq.lhs + eq.rhs if len(cands.get(c, ())) > 1}
    variable |= {cid for cid, cs in cands.items() if len(cs) > 1 and cs[0].prob < doubt}
    eqs = [eq for eq in every if any(c in variable for c in eq.lhs + eq.rhs)]
    if not variable or not eqs:
        return Reconciliation({}, failing, "skipped", time.perf_counter() - t0)
    involved = {c for eq in eqs for c in eq.lhs + eq.rhs if c in variable}

    model = cp_model.CpModel()
    free: dict[str, cp_model.IntVar] = {}  # absent cells: unknowns the rules may set (their inference is redone)
    pick: dict[str, list[cp_model.IntVar]] = {}
    cost_terms = []
    for cid in sorted(involved):
        xs = [model.NewBoolVar(f"{cid}#{k}") for k in range(len(cands[cid]))]
        model.AddExactlyOne(xs)
        pick[cid] = xs
        base = cands[cid][0].cost
        cost_terms += [round(SCALE * (r.cost - base)) * x for r, x in zip(cands[cid], xs)]

    def expr(ids: tuple[str, ...]):
        terms, const = [], 0
        for c in ids:
            if c in pick:
                terms += [(r.value or 0) * x for r, x in zip(cands[c], pick[c])]
            elif _free(cells.get(c)):
                if c not in free:
                    free[c] = model.NewIntVar(0, FREE_MAX, f"free:{c}")
                terms.append(free[c])
            else:
                const += round(_constant(cells.get(c)) or 0)
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
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Reconciliation({}, failing, solver.StatusName(status), time.perf_counter() - t0)
    decisions: dict[str, Decision] = {}
    for cid, xs in pick.items():
        k = next(i for i, x in enumerate(xs) if solver.Value(x))
        decisions[cid] = Decision(cid, cands[cid][k], cands[cid][0], cands[cid])
    broken = [eq for eq, kept in ok if not solver.Value(kept)]
    held = [eq for eq, kept in ok if solver.Value(kept)]
    for d in decisions.values():
        if d.reading.value != d.original.value:
            d.rules = sorted({eq.rule for eq in held if d.cell_id in eq.lhs + eq.rhs})
    name = "optimal" if status == cp_model.OPTIMAL else "feasible"
    implied = {c: solver.Value(v) for c, v in free.items()}
    return Reconciliation(decisions, broken, name, time.perf_counter() - t0, implied)

