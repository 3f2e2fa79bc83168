"""Ruling lines of a page image, and the bitmap-only refinements of the table grids made from them.

1. binarise: ink is darker than its neighbourhood (adaptive threshold) and darker than the page's
   Otsu threshold, so grey cell shading is not ink while text and lines are;
2. ruling lines (``ruling_segments``): morphological opening with long thin kernels keeps horizontal and
   vertical runs longer than any glyph stroke; each connected run is a segment (position, start, end).
   Thin rules broken by pinholes or scan-line dropouts: the runs found once gaps of a few pixels along
   the line are closed count where they continue a segment of the same line. The grids are built from
   these segments by the one grid builder (``service.pages.layout.table_grids``, on ``service.lattice``),
   with the tolerances below (TOL, GAP, MIN_TABLE_W, MIN_TABLE_H);
   toner streaks (``streak_free``, ``_streak_pixels``): a photocopier's drum draws long thin lines in the copy's
   frame, so once the page is levelled they lean by the angle the sheet lay at on the glass, while printed
   rulings stand upright (or, on a curled page, bend together); and they run the copier's length, past the
   table's frame into the margins and through the running text, where a printed ruling stops at its table. A
   line is a streak when it leans by more than TILT against the page's usual lean (the median of every run of
   LEAN_MIN; vertical lines, over one run or the pieces of a streak fading in and out; a curled sheet bends its
   horizontal lines near its side, several alike, so those are not judged by their lean alone), when it runs
   OVERHANG past the rulings of the other direction near it (leaning horizontal lines: OVERHANG_H; an upright
   line is cut only past its frame), or when it runs to the image's edge. Its pixels are taken out of the line
   masks, except where it lies on an upright ruling it crosses (that ruling's own rows, carried on to the ruling
   it stops at, are kept), and what is left is opened again. The OCR stage then takes the streaks out of the
   table cells (``erase_streaks``: the page divided by the streak's own darkening, so print under it stays);
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
# Toner streaks (``streak_free``): tolerances of the method, like the ones above (measured on the photocopy family)
LEAN_MIN = 1.0  # inches: runs at least this long have their lean measured (the page's usual lean is their median)
STREAK_MIN = 2.0  # inches: a leaning line at least this long (over one run or pieces of several) is a streak
TILT = 0.4  # degrees: a run leaning this much more than the page's other long runs of its direction is a streak
THICK = 0.04  # inches: a row of a vertical run at most this thick is one line (its centre is measured)
STEEPEST = 3.0  # degrees: the steepest lean looked for
SLOPE_STEP = 0.1  # degrees: leans tried
MAX_STREAKS = 8  # streaks looked for per page and direction
# A table's ruling stops at the table; a streak runs on past it (into the margins, through the running text):
REACH_V = 2.5  # inches: horizontal rulings this near a vertical line (left or right) are of its table (label
# columns spanning many rows leave a table's left ruling up to ~2.2 in from the next horizontal one)
REACH_H = 1.0  # inches: vertical rulings this near a horizontal line (above or below) are of its table
OVERHANG = 0.75  # inches: a line running this far past the rulings of its table is a streak (printed: <= 0.6)
OVERHANG_H = 0.15  # inches: ... a leaning horizontal line this far (printed horizontal rulings stop at <= 0.01)
EDGE = 0.05  # inches: a long run reaching this near the image's edge along its direction runs through the margins


@dataclass(frozen=True)
class _Scale:
    tol: float
    gap: float
    bridge: int
    min_h: int
    min_v: int
    dpi: float

    @classmethod
    def at(cls, dpi: float) -> _Scale:
        return cls(
            tol=max(TOL * dpi, 2.0),
            gap=max(GAP * dpi, 3.0),
            bridge=max(int(round(BRIDGE * dpi)), 2),
            min_h=max(int(MIN_H_LINE * dpi), 8),
            min_v=max(int(MIN_V_LINE * dpi), 6),
            dpi=dpi,
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
    """Horizontal and vertical ruling-line pixels of an ink mask (straight runs longer than any glyph stroke, the
    toner streaks among them taken out)."""
    scale = _Scale.at(dpi)
    h = _morph(ink, scale.min_h, True, cv2.MORPH_OPEN)
    v = _morph(ink, scale.min_v, False, cv2.MORPH_OPEN)
    h_free = streak_free(h, scale.min_h, True, dpi, across=v)
    return h_free, streak_free(v, scale.min_v, False, dpi, across=h_free)


def streak_free(
    mask: np.ndarray, length: int, horizontal: bool, dpi: float = DPI, across: np.ndarray | None = None
) -> np.ndarray:
    """The runs of a line mask (``_morph`` opened, one direction, runs at least ``length`` long) without the
    toner streaks among them (``_streak_pixels``), opened again so that no short leftover counts. ``across``: the
    runs of the other direction (a line running past its table's rulings is a streak); None: not looked at."""
    turned = None if across is None else _upright(across, horizontal)
    clear = _streak_pixels(_components(mask, horizontal), horizontal, dpi, turned)
    return mask if clear is None else _cleared(mask, clear, length, horizontal)


Components = tuple[int, np.ndarray, np.ndarray]  # count, labels, stats of a mask's connected pieces


def _upright(mask: np.ndarray, horizontal: bool) -> np.ndarray:
    """A mask in the frame in which the lines looked at stand upright (transposed when they are horizontal)."""
    return np.ascontiguousarray(mask.T) if horizontal else mask


def _components(mask: np.ndarray, horizontal: bool) -> Components:
    """The 8-connected pieces of a line mask, its horizontal runs turned upright (the mask transposed)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(_upright(mask, horizontal), connectivity=8)
    return n, labels, stats


def _cleared(mask: np.ndarray, clear: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    out = mask.copy()
    out[clear] = 0
    return _morph(out, length, horizontal, cv2.MORPH_OPEN)


def _streak_pixels(
    components: Components,
    horizontal: bool,
    dpi: float,
    across: np.ndarray | None = None,
    found: list[Line] | None = None,
) -> np.ndarray | None:
    """Where the toner streaks among a line mask's runs lie (True), or None where there is none.

    Each run at least LEAN_MIN long is fit by straight lines (``_lines``); the page's usual lean is the median of
    their main lines (one vote a run: a table has more rulings than a copy has streaks), and their lines within
    TILT of it are upright: rulings, or a streak lying as the page does. A line is a streak when

    - it leans by more than TILT against the usual lean and STREAK_MIN of rows fit it, over pieces of one run or
      several (a streak fading in and out); the rows of the upright lines do not vote (vertical runs only: a curled
      sheet bends its horizontal lines near its side, several alike);
    - it runs OVERHANG past the rulings of its table (``_overhang``: those of ``across``, the other direction's
      runs in the same upright frame, within REACH of it), into the margins or through the running text: a
      table's ruling stops at its frame. An upright line is a streak only past the frame (a ruling may lie under
      it there);
    - it is STREAK_MIN long and reaches the image's edge along its direction (EDGE).

    Its pixels are those within its thickness of its line, less those of the upright lines (the rulings it
    crosses). ``components``: the mask's pieces (``_components``); ``found``, when given, gets the streaks' lines
    (in the upright frame)."""
    n, labels, stats = components
    if n <= 1:
        return None
    least, shortest = STREAK_MIN * dpi, LEAN_MIN * dpi
    ys_all: list[np.ndarray] = []
    cs_all: list[np.ndarray] = []
    ws_all: list[np.ndarray] = []
    protect = np.zeros(labels.shape, dtype=bool)
    main: list[float] = []
    fitted: list[tuple[int, list[Line]]] = []
    for i in range(1, n):
        rows, centre, count = _thin_runs(labels, stats[i], i, dpi)
        if stats[i, cv2.CC_STAT_HEIGHT] >= shortest:
            lines = _lines(rows, centre, count, shortest)
            if lines:
                main.append(lines[0][0])
            fitted.append((i, lines))
        ys_all.append(rows)
        cs_all.append(centre)
        ws_all.append(count)
    limit = float(np.tan(np.radians(TILT)))
    usual = _usual_lean(main, horizontal, limit)
    height, reach = labels.shape[0], EDGE * dpi
    if usual is None:
        return None
    near = _near_rulings(across, (REACH_H if horizontal else REACH_V) * dpi)
    beyond = np.zeros(labels.shape, np.uint8)
    streaks: list[Line] = []
    ys = np.concatenate(ys_all).astype(np.float64)
    cs = np.concatenate(cs_all)
    ws = np.concatenate(ws_all)
    for i, lines in fitted:  # the rows of the upright lines do not vote for streaks, and their pixels stay
        upright: list[Line] = []
        for ln in lines:
            lean = abs(ln[0] - usual) > limit
            long = ln[4] - ln[3] >= least
            frame = _frame(ln, near, horizontal)
            most = (OVERHANG_H if horizontal and lean else OVERHANG) * dpi
            past = frame is not None and max(frame[0] - ln[3], ln[4] - frame[1]) >= most
            if (long and _at_edge(ln, height, reach)) or (lean and past):
                streaks.append(ln)
            elif not lean:
                upright.append(ln)
                if past and frame is not None:  # its stretches past the frame
                    for top, bottom in ((ln[3], frame[0]), (frame[1], ln[4])):
                        if bottom - top >= OVERHANG * dpi:
                            _draw(beyond, (ln[0], ln[1], ln[2], top, bottom))
        if not upright:
            continue
        x, y, w, h = (int(v) for v in stats[i, :4])
        crop = labels[y : y + h, x : x + w] == i
        rr = np.arange(y, y + h, dtype=np.float64)[:, None]
        cc = np.arange(x, x + w, dtype=np.float64)[None, :]
        band = np.zeros_like(crop)
        others = [ln for ln in lines if ln not in upright]
        for line in upright:  # its own rows only (a streak crossing its line past its end is no ruling)
            slope, x0, thick, _, _ = line
            top, bottom = _ruled_ends(line, others, across, labels, i, dpi)
            band |= (np.abs(cc - (x0 + slope * rr)) <= thick / 2 + 1.0) & (rr >= top) & (rr <= bottom)
            on = np.abs(cs - (x0 + slope * ys)) <= 1.5
            inside = (ys >= y) & (ys < y + h) & (cs >= x) & (cs < x + w)
            keep = ~(on & inside)
            ys, cs, ws = ys[keep], cs[keep], ws[keep]
        protect[y : y + h, x : x + w] |= crop & band
    # horizontal lines leaning alone are not told from a curled sheet's, bent near its side: only the upright
    # lines' leaning streaks are looked for (horizontal streaks running past their tables are found above)
    if not horizontal:
        streaks += _leaning(ys, cs, ws, usual, limit, least)
    if found is not None:
        found += streaks
    if not streaks and not beyond.any():
        return None
    drawn = np.zeros(labels.shape, np.uint8)
    for line in streaks:
        _draw(drawn, line)
    clear = ((drawn > 0) & ~protect) | ((beyond > 0) & (labels > 0))
    return np.ascontiguousarray(clear.T) if horizontal else clear


def _ruled_ends(
    line: Line, others: list[Line], across: np.ndarray | None, labels: np.ndarray, label: int, dpi: float
) -> tuple[float, float]:
    """The first and last row of an upright line's ruling: the rows its centres fit, within TOL. Where that is not at
    a ruling of the other direction (a streak crossing the ruling near its end hides the ruling's last rows from the
    fit), it is carried on along the run's pixels on the line (gaps up to GAP) to the last row where no other line
    of the run (``others``: a streak) lies on it, and from there to the ruling of the other direction it stops at."""
    _, _, thick, top, bottom = line
    tol = TOL * dpi
    if across is None:
        return top - tol, bottom + tol
    slope, x0 = line[0], line[1]
    t, half, gap = max(int(tol), 2), int(np.ceil(thick / 2 + 1.0)), GAP * dpi

    def at(row: int) -> int:
        return int(round(x0 + slope * row))

    def meets(row: int) -> bool:
        c = at(row)
        return bool(across[max(row - t, 0) : row + t + 1, max(c - t, 0) : c + t + 1].any())

    def alone(row: int) -> bool:
        x = x0 + slope * row
        return all(abs(o[1] + o[0] * row - x) > (o[2] + thick) / 2 + 2.0 for o in others)

    def carried(end: int, step: int) -> float:
        if meets(end):
            return end + step * tol
        clear, row, seen = end, end, end
        while 0 <= row + step < labels.shape[0] and abs(row - seen) <= gap:
            row += step
            c = at(row)
            if (labels[row, max(c - half, 0) : c + half + 1] == label).any():
                seen = row
                if alone(row):
                    clear = row
        for k in range(int(gap) + 1):  # on to the ruling it stops at
            if 0 <= clear + step * k < labels.shape[0] and meets(clear + step * k):
                return clear + step * (k + tol)
        return clear + step * tol

    return carried(int(top), -1), carried(int(bottom), 1)


TRACE = 0.25  # inches: a streak is followed past where its runs end by stretches this long ...
TRACE_INK = 0.2  # ... while this share of a stretch's rows has ink on its line (a faint streak, binarised in dots)


def _traced(lines: list[Line], ink: np.ndarray, horizontal: bool, dpi: float) -> np.ndarray:
    """The streaks' lines followed on past the rows their runs cover, both ways, stretch by stretch (TRACE), while
    the ink mask has ink on the line in TRACE_INK of a stretch's rows (one stretch without may be passed): where
    the streak fades out of the runs but still darkens the page, and half a stretch on. Their pixels (as ``_draw``
    paints them), in the image's frame: what ``erase_streaks`` lightens (where no streak is, it changes nothing)."""
    work = _upright(ink, horizontal)
    height, width = work.shape
    step = max(int(TRACE * dpi), 8)
    band = np.zeros(work.shape, np.uint8)
    for slope, x0, thick, top, bottom in lines:
        rows = np.arange(height)
        cols = np.rint(x0 + slope * rows).astype(np.int64)
        hit = np.zeros(height, bool)
        for dx in (-1, 0, 1):
            c = cols + dx
            ok = (c >= 0) & (c < width)
            hit[ok] |= work[rows[ok], c[ok]] > 0
        ends = [top, bottom]
        for k, direction in ((0, -1), (1, 1)):
            at, misses = int(ends[k]), 0
            while misses < 2:
                a, b = (at - step, at) if direction < 0 else (at, at + step)
                if a < 0 or b > height:
                    break
                if hit[a:b].mean() >= TRACE_INK:
                    ends[k], misses = float(a if direction < 0 else b), 0
                else:
                    misses += 1
                at = a if direction < 0 else b
        margin = step / 2  # and a little on: where its last rows fade (a stub left of it reads as a 1)
        _draw(band, (slope, x0, thick, max(ends[0] - margin, 0.0), min(ends[1] + margin, height - 1.0)))
    mask = band > 0
    return np.ascontiguousarray(mask.T) if horizontal else mask


