"""A column ruling lost in a few rows (faded or broken at fax quality): the two cells it parted are read apart.

The grid proposes the parts (``grid.lost_rulings``: a boundary the table rules in its other rows, clear
paper where the lost segment ran, ink on both sides), the reader keeps them where each reads as a number
(``read_cells.read_tables``). End to end: r001 scanned at fax quality (``datasets/scansim.py``) with two
rulings of table 3 lost, read by ``service.pipeline``.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from service.ocr.grid import binarize, lost_rulings
from service.ocr.read_cells import SPLIT_CONFIDENCE, read_tables
from service.ocr.render import DPI
from service.pages.layout import find_grids
from tests.conftest import load_scansim

ROOT = Path(__file__).resolve().parents[2]
XS = (100, 300, 450, 600, 750)  # a label column and three value columns
YS = tuple(100 + 60 * k for k in range(8))  # a header row and six rows
LOST = (2, 3, 4, 5)  # rows in which the ruling at XS[2] is lost
TEXT = {  # (row, col): text drawn centred in the slot
    (1, 1): "5", (1, 2): "6", (1, 3): "11",
    (2, 1): "12", (2, 2): "3", (2, 3): "15",
    (3, 1): "0", (3, 2): "0", (3, 3): "0",
    (4, 1): "7", (4, 3): "7",  # one number in the merged span: which column is it?
    (5, 1): "ab", (5, 2): "cd", (5, 3): "0",  # words, not numbers
    (6, 1): "2", (6, 2): "4", (6, 3): "6",
}


def _put(page: np.ndarray, text: str, x0: float, x1: float, y0: float, y1: float) -> None:
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
    cv2.putText(page, text, (int((x0 + x1 - w) / 2), int((y0 + y1 + h) / 2)), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)


def _table(remnants: bool = False) -> np.ndarray:
    """A ruled table at 200 dpi whose ruling between the first two value columns is lost in rows 2-5."""
    page = np.full((700, 850), 255, np.uint8)
    for y in YS:
        cv2.line(page, (XS[0], y), (XS[-1], y), 0, 2)
    for i, x in enumerate(XS):
        for r in range(len(YS) - 1):
            if not (i == 2 and r in LOST):
                cv2.line(page, (x, YS[r]), (x, YS[r + 1]), 0, 2)
    if remnants:  # a broken ruling: short pieces left on its line
        for r in LOST:
            for y in range(YS[r] + 12, YS[r + 1] - 8, 22):
                cv2.line(page, (XS[2], y), (XS[2], y + 5), 0, 2)
    for (r, c), text in TEXT.items():
        _put(page, text, XS[c], XS[c + 1], YS[r], YS[r + 1])
    for r in range(1, len(YS) - 1):
        _put(page, "row", XS[0], XS[1], YS[r], YS[r + 1])
    return page


@pytest.mark.parametrize("remnants", [False, True])
def test_the_grid_proposes_the_cells_a_lost_ruling_parted(remnants):
    page = _table(remnants)
    (grid,) = find_grids(page, DPI)
    assert (grid.n_rows, grid.n_cols) == (7, 4)
    merged = sorted((c.row, c.col, c.colspan) for c in grid.cells if c.colspan > 1)
    assert merged == [(r, 1, 2) for r in LOST]  # the lines alone: one cell in each of those rows
    found = lost_rulings(grid, binarize(page), DPI)
    # rows 2, 3 and 5: ink on both sides, clear paper between; row 4: one number, no ink right of the line
    assert sorted(c.row for c in found) == [2, 3, 5]
    for cell, parts in found.items():
        assert [(p.row, p.col, p.rowspan, p.colspan) for p in parts] == [(cell.row, 1, 1, 1), (cell.row, 2, 1, 1)]
        assert [p.bbox for p in parts] == [(XS[1], cell.bbox[1], XS[2], cell.bbox[3]),
                                           (XS[2], cell.bbox[1], XS[3], cell.bbox[3])]
        assert all(p.split_from == cell.bbox for p in parts)
    assert all(c.split_from is None for c in grid.cells)


def test_ink_across_the_lost_line_is_left_whole():
    page = _table()
    (grid,) = find_grids(page, DPI)
    row2 = next(c for c in grid.cells if c.row == 2 and c.colspan == 2)
    y = (YS[2] + YS[3]) // 2
    cv2.line(page, (XS[2] - 30, y), (XS[2] + 30, y), 0, 2)  # a stroke across where the ruling ran
    assert row2 not in lost_rulings(grid, binarize(page), DPI)


def test_the_header_alone_is_enough_to_know_a_column():
    """A table whose values the header rules apart, the ruling lost in every value row below it (as table 4
    printed with one header row per column): the header's column is the values' column."""
    page = np.full((400, 700), 255, np.uint8)
    xs, ys = (100, 300, 450, 600), (100, 160, 220, 280, 340)
    for y in ys:
        cv2.line(page, (xs[0], y), (xs[-1], y), 0, 2)
    for x in xs:
        cv2.line(page, (x, ys[0]), (x, ys[1] if x == xs[2] else ys[-1]), 0, 2)  # the middle line: header only
    for r in range(1, 4):
        _put(page, "12", xs[1], xs[2], ys[r], ys[r + 1])
        _put(page, "3", xs[2], xs[3], ys[r], ys[r + 1])
    (grid,) = find_grids(page, DPI)
    assert sum(c.colspan == 2 for c in grid.cells) == 3
    found = lost_rulings(grid, binarize(page), DPI)
    assert sorted((c.row, [(p.col, p.colspan) for p in parts]) for c, parts in found.items()) == [
        (r, [(1, 1), (2, 1)]) for r in (1, 2, 3)]


def test_cells_parted_by_a_lost_ruling_read_as_their_numbers(engine):
    page = _table(remnants=True)
    (grid,) = find_grids(page, DPI)
    (cells,) = read_tables(page, [grid], engine, DPI)
    by_slot = {(c.cell.row, c.cell.col): c for c in cells}
    assert (by_slot[(2, 1)].text, by_slot[(2, 2)].text) == ("12", "3")
    assert (by_slot[(3, 1)].text, by_slot[(3, 2)].text) == ("0", "0")
    for slot in ((2, 1), (2, 2), (3, 1), (3, 2)):
        part = by_slot[slot]
        assert part.split and part.cell.colspan == 1
        assert part.cell.split_from == (XS[1], YS[slot[0]], XS[3], YS[slot[0] + 1])
        mean = sum(ch.confidence for ch in part.chars) / len(part.chars)
        assert part.confidence == pytest.approx(mean * SPLIT_CONFIDENCE, abs=1e-4)
        x0, _, x1, _ = part.cell.bbox
        assert all(x0 <= (ch.box[0] + ch.box[2]) / 2 <= x1 for ch in part.chars)  # its own crop
    # one number in the span (which column?) and words: left as the lines drew them
    assert by_slot[(4, 1)].cell.colspan == 2 and by_slot[(4, 1)].text == "7" and not by_slot[(4, 1)].split
    assert by_slot[(5, 1)].cell.colspan == 2 and not by_slot[(5, 1)].split and (5, 2) not in by_slot
    assert by_slot[(1, 2)].text == "6" and by_slot[(6, 2)].text == "4"  # rows with the ruling: untouched
    settled = grid.with_cells(c.cell for c in cells)
    slots = [(r, c) for cell in settled.cells for r in range(cell.row, cell.row + cell.rowspan)
             for c in range(cell.col, cell.col + cell.colspan)]
    assert sorted(slots) == [(r, c) for r in range(7) for c in range(4)]  # every slot once: a lattice
    (unsplit,) = read_tables(page, [grid], engine, DPI, split=False)
    assert [c.cell for c in unsplit] == list(grid.cells)


# --- end to end: r001 scanned at fax quality with two rulings of table 3 lost -----------------------




# Table 3 of r001 as printed (its ruled grid: 26 rows, 10 columns, value columns 3-9; rows 0-16 on page 3,
# 17-25 on page 4). Lost: the ruling between 自然人 and 商业企业 in rows 5-9 (部分公开 4 | 0, 国家秘密 1 | 0),
# and the one between 其他 and 总计 in rows 22-25 (总计 0 | 21), broken: pieces of it left on its line.
LOSSES = ("table=1,boundary=4,rows=5,first=5", "table=1,boundary=9,rows=4,first=22,keep=0.15")
AFFECTED = {
    "granted": ("natural_person", "commercial_enterprise"),
    "partially_granted": ("natural_person", "commercial_enterprise"),
    "denied_state_secret": ("natural_person", "commercial_enterprise"),
    "denied_other_laws": ("natural_person", "commercial_enterprise"),
    "denied_three_security_one_stability": ("natural_person", "commercial_enterprise"),
    "not_processed_confirm_reissue": ("other_org", "total"),
    "other_processing": ("other_org", "total"),
    "results_total": ("other_org", "total"),
    "carried_forward": ("other_org", "total"),
}


@pytest.fixture(scope="module")
def lost_ruling_scan(tmp_path_factory):
    """r001 (a PDF: rasterised as printed, no HTML renderer needed) at fax quality (150 dpi, binarised,
    speckled), its table-3 pages only (3 and 4), two rulings of table 3 lost."""
    scansim = load_scansim()
    out = tmp_path_factory.mktemp("lost-ruling") / "r001-fax-lost.pdf"
    losses = [scansim.LostRuling.parse(spec) for spec in LOSSES]
    return scansim.scan(scansim.source_for("r001"), out, scansim.PRESETS["fax"], 0, losses, pages=[3, 4])


@pytest.fixture(scope="module")
def lost_ruling_doc(lost_ruling_scan):
    from service.ingest import load_document

    return load_document(lost_ruling_scan.path)


def test_the_scan_lost_the_rulings_asked_for(lost_ruling_scan):
    assert lost_ruling_scan.page_numbers == [3, 4] and lost_ruling_scan.pages == 2
    assert [(s.table, s.boundary, s.rows, s.pages) for s in lost_ruling_scan.lost] == [
        (1, 4, (5, 6, 7, 8, 9), (3,)), (1, 9, (22, 23, 24, 25), (4,))]


def test_table_3_rows_with_a_lost_ruling_print_every_value(lost_ruling_doc):
    (t3,) = [b.table for b in lost_ruling_doc.tables() if b.table is not None and b.table.n_cols == 10]
    rows = t3.rows()
    for r in (*range(5, 10), *range(22, 26)):
        values = [c for c in rows[r] if c.text.isdigit()]
        assert len(values) == 7, f"row {r}: {[c.text for c in rows[r]]}"
        assert all(c.colspan == 1 for c in values)
    # the parts: each with its own box, origin ocr, the reading and a confidence a bit below it
    partially_granted = [c for c in rows[6] if c.text.isdigit()]
    left, right = partially_granted[0], partially_granted[1]
    assert (left.text, right.text) == ("4", "0")
    assert left.provenance.bbox[2] == pytest.approx(right.provenance.bbox[0], abs=0.01)
    for part in (left, right):
        assert part.provenance.origin == "ocr" and part.ocr is not None
        assert part.provenance.page == 1  # the scan's first page: page 3 of the report
        assert part.provenance.confidence < min(ch.confidence for ch in part.ocr.chars)
        assert part.raw == part.text


def test_lost_ruling_rows_are_read_right_end_to_end(lost_ruling_doc):
    from service.pipeline import extract_document

    result = extract_document(lost_ruling_doc)
    truth = json.loads((ROOT / "datasets/dev-reports/r001/cells.json").read_text(encoding="utf-8"))["cells"]
    for row, cols in AFFECTED.items():
        for col in cols:
            cid = f"t3.{row}.{col}"
            assert (result.cells[cid].status, result.cells[cid].value) == ("read", truth[cid]), cid
    t3 = [cid for cid in truth if cid.startswith("t3.")]
    assert [cid for cid in t3 if result.cells[cid].value != truth[cid]] == []
    coverage = result.coverage.tables["t3"]  # only the sub-rows of 其他处理, which r001 prints as one row
    assert coverage.cells_absent == coverage.cells_absent_explained == 21
    # table 2 begins on page 2, which this scan leaves out: its cells are not read, and say so
    wrong_unflagged = [cid for cid, expected in truth.items()
                       if result.cells[cid].value != expected and not result.cells[cid].needs_review]
    assert wrong_unflagged == []
