"""Results as tables: one row per report × cell (long) or one row per report (wide), written as CSV, XLSX,
JSON Lines or Parquet. Used by ``xxgk export`` and the API's ``/v1/reports/{id}/export.{json,csv,xlsx}``."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from service.document import Document, Origin, TableCell
from service.ingest import IngestError, load_document
from service.options import PipelineOptions
from service.pages.images import NoPage, render_page
from service.pipeline import understand
from service.reconcile.memory import review_record
from service.result import CellValue, Result
from service.store.blobs import BlobError, Blobs
from service.store.orm import Report
from service.understand.classifier import Tagging, pipeline_version
from service.understand.encode import SegmentKey, segments
from service.understand.labels import LABELS_FILE, load_label_set

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


# ------------------------------------------------------------------ training data (xxgk export --training)

TRAINING_FORMAT = "xxgk-tagger-examples/1"
LS_FROM, LS_TO = "label", "text"  # the Label Studio labeling config's <Labels name> and <Text name>
CROP_MARGIN = 2  # bbox units around a cell's crop


def _row_label(cell_id: str, known: set[str]) -> str | None:
    """The row label id of a value cell (t3.new_received.total -> t3.new_received); None where the table's rows have
    no label of their own (table 4)."""
    head = cell_id.rsplit(".", 1)[0]
    return head if head in known else None


def _number(text: str) -> float | None:
    t = text.replace(",", "").replace("，", "").strip()
    try:
        return float(t)
    except ValueError:
        return None


def _same_place(cell: TableCell, value: CellValue) -> bool:
    """Whether ``value`` was read from ``cell``: the same page and box, or (sources without boxes) the same line and
    the same number (a line of a Markdown or text table holds many cells)."""
    a, b = cell.provenance, value.source
    if b is None or value.value is None:
        return False
    if a.bbox is not None and b.bbox is not None:
        return a.page == b.page and all(abs(x - y) < 0.5 for x, y in zip(a.bbox, b.bbox, strict=True))
    same_line = a.bbox is None and b.bbox is None and a.line is not None and a.line == b.line
    return same_line and _number(cell.text) == float(value.value)


def gold_labels(doc: Document, result: Result, tagging: Tagging | None, known: set[str]) -> dict[SegmentKey, str]:
    """The label of every segment as the approved result says it: a value cell where the result took a value
    (its place in the document: page and box, or line) -> ``val`` and the label cell of its grid row -> the row's
    label; a row the reviewer typed (cells corrected from absent, no place) -> the grid row of a table of that
    section whose numbers are the corrected values in order (one may be missing: a row read short); every other
    segment keeps the classifier's label (the approval confirms the reading it was part of)."""
    labels: dict[SegmentKey, str] = {}
    if tagging is not None:
        labels = {tuple(k): p.label for k, p in tagging.segments.items()}
    grid_cells: dict[tuple[int, int], list[TableCell]] = {}
    table_blocks: dict[str, set[int]] = {}
    for b, block in enumerate(doc.blocks):
        if block.kind == "table" and block.table is not None:
            for cell in block.table.cells:
                grid_cells.setdefault((b, cell.row), []).append(cell)
    row_of: dict[tuple[int, int], str] = {}
    typed: set[tuple[int, int]] = set()  # grid rows found by the values a reviewer typed
    placed: set[str] = set()
    for cid, cv in result.cells.items():
        if cv.source is None or cv.value is None:
            continue
        for (b, r), cells in grid_cells.items():
            hit = next((c for c in cells if _same_place(c, cv)), None)
            if hit is not None:
                labels[(b, hit.row, hit.col)] = "val"
                table_blocks.setdefault(cid.split(".")[0], set()).add(b)
                label = _row_label(cid, known)
                if label is not None:
                    row_of[(b, r)] = label
                placed.add(cid)
                break
    # rows typed by the reviewer: find their numbers in an unlabelled grid row of the same table
    rows: dict[str, list[tuple[str, CellValue]]] = {}
    for cid, cv in result.cells.items():
        label = _row_label(cid, known)
        if label is not None:
            rows.setdefault(label, []).append((cid, cv))
    for label, members in rows.items():
        if label in row_of.values() or not any(cv.version > 1 and cid not in placed for cid, cv in members):
            continue
        want = [float(cv.value) for _, cv in members if cv.value is not None]
        if len(want) < 2:
            continue
        for (b, r), gcells in sorted(grid_cells.items()):
            if b not in table_blocks.get(label.split(".")[0], set()) or (b, r) in row_of:
                continue
            got = [n for c in sorted(gcells, key=lambda c: c.col) if (n := _number(c.text)) is not None]
            if got == want or (len(got) == len(want) - 1 and _subsequence(got, want)):
                row_of[(b, r)] = label
                typed.add((b, r))
                for c in gcells:
                    if _number(c.text) is not None:
                        labels[(b, c.row, c.col)] = "val"
                break
    for (b, r), label in row_of.items():
        texts = [c for c in sorted(grid_cells[(b, r)], key=lambda c: c.col) if c.text and _number(c.text) is None]
        if not texts:
            continue
        # the label cell: the last text cell before the numbers (a block label may stand left of it); a row the
        # machine placed keeps the classifier's label unless it had none (the matcher placed it), a typed row
        # takes the row's label whatever the classifier said (it missed the row)
        key = (b, texts[-1].row, texts[-1].col)
        if (b, r) in typed or labels.get(key, "O") in ("O", "val"):
            labels[key] = label
    return labels


