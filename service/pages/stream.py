"""Tables printed without inner rulings (三线表: a top rule, a rule under the header, a bottom rule; or no rule at
all between the rows and columns): their grids found from the whitespace of the page image ("stream" tables).

The grid is the same ``service.lattice.Grid`` the ruling lines make, so the cells are read, joined across pages
and assembled on the one path. Nothing here is learned; every tolerance is in text heights (``h``: the median
height of the words of the table) or inches.

1. ink: the page binarised (``ocr.grid.binarize``), long straight runs (the rules) taken out;
2. rules (``_rules``): horizontal ruling segments at least RULE_MIN inches long, joined along their line;
3. table zones (``_zones``): the page cut at its rules into bands (above the first rule and below the last one
   too: a table cut by a page break); a band is a table's if one of its text lines holds two words at least
   TAB_GAP apart and it is no paragraph (``_prose``: long lines mostly covered by ink); a band between two rules
   over a table band is its header when a line holds HEAD_WORDS words (narrow columns); neighbouring table
   bands are one zone, the rule between them the header's. A zone that does not end at a rule ends at its last
   text (open there: the table goes on over the page break); a page that prints no rule at all is one open
   zone when the previous page left a table open (its left and right edges carried over);
4. cell blocks: ink closed over WORD_GAP across and LINE_GAP down (the characters of a label, the lines of a
   wrapped label) — a gap between two rows is wider than the leading inside a cell;
5. rows (``_rows``): blocks that overlap vertically are one row, except a block reaching over two separate blocks
   of one column beside it (a label spanning several rows, 三、本年度办理结果): it lies over the rows it crosses;
   the header's rule is a row boundary;
6. sections: a row of one block centred in the table (第二十条第（五）项) is a heading over the whole table and
   parts the body into sections, each with its own columns (table 2 prints 3 values in one section, 1 in the
   next);
7. columns (``_columns``): per section, the whitespace gaps at least COL_GAP wide that run down all its rows; in
   the first section a wide gap (a column whose values are all blank) is parted by the words of the header's
   lowest line that stand inside it, and a section continuing a table from the previous page takes that page's
   boundaries that fall inside its gaps; inside the label columns, each row's own gaps between its blocks
   (beside a label spanning rows: at the same place in every row it spans, so that its cell stays a rectangle);
8. cells: every grid slot; neighbouring slots are joined where the row's section has no boundary there or where
   a block crosses the line between them (a spanning label, a header over several columns) — as ruled grids
   join slots where no ruling separates them. No cell is open at the zone's edges (a 三线表's page breaks fall
   between rows).

The grids' cells are marked by the OCR stage as found without rulings (``page.stream_tables``: the provenance
``unruled``; reconcile flags such a cell unless a table rule holds on it, ``reconcile.repair.UNRULED``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from service.lattice import Grid, Segment, cluster, merge_slots, nearest, slot_cells
from service.ocr.grid import binarize
from service.pages.layout import bitmap_rulings, join_collinear

RULE_MIN = 2.0  # inches: a horizontal rule of a table is at least this long (a 三线表's rules run its width)
TAB_GAP = 0.3  # inches: two words of one text line this far apart are in two columns of a table
SPECK = 0.02  # inches: ink smaller than this both ways is noise
WORD_GAP = 1.0  # text heights: characters closer than this across are one block (full-width punctuation inside)
LINE_GAP = 0.6  # text heights: lines closer than this down are one block (a wrapped label: leading < row gap)
COL_GAP = 0.5  # text heights: a gap running down the body at least this wide parts two columns
LEAF_GAP = 0.25  # text heights: header words inside a blank column's gap further apart than this part columns
SPAN_OVERLAP = 0.1  # share of a block's height a label spanning rows overlaps it by
SECTION_MID = 0.05  # share of the width: a row's only block centred this near the middle is a heading over the table
LEAF_LINE = 1.5  # text heights: a header word ending this near the header's rule stands in its lowest line
ROW_OVERLAP = 0.3  # share of the lower block's height two blocks overlap by to be in one row
CROSS = 0.25  # text heights: a block reaches into a row, or across a boundary, by at least this much
MERGE = 0.01  # inches: column boundaries of two rows this near are one
PROSE = 0.8  # share of the rules' width a paragraph's line runs over
PROSE_INK = 0.7  # share of a paragraph's line its words cover
PROSE_SHARE = 0.5  # share of a band's text lines that are a paragraph's, from which it is no table's
HEAD_GAP = 0.1  # inches: words of a header line this far apart stand in different columns
HEAD_WORDS = 4  # words in one line of such a header at least
PAD = 0.04  # inches: a zone's open edge lies this far beyond its outermost text
ZONE_MIN = (1.0, 0.2)  # inches (width, height): smaller zones are no table


@dataclass(frozen=True)
class Box:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0


@dataclass(frozen=True)
class Zone:
    """A table's stretch of the page: x0..x1 (the rules' extent), y0..y1, and where its header ends."""

    x0: float
    y0: float
    x1: float
    y1: float
    head: float | None  # y of the rule under the header (None: no header on this page)
    open_top: bool  # no rule above: continued from the previous page
    open_bottom: bool  # no rule below: continued on the next page


@dataclass(frozen=True)
class StreamTable:
    grid: Grid
    zone: Zone


def stream_tables(
    gray: np.ndarray, segments: Sequence[Segment], dpi: float, columns: Sequence[float] | None = None
) -> list[StreamTable]:
    """The tables of a page image (upright, level) printed without inner rulings, top to bottom.

    ``segments``: the page's ruling segments (``ocr.grid.ruling_segments``); ``columns``: the column boundaries of
    a table the previous page left open (used by a zone at the top of this page that has no header of its own)."""
    rules = _rules(segments, dpi)
    if not rules and not columns:  # no rule and no table going on from the previous page: nothing to look at
        return []
    ink = _text_ink(binarize(gray), dpi)
    words = _words(ink, dpi)
    out: list[StreamTable] = []
    extent = (columns[0], columns[-1]) if columns else None
    for zone in _zones(rules, words, ink.shape, dpi, extent):
        inherited = columns if zone.open_top and zone.head is None and not out else None
        grid = _zone_grid(ink, zone, words, dpi, inherited)
        if grid is not None:
            out.append(StreamTable(grid, zone))
    return out


# ---------------------------------------------------------------- ink, rules, words


def _text_ink(ink: np.ndarray, dpi: float) -> np.ndarray:
    """The ink without long straight runs (rules, rulings), and without specks."""
    long_h = max(int(0.25 * dpi), 8)
    lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (long_h, 1)))
    lines = cv2.bitwise_or(
        lines, cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, long_h)))
    )
    lines = cv2.dilate(lines, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    return cv2.bitwise_and(ink, cv2.bitwise_not(lines))


def _clustered(ink: np.ndarray, across: int, down: int, dpi: float) -> list[Box]:
    """Boxes of the ink's pieces once gaps up to across x down pixels are bridged (tight to the ink)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(across, 1), max(down, 1)))
    _n, labels = cv2.connectedComponents(cv2.dilate(ink, kernel), connectivity=8)
    speck = SPECK * dpi
    out: list[Box] = []
    ys, xs = np.nonzero(ink)
    if not len(xs):
        return out
    lab = labels[ys, xs]
    order = np.argsort(lab, kind="stable")
    lab, ys, xs = lab[order], ys[order], xs[order]
    cuts = np.flatnonzero(np.diff(lab)) + 1
    for seg_y, seg_x in zip(np.split(ys, cuts), np.split(xs, cuts)):
        box = Box(int(seg_x.min()), int(seg_y.min()), int(seg_x.max()) + 1, int(seg_y.max()) + 1)
        if box.width > speck or box.height > speck:
            out.append(box)
    return out


