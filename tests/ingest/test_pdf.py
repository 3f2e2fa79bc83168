"""PDF text-layer backend: the WPS export r001 against its hand-checked truth, plus PDFs written here."""
from __future__ import annotations

import importlib.util
import json
import sys
import zlib
from pathlib import Path
from types import ModuleType

import pypdfium2
import pytest

from service.document import Block, Document, Origin, TableCell
from service.ingest.base import IngestError, backend_for, load_document
from service.ingest.pdf import PdfBackend
from service.normalize import clean, label_key

ROOT = Path(__file__).resolve().parents[2]
R001 = ROOT / "datasets/dev-reports/r001"


# ---------------------------------------------------------------- r001 (WPS export, 5 pages)


@pytest.fixture(scope="module")
def r001() -> Document:
    return load_document(R001 / "source.pdf")


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((R001 / "truth.json").read_text(encoding="utf-8"))


def texts(row: list[TableCell | None]) -> list[str]:
    return [c.text if c else "" for c in row]


def row_with(block: Block, label: str) -> list[TableCell | None]:
    """The one grid row whose label cells (left of the values) include the given label."""
    assert block.table is not None
    key = label_key(label)
    rows = [row for row in block.table.expanded() if any(c and label_key(c.text) == key for c in row)]
    assert len(rows) == 1, f"{label}: {len(rows)} rows"
    return rows[0]


def distinct(row: list[TableCell | None]) -> list[TableCell | None]:
    """A grid row with a cell spanning several columns listed once."""
    return [c for i, c in enumerate(row) if i == 0 or c is not row[i - 1]]


def values(row: list[TableCell | None]) -> list[str]:
    """Texts of the value cells: those right of the last label (non-numeric) cell."""
    out = texts(row)
    last_label = max(i for i, t in enumerate(out) if t and not t.replace(".", "").isdigit())
    return out[last_label + 1 :]


def test_r001_backend_and_pages(r001: Document) -> None:
    assert isinstance(backend_for(R001 / "source.pdf", (R001 / "source.pdf").read_bytes()), PdfBackend)
    assert r001.kind == "pdf"
    assert [p.number for p in r001.pages] == [1, 2, 3, 4, 5]
    assert all(p.origin == Origin.TEXT_LAYER and (p.width, p.height) == (595, 842) for p in r001.pages)
    assert "image_only_pages" not in r001.metadata
    assert r001.metadata["pdf_title"] == "洪泽区人民政府2023年政府信息公开工作年度报告"


def test_r001_headings_in_order(r001: Document) -> None:
    headings = [b.text for b in r001.blocks if b.kind == "heading"]
    assert headings == [
        "一、总体情况",
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",
        "五、存在的主要问题及改进情况",
        "六、其他需要报告的事项",
    ]
    assert [b.provenance.page for b in r001.blocks if b.kind == "heading"] == [1, 2, 3, 4, 4, 5]


def test_r001_reading_order(r001: Document) -> None:
    kinds = [(b.kind, b.text[:6]) for b in r001.blocks if b.kind != "paragraph"]
    assert kinds == [
        ("heading", "一、总体情况"),
        ("heading", "二、主动公开"),
        ("table", "第二十条第("),
        ("heading", "三、收到和处"),
        ("table", "(本列数据的"),
        ("heading", "四、政府信息"),
        ("table", "行政复议 行"),
        ("heading", "五、存在的主"),
        ("heading", "六、其他需要"),
    ]


def test_r001_paragraphs(r001: Document) -> None:
    text = r001.text()
    # Page footers "- 2 -" are dropped; spaces the layout put between CJK characters are not kept.
    assert "- 2 -" not in text and "\n2\n" not in text
    assert "2023年全区受理政府信息公开申请21件,均在法定期限答复。" in text
    # Paragraphs cut by a page break are joined (page 1 -> 2 and 4 -> 5).
    assert "严格执行“分级审核、先审后发”程序" in text
    assert "实行政府信息公开工作人员跟班学习制度" in text
    last = r001.blocks[-1]
    assert last.kind == "paragraph" and last.provenance.page == 5
    assert last.text.endswith("全年收取政府信息公开信息处理费0元。")
    assert not any(0x2E80 <= ord(ch) <= 0x2FDF for b in r001.blocks for ch in b.text)


