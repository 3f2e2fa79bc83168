"""Word backend: the r003 report rebuilt as .docx (datasets/fixtures/r003.docx) against its truth,
hand-made documents with merges in both directions, and broken inputs."""
from __future__ import annotations

import importlib
import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path

import docx
import pytest
from bs4 import BeautifulSoup
from docx.document import Document as WordDocument
from docx.oxml import parse_xml

from service.document import Document, TableGrid
from service.ingest.base import REGISTRY, IngestError, load_document
from service.ingest.docx import LEGACY_DOC, DocxBackend
from service.normalize import clean
from service.text import join_cell_lines

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "datasets" / "fixtures" / "r003.docx"
REPORT = ROOT / "datasets" / "dev-reports" / "r003"
OLE_HEAD = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def convert(path: Path) -> Document:
    data = path.read_bytes()
    assert DocxBackend.accepts(path, data[:4096])
    return DocxBackend().convert(path, data)


@pytest.fixture(scope="module")
def r003() -> Document:
    return convert(FIXTURE)


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((REPORT / "truth.json").read_text(encoding="utf-8"))


def grids(doc: Document) -> list[TableGrid]:
    return [b.table for b in doc.tables() if b.table is not None]


def texts(row: list) -> list[str]:
    return [cell.text if cell is not None else "<none>" for cell in row]


def printed(value: object) -> str:
    """How a truth value is printed: null is a blank cell."""
    return "" if value is None else str(value)


# --- the r003 fixture --------------------------------------------------------------------------