def _subsequence(short: list[float], long: list[float]) -> bool:
    it = iter(long)
    return all(any(x == y for y in it) for x in short)


def training_example(
    meta: ReportMeta, result: Result, doc: Document, tagging: Tagging | None, known: set[str]
) -> dict[str, Any]:
    """One approved report as the classifier's training example: its segments (key, kind, text, box, page) with the
    gold label, the classifier's label and confidence, and the approved values of the cells."""
    gold = gold_labels(doc, result, tagging, known)
    segs = []
    for seg in segments(doc):
        pred = tagging.label_of(seg.key) if tagging is not None else None
        segs.append(
            {
                "key": list(seg.key),
                "kind": seg.kind,
                "text": seg.text,
                "box": list(seg.box),
                "page": seg.page,
                "label": gold.get(seg.key, "O"),
                "predicted": pred.label if pred is not None else None,
                "confidence": round(pred.confidence, 4) if pred is not None else None,
            }
        )
    return {
        "format": TRAINING_FORMAT,
        "report_id": meta.id,
        "filename": meta.filename,
        "sha256": meta.sha256,
        "result_version": meta.version,
        "pipeline_version": result.pipeline_version,
        "report_format": result.format,
        "segments": segs,
        "values": {cid: cv.value for cid, cv in result.cells.items()},
        "corrected": sorted(cid for cid, cv in result.cells.items() if cv.version > 1),
        "review": review_record(result),  # what the approval confirmed of the layout (the agency layout memory)
    }


def cell_crops(doc: Document, path: Path, filename: str, out: Path, prefix: str) -> dict[SegmentKey, str]:
    """PNG crops of the OCR'd table cells of a scanned document (the page image at its review resolution, cut by
    each cell's box), written under ``out``/``prefix``; returns segment key -> path relative to ``out``."""
    crops: dict[SegmentKey, str] = {}
    pages: dict[int, tuple[Image.Image, float] | None] = {}
    for b, block in enumerate(doc.blocks):
        if block.kind != "table" or block.table is None:
            continue
        for cell in block.table.cells:
            prov = cell.provenance
            if prov.origin != Origin.OCR or prov.bbox is None or prov.page is None or not cell.text:
                continue
            if prov.page not in pages:
                try:
                    png, scale = render_page(path, filename, prov.page)
                    pages[prov.page] = (Image.open(io.BytesIO(png)), scale)
                except NoPage:
                    pages[prov.page] = None
            page = pages[prov.page]
            if page is None:
                continue
            image, scale = page
            x0, y0, x1, y1 = prov.bbox
            box = (
                round((x0 - CROP_MARGIN) * scale),
                round((y0 - CROP_MARGIN) * scale),
                round((x1 + CROP_MARGIN) * scale),
                round((y1 + CROP_MARGIN) * scale),
            )
            rel = f"{prefix}/{b}_{cell.row}_{cell.col}.png"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            image.crop(box).save(out / rel)
            crops[(b, cell.row, cell.col)] = rel
    return crops


