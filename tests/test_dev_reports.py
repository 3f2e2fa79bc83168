"""End to end on the real reports: every truth cell, the format, the source's own defects."""
from __future__ import annotations

import pytest

from service.evaluate import score
from tests.conftest import DEV, REPORT_IDS, extracted, source_of, truth


@pytest.mark.parametrize("report_id", REPORT_IDS)
def test_every_truth_cell_is_right(report_id):
    src = source_of(report_id)
    s = score(extracted(str(src)), truth(report_id), report_id, src.name)
    assert s.format_ok, f"format {s.format_found}, expected {s.format_expected}"
    assert s.wrong == [], f"{len(s.wrong)} wrong cells, e.g. {s.wrong[:5]}"
    assert s.total >= 186


@pytest.mark.parametrize("report_id", ["r005", "r010"])
def test_original_web_page_of_crawled_text_is_exact_too(report_id):
    s = score(extracted(str(DEV / report_id / "page.html")), truth(report_id), report_id, "page.html")
    assert s.format_ok and s.wrong == []


@pytest.mark.parametrize("report_id", REPORT_IDS)
def test_every_cell_id_of_the_format_is_in_the_output(report_id):
    from service.schema import load_format

    result = extracted(str(source_of(report_id)))
    assert set(load_format(result.format).cell_ids()) <= set(result.cells)


def _dev_ids(result):
    return {d.id for d in result.deviations}


def test_seed_deviations_missing_other_column_and_t4_total():
    result = extracted(str(source_of("seed")))
    assert {"dev_missing_other_column", "dev_missing_t4_total", "xxgk_label_variant"} <= _dev_ids(result)
    fee = next(d for d in result.deviations if d.id == "xxgk_label_variant")
    assert "保留4位小数" in fee.message
    for cid in ("t3.new_received.other_org", "t3.carried_over.other_org", "t4.litigation_after_review.total"):
        cell = result.cells[cid]
        assert cell.status == "absent" and cell.value is None, cid
        assert cell.inferred_value == 0 and cell.inferred_by and cell.needs_review, cid
    # the rules hold once the implied cells are used, and say so
    t4 = [c for c in result.checks if c.rule == "t4_group_total" and c.instance == "litigation_after_review"]
    assert t4[0].status == "pass" and t4[0].inferred_cells == ["t4.litigation_after_review.total"]
    assert not [c for c in result.checks if c.status == "fail"]
    assert result.agency == "湖滨区政府办" and result.year == 2021


def test_r001_table4_totals_fail_as_printed():
    result = extracted(str(source_of("r001")))
    fails = {(c.rule, c.instance) for c in result.checks if c.status == "fail"}
    assert fails == {("t4_group_total", "review"), ("t4_group_total", "litigation_after_review")}
    review = next(c for c in result.checks if c.rule == "t4_group_total" and c.instance == "review")
    assert (review.lhs, review.rhs) == (0, 11)
    # the published numbers are reported, never corrected
    assert result.cells["t4.review.total"].value == 0
    assert "dev_2021_single_other_processing" in _dev_ids(result)


def test_r003_blank_totals_fail_row_and_results_rules():
    result = extracted(str(source_of("r003")))
    row_fails = {c.instance for c in result.checks if c.status == "fail" and c.rule == "t3_row_total"}
    assert row_fails == {"granted", "partially_granted", "denied_state_secret", "denied_internal_affairs",
                         "denied_process_info", "denied_admin_query", "unable_not_held", "unable_needs_creation",
                         "unable_unclear", "not_processed_petition_complaint", "not_processed_duplicate"}
    res_fails = {c.instance for c in result.checks if c.status == "fail" and c.rule == "t3_results_total"}
    assert res_fails == {"total"}
    assert result.cells["t3.granted.total"].status == "blank" and result.cells["t3.granted.total"].value is None
    assert all(c.status != "fail" for c in result.checks if c.rule == "t3_balance")


def test_r005_fee_amount_keeps_its_six_decimals():
    cell = extracted(str(source_of("r005"))).cells["t2.art20_8.admin_fees.fee_amount"]
    assert cell.value == 24252.311082 and cell.raw.replace(" ", "").endswith("24252.311082")


def test_word_rendering_of_r003_is_exact():
    """datasets/fixtures/r003.docx: the real r003 report laid out in Word (merged cells, blanks)."""
    result = extracted(str(DEV.parent / "fixtures" / "r003.docx"))
    s = score(result, truth("r003"), "r003", "r003.docx")
    assert s.format_ok and s.wrong == []
    assert result.document.kind == "docx"
