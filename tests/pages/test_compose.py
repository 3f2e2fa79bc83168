"""The composer on page layouts: page furniture dropped, tables joined across pages (a repeated header row dropped,
also when the recognizer read one character of it otherwise), paragraphs over a page break."""

from __future__ import annotations

from service.document import Block, OcrChar, Origin
from service.lattice import Grid, GridCell
from service.ocr.read_cells import CellText
from service.pages.compose import compose
from service.pages.layout import CellContent, Line, PageLayout, Table, bitmap_rulings

WIDTH, HEIGHT = 595.0, 842.0
SIZE = 12.0


def line(text: str, top: float, x0: float = 72.0, x1: float = 520.0, origin: Origin = Origin.TEXT_LAYER) -> Line:
    return Line(raw=text, text=text, box=(x0, top, x1, top + SIZE), size=SIZE, origin=origin)


def page(number: int, *items: Line | Table, origin: Origin = Origin.TEXT_LAYER) -> PageLayout:
    return PageLayout(number, WIDTH, HEIGHT, origin, list(items))


def texts(blocks: list[Block]) -> list[str]:
    return [b.text for b in blocks]


def test_page_numbers_and_running_heads_are_dropped():
    head = "洪泽区人民政府2023年政府信息公开工作年度报告"
    pages = [
        page(
            1,
            line(head, 30),
            line("一、总体情况", 100, 100, 200),
            line("第一页的正文。", 130),
            line("- 1 -", 800, 280, 310),
        ),
        page(2, line(head, 30), line("第二页的正文。", 100), line("第 2 页", 805, 280, 320)),
        # the running head read by OCR with one character wrong, the page number as "3/3"
        page(
            3, line(head.replace("政府信息", "政府信患"), 30), line("第三页的正文。", 100), line("3/3", 800, 280, 300)
        ),
        # the dashes of "- 4 -" read by OCR as a point
        page(4, line("第四页的正文。", 100), line("-4.", 800, 280, 300)),
    ]
    blocks = compose(pages)
    assert texts(blocks) == ["一、总体情况", "第一页的正文。", "第二页的正文。", "第三页的正文。", "第四页的正文。"]
    assert [b.kind for b in blocks] == ["heading", "paragraph", "paragraph", "paragraph", "paragraph"]


def test_a_margin_line_on_one_page_only_stays():
    pages = [page(1, line("报告标题", 30, 200, 400), line("正文。", 100)), page(2, line("正文继续。", 100))]
    assert texts(compose(pages))[0] == "报告标题"


def test_paragraph_cut_by_the_page_break_is_one_paragraph():
    pages = [page(1, line("第一行一直写到页面的右边", 700)), page(2, line("下一页接着写完。", 72))]
    (block,) = compose(pages)
    assert block.text == "第一行一直写到页面的右边下一页接着写完。" and block.provenance.page == 1


# ---------------------------------------------------------------- tables across pages

XS = (100.0, 300.0, 500.0)


def ocr_table(rows: list[tuple[str, str]], top: float, *, open_bottom: bool = False) -> Table:
    """A two-column table read by OCR, one row every 30 units from ``top``."""
    cells, contents = [], []
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            last = r == len(rows) - 1
            box = (XS[c], top + 30 * r, XS[c + 1], top + 30 * (r + 1))
            cell = GridCell(r, c, 1, 1, box, open_bottom=open_bottom and last)
            chars = tuple(OcrChar(text=ch, confidence=0.99, box=box) for ch in text)
            reading = CellText(cell, text, text, 0.99 if chars else 1.0, 0.99 if chars else 1.0, chars, empty=not text)
            cells.append(cell)
            contents.append(CellContent(raw=text, text=text, reading=reading))
    grid = Grid(XS, tuple(top + 30 * r for r in range(len(rows) + 1)), tuple(cells))
    return Table(grid, contents, Origin.OCR, bitmap_rulings(200).across_pages)


def test_repeated_header_with_a_one_character_ocr_difference_is_dropped():
    first = ocr_table([("信息内容", "本年制发件数"), ("规章", "0"), ("行政规范性文件", "5")], 600)
    again = ocr_table([("信息内容", "本年制发件敉"), ("行政许可", "550")], 72)  # 数 read as 敉
    (table,) = compose([page(1, first, origin=Origin.OCR), page(2, again, origin=Origin.OCR)])
    grid = table.table
    assert grid is not None and (grid.n_rows, grid.n_cols) == (4, 2)
    assert [[c.text for c in row] for row in grid.rows()] == [
        ["信息内容", "本年制发件数"],
        ["规章", "0"],
        ["行政规范性文件", "5"],
        ["行政许可", "550"],
    ]
    assert [c.provenance.page for c in grid.cells] == [1] * 6 + [2] * 2
    assert all(c.provenance.origin == Origin.OCR for c in grid.cells)


def test_a_first_row_that_only_looks_like_the_header_stays():
    first = ocr_table([("项目名称", "数量"), ("合计", "12")], 600)
    numbers = ocr_table([("项目名称", "13"), ("其他", "1")], 72)  # another number: a row, not the header
    words = ocr_table([("申请人情况", "数量"), ("其他", "1")], 72)  # other words
    for again in (numbers, words):
        (table,) = compose([page(1, first, origin=Origin.OCR), page(2, again, origin=Origin.OCR)])
        assert table.table is not None and table.table.n_rows == 4


def test_text_between_two_tables_keeps_them_apart():
    first = ocr_table([("项目名称", "数量"), ("合计", "12")], 600)
    again = ocr_table([("项目名称", "数量"), ("其他", "1")], 150)
    blocks = compose(
        [page(1, first, origin=Origin.OCR), page(2, line("另表:", 100, origin=Origin.OCR), again, origin=Origin.OCR)]
    )
    assert [b.kind for b in blocks] == ["table", "paragraph", "table"]


def test_a_cell_cut_by_the_page_break_is_one_cell():
    first = ocr_table([("名称", "数量"), ("政府信息", "1")], 600, open_bottom=True)
    rest = ocr_table([("公开", "2")], 72)
    rest.grid = Grid(
        rest.grid.xs, rest.grid.ys, tuple(GridCell(0, c.col, 1, 1, c.bbox, open_top=True) for c in rest.grid.cells)
    )
    (table,) = compose([page(1, first, origin=Origin.OCR), page(2, rest, origin=Origin.OCR)])
    grid = table.table
    assert grid is not None and grid.n_rows == 3
    cut = [c for c in grid.cells if c.row == 1]
    assert [(c.text, c.rowspan, c.provenance.page) for c in cut] == [("政府信息公开", 2, 1), ("1 2", 2, 1)]
    assert cut[0].ocr is not None and len(cut[0].ocr.chars) == 6  # the characters of both parts
