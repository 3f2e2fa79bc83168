"""Results as tables: one row per report × cell (long) or one row per report (wide), written as CSV, XLSX,
JSON Lines or Parquet. Used by ``xxgk export`` and the API's ``/v1/reports/{id}/export.{json,csv,xlsx}``."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FORMATS = ("csv", "xlsx", "jsonl", "parquet")
SHAPES = ("long", "wide")
REPORT_FIELDS = ("report_id", "filename", "sha256", "agency", "year", "format", "pipeline_version",
                 "result_version", "approved", "coverage")
CELL_FIELDS = ("cell_id", "value", "raw", "status", "confidence", "needs_review", "review_reasons", "cell_version",
               "page")


def report_fields(meta: dict[str, Any], result: dict) -> dict[str, Any]:
    return {
        "report_id": meta.get("id"), "filename": meta.get("filename"), "sha256": meta.get("sha256"),
        "agency": result.get("agency"), "year": result.get("year"), "format": result.get("format"),
        "pipeline_version": result.get("pipeline_version"), "result_version": meta.get("version"),
        "approved": bool(meta.get("approved")),
        # complete | partial | failed (corrections counted: the store recounts it with each version); None: a
        # result stored before coverage existed
        "coverage": (result.get("coverage") or {}).get("status"),
    }


def long_rows(meta: dict[str, Any], result: dict) -> list[dict[str, Any]]:
    head = report_fields(meta, result)
    rows = []
    for cid, cell in result.get("cells", {}).items():
        rows.append({**head, "cell_id": cid, "value": cell.get("value"), "raw": cell.get("raw"),
                     "status": cell.get("status"), "confidence": cell.get("confidence"),
                     "needs_review": bool(cell.get("needs_review")),
                     "review_reasons": "; ".join(cell.get("review_reasons") or []),
                     "cell_version": cell.get("version", 1),
                     "page": (cell.get("source") or {}).get("page")})
    return rows


def wide_row(meta: dict[str, Any], result: dict) -> dict[str, Any]:
    row = report_fields(meta, result)
    row["needs_review"] = sum(1 for c in result.get("cells", {}).values() if c.get("needs_review"))
    row["failing_checks"] = sum(1 for c in result.get("checks", []) if c.get("status") == "fail")
    for cid, cell in result.get("cells", {}).items():
        row[cid] = cell.get("value")
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


def report_xlsx(meta: dict[str, Any], result: dict) -> bytes:
    """One report as a workbook: its cells, its checks, its narrative facts."""
    cells = long_rows(meta, result)
    checks = [{k: c.get(k) for k in ("rule", "instance", "status", "expr", "lhs", "rhs", "delta", "cells", "message")}
              for c in result.get("checks", [])]
    facts = [{k: f.get(k) for k in ("id", "value", "text", "sentence", "page", "confidence")}
             for f in result.get("facts", [])]
    return to_xlsx({"cells": (columns(cells) or list(REPORT_FIELDS + CELL_FIELDS), cells),
                    "checks": (["rule", "instance", "status", "expr", "lhs", "rhs", "delta", "cells", "message"], checks),
                    "facts": (["id", "value", "text", "sentence", "page", "confidence"], facts)})