def test_r001_provenance(r001: Document) -> None:
    pages = {p.number: p for p in r001.pages}
    for block in r001.blocks:
        prov = block.provenance
        assert prov.origin == Origin.TEXT_LAYER and prov.page in pages and prov.bbox is not None
        x0, y0, x1, y1 = prov.bbox
        assert 0 <= x0 < x1 <= pages[prov.page].width and 0 <= y0 < y1 <= pages[prov.page].height
        for cell in block.table.cells if block.table else []:
            cx0, cy0, cx1, cy1 = cell.provenance.bbox
            assert cell.provenance.origin == Origin.TEXT_LAYER
            assert 0 <= cx0 < cx1 <= 595 and 0 <= cy0 < cy1 <= 842
            assert cell.text == clean(cell.raw)


def test_r001_three_tables_merged_across_pages(r001: Document) -> None:
    t2, t3, t4 = r001.tables()
    assert [t.table.method for t in (t2, t3, t4)] == ["ruling-lines"] * 3
    # Table 2 runs from page 2 to 3, table 3 from page 3 to 4: one block each, starting page kept.
    assert [t.provenance.page for t in (t2, t3, t4)] == [2, 3, 4]
    assert (t2.table.n_rows, t2.table.n_cols) == (14, 4)
    assert (t3.table.n_rows, t3.table.n_cols) == (26, 10)
    assert (t4.table.n_rows, t4.table.n_cols) == (4, 15)
    # Cells keep the page they were printed on.
    assert row_with(t2, "行政处罚")[0].provenance.page == 3
    assert row_with(t2, "行政许可")[0].provenance.page == 2
    assert row_with(t3, "四、结转下年度继续办理")[0].provenance.page == 4


def test_r001_table2_values(r001: Document, truth: dict) -> None:
    t2 = r001.tables()[0]
    grid = t2.table.expanded()
    assert texts(grid[0]) == ["第二十条第(一)项"] * 4 and grid[0][0].colspan == 4
    assert texts(grid[1]) == ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"]
    assert texts(grid[8]) == ["信息内容"] + ["本年处理决定数量"] * 3  # first row on page 3
    for section in truth["table2"].values():
        for label, cols in section.items():
            row = distinct(row_with(t2, label))
            assert values(row) == [str(v) for v in cols.values()], label
    assert texts(row_with(t2, "行政规范性文件")) == ["行政规范性文件", "0", "5", "5"]
    assert texts(row_with(t2, "行政事业性收费")) == ["行政事业性收费"] + ["7730.28"] * 3


def test_r001_table3_every_row_matches_truth(r001: Document, truth: dict) -> None:
    t3 = r001.tables()[1]
    columns = truth["table3_columns"]
    assert texts(t3.table.expanded()[2])[3:] == ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
    for path, cols in truth["table3"].items():
        labels = path.split(" / ")
        row = row_with(t3, labels[-1])
        label_cells = [label_key(t) for t in texts(row)[:3]]
        for label in labels:  # the row carries its group labels (spanning cells) as well
            assert label_key(label) in label_cells, (path, label)
        assert values(row) == [str(cols[c]) for c in columns], path


def test_r001_table3_labels_and_spans(r001: Document) -> None:
    t3 = r001.tables()[1]
    partial = row_with(t3, "（二）部分公开（区分处理的，只计这一情形，不计其他情形）")
    assert partial[1].text == clean("（二）部分公开（区分处理的，只计这一情形，不计其他情形）")
    assert partial[1] is partial[2] and partial[1].colspan == 2
    assert values(partial) == ["4", "0", "0", "0", "0", "0", "4"]
    group = next(c for c in t3.table.cells if c.text == "三、本年度办理结果")  # stacked one character a line
    assert (group.row, group.col, group.rowspan, group.colspan) == (5, 0, 20, 1)
    assert group.provenance.page == 3
    # （四）无法提供 is cut by the page break: its part on page 4 joins the cell on page 3.
    unable = next(c for c in t3.table.cells if c.text == "(四)无法提供")
    assert (unable.row, unable.rowspan) == (15, 3)
    assert row_with(t3, "3.补正后申请内容仍不明确")[1] is unable
    assert texts(row_with(t3, "4.无正当理由大量反复申请"))[:3] == ["三、本年度办理结果", "(五)不予处理", "4.无正当理由大量反复申请"]
    assert values(row_with(t3, "(七)总计")) == ["21", "0", "0", "0", "0", "0", "21"]
    header = t3.table.expanded()[0]
    assert header[0].rowspan == 3 and header[0].colspan == 3 and header[0].text.startswith("(本列数据的勾稽关系为")
    assert header[3].text == "申请人情况" and header[3].colspan == 7