def _draw(band: np.ndarray, line: Line) -> None:
    """Paint a line's pixels (within its thickness and a pixel and a half) between its first and last row."""
    slope, x0, thick, top, bottom = line
    half = int(np.ceil(thick / 2 + 1.5))
    p0 = (int(round(x0 + slope * top)), int(top))
    p1 = (int(round(x0 + slope * bottom)), int(bottom))
    cv2.line(band, p0, p1, 255, thickness=2 * half + 1)


NEAR_STEP = 8  # pixels: the columns are looked at in groups this wide (``_near_rulings``: a reach is hundreds)


def _near_rulings(across: np.ndarray | None, reach: float) -> np.ndarray | None:
    """Where a ruling of the other direction lies within ``reach`` across (the lines stand upright: left or right),
    by groups of NEAR_STEP columns (index a column by ``col // NEAR_STEP``)."""
    if across is None:
        return None
    h, w = across.shape
    coarse = cv2.resize(across, (-(-w // NEAR_STEP), h), interpolation=cv2.INTER_AREA)  # any ink in the group: > 0
    width = 2 * int(np.ceil(reach / NEAR_STEP)) + 1
    return cv2.dilate(coarse, cv2.getStructuringElement(cv2.MORPH_RECT, (width, 1))) > 0


def _frame(line: Line, near: np.ndarray | None, horizontal: bool) -> tuple[float, float] | None:
    """The first and last row along a line's path (over the whole image) with a ruling of the other direction near
    it: its table's frame. A vertical line with none near is no table's (its frame is empty: it runs past it from
    end to end); a horizontal one with none is left alone (a 三线表's rules have no vertical ones). None: not
    looked at."""
    if near is None:
        return None
    slope, x0 = line[0], line[1]
    rows = np.arange(near.shape[0])
    cols = np.clip(np.rint(x0 + slope * rows).astype(np.int64) // NEAR_STEP, 0, near.shape[1] - 1)
    hit = np.flatnonzero(near[rows, cols])
    if not len(hit):
        return None if horizontal else (float(line[4]), float(line[3]))
    return float(hit[0]), float(hit[-1])


def _at_edge(line: Line, height: int, reach: float) -> bool:
    """Whether a line reaches the image's edge along its direction: a streak drawn over the whole copy, through
    its margins (a table's ruling stops at the table, inside them)."""
    return line[3] <= reach or line[4] >= height - 1 - reach


def _usual_lean(main: list[float], horizontal: bool, limit: float) -> float | None:
    """The lean of the page's rulings in one direction: the median of the long runs' main lines, one vote a
    run (a table has more rulings than a copy has streaks; a levelled curled page may leave its upright lines
    leaning a little, all alike). None (no streak looked for) for horizontal runs that disagree by more than
    ``limit`` between their quartiles: a curled page, whose lines bend."""
    if not main:
        return 0.0
    q1, med, q3 = (float(v) for v in np.percentile(main, (25, 50, 75)))
    return None if horizontal and q3 - q1 > limit else med


def _thin_runs(
    labels: np.ndarray, stat: np.ndarray, label: int, dpi: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The thin pieces of a vertical run, row by row (a row may cross two lines of the run: a ruling and a
    streak beside it): their rows, centres (page pixels) and widths."""
    x, y, w, h = (int(v) for v in stat[:4])
    crop = (labels[y : y + h, x : x + w] == label).astype(np.int8)
    edges = np.diff(np.pad(crop, ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    width = ends - starts
    thin = width <= max(THICK * dpi, 2.0)
    centre = (starts + ends - 1) / 2.0 + x
    return rows[thin] + y, centre[thin], width[thin].astype(np.float64)


def _lines(rows: np.ndarray, centre: np.ndarray, count: np.ndarray, least: float) -> list[Line]:
    """The straight lines of one long run's thin rows (one, or a ruling and a streak crossing it), most rows
    first: the slope (within STEEPEST) and offset that the most centres fit within a pixel, then again among
    the rows left, while at least ``least`` rows fit a line."""
    slopes = np.tan(np.radians(np.arange(-STEEPEST, STEEPEST + 1e-9, SLOPE_STEP)))
    out: list[Line] = []
    while len(rows) >= least:
        found = _best_line(rows.astype(np.float64), centre, slopes)
        if found is None or found[2] < least:
            break
        slope, offset, fits = _refit(rows.astype(np.float64), centre, found)
        out.append((slope, offset, float(np.median(count[fits])), float(rows[fits].min()), float(rows[fits].max())))
        rows, centre, count = rows[~fits], centre[~fits], count[~fits]
    return out


def _best_line(ys: np.ndarray, cs: np.ndarray, slopes: np.ndarray) -> tuple[float, float, int] | None:
    """The slope among ``slopes`` and offset (x = offset + slope * y) that the most points fit within a pixel
    either way, and how many do."""
    if not len(ys) or not len(slopes):
        return None
    off = np.rint(cs[None, :] - slopes[:, None] * ys[None, :]).astype(np.int64)  # slope x point
    low = int(off.min())
    span = int(off.max()) - low + 3
    votes = np.bincount((np.arange(len(slopes))[:, None] * span + off - low + 1).ravel(), minlength=len(slopes) * span)
    votes = votes.reshape(len(slopes), span)
    near = votes.copy()
    near[:, 1:] += votes[:, :-1]
    near[:, :-1] += votes[:, 1:]
    k, j = np.unravel_index(int(near.argmax()), near.shape)
    return float(slopes[k]), float(j - 1 + low), int(near[k, j])


def _refit(ys: np.ndarray, cs: np.ndarray, found: tuple[float, float, int]) -> tuple[float, float, np.ndarray]:
    """The line through the points within a pixel and a half of a voted line, fitted by least squares (the
    votes' slopes are steps apart, and a line two pixels thick fits several of them): slope, offset and which
    points lie within a pixel and a half of it."""
    slope, offset, _ = found
    fits = np.abs(cs - slope * ys - offset) <= 1.5
    if np.count_nonzero(fits) >= 2 and np.ptp(ys[fits]) > 0:
        slope, offset = (float(v) for v in np.polyfit(ys[fits], cs[fits], 1))
        fits = np.abs(cs - slope * ys - offset) <= 1.5
    return slope, offset, fits


def _leaning(
    ys: np.ndarray, cs: np.ndarray, ws: np.ndarray, usual: float, limit: float, least: float
) -> list[tuple[float, float, float, float, float]]:
    """Straight lines leaning more than ``limit`` against ``usual`` that at least ``least`` of the points fit
    (up to MAX_STREAKS): slope, offset, thickness and the first and last row they cover."""
    steps = np.tan(np.radians(np.arange(-STEEPEST, STEEPEST + 1e-9, SLOPE_STEP)))
    slopes = steps[np.abs(steps - usual) > limit]
    out: list[tuple[float, float, float, float, float]] = []
    while len(ys) >= least and len(out) < MAX_STREAKS:
        found = _best_line(ys, cs, slopes)
        if found is None or found[2] < least:
            break
        slope, offset, fits = _refit(ys, cs, found)
        if abs(slope - usual) > limit and np.count_nonzero(fits) >= least:
            out.append((slope, offset, float(np.median(ws[fits])), float(ys[fits].min()), float(ys[fits].max())))
        ys, cs, ws = ys[~fits], cs[~fits], ws[~fits]
    return out


Line = tuple[float, float, float, float, float]  # a straight line in a vertical run: x = x0 + slope * y; its
# thickness, first and last row


def _morph(ink: np.ndarray, length: int, horizontal: bool, op: int) -> np.ndarray:
    shape = (length, 1) if horizontal else (1, length)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, shape)
    return cv2.morphologyEx(ink, op, kernel)


def ruling_segments(ink: np.ndarray, dpi: float = DPI, streaks: bool = True) -> list[Segment]:
    """Ruling segments of an ink mask: the unbroken runs, and the runs found once small gaps are closed where
    they continue a ruling segment (closing alone would also join the strokes of neighbouring glyphs). Pieces
    of one line are not joined here: the grid builder joins them (``service.pages.layout.table_grids``).
    Toner streaks are taken out of both (found once, in the closed runs, where they are least broken);
    ``streaks=False`` keeps every straight run."""
    return rulings_and_streaks(ink, dpi, streaks)[0]


def rulings_and_streaks(
    ink: np.ndarray, dpi: float = DPI, streaks: bool = True
) -> tuple[list[Segment], np.ndarray | None]:
    """``ruling_segments`` and where the toner streaks it took out lie (a boolean mask of the image; None when
    there is none): the OCR stage paints them out of the page before the cells are read (``erase_streaks``)."""
    scale = _Scale.at(dpi)
    plain: list[Segment] = []
    bridged: list[Segment] = []
    found: np.ndarray | None = None
    closed_runs = {
        horizontal: _morph(
            _morph(ink, scale.bridge, horizontal, cv2.MORPH_CLOSE),
            scale.min_h if horizontal else scale.min_v,
            horizontal,
            cv2.MORPH_OPEN,
        )
        for horizontal in (True, False)
    }
    for horizontal in (True, False):  # the horizontal streaks first: the vertical lines' frames are made without them
        length = scale.min_h if horizontal else scale.min_v
        runs = _morph(ink, length, horizontal, cv2.MORPH_OPEN)
        closed = closed_runs[horizontal]
        components = _components(closed, horizontal)
        across = _upright(closed_runs[not horizontal], horizontal)
        lines: list[Line] = []
        clear = _streak_pixels(components, horizontal, dpi, across, lines) if streaks else None
        if clear is not None:
            runs, closed = (_cleared(m, clear, length, horizontal) for m in (runs, closed))
            closed_runs[horizontal] = closed
            components = _components(closed, horizontal)
            traced = clear | _traced(lines, ink, horizontal, dpi)
            found = traced if found is None else found | traced
        plain += _segments(runs, vertical=not horizontal)
        bridged += _boxes_segments(components[2], horizontal)
    return plain + _continuing(bridged, plain, scale), found


STREAK_PAD = 0.01  # inches: a streak's pixels are taken out this far beyond its found edge (its soft border)
SPLIT = 0.1  # inches: the streaks' pixels running this far up or across are a vertical or a horizontal streak's
PAPER_NEAR = 0.03  # inches: the paper beside a streak is the brightest pixel this near (a streak is thinner)
GRAIN = 2  # pixels: a streak's darkening is taken as the darkest of 2 * GRAIN + 1 pixels along it (noise and JPEG)
PRINT = 0.2  # a pixel darker than the streak's own darkening by this share is print under or beside it
SURE = 0.05  # a streak's darkening is taken this much darker than measured (what noise leaves of it is no ink)
ALONG = 0.15  # inches: a streak's own darkening is the lightest this near along it (print under it is darker)


def erase_streaks(gray: np.ndarray, streaks: np.ndarray | None, dpi: float = DPI) -> np.ndarray:
    """The page with the toner streaks taken out (the rulings they cross were kept out of ``streaks``): a streak
    through a cell no longer reads as a digit (a 0 as 10), while print under it stays. A streak darkens what it
    lies on by a factor (toner over paper, slowly varying along it): its pixels are divided by its own darkening,
    the lightest of their darkness against the paper beside the streak within ALONG along it, where no print lies
    under it; paper under the streak comes back as paper, a digit's stroke as the stroke (``_lighten``)."""
    if streaks is None or not streaks.any():
        return gray
    pad = max(1, int(round(STREAK_PAD * dpi)))
    mask = cv2.dilate(streaks.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (2 * pad + 1, 2 * pad + 1)))
    near, along = max(int(round(PAPER_NEAR * dpi)), 3), max(int(round(ALONG * dpi)), 5)
    margin = near + along
    out = gray.copy()
    split = max(int(round(SPLIT * dpi)), 9)
    upright = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, split)))
    level = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (split, 1)))
    rest = np.where((upright > 0) | (level > 0), 0, mask).astype(np.uint8)
    for part in (upright, level, rest):  # the vertical and the horizontal streaks apart (where they cross: both)
        n, _, stats, _ = cv2.connectedComponentsWithStats(part, connectivity=8)
        for x, y, w, h, _area in stats[1:n]:
            x0, y0 = max(x - margin, 0), max(y - margin, 0)
            x1, y1 = min(x + w + margin, gray.shape[1]), min(y + h + margin, gray.shape[0])
            _lighten(out[y0:y1, x0:x1], gray[y0:y1, x0:x1], part[y0:y1, x0:x1] > 0, near, along)
    return out