def _words(ink: np.ndarray, dpi: float) -> list[Box]:
    """Words of the page: characters closer than a few points across (no line joined to the next)."""
    return _clustered(ink, max(int(0.06 * dpi), 3), 1, dpi)


@dataclass(frozen=True)
class _Rule:
    y: float
    x0: float
    x1: float


def _rules(segments: Sequence[Segment], dpi: float) -> list[_Rule]:
    """The page's long horizontal rules, top to bottom (pieces of one line joined)."""
    rulings = bitmap_rulings(dpi)
    hs = join_collinear([s for s in segments if not s.vertical], rulings)
    long = sorted((s for s in hs if s.length >= RULE_MIN * dpi), key=lambda s: s.pos)
    out: list[_Rule] = []
    for s in long:
        if out and s.pos - out[-1].y <= 2 * rulings.tol:  # a double rule, or a thick one found twice
            last = out[-1]
            out[-1] = _Rule(last.y, min(last.x0, s.start), max(last.x1, s.end))
        else:
            out.append(_Rule(s.pos, s.start, s.end))
    return out


# ---------------------------------------------------------------- zones


def _lines(words: Sequence[Box]) -> list[list[Box]]:
    """Words grouped into text lines (overlapping vertically by half the smaller height), each left to right."""
    lines: list[list[Box]] = []
    spans: list[tuple[int, int]] = []
    for w in sorted(words, key=lambda b: (b.y0 + b.y1) / 2):
        for i, (a, b) in enumerate(spans):
            if min(b, w.y1) - max(a, w.y0) >= 0.5 * min(b - a, w.height):
                lines[i].append(w)
                spans[i] = (min(a, w.y0), max(b, w.y1))
                break
        else:
            lines.append([w])
            spans.append((w.y0, w.y1))
    return [sorted(line, key=lambda b: b.x0) for line in lines]


