"""Results as tables: one row per report × cell (long) or one row per report (wide), written as CSV, XLSX,
JSON Lines or Parquet. Used by ``xxgk export`` and the API's ``/v1/reports/{id}/export.{json,csv,xlsx}``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.result import CellValue, Result
from service.store.orm import Report

FORMATS = ("csv", "xlsx", "jsonl", "parquet")
SHAPES = ("long", "wide")
REPORT_FIELDS = (
    "report_id",
    "filename",
    "sha256",
    "agency",
    "year",
    "format",
    "pipeline_version",
    "result_version",
    "approved",
    "coverage",
)
CELL_FIELDS = (
    "cell_id",
    "value",
    "raw",
    "status",
    "confidence",
    "needs_review",
    "review_reasons",
    "cell_version",
    "page",
)


@dataclass(frozen=True)
class ReportMeta:
    """What the store knows of a report beside its result: the export's report columns."""

    id: str
    filename: str
    sha256: str
    version: int  # the result version exported
    approved: bool

    @classmethod
    def of(cls, report: Report) -> ReportMeta:
        return cls(report.id, report.filename, report.sha256, report.version, report.approved_at is not None)


def report_fields(meta: ReportMeta, result: Result) -> dict[str, Any]:
    return {
        "report_id": meta.id,
        "filename": meta.filename,
        "sha256": meta.sha256,
        "agency": result.agency,
        "year": result.year,
        "format": result.format,
        "pipeline_version": result.pipeline_version,
        "result_version": meta.version,
        "approved": meta.approved,
        # complete | partial | failed (corrections counted: the store recounts it with each version); None: a
        # result stored before coverage existed
        "coverage": result.coverage.status if result.coverage is not None else None,
    }


def cell_fields(cell_id: str, cell: CellValue) -> dict[str, Any]:
    return {
        "cell_id": cell_id,
        "value": cell.value,
        "raw": cell.raw,
        "status": cell.status,
        "confidence": cell.confidence,
        "needs_review": cell.needs_review,
        "review_reasons": "; ".join(cell.review_reasons),
        "cell_version": cell.version,
        "page": cell.source.page if cell.source is not None else None,
    }


def long_rows(meta: ReportMeta, result: Result) -> list[dict[str, Any]]:
    """A row per cell: the report's columns, then the cell's."""
    head = report_fields(meta, result)
    return [{**head, **cell_fields(cid, cell)} for cid, cell in result.cells.items()]


def wide_row(meta: ReportMeta, result: Result) -> dict[str, Any]:
    """A row per report: the report's columns, the counts of flagged cells and failing checks, every cell's value."""
    row = report_fields(meta, result)
    row["needs_review"] = sum(1 for c in result.cells.values() if c.needs_review)
    row["failing_checks"] = sum(1 for c in result.checks if c.status == "fail")
    for cid, cell in result.cells.items():
        row[cid] = cell.value
    return row


def columns(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def _cell(v: Any) -> Any:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v


def write_rows(rows: Iterable[dict[str, Any]], path: Path, fmt: str) -> int:
    """Write ``rows`` to ``path`` as ``fmt``; returns the number of rows."""
    rows = list(rows)
    cols = columns(rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        path.write_bytes(to_csv(rows, cols))
    elif fmt == "jsonl":
        with path.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    elif fmt == "xlsx":
        path.write_bytes(to_xlsx({"cells": (cols, rows)}))
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        # numbers of one column become float64 where ints and floats mix (pyarrow's inference)
        pq.write_table(pa.Table.from_pylist([{c: _cell(r.get(c)) for c in cols} for r in rows]), path)
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return len(rows)


def to_csv(rows: list[dict[str, Any]], cols: list[str] | None = None) -> bytes:
    cols = cols or columns(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k)) for k in cols})
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese text correctly


def to_xlsx(sheets: dict[str, tuple[list[str], list[dict[str, Any]]]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, (cols, rows) in sheets.items():
        ws = wb.create_sheet(name[:31])
        ws.append(cols)
        for r in rows:
            ws.append([_cell(r.get(c)) for c in cols])
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


CHECK_FIELDS = ("rule", "instance", "status", "expr", "lhs", "rhs", "delta", "cells", "message")
FACT_FIELDS = ("id", "value", "text", "sentence", "page", "confidence")


def report_xlsx(meta: ReportMeta, result: Result) -> bytes:
    """One report as a workbook: its cells, its checks, its narrative facts."""
    cells = long_rows(meta, result)
    checks = [{k: getattr(c, k) for k in CHECK_FIELDS} for c in result.checks]
    facts = [{k: getattr(f, k) for k in FACT_FIELDS} for f in result.facts]
    return to_xlsx(
        {
            "cells": (columns(cells) or list(REPORT_FIELDS + CELL_FIELDS), cells),
            "checks": (list(CHECK_FIELDS), checks),
            "facts": (list(FACT_FIELDS), facts),
        }
    )
