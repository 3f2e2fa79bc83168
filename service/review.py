"""A reviewer's correction applied to a result: the cell takes the reviewer's value, every table rule and every
text-vs-table check is re-run, and cells flagged only because a rule failed are released once that rule holds.

Works on the output contract as stored (a dict) and returns it changed; the service keeps every version."""
from __future__ import annotations

from service.reconcile.repair import SOURCE_FAILURE
from service.reconcile.rules import Equation, equations, rule_value, run_checks
from service.reconcile.text_checks import text_vs_table
from service.result import Result
from service.schema import load_format

SINGLE_OTHER_PROCESSING = "dev_2021_single_other_processing"
RELEASED = "released: the rule holds after a correction"


def recheck(result: Result) -> None:
    """Re-infer the values of absent cells from the rules that gave them (they follow a corrected neighbour),
    then re-run the table rules and the text-vs-table checks of ``result`` (in place)."""
    schema = load_format(result.format)
    single = any(d.id == SINGLE_OTHER_PROCESSING for d in result.deviations)
    _reinfer(result, equations(schema, single_other_processing=single))
    result.checks = run_checks(result.cells, schema, single_other_processing=single) + \
        text_vs_table(result.facts, result.cells)


def _reinfer(result: Result, eqs: list[Equation]) -> None:
    for cid, cell in result.cells.items():
        if cell.status != "absent" or cell.inferred_by is None:
            continue
        for eq in eqs:
            if eq.rule != cell.inferred_by or eq.op != "==" or cid not in eq.lhs + eq.rhs:
                continue
            others = [(1 if c in eq.lhs else -1, rule_value(result.cells.get(c))) for c in eq.lhs + eq.rhs if c != cid]
            if any(v is None for _, v in others):
                continue
            side = 1 if cid in eq.lhs else -1  # side * x + sum(sign * v) == 0 with lhs signs +1, rhs -1
            value = -side * sum(sign * v for sign, v in others)
            cell.inferred_value = int(value) if float(value).is_integer() else value
            break


def apply_correction(data: dict, cell_id: str, value: int | float | None, *, actor: str,
                     reason: str | None = None) -> dict:
    """Set ``cell_id`` to ``value`` (None: the cell is blank) in the stored result ``data``; re-run the checks.

    The cell becomes ``corrected`` with confidence 1 and no review flag; ``original_value`` keeps the machine's
    value (the first one, through several corrections); its ``version`` goes up by one."""
    result = Result.model_validate(data)
    cell = result.cells[cell_id]
    if cell.status != "corrected":
        cell.original_value = cell.value
    if isinstance(value, float) and value.is_integer() and result_value_type(result, cell_id) == "count":
        value = int(value)
    cell.value = value
    cell.status = "corrected"
    cell.confidence = 1.0
    cell.needs_review = False
    cell.review_reasons = [f"corrected by {actor}" + (f": {reason}" if reason else "")]
    cell.inferred_value = None
    cell.version += 1
    recheck(result)
    in_failing = {cid for c in result.checks if c.status == "fail" for cid in c.cells}
    for cid, other in result.cells.items():
        if cid == cell_id or not other.needs_review or cid in in_failing:
            continue
        if other.review_reasons and all(r.startswith(SOURCE_FAILURE) for r in other.review_reasons):
            other.needs_review = False  # flagged only as a suspect of a rule that now holds
            other.review_reasons.append(RELEASED)
    out = result.model_dump(mode="json")
    return _replace(data, out)


def result_value_type(result: Result, cell_id: str) -> str:
    return load_format(result.format).cell_value_types().get(cell_id, "count")


def _replace(data: dict, new: dict) -> dict:
    data.clear()
    data.update(new)
    return data