def _tabular(words: Sequence[Box], width: float, dpi: float) -> bool:
    """Whether one of a band's text lines holds two words TAB_GAP apart, and its lines are no paragraph's."""
    gap = TAB_GAP * dpi
    lines = _lines(words)
    gaps = [max((b.x0 - a.x1 for a, b in zip(line, line[1:])), default=0) for line in lines]
    return any(g >= gap for g in gaps) and not _prose(lines, width)


def _prose(lines: Sequence[Sequence[Box]], width: float) -> bool:
    """Whether PROSE_SHARE of the lines are a paragraph's: running over PROSE of the table's width, mostly ink
    (a justified line may leave a gap; a row of numbers is mostly paper)."""
    prose = [
        line[-1].x1 - line[0].x0 >= PROSE * width
        and sum(w.width for w in line) >= PROSE_INK * (line[-1].x1 - line[0].x0)
        for line in lines
    ]
    return sum(prose) >= PROSE_SHARE * len(lines)


def _header_like(words: Sequence[Box], width: float, dpi: float) -> bool:
    """Whether a band reads as a table's header whose columns stand too close for TAB_GAP: a line of at least
    HEAD_WORDS words HEAD_GAP apart (a heading's punctuation parts it in two or three), and no paragraph."""
    gap = HEAD_GAP * dpi
    lines = _lines(words)
    many = any(sum(b.x0 - a.x1 >= gap for a, b in zip(line, line[1:])) >= HEAD_WORDS - 1 for line in lines)
    return many and not _prose(lines, width)


