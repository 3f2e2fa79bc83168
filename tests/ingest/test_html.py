"""HTML backend: real reports (clean HTML and Word-exported site pages) and small hand-made pages."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.document import Block, Document, Origin, TableCell, TableGrid
from service.ingest.base import IngestError
from service.ingest.html import HtmlBackend
from service.normalize import clean, label_key, parse_number

REPORTS = Path(__file__).resolve().parents[2] / "datasets" / "dev-reports"
SOURCES = {"r003": "source.html", "r005": "page.html", "r010": "page.html"}

HEADINGS_2019_SHANGHAI = [
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、政府信息公开工作存在的主要问题及改进情况",
    "六、其他需要报告的事项",
]
HEADINGS_PINGTAN = HEADINGS_2019_SHANGHAI[:4] + ["五、存在的主要问题及改进情况", "六、其他需要报告的事项"]


# ---------------------------------------------------------------- helpers


def convert(path: Path) -> Document:
    data = path.read_bytes()
    assert HtmlBackend.accepts(path, data[:4096])
    return HtmlBackend().convert(path, data)


def convert_text(tmp_path: Path, html: str | bytes, name: str = "page.html") -> Document:
    path = tmp_path / name
    path.write_bytes(html.encode("utf-8") if isinstance(html, str) else html)
    return HtmlBackend().convert(path, path.read_bytes())


def row_cells(grid: TableGrid, r: int) -> list[TableCell]:
    """Distinct cells of an expanded grid row, left to right (a spanning cell once)."""
    out: list[TableCell] = []
    for cell in grid.expanded()[r]:
        if cell is not None and all(cell is not seen for seen in out):
            out.append(cell)
    return out


def split_row(grid: TableGrid, r: int) -> tuple[list[str], list[str]]:
    """Label texts and value texts of an expanded row (values: numbers, blanks)."""
    labels: list[str] = []
    values: list[str] = []
    for cell in row_cells(grid, r):
        is_value = parse_number(cell.text).status in {"value", "blank", "not_applicable"}
        (values if is_value else labels).append(cell.text)
    return labels, values


def find_row(grid: TableGrid, label_path: list[str]) -> int:
    """Index of the row whose label cells are exactly the given path."""
    wanted = [label_key(label) for label in label_path]
    hits = [r for r in range(grid.n_rows) if [label_key(t) for t in split_row(grid, r)[0]] == wanted]
    assert len(hits) == 1, f"{label_path}: rows {hits}"
    return hits[0]


def printed(value: object) -> str:
    """How a truth value reads in a cell: null is a blank cell."""
    return "" if value is None else clean(str(value))


def cell_at(grid: TableGrid, row: int, col: int) -> TableCell:
    cell = grid.expanded()[row][col]
    assert cell is not None
    return cell


@pytest.fixture(scope="module", params=sorted(SOURCES))
def report(request: pytest.FixtureRequest) -> tuple[str, Document, dict]:
    rid = request.param
    folder = REPORTS / rid
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    return rid, convert(folder / SOURCES[rid]), truth


@pytest.fixture(scope="module")
def docs() -> dict[str, Document]:
    return {rid: convert(REPORTS / rid / name) for rid, name in SOURCES.items()}


# ---------------------------------------------------------------- real reports: all three


def test_three_tables_each_after_its_heading(report: tuple[str, Document, dict]) -> None:
    _, doc, _ = report
    assert doc.kind == "html" and doc.pages == []
    tables = doc.tables()
    assert len(tables) == 3
    before = [doc.blocks[doc.blocks.index(t) - 1] for t in tables]
    assert [(b.kind, b.text[:2]) for b in before] == [("heading", "二、"), ("heading", "三、"), ("heading", "四、")]
    assert all(t.table is not None and t.table.method == "html" for t in tables)


def test_table3_rows_match_truth(report: tuple[str, Document, dict]) -> None:
    """Every t3 row of truth.json: its label path finds one grid row whose values read the truth."""
    _, doc, truth = report
    grid = doc.tables()[1].table
    columns = truth["table3_columns"]
    for path, expected in truth["table3"].items():
        r = find_row(grid, path.split(" / "))
        assert split_row(grid, r)[1] == [printed(expected[c]) for c in columns], path


def test_table4_values_match_truth(report: tuple[str, Document, dict]) -> None:
    _, doc, truth = report
    grid = doc.tables()[2].table
    assert (grid.n_rows, grid.n_cols) == (4, 15)
    expected = [printed(v) for group in truth["table4"].values() for v in group.values()]
    labels, values = split_row(grid, 3)
    assert labels == [] and values == expected


def test_table2_rows_match_truth(report: tuple[str, Document, dict]) -> None:
    _, doc, truth = report
    grid = doc.tables()[0].table
    for block in truth["table2"].values():
        for label, cells in block.items():
            if label == "_columns":
                continue
            r = find_row(grid, [label])
            assert split_row(grid, r)[1] == [printed(v) for v in cells.values()], label


def test_table4_headers_span(report: tuple[str, Document, dict]) -> None:
    _, doc, _ = report
    grid = doc.tables()[2].table
    top = row_cells(grid, 0)
    assert [(c.text, c.colspan) for c in top] == [("行政复议", 5), ("行政诉讼", 10)]
    assert [(c.text, c.rowspan) for c in row_cells(grid, 1)[:5]] == [
        ("结果维持", 2), ("结果纠正", 2), ("其他结果", 2), ("尚未审结", 2), ("总计", 2)
    ]
    assert [c.text for c in grid.rows()[2]] == ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"] * 2


def test_provenance_is_html_without_pages(report: tuple[str, Document, dict]) -> None:
    _, doc, _ = report
    provenances = [b.provenance for b in doc.blocks]
    provenances += [c.provenance for t in doc.tables() for c in t.table.cells]
    assert all(p.origin == Origin.HTML and p.page is None and p.bbox is None for p in provenances)
    assert all(isinstance(p.line, int) and p.line > 0 for p in provenances)


def test_table_block_text_joins_cell_texts(report: tuple[str, Document, dict]) -> None:
    _, doc, _ = report
    for block in doc.tables():
        assert block.text == " ".join(c.text for c in block.table.cells if c.text)


# ---------------------------------------------------------------- r003: clean HTML with blanks


def test_r003_headings_title_and_date(docs: dict[str, Document]) -> None:
    doc = docs["r003"]
    assert [b.text for b in doc.blocks if b.kind == "heading"] == HEADINGS_2019_SHANGHAI
    assert doc.metadata["title"] == "2019年上海市人民政府办公厅政府信息公开工作年度报告"
    assert "published" not in doc.metadata  # the date is only printed in the body
    assert doc.blocks[-1].text == "无。"


def test_r003_table3_header_spans(docs: dict[str, Document]) -> None:
    grid = docs["r003"].tables()[1].table
    assert (grid.n_rows, grid.n_cols) == (26, 10)
    corner = cell_at(grid, 0, 0)
    assert (corner.row, corner.col, corner.rowspan, corner.colspan) == (0, 0, 3, 3)
    assert [(c.text, c.col, c.rowspan, c.colspan) for c in grid.rows()[0][1:]] == [("申请人情况", 3, 1, 7)]
    assert [(c.text, c.col, c.rowspan, c.colspan) for c in grid.rows()[1]] == [
        ("自然人", 3, 2, 1), ("法人或其他组织", 4, 1, 5), ("总计", 9, 2, 1)
    ]
    assert [c.text for c in grid.rows()[2]] == ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]
    group = cell_at(grid, 5, 0)
    assert (group.text, group.rowspan) == ("三、本年度办理结果", 20)


def test_r003_granted_row_keeps_blank_cells(docs: dict[str, Document]) -> None:
    grid = docs["r003"].tables()[1].table
    r = find_row(grid, ["三、本年度办理结果", "(一)予以公开"])
    assert [c.text for c in grid.expanded()[r][3:]] == ["258", "12", "", "", "1", "1", ""]
    blanks = [c for c in grid.cells if c.text == ""]
    assert len(blanks) > 100 and all(not c.raw.strip() for c in blanks)
    assert [c.text for c in docs["r003"].tables()[2].table.rows()[3]] == [
        "5", "", "", "2", "7", "8", "", "", "1", "9", "", "", "", "", ""
    ]


def test_r003_table2_br_joins_cjk_and_spans(docs: dict[str, Document]) -> None:
    grid = docs["r003"].tables()[0].table
    assert (grid.n_rows, grid.n_cols) == (18, 5)
    assert [c.text for c in grid.rows()[1]] == ["信息内容", "本年新制作数量", "本年新公开数量", "对外公开总数量"]
    assert "\n" in grid.rows()[1][1].raw  # 本年新<br />制作数量
    assert [(c.text, c.colspan) for c in grid.rows()[0]] == [("第二十条第(一)项", 5)]
    assert [(c.text, c.col, c.colspan) for c in grid.rows()[17]] == [
        ("政府集中采购", 0, 1), ("6", 1, 2), ("251000元", 3, 2)
    ]


# ---------------------------------------------------------------- r005 / r010: Word HTML in a site page


def test_pingtan_headings_and_metadata(docs: dict[str, Document]) -> None:
    for rid, year, published in (("r005", 2021, "2022-02-08 16:34"), ("r010", 2019, "2020-01-20")):
        doc = docs[rid]
        assert [b.text for b in doc.blocks if b.kind == "heading"] == HEADINGS_PINGTAN, rid
        assert doc.metadata["title"] == f"平潭综合实验区{year}年度政府信息公开工作年度报告"
        assert doc.metadata["page_title"].startswith(doc.metadata["title"] + "_")
        assert doc.metadata["published"].startswith(published)


def test_pingtan_site_chrome_dropped(docs: dict[str, Document]) -> None:
    for rid in ("r005", "r010"):
        text = docs[rid].text()
        assert "版权所有" not in text and "扫一扫" not in text and "首页" not in text, rid
        assert "mso-" not in text and "font-family" not in text and "function(" not in text


def test_r005_table3_padding_column_and_joined_labels(docs: dict[str, Document]) -> None:
    grid = docs["r005"].tables()[1].table
    assert (grid.n_rows, grid.n_cols) == (28, 11)
    assert [(c.text, c.col, c.colspan) for c in grid.rows()[0]][1:] == [("申请人情况", 3, 8)]
    assert [(c.text, c.col, c.rowspan, c.colspan) for c in grid.rows()[1]] == [
        ("自然人", 3, 1, 2), ("法人或其他组织", 5, 1, 5), ("总计", 10, 2, 1)
    ]
    # Word left an empty cell under 自然人 and made 商业企业 (two <p>s) two columns wide.
    assert [(c.text, c.col, c.colspan) for c in grid.rows()[2]] == [
        ("", 3, 1), ("商业企业", 4, 2), ("科研机构", 6, 1), ("社会公益组织", 7, 1), ("法律服务机构", 8, 1), ("其他", 9, 1)
    ]
    r = find_row(grid, ["三、本年度办理结果", "(一)予以公开"])
    assert split_row(grid, r)[1] == ["27", "0", "0", "2", "0", "1", "30"]
    assert [c.text for c in grid.expanded()[r][3:]] == ["27", "0", "0", "0", "2", "0", "1", "30"]


def test_r005_table2_fee_with_decimals(docs: dict[str, Document]) -> None:
    grid = docs["r005"].tables()[0].table
    assert (grid.n_rows, grid.n_cols) == (14, 4)
    assert [(c.text, c.colspan) for c in grid.rows()[13]] == [("行政事业性收费", 1), ("24252.311082", 3)]
    assert grid.rows()[12][1].text == "本年收费金额(单位:万元)"


def test_r005_table4_stacked_header_characters_join(docs: dict[str, Document]) -> None:
    cell = cell_at(docs["r005"].tables()[2].table, 1, 1)
    assert cell.text == "结果纠正"
    assert cell.raw.split("\n") == ["结", "果", "纠", "正"]


def test_r010_repeated_group_label_cells(docs: dict[str, Document]) -> None:
    grid = docs["r010"].tables()[1].table
    assert (grid.n_rows, grid.n_cols) == (26, 10)
    groups = [c for c in grid.cells if c.text == "三、本年度办理结果"]
    assert [(c.row, c.col, c.rowspan) for c in groups] == [(5, 0, 10), (15, 0, 10)]
    r = find_row(grid, ["三、本年度办理结果", "(七)总计"])
    assert split_row(grid, r)[1] == ["23", "0", "0", "0", "0", "0", "23"]


def test_r010_title_lines_are_paragraphs(docs: dict[str, Document]) -> None:
    first = docs["r010"].blocks[:2]
    assert [(b.kind, b.text) for b in first] == [
        ("paragraph", "平潭综合实验区2019年"), ("paragraph", "政府信息公开工作年度报告")
    ]


# ---------------------------------------------------------------- hand-made pages


def test_gbk_page_with_meta_charset(tmp_path: Path) -> None:
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        "<title>某县政府信息公开工作年度报告</title></head><body>"
        "<p>一、总体情况</p><p>本年度主动公开信息1234条。</p>"
        "<table border=1><tr><td>规章</td><td>5</td></tr><tr><td>规范性文件</td><td>&nbsp;</td></tr></table>"
        "</body></html>"
    ).encode("gbk")
    doc = convert_text(tmp_path, html)
    assert doc.metadata == {"title": "某县政府信息公开工作年度报告"}
    assert [(b.kind, b.text) for b in doc.blocks[:2]] == [("heading", "一、总体情况"), ("paragraph", "本年度主动公开信息1234条。")]
    assert [[c.text for c in row] for row in doc.tables()[0].table.rows()] == [["规章", "5"], ["规范性文件", ""]]


def test_gbk_page_without_declaration(tmp_path: Path) -> None:
    doc = convert_text(tmp_path, "<p>六、其他需要报告的事项</p><p>无。</p>".encode("gbk"))
    assert [(b.kind, b.text) for b in doc.blocks] == [("heading", "六、其他需要报告的事项"), ("paragraph", "无。")]


def test_rowspan_colspan_occupancy(tmp_path: Path) -> None:
    doc = convert_text(
        tmp_path,
        "<table>"
        "<tr><td rowspan=2 colspan=2>A</td><td>B</td></tr>"
        "<tr><td rowspan='2'>C</td></tr>"
        "<tr><th>D</th><td>E</td></tr>"
        "<tr><td>F</td><td colspan=0>G</td><td rowspan=9>H</td></tr>"
        "</table>",
    )
    grid = doc.tables()[0].table
    assert (grid.n_rows, grid.n_cols) == (4, 3)
    assert [(c.text, c.row, c.col, c.rowspan, c.colspan) for c in grid.cells] == [
        ("A", 0, 0, 2, 2), ("B", 0, 2, 1, 1), ("C", 1, 2, 2, 1), ("D", 2, 0, 1, 1), ("E", 2, 1, 1, 1),
        ("F", 3, 0, 1, 1), ("G", 3, 1, 1, 1), ("H", 3, 2, 1, 1),  # colspan=0 is 1; rowspan clipped at the end
    ]
    assert [[c.text for c in row] for row in grid.expanded()] == [
        ["A", "A", "B"], ["A", "A", "C"], ["D", "E", "C"], ["F", "G", "H"]
    ]


def test_cell_text_joining(tmp_path: Path) -> None:
    doc = convert_text(
        tmp_path,
        "<table><tr>"
        "<td><p>商业</p><p>企业</p></td>"
        "<td>12<br>5</td>"
        "<td><span>社会</span>\n  <span>公益组织</span></td>"
        "<td><p>2019年</p><p>12月</p></td>"
        "<td><p class=MsoNormal><span style='mso-bidi-font-size:10.5pt'>&nbsp;<o:p></o:p></span></p></td>"
        "<td><p>Total</p><p>amount</p></td>"
        "</tr></table>",
    )
    cells = doc.tables()[0].table.cells
    assert [c.text for c in cells] == ["商业企业", "12 5", "社会公益组织", "2019年12月", "", "Total amount"]
    assert cells[1].raw == "12\n5"


def test_layout_table_wrapping_the_article(tmp_path: Path) -> None:
    doc = convert_text(
        tmp_path,
        "<html><body><table width=100%><tr>"
        "<td><ul><li>首页</li><li>信息公开</li></ul></td>"
        "<td><h2>某局2020年政府信息公开工作年度报告</h2><p>一、总体情况</p><p>本年度工作有序开展。</p>"
        "<p>三、收到和处理政府信息公开申请情况</p>"
        "<table border=1><tr><td>自然人</td><td>总计</td></tr><tr><td>3</td><td>3</td></tr></table>"
        "<p>六、其他需要报告的事项</p><p>无</p></td>"
        "</tr></table></body></html>",
    )
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("paragraph", "首页"),
        ("paragraph", "信息公开"),
        ("paragraph", "某局2020年政府信息公开工作年度报告"),
        ("heading", "一、总体情况"),
        ("paragraph", "本年度工作有序开展。"),
        ("heading", "三、收到和处理政府信息公开申请情况"),
        ("table", "自然人 总计 3 3"),
        ("heading", "六、其他需要报告的事项"),
        ("paragraph", "无"),
    ]
    assert doc.tables()[0].table.n_rows == 2


def test_single_cell_frame_is_layout(tmp_path: Path) -> None:
    doc = convert_text(tmp_path, "<table><tr><td><p>一、总体情况</p><p>正文</p></td></tr></table>")
    assert [(b.kind, b.text) for b in doc.blocks] == [("heading", "一、总体情况"), ("paragraph", "正文")]


def test_article_container_drops_site_chrome(tmp_path: Path) -> None:
    body = "本年度全面推进政务公开工作。" * 20
    doc = convert_text(
        tmp_path,
        "<html><head><style>p{color:red}</style><script>var a='一、脚本';</script></head><body>"
        "<div class=nav><a>首页</a><a>机构概况</a></div>"
        f"<div class='article'><div class='TRS_Editor'><p>一、总体情况</p><p>{body}</p></div></div>"
        "<div id=footer>版权所有</div><script>document.write('x')</script></body></html>",
    )
    assert [b.text for b in doc.blocks] == ["一、总体情况", clean(body)]


def test_body_used_without_container_and_noise_skipped(tmp_path: Path) -> None:
    doc = convert_text(
        tmp_path,
        "<body><div>导航</div><noscript>请启用脚本</noscript><div style='display: none'>隐藏</div>"
        "<div>一、总体情况<br>正文第一行<p>正文第二段</p>尾部文字</div></body>",
    )
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("paragraph", "导航"),
        ("heading", "一、总体情况"),
        ("paragraph", "正文第一行"),
        ("paragraph", "正文第二段"),
        ("paragraph", "尾部文字"),
    ]


def test_heading_rule(tmp_path: Path) -> None:
    long_item = "二、" + "加强组织领导" * 7
    doc = convert_text(
        tmp_path,
        f"<p>五、存在的主要问题及改进情况</p><p>一、是加强学习。二是完善机制。</p><p>{long_item}</p>"
        "<p>（一）主动公开方面</p><h1>某市年度报告</h1>",
    )
    assert [b.kind for b in doc.blocks] == ["heading", "paragraph", "paragraph", "paragraph", "paragraph"]


def test_word_conditional_comments_and_xml_declaration(tmp_path: Path) -> None:
    doc = convert_text(
        tmp_path,
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns:o="urn:schemas-microsoft-com:office:office"><body>'
        "<!--[if gte mso 9]><xml><w:WordDocument>junk</w:WordDocument></xml><![endif]-->"
        "<p class=MsoListParagraph><![if !supportLists]><span>1.</span><![endif]>属于国家秘密<o:p></o:p></p>"
        "</body></html>",
    )
    assert [b.text for b in doc.blocks] == ["1.属于国家秘密"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"<html><head><title>t</title><script>var x=1;</script></head><body>  </body></html>", "no readable text"),
        (b"plain words without any markup", "no HTML markup"),
    ],
)
def test_unreadable_input_raises_naming_the_file(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "broken.html"
    path.write_bytes(data)
    with pytest.raises(IngestError) as info:
        HtmlBackend().convert(path, data)
    assert info.value.path == str(path) and str(path) in str(info.value)
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("report.txt", b"<!DOCTYPE html><html><body>", True),
        ("report", b"\xef\xbb\xbf  <HTML lang=zh>", True),
        ("fragment.txt", b"\n  <table border=1><tr><td>1</td></tr></table>", True),
        ("fragment", b"<P>\xe4\xb8\x80\xe3\x80\x81</P>", True),
        ("page.SHTML", "一、总体情况".encode("utf-8"), True),
        ("page.htm", b"\x00\x01\x02binary", False),
        ("notes.md", b"# Title\n\nSome text with <table> inside.", False),
        ("notes.txt", "一、总体情况\n正文".encode("utf-8"), False),
        ("doc.pdf", b"%PDF-1.7\n", False),
    ],
)
def test_accepts(name: str, head: bytes, expected: bool) -> None:
    assert HtmlBackend.accepts(Path(name), head) is expected


def test_block_kinds_are_heading_paragraph_or_table(docs: dict[str, Document]) -> None:
    for doc in docs.values():
        assert all(isinstance(b, Block) and b.text for b in doc.blocks)
        assert {b.kind for b in doc.blocks} == {"heading", "paragraph", "table"}
