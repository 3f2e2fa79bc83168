"""Word (.docx) backend: body paragraphs and tables in document order, tables with true spans.

python-docx opens the package; the body is walked on its XML (``w:p`` / ``w:tbl`` children, through
content controls) because python-docx's ``table.rows[i].cells`` repeats a merged cell in every slot
it covers. Spans come from ``w:gridSpan`` (horizontal), ``w:vMerge`` restart/continue (vertical)
and ``w:gridBefore`` / ``w:gridAfter`` (row offsets). Word has no fixed pages: provenance is
``Origin.DOCX`` with ``page=None`` and ``bbox=None``. Legacy .doc files get a clear error.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.document import Document as WordDocument
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.exceptions import PackageNotFoundError
from lxml import etree

from service.document import Block, Document, Origin, Provenance, TableCell, TableGrid
from service.ingest.base import Backend, IngestError, LimitExceeded, limits_of, sha256
from service.normalize import clean
from service.options import LimitsOptions, PipelineOptions
from service.text import is_section_heading, join_cell_lines

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_SIGNATURE = b"PK"
MAIN_PART = "word/document.xml"
LEGACY_DOC = "legacy .doc (Word 97-2003) is not supported; save as .docx"
ENCRYPTED = "password-protected (encrypted) Word file is not supported; remove the password and save as .docx"
WORD_SUFFIXES = {".docx", ".docm", ".doc", ".dot", ".wps"}

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NS = {"w": _W}
_WRAPPERS = {f"{{{_W}}}sdt", f"{{{_W}}}sdtContent", f"{{{_W}}}customXml"}
_P, _TBL, _TR, _TC = (f"{{{_W}}}{tag}" for tag in ("p", "tbl", "tr", "tc"))
_VAL = f"{{{_W}}}val"
# Text-bearing run content of a paragraph as displayed (runs not deleted, not moved away, not inside an
# embedded text box); the same elements python-docx's run text reads, whose str() is their text.
_RUN_CONTENT = etree.XPath(
    ".//w:r[not(ancestor::w:del or ancestor::w:moveFrom or ancestor::w:txbxContent)]"
    "/*[self::w:t or self::w:tab or self::w:br or self::w:cr or self::w:noBreakHyphen or self::w:ptab]",
    namespaces=_NS,
)
_GRID_SPAN = etree.XPath("./w:tcPr/w:gridSpan/@w:val", namespaces=_NS)
_VMERGE = etree.XPath("./w:tcPr/w:vMerge", namespaces=_NS)
_GRID_BEFORE = etree.XPath("./w:trPr/w:gridBefore/@w:val", namespaces=_NS)
_GRID_AFTER = etree.XPath("./w:trPr/w:gridAfter/@w:val", namespaces=_NS)


def _provenance() -> Provenance:
    """Word has no fixed pages and no geometry: origin only."""
    return Provenance(origin=Origin.DOCX)


class DocxBackend(Backend):
    name = "docx"

    @classmethod
    def accepts(cls, path: Path, head: bytes) -> bool:
        suffix = path.suffix.lower()
        if head.startswith(OLE_SIGNATURE):
            # Accepted only to fail with a clear message in convert().
            return suffix in WORD_SUFFIXES or _ole_has_word_stream(path, head)
        if not head.startswith(ZIP_SIGNATURE):
            return False
        if suffix in {".docx", ".docm"} or MAIN_PART.encode() in head:
            return True
        return _zip_has_main_part(path)

    def convert(self, path: Path, data: bytes, options: PipelineOptions | None = None) -> Document:
        body = _open_body(path, data, limits_of(options))
        meta = _metadata(body.document)
        blocks = list(_walk(body.element))
        return Document(path=str(path), sha256=sha256(data), kind="docx", blocks=blocks, metadata=meta)


# --- opening -----------------------------------------------------------------------------------


@dataclass
class _Opened:
    document: WordDocument
    element: etree._Element  # w:body


def _open_body(path: Path, data: bytes, limits: LimitsOptions) -> _Opened:
    if data.startswith(OLE_SIGNATURE):
        raise IngestError(path, ENCRYPTED if _utf16(b"EncryptedPackage") in data else LEGACY_DOC)
    if not data.startswith(ZIP_SIGNATURE):
        raise IngestError(path, "not a .docx file (no ZIP signature)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            unzipped = sum(info.file_size for info in zf.infolist())
            if unzipped > limits.max_docx_unzipped_mb * 1024 * 1024:
                raise LimitExceeded(
                    path, "max_docx_unzipped_mb", limits.max_docx_unzipped_mb, f"{unzipped / 1024 / 1024:.0f} MB"
                )
            main = zf.read(MAIN_PART) if MAIN_PART in names else b""
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise IngestError(path, f"corrupt .docx: not a readable ZIP archive ({exc})") from exc
    if MAIN_PART not in names:
        raise IngestError(path, f"ZIP archive without {MAIN_PART}: not a Word document")
    paragraphs = main.count(b"<w:p>") + main.count(b"<w:p ") + main.count(b"<w:p/>")
    if paragraphs > limits.max_docx_paragraphs:
        raise LimitExceeded(path, "max_docx_paragraphs", limits.max_docx_paragraphs, f"{paragraphs} paragraphs")
    try:
        document = docx.Document(io.BytesIO(data))
    except ValueError as exc:  # python-docx: main part of another content type (.docm, .dotx)
        detail = str(exc).rpartition(", ")[2]
        raise IngestError(path, f"unsupported Word package (macro-enabled or template?): {detail}") from exc
    except (
        KeyError,
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        etree.XMLSyntaxError,
        PackageNotFoundError,
        AttributeError,  # a part of the wrong kind where python-docx expects another (a .rels without Relationships)
        TypeError,
    ) as exc:
        raise IngestError(path, f"corrupt .docx: {type(exc).__name__}: {exc}") from exc
    return _Opened(document, document.element.body)


def _utf16(name: bytes) -> bytes:
    return name.decode("ascii").encode("utf-16-le")


def _ole_has_word_stream(path: Path, head: bytes) -> bool:
    needle = _utf16(b"WordDocument")
    if needle in head:
        return True
    try:
        return path.is_file() and needle in path.read_bytes()
    except OSError:
        return False


def _zip_has_main_part(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return MAIN_PART in zf.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def _metadata(document: WordDocument) -> dict[str, str]:
    """Title and dates from docProps/core.xml, only when the file has one."""
    try:
        document.part.package.part_related_by(RT.CORE_PROPERTIES)
    except KeyError:
        return {}
    props = document.core_properties
    values = {"title": props.title, "author": props.author, "created": props.created, "modified": props.modified}
    out: dict[str, str] = {}
    for key, value in values.items():
        text = value.isoformat() if hasattr(value, "isoformat") else clean(value or "")
        if text:
            out[key] = text
    return out


# --- body walk ---------------------------------------------------------------------------------


def _children(parent: etree._Element, tags: set[str]) -> Iterator[etree._Element]:
    """Children with the given tags, looking through content controls and custom-XML wrappers."""
    for child in parent:
        if child.tag in tags:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _children(child, tags)


def _walk(container: etree._Element) -> Iterator[Block]:
    """Blocks of a body (or of a layout cell) in document order."""
    for el in _children(container, {_P, _TBL}):
        if el.tag == _P:
            block = _paragraph_block(el)
            if block is not None:
                yield block
        else:
            yield from _table_blocks(el)


def _paragraph_lines(p: etree._Element) -> list[str]:
    """Text of one paragraph as displayed, split at line breaks (w:br, w:cr)."""
    return "".join(str(e) for e in _RUN_CONTENT(p)).split("\n")


def _paragraph_block(p: etree._Element) -> Block | None:
    lines = _paragraph_lines(p)
    text = join_cell_lines(lines)
    if not text:
        return None
    kind = "heading" if is_section_heading(text) else "paragraph"
    return Block(kind=kind, text=text, raw="\n".join(lines), provenance=_provenance())


# --- tables ------------------------------------------------------------------------------------


@dataclass
class _Cell:
    row: int
    col: int
    colspan: int
    tc: etree._Element
    rowspan: int = 1


def _table_blocks(tbl: etree._Element) -> Iterator[Block]:
    """The table as one block, then the tables nested in its cells; a 1x1 layout table is unwrapped."""
    cells, n_rows, n_cols = _layout(tbl)
    if not cells:
        return
    if n_rows == 1 and n_cols == 1:
        yield from _walk(cells[0].tc)
        return
    grid_cells = [_grid_cell(c) for c in cells]
    text = " ".join(c.text for c in grid_cells if c.text)
    raw = " ".join(c.raw for c in grid_cells if c.raw.strip())
    grid = TableGrid(n_rows=n_rows, n_cols=n_cols, cells=grid_cells, method="docx")
    yield Block(kind="table", text=text, raw=raw, provenance=_provenance(), table=grid)
    for cell in cells:
        for nested in _children(cell.tc, {_TBL}):
            yield from _table_blocks(nested)


def _int_attr(values: list[str], default: int) -> int:
    try:
        return max(0, int(values[0])) if values else default
    except ValueError:
        return default


def _vmerge(tc: etree._Element) -> str | None:
    """'restart', 'continue' or None (not vertically merged)."""
    marks = _VMERGE(tc)
    if not marks:
        return None
    return "restart" if marks[0].get(_VAL) == "restart" else "continue"


def _layout(tbl: etree._Element) -> tuple[list[_Cell], int, int]:
    """Place every w:tc on the grid: one _Cell per printed cell, vMerge continuations folded in."""
    cells: list[_Cell] = []
    open_above: dict[int, _Cell] = {}  # start column -> vertically merged cell reaching the row above
    n_cols = 0
    rows = list(_children(tbl, {_TR}))
    for r, tr in enumerate(rows):
        col = _int_attr(_GRID_BEFORE(tr), 0)
        reaching: dict[int, _Cell] = {}
        for tc in _children(tr, {_TC}):
            span = max(1, _int_attr(_GRID_SPAN(tc), 1))
            mark = _vmerge(tc)
            above = open_above.get(col)
            if mark == "continue" and above is not None:
                above.rowspan = r - above.row + 1
                reaching[col] = above
            else:
                cell = _Cell(row=r, col=col, colspan=span, tc=tc)
                cells.append(cell)
                if mark is not None:
                    reaching[col] = cell
            col += span
        open_above = reaching
        n_cols = max(n_cols, col + _int_attr(_GRID_AFTER(tr), 0))
    return cells, len(rows), n_cols


def _grid_cell(cell: _Cell) -> TableCell:
    """Text of a cell: its own paragraphs (not those of nested tables), joined CJK-aware."""
    lines = [line for p in _children(cell.tc, {_P}) for line in _paragraph_lines(p)]
    return TableCell(
        row=cell.row,
        col=cell.col,
        rowspan=cell.rowspan,
        colspan=cell.colspan,
        text=join_cell_lines(lines),
        raw="\n".join(lines),
        provenance=_provenance(),
    )
