"""Ruling lines of photocopied pages (issue 15): a copier's toner streaks are not table rulings.

The pages are dev reports printed and photocopied by the scan simulator (``datasets/scansim.py``, the photocopy
preset at the benchmark's seed: turned sheet, grey copier paper, toner streaks, blur, noise, JPEG), then levelled
by the angle the simulator turned them: the streaks, drawn in the copy's frame, now lean by that angle and
cross the tables, while the printed rulings stand upright, and run on past the tables' frames (a horizontal streak
leaning from the margin into a table, as on page 2 of r001, stops inside the page but starts past the frame).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import pytest

from service.lattice import Grid
from service.ocr.grid import _morph, _Scale, binarize, erase_streaks, ruling_segments, rulings_and_streaks, streak_free
from service.pages.layout import bitmap_rulings, table_grids
from tests.conftest import load_scansim

DPI = 200
SEED = 0  # the benchmark's seed (benchmarks/bench_scan.py --seed)


@lru_cache(maxsize=4)
def printed(report: str) -> tuple[np.ndarray, ...]:
    """A dev report printed to clean grayscale pages at 200 dpi."""
    scansim = load_scansim()
    return tuple(np.asarray(im) for im in scansim.render_source(scansim.source_for(report), DPI).images)


def copied(report: str, page: int, preset: str, level: bool = True) -> np.ndarray:
    """One page scanned as the benchmark's family ``preset`` makes it, then levelled (turned back by the angle
    the simulator drew) unless ``level`` is False."""
    scansim = load_scansim()
    from PIL import Image

    record: dict[str, object] = {}
    image = Image.fromarray(printed(report)[page - 1])
    copy = np.asarray(scansim.degrade(image, scansim.PRESETS[preset], scansim.page_rng(SEED, page), record))
    angle = float(record["angle"])  # type: ignore[arg-type]
    return scansim.rotate(copy, -angle) if level else copy


def grids_of(gray: np.ndarray) -> list[Grid]:
    return table_grids(ruling_segments(binarize(gray), DPI), bitmap_rulings(DPI))


def lattice(grids: list[Grid]) -> list[tuple[int, int, list[tuple[int, int, int, int]]]]:
    """Each table's rows, columns and cells (row, col, rowspan, colspan): its structure without positions."""
    return [(g.n_rows, g.n_cols, sorted((c.row, c.col, c.rowspan, c.colspan) for c in g.cells)) for g in grids]


def unfiltered_grids(gray: np.ndarray) -> list[Grid]:
    """The grids every straight run makes (no streak test): what the page read as before streaks were told
    apart."""
    return table_grids(ruling_segments(binarize(gray), DPI, streaks=False), bitmap_rulings(DPI))


@pytest.mark.parametrize(
    ("report", "page"), [("r001", 2), ("r001", 3), ("r001", 4), ("r005", 2), ("r005", 4), ("r013", 4)]
)
def test_toner_streaks_are_not_rulings(report: str, page: int) -> None:
    """Every table of a streaked photocopy has the printed page's lattice (rows, columns, spans), while the
    plain runs of the same copy make other tables (the streaks crossing them are taken for rulings)."""
    clean = lattice(grids_of(printed(report)[page - 1]))
    copy = copied(report, page, "photocopy")
    assert clean, "the page has tables"
    assert lattice(unfiltered_grids(copy)) != clean, "the streaks of this copy cross its tables"
    assert lattice(grids_of(copy)) == clean


def test_a_streak_through_the_margins_is_no_ruling() -> None:
    """Page 1 of r005 (running text, no table) as copied, not levelled (a page of text whose skew is not found
    stays so): a toner streak lies level across the whole sheet, through a line of text, whose upright strokes
    it touches; it runs into both margins to the sheet's edges, where no table's ruling goes, so no table is
    made of it and the strokes."""
    copy = copied("r005", 1, "photocopy", level=False)
    assert grids_of(printed("r005")[0]) == []
    assert unfiltered_grids(copy) != [], "the streak and the strokes it touches make a table"
    assert grids_of(copy) == []


@pytest.mark.parametrize(("report", "page"), [("r001", 4)])
def test_a_curled_page_keeps_its_rulings(report: str, page: int) -> None:
    """A gently curled sheet (the curl family: its horizontal lines bow, several leaning alike near the bent
    side) has no streak: every table keeps the lattice the plain runs make."""
    curled = copied(report, page, "curl")
    plain = lattice(unfiltered_grids(curled))
    assert plain
    assert lattice(grids_of(curled)) == plain


