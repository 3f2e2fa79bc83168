"""Build datasets/fixtures/r003.docx from the real report datasets/dev-reports/r003/source.html.

There is no real Word file among the dev reports, so this rebuilds one faithfully: every body
paragraph in order (alignment and bold kept), every table with its merged cells (rowspan ->
vertical merge, colspan -> horizontal merge, both through python-docx's ``merge`` so the file
carries Word's own ``w:gridSpan`` / ``w:vMerge`` markup), ``<br>`` inside a cell as a new
paragraph, and blank cells as printed (``&nbsp;``). The truth is datasets/dev-reports/r003/cells.json.

Run: .venv/bin/python datasets/make_docx_fixture.py
The output is byte-for-byte reproducible (fixed document properties and zip timestamps).
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import docx
from bs4 import BeautifulSoup, NavigableString, Tag
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.table import _Cell

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "dev-reports" / "r003" / "source.html"
TARGET = HERE / "fixtures" / "r003.docx"
FIXED_TIME = dt.datetime(2020, 1, 31, 9, 0, 0)


@dataclass
class HtmlCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    lines: list[tuple[str, bool]]  # (text, centered) per paragraph


def _span(td: Tag, attr: str) -> int:
    try:
        return max(1, int(str(td.get(attr, "1"))))
    except ValueError:
        return 1


def _centered(tag: Tag) -> bool:
    style = str(tag.get("style", "")).replace(" ", "")
    return tag.get("align") == "center" or "text-align:center" in style


def _bold(tag: Tag) -> bool:
    return "font-weight:bold" in str(tag.get("style", "")).replace(" ", "")


def _split_br(tag: Tag) -> list[str]:
    """Text of a tag, one string per <br>-separated line."""
    lines = [""]
    for node in tag.descendants:
        if isinstance(node, NavigableString):
            lines[-1] += str(node)
        elif node.name == "br":
            lines.append("")
    return lines


def _cell_lines(td: Tag) -> list[tuple[str, bool]]:
    paras = td.find_all("p") or [td]
    return [(line, _centered(p)) for p in paras for line in _split_br(p)]


def _layout(table: Tag) -> tuple[list[HtmlCell], int, int]:
    """HTML table layout: place every cell on the grid, honouring rowspan/colspan."""
    taken: set[tuple[int, int]] = set()
    cells: list[HtmlCell] = []
    rows = table.find_all("tr")
    for r, tr in enumerate(rows):
        c = 0
        for td in tr.find_all(["td", "th"], recursive=False):
            while (r, c) in taken:
                c += 1
            cell = HtmlCell(r, c, _span(td, "rowspan"), _span(td, "colspan"), _cell_lines(td))
            cells.append(cell)
            taken.update((r + i, c + j) for i in range(cell.rowspan) for j in range(cell.colspan))
            c += cell.colspan
    n_cols = max(col for _, col in taken) + 1
    return cells, len(rows), n_cols


def _fill(cell: _Cell, lines: list[tuple[str, bool]]) -> None:
    first = cell.paragraphs[0]
    for i, (text, centered) in enumerate(lines):
        para = first if i == 0 else cell.add_paragraph()
        para.add_run(text)
        if centered:
            para.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _add_table(doc: DocxDocument, table: Tag) -> None:
    cells, n_rows, n_cols = _layout(table)
    out = doc.add_table(rows=n_rows, cols=n_cols)
    out.style = "Table Grid"
    for cell in cells:
        target = out.cell(cell.row, cell.col)
        if cell.rowspan > 1 or cell.colspan > 1:
            corner = out.cell(cell.row + cell.rowspan - 1, cell.col + cell.colspan - 1)
            target = target.merge(corner)
        _fill(target, cell.lines)


def _add_paragraph(doc: DocxDocument, p: Tag) -> None:
    para = doc.add_paragraph()
    for i, line in enumerate(_split_br(p)):
        run = para.add_run()
        if i:
            run.add_break()
        run.add_text(line)
        run.bold = _bold(p) or None
    if _centered(p):
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER


def build(source: Path = SOURCE) -> bytes:
    soup = BeautifulSoup(source.read_text(encoding="utf-8"), "lxml")
    doc = docx.Document()
    props = doc.core_properties
    props.title = soup.title.get_text(strip=True) if soup.title else ""
    props.author = "xxgk fixture generator (from dev-reports/r003/source.html)"
    props.created = props.modified = FIXED_TIME
    props.last_modified_by = ""
    props.revision = 1
    for node in soup.body.find_all(["p", "table"], recursive=False):
        if node.name == "table":
            _add_table(doc, node)
        else:
            _add_paragraph(doc, node)
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_timestamps(buf.getvalue())


def _fixed_timestamps(data: bytes) -> bytes:
    """Rewrite the zip with constant entry dates so regenerating gives identical bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def main() -> None:
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_bytes(build())
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