def test_r001_table4(r001: Document, truth: dict) -> None:
    grid = r001.tables()[2].table.expanded()
    assert texts(grid[0]) == ["行政复议"] * 5 + ["行政诉讼"] * 10
    assert texts(grid[1])[5:] == ["未经复议直接起诉"] * 5 + ["复议后起诉"] * 5
    assert texts(grid[2]) == ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"] * 3
    assert grid[1][0] is grid[2][0] and grid[1][0].rowspan == 2
    assert " ".join(texts(grid[3])) == "10 1 0 0 0 0 0 0 0 0 5 0 0 0 0"
    want = [str(v) for group in truth["table4"].values() for v in group.values()]
    assert texts(grid[3]) == want


# ---------------------------------------------------------------- PDFs written by the test


class MiniPdf:
    """Writes small PDFs: text in a CID font whose ToUnicode map gives any code point, ruling lines, images."""

    WIDTH, HEIGHT = 595, 842

    def __init__(self) -> None:
        self.pages: list[tuple[bytes, bool]] = []  # content stream, has image
        self.cids: dict[str, int] = {}
        self.ops: list[str] = []
        self.image = False

    def text(self, x: float, top: float, s: str, size: float = 12) -> MiniPdf:
        codes = "".join(f"{self.cids.setdefault(ch, len(self.cids) + 1):04X}" for ch in s)
        self.ops.append(f"BT /F1 {size} Tf {x} {self.HEIGHT - top - size} Td <{codes}> Tj ET")
        return self

    def line(self, x0: float, top0: float, x1: float, top1: float) -> MiniPdf:
        self.ops.append(f"0.5 w {x0} {self.HEIGHT - top0} m {x1} {self.HEIGHT - top1} l S")
        return self

    def bar(self, x0: float, top: float, x1: float, bottom: float, rgb: str = "0 0 0") -> MiniPdf:
        """A filled rectangle: a thin one is how Word draws cell borders, a wide one is shading."""
        self.ops.append(f"{rgb} rg {x0} {self.HEIGHT - bottom} {x1 - x0} {bottom - top} re f 0 0 0 rg")
        return self

    def full_page_image(self) -> MiniPdf:
        self.ops.append(f"q {self.WIDTH} 0 0 {self.HEIGHT} 0 0 cm /Im1 Do Q")
        self.image = True
        return self

    def new_page(self) -> MiniPdf:
        self.pages.append(("\n".join(self.ops).encode(), self.image))
        self.ops, self.image = [], False
        return self

    def build(self, trailer_extra: bytes = b"") -> bytes:
        if self.ops or not self.pages:
            self.new_page()
        n = len(self.pages)
        font, cidfont, descriptor, cmap, image = 3 + 2 * n, 4 + 2 * n, 5 + 2 * n, 6 + 2 * n, 7 + 2 * n
        objects: dict[int, bytes] = {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: f"<< /Type /Pages /Kids [{' '.join(f'{3 + 2 * i} 0 R' for i in range(n))}] /Count {n} >>".encode(),
            font: f"<< /Type /Font /Subtype /Type0 /BaseFont /Mini /Encoding /Identity-H "
            f"/DescendantFonts [{cidfont} 0 R] /ToUnicode {cmap} 0 R >>".encode(),
            cidfont: f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Mini /CIDSystemInfo << /Registry (Adobe) "
            f"/Ordering (Identity) /Supplement 0 >> /FontDescriptor {descriptor} 0 R /DW 1000 >>".encode(),
            descriptor: b"<< /Type /FontDescriptor /FontName /Mini /Flags 4 /FontBBox [0 -120 1000 880] "
            b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>",
            cmap: self._stream(self._cmap()),
            image: b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Length 1 >>\nstream\n\x80\nendstream",
        }
        for i, (content, _) in enumerate(self.pages):
            page, stream = 3 + 2 * i, 4 + 2 * i
            objects[page] = (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {self.WIDTH} {self.HEIGHT}] /Contents {stream} 0 R "
                f"/Resources << /Font << /F1 {font} 0 R >> /XObject << /Im1 {image} 0 R >> >> >>"
            ).encode()
            objects[stream] = self._stream(content)
        out = bytearray(b"%PDF-1.7\n")
        offsets = {}
        for num in sorted(objects):
            offsets[num] = len(out)
            out += f"{num} 0 obj\n".encode() + objects[num] + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
        out += b"".join(f"{offsets[num]:010d} 00000 n \n".encode() for num in sorted(objects))
        out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R ".encode() + trailer_extra
        out += f">>\nstartxref\n{xref}\n%%EOF\n".encode()
        return bytes(out)

    def _cmap(self) -> bytes:
        entries = [f"<{cid:04X}> <{ord(ch):04X}>" for ch, cid in self.cids.items()]
        chunks = [entries[i : i + 100] for i in range(0, len(entries), 100)]
        body = "".join(f"{len(c)} beginbfchar\n" + "\n".join(c) + "\nendbfchar\n" for c in chunks)
        return (
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Mini-UCS def /CMapType 2 def\n"
            "1 begincodespacerange <0000> <FFFF> endcodespacerange\n" + body + "endcmap\n"
            "CMapName currentdict /CMap defineresource pop end end"
        ).encode()

    @staticmethod
    def _stream(data: bytes) -> bytes:
        packed = zlib.compress(data)
        return f"<< /Length {len(packed)} /Filter /FlateDecode >>\nstream\n".encode() + packed + b"\nendstream"


