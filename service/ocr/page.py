"""Page images read by OCR into the document model: orientation, skew, ruled tables, running text.

One page (``read_page``):

1. text lines are detected once, on the page reduced to DETECT_DPI (the detector's cost grows with the
   pixels; body text stays well above its minimum size);
2. orientation: mostly tall line boxes mean a page lying on its side; the page is upright in whichever
   of the two remaining turns its longest lines read with the higher confidence (the heads of a few
   lines are read; the first turn tried is kept at once when it reads confidently);
3. skew: measured on the ruling lines (``deskew.estimate_skew``), else on the detected lines; the page is
   levelled and the detected boxes moved with it;
4. tables: ruling-line grids (``grid.find_grids``), every cell read from its own crop
   (``read_cells.read_tables``; a cell that a lost column ruling made of two is read as its parts,
   ``grid.lost_rulings``);
5. running text: the detected lines outside the tables are read at full resolution (the engine batches
   them by width), boxes side by side form one printed line, page numbers in the margins are dropped.

Pixel coordinates are those of the upright, levelled page. Block and cell provenance gives them in page
units: pixels times ``scale`` (1 for images, 72/dpi for rendered PDF pages).

A document (``blocks_from_pages``): lines become paragraphs and headings (``is_section_heading``); a table
that ends one page and a table that starts the next, with the same columns, are one table
(``grid.join_pages``; cells cut by the page break are joined), and header rows printed again at the top
of the next page are dropped. ``ocr_page`` reads one page alone.
"""
from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import TypeVar

import cv2
import numpy as np

from service.document import BBox, Block, OcrChar, OcrText, Origin, Provenance, TableCell, TableGrid
from service.ingest.base import is_section_heading, is_wide, join_wide
from service.normalize import clean
from service.ocr.base import OcrEngine, OcrLine
from service.ocr.deskew import MIN_ANGLE, _weighted_median, estimate_skew
from service.ocr.grid import DPI, Grid, GridCell, JoinedCell, JoinedTable, find_grids, join_pages, to_gray
from service.ocr.read_cells import SPLIT_CONFIDENCE, CellText, read_tables

DETECT_DPI = 100  # resolution of text detection
ORIENTATION_SAMPLE = 4  # lines read to tell the page's orientation
HEAD_HEIGHTS = 6.0  # of each, the first this many line heights are read
UPRIGHT = 0.85  # mean confidence that settles the orientation at the first turn tried
LINE_RATIO = 3.0  # a detected box this many times longer than high is a text line (not a lone character)
SKEW_LINE_RATIO = 8.0  # lines at least this long measure the skew of a page without ruling lines
MIN_SKEW_LINES = 3
INK = 160  # a page with no pixel darker than this is blank
TABLE_MARGIN = 0.03  # inches: a detected line centred inside a table, this far from its edges, is in it
MAX_HEADER_ROWS = 4  # header rows looked for at the top of a table's continuation
SAME_TEXT = 0.85  # similarity of two readings of the same printed header cell
SIZE_CHANGE = 0.4  # line heights differing by this share are another font size (boxes vary by some 20%)
SENTENCE_END = "。！？；：!?;:）)”"
PAGE_NUMBER = re.compile(r"^[-—–－_\s]*(第\s*)?\d{1,4}(\s*页)?(\s*[/／]\s*\d{1,4})?(\s*共\s*\d{1,4}\s*页)?[-—–－_\s]*$")

Quad = np.ndarray  # 4 x 2 float32: top-left, top-right, bottom-right, bottom-left
T = TypeVar("T")


@dataclass(frozen=True)
class TextLine:
    """One printed line of running text: one or more detected boxes side by side."""

    raw: str  # as recognized
    text: str  # cleaned, no spaces next to CJK text
    box: BBox  # pixels
    ocr: OcrText

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def top(self) -> float:
        return self.box[1]


@dataclass(frozen=True)
class PageTable:
    """A ruled table of one page and its cells as read (pixels)."""

    grid: Grid
    cells: tuple[CellText, ...]

    @property
    def top(self) -> float:
        return self.grid.ys[0]


@dataclass(frozen=True)
class PageRead:
    """One page as read: its text lines and tables in reading order (top to bottom)."""

    number: int  # 1-based
    width: int  # pixels of the upright page
    height: int
    dpi: float
    scale: float  # page units per pixel
    turns: int  # quarter turns counter-clockwise that made the page upright
    skew: float  # degrees the page was levelled by
    items: tuple[TextLine | PageTable, ...]

    def lines(self) -> list[TextLine]:
        return [it for it in self.items if isinstance(it, TextLine)]


# ---------------------------------------------------------------- one page


