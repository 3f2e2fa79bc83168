"""Ruling lines of a page image, and the bitmap-only refinements of the table grids made from them.

1. binarise: ink is darker than its neighbourhood (adaptive threshold) and darker than the page's
   Otsu threshold, so grey cell shading is not ink while text and lines are;
2. ruling lines (``ruling_segments``): morphological opening with long thin kernels keeps horizontal and
   vertical runs longer than any glyph stroke; each connected run is a segment (position, start, end).
   Thin rules broken by pinholes or scan-line dropouts: the runs found once gaps of a few pixels along
   the line are closed count where they continue a segment of the same line. The grids are built from
   these segments by the one grid builder (``service.pages.layout.table_grids``, on ``service.lattice``),
   with the tolerances below (TOL, GAP, MIN_TABLE_W, MIN_TABLE_H);
   toner streaks (``streak_free``): a photocopier's drum draws long thin lines in the copy's frame, so once the
   page is levelled they lean by the angle the sheet lay at on the glass, while printed rulings stand upright
   (or, on a curled page, bend together). A straight line leaning by more than TILT against the page's long
   vertical runs (one long run, or short pieces of a streak fading in and out along one line; horizontal lines
   are not tested for their lean: a curled sheet bends them near its side, several alike), or a
   long line running to the image's edge (through the margins, where no table's ruling goes), is a streak:
   its pixels are taken out of the line masks, except where it lies on an upright ruling it crosses (that
   ruling's own stretch is kept), and what is left is opened again;
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
# inches: runs at least this long are tested for their lean (shorter ones took real column rulings: r013 and r003
# table 4 at 0.5-1.0, r001 table 2 at 2.0; a toner streak runs most of the page)
STREAK_MIN = 6.0
TILT = 0.4  # degrees: a run leaning this much more than the page's other long runs of its direction is a streak
THICK = 0.04  # inches: a row of a vertical run at most this thick is one line (its centre is measured)
STEEPEST = 3.0  # degrees: the steepest lean looked for
SLOPE_STEP = 0.1  # degrees: leans tried
MAX_STREAKS = 8  # streaks looked for per page and direction
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
    """Horizontal and vertical ruling-line pixels of an ink mask."""
    scale = _Scale.at(dpi)
    return _runs(ink, scale.min_h, True, dpi), _runs(ink, scale.min_v, False, dpi)


def _runs(ink: np.ndarray, length: int, horizontal: bool, dpi: float = DPI) -> np.ndarray:
    """Pixels of straight runs at least ``length`` long in one direction, toner streaks taken out."""
    return streak_free(_morph(ink, length, horizontal, cv2.MORPH_OPEN), length, horizontal, dpi)


def streak_free(mask: np.ndarray, length: int, horizontal: bool, dpi: float = DPI) -> np.ndarray:
    """The runs of a line mask (``_morph`` opened, one direction, runs at least ``length`` long) without the
    toner streaks among them (``_streak_pixels``), opened again so that no short leftover counts."""
    clear = _streak_pixels(_components(mask, horizontal), horizontal, dpi)
    return mask if clear is None else _cleared(mask, clear, length, horizontal)


Components = tuple[int, np.ndarray, np.ndarray]  # count, labels, stats of a mask's connected pieces


def _components(mask: np.ndarray, horizontal: bool) -> Components:
    """The 8-connected pieces of a line mask, its horizontal runs turned upright (the mask transposed)."""
    work = np.ascontiguousarray(mask.T) if horizontal else mask
    n, labels, stats, _ = cv2.connectedComponentsWithStats(work, connectivity=8)
    return n, labels, stats


def _cleared(mask: np.ndarray, clear: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    out = mask.copy()
    out[clear] = 0
    return _morph(out, length, horizontal, cv2.MORPH_OPEN)


def _streak_pixels(components: Components, horizontal: bool, dpi: float) -> np.ndarray | None:
    """Where the toner streaks among a line mask's runs lie (True), or None where there is none.

    The page's usual lean is the median of the main lines of its long runs (STREAK_MIN); the upright lines
    of the long runs are rulings. In the vertical runs, the centres of every other thin piece of a row of a
    run vote for straight lines leaning by more than TILT against the usual lean: a line that STREAK_MIN of
    rows fit, over pieces of one long run or several short ones (a streak fading in and out), is a streak; so
    is a long run's line,
    leaning or not, that reaches the image's edge (EDGE) along its direction. Its pixels are those within
    its thickness of its line, less those of the upright lines (the rulings it crosses). ``components``: the
    mask's pieces (``_components``)."""
    n, labels, stats = components
    if n <= 1:
        return None
    least = STREAK_MIN * dpi
    ys_all: list[np.ndarray] = []
    cs_all: list[np.ndarray] = []
    ws_all: list[np.ndarray] = []
    protect = np.zeros(labels.shape, dtype=bool)
    main: list[float] = []
    uprights: list[tuple[int, list[Line]]] = []
    for i in range(1, n):
        rows, centre, count = _thin_runs(labels, stats[i], i, dpi)
        if stats[i, cv2.CC_STAT_HEIGHT] >= least:
            lines = _lines(rows, centre, count, least)
            if lines:
                main.append(lines[0][0])
            uprights.append((i, lines))
        ys_all.append(rows)
        cs_all.append(centre)
        ws_all.append(count)
    limit = float(np.tan(np.radians(TILT)))
    usual = _usual_lean(main, horizontal, limit)
    height, reach = labels.shape[0], EDGE * dpi
    edges: list[Line] = []
    if usual is None:
        return None
    ys = np.concatenate(ys_all).astype(np.float64)
    cs = np.concatenate(cs_all)
    ws = np.concatenate(ws_all)
    for i, lines in uprights:  # the rows of the rulings do not vote for streaks, and their pixels stay
        upright = [ln for ln in lines if abs(ln[0] - usual) <= limit and not _at_edge(ln, height, reach)]
        edges += [ln for ln in lines if _at_edge(ln, height, reach)]
        if not upright:
            continue
        x, y, w, h = (int(v) for v in stats[i, :4])
        crop = labels[y : y + h, x : x + w] == i
        rr = np.arange(y, y + h, dtype=np.float64)[:, None]
        cc = np.arange(x, x + w, dtype=np.float64)[None, :]
        near = np.zeros_like(crop)
        for slope, x0, thick, _, _ in upright:
            near |= np.abs(cc - (x0 + slope * rr)) <= thick / 2 + 1.0
            on = np.abs(cs - (x0 + slope * ys)) <= 1.5
            inside = (ys >= y) & (ys < y + h) & (cs >= x) & (cs < x + w)
            keep = ~(on & inside)
            ys, cs, ws = ys[keep], cs[keep], ws[keep]
        protect[y : y + h, x : x + w] |= crop & near
    # horizontal lines leaning alone are not told from a curled sheet's, bent near its side: only the upright
    # lines' leaning streaks are looked for (horizontal streaks running through the margins are found above)
    leaning = [] if horizontal else _leaning(ys, cs, ws, usual, limit, least)
    streaks = leaning + edges
    if not streaks:
        return None
    band = np.zeros(labels.shape, np.uint8)
    for slope, x0, thick, top, bottom in streaks:
        half = int(np.ceil(thick / 2 + 1.5))
        p0 = (int(round(x0 + slope * top)), int(top))
        p1 = (int(round(x0 + slope * bottom)), int(bottom))
        cv2.line(band, p0, p1, 255, thickness=2 * half + 1)
    clear = (band > 0) & ~protect
    return np.ascontiguousarray(clear.T) if horizontal else clear


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
    if not len(ys):
        return None
    best: tuple[float, float, int] | None = None
    for slope in slopes:
        off = np.rint(cs - slope * ys).astype(np.int64)
        low = int(off.min())
        votes = np.bincount(off - low)
        near = np.convolve(votes, np.ones(3, np.int64), mode="same")
        j = int(near.argmax())
        if best is None or near[j] > best[2]:
            best = (float(slope), float(j + low), int(near[j]))
    return best


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
    for horizontal in (True, False):
        length = scale.min_h if horizontal else scale.min_v
        runs = _morph(ink, length, horizontal, cv2.MORPH_OPEN)
        closed = _morph(_morph(ink, scale.bridge, horizontal, cv2.MORPH_CLOSE), length, horizontal, cv2.MORPH_OPEN)
        components = _components(closed, horizontal)
        clear = _streak_pixels(components, horizontal, dpi) if streaks else None
        if clear is not None:
            runs, closed = (_cleared(m, clear, length, horizontal) for m in (runs, closed))
            components = _components(closed, horizontal)
            found = clear if found is None else found | clear
        plain += _segments(runs, vertical=not horizontal)
        bridged += _boxes_segments(components[2], horizontal)
    return plain + _continuing(bridged, plain, scale), found


STREAK_PAD = 0.01  # inches: a streak's pixels are painted out this far beyond its found edge (its soft border)


def erase_streaks(gray: np.ndarray, streaks: np.ndarray | None, dpi: float = DPI) -> np.ndarray:
    """The page with the toner streaks painted the paper's colour (the rulings they cross were kept out of
    ``streaks``): a streak through a cell no longer reads as a digit (a 0 as 10). Print under the streak goes with
    it (a digit a streak runs along can be lost: photocopy family, 3 silent cells of 583 against 15 unerased)."""
    if streaks is None or not streaks.any():
        return gray
    pad = max(1, int(round(STREAK_PAD * dpi)))
    mask = cv2.dilate(streaks.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (2 * pad + 1, 2 * pad + 1)))
    out = gray.copy()
    out[mask > 0] = int(np.percentile(gray, 90))  # the paper
    return out


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