def _zones(
    rules: Sequence[_Rule],
    words: Sequence[Box],
    shape: tuple[int, ...],
    dpi: float,
    extent: tuple[float, float] | None = None,
) -> list[Zone]:
    """The table zones of a page: runs of table bands between (and beyond) its rules. ``extent``: the left and
    right edges of a table the previous page left open (a page of its rows may print no rule at all)."""
    if not rules and extent is None:
        return []
    height = shape[0]
    width = max(r.x1 - r.x0 for r in rules) if rules else extent[1] - extent[0] if extent else 0.0
    cuts: list[float | None] = [None, *[r.y for r in rules], None]
    bands: list[tuple[float, float, list[Box]]] = []
    for top, bottom in zip(cuts, cuts[1:]):
        y0 = -1.0 if top is None else top
        y1 = float(height + 1) if bottom is None else bottom
        inside = [w for w in words if y0 < (w.y0 + w.y1) / 2 < y1]
        if not rules and extent is not None:
            inside = [w for w in inside if extent[0] <= (w.x0 + w.x1) / 2 <= extent[1]]
        bands.append((y0, y1, inside))
    zones: list[Zone] = []
    run: list[int] = []
    table = [bool(inside) and _tabular(inside, width, dpi) for _y0, _y1, inside in bands]
    for i in range(1, len(bands) - 1):  # a header between two rules, over a body below its rule
        if table[i + 1] and not table[i] and bands[i][2] and _header_like(bands[i][2], width, dpi):
            table[i] = True
    for i in range(len(bands) + 1):
        if i < len(bands) and table[i]:
            run.append(i)
            continue
        if run:
            zones.append(_zone(run, bands, rules, dpi, extent))
            run = []
    return [z for z in zones if z.x1 - z.x0 >= ZONE_MIN[0] * dpi and z.y1 - z.y0 >= ZONE_MIN[1] * dpi]


def _zone(
    run: list[int],
    bands: list[tuple[float, float, list[Box]]],
    rules: Sequence[_Rule],
    dpi: float,
    extent: tuple[float, float] | None,
) -> Zone:
    first, last = run[0], run[-1]
    pad = PAD * dpi
    inside = [w for i in run for w in bands[i][2]]
    open_top = first == 0
    open_bottom = last == len(bands) - 1
    y0 = min(w.y0 for w in inside) - pad if open_top else bands[first][0]
    y1 = max(w.y1 for w in inside) + pad if open_bottom else bands[last][1]
    around = [r for r in rules if y0 - pad <= r.y <= y1 + pad]
    if around:
        x0, x1 = min(r.x0 for r in around), max(r.x1 for r in around)
    else:
        assert extent is not None
        x0, x1 = extent
    inner = [bands[i][1] for i in run[:-1]]  # the rules between two table bands: the header's (the lowest)
    return Zone(x0, y0, x1, y1, inner[-1] if inner else None, open_top, open_bottom)


# ---------------------------------------------------------------- a zone's grid


def _zone_grid(
    ink: np.ndarray, zone: Zone, words: Sequence[Box], dpi: float, inherited: Sequence[float] | None
) -> Grid | None:
    x0, y0, x1, y1 = int(zone.x0), int(max(zone.y0, 0)), int(zone.x1) + 1, int(min(zone.y1, ink.shape[0]))
    inside = [w for w in words if x0 <= (w.x0 + w.x1) / 2 <= x1 and y0 < (w.y0 + w.y1) / 2 < y1]
    if not inside:
        return None
    h = statistics.median(w.height for w in inside)
    sub = np.zeros_like(ink)
    sub[y0:y1, x0:x1] = ink[y0:y1, x0:x1]
    blocks = _clustered(sub, int(round(WORD_GAP * h)), int(round(LINE_GAP * h)), dpi)
    blocks = [b for b in blocks if y0 < (b.y0 + b.y1) / 2 < y1]
    head = zone.head
    ys = _rows(blocks, zone, head)
    if len(ys) < 2:
        return None
    n_rows = len(ys) - 1
    cross = CROSS * h
    in_row = [[b for b in blocks if min(b.y1, ys[r + 1]) - max(b.y0, ys[r]) > cross] for r in range(n_rows)]
    mid, width = (zone.x0 + zone.x1) / 2, zone.x1 - zone.x0
    # a row of one block standing in the middle (第二十条第（五）项): a heading over the whole table, parting sections
    breaks = [
        len(row) == 1 and abs((row[0].x0 + row[0].x1) / 2 - mid) <= SECTION_MID * width and row[0].x0 > x0 + h
        for row in in_row
    ]
    first_body = next((r for r in range(n_rows) if head is None or ys[r] >= head - 1), n_rows)
    sections: list[list[int]] = []
    for r in range(first_body, n_rows):
        if breaks[r]:
            continue
        if sections and sections[-1][-1] == r - 1:
            sections[-1].append(r)
        else:
            sections.append([r])
    # the leaf header cells: words of the header's lowest line (a header over several columns stands higher)
    header_words = [
        w for w in inside if head is not None and head - LEAF_LINE * h <= w.y1 < head and w.height >= 0.5 * h
    ]
    least = COL_GAP * h
    seps: dict[int, list[float]] = {}
    for k, rows in enumerate(sections):
        body = [b for r in rows for b in in_row[r]]
        leaves = header_words if k == 0 else []
        extra = inherited if k == 0 and inherited is not None else None
        cut = _columns(body, leaves, zone, h, extra)
        for r in rows:
            seps[r] = cut
        if k == 0:
            for r in range(first_body):  # the header rows stand over the first section's columns
                seps[r] = cut
    for part in _parts(blocks, ys, head):
        spans = {b for b in part if _spanning(b, part)}
        for r in range(n_rows):
            row = sorted((b for b in in_row[r] if b in part), key=lambda b: b.x0)
            seps[r] = sorted([*seps.get(r, []), *_local(row, spans, seps.get(r, []), least)])
    inner = sorted(x for cut in {tuple(c) for c in seps.values()} for x in cut)
    xs = [float(zone.x0), *cluster(inner, MERGE * dpi), float(zone.x1)]
    if len(xs) < 3:
        return None
    ruled = [[False] * len(xs) for _ in range(n_rows)]
    for r in range(n_rows):
        for x in seps.get(r, ()):
            ruled[r][nearest(xs, x)] = True
    return _grid(xs, ys, blocks, ruled, cross)