def labelstudio_task(example: dict[str, Any], model_version: str) -> dict[str, Any]:
    """A report as a Label Studio task (its JSON import format): ``data.text`` the segments one a line, the
    classifier's labels as ``predictions`` and the approved labels as ``annotations``, each a span result
    (``from_name`` label, ``to_name`` text, ``type`` labels, ``value`` start/end/text/labels). ``O`` segments are
    left out; labelling config: ``<Labels name="label" toName="text">`` over ``<Text name="text" value="$text"/>``."""
    lines, starts = [], []
    at = 0
    for seg in example["segments"]:
        starts.append(at)
        lines.append(seg["text"])
        at += len(seg["text"]) + 1

    def span(i: int, seg: dict[str, Any], label: str, kind: str, score: float | None) -> dict[str, Any]:
        value: dict[str, Any] = {
            "start": starts[i],
            "end": starts[i] + len(seg["text"]),
            "text": seg["text"],
            "labels": [label],
        }
        if score is not None:
            value["score"] = score
        return {
            "id": f"{kind}{i}",
            "from_name": LS_FROM,
            "to_name": LS_TO,
            "type": "labels",
            "value": value,
        }

    segs = example["segments"]
    predicted = [
        span(i, s, s["predicted"], "p", s["confidence"])
        for i, s in enumerate(segs)
        if s["predicted"] not in (None, "O")
    ]
    gold = [span(i, s, s["label"], "a", None) for i, s in enumerate(segs) if s["label"] != "O"]
    scores = [s["confidence"] for s in segs if s["confidence"] is not None]
    return {
        "data": {
            "text": "\n".join(lines),
            "report_id": example["report_id"],
            "filename": example["filename"],
            "crops": example.get("crops", {}),
        },
        "predictions": [
            {"model_version": model_version, "score": round(min(scores), 4) if scores else 0.0, "result": predicted}
        ],
        "annotations": [{"result": gold, "ground_truth": True}],
    }


@dataclass
class TrainingExport:
    reports: int = 0
    segments: int = 0
    labelled: int = 0  # segments with a label other than O
    from_corrections: int = 0  # segments whose label comes from a row the reviewer typed or a moved value
    crops: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (report, why)


def write_training(
    out: Path, reports: Iterable[tuple[ReportMeta, Result]], blobs: Blobs, options: PipelineOptions
) -> TrainingExport:
    """``xxgk export --training OUT/``: every report given (the approved ones) read again from its stored file
    (ingest + the classifier of ``options``: the document and the classifier's reading the labels attach to) and
    written as ``OUT/examples/<report>.json`` (:func:`training_example`; OCR'd cells' crops under
    ``OUT/crops/<report>/``), listed in ``OUT/examples.jsonl``, and as Label Studio tasks in
    ``OUT/labelstudio.json`` (with ``OUT/labelstudio.xml``, the labelling config they fit)."""
    out.mkdir(parents=True, exist_ok=True)
    known = {lab.id for lab in load_label_set(LABELS_FILE).labels}
    version = pipeline_version(options.classifier)
    summary, tasks, listing = TrainingExport(), [], []
    for meta, result in reports:
        try:
            with blobs.local_file(meta.sha256) as blob, tempfile.TemporaryDirectory(prefix="xxgk-export-") as tmp:
                link = Path(tmp) / (Path(meta.filename).name or "report")
                os.symlink(blob, link)
                doc = load_document(link, options)
                tagging = understand(doc, options)
                example = training_example(meta, result, doc, tagging, known)
                example["crops"] = {
                    "_".join(map(str, k)): v
                    for k, v in cell_crops(doc, link, meta.filename, out, f"crops/{meta.id}").items()
                }
        except (BlobError, IngestError) as exc:
            summary.skipped.append((meta.filename, str(exc)))
            continue
        rel = f"examples/{meta.id}.json"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(json.dumps(example, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        listing.append({"report_id": meta.id, "filename": meta.filename, "example": rel})
        tasks.append(labelstudio_task(example, version))
        segs = example["segments"]
        summary.reports += 1
        summary.segments += len(segs)
        summary.labelled += sum(s["label"] != "O" for s in segs)
        summary.from_corrections += sum(s["label"] != (s["predicted"] or "O") for s in segs)
        summary.crops += len(example["crops"])
    (out / "examples.jsonl").write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in listing), encoding="utf-8"
    )
    (out / "labelstudio.json").write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    values = sorted({lab for t in tasks for a in t["annotations"] for r in a["result"] for lab in r["value"]["labels"]})
    config = "\n".join(
        [
            "<View>",
            f'  <Labels name="{LS_FROM}" toName="{LS_TO}">',
            *[f'    <Label value="{v}"/>' for v in values],
            "  </Labels>",
            f'  <Text name="{LS_TO}" value="${LS_TO}"/>',
            "</View>",
        ]
    )
    (out / "labelstudio.xml").write_text(config + "\n", encoding="utf-8")
    return summary