def ocr_page(image: np.ndarray, engine: OcrEngine, page_number: int, scale: float, dpi: float = DPI) -> list[Block]:
    """The blocks of one page image, in reading order (tables are not joined with other pages)."""
    return blocks_from_pages([read_page(image, engine, page_number, dpi=dpi, scale=scale)])


def read_page(image: np.ndarray, engine: OcrEngine, number: int, *, dpi: float = DPI, scale: float = 1.0) -> PageRead:
    """Read one page image (grayscale or colour, any of the four orientations, slightly skewed)."""
    gray = to_gray(image)
    if not (gray < INK).any():
        return PageRead(number, gray.shape[1], gray.shape[0], dpi, scale, 0, 0.0, ())
    quads = [_ordered(q) for q in engine.detect_lines(gray, scale=min(DETECT_DPI / dpi, 1.0))]
    turns = _orientation(gray, quads, engine)
    if turns:
        quads = [_ordered(_turn_points(q, turns, gray.shape[1], gray.shape[0])) for q in quads]
        gray = np.ascontiguousarray(np.rot90(gray, turns))
    angle = estimate_skew(gray, dpi) or _text_skew(quads)
    if abs(angle) >= MIN_ANGLE:
        gray, quads = _level(gray, quads, angle)
    else:
        angle = 0.0
    grids = find_grids(gray, dpi)
    tables = [PageTable(g.with_cells(c.cell for c in cells), tuple(cells))
              for g, cells in zip(grids, read_tables(gray, grids, engine, dpi))]
    text_quads = [q for q in quads if not _in_tables(q, grids, TABLE_MARGIN * dpi)]
    lines = _printed_lines(engine.read_lines(gray, text_quads))
    height = gray.shape[0]
    lines = [ln for ln in lines if not _is_page_number(ln, height)]
    items: list[TextLine | PageTable] = sorted([*lines, *tables], key=lambda it: it.top)
    return PageRead(number, gray.shape[1], height, dpi, scale, turns, round(angle, 3), tuple(items))


def _orientation(gray: np.ndarray, quads: list[Quad], engine: OcrEngine) -> int:
    """Quarter turns (as numpy's rot90) that make the page upright."""
    lines = [q for q in quads if _long_side(q) >= LINE_RATIO * _short_side(q)]
    if not lines:
        return 0
    tall = sum(_long_side(q) for q in lines if _extent(q)[1] > _extent(q)[0])
    wide = sum(_long_side(q) for q in lines) - tall
    candidates = (1, 3) if tall > wide else (0, 2)
    sample = sorted(lines, key=_long_side, reverse=True)[:ORIENTATION_SAMPLE]
    best, best_score = candidates[0], -1.0
    for turns in candidates:
        score = _read_score(gray, sample, turns, engine)
        if score >= UPRIGHT:
            return turns
        if score > best_score:
            best, best_score = turns, score
    return best


def _read_score(gray: np.ndarray, sample: list[Quad], turns: int, engine: OcrEngine) -> float:
    """Mean confidence of the heads of the sample lines read with the page turned."""
    h, w = gray.shape
    image = np.ascontiguousarray(np.rot90(gray, turns)) if turns else gray
    heads = [_head(_ordered(_turn_points(q, turns, w, h)), HEAD_HEIGHTS) for q in sample]
    lines = engine.read_lines(image, heads)
    return sum(line.confidence for line in lines) / len(sample)


def _text_skew(quads: list[Quad]) -> float:
    """Skew in degrees (positive: lines rise to the right) from the long detected lines; 0.0 if too few."""
    angles = []
    for q in quads:
        length = float(np.linalg.norm(q[1] - q[0]))
        if length >= SKEW_LINE_RATIO * float(np.linalg.norm(q[3] - q[0])):
            dx, dy = q[1] - q[0]
            angles.append((-math.degrees(math.atan2(float(dy), float(dx))), length))
    return _weighted_median(angles) if len(angles) >= MIN_SKEW_LINES else 0.0


def _level(gray: np.ndarray, quads: list[Quad], angle: float) -> tuple[np.ndarray, list[Quad]]:
    """The page turned level (as ``deskew.deskew`` turns it) and the line boxes moved with it."""
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    level = cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    moved = [(q @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32) for q in quads]
    return level, moved


def _in_tables(quad: Quad, grids: Sequence[Grid], margin: float) -> bool:
    cx, cy = quad.mean(axis=0)
    return any(
        g.xs[0] + margin <= cx <= g.xs[-1] - margin and g.ys[0] + margin <= cy <= g.ys[-1] - margin for g in grids
    )


