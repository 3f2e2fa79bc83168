"""Cell-by-cell reading of r001's tables 2, 3 and 4 rendered at 200 dpi."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import service.ocr.read_cells as read_cells_module
from service.document import OcrChar
from service.lattice import GridCell
from service.normalize import parse_number
from service.ocr.orient import upright
from service.ocr.read_cells import CellText, fix_numeric, is_value_like, read_cells, read_tables
from service.ocr.recognizer import NUMERIC
from service.ocr.render import DPI, render_pages
from service.pages.layout import find_grids
from tests.conftest import levenshtein
from tests.ocr.conftest import ROOT

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
    [
        ("O", "0"),
        ("1O", "10"),
        ("l2", "12"),
        ("〇", "0"),
        ("2,O00", "2,000"),
        ("IO", "10"),
        ("7730.28", "7730.28"),
        ("1 O", "1 0"),
        ("Old", "Old"),
        ("规章", "规章"),
        ("lO件", "lO件"),
        ("/", "/"),
        ("", ""),
    ],
)
def test_numeric_confusions_fixed_only_in_numeric_context(text, fixed):
    assert fix_numeric(text) == fixed


# ---------------------------------------------------------------- poor cells: digits-only decoding, second reading

SCAN = ROOT / "datasets/scans/r001-moderate-200dpi.pdf"  # the committed simulated scan of r001


@pytest.fixture(scope="module")
def scan_glyphs(engine) -> dict[str, np.ndarray]:
    """A 0 and the label 总计 cut from table 4 of r001's simulated scan (page 4, upright and level)."""
    page = upright(render_pages(SCAN, [4], dpi=DPI)[4], engine, DPI).gray
    cells = [c for cells in read_tables(page, find_grids(page, DPI), engine, DPI) for c in cells]
    out = {}
    for text in ("0", "总计"):
        cell = next(c for c in cells if c.text == text)
        x0, y0, x1, y1 = (int(v) for v in cell.bbox)
        inside = page[y0 + 6 : y1 - 6, x0 + 6 : x1 - 6]
        ys, xs = np.nonzero(inside < 128)
        out[text] = inside[max(ys.min() - 3, 0) : ys.max() + 4, max(xs.min() - 3, 0) : xs.max() + 4]
    return out


def poor_table(glyphs: dict[str, np.ndarray], zero_scale: float, contrast: float, noise: float = 0.0) -> np.ndarray:
    """A ruled 2 x 3 table: 总计 in the first row; below, the 0 shrunk by ``zero_scale`` and 总计; the whole
    page dimmed to ``contrast`` and given seeded grey noise."""
    width, height = 260, 80
    page = np.full((2 * height + 40, 3 * width + 40), 255, np.uint8)
    xs, ys = [20 + k * width for k in range(4)], [20 + k * height for k in range(3)]
    for y in ys:
        cv2.line(page, (xs[0], y), (xs[-1], y), 0, 2)
    for x in xs:
        cv2.line(page, (x, ys[0]), (x, ys[-1]), 0, 2)
    zero = glyphs["0"]
    zero = cv2.resize(
        zero, (int(zero.shape[1] * zero_scale), int(zero.shape[0] * zero_scale)), interpolation=cv2.INTER_AREA
    )
    for glyph, row, col in [(glyphs["总计"], 0, c) for c in range(3)] + [(zero, 1, 0), (glyphs["总计"], 1, 1)]:
        h, w = glyph.shape
        y, x = ys[row] + (height - h) // 2, xs[col] + (width - w) // 2
        page[y : y + h, x : x + w] = np.minimum(page[y : y + h, x : x + w], glyph)
    dim = 255 - (255 - page.astype(np.float32)) * contrast
    return np.clip(dim + np.random.default_rng(0).normal(0, noise, page.shape), 0, 255).astype(np.uint8)


def test_small_dim_zero_reads_zero_digits_only_and_a_label_is_not_forced(engine, scan_glyphs):
    page = poor_table(scan_glyphs, zero_scale=0.35, contrast=0.35)
    (grid,) = find_grids(page, DPI)
    cells = {(c.cell.row, c.cell.col): c for c in read_cells(page, grid, engine, DPI)}
    zero, label = cells[(1, 0)], cells[(1, 1)]
    # the full alphabet reads the broken, dim 0 as a letter; a value cell is decoded with a number's alphabet
    assert zero.read_as not in ("", "0") and is_value_like(zero.read_as)
    assert zero.digits_only and zero.text == zero.raw == "0"
    (char,) = zero.chars
    assert char.text == "0" and char.confidence > 0.5
    assert all(t == "" or t in NUMERIC for t, _ in char.alternatives)
    assert (
        label.text == "总计" and not label.digits_only and not any(c.digits_only for c in cells.values() if c != zero)
    )