def test_printed_pages_keep_their_rulings() -> None:
    """On printed pages (no streak) every ruling the plain runs find is still found: the same tables, cells and
    spans, every line within a pixel of where it was (lines that aligned strokes of running text make may be
    dropped: they are no rulings, but may have touched one)."""
    for report in ("seed", "r001", "r003", "r005", "r010", "r013"):  # every dev report
        for gray in printed(report):
            found, plain = grids_of(gray), unfiltered_grids(gray)
            assert lattice(found) == lattice(plain)
            for a, b in zip(found, plain):
                assert np.allclose(a.xs, b.xs, atol=1.0) and np.allclose(a.ys, b.ys, atol=1.0)


def test_a_streak_crossing_a_ruling_keeps_the_ruling() -> None:
    """A streak drawn at 1 degree through table 3 of r001 page 3, crossing the long column ruling at x=860 at a
    shallow angle (their pixels overlap over some 200 rows), is taken out while that ruling stays whole."""
    gray = printed("r001")[2].copy()
    clean = grids_of(gray)
    table = clean[-1]
    x = min(table.xs, key=lambda v: abs(v - 860))
    mid = (table.ys[0] + table.ys[-1]) / 2
    slope = np.tan(np.radians(1.0))
    h = gray.shape[0]
    top, bottom = (int(round(x + slope * (0 - mid))), 0), (int(round(x + slope * (h - 1 - mid))), h - 1)
    cv2.line(gray, top, bottom, 110, 2)
    assert lattice(unfiltered_grids(gray)) != lattice(clean)
    assert lattice(grids_of(gray)) == lattice(clean)
    ink = binarize(gray)
    v = streak_free(_morph(ink, _Scale.at(DPI).min_v, False, cv2.MORPH_OPEN), _Scale.at(DPI).min_v, False, DPI)
    column = v[int(table.ys[0]) + 3 : int(table.ys[-1]) - 3, int(x) - 3 : int(x) + 4]
    assert column.any(axis=1).all(), "the ruling under the streak runs unbroken"


def streaked(gray: np.ndarray, x: float, degrees: float, factor: float, width: int = 3) -> np.ndarray:
    """The page darkened by ``factor`` along a line ``width`` pixels wide through (x, middle row), leaning by
    ``degrees``, over the whole page: a toner streak as the copier draws it (``scansim.toner_streaks``)."""
    out = gray.astype(np.float32)
    h = gray.shape[0]
    slope = np.tan(np.radians(degrees))
    for y in range(h):
        at = int(round(x + slope * (y - h / 2)))
        out[y, at : at + width] *= factor
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def test_streaks_are_taken_out_and_the_print_under_them_stays() -> None:
    """A streak drawn through the digits of the last column of table 3 (r001 page 3) is found and taken out before
    the cells are read: the ink of the erased page within a few pixels of the streak is the printed page's (the
    digits' strokes under and beside it kept, the streak gone)."""
    clean = printed("r001")[2]
    table = grids_of(clean)[-1]
    gray = streaked(clean, (table.xs[-2] + table.xs[-1]) / 2, 1.0, 0.45)
    segments, streaks = rulings_and_streaks(binarize(gray), DPI)
    assert segments == ruling_segments(binarize(gray), DPI)  # the same rulings, and where the streaks were
    assert streaks is not None and streaks.any()
    erased = erase_streaks(gray, streaks, DPI)
    assert erased.shape == gray.shape and erased is not gray
    near = cv2.dilate(streaks.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    rows = slice(int(table.ys[1]), int(table.ys[-1]))  # the value rows
    near[: rows.start], near[rows.stop :] = False, False
    ink, printed_ink, copied_ink = binarize(erased)[near] > 0, binarize(clean)[near] > 0, binarize(gray)[near] > 0
    assert printed_ink.sum() > 200, "digits lie under the streak"
    assert (copied_ink & ~printed_ink).sum() > printed_ink.sum(), "the streak is ink"
    # the digits stay (painting the streak's band the paper's colour kept 15 % of them; the light edge rows of the
    # rulings it crosses may go)
    assert (ink & printed_ink).sum() >= 0.85 * printed_ink.sum(), "the digits stay"
    assert (ink & ~printed_ink).sum() <= 0.05 * printed_ink.sum(), "the streak goes"
    assert (erased[~near] == gray[~near]).mean() > 0.99  # and little else changed
    assert rulings_and_streaks(binarize(clean), DPI)[1] is None
    assert erase_streaks(clean, None, DPI) is clean
