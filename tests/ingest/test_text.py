"""Plain-text backend: the seed's tab export, crawler text with run-together cells, small hand-made files."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.document import Block, Document, Origin, TableCell
from service.ingest.base import IngestError, backend_for
from service.ingest.text import TextBackend
from service.normalize import clean

REPORTS = Path(__file__).resolve().parents[2] / "datasets" / "dev-reports"

TEMPLATE_HEADINGS = [
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、存在的主要问题及改进情况",
    "六、其他需要报告的事项",
]


# ---------------------------------------------------------------- helpers


def convert(path: Path) -> Document:
    data = path.read_bytes()
    assert TextBackend.accepts(path, data[:4096])
    return TextBackend().convert(path, data)


def convert_text(tmp_path: Path, text: str, *, encoding: str = "utf-8", name: str = "report.txt") -> Document:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return TextBackend().convert(path, path.read_bytes())


def headings(doc: Document) -> list[str]:
    return [b.text for b in doc.blocks if b.kind == "heading"]


def texts(row: list[TableCell]) -> list[str]:
    return [c.text for c in row]


def rows_of(block: Block) -> list[list[TableCell]]:
    assert block.table is not None
    return block.table.rows()


def row_with(block: Block, label: str) -> list[TableCell]:
    """The first grid row holding a cell whose text is clean(label)."""
    want = clean(label)
    for row in rows_of(block):
        if want in texts(row):
            return row
    raise AssertionError(f"no row with {want!r} in {[texts(r) for r in rows_of(block)]}")


def values_after(row: list[TableCell], label: str) -> list[str]:
    texts_ = texts(row)
    return texts_[texts_.index(clean(label)) + 1 :]


def table_after(doc: Document, heading_prefix: str) -> Block:
    """The first table block after the heading that starts with heading_prefix."""
    seen = False
    for block in doc.blocks:
        if block.kind == "heading" and block.text.startswith(heading_prefix):
            seen = True
        elif seen and block.kind == "table":
            return block
    raise AssertionError(f"no table after {heading_prefix}")


# ---------------------------------------------------------------- seed: tab-separated export


@pytest.fixture(scope="module")
def seed() -> Document:
    return convert(REPORTS / "seed" / "source.txt")


@pytest.fixture(scope="module")
def seed_lines() -> list[str]:
    return (REPORTS / "seed" / "source.txt").read_text(encoding="utf-8").split("\n")


def test_seed_is_text_with_headings_in_order_and_the_duplicate_kept(seed: Document) -> None:
    assert seed.kind == "text"
    assert seed.pages == []
    assert headings(seed) == [TEMPLATE_HEADINGS[0], *TEMPLATE_HEADINGS]


def test_seed_has_three_tab_tables_one_per_table_section(seed: Document) -> None:
    tables = seed.tables()
    assert [t.table.method for t in tables if t.table] == ["tab", "tab", "tab"]
    assert table_after(seed, "二、") is tables[0]
    assert table_after(seed, "三、") is tables[1]
    assert table_after(seed, "四、") is tables[2]


def test_seed_t2_rows(seed: Document) -> None:
    t2 = table_after(seed, "二、")
    assert texts(rows_of(t2)[0]) == ["第二十条第(一)项", "", "", ""]
    assert texts(row_with(t2, "行政规范性文件")) == ["行政规范性文件", "36", "0", "36"]
    assert texts(row_with(t2, "行政许可")) == ["行政许可", "0", "", ""]
    assert texts(row_with(t2, "行政事业性收费")) == ["行政事业性收费", "0", "", ""]
    assert len(rows_of(t2)) == 14


def test_seed_t3_keeps_padding_cells_and_spans_the_blank_line(seed: Document) -> None:
    t3 = table_after(seed, "三、")
    rows = rows_of(t3)
    assert len(rows) == 28  # 3 header lines + 25 data lines, the blank line inside the table ignored
    assert texts(rows[0])[1] == "申请人情况"
    assert texts(rows[2]) == ["", "", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "总计"]
    assert texts(rows[3]) == ["一、本年新收政府信息公开申请数量", "1", "1", "0", "0", "0", "2"]
    granted = row_with(t3, "(一) 予以公开")
    assert texts(granted) == [
        "三、本年度办理结果",
        "(一) 予以公开",
        "",
        "",
        "",
        "1",
        "1",
        "0",
        "0",
        "0",
        "0",
        "2",
        "",
        "",
        "",
        "",
    ]
    assert texts(rows[-1])[0] == "四、结转下年度继续办理"
    assert texts(rows[-1])[5:12] == ["0"] * 7


def test_seed_t4_data_row_has_14_values(seed: Document, seed_lines: list[str]) -> None:
    t4 = table_after(seed, "四、")
    rows = rows_of(t4)
    assert len(rows) == 4
    data = rows[-1]
    assert texts(data) == ["1", "0", "0", "0", "1"] + ["0"] * 9
    line = data[0].provenance.line
    assert line is not None and seed_lines[line - 1].startswith("1\t0\t0\t0\t1")


def test_seed_provenance_is_text_lines(seed: Document, seed_lines: list[str]) -> None:
    for block in seed.blocks:
        prov = block.provenance
        assert prov.origin == Origin.TEXT and prov.page is None and prov.bbox is None
        assert prov.line is not None
        if block.kind != "table":
            assert block.raw.strip() == seed_lines[prov.line - 1].strip()
        else:
            assert block.table is not None
            for cell in block.table.cells:
                assert cell.provenance.line is not None
                assert cell.raw in seed_lines[cell.provenance.line - 1].split("\t")


def test_seed_paragraphs(seed: Document) -> None:
    paragraphs = [b for b in seed.blocks if b.kind == "paragraph"]
    assert paragraphs[0].text == "湖滨区政府办2021年政府信息公开工作年度报告"
    assert paragraphs[-1].text == "无"
    assert all("\t" not in b.text for b in paragraphs)


# ---------------------------------------------------------------- r005 / r010: crawler text, cells run together


@pytest.fixture(scope="module")
def r005() -> Document:
    return convert(REPORTS / "r005" / "source.txt")


@pytest.fixture(scope="module")
def r010() -> Document:
    return convert(REPORTS / "r010" / "source.txt")


@pytest.mark.parametrize("report", ["r005", "r010"])
def test_crawler_text_headings_in_order(report: str, request: pytest.FixtureRequest) -> None:
    doc: Document = request.getfixturevalue(report)
    assert headings(doc) == TEMPLATE_HEADINGS
    assert all(b.provenance.line == 10 for b in doc.blocks if b.kind == "heading")
    # crawler metadata lines stay paragraphs of their own
    assert doc.blocks[0].kind == "paragraph" and doc.blocks[0].text.startswith("标题:")


@pytest.mark.parametrize("report", ["r005", "r010"])
def test_crawler_text_tables_are_run_together(report: str, request: pytest.FixtureRequest) -> None:
    doc: Document = request.getfixturevalue(report)
    tables = doc.tables()
    assert len(tables) == 3
    assert all(t.table is not None and t.table.method == "run-together" for t in tables)
    for prefix, table in zip(("二、", "三、", "四、"), tables):
        assert table_after(doc, prefix) is table


def test_r005_t2_value_runs(r005: Document) -> None:
    t2 = table_after(r005, "二、")
    assert texts(rows_of(t2)[0]) == ["第二十条第(一)项"]
    assert texts(rows_of(t2)[1]) == ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"]
    assert texts(row_with(t2, "规章")) == ["规章", "000"]
    assert texts(row_with(t2, "行政规范性文件")) == ["行政规范性文件", "693665"]
    assert texts(row_with(t2, "行政许可")) == ["行政许可", "2293"]
    assert texts(row_with(t2, "行政强制")) == ["行政强制", "42"]
    assert texts(row_with(t2, "行政事业性收费")) == ["行政事业性收费", "24252.311082"]


def test_r005_t3_rows_keep_digit_runs_unsplit(r005: Document) -> None:
    t3 = table_after(r005, "三、")
    header = texts(rows_of(t3)[0])
    assert header[0].startswith("(本列数据的勾稽关系为")
    assert header[1:] == [
        "申请人情况",
        "自然人",
        "法人或其他组织",
        "总计",
        "商业企业",
        "科研机构",
        "社会公益组织",
        "法律服务机构",
        "其他",
    ]
    assert values_after(row_with(t3, "一、本年新收政府信息公开申请数量"), "一、本年新收政府信息公开申请数量") == [
        "640020470"
    ]
    granted = row_with(t3, "（一）予以公开")
    assert texts(granted) == ["三、本年度办理结果", "(一)予以公开", "270020130"]
    partial = row_with(t3, "（二）部分公开（区分处理的，只计这一情形，不计其他情形）")
    assert texts(partial) == ["(二)部分公开(区分处理的,只计这一情形,不计其他情形)", "500000", "5"]
    # "…00000003.危及…": the 3 belongs to the next label
    assert values_after(row_with(t3, "2.其他法律行政法规禁止公开"), "2.其他法律行政法规禁止公开") == ["0000000"]
    assert texts(row_with(t3, "3.危及“三安全一稳定”")) == ["3.危及“三安全一稳定”", "0000000"]
    assert texts(row_with(t3, "（三）不予公开")) == ["(三)不予公开", "1.属于国家秘密", "0000000"]
    assert values_after(row_with(t3, "1.本机关不掌握相关政府信息"), "1.本机关不掌握相关政府信息") == ["220000325"]
    assert texts(row_with(t3, "3.其他")) == ["3.其他", "1000001"]
    assert texts(rows_of(t3)[-1]) == ["四、结转下年度继续办理", "1000001"]
    assert len(rows_of(t3)) == 26


def test_r005_table_row_labels_are_not_headings(r005: Document) -> None:
    assert "三、本年度办理结果" not in headings(r005)
    assert "四、结转下年度继续办理" not in headings(r005)


def test_r005_t4_is_a_header_row_and_one_value_run(r005: Document) -> None:
    t4 = table_after(r005, "四、")
    header, data = rows_of(t4)
    assert texts(header)[:2] == ["行政复议", "行政诉讼"]
    assert len(header) == 19
    assert texts(data) == ["10203120001200000"]


def test_r005_paragraphs_are_cut_at_sub_items(r005: Document) -> None:
    paragraphs = [b.text for b in r005.blocks if b.kind == "paragraph"]
    assert any(p.startswith("(一)主动公开方面。") for p in paragraphs)
    assert any(p.startswith("(五)监督保障方面。") for p in paragraphs)
    assert paragraphs[-1].startswith("2021年,无收取信息处理费情况。")


def test_r010_2019_rows(r010: Document) -> None:
    t2 = table_after(r010, "二、")
    assert texts(row_with(t2, "规范性文件")) == ["规范性文件", "898989"]
    assert texts(row_with(t2, "其他对外管理服务事项")) == ["其他对外管理服务事项", "100153"]
    assert texts(row_with(t2, "政府集中采购")) == ["政府集中采购", "13575394432.52元"]
    assert texts(rows_of(t2)[-2]) == ["信息内容", "采购项目数量", "采购总金额"]
    t3 = table_after(r010, "三、")
    assert texts(row_with(t3, "（六）其他处理")) == ["(六)其他处理", "0", "0", "0", "0", "0", "00"]
    assert texts(row_with(t3, "一、本年新收政府信息公开申请数量"))[1:] == ["230", "000023"]
    assert texts(row_with(t3, "（七）总计")) == ["(七)总计", "23", "0", "00", "0", "023"]
    assert texts(rows_of(t3)[-1]) == ["四、结转下年度继续办理", "0", "0", "00", "00", "0"]
    # the repeated group label (page-split table) is kept where it was printed
    assert texts(row_with(t3, "（四）无法提供")) == [
        "三、本年度办理结果",
        "(四)无法提供",
        "1.本机关不掌握相关政府信息",
        "7000007",
    ]
    t4 = table_after(r010, "四、")
    assert texts(rows_of(t4)[-1]) == ["0" * 15]


# ---------------------------------------------------------------- hand-made files


def test_gbk_encoded_tab_file(tmp_path: Path) -> None:
    doc = convert_text(
        tmp_path,
        "二、主动公开政府信息情况\n\n第二十条第（一）项\t\t\t\n规章\t1\t2\t3\n\n六、其他需要报告的事项\n无\n",
        encoding="gbk",
    )
    assert headings(doc) == ["二、主动公开政府信息情况", "六、其他需要报告的事项"]
    (table,) = doc.tables()
    assert [texts(r) for r in rows_of(table)] == [["第二十条第(一)项", "", "", ""], ["规章", "1", "2", "3"]]
    assert table.provenance.line == 3
    assert doc.blocks[-1].text == "无"


@pytest.mark.parametrize("content", [b"", b"\n  \n\t\n", "— 1 —\n".encode()])
def test_empty_file_is_an_ingest_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(IngestError) as err:
        TextBackend().convert(path, content)
    assert err.value.path == str(path)


def test_binary_content_is_an_ingest_error(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    with pytest.raises(IngestError, match="binary"):
        TextBackend().convert(path, b"abc\x00\x01\x02def")


def test_full_width_digits_and_spaces(tmp_path: Path) -> None:
    doc = convert_text(tmp_path, "三、收到和处理政府信息公开申请情况\n一、本年新收政府信息公开申请数量　１２　０　３\n")
    (table,) = doc.tables()
    (row,) = rows_of(table)
    assert texts(row) == ["一、本年新收政府信息公开申请数量", "12", "0", "3"]
    assert [c.raw for c in row[1:]] == ["１２", "０", "３"]
    assert table.table is not None and table.table.method == "whitespace"


def test_label_number_lines_are_tables_only_in_sections_two_to_four(tmp_path: Path) -> None:
    doc = convert_text(tmp_path, "一、总体情况\n行政许可 12\n二、主动公开政府信息情况\n行政许可 12\n")
    assert [b.kind for b in doc.blocks] == ["heading", "paragraph", "heading", "table"]


def test_loose_lines_inside_a_table_section(tmp_path: Path) -> None:
    text = (
        "四、政府信息公开行政复议、行政诉讼情况\n"
        "行政复议行政诉讼\n"  # header fragment before the data: a row of the region
        "1 0 0 0 1 0 0 0 0 0 0 0 0 0 0\n"
        "注：数量含上年度结转数量。\n"  # after the last tabular line: a paragraph
    )
    doc = convert_text(tmp_path, text)
    assert [b.kind for b in doc.blocks] == ["heading", "table", "paragraph"]
    rows = rows_of(doc.tables()[0])
    assert texts(rows[0]) == ["行政复议行政诉讼"]
    assert rows[0][0].provenance.line == 2
    assert texts(rows[1]) == ["1", "0", "0", "0", "1"] + ["0"] * 10
    assert doc.blocks[-1].text == "注:数量含上年度结转数量。"


def test_headings_listed_in_a_sentence_are_not_headings(tmp_path: Path) -> None:
    doc = convert_text(
        tmp_path, "本报告包括：一、总体情况；二、主动公开政府信息情况；三、收到和处理政府信息公开申请情况。\n"
    )
    assert headings(doc) == []
    assert [b.kind for b in doc.blocks] == ["paragraph"]


def test_heading_variants_and_keyword_headings(tmp_path: Path) -> None:
    doc = convert_text(
        tmp_path,
        "四、因政府信息公开工作被申请行政复议、提起行政诉讼情况\n"
        "五、存在问题及改进措施\n"  # keyword heading (存在问题), past section 四
        "（六）其他需要报告的事项。\n",  # instruction-style heading
    )
    assert headings(doc) == [
        "四、因政府信息公开工作被申请行政复议、提起行政诉讼情况",
        "五、存在问题及改进措施",
        "(六)其他需要报告的事项。",
    ]


def test_run_together_line_without_a_heading(tmp_path: Path) -> None:
    text = (
        "三、收到和处理政府信息公开申请情况\n"
        "一、本年新收政府信息公开申请数量640020470二、上年结转政府信息公开申请数量0000000"
        "三、本年度办理结果（一）予以公开270020130\n"
    )
    doc = convert_text(tmp_path, text)
    assert headings(doc) == ["三、收到和处理政府信息公开申请情况"]
    (table,) = doc.tables()
    assert table.table is not None and table.table.method == "run-together"
    assert [texts(r) for r in rows_of(table)] == [
        ["一、本年新收政府信息公开申请数量", "640020470"],
        ["二、上年结转政府信息公开申请数量", "0000000"],
        ["三、本年度办理结果", "(一)予以公开", "270020130"],
    ]


def test_heading_with_text_on_the_same_line(tmp_path: Path) -> None:
    doc = convert_text(tmp_path, "一、总体情况。2021年，我区认真贯彻《条例》。（一）主动公开方面。全年公开2645条。\n")
    assert [b.kind for b in doc.blocks] == ["heading", "paragraph", "paragraph"]
    assert doc.blocks[1].text == "2021年,我区认真贯彻《条例》。"


def test_accepts() -> None:
    txt = Path("report.txt")
    assert TextBackend.accepts(txt, "一、总体情况\n".encode())
    assert TextBackend.accepts(Path("report"), "一、总体情况\n".encode("gbk"))
    assert TextBackend.accepts(Path("report.txt"), "\ufeff一、总体情况".encode("utf-16"))
    assert not TextBackend.accepts(Path("report"), b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    assert not TextBackend.accepts(Path("report"), b"<!DOCTYPE html><html><body>x</body></html>")
    assert not TextBackend.accepts(txt, b"PK\x03\x04\x14\x00\x06\x00")


def test_registry_picks_the_text_backend_for_the_seed() -> None:
    path = REPORTS / "seed" / "source.txt"
    assert isinstance(backend_for(path, path.read_bytes()), TextBackend)


def test_a_few_bytes_no_encoding_reads_are_replaced_and_counted(tmp_path: Path) -> None:
    """A UTF-8 report with one stray 0xFF byte, and the GBK one with ~1 % of its bytes garbage, read like their
    clean copies (but for the characters the bad bytes hit), the count kept in the metadata; a file of mostly
    garbage is still refused."""
    from service.document import UNDECODABLE_KEY
    from service.pipeline import extract_document

    source = REPORTS / "r005" / "source.txt"
    clean_doc = convert(source)
    clean_cells = extract_document(clean_doc).cells
    data = source.read_bytes()
    one_bad = tmp_path / "one-bad.txt"
    one_bad.write_bytes(data[:200] + b"\xff" + data[200:])
    doc = convert(one_bad)
    assert doc.metadata[UNDECODABLE_KEY] == "1 (utf-8)"
    result = extract_document(doc)
    assert result.cells == clean_cells
    assert [d.message.split(" ", 1)[0] for d in result.deviations if d.id == "xxgk_undecodable_text"] == ["1"]
    gbk = data.decode("utf-8").encode("gb18030")
    rng = __import__("random").Random(7)
    spots = sorted(rng.sample(range(400, len(gbk)), len(gbk) // 100))
    garbled = bytearray(gbk)
    for i in spots:
        garbled[i] = 0xFF
    path = tmp_path / "gbk-garbled.txt"
    path.write_bytes(bytes(garbled))
    doc = convert(path)
    count, encoding = doc.metadata[UNDECODABLE_KEY].split()
    assert encoding == "(gb18030)" and len(spots) <= int(count) <= 3 * len(spots)  # a bad byte may take its pair
    values = extract_document(doc).cells
    same = sum(1 for cid, cell in clean_cells.items() if values[cid].value == cell.value)
    assert same >= 0.9 * len(clean_cells)  # the garbage hits some labels and digits; the rest reads the same
    noise = tmp_path / "noise.txt"
    noise.write_bytes(bytes(rng.randrange(0x80, 0x100) for _ in range(4000)))
    with pytest.raises(IngestError, match="encoding"):
        convert(noise)
