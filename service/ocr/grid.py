"""Ruling lines of a page image, and the bitmap-only refinements of the table grids made from them.

1. binarise: ink is darker than its neighbourhood (adaptive threshold) and darker than the page's
   Otsu threshold, so grey cell shading is not ink while text and lines are;
2. ruling lines (``ruling_segments``): morphological opening with long thin kernels keeps horizontal and
   vertical runs longer than any glyph stroke; each connected run is a segment (position, start, end).
   Thin rules broken by pinholes or scan-line dropouts: the runs found once gaps of a few pixels along
   the line are closed count where they continue a segment of the same line. The grids are built from
   these segments by the one grid builder (``service.pages.layout.table_grids``, on ``service.lattice``),
   with the tolerances below (TOL, GAP, MIN_TABLE_W, MIN_TABLE_H);
3. lost rulings (``lost_rulings``, used by ``read_cells.read_tables``): a column border faded or broken
   in a few rows (fax, photocopy) makes two cells of those rows one. A cell spanning a column boundary
   that the table rules in its other rows (the header's count), with clear paper where that ruling would
   run and ink on both sides of it, is proposed as the cells the lost ruling parted; the reader keeps
   the proposal only where the parts read as numbers (or a row label and numbers).

Coordinates are pixels of the given image. Tolerances scale with ``dpi`` (200 by default).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from service.lattice import Grid, GridCell, Segment

DPI = 200
# In inches, scaled by dpi:
MIN_H_LINE = 0.25  # shortest horizontal ruling segment kept (longer than glyph strokes of 16 pt text)
MIN_V_LINE = 0.18  # shortest vertical ruling segment kept (shorter than the lowest table row)
TOL = 0.03  # lines closer than this are one boundary; segments closer than this touch
GAP = 0.06  # gap bridged between pieces of one broken or dashed line
BRIDGE = 0.025  # gaps shorter than this (pinholes, scan-line dropouts) are closed along a broken line
MIN_TABLE_W = 0.5  # smaller tables are noise (a box drawn around a word, a stamp)
MIN_TABLE_H = 0.2
# A lost ruling (``lost_rulings``):
MIN_RULED_ROWS = 1  # a column boundary the table rules (parts two cells) in this many rows is one of its columns
CLEAR = 0.025  # inches of paper (no text ink) on each side of where the lost ruling ran
INSET = 0.025  # inches cut from each side of a cell before its ink is looked at (its own ruling lines)
SPECK = 0.02  # inches: ink smaller than this both ways is noise
THIN = 0.03  # inches: a vertical piece this thin on the lost ruling's line ...
REMNANT = 0.06  # ... and shorter than this (or about as tall as the cell) is what is left of the ruling


@dataclass(frozen=True)
class _Scale:
    tol: float
    gap: float
    bridge: int
    min_h: int
    min_v: int

    @classmethod
    def at(cls, dpi: float) -> _Scale:
        return cls(
            tol=max(TOL * dpi, 2.0),
            gap=max(GAP * dpi, 3.0),
            bridge=max(int(round(BRIDGE * dpi)), 2),
            min_h=max(int(MIN_H_LINE * dpi), 8),
            min_v=max(int(MIN_V_LINE * dpi), 6),
        )


# ---------------------------------------------------------------- pixels


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit grayscale of a grayscale, BGR or BGRA image."""
    if image.ndim == 2:
        return image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)
    code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(image, code)


