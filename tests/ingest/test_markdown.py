"""Markdown backend: a PDF-to-Markdown extraction (r013) and small hand-made files."""
from __future__ import annotations

from pathlib import Path

import pytest

from service.document import Block, Document, Origin, TableCell
from service.ingest.base import backend_for
from service.ingest.markdown import MarkdownBackend
from service.normalize import clean

SOURCE = Path(__file__).resolve().parents[2] / "datasets" / "dev-reports" / "r013" / "source.md"


def texts(row: list[TableCell]) -> list[str]:
    return [c.text for c in row]


def rows_of(block: Block) -> list[list[TableCell]]:
    assert block.table is not None
    return block.table.rows()


def row_with(block: Block, label: str) -> list[TableCell]:
    want = clean(label)
    for row in rows_of(block):
        if want in texts(row):
            return row
    raise AssertionError(f"no row with {want!r}")


def convert_md(tmp_path: Path, text: str, name: str = "report.md") -> Document:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return MarkdownBackend().convert(path, path.read_bytes())


@pytest.fixture(scope="module")
def doc() -> Document:
    data = SOURCE.read_bytes()
    assert MarkdownBackend.accepts(SOURCE, data[:4096])
    return MarkdownBackend().convert(SOURCE, data)


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return SOURCE.read_text(encoding="utf-8").split("\n")


@pytest.fixture(scope="module")
def tables(doc: Document) -> list[Block]:
    return doc.tables()


def test_kind_and_headings_in_order(doc: Document) -> None:
    assert doc.kind == "markdown"
    # the source prints no 五、 heading: section 五's text follows table 4 directly
    assert [b.text for b in doc.blocks if b.kind == "heading"] == [
        "一、总体情况",
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",
        "六、其他需要报告的事项",
    ]
    assert [b.provenance.line for b in doc.blocks if b.kind == "heading"] == [15, 77, 103, 171, 214]


def test_one_table_region_per_table_section(doc: Document, tables: list[Block]) -> None:
    assert len(tables) == 3
    kinds = [b.kind for b in doc.blocks]
    for heading_line, table in zip((77, 103, 171), tables):
        heading = next(b for b in doc.blocks if b.kind == "heading" and b.provenance.line == heading_line)
        assert kinds[doc.blocks.index(heading) + 1] == "table"
        assert doc.blocks[doc.blocks.index(heading) + 1] is table


def test_footers_and_table_titles_are_dropped(doc: Document) -> None:
    everything = [b.text for b in doc.blocks] + [c.text for t in doc.tables() if t.table for c in t.table.cells]
    assert not any("— 5 —" in t or "表二:" in t or "表三:" in t or t.startswith("#") for t in everything)


def test_t2_region_keeps_loose_values_and_label_number_lines(tables: list[Block]) -> None:
    t2 = tables[0]
    assert t2.table is not None and t2.table.method == "whitespace+pipe"
    rows = [texts(r) for r in rows_of(t2)]
    assert rows[:5] == [["第二十条第(一)项"], ["22"], ["(其中修订 16 件)"], ["55"], ["(含自然失效 29 件)"]]
    assert ["行政许可", "0"] in rows
    assert ["信息内容本年处理决定数量"] in rows
    assert rows[-3:] == [
        ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
        ["规章", "22", "235"],
        ["行政规范性文件", "34", "189"],
    ]
    assert t2.provenance.line == 78


def test_t3_pipe_rows(tables: list[Block], lines: list[str]) -> None:
    t3 = tables[1]
    assert t3.table is not None and t3.table.method == "pipe"
    secret = row_with(t3, "1.属于国家秘密")
    assert texts(secret) == ["1.属于国家秘密", "4", "0", "0", "0", "0", "0", "4", ""]
    assert secret[0].provenance.line == 124
    assert lines[123].startswith("| 1.属于国家秘密 | 4 |")
    assert texts(row_with(t3, "（三）不")) == ["(三)不", "4.保护第三方合法权益", "0", "0", "0", "0", "0", "0", "0"]
    assert texts(row_with(t3, "四、结转下年度继续办理")) == ["四、结转下年度继续办理", "290", "3", "0", "0", "0", "0", "293"]


