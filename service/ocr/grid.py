"""Table grids of a page image from its ruling lines (bordered tables, the norm in these reports).

1. binarise: ink is darker than its neighbourhood (adaptive threshold) and darker than the page's
   Otsu threshold, so grey cell shading is not ink while text and lines are;
2. ruling lines: morphological opening with long thin kernels keeps horizontal and vertical runs
   longer than any glyph stroke; each connected run is a segment (position, start, end). Thin rules
   broken by pinholes or scan-line dropouts: the runs found once gaps of a few pixels along the line
   are closed count where they continue a segment of the same line; pieces on the same line with
   small gaps (broken or dashed lines) are joined;
3. tables: segments that touch form a table; its column and row boundaries are the clustered segment
   positions, plus an open outer edge where several perpendicular lines end together (a table cut by
   a page break has no closing line);
4. cells: neighbouring grid slots not separated by a ruling line (covered over at least half of their
   common edge) form one spanning cell;
5. lost rulings (``lost_rulings``, used by ``read_cells.read_tables``): a column border faded or broken
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

from service.lattice import boundaries, cluster, covered, merge_slots, nearest

DPI = 200
# In inches, scaled by dpi:
MIN_H_LINE = 0.25  # shortest horizontal ruling segment kept (longer than glyph strokes of 16 pt text)
MIN_V_LINE = 0.18  # shortest vertical ruling segment kept (shorter than the lowest table row)
TOL = 0.03  # lines closer than this are one boundary; segments closer than this touch
GAP = 0.06  # gap bridged between pieces of one broken or dashed line
BRIDGE = 0.025  # gaps shorter than this (pinholes, scan-line dropouts) are closed along a broken line
MIN_TABLE_W = 0.5
MIN_TABLE_H = 0.2
# A lost ruling (``lost_rulings``):
MIN_RULED_ROWS = 1  # a column boundary the table rules (parts two cells) in this many rows is one of its columns
CLEAR = 0.025  # inches of paper (no text ink) on each side of where the lost ruling ran
INSET = 0.025  # inches cut from each side of a cell before its ink is looked at (its own ruling lines)
SPECK = 0.02  # inches: ink smaller than this both ways is noise
THIN = 0.03  # inches: a vertical piece this thin on the lost ruling's line ...
REMNANT = 0.06  # ... and shorter than this (or about as tall as the cell) is what is left of the ruling


@dataclass(slots=True)
class Segment:
    """An axis-aligned ruling segment: pos is y (horizontal) or x (vertical); start..end along it."""

    vertical: bool
    pos: float
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class GridCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    bbox: tuple[float, float, float, float]  # x0, y0, x1, y1: centres of the bounding ruling lines
    open_top: bool = False  # no ruling line above (the table continues from the previous page)
    open_bottom: bool = False  # no ruling line below (the table continues on the next page)
    # a part of a cell parted by a lost ruling (``lost_rulings``): the box of the cell as the lines drew it
    split_from: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Grid:
    """One table: boundaries and cells (each at its top-left slot, with spans)."""

    xs: tuple[float, ...]  # column boundaries, left to right
    ys: tuple[float, ...]  # row boundaries, top to bottom
    cells: tuple[GridCell, ...]

    @property
    def n_rows(self) -> int:
        return len(self.ys) - 1

    @property
    def n_cols(self) -> int:
        return len(self.xs) - 1

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.xs[0], self.ys[0], self.xs[-1], self.ys[-1])

    def with_cells(self, cells: Iterable[GridCell]) -> Grid:
        """The same lattice with other cells (a merged cell replaced by its parts)."""
        return Grid(self.xs, self.ys, tuple(cells))


@dataclass(frozen=True)
class _Scale:
    tol: float
    gap: float
    bridge: int
    min_h: int
    min_v: int
    min_w: float
    min_h_table: float

    @classmethod
    def at(cls, dpi: float) -> _Scale:
        return cls(
            tol=max(TOL * dpi, 2.0),
            gap=max(GAP * dpi, 3.0),
            bridge=max(int(round(BRIDGE * dpi)), 2),
            min_h=max(int(MIN_H_LINE * dpi), 8),
            min_v=max(int(MIN_V_LINE * dpi), 6),
            min_w=MIN_TABLE_W * dpi,
            min_h_table=MIN_TABLE_H * dpi,
        )


def find_grids(gray: np.ndarray, dpi: float = DPI) -> list[Grid]:
    """Every ruled table of a grayscale page image, top to bottom."""
    scale = _Scale.at(dpi)
    segments = ruling_segments(binarize(gray), scale)
    grids = [g for group in _connected(segments, scale.tol) if (g := _grid(group, scale)) is not None]
    return sorted(grids, key=lambda g: (g.ys[0], g.xs[0]))


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


def ruling_segments(ink: np.ndarray, scale: _Scale) -> list[Segment]:
    """Ruling segments: the unbroken runs, and the runs found once small gaps are closed where they
    continue a ruling segment (closing alone would also join the strokes of neighbouring glyphs)."""
    plain: list[Segment] = []
    bridged: list[Segment] = []
    for horizontal in (True, False):
        length = scale.min_h if horizontal else scale.min_v
        plain += _segments(_runs(ink, length, horizontal), vertical=not horizontal)
        bridged += _segments(_bridged_runs(ink, scale, horizontal), vertical=not horizontal)
    return _join_collinear(plain + _continuing(bridged, plain, scale), scale)


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


def _join_collinear(segs: list[Segment], scale: _Scale) -> list[Segment]:
    """One segment for pieces on the same line that overlap or nearly touch (broken or dashed lines)."""
    out: list[Segment] = []
    for vertical in (False, True):
        same = sorted((s for s in segs if s.vertical == vertical), key=lambda s: s.pos)
        line: list[Segment] = []
        for seg in same:
            if line and seg.pos - line[-1].pos > scale.tol:
                out += _join_pieces(line, scale.gap)
                line = []
            line.append(seg)
        out += _join_pieces(line, scale.gap)
    return out


def _join_pieces(line: list[Segment], gap: float) -> list[Segment]:
    out: list[Segment] = []
    for seg in sorted(line, key=lambda s: s.start):
        last = out[-1] if out else None
        if last is not None and seg.start <= last.end + gap:
            weight = last.length + seg.length
            if weight > 0:
                last.pos = (last.pos * last.length + seg.pos * seg.length) / weight
            last.end = max(last.end, seg.end)
        else:
            out.append(Segment(seg.vertical, seg.pos, seg.start, seg.end))
    return out


# ---------------------------------------------------------------- tables


def _connected(segs: list[Segment], tol: float) -> list[list[Segment]]:
    parent = list(range(len(segs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(segs):
        for j in range(i + 1, len(segs)):
            if _touch(a, segs[j], tol):
                parent[find(i)] = find(j)
    groups: dict[int, list[Segment]] = {}
    for i, seg in enumerate(segs):
        groups.setdefault(find(i), []).append(seg)
    return list(groups.values())


def _touch(a: Segment, b: Segment, tol: float) -> bool:
    if a.vertical == b.vertical:
        return abs(a.pos - b.pos) <= tol and a.start <= b.end + tol and b.start <= a.end + tol
    return a.start - tol <= b.pos <= a.end + tol and b.start - tol <= a.pos <= b.end + tol


def _grid(segs: list[Segment], scale: _Scale) -> Grid | None:
    hs = [s for s in segs if not s.vertical]
    vs = [s for s in segs if s.vertical]
    if not hs or not vs:
        return None
    xs = boundaries([s.pos for s in vs], [e for s in hs for e in (s.start, s.end)], scale.tol)
    ys = boundaries([s.pos for s in hs], [e for s in vs for e in (s.start, s.end)], scale.tol)
    if len(xs) < 2 or len(ys) < 2 or xs[-1] - xs[0] < scale.min_w or ys[-1] - ys[0] < scale.min_h_table:
        return None
    vcover, hcover = _coverage(vs, xs, scale.tol), _coverage(hs, ys, scale.tol)
    slots = merge_slots(xs, ys, vcover, hcover)
    if len(slots) < 2:
        return None
    cells = tuple(
        GridCell(
            row=r0,
            col=c0,
            rowspan=r1 - r0,
            colspan=c1 - c0,
            bbox=(float(xs[c0]), float(ys[r0]), float(xs[c1]), float(ys[r1])),
            open_top=not covered(hcover[r0], xs[c0], xs[c1]),
            open_bottom=not covered(hcover[r1], xs[c0], xs[c1]),
        )
        for r0, r1, c0, c1 in slots
    )
    return Grid(tuple(round(float(x), 1) for x in xs), tuple(round(float(y), 1) for y in ys), cells)


def _coverage(segs: list[Segment], bounds: list[float], tol: float) -> list[list[tuple[float, float]]]:
    """For every boundary, the stretches covered by ruling segments on it."""
    cover: list[list[tuple[float, float]]] = [[] for _ in bounds]
    for s in segs:
        i = nearest(bounds, s.pos)
        if abs(bounds[i] - s.pos) <= tol:
            cover[i].append((s.start, s.end))
    return cover


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
                GridCell(cell.row, a, cell.rowspan, b - a, (grid.xs[a], cell.bbox[1], grid.xs[b], cell.bbox[3]),
                         cell.open_top, cell.open_bottom, split_from=cell.bbox)
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
            1 for r in range(grid.n_rows)
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
    boxes = [(float(x), float(x + w)) for x, y, w, h, _a in stats[1:n]
             if _is_text(int(x), int(y), int(w), int(h), x1 - x0, y1 - y0, lines, dpi)]
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


# ---------------------------------------------------------------- tables across pages


@dataclass(frozen=True)
class TablePart:
    """The piece of a table cell printed on one page."""

    page: int
    cell: GridCell


@dataclass
class JoinedCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    parts: list[TablePart]  # one per page the cell is printed on, in page order

    @property
    def open_bottom(self) -> bool:
        return self.parts[-1].cell.open_bottom


@dataclass
class JoinedTable:
    """A table that may run over several pages: its grid slots count across the pages."""

    first_page: int
    last_page: int
    xs: list[float]  # column boundaries (pixels, the same on every page)
    n_rows: int
    cells: list[JoinedCell]

    @property
    def n_cols(self) -> int:
        return len(self.xs) - 1


def join_pages(pages: dict[int, list[Grid]], dpi: float = DPI) -> list[JoinedTable]:
    """The tables of consecutive pages, a table that ends one page joined with the table that starts the
    next when their columns agree; a cell cut by the page break (no ruling line at the bottom of one part
    nor at the top of the next) is one cell. Tables come in page order.

    Repeated header rows are not recognised here (that needs the text) and a heading printed between two
    compatible tables does not stop the join: the caller knows the text and joins only where none is."""
    tol = _Scale.at(dpi).tol
    out: list[JoinedTable] = []
    for number in sorted(pages):
        for index, grid in enumerate(pages[number]):
            prev = out[-1] if out else None
            first_on_page = index == 0
            if prev is not None and first_on_page and prev.last_page == number - 1 and _compatible(prev.xs, grid, tol):
                _append(prev, grid, number, tol)
            else:
                out.append(_single(grid, number))
    return out


def _single(grid: Grid, page: int) -> JoinedTable:
    cells = [JoinedCell(c.row, c.col, c.rowspan, c.colspan, [TablePart(page, c)]) for c in grid.cells]
    return JoinedTable(page, page, list(grid.xs), grid.n_rows, cells)


def _compatible(xs: list[float], grid: Grid, tol: float) -> bool:
    other = list(grid.xs)
    if abs(xs[0] - other[0]) > 2 * tol or abs(xs[-1] - other[-1]) > 2 * tol:
        return False
    short, long = sorted((xs, other), key=len)
    return all(abs(long[nearest(long, x)] - x) <= 2 * tol for x in short)


def _append(table: JoinedTable, grid: Grid, page: int, tol: float) -> None:
    xs = cluster(table.xs + list(grid.xs), 2 * tol)
    for cell in table.cells:
        _recolumn(cell, cell.parts[0].cell, xs)
    table.xs = xs
    for c in sorted(grid.cells, key=lambda c: (c.row, c.col)):
        joined = JoinedCell(c.row, c.col, c.rowspan, c.colspan, [TablePart(page, c)])
        _recolumn(joined, c, xs)
        if c.row == 0 and c.open_top and _continue(table, joined):
            continue
        joined.row += table.n_rows
        table.cells.append(joined)
    table.n_rows += grid.n_rows
    table.last_page = page


def _recolumn(cell: JoinedCell, part: GridCell, xs: list[float]) -> None:
    cell.col = nearest(xs, part.bbox[0])
    cell.colspan = max(nearest(xs, part.bbox[2]) - cell.col, 1)


def _continue(table: JoinedTable, part: JoinedCell) -> bool:
    """Join a cell cut by the page break to its first part; False when there is none."""
    for cell in table.cells:
        if (
            cell.row + cell.rowspan == table.n_rows
            and cell.open_bottom
            and cell.col == part.col
            and cell.colspan == part.colspan
        ):
            cell.rowspan += part.rowspan
            cell.parts += part.parts
            return True
    return False
