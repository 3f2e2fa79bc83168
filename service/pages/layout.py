"""One page's layout: ruled tables and their cells, and the lines of running text, whatever the page was read from.

Table grids (``table_grids``, the one grid builder): ruling segments, drawn by the PDF (``service.ingest.pdf``)
or found in a page image (``service.ocr.grid.ruling_segments``), become tables on ``service.lattice``:

1. pieces on the same line that touch or nearly touch are one segment (cell borders, dashes, double strokes,
   lines broken by pinholes); pieces are grouped by position first (chains within the tolerance), then joined
   along the line in order of their start, so that nearby lines of two tables (x=317.5 and x=318.9) stay apart;
2. segments that touch, directly or through others, form one table (``lattice.components``);
3. its column and row boundaries are the clustered segment positions, plus an open outer edge where several
   perpendicular lines end together (a table cut by a page break has no closing line);
4. neighbouring grid slots not separated by a ruling line (covered over at least half their common edge) form
   one spanning cell; a cell whose top or bottom has no ruling line is open there (cut by a page break).

The tolerances come with the segments' source (``Rulings``): exact for vector drawing (``VECTOR``, PDF points),
in inches for pixels (``bitmap_rulings(dpi)``: positions of runs found in ink are a little off, so the pieces of
one line take their length-weighted mean position and tables smaller than MIN_TABLE_W x MIN_TABLE_H are noise).

Page layout (``layout_page``): a text-layer page's characters go to the cell holding their centre, the others
form lines (a character joins a line it overlaps vertically by half; a space between two characters that are
not CJK where the gap is wide or the PDF prints one). A bitmap page's tables come read cell by cell from the OCR
stage (lost-ruling parts included); its recognized line boxes form lines by the same rule. Everything comes out
in page units (``PageContent.scale``), in reading order: top to bottom.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from service.document import BBox, OcrChar, OcrText, Origin
from service.lattice import (
    Grid,
    Segment,
    boundaries,
    components,
    merge_slots,
    nearest,
    slot_cells,
)
from service.normalize import clean
from service.ocr.grid import GAP, MIN_TABLE_H, MIN_TABLE_W, TOL, binarize, ruling_segments
from service.ocr.read_cells import CellText
from service.pages.model import PageContent, Word
from service.text import is_wide, join_wide, tidy

SPACE_GAP = 0.25  # gap between two words, in font sizes, that reads as a space (non-CJK text)
VECTOR_TOL = 2.5  # PDF points: ruling lines closer than this are the same boundary


@dataclass(frozen=True)
class Rulings:
    """How exact ruling segments are, in their coordinate unit."""

    tol: float  # positions closer than this are one boundary; segments closer than this touch
    gap: float  # gap bridged between two pieces of one line
    mean_position: bool  # joined pieces take their length-weighted mean position (else the first piece's)
    across_pages: float  # the columns of a table continued on the next page agree within this
    min_width: float = 0.0  # smaller tables are noise
    min_height: float = 0.0
    digits: int | None = None  # boundaries rounded to this many decimals


VECTOR = Rulings(tol=VECTOR_TOL, gap=VECTOR_TOL, mean_position=False, across_pages=VECTOR_TOL)


def bitmap_rulings(dpi: float) -> Rulings:
    """Tolerances for segments found in a page image at ``dpi`` (pixels); a table continued on the next sheet
    may sit twice as far off as two lines of one page."""
    tol = max(TOL * dpi, 2.0)
    return Rulings(
        tol=tol,
        gap=max(GAP * dpi, 3.0),
        mean_position=True,
        across_pages=2 * tol,
        min_width=MIN_TABLE_W * dpi,
        min_height=MIN_TABLE_H * dpi,
        digits=1,
    )


def page_rulings(page: PageContent) -> Rulings:
    if page.has_text_layer or page.dpi is None:
        return VECTOR
    return bitmap_rulings(page.dpi)


# ---------------------------------------------------------------- the grid builder


def table_grids(segments: Iterable[Segment], rulings: Rulings) -> list[Grid]:
    """Every ruled table the segments make, top to bottom (then left to right)."""
    joined = join_collinear(list(segments), rulings)
    n = len(joined)
    links = ((i, j) for i in range(n) for j in range(i + 1, n) if _touch(joined[i], joined[j], rulings.tol))
    groups = [[joined[i] for i in group] for group in components(n, links)]
    grids = [g for group in groups if (g := _grid(group, rulings)) is not None]
    return sorted(grids, key=lambda g: (g.ys[0], g.xs[0]))


def find_grids(gray: np.ndarray, dpi: float) -> list[Grid]:
    """Every ruled table of a page image (grayscale), top to bottom, in its pixels."""
    return table_grids(ruling_segments(binarize(gray), dpi), bitmap_rulings(dpi))


def join_collinear(segs: list[Segment], rulings: Rulings) -> list[Segment]:
    """One segment for pieces on the same line that touch, overlap or nearly touch."""
    out: list[Segment] = []
    for line in _same_line_groups(segs, rulings.tol):
        joined: list[Segment] = []
        for seg in sorted(line, key=lambda s: s.start):
            last = joined[-1] if joined else None
            if last is not None and _same_line(last, seg, rulings):
                weight = last.length + seg.length
                if rulings.mean_position and weight > 0:
                    last.pos = (last.pos * last.length + seg.pos * seg.length) / weight
                last.end = max(last.end, seg.end)
            else:
                joined.append(Segment(seg.vertical, seg.pos, seg.start, seg.end))
        out += joined
    return out


def _same_line(last: Segment, seg: Segment, rulings: Rulings) -> bool:
    """Whether ``seg`` (starting after ``last`` starts) continues ``last``: near enough along the line, and, for
    exact (vector) positions, within the tolerance of it (the chain of positions is enough for runs found in
    ink, whose pieces' positions are averaged)."""
    if seg.start > last.end + rulings.gap:
        return False
    return rulings.mean_position or abs(last.pos - seg.pos) <= rulings.tol


def _same_line_groups(segs: list[Segment], tol: float) -> list[list[Segment]]:
    """Segments of one orientation whose positions chain within tol of each other."""
    groups: list[list[Segment]] = []
    for seg in sorted(segs, key=lambda s: (s.vertical, s.pos)):
        last = groups[-1][-1] if groups else None
        if last is not None and last.vertical == seg.vertical and seg.pos - last.pos <= tol:
            groups[-1].append(seg)
        else:
            groups.append([seg])
    return groups


def _touch(a: Segment, b: Segment, tol: float) -> bool:
    if a.vertical == b.vertical:
        return abs(a.pos - b.pos) <= tol and a.start <= b.end + tol and b.start <= a.end + tol
    return a.start - tol <= b.pos <= a.end + tol and b.start - tol <= a.pos <= b.end + tol


def _coverage(segs: list[Segment], bounds: list[float], tol: float) -> list[list[tuple[float, float]]]:
    """For every boundary, the stretches covered by ruling segments on it."""
    cover: list[list[tuple[float, float]]] = [[] for _ in bounds]
    for s in segs:
        i = nearest(bounds, s.pos)
        if abs(bounds[i] - s.pos) <= tol:
            cover[i].append((s.start, s.end))
    return cover


def _grid(segs: list[Segment], rulings: Rulings) -> Grid | None:
    hs = [s for s in segs if not s.vertical]
    vs = [s for s in segs if s.vertical]
    if not hs or not vs:
        return None
    tol = rulings.tol
    xs = boundaries([s.pos for s in vs], [e for s in hs for e in (s.start, s.end)], tol)
    ys = boundaries([s.pos for s in hs], [e for s in vs for e in (s.start, s.end)], tol)
    if len(xs) < 2 or len(ys) < 2 or xs[-1] - xs[0] < rulings.min_width or ys[-1] - ys[0] < rulings.min_height:
        return None
    vcover, hcover = _coverage(vs, xs, tol), _coverage(hs, ys, tol)
    slots = merge_slots(xs, ys, vcover, hcover)
    if len(slots) < 2:
        return None
    cells = slot_cells(xs, ys, slots, hcover)
    if rulings.digits is not None:
        xs = [round(float(x), rulings.digits) for x in xs]
        ys = [round(float(y), rulings.digits) for y in ys]
    return Grid(tuple(xs), tuple(ys), cells)


# ---------------------------------------------------------------- a page's layout


@dataclass(eq=False)
class Line:
    """A printed line of running text, in page units."""

    raw: str  # as printed or recognized, a space between Latin words
    text: str  # cleaned, no spaces next to CJK text
    box: BBox
    size: float  # font size (text layer) or the line's height (recognized)
    origin: Origin
    ocr: OcrText | None = None  # recognized: the characters (boxes in the page image's pixels)

    @property
    def top(self) -> float:
        return self.box[1]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class CellContent:
    """What one cell of a page's table holds: its text-layer characters, or the recognizer's reading."""

    raw: str
    text: str  # cleaned (a reading: digits confused with letters fixed)
    reading: CellText | None = None  # read by OCR (its characters boxed in the page image's pixels)


@dataclass(eq=False)
class Table:
    """A ruled table of one page in page units; ``cells[i]`` holds what ``grid.cells[i]`` says."""

    grid: Grid
    cells: list[CellContent]
    origin: Origin
    across_pages: float  # how far off the columns of its continuation may be (page units)

    @property
    def top(self) -> float:
        return self.grid.ys[0]


@dataclass
class PageLayout:
    number: int
    width: float  # page units
    height: float
    origin: Origin
    items: list[Line | Table] = field(default_factory=list)  # reading order

    @property
    def lines(self) -> list[Line]:
        return [it for it in self.items if isinstance(it, Line)]


def layout_page(page: PageContent) -> PageLayout:
    """The tables and lines of one page, top to bottom, in page units."""
    rulings = page_rulings(page)
    if page.tables is not None:  # a bitmap page: tables read cell by cell by the OCR stage
        tables = [_table(t.grid, [_read_content(c) for c in t.cells], page, rulings) for t in page.tables]
        flow = page.words
    else:
        grids = table_grids(page.segments, rulings)
        chars, flow = _assign_to_cells(page.words, grids)
        tables = [
            _table(g, [_text_content(chars.get((i, k), [])) for k in range(len(g.cells))], page, rulings)
            for i, g in enumerate(grids)
        ]
    lines = [_line(words, page) for words in group_lines(flow)]
    items: list[Line | Table] = [*(ln for ln in lines if ln.raw), *tables]
    items.sort(key=lambda it: it.top)
    return PageLayout(page.number, page.width, page.height, page.origin, items)


def _table(grid: Grid, cells: list[CellContent], page: PageContent, rulings: Rulings) -> Table:
    return Table(grid.scaled(page.scale), cells, page.origin, rulings.across_pages * page.scale)


def _text_content(chars: list[Word]) -> CellContent:
    raw = ""
    for words in group_lines(chars):
        raw = join_wide(raw, _line_text(words))
    return CellContent(raw=raw, text=clean(raw))


def _read_content(cell: CellText) -> CellContent:
    return CellContent(raw=cell.raw, text=cell.text, reading=cell)


def _assign_to_cells(words: list[Word], grids: list[Grid]) -> tuple[dict[tuple[int, int], list[Word]], list[Word]]:
    """Every word inside a table to the cell holding its centre, keyed by (table, cell index); the others."""
    lookups = [_slot_lookup(g) for g in grids]
    found: dict[tuple[int, int], list[Word]] = {}
    flow: list[Word] = []
    for word in words:
        cx, cy = (word.box[0] + word.box[2]) / 2, (word.box[1] + word.box[3]) / 2
        for i, (grid, lookup) in enumerate(zip(grids, lookups)):
            x0, y0, x1, y1 = grid.bbox
            if x0 <= cx <= x1 and y0 <= cy <= y1:
                r = min(max(bisect_right(grid.ys, cy) - 1, 0), len(grid.ys) - 2)
                c = min(max(bisect_right(grid.xs, cx) - 1, 0), len(grid.xs) - 2)
                found.setdefault((i, lookup[r][c]), []).append(word)
                break
        else:
            flow.append(word)
    return found, flow


def _slot_lookup(grid: Grid) -> list[list[int]]:
    """The index of the cell covering each grid slot."""
    owner = {
        (r, c): i
        for i, cell in enumerate(grid.cells)
        for r in range(cell.row, cell.row + cell.rowspan)
        for c in range(cell.col, cell.col + cell.colspan)
    }
    return [[owner[(r, c)] for c in range(grid.n_cols)] for r in range(grid.n_rows)]


# ---------------------------------------------------------------- lines


def group_lines(words: Iterable[Word]) -> list[list[Word]]:
    """Words into lines, top to bottom: a word joins the line it overlaps vertically by half (of the lower of
    the two heights)."""
    rows: list[list[Word]] = []
    top = bottom = 0.0
    for word in sorted(words, key=lambda w: (w.box[1], w.box[0])):
        y0, y1 = word.box[1], word.box[3]
        if rows and min(bottom, y1) - max(top, y0) >= 0.5 * min(y1 - y0, bottom - top):
            rows[-1].append(word)
            top, bottom = min(top, y0), max(bottom, y1)
        else:
            rows.append([word])
            top, bottom = y0, y1
    return [sorted(row, key=lambda w: w.box[0]) for row in rows]


def _line_text(words: Sequence[Word]) -> str:
    """The words of one line, left to right: no space next to CJK text; between others one space where the PDF
    prints one or the gap is wide."""
    parts: list[str] = []
    prev: Word | None = None
    pending_space = False
    for word in words:
        if not word.text or word.text.isspace():
            pending_space = True
            continue
        if prev is not None:
            gap = word.box[0] - prev.box[2]
            spaced = pending_space or gap > SPACE_GAP * min(word.size, prev.size)
            if spaced and not (is_wide(prev.text[-1]) or is_wide(word.text[0])):
                parts.append(" ")
        parts.append(word.text)
        prev, pending_space = word, False
    return "".join(parts)


def _line(words: list[Word], page: PageContent) -> Line:
    raw = _line_text(words)
    visible = [w for w in words if w.text.strip()] or words
    box = union(w.box for w in visible)
    s = page.scale
    x0, y0, x1, y1 = (v * s for v in box)
    readings = [w.ocr for w in visible if w.ocr is not None]
    ocr = None
    if readings:
        chars = tuple(c for r in readings for c in r.chars)
        ocr = OcrText(text=raw, confidence=mean_confidence(chars), box=union(r.box for r in readings), chars=chars)
    size = statistics.median(w.size for w in visible) * s
    return Line(raw=raw, text=tidy(raw), box=(x0, y0, x1, y1), size=size, origin=page.origin, ocr=ocr)


def union(boxes: Iterable[BBox]) -> BBox:
    """The box around the boxes."""
    boxes = list(boxes)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def mean_confidence(chars: Sequence[OcrChar]) -> float:
    return round(sum(c.confidence for c in chars) / len(chars), 5) if chars else 0.0