def _lighten(out: np.ndarray, gray: np.ndarray, mask: np.ndarray, near: int, along: int) -> None:
    """Take a crop's streak out of its pixels (``mask``; see ``erase_streaks``), in place. Worked on with the streak
    upright (the crop turned when its mask is wider than tall, then sheared by the streak's lean, rounded to whole
    pixels): each pixel's ratio to the paper beside the streak; a column's darkening, the lightest of its ratios
    within ALONG along it either way (the darkest of 2 * GRAIN + 1 first: not the noise), or, where one way sees
    only paper and the other the streak's own darkening (its end), that; the streak's, its darkest column's.
    In the streak's columns (darkened by more than PRINT, and one beside: its edge moves) a pixel darker than the
    streak by more than PRINT is print: it is divided by its column's darkening (a digit's stroke under the streak
    comes back); any other there is the streak's: paper. Beside them, a pixel is divided by its column's (print
    beside the streak stays)."""
    paper = cv2.dilate(gray, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * near + 1, 2 * near + 1))).astype(np.float32)
    ys, xs = np.nonzero(mask)
    turn = bool(np.ptp(ys) < np.ptp(xs))
    g, p, m = (a.T if turn else a for a in (gray.astype(np.float32), paper, mask))
    rows, cols = (xs, ys) if turn else (ys, xs)
    slope = float(np.polyfit(rows, cols, 1)[0]) if np.ptp(rows) > 0 else 0.0
    shift = np.rint(slope * (np.arange(g.shape[0]) - rows.mean())).astype(np.int64)
    at = np.clip(np.arange(g.shape[1])[None, :] + shift[:, None], 0, g.shape[1] - 1)  # sheared column -> column
    r = np.arange(g.shape[0])[:, None]
    inside = m[r, at]
    ratio = np.where(inside, (g / np.maximum(p, 1.0))[r, at], 0.0).astype(np.float32)
    rect = cv2.MORPH_RECT  # sizes (width, height)
    grained = cv2.erode(ratio, cv2.getStructuringElement(rect, (1, 2 * GRAIN + 1)))
    window = cv2.getStructuringElement(rect, (1, along + 1))
    before, after = (cv2.dilate(grained, window, anchor=(0, a)) for a in (along, 0))  # up to ALONG each way
    lighter, darker = np.maximum(before, after), np.minimum(before, after)
    level = lighter[inside & (lighter < 1.0 - PRINT)]  # the streak's own darkening, where both sides see it
    if level.size:  # the darker side where that is the streak's (its end: paper past it), not print (darker still)
        ends = (lighter >= 1.0 - PRINT) & (np.abs(darker - float(np.median(level))) <= PRINT)
        lighter = np.where(ends, darker, lighter)
    column = np.maximum(lighter - SURE, 0.05)
    streak = np.where(inside, column, np.inf).min(axis=1, keepdims=True)
    darkened = (column < 1.0 - PRINT).astype(np.uint8)  # the streak's columns, and one beside (its edge moves)
    foot = cv2.dilate(darkened, cv2.getStructuringElement(rect, (3, 1))) > 0
    printed = ratio < streak * (1.0 - PRINT)
    value = np.where(foot, np.where(printed, ratio / column, 1.0), np.minimum(ratio / column, 1.0))
    result = np.ones_like(g)
    result[r, at] = value
    result = result.T if turn else result
    out[mask] = np.clip(result[mask] * paper[mask], 0.0, paper[mask]).astype(np.uint8)


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


def _boxes_segments(stats: np.ndarray, horizontal: bool) -> list[Segment]:
    """The segments of pieces found upright (``_components``): a horizontal run's box turned back."""
    boxes = stats[1:, [1, 0, 3, 2, 4]] if horizontal else stats[1:]
    return _box_segments(boxes, vertical=not horizontal)


def _segments(mask: np.ndarray, vertical: bool) -> list[Segment]:
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return _box_segments(stats[1:n], vertical)


def _box_segments(stats: np.ndarray, vertical: bool) -> list[Segment]:
    out: list[Segment] = []
    for x, y, w, h, _area in stats:
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
