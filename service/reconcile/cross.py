"""Checks across the reports of one agency (a batch or the service's store): heuristic findings, never changes.

* ``t3_carry_cross_report``: what report Y says was carried over from last year (上年结转) equals what report Y-1
  carried forward (结转下年度), per applicant column;
* ``t2_2021_in_force_carry``: a table-2 row's 现行有效件数 of year Y equals that of Y-1 plus Y's 本年制发件数
  minus Y's 本年废止件数 (2021 format both years; amendments and expiry make it fail often: severity info).

Reports are grouped by agency (as extracted, whitespace removed) and paired by consecutive report years; a
year reported twice (two files of one report) is paired once per file.
"""

from __future__ import annotations

from itertools import product

from pydantic import BaseModel

from service.result import CellValue, Result
from service.schema import load_format

EPS = 1e-6


class SeriesCheck(BaseModel):
    rule: str
    agency: str
    years: tuple[int, int]
    documents: tuple[str, str]  # paths of the Y-1 and the Y report
    instance: str
    status: str  # pass | fail | not_assessable
    severity: str = "info"
    rule_status: str = "heuristic"
    expr: str
    lhs: float | None = None
    rhs: float | None = None
    message: str = ""


def _value(cell: CellValue | None) -> float | None:
    if cell is None:
        return None
    if cell.value is not None:
        return float(cell.value)
    if cell.status == "blank":
        return 0.0
    return None


def _check(
    rule: str, agency: str, prev: Result, cur: Result, instance: str, expr: str, lhs: float | None, rhs: float | None
) -> SeriesCheck:
    if lhs is None or rhs is None:
        status, msg = "not_assessable", "a cell is not available in one of the reports"
    else:
        status = "pass" if abs(lhs - rhs) <= EPS else "fail"
        msg = "" if status == "pass" else f"{lhs:g} ≠ {rhs:g}"
    return SeriesCheck(
        rule=rule,
        agency=agency,
        years=(prev.year, cur.year),
        documents=(prev.document.path, cur.document.path),
        instance=instance,
        status=status,
        expr=expr,
        lhs=lhs,
        rhs=rhs,
        message=msg,
    )


def cross_report_checks(results: list[Result]) -> list[SeriesCheck]:
    groups: dict[str, list[Result]] = {}
    for r in results:
        if r.agency and r.year:
            groups.setdefault("".join(r.agency.split()), []).append(r)
    out: list[SeriesCheck] = []
    for agency, reports in sorted(groups.items()):
        by_year: dict[int, list[Result]] = {}
        for r in reports:
            if r.year is not None:
                by_year.setdefault(r.year, []).append(r)
        for year in sorted(by_year):
            for prev, cur in product(by_year.get(year - 1, []), by_year[year]):
                out += _pair(agency, prev, cur)
    return out


def _pair(agency: str, prev: Result, cur: Result) -> list[SeriesCheck]:
    out = []
    for c in (col.id for col in load_format(cur.format).t3_columns()):
        lhs = _value(cur.cells.get(f"t3.carried_over.{c}"))
        rhs = _value(prev.cells.get(f"t3.carried_forward.{c}"))
        out.append(
            _check(
                "t3_carry_cross_report",
                agency,
                prev,
                cur,
                c,
                f"t3.carried_over.{c}[{cur.year}] == t3.carried_forward.{c}[{prev.year}]",
                lhs,
                rhs,
            )
        )
    if prev.format == cur.format == "2021":
        for block in load_format("2021").t2_blocks():
            cols = {c.id for c in block.columns}
            if not {"in_force", "issued_this_year", "repealed_this_year"} <= cols:
                continue
            for row in block.rows:
                key = f"t2.{block.id}.{row.id}"
                now, before = _value(cur.cells.get(f"{key}.in_force")), _value(prev.cells.get(f"{key}.in_force"))
                issued = _value(cur.cells.get(f"{key}.issued_this_year"))
                repealed = _value(cur.cells.get(f"{key}.repealed_this_year"))
                rhs = None if before is None or issued is None or repealed is None else before + issued - repealed
                out.append(
                    _check(
                        "t2_2021_in_force_carry",
                        agency,
                        prev,
                        cur,
                        f"{block.id}.{row.id}",
                        f"{key}.in_force[{cur.year}] == {key}.in_force[{prev.year}] + "
                        f"{key}.issued_this_year[{cur.year}] - {key}.repealed_this_year[{cur.year}]",
                        now,
                        rhs,
                    )
                )
    return out