def convert(tmp_path: Path, data: bytes, name: str = "made.pdf") -> Document:
    path = tmp_path / name
    path.write_bytes(data)
    return load_document(path)


def ruled_table(pdf: MiniPdf, top: float, rows: list[list[str]], heights: list[float]) -> float:
    """Draw a ruled table with columns at x 100/200/300 and write each cell's lines; return its bottom."""
    xs = [100, 200, 300]
    ys = [top]
    for h in heights:
        ys.append(ys[-1] + h)
    for y in ys:
        pdf.line(xs[0], y, xs[-1], y)
    for x in xs:
        pdf.line(x, ys[0], x, ys[-1])
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            for i, part in enumerate(cell.split("\n")):
                pdf.text(xs[c] + 4, ys[r] + 3 + 11 * i, part, size=10)
    return ys[-1]


def test_made_pdf_text_table_and_image_only_pages(tmp_path: Path) -> None:
    pdf = MiniPdf()
    pdf.text(120, 60, "⼀、总体情况", size=16)  # Kangxi radical ⼀ (U+2F00) for 一
    pdf.text(100, 100, "⼈⺠政府⻔户⽹站", size=12)  # radicals: 人 民 门 网
    pdf.text(270, 800, "- 1 -", size=10)
    bottom = ruled_table(pdf, 700, [["项目", "数量"], ["合\n计", "10\n3"]], [20, 40])
    assert bottom == 760
    pdf.new_page()
    # The table goes on at the top of page 2, its header row printed again.
    ruled_table(pdf, 72, [["项目", "数量"], ["乙", "7"]], [20, 20])
    pdf.new_page()
    pdf.new_page()  # page 3: nothing at all
    pdf.full_page_image().text(280, 810, "4", size=9)  # page 4: a scan with a page number in the text layer
    pdf.new_page()
    pdf.full_page_image().text(100, 100, "以下表格为图片，文字层只有这一行说明文字。")  # page 5: text and a big image
    doc = convert(tmp_path, pdf.build())

    assert [p.number for p in doc.pages] == [1, 2, 3, 4, 5]
    # pages 3 and 4 have no text layer: they are read by OCR (and hold no text: no blocks)
    text, ocr = Origin.TEXT_LAYER, Origin.OCR
    assert [p.origin for p in doc.pages] == [text, text, ocr, ocr, text]
    assert doc.metadata["image_only_pages"] == "3,4" and doc.metadata["ocr_engine"] == "rapidocr"
    assert doc.metadata["large_image_pages"] == "5"
    assert [b.provenance.page for b in doc.blocks] == [1, 1, 1, 5]
    heading, para, table, note = doc.blocks
    assert note.text == "以下表格为图片,文字层只有这一行说明文字。"
    assert (heading.kind, heading.text) == ("heading", "一、总体情况")
    assert (para.kind, para.text, para.raw) == ("paragraph", "人民政府门户网站", "⼈⺠政府⻔户⽹站")
    assert table.kind == "table" and table.table is not None
    grid = table.table
    assert (grid.n_rows, grid.n_cols) == (3, 2)  # the repeated header row is dropped
    assert [texts(r) for r in grid.expanded()] == [["项目", "数量"], ["合计", "10 3"], ["乙", "7"]]
    assert [c.provenance.page for c in grid.cells] == [1, 1, 1, 1, 2, 2]
    assert grid.cells[0].provenance.bbox == pytest.approx((100, 700, 200, 720), abs=0.5)


