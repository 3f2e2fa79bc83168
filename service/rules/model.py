"""One CP-SAT model (OR-Tools) for every choice the table rules decide.

Cells are variables over candidate values, each with a cost in nats (-log of its probability); every rule an
equation that may break, at a cost. It serves

* the split of run-together digits (``service.assemble.splits``): an *option* is one way to cut a row's digits,
  setting every cell of the row at once, at the cost of its plausibility prior;
* the repair of OCR readings (``service.reconcile.solver``): an option is one reading of one cell (or, for a
  digit read in the neighbouring cell, one reading of both cells at once), at the cost of its improbability.

Every cell an option sets takes exactly one of its options. A cell of an equation that no option sets is either
a constant (what the document says) or *free* (an absent cell: an unknown count the rules may set). The
objective is the sum of the chosen options' costs plus the costs of the broken equations.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from service.rules.equations import Equation, Number

SCALE = 1000  # costs are integers: nats in thousandths (and values with decimals, thousandths)
FREE_MAX = 10**7  # bound of the unknown value of a free (absent) cell
MAX_TERM = 2**53  # a value that scaled passes this cannot be a sum of a report's counts (and overflows the solver)


@dataclass(frozen=True)
class Option:
    """One way to read one or more cells at once: the value it gives each (None: blank, counts 0), at a cost."""

    values: Mapping[str, Number | None]
    cost: float


@dataclass
class Solution:
    status: str  # "optimal" | "feasible" | the solver's status, lower case
    chosen: list[int]  # the options chosen (their indices), in the order given
    kept: list[bool | None]  # per equation given: held, broken, or None (not in the model: no option reads it)
    free: dict[str, Number]  # free cells: the value the chosen options imply

    @property
    def solved(self) -> bool:
        return self.status in ("optimal", "feasible")

    @property
    def broken(self) -> int:
        return sum(1 for k in self.kept if k is False)


def _scale(options: Sequence[Option], constants: Mapping[str, Number]) -> int:
    """1 where every value is a whole number, else SCALE (values in thousandths)."""
    numbers = [v for o in options for v in o.values.values() if v is not None] + list(constants.values())
    return 1 if all(float(v).is_integer() for v in numbers) else SCALE


def solve(
    options: Sequence[Option],
    equations: Sequence[Equation],
    *,
    constants: Mapping[str, Number],
    free: Collection[str],
    rule_cost: Callable[[Equation], float],
    seconds: float,
) -> Solution:
    """The least-cost choice of options under the equations. ``constants``: the cells no option sets (a cell
    neither there nor ``free`` counts 0); ``rule_cost``: the cost of breaking an equation, in nats; ``seconds``:
    the solver's time limit. An equation that reads no cell an option sets is left out of the model."""
    numbers = [v for o in options for v in o.values.values() if v is not None] + list(constants.values())
    if any(not abs(v) < MAX_TERM // SCALE for v in numbers):  # also NaN and infinities: no model, nothing solved
        return Solution("overflow", [], [None] * len(equations), {})
    scale = _scale(options, constants)
    model = cp_model.CpModel()
    pick = [model.new_bool_var(f"option{k}") for k in range(len(options))]
    cost_terms: list[Any] = [round(SCALE * o.cost) * x for o, x in zip(options, pick)]
    by_cell: dict[str, list[int]] = {}
    for k, o in enumerate(options):
        for cell in o.values:
            by_cell.setdefault(cell, []).append(k)
    groups: list[list[int]] = []
    for ks in by_cell.values():  # one exactly-one per set of options (a row's options share one)
        if ks not in groups:
            groups.append(ks)
            model.add_exactly_one([pick[k] for k in ks])
    unknown: dict[str, cp_model.IntVar] = {}

    def expr(ids: tuple[str, ...]) -> Any:
        terms: list[Any] = []
        const = 0
        for c in ids:
            if c in by_cell:
                terms += [round(scale * (options[k].values[c] or 0)) * pick[k] for k in by_cell[c]]
            elif c in free:
                if c not in unknown:
                    unknown[c] = model.new_int_var(0, FREE_MAX * scale, f"free:{c}")
                terms.append(unknown[c])
            else:
                const += round(scale * constants.get(c, 0))
        return sum(terms) + const

    kept: list[tuple[int, cp_model.IntVar]] = []
    for i, eq in enumerate(equations):
        if not any(c in by_cell for c in eq.cells):
            continue
        var = model.new_bool_var(f"rule{i}")
        lhs, rhs = expr(eq.lhs), expr(eq.rhs)
        if eq.op == "==":
            model.add(lhs == rhs).only_enforce_if(var)
        elif eq.op == "<=":
            model.add(lhs <= rhs).only_enforce_if(var)
        else:
            model.add(lhs >= rhs).only_enforce_if(var)
        kept.append((i, var))
        cost_terms.append(round(SCALE * rule_cost(eq)) * (1 - var))
    model.minimize(sum(cost_terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 1
    status = solver.solve(model)
    name = solver.status_name(status).lower()
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solution(name, [], [None] * len(equations), {})
    held: list[bool | None] = [None] * len(equations)
    for i, var in kept:
        held[i] = bool(solver.value(var))
    values = {c: solver.value(v) for c, v in unknown.items()}
    return Solution(
        name,
        [k for k, x in enumerate(pick) if solver.value(x)],
        held,
        {c: v // scale if v % scale == 0 else v / scale for c, v in values.items()},
    )
