"""Absent-cell inference, in one place: the value the rules imply for a cell the document lacks.

A report that lost its 其他 column, or printed table 4 without its last 总计, still states the rule that ties
the missing cell to its neighbours. The cell stays ``absent`` (nothing was printed); ``inferred_value`` is what
the rule named in ``inferred_by`` makes it (:func:`infer_absent`, at assembly), used by the checks and the
repair, and recomputed when a reviewer corrects a neighbour (:func:`reinfer`). After a repair of OCR readings
the cell takes the value the rules' model chose for it (:func:`follow`: under every rule at once, as a count).
The same arithmetic tells which splits of run-together digits leave a lost column a possible value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from service.result import CellValue
from service.rules.equations import Equation, Number, rule_value


def implied(eq: Equation, cell_id: str, value: Callable[[str], float | None]) -> Number | None:
    """The value the equality ``eq`` gives ``cell_id`` from the numbers ``value`` gives its other cells. None
    where the equation is an inequality or does not hold the cell once, or where another cell has no number.
    The value may be negative: where the printed cells break the rule, what it implies says so."""
    if eq.op != "==" or eq.cells.count(cell_id) != 1:
        return None
    total = 0.0
    for c, sign in [(c, 1) for c in eq.lhs] + [(c, -1) for c in eq.rhs]:
        if c == cell_id:
            continue
        v = value(c)
        if v is None:
            return None
        total += sign * v
    result = total if cell_id in eq.rhs else -total  # lhs - rhs == 0, solved for the cell
    return int(result) if float(result).is_integer() else result


def implied_by(eqs: list[Equation], cell_id: str, value: Callable[[str], float | None]) -> tuple[Number, str] | None:
    """The value the first of ``eqs`` that holds ``cell_id`` and gives it one implies (from the numbers ``value``
    gives the other cells), with that equation's rule id; None where none does."""
    for eq in eqs:
        if cell_id in eq.cells:
            number = implied(eq, cell_id, value)
            if number is not None:
                return number, eq.rule
    return None


def infer_absent(cells: dict[str, CellValue], cell_id: str, eqs: list[Equation]) -> bool:
    """Give the absent cell ``cell_id`` the value the first of ``eqs`` that holds it implies (``inferred_by``
    names its rule); False where none implies one (a neighbour without a number)."""
    found = implied_by(eqs, cell_id, lambda c: rule_value(cells.get(c)))
    if found is None:
        return False
    cell = cells[cell_id]
    cell.inferred_value, cell.inferred_by = found
    return True


def reinfer(cells: dict[str, CellValue], eqs: list[Equation]) -> None:
    """Recompute every absent cell's inferred value from the rule that gave it (after a neighbour changed);
    a cell its rule no longer gives a value keeps the one it had."""
    for cid, cell in cells.items():
        if cell.status != "absent" or cell.inferred_by is None:
            continue
        rule = [eq for eq in eqs if eq.rule == cell.inferred_by]
        found = implied_by(rule, cid, lambda c: rule_value(cells.get(c)))
        if found is not None:
            cell.inferred_value = found[0]


def follow(cells: dict[str, CellValue], free: Mapping[str, Number]) -> None:
    """Absent cells a rule gave a value take the values the rules' model chose for them (``Solution.free`` of
    :func:`service.rules.model.solve`, after the readings around them were repaired)."""
    for cid, value in free.items():
        if cells[cid].inferred_by is not None:
            cells[cid].inferred_value = value