@pytest.fixture(scope="module")
def printed_glyphs(r001_pages, r001_page_grids) -> dict[str, np.ndarray]:
    """A 0 and the label 总计 cut from table 4 of r001 rendered at 200 dpi (at the text layer's cell boxes), blurred
    and JPEG-compressed as a scanner would."""
    page = r001_pages[4]
    cells = [c for grid in r001_page_grids[4] for c in grid.cells]
    out = {}
    for text in ("0", "总计"):
        cell = next(c for c in cells if c.text == text)
        x0, y0, x1, y1 = (int(v * DPI / 72) for v in cell.provenance.bbox)
        inside = page[y0 + 6 : y1 - 6, x0 + 6 : x1 - 6]
        ys, xs = np.nonzero(inside < 128)
        glyph = cv2.GaussianBlur(inside[ys.min() - 3 : ys.max() + 4, xs.min() - 3 : xs.max() + 4], (0, 0), 0.6)
        out[text] = cv2.imdecode(cv2.imencode(".jpg", glyph, [cv2.IMWRITE_JPEG_QUALITY, 60])[1], cv2.IMREAD_GRAYSCALE)
    return out


def test_low_confidence_value_cell_is_read_again(engine, printed_glyphs, monkeypatch):
    """A dim, noisy 0 read below the threshold: read again from other renderings of its crop (contrast
    stretched, binarised), the better supported reading is kept, with its own character first among the
    alternatives."""
    page = poor_table(printed_glyphs, zero_scale=0.8, contrast=0.4, noise=20)
    (grid,) = find_grids(page, DPI)
    monkeypatch.setattr(read_cells_module, "SECOND_READ_BELOW", 0.0)  # first reading only
    first = next(c for c in read_cells(page, grid, engine, DPI) if (c.cell.row, c.cell.col) == (1, 0))
    monkeypatch.setattr(read_cells_module, "SECOND_READ_BELOW", 0.9)
    again = next(c for c in read_cells(page, grid, engine, DPI) if (c.cell.row, c.cell.col) == (1, 0))
    assert first.text == "0" and first.min_confidence < 0.9 and first.second_read == ""
    assert again.second_read in ("stretched", "binarised") and again.text == "0"
    assert again.confidence > first.confidence
    (char,) = again.chars
    assert char.alternatives[0] == ("0", round(char.confidence, 5))


@pytest.mark.parametrize(
    ("text", "value_like"),
    [
        ("0", True),
        ("°", True),
        ("。", True),
        ("1O", True),
        ("2,O00", True),
        ("12.5%", True),
        ("-", True),
        ("U", True),
        ("0 0", True),
        ("总计", False),
        ("3.补正后申请内容仍不明确", False),
        ("(一)", False),
        ("Old", False),
        ("OOO", False),
        ("", False),
        ("1件", False),
    ],
)
def test_value_like_cells(text, value_like):
    assert is_value_like(text) is value_like


def test_readings_that_differ_stay_visible_as_alternatives():
    """The kept reading's characters list the other readings' characters where they differ (same length)."""
    cell = GridCell(1, 1, 1, 1, (0.0, 0.0, 60.0, 40.0))

    def reading(text: str, confidence: float, alternatives: tuple[tuple[str, float], ...]) -> CellText:
        char = OcrChar(text=text, confidence=confidence, box=(10.0, 5.0, 30.0, 35.0), alternatives=alternatives)
        return CellText(cell, text, text, confidence, confidence, chars=(char,), digits_only=True)

    kept = read_cells_module._with_alternatives(
        reading("0", 0.9, (("0", 0.9), ("8", 0.05))), [reading("8", 0.6, (("8", 0.6), ("0", 0.3)))]
    )
    (char,) = kept.chars
    assert char.alternatives == (("0", 0.9), ("8", 0.6))  # 8 at the probability its own reading gave it
    assert kept.text == "0" and kept.confidence == 0.9
