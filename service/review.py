"""A reviewer's correction applied to a result: the cell takes the reviewer's value, every table rule and every
text-vs-table check is re-run, cells flagged only because a rule failed are released once that rule holds, and the
coverage is counted again.

Works on a :class:`~service.result.Result` and returns it changed; the service keeps every version."""

from __future__ import annotations

import math

from service.coverage import NOT_READ, coverage
from service.messages import add_reason, english, set_reasons
from service.messages import reason as reason_code
from service.reconcile.memory import CONFIRMED, EXPLAINING
from service.reconcile.repair import SOURCE_FAILURE
from service.reconcile.text_checks import text_vs_table
from service.result import ReasonCode, Result
from service.rules import equations, reinfer, run_checks
from service.schema import load_format

SINGLE_OTHER_PROCESSING = "dev_2021_single_other_processing"
MAX_COUNT = 10**9  # no report counts more requests, items or cases in one cell
MAX_AMOUNT = 10**12  # 万元 or 元: far above any fee or procurement total a report prints
MAX_DECIMALS = 6  # amounts: decimals a report prints (0..6 seen)


class InvalidValue(ValueError):
    """A reviewer's value the cell cannot hold (its type and unit are the schema's)."""


def checked_value(result: Result, cell_id: str, value: object) -> int | float | None:
    """``value`` as the cell holds it, or InvalidValue saying why not: counts (件/项) are whole numbers, not below 0
    (本年增/减 may be); amounts (万元, 元) are numbers not below 0 with at most MAX_DECIMALS decimals; never a
    truth value, NaN, an infinity or a number beyond any report's (MAX_COUNT, MAX_AMOUNT)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"{cell_id}: a number or null, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValue(f"{cell_id}: a finite number, not {value}")
    kind = result_value_type(result, cell_id)
    if kind in ("count", "signed_count"):
        if isinstance(value, float):
            if not value.is_integer():
                raise InvalidValue(f"{cell_id} is a count: a whole number, not {value}")
            value = int(value)
        if kind == "count" and value < 0:
            raise InvalidValue(f"{cell_id} is a count: not below 0 (got {value})")
        if abs(value) > MAX_COUNT:
            raise InvalidValue(
                f"{cell_id} is a count: at most {MAX_COUNT} (got a number of {len(str(abs(value)))} digits)"
            )
        return value
    if value < 0:
        raise InvalidValue(f"{cell_id} is an amount: not below 0 (got {value})")
    if value > MAX_AMOUNT:
        raise InvalidValue(
            f"{cell_id} is an amount: at most {MAX_AMOUNT} (got a number of {len(str(int(value)))} digits)"
        )
    if isinstance(value, float) and round(value, MAX_DECIMALS) != value:
        raise InvalidValue(f"{cell_id} is an amount: at most {MAX_DECIMALS} decimals (got {value})")
    return value


RELEASED = english("released")


def recheck(result: Result) -> None:
    """Re-infer the values of absent cells from the rules that gave them (they follow a corrected neighbour),
    then re-run the table rules and the text-vs-table checks of ``result`` (in place)."""
    schema = load_format(result.format)
    single = any(d.id == SINGLE_OTHER_PROCESSING for d in result.deviations)
    reinfer(result.cells, equations(schema, single_other_processing=single))
    result.checks = run_checks(result.cells, schema, single_other_processing=single) + text_vs_table(
        result.facts, result.cells
    )


def apply_correction(
    result: Result, cell_id: str, value: int | float | None, *, actor: str, reason: str | None = None
) -> Result:
    """Set ``cell_id`` to ``value`` (None: the cell is blank) in ``result`` (changed in place and returned); re-run
    the checks and count the coverage again.

    The cell becomes ``corrected`` with confidence 1 and no review flag; ``original_value`` keeps the machine's
    value (the first one, through several corrections); its ``version`` goes up by one. A value the cell cannot
    hold raises InvalidValue (``checked_value``) before anything is changed."""
    return apply_corrections(result, {cell_id: value}, actor=actor, reason=reason)


def apply_corrections(
    result: Result, values: dict[str, int | float | None], *, actor: str, reason: str | None = None
) -> Result:
    """:func:`apply_correction` for several cells at once (a whole row accepted): every value is checked before
    any is set (one InvalidValue leaves ``result`` as it was), then the checks are run once."""
    checked = {cid: checked_value(result, cid, value) for cid, value in values.items()}
    why = (
        reason_code("corrected_because", actor=actor, reason=reason)
        if reason
        else reason_code("corrected", actor=actor)
    )
    for cell_id, value in checked.items():
        cell = result.cells[cell_id]
        if cell.status != "corrected":
            cell.original_value = cell.value
        cell.value = value
        cell.status = "corrected"
        cell.confidence = 1.0
        cell.needs_review = False
        set_reasons(cell, [why])
        cell.inferred_value = None
        cell.version += 1
    recheck(result)
    in_failing = {cid for c in result.checks if c.status == "fail" for cid in c.cells}
    for cid, other in result.cells.items():
        if cid in checked or not other.needs_review or cid in in_failing:
            continue
        if other.review_reasons and all(r.startswith(SOURCE_FAILURE) for r in other.review_reasons):
            other.needs_review = False  # flagged only as a suspect of a rule that now holds
            add_reason(other, "released", unique=False)
    recount_coverage(result)
    return result


# Review codes that a report's own layout explains (the assembler's codes for a cell the layout does not print,
# service.reconcile.memory.EXPLAINING; and the memory's own mark): a report whose every flag is one of these can be
# approved in one batch. ``deviation`` only for the format spec's real-world deviations (dev_*), not for xxgk_*
# findings of the reading; ``not_found_in_scan`` only beside one of the others (a scan flags every absent cell).
EXPLAINED_CODES = EXPLAINING | {CONFIRMED}


def explained_flag(codes: list[ReasonCode]) -> bool:
    """A flagged cell's codes say only that the report's layout leaves it out."""
    if not codes:
        return False
    explained = False
    for rc in codes:
        if rc.code in EXPLAINED_CODES:
            explained = True
        elif rc.code == "deviation" and str(rc.params.get("id", "")).startswith("dev_"):
            explained = True
        elif rc.code != "not_found_in_scan":
            return False
    return explained


def only_explained(result: Result) -> bool:
    """Every flagged cell of ``result`` is one its layout explains, no rule fails, and at least one cell is
    flagged (a report without flags needs no batch)."""
    flagged = [c for c in result.cells.values() if c.needs_review]
    if not flagged or any(c.status == "fail" for c in result.checks):
        return False
    return all(c.status == "absent" and explained_flag(c.review_codes) for c in flagged)


def recount_coverage(result: Result) -> None:
    """Count the coverage of a corrected result again (in place): a corrected cell is read, so once a reviewer
    has corrected every unread cell the result is complete. An absent cell is unread while its first review
    reason says "not read"; the other absent cells are those the source's own layout explains."""
    if result.coverage is None:  # stored before coverage existed
        return
    explained = {
        cid
        for cid, c in result.cells.items()
        if c.status == "absent" and not (c.review_reasons and c.review_reasons[0].startswith(NOT_READ))
    }
    located_by = {t: c.located_by for t, c in result.coverage.tables.items()}
    result.coverage = coverage(result.cells, load_format(result.format), explained, located_by)


def result_value_type(result: Result, cell_id: str) -> str:
    return load_format(result.format).cell_value_types().get(cell_id, "count")