# ---------------------------------------------------------------- geometry of line boxes


def _turn_points(points: np.ndarray, turns: int, width: int, height: int) -> np.ndarray:
    """Points of an image of the given size where they land in ``np.rot90(image, turns)``."""
    out = np.asarray(points, np.float32)
    for _ in range(turns % 4):
        out = np.stack([out[:, 1], width - out[:, 0]], axis=1)
        width, height = height, width
    return out


def _ordered(quad: np.ndarray) -> Quad:
    """The four corners as top-left, top-right, bottom-right, bottom-left (for boxes within 45 degrees
    of level)."""
    q = np.asarray(quad, np.float32).reshape(4, 2)
    s, d = q.sum(axis=1), q[:, 0] - q[:, 1]
    return np.stack([q[s.argmin()], q[d.argmax()], q[s.argmax()], q[d.argmin()]])


def _extent(quad: Quad) -> tuple[float, float]:
    span = quad.max(axis=0) - quad.min(axis=0)
    return float(span[0]), float(span[1])


def _long_side(quad: Quad) -> float:
    return max(_extent(quad))


def _short_side(quad: Quad) -> float:
    return max(min(_extent(quad)), 1.0)


def _head(quad: Quad, heights: float) -> Quad:
    """The start of a line box: at most ``heights`` times its height long."""
    length = float(np.linalg.norm(quad[1] - quad[0]))
    limit = heights * max(float(np.linalg.norm(quad[3] - quad[0])), 1.0)
    if length <= limit:
        return quad
    f = limit / length
    return np.stack([quad[0], quad[0] + f * (quad[1] - quad[0]), quad[3] + f * (quad[2] - quad[3]), quad[3]])


# ---------------------------------------------------------------- text lines


def _printed_lines(lines: Iterable[OcrLine]) -> list[TextLine]:
    """Detected boxes side by side (overlapping by half the lower one's height) joined into lines."""
    rows: list[list[OcrLine]] = []
    top = bottom = 0.0
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        y0, y1 = line.box[1], line.box[3]
        if rows and min(bottom, y1) - max(top, y0) >= 0.5 * min(y1 - y0, bottom - top):
            rows[-1].append(line)
            top, bottom = min(top, y0), max(bottom, y1)
        else:
            rows.append([line])
            top, bottom = y0, y1
    return [_text_line(sorted(row, key=lambda ln: ln.box[0])) for row in rows]


def _text_line(row: list[OcrLine]) -> TextLine:
    raw = ""
    for line in row:
        raw = join_wide(raw, line.text.strip())
    chars = tuple(c for line in row for c in line.chars)
    box = _union(line.box for line in row)
    ocr = OcrText(text=raw, confidence=_mean_confidence(chars), box=box, chars=chars)
    return TextLine(raw=raw, text=tidy(raw), box=box, ocr=ocr)


_CJK_SPACE = re.compile(r"(?<=\S) (?=\S)")


def tidy(raw: str) -> str:
    """Cleaned OCR text without the spaces the recognizer puts next to CJK characters."""
    text = clean(raw)
    return _CJK_SPACE.sub(lambda m: _space(text, m.start()), text)


def _space(text: str, at: int) -> str:
    return "" if is_wide(text[at - 1]) or is_wide(text[at + 1]) else " "


def _is_page_number(line: TextLine, page_height: float) -> bool:
    """Page numbers such as "- 2 -" or "第 2 页" in the top or bottom margin."""
    in_margin = line.box[1] > 0.88 * page_height or line.box[3] < 0.08 * page_height
    return in_margin and bool(PAGE_NUMBER.match(line.text))


def _union(boxes: Iterable[BBox]) -> BBox:
    boxes = list(boxes)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _mean_confidence(chars: Sequence[OcrChar]) -> float:
    return round(sum(c.confidence for c in chars) / len(chars), 5) if chars else 0.0


# ---------------------------------------------------------------- a document


def blocks_from_pages(pages: Sequence[PageRead]) -> list[Block]:
    """The blocks of a document's pages, in reading order: tables continuing over pages joined."""
    pages = sorted(pages, key=lambda p: p.number)
    placed = _joined_tables(pages)
    stream: list[tuple[PageRead, TextLine | Block]] = []
    for page in pages:
        table_index = 0
        for item in page.items:
            if isinstance(item, PageTable):
                block = placed.get((page.number, table_index))
                table_index += 1
                if block is not None:
                    stream.append((page, block))
            else:
                stream.append((page, item))
    return _compose(stream)


def page_items(page: PageRead) -> list[Block | PageTable]:
    """One page's paragraphs and headings as blocks, its tables as read (for a caller that joins them
    with tables of other pages itself)."""
    return _compose([(page, item) for item in page.items])


