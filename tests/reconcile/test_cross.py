"""Checks across the years of one agency, on a real report and its following year."""

from __future__ import annotations

from typer.testing import CliRunner

from service.cli import app
from service.reconcile.cross import cross_report_checks
from tests.conftest import DEV, extracted


def _next_year(result, carried_over: dict[str, int]):
    """The same agency one year later, carrying over the given values (t3.carried_over.<column>)."""
    nxt = result.model_copy(deep=True)
    nxt.year = result.year + 1
    nxt.document.path = result.document.path + "#next"
    for col, value in carried_over.items():
        nxt.cells[f"t3.carried_over.{col}"].value = value
    return nxt


def test_carried_over_must_equal_last_years_carried_forward():
    r005 = extracted(str(DEV / "r005" / "source.txt"))  # 2021 format: 1 application carried forward
    forward = {c: r005.cells[f"t3.carried_forward.{c}"].value for c in ("natural_person", "total")}
    assert forward["total"] == 1
    good = _next_year(r005, forward)
    checks = [c for c in cross_report_checks([good, r005]) if c.rule == "t3_carry_cross_report"]
    assert {c.instance for c in checks if c.status == "pass"} >= {"natural_person", "total"}
    bad = _next_year(r005, {"total": 3})
    check = next(c for c in cross_report_checks([r005, bad]) if c.instance == "total")
    assert (check.status, check.lhs, check.rhs, check.years) == ("fail", 3, 1, (r005.year, r005.year + 1))
    assert check.severity == "info" and check.documents[1].endswith("#next")
    # table 2's in-force carry runs on 2021 pairs: this year's in force = last year's + issued - repealed
    key = "t2.art20_1.normative_documents"
    cells = good.cells
    cells[f"{key}.issued_this_year"].value, cells[f"{key}.repealed_this_year"].value = 5, 2
    cells[f"{key}.in_force"].value = r005.cells[f"{key}.in_force"].value + 3
    carry = {c.instance: c for c in cross_report_checks([r005, good]) if c.rule == "t2_2021_in_force_carry"}
    assert carry["art20_1.normative_documents"].status == "pass"
    cells[f"{key}.in_force"].value += 1
    carry = {c.instance: c for c in cross_report_checks([r005, good]) if c.rule == "t2_2021_in_force_carry"}
    assert carry["art20_1.normative_documents"].status == "fail"


def test_reports_of_other_agencies_or_years_are_not_paired():
    assert (
        cross_report_checks([extracted(str(DEV / "r005" / "source.txt")), extracted(str(DEV / "r001" / "source.pdf"))])
        == []
    )


def test_series_command_exit_code():
    runner = CliRunner()
    out = runner.invoke(app, ["series", str(DEV / "r005" / "source.txt"), str(DEV / "r001" / "source.pdf")])
    assert out.exit_code == 0 and "no two consecutive years" in out.output
