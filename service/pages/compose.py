"""A document's blocks from its page layouts: page furniture dropped, tables joined across pages, lines composed
into paragraphs and headings. One path for every paged source (text layer, OCR, both in one PDF).

Page furniture (``drop_furniture``): page numbers ("- 2 -", "第 2 页", "2/5") in the top or bottom margin, and
running heads and feet: a line in those margins whose text (digits aside) stands in the same margin on at least
half of the pages, two at the least (compared by the weighted edit distance of ``service.fuzzy``, so that an
OCR misreading on one page does not keep it).

Tables across pages (``join_tables``): a table that ends one page and a table that starts the next, with nothing
between them and the same outer edges and compatible columns (within the looser of the two pages' tolerances:
``Table.across_pages``), are one table (method "ruling-lines"); a cell cut by the page break (no ruling line at
the bottom of one part nor at the top of the next) is one cell, with the provenance of its first part and the
text of all; header rows printed again at the top of the next page are dropped (``_repeats``: the same cells,
the same numbers and about the same words, ``service.fuzzy``: a misread character does not make a new row).

Paragraphs (``compose``): lines become paragraphs and headings (``is_section_heading``); a new paragraph starts
at a heading, a change of font size, a first-line indent, after a line that stops short of the right margin, at
a wide vertical gap, and over a page break after a line that ends a sentence. Margins are those of the text
layer's pages together (one printed layout) or of each scanned page alone (each sheet lies differently under
the scanner). A text layer gives exact font sizes, OCR line heights that vary by some 20 %: their thresholds
differ (``ParagraphRules``). Lines of a text-layer page and of a scanned page are never one paragraph.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from service import fuzzy
from service.document import BBox, Block, OcrText, Origin, Provenance, TableCell, TableGrid
from service.lattice import Grid, GridCell, cluster, nearest
from service.normalize import clean, label_key
from service.ocr.read_cells import SPLIT_CONFIDENCE
from service.pages.layout import CellContent, Line, PageLayout, Table, bitmap_rulings, mean_confidence, union
from service.text import is_section_heading, join_wide, tidy

# a page number line: "- 3 -", "第3页", "3/12"; dashes read by OCR as points ("-3.", "·3·") too
PAGE_NUMBER = re.compile(
    r"^[-—–－_.·。\s]*(第\s*)?\d{1,4}(\s*页)?(\s*[/／]\s*\d{1,4})?(\s*共\s*\d{1,4}\s*页)?[-—–－_.·。\s]*$"
)
SENTENCE_END = "。！？；：!?;:）)”"
TOP_MARGIN = 0.08  # share of the page height: a line ending above this is in the top margin
BOTTOM_MARGIN = 0.88  # a line starting below this is in the bottom margin
MAX_HEADER_ROWS = 4  # header rows looked for at the top of a table's continuation
_NUMERIC = re.compile(r"[\d.,\s]+")


@dataclass(frozen=True)
class ParagraphRules:
    """Where a line starts a new paragraph, in font sizes (or line heights)."""

    size_points: float  # font sizes differing by more than this (page units) are another font
    size_share: float  # ... or by more than this share of the smaller one
    indent: float  # a line starting this many sizes right of the left margin is indented (or centred)
    edge_share: float  # margins: line edges within this many line heights of each other are shared ...
    edge_unit: float | None  # ... once rounded to this (page units; None: as they are)
    short: float = 1.5  # a line ending this many sizes left of the right margin stops short
    gap: float = 1.2  # a vertical gap of this many line heights is a paragraph break


RULES = {
    # exact positions: an edge is shared when two lines round to the same point
    Origin.TEXT_LAYER: ParagraphRules(size_points=1.0, size_share=0.0, indent=1.0, edge_share=0.0, edge_unit=1.0),
    Origin.OCR: ParagraphRules(size_points=0.0, size_share=0.4, indent=0.8, edge_share=0.5, edge_unit=None),
}


def compose(pages: Sequence[PageLayout]) -> list[Block]:
    """The blocks of a document's pages, in reading order."""
    pages = sorted(pages, key=lambda p: p.number)
    drop_furniture(pages)
    placed = _joined_tables(pages)
    stream: list[tuple[int, Line | Block]] = []
    for page in pages:
        tables = [it for it in page.items if isinstance(it, Table)]
        for item in page.items:
            if isinstance(item, Line):
                stream.append((page.number, item))
            elif (block := placed.get((page.number, tables.index(item)))) is not None:
                stream.append((page.number, block))
    return _compose(stream, _margins_of(pages))


