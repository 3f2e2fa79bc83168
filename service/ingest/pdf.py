"""PDF text-layer backend: pdfplumber characters and ruling lines -> Document.

Per page:
1. characters (overprinted duplicates dropped) and ruling segments (stroked lines, stroked rectangle
   borders, thin filled bars; white strokes and background fills are ignored);
2. tables: ruling segments that touch form a table; the column/row boundaries are the clustered segment
   positions; neighbouring grid slots not separated by a ruling line form one spanning cell; every
   character goes to the cell holding its centre;
3. the other characters form lines (in reading order: top to bottom) and paragraphs (split on first-line
   indent, short line, font-size change, wide gap, section headings, tables); page numbers are dropped.

Across pages:
- a table that ends one page and a table that starts the next page, with the same outer edges and
  compatible columns, are one table (method "ruling-lines"): a header row repeated on the next page is
  dropped; cells cut by the page break (no ruling line at the bottom of one page nor at the top of the
  next) are joined into one cell (rowspan grows, provenance of the first part);
- a paragraph cut by a page break (last line full, next page's first line not indented) is joined
  (provenance of the first part).

Pages without a text layer (no characters, or a few over a page-sized image: scans) are listed in
metadata["image_only_pages"] ("3,4") and read by OCR (``service.ocr.page``): rendered at the configured
resolution (``settings().ocr.dpi``), their tables read cell by cell and their text line by line; their
Page has origin "ocr" and their blocks and cells provenance origin "ocr" with boxes in PDF points (of
the page turned upright when the scan lies on its side). Their tables join text-layer tables of the
neighbouring pages as above, so mixed PDFs (text pages and scanned pages) read as one document. The OCR
engine is loaded only for such pages; a missing engine raises IngestError naming what to install.
Pages with text and an image covering a quarter of the page or more (often a table pasted as a picture)
are listed in metadata["large_image_pages"]. metadata also carries page_count and the PDF's
title/creator/producer.
"""
from __future__ import annotations

import io
import re
import statistics
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import pdfplumber
import pypdfium2
from pdfplumber.page import Page as PlumberPage

from service.config import settings
from service.document import Block, Document, OcrText, Origin, Page, Provenance, TableCell, TableGrid
from service.ingest.base import Backend, IngestError, is_section_heading, is_wide, join_wide, sha256
from service.lattice import boundaries, cluster, components, covered, merge_slots, nearest
from service.normalize import clean

if TYPE_CHECKING:
    from service.ocr.base import OcrEngine
    from service.ocr.page import PageRead, PageTable

TOL = 2.5  # points: ruling lines closer than this are the same boundary
SPACE_GAP = 0.25  # gap between characters, in font sizes, that reads as a space (non-CJK text)
MAX_THIN = 2.0  # a filled rectangle thinner than this is a ruling line
PAGE_NUMBER = re.compile(r"^[-—–－_\s]*(第\s*)?\d{1,4}(\s*页)?(\s*[/／]\s*\d{1,4})?(\s*共\s*\d{1,4}\s*页)?[-—–－_\s]*$")
SENTENCE_END = "。！？；：!?;:）)”"


Point = tuple[float, float]


@dataclass(slots=True)
class _Char:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(slots=True)
class _Seg:
    """An axis-aligned ruling segment: pos is x (vertical) or y (horizontal); start..end along it."""

    vertical: bool
    pos: float
    start: float
    end: float


@dataclass
class _Line:
    chars: list[_Char]
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass
class _Cell:
    row: int
    rowspan: int
    x0: float
    x1: float
    top: float
    bottom: float
    page: int
    open_top: bool
    open_bottom: bool
    chars: list[_Char] = field(default_factory=list)
    raw: str = ""
    col: int = 0
    colspan: int = 1
    origin: Origin = Origin.TEXT_LAYER
    ocr: OcrText | None = None  # OCR'd cells: the reading (characters, confidences, alternatives)
    read_text: str | None = None  # OCR'd cells: the text as read, cleaned and corrected (digits)

    @property
    def text(self) -> str:
        return self.read_text if self.read_text is not None else clean(self.raw)

    @property
    def confidence(self) -> float:
        return self.ocr.confidence if self.ocr is not None and self.ocr.chars else 1.0


