"""Skewed scans: r001's page 4 turned by small angles is levelled, then its grids and values read as if straight."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from service.normalize import parse_number
from service.ocr.deskew import deskew, estimate_skew
from service.ocr.read_cells import read_tables
from service.ocr.render import DPI
from service.pages.layout import find_grids


def turned(image: np.ndarray, angle: float) -> np.ndarray:
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)


def shape(cells) -> set[tuple[int, int, int, int]]:
    return {(c.row, c.col, c.rowspan, c.colspan) for c in cells}


def test_straight_and_line_free_pages_are_left_alone(r001_pages):
    assert estimate_skew(r001_pages[4], DPI) == pytest.approx(0.0, abs=0.02)
    _, angle = deskew(turned(r001_pages[1], 1.0), DPI)  # running text only: no rules to measure
    assert angle == 0.0


@pytest.mark.parametrize("angle", [0.4, -0.8, 2.0, -3.0])
def test_skew_is_measured_and_undone(angle, r001_pages, r001_page_grids):
    skewed = turned(r001_pages[4], angle)
    level, measured = deskew(skewed, DPI)
    assert measured == pytest.approx(angle, abs=0.05)
    grids = find_grids(level, DPI)
    expected = r001_page_grids[4]
    assert [(g.n_rows, g.n_cols) for g in grids] == [(g.n_rows, g.n_cols) for g in expected]
    assert all(shape(g.cells) == shape(e.cells) for g, e in zip(grids, expected))


def test_skewed_page_values_read_exactly(r001_pages, r001_page_grids, engine):
    level, _ = deskew(turned(r001_pages[4], -1.2), DPI)
    cells = read_tables(level, find_grids(level, DPI), engine, DPI)
    for read, grid in zip(cells, r001_page_grids[4]):
        ours = {(c.cell.row, c.cell.col): c.text for c in read}
        for cell in grid.cells:
            if parse_number(cell.text).status == "value":
                assert ours[(cell.row, cell.col)] == cell.text