def test_fixture_is_small_and_generated_by_the_script() -> None:
    assert FIXTURE.stat().st_size < 100_000
    spec = importlib.util.spec_from_file_location("make_docx_fixture", ROOT / "datasets" / "make_docx_fixture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    built = zipfile.ZipFile(io.BytesIO(module.build())).read("word/document.xml")
    assert built == zipfile.ZipFile(FIXTURE).read("word/document.xml"), "stale: rerun datasets/make_docx_fixture.py"


def test_headings_in_order(r003: Document) -> None:
    assert [b.text for b in r003.blocks if b.kind == "heading"] == [
        "一、总体情况",
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",
        "五、政府信息公开工作存在的主要问题及改进情况",
        "六、其他需要报告的事项",
    ]


def test_paragraphs_and_tables_interleaved_in_source_order(r003: Document) -> None:
    soup = BeautifulSoup((REPORT / "source.html").read_text(encoding="utf-8"), "lxml")
    expected = [
        "<table>" if node.name == "table" else clean(node.get_text())
        for node in soup.body.find_all(["p", "table"], recursive=False)
    ]
    got = ["<table>" if b.kind == "table" else b.text for b in r003.blocks]
    assert got == expected
    assert r003.kind == "docx" and r003.pages == []
    assert r003.metadata["title"] == "2019年上海市人民政府办公厅政府信息公开工作年度报告"


def test_subsections_and_long_numbered_paragraphs_are_not_headings(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_paragraph("（一）主动公开方面")
    word.add_paragraph("一、总体情况。2019年，本机关认真贯彻落实《条例》，全面推进政务公开工作，取得了明显成效。")
    word.add_paragraph("  三、 收到和处理政府信息公开申请情况  ")
    word.add_paragraph("")  # empty paragraphs make no block
    doc = convert(save(word, tmp_path / "headings.docx"))
    assert [b.kind for b in doc.blocks] == ["paragraph", "paragraph", "heading"]
    assert doc.blocks[0].text == "(一)主动公开方面"
    assert doc.blocks[2].text == "三、 收到和处理政府信息公开申请情况"


def test_three_tables_with_their_shapes(r003: Document) -> None:
    assert [(g.n_rows, g.n_cols, g.method) for g in grids(r003)] == [(18, 5, "docx"), (26, 10, "docx"), (4, 15, "docx")]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_every_grid_slot_is_covered_exactly_once(r003: Document, index: int) -> None:
    grid = grids(r003)[index]
    assert sum(c.rowspan * c.colspan for c in grid.cells) == grid.n_rows * grid.n_cols
    assert all(cell is not None for row in grid.expanded() for cell in row)


def test_table3_header_spans(r003: Document) -> None:
    grid = grids(r003)[1]
    spans = {c.text: (c.row, c.col, c.rowspan, c.colspan) for c in grid.cells if c.row < 3}
    assert spans["申请人情况"] == (0, 3, 1, 7)
    assert spans["(本列数据的勾稽关系为:第一项加第二项之和,等于第三项加第四项之和)"] == (0, 0, 3, 3)
    assert spans["自然人"] == (1, 3, 2, 1)
    assert spans["法人或其他组织"] == (1, 4, 1, 5)
    assert spans["总计"] == (1, 9, 2, 1)
    assert [c.text for c in grid.rows()[2]] == ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]
    row_labels = {c.text: (c.row, c.col, c.rowspan, c.colspan) for c in grid.cells if c.col == 0 and c.row >= 3}
    assert row_labels["三、本年度办理结果"] == (5, 0, 20, 1)


def test_table3_granted_row_expanded(r003: Document) -> None:
    row = grids(r003)[1].expanded()[5]
    assert texts(row) == ["三、本年度办理结果", "(一)予以公开", "(一)予以公开", "258", "12", "", "", "1", "1", ""]
    assert row[1] is row[2]  # one printed cell spanning two columns


def _label_path(row: list) -> tuple[str, ...]:
    """Distinct label cells of an expanded row (spanning cells counted once)."""
    labels: list[str] = []
    for cell in row[:3]:
        if cell.text and cell.text not in labels:
            labels.append(cell.text)
    return tuple(labels)


def test_table3_all_rows_match_truth(r003: Document, truth: dict) -> None:
    grid = grids(r003)[1]
    by_path = {_label_path(row): texts(row[3:]) for row in grid.expanded()[3:]}
    columns = truth["table3_columns"]
    assert len(by_path) == len(truth["table3"]) == 23
    for key, values in truth["table3"].items():
        path = tuple(clean(part) for part in key.split(" / "))
        assert by_path[path] == [printed(values[col]) for col in columns], key


def test_table2_rows_match_truth(r003: Document, truth: dict) -> None:
    rows = {row[0].text: [c.text for c in row[1:]] for row in grids(r003)[0].rows()}
    for section in truth["table2"].values():
        for label, values in section.items():
            if label != "_columns":
                assert rows[label] == [printed(values[col]) for col in section["_columns"]], label


def test_table4_rows_match_truth(r003: Document, truth: dict) -> None:
    grid = grids(r003)[2]
    assert [c.text for c in grid.rows()[0]] == ["行政复议", "行政诉讼"]
    assert [c.colspan for c in grid.rows()[0]] == [5, 10]
    values = texts(grid.expanded()[3])
    expected = [printed(v) for group in truth["table4"].values() for v in group.values()]
    assert values == expected


def test_blank_cells_kept_as_empty_text(r003: Document, truth: dict) -> None:
    grid = grids(r003)[1]
    blanks = [c for c in grid.cells if c.row >= 3 and c.col >= 3 and c.text == ""]
    assert len(blanks) == sum(v is None for row in truth["table3"].values() for v in row.values())
    assert {c.raw for c in blanks} == {"\xa0"}  # &nbsp; of the original, kept in raw


def test_cell_paragraphs_joined_without_separator(r003: Document) -> None:
    header = {c.text: c.raw for c in grids(r003)[0].rows()[1]}
    assert header["本年新制作数量"] == "本年新\n制作数量"
    assert header["本年新公开数量"] == "本年新\n公开数量"


def test_provenance_is_docx_without_pages(r003: Document) -> None:
    provenances = [b.provenance for b in r003.blocks] + [c.provenance for g in grids(r003) for c in g.cells]
    assert {(p.origin.value, p.page, p.bbox) for p in provenances} == {("docx", None, None)}


def test_table_block_text_joins_cell_texts(r003: Document) -> None:
    block = r003.tables()[2]
    assert block.text == "行政复议 行政诉讼 结果维持 结果纠正 其他结果 尚未审结 总计 未经复议直接起诉 复议后起诉 " \
        "结果维持 结果纠正 其他结果 尚未审结 总计 结果维持 结果纠正 其他结果 尚未审结 总计 5 2 7 8 1 9"


# --- hand-made documents -----------------------------------------------------------------------


def save(doc: WordDocument, path: Path) -> Path:
    doc.save(str(path))
    return path


def test_merges_in_both_directions(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_paragraph("一、总体情况")
    table = word.add_table(rows=4, cols=4)
    block = table.cell(0, 0).merge(table.cell(1, 1))  # 2x2
    block.text = "合并"
    table.cell(0, 2).merge(table.cell(0, 3)).text = "横向"
    table.cell(1, 2).merge(table.cell(3, 2)).text = "纵向"
    for r, c, text in [(1, 3, "a"), (2, 0, "b"), (2, 1, ""), (2, 3, "c"), (3, 0, "d"), (3, 1, "e"), (3, 3, "f")]:
        table.cell(r, c).text = text
    word.add_paragraph("后记")
    doc = convert(save(word, tmp_path / "merged.docx"))

    assert [b.kind for b in doc.blocks] == ["heading", "table", "paragraph"]
    grid = doc.blocks[1].table
    assert grid is not None and (grid.n_rows, grid.n_cols) == (4, 4)
    spans = {c.text: (c.row, c.col, c.rowspan, c.colspan) for c in grid.cells}
    assert spans["合并"] == (0, 0, 2, 2)
    assert spans["横向"] == (0, 2, 1, 2)
    assert spans["纵向"] == (1, 2, 3, 1)
    assert len(grid.cells) == 1 + 1 + 1 + 7
    assert [texts(row) for row in grid.expanded()] == [
        ["合并", "合并", "横向", "横向"],
        ["合并", "合并", "纵向", "a"],
        ["b", "", "纵向", "c"],
        ["d", "e", "纵向", "f"],
    ]


def _raw_table(rows_xml: str, n_cols: int) -> str:
    grid = "".join('<w:gridCol w:w="1000"/>' for _ in range(n_cols))
    return f"<w:tbl {W_NS}><w:tblPr/><w:tblGrid>{grid}</w:tblGrid>{rows_xml}</w:tbl>"


def _tc(text: str, props: str = "") -> str:
    return f"<w:tc><w:tcPr>{props}</w:tcPr><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"


def test_grid_before_and_vmerge_under_a_gridspan(tmp_path: Path) -> None:
    """Raw Word XML: a row starting late (gridBefore) and a 2-wide cell merged down two rows."""
    rows = (
        "<w:tr>" + _tc("A", '<w:gridSpan w:val="2"/><w:vMerge w:val="restart"/>') + _tc("B") + "</w:tr>"
        "<w:tr>" + _tc("", '<w:gridSpan w:val="2"/><w:vMerge/>') + _tc("C") + "</w:tr>"
        '<w:tr><w:trPr><w:gridBefore w:val="1"/></w:trPr>' + _tc("D") + _tc("E") + "</w:tr>"
    )
    word = docx.Document()
    word.element.body.insert(0, parse_xml(_raw_table(rows, 3)))
    grid = convert(save(word, tmp_path / "raw.docx")).tables()[0].table
    assert grid is not None and (grid.n_rows, grid.n_cols) == (3, 3)
    assert [(c.text, c.row, c.col, c.rowspan, c.colspan) for c in grid.cells] == [
        ("A", 0, 0, 2, 2), ("B", 0, 2, 1, 1), ("C", 1, 2, 1, 1), ("D", 2, 1, 1, 1), ("E", 2, 2, 1, 1),
    ]
    assert texts(grid.expanded()[2]) == ["<none>", "D", "E"]


def test_cell_text_joining_and_tracked_deletions(tmp_path: Path) -> None:
    cell = (
        '<w:tc><w:p><w:r><w:t>法律服务</w:t></w:r></w:p><w:p><w:r><w:t>机构</w:t></w:r>'
        "<w:del><w:r><w:delText>删去</w:delText></w:r></w:del></w:p></w:tc>"
    )
    latin = "<w:tc><w:p><w:r><w:t>Total</w:t></w:r></w:p><w:p><w:r><w:t>count</w:t></w:r></w:p></w:tc>"
    word = docx.Document()
    word.element.body.insert(0, parse_xml(_raw_table(f"<w:tr>{cell}{latin}</w:tr>", 2)))
    grid = convert(save(word, tmp_path / "join.docx")).tables()[0].table
    assert grid is not None
    assert [(c.text, c.raw) for c in grid.cells] == [("法律服务机构", "法律服务\n机构"), ("Total count", "Total\ncount")]
    assert join_cell_lines(["1.", "属于国家秘密", "", " 12 ", "34"]) == "1.属于国家秘密12 34"


def test_nested_table_follows_its_parent_and_layout_table_is_unwrapped(tmp_path: Path) -> None:
    word = docx.Document()
    layout = word.add_table(rows=1, cols=1)  # a 1x1 layout table wrapping the report
    inner = layout.cell(0, 0)
    inner.paragraphs[0].text = "二、主动公开政府信息情况"
    outer = inner.add_table(rows=2, cols=2)
    outer.cell(0, 0).text = "外表"
    nested = outer.cell(1, 1).add_table(rows=1, cols=2)
    nested.cell(0, 0).text = "内表"
    nested.cell(0, 1).text = "7"
    inner.add_paragraph("表后文字")
    doc = convert(save(word, tmp_path / "nested.docx"))

    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "二、主动公开政府信息情况"),
        ("table", "外表"),
        ("table", "内表 7"),
        ("paragraph", "表后文字"),
    ]
    outer_grid = doc.blocks[1].table
    assert outer_grid is not None and texts(outer_grid.expanded()[1]) == ["", ""]


