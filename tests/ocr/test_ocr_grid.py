"""Table grids from ruling lines in page images, checked against the PDF text layer's grids of r001."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from service.ingest import load_document
from service.lattice import Grid
from service.ocr.grid import binarize, line_masks
from service.ocr.render import DPI
from service.pages.compose import join_pages
from service.pages.layout import find_grids

R001 = Path(__file__).resolve().parents[2] / "datasets/dev-reports/r001"
TABLE_PAGES = (2, 3, 4)

POINT = DPI / 72  # pixels per PDF point


def shape(cells) -> set[tuple[int, int, int, int]]:
    return {(c.row, c.col, c.rowspan, c.colspan) for c in cells}


@pytest.fixture(scope="module")
def image_grids(r001_pages) -> dict[int, list[Grid]]:
    return {number: find_grids(image, DPI) for number, image in r001_pages.items()}


@pytest.mark.parametrize("page", [1, 2, 3, 4, 5])
def test_page_grids_match_the_text_layer(page, image_grids, r001_page_grids):
    ours, truth = image_grids[page], r001_page_grids[page]
    assert len(ours) == len(truth)
    for grid, expected in zip(ours, truth):
        assert (grid.n_rows, grid.n_cols) == (expected.n_rows, expected.n_cols)
        assert shape(grid.cells) == shape(expected.cells)


@pytest.mark.parametrize("page", TABLE_PAGES)
def test_cell_boxes_match_the_text_layer(page, image_grids, r001_page_grids):
    for grid, expected in zip(image_grids[page], r001_page_grids[page]):
        boxes = {(c.row, c.col): c.bbox for c in grid.cells}
        for cell in expected.cells:
            x0, y0, x1, y1 = cell.provenance.bbox
            assert boxes[(cell.row, cell.col)] == pytest.approx((x0 * POINT, y0 * POINT, x1 * POINT, y1 * POINT), abs=3)


def test_tables_cut_by_page_breaks_have_open_edges(image_grids):
    table2_end = image_grids[3][0]  # continues table 2 from page 2: no ruling line over 信息内容
    assert [(c.col, c.open_top) for c in table2_end.cells if c.row == 0] == [(0, True), (1, False)]
    table3_start = image_grids[3][1]  # runs on to page 4: no ruling line at the bottom
    assert all(c.open_bottom for c in table3_start.cells if c.row + c.rowspan == table3_start.n_rows)
    assert not any(c.open_top or c.open_bottom for c in image_grids[2][0].cells)


def test_tables_joined_across_pages_match_the_pdf_backend(image_grids):
    doc = load_document(R001 / "source.pdf")
    expected = [b.table for b in doc.tables()]
    joined = join_pages(image_grids, DPI)
    assert [(t.first_page, t.last_page) for t in joined] == [(2, 3), (3, 4), (4, 4)]
    for table, truth in zip(joined, expected):
        assert truth is not None
        assert (table.n_rows, table.n_cols) == (truth.n_rows, truth.n_cols)
        assert shape(table.cells) == shape(truth.cells)
    # 三、本年度办理结果 runs from page 3 to page 4 in one cell of 20 rows
    results = next(c for c in joined[1].cells if (c.row, c.col) == (5, 0))
    assert results.rowspan == 20 and [p.page for p in results.parts] == [3, 4]


def _cut_rules(page: np.ndarray, rng: np.random.Generator, every: float = 50.0) -> np.ndarray:
    """The page with white gaps of 1 to 3 px cut across each ruling line, one every ``every`` px of the
    line on average (more often than the fax preset's pinholes and dropouts cut a hairline)."""
    out = page.copy()
    for mask, horizontal in zip(line_masks(binarize(page), DPI), (True, False)):
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for x, y, w, h, _area in stats[1:n]:
            length = w if horizontal else h
            for at in np.flatnonzero(rng.random(length) < 1 / every):
                gap = int(rng.integers(1, 4))
                window = (slice(y, y + h), slice(x + at, x + at + gap)) if horizontal else (
                    slice(y + at, y + at + gap), slice(x, x + w))
                out[window][mask[window] > 0] = 255
    return out


@pytest.mark.parametrize("page", TABLE_PAGES)
def test_rules_cut_by_small_gaps_give_the_same_lattice(page, r001_pages, image_grids):
    cut = _cut_rules(r001_pages[page], np.random.default_rng(page))
    assert (cut != r001_pages[page]).sum() > 1000  # the rules are really broken
    ours, clean = find_grids(cut, DPI), image_grids[page]
    assert [(g.n_rows, g.n_cols) for g in ours] == [(g.n_rows, g.n_cols) for g in clean]
    for grid, expected in zip(ours, clean):
        assert shape(grid.cells) == shape(expected.cells)
        assert grid.xs == pytest.approx(expected.xs, abs=2) and grid.ys == pytest.approx(expected.ys, abs=2)


def _drawn_table(shade: bool) -> np.ndarray:
    """A 3 x 3 table drawn at 200 dpi: the top row is one cell across (no inner separators there)."""
    page = np.full((800, 1000), 255, np.uint8)
    xs, ys = (100, 400, 650, 900), (100, 200, 300, 400)
    if shade:
        page[ys[0] : ys[1], xs[0] : xs[-1]] = 213  # grey fill of the header row
    for y in ys:
        cv2.line(page, (xs[0], y), (xs[-1], y), 0, 2)
    for x in xs:
        top = ys[0] if x in (xs[0], xs[-1]) else ys[1]
        cv2.line(page, (x, top), (x, ys[-1]), 0, 2)
    cv2.putText(page, "0", (520, 370), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    cv2.line(page, (150, 600), (700, 600), 0, 2)  # a rule under the table, not part of it
    return page


@pytest.mark.parametrize("shade", [False, True])
def test_drawn_table_with_a_span(shade):
    grids = find_grids(_drawn_table(shade), DPI)
    assert len(grids) == 1
    grid = grids[0]
    assert (grid.n_rows, grid.n_cols) == (3, 3)
    assert shape(grid.cells) == {(0, 0, 1, 3)} | {(r, c, 1, 1) for r in (1, 2) for c in range(3)}
    assert grid.bbox == pytest.approx((100, 100, 900, 400), abs=2)


def test_blank_page_has_no_grid():
    assert find_grids(np.full((500, 400), 255, np.uint8), DPI) == []
