"""The checks (service.rules.checks): one Check per rule instance of the format, on cells as the pipeline gives them."""

import pytest

from service.result import CellValue
from service.rules import run_checks
from service.schema import load_format


def _cells(fmt: str, value=0):
    schema = load_format(fmt)
    return schema, {cid: CellValue(value=value, raw=str(value), status="read") for cid in schema.cell_ids()}


def _by(checks, rule, instance):
    return next(c for c in checks if c.rule == rule and c.instance == instance)


@pytest.mark.parametrize("fmt", ["2019", "2021"])
def test_all_zero_report_passes_every_rule(fmt):
    schema, cells = _cells(fmt)
    checks = run_checks(cells, schema)
    assert checks and all(c.status == "pass" for c in checks)
    n_rows = len(schema.t3_value_rows())
    assert sum(c.rule == "t3_row_total" for c in checks) == n_rows
    assert sum(c.rule == "t3_balance" for c in checks) == 7
    assert sum(c.rule == "t4_group_total" for c in checks) == 3


def test_balance_failure_reports_both_sides_and_delta():
    schema, cells = _cells("2021")
    cells["t3.new_received.natural_person"] = CellValue(value=5, raw="5", status="read")
    checks = run_checks(cells, schema)
    bal = _by(checks, "t3_balance", "natural_person")
    assert (bal.status, bal.lhs, bal.rhs, bal.delta) == ("fail", 5, 0, 5)
    assert "t3.new_received.natural_person" in bal.cells
    assert _by(checks, "t3_row_total", "new_received").status == "fail"
    assert _by(checks, "t3_balance", "total").status == "pass"


def test_t4_group_total_failure():
    schema, cells = _cells("2021")
    cells["t4.review.upheld"] = CellValue(value=10, raw="10", status="read")
    c = _by(run_checks(cells, schema), "t4_group_total", "review")
    assert c.status == "fail" and c.lhs == 0 and c.rhs == 10


def test_blank_counts_as_zero_and_is_listed():
    schema, cells = _cells("2019")
    cells["t3.granted.total"] = CellValue(status="blank", raw="")
    cells["t3.granted.natural_person"] = CellValue(value=3, raw="3", status="read")
    c = _by(run_checks(cells, schema), "t3_row_total", "granted")
    assert c.status == "fail" and c.blank_cells == ["t3.granted.total"]


def test_all_blank_rule_is_not_assessable():
    schema, cells = _cells("2021")
    for cid in cells:
        if cid.startswith("t4.litigation_after_review."):
            cells[cid] = CellValue(status="blank", raw="")
    c = _by(run_checks(cells, schema), "t4_group_total", "litigation_after_review")
    assert c.status == "not_assessable"


def test_absent_cell_uses_inferred_value_or_is_not_assessable():
    schema, cells = _cells("2021")
    cells["t4.litigation_after_review.total"] = CellValue(
        status="absent", inferred_value=0, inferred_by="t4_group_total"
    )
    c = _by(run_checks(cells, schema), "t4_group_total", "litigation_after_review")
    assert c.status == "pass" and c.inferred_cells == ["t4.litigation_after_review.total"]
    cells["t4.litigation_after_review.total"] = CellValue(status="absent")
    c = _by(run_checks(cells, schema), "t4_group_total", "litigation_after_review")
    assert c.status == "not_assessable"


def test_negative_count_fails_domain_rule_but_signed_change_does_not():
    schema, cells = _cells("2019")
    cells["t2.art20_5.admin_licensing.item_change"] = CellValue(value=-417, raw="-417", status="read")
    checks = run_checks(cells, schema)
    assert next(c for c in checks if c.rule == "t2_counts_nonnegative").status == "pass"
    cells["t3.granted.natural_person"] = CellValue(value=-1, raw="-1", status="read")
    dom = next(c for c in run_checks(cells, schema) if c.rule == "t3_nonnegative")
    assert dom.status == "fail" and dom.cells == ["t3.granted.natural_person"]


def test_heuristic_inequality_2019():
    schema, cells = _cells("2019")
    cells["t2.art20_1.regulations.published_this_year"] = CellValue(value=9, raw="9", status="read")
    c = next(
        c for c in run_checks(cells, schema) if c.rule == "t2_2019_published_le_total" and "regulations" in c.instance
    )
    assert c.status == "fail" and c.severity == "warning" and c.rule_status == "heuristic"


def test_single_other_processing_row_in_2021_uses_it_in_the_sums():
    schema, cells = _cells("2021")
    for col in ("natural_person", "total"):
        cells[f"t3.other_processing.{col}"] = CellValue(value=2, raw="2", status="read")
        cells[f"t3.results_total.{col}"] = CellValue(value=2, raw="2", status="read")
        cells[f"t3.new_received.{col}"] = CellValue(value=2, raw="2", status="read")
    for rid in ("other_processing_no_correction", "other_processing_fee_unpaid", "other_processing_other"):
        for cid in schema.t3_row_cells(rid):
            cells[cid] = CellValue(status="absent")
    for col in schema.t3_org_column_ids():
        cells[f"t3.other_processing.{col}"] = CellValue(value=0, raw="0", status="read")
    checks = run_checks(cells, schema, single_other_processing=True)
    assert _by(checks, "t3_results_total", "natural_person").status == "pass"
    assert _by(checks, "t3_row_total", "other_processing").status == "pass"
