"""A reviewer's correction applied to a result (service/review.py): the cell takes the value, the checks are re-run,
absent cells follow their rule, flags a rule alone raised are released, the coverage is counted again."""

from __future__ import annotations

from service.reconcile.repair import LOW_READING, SOURCE_FAILURE
from service.result import Result
from service.review import RELEASED, apply_correction, recount_coverage
from tests.conftest import DEV, extracted
from tests.store.helpers import SEED, without_table4


def seed() -> Result:
    return extracted(str(SEED)).model_copy(deep=True)  # extracted() is cached: each test changes its own copy


def test_the_corrected_cell_keeps_the_machines_value_and_counts_versions():
    result = seed()
    cid = "t3.new_received.natural_person"
    value = result.cells[cid].value
    same = apply_correction(result, cid, value + 3.0, actor="bob", reason="原件")
    assert same is result  # changed in place and returned
    cell = result.cells[cid]
    assert (cell.value, cell.status, cell.original_value, cell.version) == (value + 3, "corrected", value, 2)
    assert isinstance(cell.value, int)  # a count stays an integer
    assert cell.confidence == 1.0 and not cell.needs_review and cell.review_reasons == ["corrected by bob: 原件"]
    apply_correction(result, cid, value, actor="carol")
    assert (cell.value, cell.original_value, cell.version) == (value, value, 3)  # the first machine value is kept
    assert cell.review_reasons == ["corrected by carol"]


def test_an_inferred_cell_follows_the_corrected_total():
    """seed prints no 其他 in 一、本年新收: its value is inferred from the row total; correcting the total moves it."""
    result = seed()
    other = result.cells["t3.new_received.other_org"]
    assert other.status == "absent" and other.inferred_by == "t3_row_total"
    before = other.inferred_value
    total = result.cells["t3.new_received.total"].value
    apply_correction(result, "t3.new_received.total", total + 4, actor="bob")
    assert result.cells["t3.new_received.other_org"].inferred_value == before + 4
    row = [c.status for c in result.checks if c.rule == "t3_row_total" and c.instance == "new_received"]
    assert row == ["pass"]


def test_a_cell_corrected_to_blank_counts_as_zero_in_the_rules():
    result = seed()
    cid = "t3.granted.commercial_enterprise"
    value = result.cells[cid].value
    apply_correction(result, cid, None, actor="bob", reason="the page prints nothing here")
    cell = result.cells[cid]
    assert cell.value is None and cell.status == "corrected" and cell.original_value == value
    row = [c for c in result.checks if c.rule == "t3_row_total" and c.instance == "granted"][0]
    assert row.status == ("pass" if value == 0 else "fail")  # assessed, with the blank as 0


def test_a_wrong_value_fails_its_rules_and_the_right_one_releases_the_suspects():
    """Correcting a total to a wrong value breaks the rules it is in; the reviewer's right value makes them hold
    again, and a cell flagged only as a suspect of such a rule (as the reconcile stage flags the cells of a rule the
    source breaks) is released, the reason kept; a cell flagged for another reason too stays flagged."""
    result = seed()
    cid = "t3.new_received.total"
    value = result.cells[cid].value
    assert not [c for c in result.checks if c.status == "fail"]
    apply_correction(result, cid, value + 1, actor="bob")
    failing = [c for c in result.checks if c.status == "fail"]
    # the row total holds (the seed prints no 其他 in this row: its inferred value follows the total); the balance
    # of the total column breaks, and of the 其他 column through the inferred value
    assert sorted((c.rule, c.instance) for c in failing) == [("t3_balance", "other_org"), ("t3_balance", "total")]
    suspect, doubtful = result.cells["t3.results_total.total"], result.cells["t3.carried_forward.total"]
    suspect.needs_review, suspect.review_reasons = True, [f"{SOURCE_FAILURE}: t3_balance"]
    doubtful.needs_review, doubtful.review_reasons = True, [LOW_READING, f"{SOURCE_FAILURE}: t3_balance"]
    apply_correction(result, cid, value, actor="bob")
    assert not [c for c in result.checks if c.status == "fail"]
    assert not suspect.needs_review and suspect.review_reasons == [f"{SOURCE_FAILURE}: t3_balance", RELEASED]
    assert doubtful.needs_review and RELEASED not in doubtful.review_reasons


def test_the_coverage_is_counted_again_and_complete_once_every_unread_cell_is_corrected(tmp_path):
    truth = extracted(str(SEED)).cells
    result = extracted(str(without_table4(tmp_path / "no-t4.txt"))).model_copy(deep=True)
    assert result.coverage.status == "partial" and result.coverage.reasons == ["t4: table not located"]
    unread = sorted(c for c in result.cells if c.startswith("t4."))
    assert len(unread) == 15
    apply_correction(result, unread[0], truth[unread[0]].value, actor="bob")
    assert result.coverage.reasons == ["t4: 14 of 15 cells not read"]
    for cid in unread[1:]:
        apply_correction(result, cid, truth[cid].value, actor="bob")
    assert result.coverage.status == "complete" and result.coverage.tables["t4"].cells_read == 15
    assert result.coverage.tables["t4"].located_by == []  # how the table was found stays as the machine said


def test_a_result_stored_before_coverage_keeps_none():
    result = extracted(str(DEV / "r005" / "page.html")).model_copy(deep=True)
    result.coverage = None
    recount_coverage(result)
    assert result.coverage is None
    apply_correction(result, "t3.new_received.total", 1, actor="bob")
    assert result.coverage is None
