"""Cell-by-cell reading of r001's tables 2, 3 and 4 rendered at 200 dpi."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from service.normalize import parse_number
from service.ocr.read_cells import CellText, fix_numeric, read_cells, read_tables
from service.ocr.render import DPI
from service.pages.layout import find_grids
from tests.conftest import levenshtein

TABLE_PAGES = (2, 3, 4)  # tables 2, 3 and 4 of r001 (2 and 3 run over a page break)


@pytest.fixture(scope="module")
def page_cells(r001_pages, engine) -> dict[int, list[list[CellText]]]:
    out = {}
    for page in TABLE_PAGES:
        image = r001_pages[page]
        out[page] = read_tables(image, find_grids(image, DPI), engine, DPI)
    return out


def pairs(page_cells, r001_page_grids):
    """(text-layer cell, OCR cell) for every cell of the table pages."""
    for page in TABLE_PAGES:
        assert len(page_cells[page]) == len(r001_page_grids[page])
        for cells, grid in zip(page_cells[page], r001_page_grids[page]):
            ours = {(c.cell.row, c.cell.col): c for c in cells}
            for cell in grid.cells:
                yield cell, ours[(cell.row, cell.col)]




def test_every_value_cell_reads_exactly(page_cells, r001_page_grids):
    values = [(t, ours) for t, ours in pairs(page_cells, r001_page_grids) if parse_number(t.text).status == "value"]
    assert len(values) == 186
    wrong = [(truth.text, ours.text) for truth, ours in values if ours.text != truth.text]
    assert wrong == []


def test_values_are_the_hand_checked_truth(page_cells, r001_cells_truth):
    read = [parse_number(c.text) for grids in page_cells.values() for cells in grids for c in cells]
    numbers = sorted(p.value for p in read if p.status == "value")
    assert numbers == sorted(r001_cells_truth.values())


def test_label_cells_read_close_to_the_text_layer(page_cells, r001_page_grids):
    labels = [(t, ours) for t, ours in pairs(page_cells, r001_page_grids) if parse_number(t.text).status != "value"]
    errors = sum(levenshtein(truth.text, ours.text) for truth, ours in labels)
    total = sum(len(truth.text) for truth, _ in labels)
    accuracy = 1 - errors / total
    print(f"label character accuracy {accuracy:.4f} ({errors} edits in {total} characters, {len(labels)} cells)")
    assert accuracy >= 0.98


def test_vertical_label_is_read(page_cells):
    cell = next(c for c in page_cells[3][1] if (c.cell.row, c.cell.col) == (5, 0))
    assert cell.cell.rowspan == 12 and cell.text == "三、本年度办理结果"
    tops = [ch.box[1] for ch in cell.chars]
    assert tops == sorted(tops)  # characters run down the page


def test_characters_carry_boxes_and_alternatives(page_cells):
    for cells in page_cells[4]:
        for cell in cells:
            x0, y0, x1, y1 = cell.bbox
            for ch in cell.chars:
                assert x0 <= ch.box[0] < ch.box[2] <= x1 and y0 <= ch.box[1] < ch.box[3] <= y1
                assert ch.alternatives and ch.alternatives[0][0] == ch.text
            if cell.text:
                assert 0 < cell.min_confidence <= cell.confidence <= 1


def test_lone_small_digits_are_never_skipped(engine):
    """A drawn 2 x 3 grid: a small 1, a 0 and a dash ("not applicable") in three cells, the others empty."""
    page = np.full((400, 900), 255, np.uint8)
    xs, ys = (50, 300, 550, 800), (50, 150, 250)
    for y in ys:
        cv2.line(page, (xs[0], y), (xs[-1], y), 0, 2)
    for x in xs:
        cv2.line(page, (x, ys[0]), (x, ys[-1]), 0, 2)
    cv2.putText(page, "1", (170, 110), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 2)
    cv2.putText(page, "0", (415, 115), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 0, 2)
    cv2.putText(page, "-", (670, 115), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 0, 2)
    page[200, 420] = 0  # a speck in an otherwise empty cell
    (grid,) = find_grids(page, DPI)
    cells = {(c.cell.row, c.cell.col): c for c in read_cells(page, grid, engine, DPI)}
    assert [cells[(0, c)].text for c in range(3)] == ["1", "0", "-"]
    assert all(cells[(1, c)].empty and cells[(1, c)].text == "" for c in range(3))


@pytest.mark.parametrize(
    ("text", "fixed"),
    [("O", "0"), ("1O", "10"), ("l2", "12"), ("〇", "0"), ("2,O00", "2,000"), ("IO", "10"), ("7730.28", "7730.28"),
     ("1 O", "1 0"), ("Old", "Old"), ("规章", "规章"), ("lO件", "lO件"), ("/", "/"), ("", "")],
)
def test_numeric_confusions_fixed_only_in_numeric_context(text, fixed):
    assert fix_numeric(text) == fixed