@dataclass
class _Table:
    page: int
    xs: list[float]  # column boundaries
    ys: list[float]  # row boundaries (of the first page part)
    n_rows: int
    cells: list[_Cell]
    end_page: int = 0  # page of the last part, once parts from later pages are appended
    origin: Origin = Origin.TEXT_LAYER

    def __post_init__(self) -> None:
        self.end_page = self.end_page or self.page

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.xs[0], self.ys[0], self.xs[-1], self.ys[-1])


@dataclass
class _RawPage:
    """What pdfplumber gives for a page: characters and drawing objects (dicts)."""

    number: int
    width: float
    height: float
    chars: list[_Char]
    paths: list[dict[str, Any]]  # lines and curves
    rects: list[dict[str, Any]]
    images: list[dict[str, Any]]


@dataclass
class _PageLayout:
    number: int
    width: float
    height: float
    image_only: bool
    large_image: bool  # an image covers a quarter of the page or more (a pasted table, a scan)
    items: list[_Line | _Table | Block]  # reading order; blocks: paragraphs and headings read by OCR
    origin: Origin = Origin.TEXT_LAYER


class PdfBackend(Backend):
    name = "pdf"

    @classmethod
    def accepts(cls, path: Path, head: bytes) -> bool:
        return head.startswith(b"%PDF") or (path.suffix.lower() == ".pdf" and b"%PDF-" in head[:1024])

    def convert(self, path: Path, data: bytes) -> Document:
        metadata = _open_check(path, data)
        layouts = [_layout_page(page) for page in _read_pages(path, data)]
        if not layouts:
            raise IngestError(path, "PDF has no pages")
        image_only = [str(p.number) for p in layouts if p.image_only]
        if image_only:
            metadata["image_only_pages"] = ",".join(image_only)
            layouts = _ocr_pages(path, data, layouts)
            metadata["ocr_engine"] = settings().ocr.engine
            metadata["ocr_dpi"] = str(settings().ocr.dpi)
        with_images = [str(p.number) for p in layouts if p.large_image and not p.image_only]
        if with_images:
            metadata["large_image_pages"] = ",".join(with_images)
        metadata["page_count"] = str(len(layouts))
        pages = [Page(number=p.number, width=p.width, height=p.height, origin=p.origin) for p in layouts]
        return Document(
            path=str(path), sha256=sha256(data), kind="pdf", pages=pages, blocks=_blocks(layouts), metadata=metadata
        )


# ---------------------------------------------------------------- opening


def _open_check(path: Path, data: bytes) -> dict[str, str]:
    """Open with PDFium, which tells corrupt and password-protected files apart; return the document info."""
    try:
        doc = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            raise IngestError(path, "encrypted PDF: a password is required to open it") from exc
        raise IngestError(path, f"corrupt or unreadable PDF ({message})") from exc
    try:
        if len(doc) == 0:
            raise IngestError(path, "PDF has no pages")
        info = doc.get_metadata_dict(skip_empty=True)
    finally:
        doc.close()
    keys = ("Title", "Creator", "Producer")
    return {f"pdf_{k.lower()}": clean(info[k]) for k in keys if clean(info.get(k, ""))}