# --- broken and foreign inputs -----------------------------------------------------------------


def test_legacy_doc_gets_the_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "report.doc"
    path.write_bytes(OLE_HEAD + b"\x00" * 504 + "WordDocument".encode("utf-16-le") + b"\x00" * 1024)
    assert DocxBackend.accepts(path, path.read_bytes()[:4096])
    with pytest.raises(IngestError) as err:
        DocxBackend().convert(path, path.read_bytes())
    assert err.value.reason == LEGACY_DOC == "legacy .doc (Word 97-2003) is not supported; save as .docx"


def test_legacy_doc_is_recognised_without_its_extension(tmp_path: Path) -> None:
    word = tmp_path / "report.bin"
    word.write_bytes(OLE_HEAD + b"\x00" * 5000 + "WordDocument".encode("utf-16-le"))
    excel = tmp_path / "sheet.xls"
    excel.write_bytes(OLE_HEAD + b"\x00" * 5000 + "Workbook".encode("utf-16-le"))
    assert DocxBackend.accepts(word, word.read_bytes()[:4096])
    assert not DocxBackend.accepts(excel, excel.read_bytes()[:4096])


def test_registry_routes_legacy_doc_to_the_clear_error(tmp_path: Path) -> None:
    for spec in REGISTRY:  # the other backends are written in parallel
        pytest.importorskip(spec.partition(":")[0])
    path = tmp_path / "report.doc"
    path.write_bytes(OLE_HEAD + b"\x00" * 2048)
    with pytest.raises(IngestError, match=r"legacy \.doc \(Word 97-2003\)"):
        load_document(path)