def _compose(stream: Sequence[tuple[PageRead, TextLine | T]]) -> list[Block | T]:
    """Lines into paragraph and heading blocks; other items (tables) pass through and end paragraphs."""
    margins = {page.number: _margins(page.lines()) for page, _ in stream}
    out: list[Block | T] = []
    para: list[tuple[PageRead, TextLine]] = []
    for page, item in stream:
        if not isinstance(item, TextLine):
            out += _paragraph(para)
            para = []
            out.append(item)
        elif para and not _breaks(para[-1], (page, item), margins):
            para.append((page, item))
        else:
            out += _paragraph(para)
            para = [(page, item)]
    out += _paragraph(para)
    return out


def _margins(lines: list[TextLine]) -> tuple[float, float]:
    """Left and right text margins of a page: the outermost line edges that another line shares."""
    if not lines:
        return 0.0, 0.0
    tol = 0.5 * statistics.median(ln.height for ln in lines)
    starts = sorted(ln.box[0] for ln in lines)
    ends = sorted((ln.box[2] for ln in lines), reverse=True)
    left = next((a for a, b in zip(starts, starts[1:]) if b - a <= tol), starts[0])
    right = next((a for a, b in zip(ends, ends[1:]) if a - b <= tol), ends[0])
    return left, right


def _is_heading(line: TextLine) -> bool:
    return is_section_heading(line.text) and line.text[-1] not in "。;"


def _breaks(
    a: tuple[PageRead, TextLine], b: tuple[PageRead, TextLine], margins: dict[int, tuple[float, float]]
) -> bool:
    """Whether line b starts a new paragraph after line a."""
    (page_a, la), (page_b, lb) = a, b
    if _is_heading(la) or _is_heading(lb):
        return True
    if abs(la.height - lb.height) > SIZE_CHANGE * min(la.height, lb.height):  # another font size
        return True
    left, _ = margins[page_b.number]
    _, right = margins[page_a.number]
    if lb.box[0] > left + 0.8 * lb.height:  # first-line indent (or centred text)
        return True
    if la.box[2] < right - 1.5 * la.height:  # the previous line stops short
        return True
    if page_a.number != page_b.number:
        return page_b.number != page_a.number + 1 or la.text[-1] in SENTENCE_END
    return lb.box[1] - la.box[3] > 1.2 * la.height


def _paragraph(para: list[tuple[PageRead, TextLine]]) -> list[Block]:
    if not para:
        return []
    page = para[0][0]
    raw = text = ""
    for _, line in para:
        raw, text = join_wide(raw, line.raw), join_wide(text, line.text)
    box = _union(line.box for p, line in para if p.number == page.number)
    chars = [c for _, line in para for c in line.ocr.chars]
    kind = "heading" if len(para) == 1 and _is_heading(para[0][1]) else "paragraph"
    return [Block(kind=kind, text=text, raw=raw, provenance=_provenance(page, box, _mean_confidence(chars)))]


def _provenance(page: PageRead, box: BBox, confidence: float) -> Provenance:
    x0, y0, x1, y1 = (round(v * page.scale, 2) for v in box)
    return Provenance(page=page.number, bbox=(x0, y0, x1, y1), origin=Origin.OCR, confidence=confidence)


# ---------------------------------------------------------------- tables across pages


def _joined_tables(pages: Sequence[PageRead]) -> dict[tuple[int, int], Block]:
    """Every table as a block, keyed by (page, index among the page's tables) of its first part."""
    by_number = {p.number: p for p in pages}
    read: dict[tuple[int, GridCell], CellText] = {
        (p.number, c.cell): c for p in pages for t in p.items if isinstance(t, PageTable) for c in t.cells
    }
    out: dict[tuple[int, int], Block] = {}
    for run in _runs(pages):
        grids = {p.number: [t.grid for t in p.items if isinstance(t, PageTable)] for p in run}
        for table in join_pages(grids, run[0].dpi):
            _drop_repeated_header(table, read)
            first = table.cells[0].parts[0]
            index = next(i for i, g in enumerate(grids[first.page]) if first.cell in g.cells)
            out[(first.page, index)] = _table_block(table, read, by_number[first.page])
    return out


def _runs(pages: Sequence[PageRead]) -> list[list[PageRead]]:
    """Consecutive pages where a table ends one page and a table starts the next (nothing between)."""
    runs: list[list[PageRead]] = []
    for page in pages:
        prev = runs[-1][-1] if runs else None
        if prev is not None and _continues(prev, page):
            runs[-1].append(page)
        else:
            runs.append([page])
    return runs