def binarize(gray: np.ndarray) -> np.ndarray:
    """Ink mask (255 = ink): locally dark and darker than the page's Otsu threshold."""
    gray = to_gray(gray)
    block = max(15, (min(gray.shape) // 60) | 1)
    local = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10)
    otsu, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = (gray <= max(otsu, 100)).astype(np.uint8) * 255
    return cv2.bitwise_and(local, dark)


def line_masks(ink: np.ndarray, dpi: float = DPI) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical ruling-line pixels of an ink mask."""
    scale = _Scale.at(dpi)
    return _runs(ink, scale.min_h, True), _runs(ink, scale.min_v, False)


def _runs(ink: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    """Pixels of straight runs at least ``length`` long in one direction."""
    return _morph(ink, length, horizontal, cv2.MORPH_OPEN)


def _bridged_runs(ink: np.ndarray, scale: _Scale, horizontal: bool) -> np.ndarray:
    """The same runs once small gaps along them (pinholes, scan-line dropouts) are closed."""
    closed = _morph(ink, scale.bridge, horizontal, cv2.MORPH_CLOSE)
    return _runs(closed, scale.min_h if horizontal else scale.min_v, horizontal)


def _morph(ink: np.ndarray, length: int, horizontal: bool, op: int) -> np.ndarray:
    shape = (length, 1) if horizontal else (1, length)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, shape)
    return cv2.morphologyEx(ink, op, kernel)


def ruling_segments(ink: np.ndarray, dpi: float = DPI) -> list[Segment]:
    """Ruling segments of an ink mask: the unbroken runs, and the runs found once small gaps are closed where
    they continue a ruling segment (closing alone would also join the strokes of neighbouring glyphs). Pieces
    of one line are not joined here: the grid builder joins them (``service.pages.layout.table_grids``)."""
    scale = _Scale.at(dpi)
    plain: list[Segment] = []
    bridged: list[Segment] = []
    for horizontal in (True, False):
        length = scale.min_h if horizontal else scale.min_v
        plain += _segments(_runs(ink, length, horizontal), vertical=not horizontal)
        bridged += _segments(_bridged_runs(ink, scale, horizontal), vertical=not horizontal)
    return plain + _continuing(bridged, plain, scale)


def _continuing(candidates: list[Segment], rules: list[Segment], scale: _Scale) -> list[Segment]:
    """The candidates on the line of a rule (those found so far included), overlapping it or as near
    as two pieces of one line."""
    found: list[Segment] = []
    rest = candidates
    while rest:
        hit = _continues(_array(rest), _array(rules + found), scale)
        if not hit.any():
            break
        found += [c for c, h in zip(rest, hit) if h]
        rest = [c for c, h in zip(rest, hit) if not h]
    return found


def _array(segs: list[Segment]) -> np.ndarray:
    return np.array([(s.vertical, s.pos, s.start, s.end) for s in segs], dtype=float).reshape(-1, 4)


def _continues(cands: np.ndarray, rules: np.ndarray, scale: _Scale) -> np.ndarray:
    cv, cp, cs, ce = (cands[:, i, None] for i in range(4))
    rv, rp, rs, re = (rules[None, :, i] for i in range(4))
    near = (cv == rv) & (np.abs(cp - rp) <= scale.tol) & (cs <= re + scale.gap) & (rs <= ce + scale.gap)
    return near.any(axis=1)


def _segments(mask: np.ndarray, vertical: bool) -> list[Segment]:
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out: list[Segment] = []
    for x, y, w, h, _area in stats[1:n]:
        if vertical:
            out.append(Segment(True, x + (w - 1) / 2, float(y), float(y + h - 1)))
        else:
            out.append(Segment(False, y + (h - 1) / 2, float(x), float(x + w - 1)))
    return out


# ---------------------------------------------------------------- lost rulings


def lost_rulings(grid: Grid, ink: np.ndarray, dpi: float = DPI) -> dict[GridCell, tuple[GridCell, ...]]:
    """Cells that a lost column ruling made one, each with the cells it parted (left to right).

    The table's column boundaries (``grid.xs``: the positions of its vertical rulings, clustered over all
    its rows) are known from the rows that rule them (MIN_RULED_ROWS: the header's are enough, as in a
    table whose values the header alone parts); a cell spanning such a boundary is parted there when no
    text ink comes within CLEAR of it (what is left of a broken ruling on that line does not count). Each
    part keeps the cell's rows, its columns between two cuts and the cell's box as ``split_from``. A cell
    any of whose parts would hold no ink is left whole (one number in a two-column span, or a blank beside
    a number: the lines alone cannot say which), and so is one whose ink crosses every such boundary.
    ``ink`` is the page's ink mask (``binarize``), in the grid's pixels."""
    out: dict[GridCell, tuple[GridCell, ...]] = {}
    for cell, inner in ruled_inside(grid).items():
        cuts = _clear_cuts(grid, cell, inner, ink, dpi)
        if cuts is not None:
            edges = [cell.col, *cuts, cell.col + cell.colspan]
            out[cell] = tuple(
                GridCell(
                    cell.row,
                    a,
                    cell.rowspan,
                    b - a,
                    (grid.xs[a], cell.bbox[1], grid.xs[b], cell.bbox[3]),
                    cell.open_top,
                    cell.open_bottom,
                    split_from=cell.bbox,
                )
                for a, b in zip(edges, edges[1:])
            )
    return out


def ruled_inside(grid: Grid) -> dict[GridCell, list[int]]:
    """The cells that span a column boundary the table rules in other rows (its header, the rows above or
    below), each with those boundaries (indices into ``grid.xs``): where a ruling may have been lost."""
    ruled = _ruled_rows(grid)
    out: dict[GridCell, list[int]] = {}
    for cell in grid.cells:
        inner = [b for b in range(cell.col + 1, cell.col + cell.colspan) if ruled[b] >= MIN_RULED_ROWS]
        if inner:
            out[cell] = inner
    return out


def is_remnant(x: float, w: float, h: float, height: float, lines: Iterable[float], dpi: float) -> bool:
    """Whether an ink component (left ``x``, width ``w``, height ``h``, in a cell inside ``height`` tall) is
    a piece of a broken ruling on one of the ``lines`` (x positions, same coordinates): thin, on the line,
    and shorter than a digit or about as tall as the cell."""
    if w > THIN * dpi or not (h < REMNANT * dpi or h >= 0.9 * height):
        return False
    centre = x + w / 2
    return any(abs(centre - at) <= TOL * dpi for at in lines)


def _ruled_rows(grid: Grid) -> list[int]:
    """For every column boundary: the rows in which it parts two cells."""
    owner: dict[tuple[int, int], int] = {}
    for i, cell in enumerate(grid.cells):
        for r in range(cell.row, cell.row + cell.rowspan):
            for c in range(cell.col, cell.col + cell.colspan):
                owner[(r, c)] = i
    counts = [0] * (grid.n_cols + 1)
    for b in range(1, grid.n_cols):
        counts[b] = sum(
            1
            for r in range(grid.n_rows)
            if (r, b - 1) in owner and (r, b) in owner and owner[(r, b - 1)] != owner[(r, b)]
        )
    return counts


def _clear_cuts(grid: Grid, cell: GridCell, inner: list[int], ink: np.ndarray, dpi: float) -> list[int] | None:
    """The boundaries among ``inner`` with clear paper on both sides, when every part they make holds
    text ink; None when there is no such cut or a part would be empty."""
    inset = max(int(round(INSET * dpi)), 2)
    x0, y0, x1, y1 = (int(round(v)) for v in cell.bbox)
    x0, y0 = max(x0 + inset, 0), max(y0 + inset, 0)
    x1, y1 = min(x1 - inset, ink.shape[1]), min(y1 - inset, ink.shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink[y0:y1, x0:x1], connectivity=8)
    lines = [grid.xs[b] - x0 for b in inner]
    boxes = [
        (float(x), float(x + w))
        for x, y, w, h, _a in stats[1:n]
        if _is_text(int(x), int(y), int(w), int(h), x1 - x0, y1 - y0, lines, dpi)
    ]
    if not boxes:
        return None
    clear = CLEAR * dpi
    cuts = [b for b, at in zip(inner, lines) if not any(a - clear < at < e + clear for a, e in boxes)]
    if not cuts:
        return None
    edges = [0.0, *(grid.xs[b] - x0 for b in cuts), float(x1 - x0) + 1]
    for left, right in zip(edges, edges[1:]):
        if not any(left <= (a + e) / 2 < right for a, e in boxes):
            return None
    return cuts


def _is_text(x: int, y: int, w: int, h: int, width: int, height: int, lines: list[float], dpi: float) -> bool:
    """Whether a component of a cell's inside is text: not a speck, not a ruling line left along the
    crop's edge, not a piece of a broken ruling on one of the boundaries looked at."""
    if w < SPECK * dpi and h < SPECK * dpi:
        return False
    thin = THIN * dpi
    on_edge = x == 0 or y == 0 or x + w == width or y + h == height
    if on_edge and ((h <= thin and w >= 0.5 * width) or (w <= thin and h >= 0.5 * height)):
        return False
    return not is_remnant(x, w, h, height, lines, dpi)