def _read_pages(path: Path, data: bytes) -> list[_RawPage]:
    """The objects of every page, parsed once by pdfminer (through pdfplumber)."""
    pages: list[_RawPage] = []
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for page in pdf.pages:
                pages.append(_raw_page(page))
                page.close()
    except Exception as exc:  # pdfminer raises many kinds of errors on broken files
        raise IngestError(path, f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    return pages


def _raw_page(page: PlumberPage) -> _RawPage:
    chars = [_Char(c["text"], c["x0"], c["x1"], c["top"], c["bottom"], c["size"]) for c in page.chars]
    return _RawPage(
        number=page.page_number,
        width=float(page.width),
        height=float(page.height),
        chars=chars,
        paths=page.lines + page.curves,
        rects=page.rects,
        images=page.images,
    )


# ---------------------------------------------------------------- one page


def _layout_page(page: _RawPage) -> _PageLayout:
    chars = _dedupe(page.chars)
    number, width, height = page.number, page.width, page.height
    image_share = max((_area(im) / (width * height) for im in page.images), default=0.0)
    if _is_image_only(chars, image_share):
        return _PageLayout(number, width, height, True, image_share >= 0.25, [])
    tables = _find_tables(_ruling_segments(page), number)
    flow = _assign_to_tables(chars, tables)
    for table in tables:
        for cell in table.cells:
            cell.raw = _join_lines(_group_lines(cell.chars))
    lines = [ln for ln in _group_lines(flow) if not _is_page_furniture(ln, height)]
    items: list[_Line | _Table] = [*lines, *tables]
    items.sort(key=lambda it: it.top if isinstance(it, _Line) else it.ys[0])
    return _PageLayout(number, width, height, False, image_share >= 0.25, items)


def _area(obj: dict[str, Any]) -> float:
    return max(float(obj["x1"] - obj["x0"]), 0.0) * max(float(obj["bottom"] - obj["top"]), 0.0)


def _is_image_only(chars: list[_Char], image_share: float) -> bool:
    """No text at all, or a few characters (a page number) over a page-sized image: a scan."""
    visible = sum(1 for c in chars if not c.text.isspace())
    return visible == 0 or (visible < settings().ocr.min_text_chars_per_page and image_share >= 0.5)


def _dedupe(chars: list[_Char]) -> list[_Char]:
    """Drop overprinted copies (fake bold): same text within a point of a kept character."""
    seen: dict[tuple[str, int, int], _Char] = {}
    out: list[_Char] = []
    for c in chars:
        rx, ry = round(c.x0), round(c.top)
        duplicate = any(
            (other := seen.get((c.text, rx + dx, ry + dy))) is not None
            and abs(other.x0 - c.x0) <= 1
            and abs(other.top - c.top) <= 1
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
        )
        if not duplicate:
            seen[(c.text, rx, ry)] = c
            out.append(c)
    return out


def _is_page_furniture(line: _Line, page_height: float) -> bool:
    """Page numbers such as "- 2 -" or "第 2 页" in the top or bottom margin."""
    in_margin = line.top > 0.88 * page_height or line.bottom < 0.08 * page_height
    return in_margin and bool(PAGE_NUMBER.match(clean(line.text)))


# ---------------------------------------------------------------- scanned pages


def _ocr_pages(path: Path, data: bytes, layouts: list[_PageLayout]) -> list[_PageLayout]:
    """The layouts with every image-only page read by OCR."""
    from service.ocr.render import render_pages

    engine = _ocr_engine(path)
    dpi = settings().ocr.dpi
    numbers = [p.number for p in layouts if p.image_only]
    try:
        images = render_pages(data, numbers, dpi=dpi)
    except pypdfium2.PdfiumError as exc:
        raise IngestError(path, f"cannot render scanned pages for OCR ({exc})") from exc
    return [_ocr_layout(p, images[p.number], engine, dpi) if p.image_only else p for p in layouts]


def _ocr_engine(path: Path) -> OcrEngine:
    from service.ocr.base import OcrUnavailable, get_engine

    config = settings().ocr
    try:
        return get_engine(config.engine, threads=config.threads)
    except OcrUnavailable as exc:
        raise IngestError(path, f"scanned pages need OCR: {exc}") from exc


def _ocr_layout(layout: _PageLayout, image: Any, engine: OcrEngine, dpi: int) -> _PageLayout:
    """A page read by OCR: its paragraphs and headings as blocks, its tables as text-layer tables are
    (so that they join tables of the neighbouring pages), all in PDF points."""
    from service.ocr.page import PageTable, page_items, read_page

    scale = 72 / dpi
    read = read_page(image, engine, layout.number, dpi=dpi, scale=scale)
    items: list[_Line | _Table | Block] = [
        _ocr_table(it, read) if isinstance(it, PageTable) else it for it in page_items(read)
    ]
    width, height = (layout.height, layout.width) if read.turns % 2 else (layout.width, layout.height)
    return _PageLayout(layout.number, width, height, True, layout.large_image, items, Origin.OCR)


def _ocr_table(table: PageTable, read: PageRead) -> _Table:
    s = read.scale
    xs, ys = [x * s for x in table.grid.xs], [y * s for y in table.grid.ys]
    cells = []
    for c in table.cells:
        g = c.cell
        x0, y0, x1, y1 = (v * s for v in g.bbox)
        ocr = OcrText(text=c.raw, confidence=c.confidence if c.chars else 0.0, box=g.bbox, chars=c.chars)
        cells.append(
            _Cell(g.row, g.rowspan, x0, x1, y0, y1, read.number, g.open_top, g.open_bottom, raw=c.raw, col=g.col,
                  colspan=g.colspan, origin=Origin.OCR, ocr=ocr, read_text=clean(c.text))
        )
    return _Table(read.number, xs, ys, table.grid.n_rows, cells, origin=Origin.OCR)


# ---------------------------------------------------------------- ruling lines


def _ruling_segments(page: _RawPage) -> list[_Seg]:
    segs: list[_Seg] = []
    for obj in page.paths:
        if obj.get("stroke", True) and not _is_white(obj.get("stroking_color")):
            segs += [s for a, b in _straight_pieces(obj) if (s := _axis_segment(a, b)) is not None]
    for rect in page.rects:
        segs += _rect_segments(rect)
    return segs


def _straight_pieces(obj: dict[str, Any]) -> list[tuple[Point, Point]]:
    """The straight pieces of a drawn path (moveto/lineto/closepath; curves are skipped)."""
    path = obj.get("path")
    if not path:
        pts = obj.get("pts") or [(obj["x0"], obj["top"]), (obj["x1"], obj["bottom"])]
        return list(zip(pts, pts[1:]))
    pieces: list[tuple[Point, Point]] = []
    start: Point | None = None
    here: Point | None = None
    for cmd, *pts in path:
        if cmd == "m" and pts:
            start = here = pts[-1]
        elif cmd == "l" and pts and here is not None:
            pieces.append((here, pts[-1]))
            here = pts[-1]
        elif cmd == "h" and here is not None and start is not None:
            pieces.append((here, start))
            here = start
        elif pts:
            here = pts[-1]
    return pieces


def _axis_segment(a: Point, b: Point) -> _Seg | None:
    (xa, ya), (xb, yb) = a, b
    if abs(ya - yb) <= 1 and abs(xa - xb) > 1:
        return _Seg(False, (ya + yb) / 2, min(xa, xb), max(xa, xb))
    if abs(xa - xb) <= 1 and abs(ya - yb) > 1:
        return _Seg(True, (xa + xb) / 2, min(ya, yb), max(ya, yb))
    return None


def _rect_segments(rect: dict[str, Any]) -> list[_Seg]:
    x0, x1, top, bottom = rect["x0"], rect["x1"], rect["top"], rect["bottom"]
    if rect.get("fill") and not _is_white(rect.get("non_stroking_color")):
        if bottom - top <= MAX_THIN and x1 - x0 > MAX_THIN:
            return [_Seg(False, (top + bottom) / 2, x0, x1)]
        if x1 - x0 <= MAX_THIN and bottom - top > MAX_THIN:
            return [_Seg(True, (x0 + x1) / 2, top, bottom)]
    if rect.get("stroke") and not _is_white(rect.get("stroking_color")):
        return [
            _Seg(False, top, x0, x1),
            _Seg(False, bottom, x0, x1),
            _Seg(True, x0, top, bottom),
            _Seg(True, x1, top, bottom),
        ]
    return []


def _is_white(color: Any) -> bool:
    if isinstance(color, (int, float)):
        color = (color,)
    if not isinstance(color, (tuple, list)) or not color or not all(isinstance(v, (int, float)) for v in color):
        return False
    if len(color) == 4:  # CMYK
        return all(v <= 0.05 for v in color)
    return all(v >= 0.95 for v in color)


# ---------------------------------------------------------------- tables


def _find_tables(segs: list[_Seg], page: int) -> list[_Table]:
    groups = _connected(_join_collinear(segs))
    tables = [t for group in groups if (t := _table_from(group, page)) is not None]
    return sorted(tables, key=lambda t: t.ys[0])


def _join_collinear(segs: list[_Seg]) -> list[_Seg]:
    """One segment for pieces on the same line that touch or overlap (cell borders, dashes, double strokes).

    Pieces are grouped by position first (chains of positions within TOL), then joined along the line in
    order of their start: rounding positions into buckets would split nearby lines of two tables (x=317.5
    and x=318.9) and let a piece of one swallow a piece of the other that starts before it."""
    out: list[_Seg] = []
    for line in _same_line_groups(segs):
        joined: list[_Seg] = []
        for seg in sorted(line, key=lambda s: s.start):
            last = joined[-1] if joined else None
            if last and abs(last.pos - seg.pos) <= TOL and seg.start <= last.end + TOL:
                last.end = max(last.end, seg.end)
            else:
                joined.append(_Seg(seg.vertical, seg.pos, seg.start, seg.end))
        out += joined
    return out


def _same_line_groups(segs: list[_Seg]) -> list[list[_Seg]]:
    """Segments of one orientation whose positions chain within TOL of each other."""
    groups: list[list[_Seg]] = []
    for seg in sorted(segs, key=lambda s: (s.vertical, s.pos)):
        last = groups[-1][-1] if groups else None
        if last and last.vertical == seg.vertical and seg.pos - last.pos <= TOL:
            groups[-1].append(seg)
        else:
            groups.append([seg])
    return groups


def _connected(segs: list[_Seg]) -> list[list[_Seg]]:
    """Groups of segments that touch, directly or through others."""
    n = len(segs)
    links = ((i, j) for i in range(n) for j in range(i + 1, n) if _touch(segs[i], segs[j]))
    return [[segs[i] for i in group] for group in components(n, links)]


def _touch(a: _Seg, b: _Seg) -> bool:
    if a.vertical == b.vertical:
        return abs(a.pos - b.pos) <= TOL and a.start <= b.end + TOL and b.start <= a.end + TOL
    return a.start - TOL <= b.pos <= a.end + TOL and b.start - TOL <= a.pos <= b.end + TOL


def _coverage(segs: list[_Seg], bounds: list[float]) -> list[list[tuple[float, float]]]:
    """For every boundary, the stretches covered by ruling segments."""
    cover: list[list[tuple[float, float]]] = [[] for _ in bounds]
    for s in segs:
        i = nearest(bounds, s.pos)
        if abs(bounds[i] - s.pos) <= TOL:
            cover[i].append((s.start, s.end))
    return cover


def _table_from(segs: list[_Seg], page: int) -> _Table | None:
    hs = [s for s in segs if not s.vertical]
    vs = [s for s in segs if s.vertical]
    if not hs or not vs:
        return None
    xs = boundaries([s.pos for s in vs], [e for s in hs for e in (s.start, s.end)], TOL)
    ys = boundaries([s.pos for s in hs], [e for s in vs for e in (s.start, s.end)], TOL)
    n_rows, n_cols = len(ys) - 1, len(xs) - 1
    if n_rows < 1 or n_cols < 1:
        return None
    vcover, hcover = _coverage(vs, xs), _coverage(hs, ys)
    slots = merge_slots(xs, ys, vcover, hcover)
    if len(slots) < 2:
        return None
    cells = []
    for r0, r1, c0, c1 in slots:
        open_top = not covered(hcover[r0], xs[c0], xs[c1])
        open_bottom = not covered(hcover[r1], xs[c0], xs[c1])
        cell = _Cell(r0, r1 - r0, xs[c0], xs[c1], ys[r0], ys[r1], page, open_top, open_bottom, col=c0, colspan=c1 - c0)
        cells.append(cell)
    return _Table(page, xs, ys, n_rows, cells)


def _assign_to_tables(chars: list[_Char], tables: list[_Table]) -> list[_Char]:
    """Put every character inside a table into its cell; return the others."""
    lookups = [(t, _slot_lookup(t)) for t in tables]
    flow: list[_Char] = []
    for ch in chars:
        cx, cy = ch.cx, ch.cy
        for table, lookup in lookups:
            x0, y0, x1, y1 = table.bbox
            if x0 <= cx <= x1 and y0 <= cy <= y1:
                r = min(max(bisect_right(table.ys, cy) - 1, 0), len(table.ys) - 2)
                c = min(max(bisect_right(table.xs, cx) - 1, 0), len(table.xs) - 2)
                lookup[r][c].chars.append(ch)
                break
        else:
            flow.append(ch)
    return flow


def _slot_lookup(table: _Table) -> list[list[_Cell]]:
    """The cell covering each grid slot."""
    owner = {(r, c): cell for cell in table.cells for r, c in _slots(cell)}
    return [[owner[(r, c)] for c in range(len(table.xs) - 1)] for r in range(table.n_rows)]


def _slots(cell: _Cell) -> Iterable[tuple[int, int]]:
    return ((r, c) for r in range(cell.row, cell.row + cell.rowspan) for c in range(cell.col, cell.col + cell.colspan))


# ---------------------------------------------------------------- text lines


def _group_lines(chars: list[_Char]) -> list[_Line]:
    """Characters into lines, top to bottom; a character joins a line it overlaps vertically by half."""
    rows: list[list[_Char]] = []
    top = bottom = 0.0
    for ch in sorted(chars, key=lambda c: (c.top, c.x0)):
        height = ch.bottom - ch.top
        if rows and min(bottom, ch.bottom) - max(top, ch.top) >= 0.5 * min(height, bottom - top):
            rows[-1].append(ch)
            top, bottom = min(top, ch.top), max(bottom, ch.bottom)
        else:
            rows.append([ch])
            top, bottom = ch.top, ch.bottom
    lines = [_make_line(row) for row in rows]
    return [ln for ln in lines if ln.text]


def _make_line(chars: list[_Char]) -> _Line:
    chars = sorted(chars, key=lambda c: c.x0)
    parts: list[str] = []
    prev: _Char | None = None
    pending_space = False
    for ch in chars:
        if ch.text.isspace() or not ch.text:
            pending_space = True
            continue
        if prev is not None:
            gap = ch.x0 - prev.x1
            spaced = pending_space or gap > SPACE_GAP * min(ch.size, prev.size)
            if spaced and not (is_wide(prev.text[-1]) or is_wide(ch.text[0])):
                parts.append(" ")
        parts.append(ch.text)
        prev, pending_space = ch, False
    visible = [c for c in chars if c.text.strip()] or chars
    return _Line(
        chars=visible,
        text="".join(parts),
        x0=min(c.x0 for c in visible),
        x1=max(c.x1 for c in visible),
        top=min(c.top for c in visible),
        bottom=max(c.bottom for c in visible),
        size=statistics.median(c.size for c in visible),
    )


def _join_lines(lines: list[_Line]) -> str:
    """Raw text of lines: no space next to CJK text (stacked characters, wrapped sentences), else one space."""
    text = ""
    for line in lines:
        text = join_wide(text, line.text)
    return text


# ---------------------------------------------------------------- document assembly


def _blocks(layouts: list[_PageLayout]) -> list[Block]:
    items: list[tuple[int, _Line | _Table | Block]] = [(p.number, it) for p in layouts for it in p.items]
    items = _merge_page_tables(items)
    left, right = _margins([it for _, it in items if isinstance(it, _Line)])
    blocks: list[Block] = []
    para: list[tuple[int, _Line]] = []  # lines of the open paragraph; para[-1] is the previous item
    for page, item in items:
        if isinstance(item, (_Table, Block)):
            blocks += _flush(para)
            para = []
            blocks.append(_table_block(item) if isinstance(item, _Table) else item)
        elif para and not _breaks(para[-1], (page, item), left, right):
            para.append((page, item))
        else:
            blocks += _flush(para)
            para = [(page, item)]
    blocks += _flush(para)
    return blocks


def _margins(lines: list[_Line]) -> tuple[float, float]:
    """Text margins: the leftmost and rightmost line edges shared by at least two lines."""
    if not lines:
        return 0.0, 0.0
    starts = Counter(round(ln.x0) for ln in lines)
    ends = Counter(round(ln.x1) for ln in lines)
    shared_starts = [x for x, n in starts.items() if n >= 2] or list(starts)
    shared_ends = [x for x, n in ends.items() if n >= 2] or list(ends)
    return float(min(shared_starts)), float(max(shared_ends))


def _is_heading(line: _Line) -> bool:
    """A section heading line (一、总体情况); a PDF line that ends a sentence (。 or ;) is a one-line paragraph."""
    text = clean(line.text)
    return is_section_heading(text) and text[-1] not in "。;"


def _breaks(a: tuple[int, _Line], b: tuple[int, _Line], left: float, right: float) -> bool:
    """Whether line b starts a new paragraph after line a."""
    (page_a, la), (page_b, lb) = a, b
    if _is_heading(la) or _is_heading(lb):
        return True
    if abs(la.size - lb.size) > 1.0:
        return True
    if lb.x0 > left + 1.0 * lb.size:  # first-line indent (or centred text)
        return True
    if la.x1 < right - 1.5 * la.size:  # the previous line stops short
        return True
    if page_a != page_b:
        return page_b != page_a + 1 or la.text[-1] in SENTENCE_END
    return lb.top - la.bottom > 1.2 * (la.bottom - la.top)


def _flush(para: list[tuple[int, _Line]]) -> list[Block]:
    if not para:
        return []
    page = para[0][0]
    first_page = [ln for p, ln in para if p == page]
    raw = _join_lines([ln for _, ln in para])
    bbox = (
        min(ln.x0 for ln in first_page),
        min(ln.top for ln in first_page),
        max(ln.x1 for ln in first_page),
        max(ln.bottom for ln in first_page),
    )
    kind = "heading" if len(para) == 1 and _is_heading(para[0][1]) else "paragraph"
    return [Block(kind=kind, text=clean(raw), raw=raw, provenance=_prov(page, bbox))]


def _prov(
    page: int, bbox: tuple[float, float, float, float], origin: Origin = Origin.TEXT_LAYER, confidence: float = 1.0
) -> Provenance:
    x0, y0, x1, y1 = (round(v, 2) for v in bbox)
    return Provenance(page=page, bbox=(x0, y0, x1, y1), origin=origin, confidence=confidence)


def _table_block(table: _Table) -> Block:
    cells = [
        TableCell(
            row=c.row,
            col=c.col,
            rowspan=c.rowspan,
            colspan=c.colspan,
            text=c.text,
            raw=c.raw,
            provenance=_prov(c.page, (c.x0, c.top, c.x1, c.bottom), c.origin, c.confidence),
            ocr=c.ocr,
        )
        for c in sorted(table.cells, key=lambda c: (c.row, c.col))
    ]
    grid = TableGrid(n_rows=table.n_rows, n_cols=len(table.xs) - 1, cells=cells, method="ruling-lines")
    text = " ".join(c.text for c in cells if c.text)
    raw = " ".join(c.raw for c in cells if c.raw)
    confidence = min((c.provenance.confidence for c in cells), default=1.0)
    provenance = _prov(table.page, table.bbox, table.origin, confidence)
    return Block(kind="table", text=text, raw=raw, provenance=provenance, table=grid)


# ---------------------------------------------------------------- tables across pages


def _merge_page_tables(items: list[tuple[int, _Line | _Table]]) -> list[tuple[int, _Line | _Table]]:
    """Join a table ending one page with the table starting the next when their columns agree."""
    out: list[tuple[int, _Line | _Table]] = []
    for page, item in items:
        prev = out[-1][1] if out else None
        continued = isinstance(prev, _Table) and prev.end_page == page - 1
        if isinstance(item, _Table) and isinstance(prev, _Table) and continued and _compatible(prev, item):
            _append_table(prev, item)
            prev.end_page = page
        else:
            out.append((page, item))
    return out


def _compatible(a: _Table, b: _Table) -> bool:
    if abs(a.xs[0] - b.xs[0]) > TOL or abs(a.xs[-1] - b.xs[-1]) > TOL:
        return False
    short, long = sorted((a.xs, b.xs), key=len)
    return all(abs(long[nearest(long, x)] - x) <= TOL for x in short)


def _append_table(a: _Table, b: _Table) -> None:
    xs = cluster(a.xs + b.xs, TOL)
    for cell in a.cells + b.cells:
        cell.col = nearest(xs, cell.x0)
        cell.colspan = max(nearest(xs, cell.x1) - cell.col, 1)
    a.xs = xs
    repeated = _repeated_header_rows(a, b)
    for cell in sorted(b.cells, key=lambda c: (c.row, c.col)):
        if cell.row < repeated:
            continue
        if not repeated and cell.row == 0 and cell.open_top and _continue_cell(a, cell):
            continue
        cell.row += a.n_rows - repeated
        a.cells.append(cell)
    a.n_rows += b.n_rows - repeated


def _continue_cell(a: _Table, part: _Cell) -> bool:
    """Join a cell cut by the page break to its first part; False when there is none."""
    for cell in a.cells:
        if (
            cell.row + cell.rowspan == a.n_rows
            and cell.open_bottom
            and cell.col == part.col
            and cell.colspan == part.colspan
        ):
            cell.rowspan += part.rowspan
            if cell.read_text is not None:
                cell.read_text = join_wide(cell.read_text, part.text)
                cell.ocr = _joined_reading(cell.ocr, part.ocr)
            cell.raw = join_wide(cell.raw, part.raw)
            cell.open_bottom = part.open_bottom
            return True
    return False


def _joined_reading(first: OcrText | None, then: OcrText | None) -> OcrText | None:
    """The OCR reading of a cell cut by a page break: the box of its first part and the characters of
    both parts (each with its box on its own page)."""
    if first is None or then is None:
        return first
    chars = first.chars + then.chars
    confidence = round(sum(c.confidence for c in chars) / len(chars), 5) if chars else 0.0
    return OcrText(text=join_wide(first.text, then.text), confidence=confidence, box=first.box, chars=chars)


def _row_signature(table: _Table, k: int) -> list[tuple[int, int, int, int, str]]:
    return sorted((c.row, c.col, c.colspan, c.rowspan, c.text) for c in table.cells if c.row < k)


def _repeated_header_rows(a: _Table, b: _Table) -> int:
    """How many leading rows of b repeat a's header (same cells, same text, some of it not a number)."""
    for k in range(min(4, a.n_rows - 1, b.n_rows - 1), 0, -1):
        sig = _row_signature(b, k)
        if any(c.row + c.rowspan > k for c in b.cells if c.row < k):
            continue
        if sig == _row_signature(a, k) and any(t and not re.fullmatch(r"[\d.,\s]+", t) for *_, t in sig):
            return k
    return 0
