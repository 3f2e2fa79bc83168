"""One grid builder for both sources: a ruled table drawn as vector segments (PDF points) and the same table drawn
into a page image (pixels, its segments found in the ink) give the same grid; lines of words."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from service.document import Origin
from service.lattice import Segment
from service.ocr.grid import binarize, ruling_segments
from service.pages import PageContent, Unit, Word
from service.pages.layout import VECTOR, Line, Table, find_grids, join_collinear, layout_page

DPI = 200
PX = DPI / 72  # pixels per point
XS = (72.0, 200.0, 300.0, 400.0, 500.0)  # points
YS = (100.0, 130.0, 160.0, 190.0, 220.0)


def ruled_table() -> list[Segment]:
    """Four columns, four rows: the top row one cell across (no inner column lines there), the first column's
    two middle rows one cell (no line between them there), no closing line at the bottom (the table goes on over
    the page); the second line drawn in two overlapping pieces."""
    segs = [
        Segment(False, YS[0], XS[0], XS[-1]),
        Segment(False, YS[1], XS[0], 260.0),
        Segment(False, YS[1], 250.0, XS[-1]),
        Segment(False, YS[2], XS[1], XS[-1]),
        Segment(False, YS[3], XS[0], XS[-1]),
    ]
    for x in XS:
        top = YS[0] if x in (XS[0], XS[-1]) else YS[1]
        segs.append(Segment(True, x, top, YS[-1]))
    return segs


def drawn(segs: list[Segment]) -> np.ndarray:
    page = np.full((int(842 * PX), int(595 * PX)), 255, np.uint8)
    for s in segs:
        a, b, at = (int(round(v * PX)) for v in (s.start, s.end, s.pos))
        cv2.line(page, (at, a) if s.vertical else (a, at), (at, b) if s.vertical else (b, at), 0, 2)
    return page


def text_page(segs: list[Segment], words: list[Word] | None = None) -> PageContent:
    page = PageContent(1, 595, 842, Unit.POINT, 1.0, has_text_layer=True, segments=segs)
    page.words = words or []
    return page


def bitmap_page(image: np.ndarray) -> PageContent:
    """A page image whose ruling segments are found in its ink (what the OCR stage does first)."""
    page = PageContent(1, 595, 842, Unit.PIXEL, 72 / DPI, has_text_layer=False, bitmap=image, dpi=DPI)
    page.segments = ruling_segments(binarize(image), DPI)
    return page


def tables(page: PageContent) -> list[Table]:
    return [it for it in layout_page(page).items if isinstance(it, Table)]


def shape(table: Table) -> list[tuple[int, int, int, int, bool, bool]]:
    return sorted((c.row, c.col, c.rowspan, c.colspan, c.open_top, c.open_bottom) for c in table.grid.cells)


def test_vector_and_bitmap_segments_make_the_same_grid():
    segs = ruled_table()
    (vector,) = tables(text_page(segs))
    (bitmap,) = tables(bitmap_page(drawn(segs)))
    assert (vector.grid.n_rows, vector.grid.n_cols) == (4, 4)
    assert shape(bitmap) == shape(vector)
    assert (0, 0, 1, 4, False, False) in shape(vector)  # the top row: one cell across
    assert (1, 0, 2, 1, False, False) in shape(vector)  # two rows of the first column: one cell
    assert all(c.open_bottom for c in vector.grid.cells if c.row + c.rowspan == 4)  # no closing line
    # both in page units (points): the bitmap's pixels scaled back
    assert bitmap.grid.xs == pytest.approx(vector.grid.xs, abs=1.0)
    assert bitmap.grid.ys == pytest.approx(vector.grid.ys, abs=1.0)
    for a, b in zip(
        sorted(vector.grid.cells, key=lambda c: (c.row, c.col)), sorted(bitmap.grid.cells, key=lambda c: (c.row, c.col))
    ):
        assert b.bbox == pytest.approx(a.bbox, abs=1.0)
    assert (vector.origin, bitmap.origin) == (Origin.TEXT_LAYER, Origin.OCR)
    # a table continued on the next sheet may sit further off than one drawn as vectors
    assert bitmap.across_pages > vector.across_pages == VECTOR.across_pages


def test_find_grids_is_the_same_builder_in_pixels():
    image = drawn(ruled_table())
    (grid,) = find_grids(image, DPI)
    (table,) = tables(bitmap_page(image))
    assert grid.xs == pytest.approx([x * PX for x in table.grid.xs], abs=0.01)
    assert len(grid.cells) == len(table.grid.cells)


def test_nearby_rulings_of_two_tables_stay_apart():
    """A column line of one table (x 318.9, top) and a line 1.4 pt left of it in the table below
    (x 317.5) are separate rulings; neither may swallow the other."""
    upper = Segment(True, 318.9, 70.9, 262.3)
    lower = Segment(True, 317.5, 338.2, 393.4)
    joined = join_collinear([upper, lower, Segment(True, 318.9, 262.0, 300.0)], VECTOR)
    assert sorted((s.pos, s.start, s.end) for s in joined) == [(317.5, 338.2, 393.4), (318.9, 70.9, 300.0)]


def word(text: str, x0: float, top: float, size: float = 10.0) -> Word:
    return Word(text, (x0, top, x0 + 0.6 * size * len(text), top + size), size)


def test_characters_go_to_their_cells_and_the_rest_make_lines():
    words = [
        word("甲", XS[0] + 4, YS[1] + 5),  # the merged first-column cell, two lines
        word("乙", XS[0] + 4, YS[2] + 5),
        word("12", XS[1] + 4, YS[1] + 5),
        word("Total", 72, 300),  # running text below: words apart where the gap is wide
        word("sum", 72 + 40, 300),
        word("合", 72, 320),
        word("计", 82, 320),
    ]
    layout = layout_page(text_page(ruled_table(), words))
    (table,) = [it for it in layout.items if isinstance(it, Table)]
    texts = {(c.row, c.col): content.text for c, content in zip(table.grid.cells, table.cells)}
    assert texts[(1, 0)] == "甲乙" and texts[(1, 1)] == "12"
    lines = [it for it in layout.items if isinstance(it, Line)]
    assert [(ln.text, ln.origin) for ln in lines] == [("Total sum", Origin.TEXT_LAYER), ("合计", Origin.TEXT_LAYER)]
    assert layout.items[0] is table  # reading order: top to bottom