def _parts(blocks: Sequence[Box], ys: Sequence[float], head: float | None) -> list[set[Box]]:
    """The blocks of the header (above its rule) and of the body."""
    if head is None:
        return [set(blocks)]
    return [{b for b in blocks if (b.y0 + b.y1) / 2 < head}, {b for b in blocks if (b.y0 + b.y1) / 2 >= head}]


def _local(row: Sequence[Box], spans: set[Box], seps: Sequence[float], least: float) -> list[float]:
    """Boundaries between the blocks of one row (left to right) that no column boundary of its section parts (the
    label columns: 三、本年度办理结果 | （三）不予公开 | 1.属于国家秘密): beside a label spanning rows at the same
    place in every row it spans, else in the middle of the gap."""
    out: list[float] = []
    for a, b in zip(row, row[1:]):
        if b.x0 - a.x1 < least or any(a.x1 <= s <= b.x0 for s in seps) or b.x0 <= a.x1:
            continue
        if a in spans:
            out.append(a.x1 + least / 2)
        elif b in spans:
            out.append(b.x0 - least / 2)
        else:
            out.append((a.x1 + b.x0) / 2)
    return out


def _gaps(occupied: np.ndarray, least: float) -> list[tuple[int, int]]:
    """Runs of False in ``occupied`` at least ``least`` long, as (start, end) indices (not touching the ends)."""
    out: list[tuple[int, int]] = []
    n = len(occupied)
    i = 0
    while i < n:
        if occupied[i]:
            i += 1
            continue
        j = i
        while j < n and not occupied[j]:
            j += 1
        if i > 0 and j < n and j - i >= least:
            out.append((i, j))
        i = j
    return out


def _columns(
    body: Sequence[Box], header: Sequence[Box], zone: Zone, h: float, inherited: Sequence[float] | None = None
) -> list[float]:
    """Inner column boundaries of a section: the middles of the gaps that run down its rows, a gap parted by the
    leaf header words standing inside it, or by the inner boundaries a continued table had on the previous page
    that fall inside it."""
    left, right = int(zone.x0), int(zone.x1) + 1
    occupied = np.zeros(right - left, bool)
    for box in body:
        occupied[max(box.x0 - left, 0) : max(box.x1 - left, 0)] = True
    least = COL_GAP * h
    for w in sorted(header, key=lambda b: -b.y1):  # lowest first: the leaf header cells
        a, b = max(w.x0 - left, 0), max(w.x1 - left, 0)
        gaps = _gaps(occupied, least)
        if any(g0 + LEAF_GAP * h <= a and b <= g1 - LEAF_GAP * h for g0, g1 in gaps):
            occupied[a:b] = True
    gaps = _gaps(occupied, least)
    out = [left + (g0 + g1) / 2 for g0, g1 in gaps]
    for x in inherited or ():
        k = int(x) - left
        if any(g0 + least / 2 <= k <= g1 - least / 2 for g0, g1 in gaps) and all(abs(x - o) > least for o in out):
            out.append(float(x))
    return sorted(out)