def test_t3_loose_lines_are_single_cell_rows_in_source_order(tables: list[Block]) -> None:
    rows = rows_of(tables[1])
    assert texts(rows[0]) == ["申请人情况"] and rows[0][0].provenance.line == 104
    assert tables[1].provenance.line == 104
    flat = [texts(r) for r in rows]
    i = flat.index(["(二)部分公开(区分处理的,只计这一情"])
    assert flat[i + 1] == ["形,不计其他情形)"]
    assert flat[i + 2] == ["2", "0", "0", "0", "0", "0", "2"]  # the row without a label
    assert ["三、本法提供"] in flat  # a broken label, not a heading
    assert ["0", "0", "0", "0", "0", "0", "0"] in flat
    line_numbers = [r[0].provenance.line for r in rows]
    assert line_numbers == sorted(line_numbers)


def test_t4_region(tables: list[Block]) -> None:
    rows = [texts(r) for r in rows_of(tables[2])]
    assert rows[0] == ["行政复议行政诉讼"]
    assert ["注:行政复议、行政诉讼数量含上年度结转数量。"] in rows
    assert rows[-1] == ["40", "0", "10", "5", "55", "2", "0", "4", "6", "12", "6", "0", "9", "7", "22"]
    assert rows_of(tables[2])[-1][0].provenance.line == 180


def test_paragraphs_join_wrapped_lines_across_footers(doc: Document) -> None:
    paragraphs = [b for b in doc.blocks if b.kind == "paragraph"]
    overall = next(p for p in paragraphs if p.provenance.line == 16)
    assert "考察上海重要讲话精神" in overall.text  # 精 / 神 on two lines
    assert overall.text.endswith("持续推动政务公开工作提质增效。")  # continues after the "— 1 —" footer
    assert "\n" in overall.raw and "— 1 —" not in overall.raw
    assert any(p.text.startswith("(一)主动公开方面") and p.provenance.line == 27 for p in paragraphs)


def test_section_five_text_after_table_four_stays_paragraphs(doc: Document, tables: list[Block]) -> None:
    after = doc.blocks[doc.blocks.index(tables[2]) + 1 :]
    assert [b.kind for b in after] == ["paragraph", "paragraph", "heading", "paragraph"]
    assert after[0].text.startswith("(一)2024 年工作中存在问题的改进情况")
    assert after[-1].text == "2025 年度本机关未收取信息公开处理费。"


def test_provenance(doc: Document) -> None:
    for block in doc.blocks:
        assert block.provenance.origin == Origin.TEXT
        assert block.provenance.page is None and block.provenance.bbox is None
        assert block.provenance.line is not None


# ---------------------------------------------------------------- hand-made


def test_hash_headings_and_a_pipe_table(tmp_path: Path) -> None:
    doc = convert_md(
        tmp_path,
        "# 2021年报告\n\n## 二、主动公开政府信息情况\n\n## 表二：主动公开政府信息情况\n"
        "| 信息内容 | 本年制发件数 |\n|:---|---:|\n| **规章** | ２ |\n\n**六、其他需要报告的事项**\n无\n",
    )
    assert [b.kind for b in doc.blocks] == ["paragraph", "heading", "table", "heading", "paragraph"]
    assert doc.blocks[1].text == "二、主动公开政府信息情况" and doc.blocks[1].raw == "## 二、主动公开政府信息情况"
    table = doc.blocks[2]
    assert [texts(r) for r in rows_of(table)] == [["信息内容", "本年制发件数"], ["规章", "2"]]
    assert doc.blocks[3].text == "六、其他需要报告的事项"


def test_accepts() -> None:
    md = "# 标题\n\n| a | b |\n|---|---|\n| 1 | 2 |\n".encode()
    assert MarkdownBackend.accepts(Path("r.md"), "一、总体情况\n".encode())
    assert MarkdownBackend.accepts(Path("r.txt"), md)
    assert not MarkdownBackend.accepts(Path("r.txt"), "一、总体情况\n规章\t0\n".encode())
    assert not MarkdownBackend.accepts(Path("r.md"), b"%PDF-1.7\n")
    assert not MarkdownBackend.accepts(Path("r"), b"<html><body># x\n|---|---|\n</body></html>")


def test_registry_picks_markdown_for_r013() -> None:
    assert isinstance(backend_for(SOURCE, SOURCE.read_bytes()), MarkdownBackend)
