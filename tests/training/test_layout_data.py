"""Training pages of the layout model: labels from the printed grid, print variants without rulings, degradations."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from service.ocr.grid import binarize
from service.pages.layout import find_grids
from service.pages.layout_model import CHANNELS, MODEL_DPI
from training.layout.data import (
    DataSettings,
    augment,
    labels,
    model_shape,
    page_samples,
    printed_pages,
    ruling_style,
    scansim,
    to_model,
)

DPI = 200
XS = (200, 500, 700, 900, 1100)
YS = (300, 360, 420, 480, 540, 600)


def _page() -> np.ndarray:
    """A 4 x 5 ruled table with a digit-like mark in every cell and a line of text above it."""
    img = np.full((1000, 1300), 255, np.uint8)
    for x in XS:
        cv2.line(img, (x, YS[0]), (x, YS[-1]), 0, 2)
    for y in YS:
        cv2.line(img, (XS[0], y), (XS[-1], y), 0, 2)
    for x0, x1 in zip(XS, XS[1:]):
        for y0, y1 in zip(YS, YS[1:]):
            cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
            cv2.putText(img, "18", (cx - 20, cy + 10), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    cv2.putText(img, "report text line", (200, 200), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 3)
    return img


def test_labels_mark_the_table_its_cell_edges_and_the_text():
    gray = _page()
    grids = find_grids(gray, DPI)
    assert len(grids) == 1 and grids[0].n_cols == 4 and grids[0].n_rows == 5
    factor = DPI / MODEL_DPI
    shape = model_shape(gray.shape, DPI)
    maps = labels(grids, binarize(gray), shape, factor)
    assert maps.shape == (len(CHANNELS), *shape)
    table, rows, cols, text = maps
    mid_y = int(round(to_model(450, factor)))
    for x in XS:  # every column boundary, also the outer ones
        assert cols[mid_y, int(round(to_model(x, factor)))] == 1
    assert cols[mid_y, int(round(to_model(600, factor)))] == 0  # mid-cell
    mid_x = int(round(to_model(600, factor)))
    for y in YS:
        assert rows[int(round(to_model(y, factor))), mid_x] == 1
    assert table[mid_y, mid_x] == 1 and table[10, 10] == 0
    assert text[int(round(to_model(190, factor))), int(round(to_model(300, factor)))] == 1
    assert not (text & table).any()


def test_unruled_and_three_line_prints_keep_the_text_and_lose_the_rulings():
    gray = _page()
    grids = find_grids(gray, DPI)
    rng = np.random.default_rng(0)
    bare = ruling_style(gray, grids, "unruled", rng)
    assert find_grids(bare, DPI) == []
    # the digits stay (ink inside the cells, away from the lines)
    inner = (slice(YS[0] + 8, YS[1] - 8), slice(XS[0] + 8, XS[1] - 8))
    assert (bare[inner] < 128).sum() == (gray[inner] < 128).sum() > 0
    three = ruling_style(gray, grids, "three_line", rng)
    column = three[YS[0] - 5 : YS[-1] + 5, XS[2]]
    assert (column[15:-15] > 200).all()  # no vertical rule between the body rows
    dark_rows = [y for y in range(three.shape[0]) if (three[y, XS[0] + 5 : XS[-1] - 5] < 128).mean() > 0.9]
    assert 3 <= len({y // 6 for y in dark_rows}) <= 3 * 2  # top, header and bottom rules (each a few px thick)
    assert ruling_style(gray, grids, "ruled", rng) is gray


def test_augment_moves_labels_with_the_page_and_is_seeded():
    gray = _page()
    grids = find_grids(gray, DPI)
    shape = model_shape(gray.shape, DPI)
    maps = labels(grids, binarize(gray), shape, DPI / MODEL_DPI)
    a_img, a_maps = augment(gray, maps, np.random.default_rng(3))
    b_img, b_maps = augment(gray, maps, np.random.default_rng(3))
    assert a_img.shape == shape and a_maps.shape == maps.shape
    assert np.array_equal(a_img, b_img) and np.array_equal(a_maps, b_maps)
    # the column boundaries still lie on the page's ink (the table moved with its labels)
    ink = a_img < 160
    on_ink = (ink & (a_maps[2] > 0)).sum() / max((a_maps[2] > 0).sum(), 1)
    assert on_ink > 0.2


@pytest.mark.skipif(not scansim().cjk_font_installed(), reason="needs the Noto CJK fonts (fonts-noto-cjk)")
def test_a_synthetic_report_prints_with_its_tables_found():
    pytest.importorskip("weasyprint")
    pages = list(printed_pages(seed=0, n_docs=1))
    assert pages and any(p.grids for p in pages)
    samples = page_samples(next(p for p in pages if p.grids), 0, DataSettings(docs=1, variants=1))
    img, maps = samples[0]
    assert img.shape == maps.shape[1:] and maps[0].any() and maps[2].any()