def _rows(blocks: Sequence[Box], zone: Zone, head: float | None) -> list[float]:
    """Row boundaries: the zone's edges, the header rule, and the middles between rows of blocks."""
    ys = [zone.y0]
    parts = [(zone.y0, head), (head, zone.y1)] if head is not None else [(zone.y0, zone.y1)]
    for top, bottom in parts:
        assert top is not None and bottom is not None
        inside = [b for b in blocks if top < (b.y0 + b.y1) / 2 < bottom]
        spans = _row_spans([b for b in inside if not _spanning(b, inside)])
        for (_a, b), (c, _d) in zip(spans, spans[1:]):
            ys.append((b + c) / 2)
        ys.append(bottom)
    return ys


def _spanning(block: Box, blocks: Iterable[Box]) -> bool:
    """Whether the block reaches over two separate blocks of one column beside it (a label spanning rows)."""
    beside = [
        b
        for b in blocks
        if (b.x1 <= block.x0 or b.x0 >= block.x1)
        and min(b.y1, block.y1) - max(b.y0, block.y0) >= SPAN_OVERLAP * b.height
        and b.height <= block.height
    ]
    beside.sort(key=lambda b: b.y0)
    for i, a in enumerate(beside):
        for b in beside[i + 1 :]:
            if b.y0 >= a.y1 and min(a.x1, b.x1) > max(a.x0, b.x0):
                return True
    return False


def _row_spans(blocks: Sequence[Box]) -> list[tuple[int, int]]:
    """Vertical extents of the rows: blocks that overlap vertically (by ROW_OVERLAP of the smaller) joined."""
    spans: list[tuple[int, int]] = []
    for b in sorted(blocks, key=lambda b: b.y0):
        if spans and min(spans[-1][1], b.y1) - b.y0 >= ROW_OVERLAP * min(b.height, spans[-1][1] - spans[-1][0]):
            spans[-1] = (spans[-1][0], max(spans[-1][1], b.y1))
        else:
            spans.append((b.y0, b.y1))
    return spans


def _grid(xs: list[float], ys: list[float], blocks: Sequence[Box], ruled: list[list[bool]], cross: float) -> Grid:
    """The grid of slots, neighbouring slots joined where a block crosses the boundary between them or where the
    row's section has no column boundary (``ruled[row][i]``: boundary ``xs[i]`` parts the row's cells)."""
    n_rows, n_cols = len(ys) - 1, len(xs) - 1
    vcover: list[list[tuple[float, float]]] = [[] for _ in xs]
    hcover: list[list[tuple[float, float]]] = [[] for _ in ys]
    for i, x in enumerate(xs):
        for r in range(n_rows):
            if i in (0, n_cols) or (
                ruled[r][i]
                and not any(
                    b.x0 + cross < x < b.x1 - cross and min(b.y1, ys[r + 1]) - max(b.y0, ys[r]) > cross for b in blocks
                )
            ):
                vcover[i].append((ys[r], ys[r + 1]))
    for j, y in enumerate(ys):
        for c in range(n_cols):
            if j in (0, n_rows) or not any(
                b.y0 + cross < y < b.y1 - cross and min(b.x1, xs[c + 1]) - max(b.x0, xs[c]) > cross for b in blocks
            ):
                hcover[j].append((xs[c], xs[c + 1]))
    slots = merge_slots(xs, ys, vcover, hcover)
    cells = slot_cells(xs, ys, slots, hcover)
    return Grid(tuple(round(float(x), 1) for x in xs), tuple(round(float(y), 1) for y in ys), cells)