def _continues(prev: PageRead, page: PageRead) -> bool:
    return (
        page.number == prev.number + 1
        and bool(prev.items)
        and bool(page.items)
        and isinstance(prev.items[-1], PageTable)
        and isinstance(page.items[0], PageTable)
    )


def _drop_repeated_header(table: JoinedTable, read: dict[tuple[int, GridCell], CellText]) -> None:
    """Remove header rows printed again where the table goes on to another page."""
    for page in range(table.first_page + 1, table.last_page + 1):
        starts = [c.row for c in table.cells if c.parts[0].page == page]
        if not starts:
            continue
        start = min(starts)
        for k in range(min(MAX_HEADER_ROWS, start), 0, -1):
            if _repeats(table, start, k, read):
                table.cells = [c for c in table.cells if not start <= c.row < start + k]
                for cell in table.cells:
                    if cell.row >= start + k:
                        cell.row -= k
                table.n_rows -= k
                break


def _repeats(table: JoinedTable, start: int, k: int, read: dict[tuple[int, GridCell], CellText]) -> bool:
    """Whether rows start..start+k-1 repeat rows 0..k-1: same cells, about the same text, some of it words."""
    head = _band(table, 0, k)
    again = _band(table, start, k)
    if head is None or again is None or len(head) != len(again) or not head:
        return False
    texts = []
    for a, b in zip(head, again):
        if (a.row, a.col, a.rowspan, a.colspan) != (b.row - start, b.col, b.rowspan, b.colspan):
            return False
        ta, tb = _cell_text(a, read), _cell_text(b, read)
        if SequenceMatcher(None, ta, tb).ratio() < SAME_TEXT and ta != tb:
            return False
        texts.append(ta)
    return any(t and not re.fullmatch(r"[\d.,\s]+", t) for t in texts)


def _band(table: JoinedTable, start: int, k: int) -> list[JoinedCell] | None:
    """The cells of rows start..start+k-1, when none of them reaches past that band; else None."""
    cells = sorted(
        (c for c in table.cells if c.row < start + k and c.row + c.rowspan > start), key=lambda c: (c.row, c.col)
    )
    if any(c.row < start or c.row + c.rowspan > start + k for c in cells):
        return None
    return cells


def _cell_text(cell: JoinedCell, read: dict[tuple[int, GridCell], CellText]) -> str:
    text = ""
    for part in cell.parts:
        text = join_wide(text, read[(part.page, part.cell)].text)
    return text


def _table_block(table: JoinedTable, read: dict[tuple[int, GridCell], CellText], page: PageRead) -> Block:
    cells = [_table_cell(c, read, page.scale) for c in sorted(table.cells, key=lambda c: (c.row, c.col))]
    grid = TableGrid(n_rows=table.n_rows, n_cols=table.n_cols, cells=cells, method="ruling-lines")
    on_first = [c.parts[0].cell.bbox for c in table.cells if c.parts[0].page == table.first_page]
    confidences = [c.provenance.confidence for c in cells]
    return Block(
        kind="table",
        text=" ".join(c.text for c in cells if c.text),
        raw=" ".join(c.raw for c in cells if c.raw),
        provenance=_provenance(page, _union(on_first), round(min(confidences, default=1.0), 5)),
        table=grid,
    )


def _table_cell(cell: JoinedCell, read: dict[tuple[int, GridCell], CellText], scale: float) -> TableCell:
    """A joined cell: texts of its parts joined, provenance and box of its first part; the characters of
    every part (each with its box on its own page)."""
    parts = [read[(p.page, p.cell)] for p in cell.parts]
    raw = text = ""
    for part in parts:
        raw, text = join_wide(raw, part.raw), join_wide(text, part.text)
    chars = tuple(c for part in parts for c in part.chars)
    confidence = _mean_confidence(chars) if chars else 1.0
    if any(part.split for part in parts):  # parted from its neighbour where a ruling was lost
        confidence = round(confidence * SPLIT_CONFIDENCE, 5)
    first = cell.parts[0]
    x0, y0, x1, y1 = (round(v * scale, 2) for v in first.cell.bbox)
    return TableCell(
        row=cell.row,
        col=cell.col,
        rowspan=cell.rowspan,
        colspan=cell.colspan,
        text=clean(text),
        raw=raw,
        provenance=Provenance(
            page=first.page, bbox=(x0, y0, x1, y1), origin=Origin.OCR, confidence=confidence
        ),
        ocr=OcrText(text=raw, confidence=confidence if chars else 0.0, box=first.cell.bbox, chars=chars,
                    ink=None if chars else not all(part.empty for part in parts)),
    )