def test_docx_content_is_recognised_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "download"
    path.write_bytes(FIXTURE.read_bytes())
    assert DocxBackend.accepts(path, path.read_bytes()[:4096])


def test_other_zip_is_not_accepted(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    assert not DocxBackend.accepts(path, path.read_bytes()[:4096])
    assert not DocxBackend.accepts(FIXTURE.with_suffix(".html"), b"<html><body>PK</body></html>")


def test_truncated_docx_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(FIXTURE.read_bytes()[:20_000])
    assert DocxBackend.accepts(path, path.read_bytes()[:4096])
    with pytest.raises(IngestError, match="corrupt .docx: not a readable ZIP archive"):
        DocxBackend().convert(path, path.read_bytes())


def test_zip_without_document_part(tmp_path: Path) -> None:
    path = tmp_path / "empty.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(IngestError, match="without word/document.xml"):
        DocxBackend().convert(path, path.read_bytes())


def test_malformed_document_xml_is_corrupt(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(FIXTURE) as src, zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            blob = src.read(name)
            dst.writestr(name, blob[: len(blob) // 2] if name == "word/document.xml" else blob)
    path = tmp_path / "halfxml.docx"
    path.write_bytes(buf.getvalue())
    with pytest.raises(IngestError, match="corrupt .docx: XMLSyntaxError"):
        DocxBackend().convert(path, path.read_bytes())


def test_imports_registry_module_name() -> None:
    """The registry names this backend; the class must be where it says."""
    spec = next(s for s in REGISTRY if s.startswith("service.ingest.docx:"))
    module, _, cls = spec.partition(":")
    backend = getattr(importlib.import_module(module), cls)
    assert backend is DocxBackend and backend.name == "docx"