def test_borders_drawn_as_filled_bars_and_shading_ignored(tmp_path: Path) -> None:
    pdf = MiniPdf()
    pdf.bar(100, 100, 200, 130, rgb="0.8 0.85 0.95")  # shading behind the left half of the header
    for y in (100, 130, 160, 190):
        pdf.bar(100, y - 0.25, 300, y + 0.25)
    for x, top in ((100, 100), (300, 100), (200, 130)):  # no border between the two header columns
        pdf.bar(x - 0.25, top, x + 0.25, 190)
    pdf.text(170, 108, "表头标题").text(104, 138, "甲").text(204, 138, "12").text(104, 168, "乙").text(204, 168, "")
    doc = convert(tmp_path, pdf.build())
    (table,) = doc.tables()
    grid = table.table
    assert (grid.n_rows, grid.n_cols) == (3, 2)
    assert [texts(r) for r in grid.expanded()] == [["表头标题", "表头标题"], ["甲", "12"], ["乙", ""]]
    assert grid.cells[0].colspan == 2 and len(grid.cells) == 5  # the blank printed cell is kept


def test_blank_pdf_from_pdfium_is_image_only(tmp_path: Path) -> None:
    doc = pypdfium2.PdfDocument.new()
    doc.new_page(595, 842)
    doc.new_page(595, 842)
    path = tmp_path / "blank.pdf"
    doc.save(path)
    result = load_document(path)
    assert result.metadata["image_only_pages"] == "1,2"
    assert [p.number for p in result.pages] == [1, 2] and result.blocks == []
    assert all(p.origin == Origin.OCR and (p.width, p.height) == (595, 842) for p in result.pages)


@pytest.mark.parametrize("keep", [100, 5000, -2000])
def test_truncated_pdf_raises_naming_the_file(tmp_path: Path, keep: int) -> None:
    data = (R001 / "source.pdf").read_bytes()
    path = tmp_path / "broken-report.pdf"
    path.write_bytes(data[:keep])
    with pytest.raises(IngestError) as err:
        load_document(path)
    assert err.value.path == str(path) and "broken-report.pdf" in str(err.value)
    assert "corrupt" in err.value.reason


def test_password_protected_pdf_raises(tmp_path: Path) -> None:
    pdf = MiniPdf().text(100, 100, "秘密")
    encrypt = (
        b"/Encrypt << /Filter /Standard /V 1 /R 2 /P -44 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> >> "
        b"/ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>] "
    )
    with pytest.raises(IngestError) as err:
        convert(tmp_path, pdf.build(encrypt), "locked.pdf")
    assert "password" in err.value.reason and "locked.pdf" in str(err.value)


def test_accepts_pdf_by_content() -> None:
    assert PdfBackend.accepts(Path("x.bin"), b"%PDF-1.4\n...")
    assert not PdfBackend.accepts(Path("x.pdf"), b"<html><body>PDF</body></html>")


# ---------------------------------------------------------------- reports printed by WeasyPrint (scansim)


def _load_scansim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scansim", ROOT / "datasets" / "scansim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("scansim", module)
    spec.loader.exec_module(module)
    return module


def test_printed_r005_table_cut_by_page_break(tmp_path: Path) -> None:
    """r005 printed by WeasyPrint: table 3 runs onto page 4, where its column lines sit 1-2 pt from the
    lines of table 4 below; every cell must still come out as in the hand-checked truth."""
    pytest.importorskip("weasyprint", reason="weasyprint is not installed (the `scan` extra)")
    scansim = _load_scansim()
    if not scansim.cjk_font_installed():
        pytest.skip(f"font {scansim.CJK_FONT!r} is not installed (Debian: apt-get install fonts-noto-cjk)")
    from service.evaluate import score
    from service.pipeline import extract

    pdf, _grids = scansim.print_source(ROOT / "datasets/dev-reports/r005/page.html")
    path = tmp_path / "r005-printed.pdf"
    path.write_bytes(pdf)
    truth = json.loads((ROOT / "datasets/dev-reports/r005/cells.json").read_text(encoding="utf-8"))
    result = score(extract(str(path)), truth, "r005", "printed")
    assert result.wrong == []
    assert (result.right, result.total) == (200, 200)