# ---------------------------------------------------------------- page furniture


def drop_furniture(pages: Sequence[PageLayout]) -> None:
    """Remove page numbers and running heads and feet from the pages' lines."""
    heads = _running_heads(pages)
    for page in pages:
        page.items = [
            it
            for it in page.items
            if not (isinstance(it, Line) and _in_margin(it, page) and (_is_page_number(it) or id(it) in heads))
        ]


def _in_margin(line: Line, page: PageLayout) -> bool:
    return line.box[1] > BOTTOM_MARGIN * page.height or line.box[3] < TOP_MARGIN * page.height


def _is_page_number(line: Line) -> bool:
    return bool(PAGE_NUMBER.match(line.text))


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "", label_key(text))


def _running_heads(pages: Sequence[PageLayout]) -> set[int]:
    """ids of the margin lines whose text (digits aside) stands in a margin on at least half of the pages (two at
    the least), within ``fuzzy.tolerance`` of the weighted edit distance."""
    margin: dict[str, list[tuple[int, Line]]] = {}
    for page in pages:
        for line in page.lines:
            if _in_margin(line, page) and (key := _furniture_key(line.text)):
                margin.setdefault(key, []).append((page.number, line))
    need = max(2, (len(pages) + 1) // 2)
    out: set[int] = set()
    for key, found in margin.items():
        alike = [other for other in margin if other == key or fuzzy.within(key, other, fuzzy.tolerance(key))]
        if len({number for other in alike for number, _ in margin[other]}) >= need:
            out.update(id(line) for _, line in found)
    return out


# ---------------------------------------------------------------- tables across pages


@dataclass(frozen=True)
class TablePart:
    """The piece of a table cell printed on one page (box in page units) and what it holds."""

    page: int
    cell: GridCell
    content: CellContent


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
    """A table that may run over several pages: its grid slots count across the pages (page units)."""

    first_page: int
    last_page: int
    xs: list[float]  # column boundaries
    n_rows: int
    cells: list[JoinedCell]
    origin: Origin
    across_pages: float
    page_starts: dict[int, int] = field(default_factory=dict)  # page -> its first row

    @property
    def n_cols(self) -> int:
        return len(self.xs) - 1


def join_tables(pages: Sequence[tuple[int, Sequence[Table]]]) -> list[JoinedTable]:
    """The tables of consecutive pages (page number, its tables in order), a table that ends one page joined
    with the table that starts the next when their columns agree; repeated header rows dropped.

    Text printed between two compatible tables does not stop the join here: the caller joins only where none
    is (``compose``)."""
    out: list[JoinedTable] = []
    for number, tables in pages:
        for index, table in enumerate(tables):
            prev = out[-1] if out else None
            if prev is not None and index == 0 and prev.last_page == number - 1:
                tol = max(prev.across_pages, table.across_pages)
                if _compatible(prev.xs, table.grid, tol):
                    _append(prev, table, number, tol)
                    continue
            out.append(_single(table, number))
    for joined in out:
        _drop_repeated_headers(joined)
    return out


def join_pages(pages: dict[int, list[Grid]], dpi: float) -> list[JoinedTable]:
    """The grids of a page image per page (pixels), joined across pages as ``join_tables`` joins tables (no text:
    no header rows dropped)."""
    tol = bitmap_rulings(dpi).across_pages
    blank = CellContent(raw="", text="")
    return join_tables(
        [(n, [Table(g, [blank] * len(g.cells), Origin.OCR, tol) for g in pages[n]]) for n in sorted(pages)]
    )


def _single(table: Table, page: int) -> JoinedTable:
    cells = [
        JoinedCell(c.row, c.col, c.rowspan, c.colspan, [TablePart(page, c, content)])
        for c, content in zip(table.grid.cells, table.cells)
    ]
    return JoinedTable(
        page, page, list(table.grid.xs), table.grid.n_rows, cells, table.origin, table.across_pages, {page: 0}
    )


def _compatible(xs: list[float], grid: Grid, tol: float) -> bool:
    other = list(grid.xs)
    if abs(xs[0] - other[0]) > tol or abs(xs[-1] - other[-1]) > tol:
        return False
    short, long = sorted((xs, other), key=len)
    return all(abs(long[nearest(long, x)] - x) <= tol for x in short)


def _append(table: JoinedTable, part: Table, page: int, tol: float) -> None:
    xs = cluster(table.xs + list(part.grid.xs), tol)
    for cell in table.cells:
        _recolumn(cell, cell.parts[0].cell, xs)
    table.xs = xs
    table.page_starts[page] = table.n_rows
    for c, content in sorted(zip(part.grid.cells, part.cells), key=lambda cc: (cc[0].row, cc[0].col)):
        joined = JoinedCell(c.row, c.col, c.rowspan, c.colspan, [TablePart(page, c, content)])
        _recolumn(joined, c, xs)
        if c.row == 0 and c.open_top and _continue(table, joined):
            continue
        joined.row += table.n_rows
        table.cells.append(joined)
    table.n_rows += part.grid.n_rows
    table.last_page = page
    table.across_pages = max(table.across_pages, part.across_pages)


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


def _drop_repeated_headers(table: JoinedTable) -> None:
    """Remove header rows printed again where the table goes on to another page."""
    for page in sorted(table.page_starts):
        start = table.page_starts[page]
        if start == 0:
            continue
        end = min([s for s in table.page_starts.values() if s > start], default=table.n_rows)
        for k in range(min(MAX_HEADER_ROWS, start - 1, end - start - 1), 0, -1):
            if _repeats(table, start, k):
                table.cells = [c for c in table.cells if not start <= c.row < start + k]
                for cell in table.cells:
                    if cell.row >= start + k:
                        cell.row -= k
                table.n_rows -= k
                for p, s in table.page_starts.items():
                    if s > start:
                        table.page_starts[p] = s - k
                break


def _repeats(table: JoinedTable, start: int, k: int) -> bool:
    """Whether rows start..start+k-1 repeat rows 0..k-1: the same cells, the same numbers, about the same words
    (within ``fuzzy.tolerance`` of the weighted edit distance), some of them words."""
    head, again = _band(table, 0, k), _band(table, start, k)
    if head is None or again is None or len(head) != len(again) or not head:
        return False
    if any(
        (a.row, a.col, a.rowspan, a.colspan) != (b.row - start, b.col, b.rowspan, b.colspan)
        for a, b in zip(head, again)
    ):
        return False
    texts = [(_cell_text(a), _cell_text(b)) for a, b in zip(head, again)]
    if any((_NUMERIC.fullmatch(ta) or _NUMERIC.fullmatch(tb)) and ta != tb for ta, tb in texts if ta or tb):
        return False
    if not any(ta and not _NUMERIC.fullmatch(ta) for ta, _ in texts):
        return False
    ka, kb = (label_key("".join(side)) for side in zip(*texts))
    return ka == kb or fuzzy.within(ka, kb, fuzzy.tolerance(ka))


def _band(table: JoinedTable, start: int, k: int) -> list[JoinedCell] | None:
    """The cells of rows start..start+k-1, when none of them reaches past that band; else None."""
    cells = sorted(
        (c for c in table.cells if c.row < start + k and c.row + c.rowspan > start), key=lambda c: (c.row, c.col)
    )
    if any(c.row < start or c.row + c.rowspan > start + k for c in cells):
        return None
    return cells


def _cell_text(cell: JoinedCell) -> str:
    text = ""
    for part in cell.parts:
        text = join_wide(text, part.content.text)
    return clean(text)


def _joined_tables(pages: Sequence[PageLayout]) -> dict[tuple[int, int], Block]:
    """Every table as a block, keyed by (page, index among the page's tables) of its first part."""
    out: dict[tuple[int, int], Block] = {}
    for run in _runs(pages):
        tables = {p.number: [t for t in p.items if isinstance(t, Table)] for p in run}
        for table in join_tables(list(tables.items())):
            first = table.cells[0].parts[0]
            index = next(i for i, t in enumerate(tables[first.page]) if any(first.cell is c for c in t.grid.cells))
            out[(first.page, index)] = _table_block(table)
    return out


def _runs(pages: Sequence[PageLayout]) -> list[list[PageLayout]]:
    """Consecutive pages where a table ends one page and a table starts the next (nothing between)."""
    runs: list[list[PageLayout]] = []
    for page in pages:
        prev = runs[-1][-1] if runs else None
        if prev is not None and _continues(prev, page):
            runs[-1].append(page)
        else:
            runs.append([page])
    return runs


def _continues(prev: PageLayout, page: PageLayout) -> bool:
    return (
        page.number == prev.number + 1
        and bool(prev.items)
        and bool(page.items)
        and isinstance(prev.items[-1], Table)
        and isinstance(page.items[0], Table)
    )


def _table_block(table: JoinedTable) -> Block:
    cells = [_table_cell(c) for c in sorted(table.cells, key=lambda c: (c.row, c.col))]
    grid = TableGrid(n_rows=table.n_rows, n_cols=table.n_cols, cells=cells, method="ruling-lines")
    on_first = [c.parts[0].cell.bbox for c in table.cells if c.parts[0].page == table.first_page]
    confidence = round(min((c.provenance.confidence for c in cells), default=1.0), 5)
    return Block(
        kind="table",
        text=" ".join(c.text for c in cells if c.text),
        raw=" ".join(c.raw for c in cells if c.raw),
        provenance=_provenance(table.first_page, union(on_first), table.origin, confidence),
        table=grid,
    )


def _table_cell(cell: JoinedCell) -> TableCell:
    """A joined cell: the texts of its parts joined, the provenance of its first part; read by OCR, the
    characters of every part (each with its box on its own page)."""
    first = cell.parts[0]
    raw = text = ""
    for part in cell.parts:
        raw, text = join_wide(raw, part.content.raw), join_wide(text, part.content.text)
    span = {"row": cell.row, "col": cell.col, "rowspan": cell.rowspan, "colspan": cell.colspan}
    reading = first.content.reading
    if reading is None:  # the text layer: the characters as printed
        provenance = _provenance(first.page, first.cell.bbox, Origin.TEXT_LAYER, 1.0)
        return TableCell(**span, text=clean(raw), raw=raw, provenance=provenance)
    readings = [p.content.reading for p in cell.parts if p.content.reading is not None]
    chars = tuple(c for r in readings for c in r.chars)
    confidence = mean_confidence(chars) if chars else 1.0
    if any(r.split for r in readings):  # parted from its neighbour where a ruling was lost
        confidence = round(confidence * SPLIT_CONFIDENCE, 5)
    ocr = OcrText(
        text=raw,
        confidence=confidence if chars else 0.0,
        box=reading.cell.bbox,
        chars=chars,
        ink=None if chars else not all(r.empty for r in readings),
    )
    provenance = _provenance(first.page, first.cell.bbox, Origin.OCR, confidence)
    return TableCell(**span, text=clean(text), raw=raw, provenance=provenance, ocr=ocr)


# ---------------------------------------------------------------- paragraphs


def _margins_of(pages: Sequence[PageLayout]) -> dict[int, tuple[float, float]]:
    """Left and right text margins per page: the text layer's pages share theirs, a scanned page has its own."""
    layer = [ln for p in pages if p.origin == Origin.TEXT_LAYER for ln in p.lines]
    shared = _margins(layer, RULES[Origin.TEXT_LAYER])
    return {p.number: shared if p.origin == Origin.TEXT_LAYER else _margins(p.lines, RULES[p.origin]) for p in pages}


def _margins(lines: list[Line], rules: ParagraphRules) -> tuple[float, float]:
    """The outermost line edges that another line shares (``rules.edge_share``, ``rules.edge_unit``)."""
    if not lines:
        return 0.0, 0.0
    tol = rules.edge_share * statistics.median(ln.height for ln in lines)
    unit = rules.edge_unit
    starts = sorted(ln.box[0] if unit is None else round(ln.box[0] / unit) * unit for ln in lines)
    ends = sorted((ln.box[2] if unit is None else round(ln.box[2] / unit) * unit for ln in lines), reverse=True)
    left = next((a for a, b in zip(starts, starts[1:]) if b - a <= tol), starts[0])
    right = next((a for a, b in zip(ends, ends[1:]) if a - b <= tol), ends[0])
    return float(left), float(right)


def _compose(stream: Sequence[tuple[int, Line | Block]], margins: dict[int, tuple[float, float]]) -> list[Block]:
    """Lines into paragraph and heading blocks; tables pass through and end paragraphs."""
    out: list[Block] = []
    para: list[tuple[int, Line]] = []
    for page, item in stream:
        if isinstance(item, Block):
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


def _is_heading(line: Line) -> bool:
    """A section heading line (一、总体情况); a line that ends a sentence (。 or ;) is a one-line paragraph."""
    return is_section_heading(line.text) and line.text[-1] not in "。;"


def _breaks(a: tuple[int, Line], b: tuple[int, Line], margins: dict[int, tuple[float, float]]) -> bool:
    """Whether line b starts a new paragraph after line a."""
    (page_a, la), (page_b, lb) = a, b
    if la.origin != lb.origin or _is_heading(la) or _is_heading(lb):
        return True
    rules = RULES[la.origin]
    if abs(la.size - lb.size) > rules.size_points + rules.size_share * min(la.size, lb.size):  # another font
        return True
    left, _ = margins[page_b]
    _, right = margins[page_a]
    if lb.box[0] > left + rules.indent * lb.size:  # first-line indent (or centred text)
        return True
    if la.box[2] < right - rules.short * la.size:  # the previous line stops short
        return True
    if page_a != page_b:
        return page_b != page_a + 1 or la.text[-1] in SENTENCE_END
    return lb.box[1] - la.box[3] > rules.gap * la.height


def _paragraph(para: list[tuple[int, Line]]) -> list[Block]:
    if not para:
        return []
    page, first = para[0]
    raw = ""
    for _, line in para:
        raw = join_wide(raw, line.raw)
    box = union(line.box for p, line in para if p == page)
    kind = "heading" if len(para) == 1 and _is_heading(first) else "paragraph"
    readings = [line.ocr for _, line in para if line.ocr is not None]
    confidence = 1.0 if first.origin == Origin.TEXT_LAYER else mean_confidence([c for r in readings for c in r.chars])
    return [Block(kind=kind, text=tidy(raw), raw=raw, provenance=_provenance(page, box, first.origin, confidence))]


def _provenance(page: int, box: BBox, origin: Origin, confidence: float) -> Provenance:
    x0, y0, x1, y1 = (round(v, 2) for v in box)
    return Provenance(page=page, bbox=(x0, y0, x1, y1), origin=origin, confidence=confidence)
