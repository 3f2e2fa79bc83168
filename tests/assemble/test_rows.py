"""Rows of a recognized table: a misread value keeps its column (flagged), the values after it do not shift."""

from __future__ import annotations

import pytest

from service.document import Document, OcrChar, OcrText
from service.ingest import load_document
from service.pipeline import extract_document
from tests.conftest import ROOT, truth

SCAN = ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf"


@pytest.fixture(scope="module")
def scan() -> Document:
    return load_document(SCAN)


def _t3_zero_cells(doc: Document) -> list[tuple[int, int]]:
    """(block, cell index) of OCR'd ``0`` cells that stand between other values of a 7-value row."""
    found = []
    for b, block in enumerate(doc.blocks):
        if block.table is None:
            continue
        rows: dict[int, list[int]] = {}
        for i, cell in enumerate(block.table.cells):
            rows.setdefault(cell.row, []).append(i)
        for idx in rows.values():
            cells = [block.table.cells[i] for i in idx]
            values = [i for i, c in zip(idx, cells) if c.ocr is not None and c.text.isdigit()]
            if len(values) == 7:
                found += [(b, i) for i in values[1:-1] if block.table.cells[i].text == "0"]
    return found


@pytest.mark.parametrize("misread", ["°", "。", "o"])
def test_a_misread_zero_keeps_its_column_and_is_flagged(scan, misread):
    places = _t3_zero_cells(scan)
    assert places, "the seed scan has table 3 rows of seven values with a 0 inside"
    b, i = places[0]
    doc = scan.model_copy(deep=True)
    cell = doc.blocks[b].table.cells[i]
    box = cell.ocr.chars[0].box
    char = OcrChar(text=misread, confidence=0.55, box=box, alternatives=((misread, 0.55), ("0", 0.4)))
    doc.blocks[b].table.cells[i] = cell.model_copy(
        update={
            "text": misread,
            "raw": misread,
            "ocr": OcrText(text=misread, confidence=0.55, box=cell.ocr.box, chars=(char,)),
        }
    )
    row = [c for c in doc.blocks[b].table.cells if c.row == cell.row and c.ocr is not None]
    result = extract_document(doc)
    expected = truth("seed")["cells"]
    by_box = {v.source.bbox: cid for cid, v in result.cells.items() if v.source is not None}
    target = by_box[cell.provenance.bbox]
    got = result.cells[target]
    # the misread cell: its own column, never a silent wrong number
    assert got.needs_review and got.value in (None, expected[target])
    assert got.raw == misread or got.original_value is not None
    # every other value of the row: read, in its column, right
    others = [by_box[c.provenance.bbox] for c in row if c.provenance.bbox in by_box and c is not cell]
    assert len(others) >= 6
    for cid in others:
        if cid != target:
            assert result.cells[cid].value == expected[cid], cid
