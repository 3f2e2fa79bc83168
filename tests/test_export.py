"""Results as tables (service/export.py): a row per report × cell or per report, in CSV, XLSX, JSON Lines, Parquet."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from service.export import (
    CELL_FIELDS,
    FORMATS,
    REPORT_FIELDS,
    ReportMeta,
    long_rows,
    report_xlsx,
    wide_row,
    write_rows,
)
from service.result import Result
from tests.conftest import DEV, extracted

META = ReportMeta(id="r1", filename="seed.txt", sha256="ab" * 32, version=3, approved=True)


@pytest.fixture(scope="module")
def seed() -> Result:
    return extracted(str(DEV / "seed" / "source.txt"))


@pytest.fixture(scope="module")
def pdf() -> Result:
    return extracted(str(DEV / "r001" / "source.pdf"))


def test_long_rows_carry_the_report_and_every_cell(seed):
    rows = long_rows(META, seed)
    assert len(rows) == len(seed.cells) and list(rows[0]) == list(REPORT_FIELDS + CELL_FIELDS)
    by_id = {r["cell_id"]: r for r in rows}
    for cid, cell in seed.cells.items():
        row = by_id[cid]
        assert (row["value"], row["raw"], row["status"], row["confidence"]) == (
            cell.value,
            cell.raw,
            cell.status,
            cell.confidence,
        )
        assert row["needs_review"] == cell.needs_review and row["cell_version"] == cell.version
        assert row["review_reasons"] == "; ".join(cell.review_reasons)
    head = rows[0]
    assert (head["report_id"], head["filename"], head["result_version"], head["approved"]) == (
        "r1",
        "seed.txt",
        3,
        True,
    )
    assert (head["agency"], head["year"], head["format"]) == (seed.agency, seed.year, seed.format)
    assert head["pipeline_version"] == seed.pipeline_version and head["coverage"] == "complete"


def test_the_page_of_a_cell_comes_from_its_source(pdf):
    rows = {r["cell_id"]: r for r in long_rows(META, pdf)}
    paged = [cid for cid, c in pdf.cells.items() if c.source is not None and c.source.page]
    assert paged and all(rows[cid]["page"] == pdf.cells[cid].source.page for cid in paged)


def test_a_wide_row_per_report_with_the_counts(seed):
    row = wide_row(META, seed)
    assert row["needs_review"] == sum(c.needs_review for c in seed.cells.values())
    assert row["failing_checks"] == sum(c.status == "fail" for c in seed.checks)
    assert all(row[cid] == cell.value for cid, cell in seed.cells.items())
    assert row["t3.new_received.total"] == seed.cells["t3.new_received.total"].value


def test_a_result_stored_before_coverage_exports_none(seed):
    old = seed.model_copy(update={"coverage": None})
    assert wide_row(META, old)["coverage"] is None and long_rows(META, old)[0]["coverage"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_back_the_same_rows(seed, tmp_path, fmt):
    rows = long_rows(META, seed) + long_rows(ReportMeta("r2", "b.txt", "cd" * 32, 1, False), seed)
    out = tmp_path / f"cells.{fmt}"
    assert write_rows(rows, out, fmt) == len(rows)
    if fmt == "csv":
        back = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
        assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese text right
    elif fmt == "jsonl":
        back = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert back == rows
    elif fmt == "xlsx":
        values = list(load_workbook(out)["cells"].values)
        back = [dict(zip(values[0], r)) for r in values[1:]]
    else:
        back = pq.read_table(out).to_pylist()
    assert len(back) == len(rows)
    assert [(r["report_id"], r["cell_id"]) for r in back] == [(r["report_id"], r["cell_id"]) for r in rows]
    with pytest.raises(ValueError):
        write_rows(rows, tmp_path / "x.pdf", "pdf")


def test_one_report_as_a_workbook_of_cells_checks_and_facts(seed):
    wb = load_workbook(io.BytesIO(report_xlsx(META, seed)))
    assert wb.sheetnames == ["cells", "checks", "facts"]
    assert wb["cells"].max_row == len(seed.cells) + 1 and wb["checks"].max_row == len(seed.checks) + 1
    assert wb["facts"].max_row == len(seed.facts) + 1
    checks = list(wb["checks"].values)
    first = dict(zip(checks[0], checks[1]))
    assert (first["rule"], first["status"]) == (seed.checks[0].rule, seed.checks[0].status)
    assert json.loads(first["cells"]) == seed.checks[0].cells  # lists as JSON text in a cell
