"""Backend interface, registry and helpers shared by the format backends."""
from __future__ import annotations

import hashlib
import importlib
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

from charset_normalizer import from_bytes

from service.document import Document
from service.normalize import clean

# Registered backends, tried in order; each module defines the named Backend subclass.
REGISTRY = (
    "service.ingest.pdf:PdfBackend",
    "service.ingest.docx:DocxBackend",
    "service.ingest.html:HtmlBackend",
    "service.ingest.markdown:MarkdownBackend",
    "service.ingest.image:ImageBackend",
    "service.ingest.text:TextBackend",
)


class IngestError(Exception):
    """A file that cannot be read: names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # travels from a worker process to the parent intact
        return IngestError, (self.path, self.reason)


class Backend(ABC):
    name: str = ""

    @classmethod
    @abstractmethod
    def accepts(cls, path: Path, head: bytes) -> bool:
        """Whether this backend reads the file (by content first, extension second)."""

    @abstractmethod
    def convert(self, path: Path, data: bytes) -> Document:
        """Read the file into the document model; raise IngestError on corrupt input."""


def _load(spec: str) -> type[Backend]:
    module, _, cls = spec.partition(":")
    return getattr(importlib.import_module(module), cls)


def backend_for(path: Path, data: bytes) -> Backend:
    head = data[:4096]
    for spec in REGISTRY:
        cls = _load(spec)
        if cls.accepts(path, head):
            return cls()
    raise IngestError(path, "unsupported file type (expected PDF, DOCX, HTML, Markdown, plain text or an image: PNG, JPEG, TIFF)")


def load_document(path: str | Path) -> Document:
    path = Path(path)
    if not path.exists():
        raise IngestError(path, "file not found")
    if path.is_dir():
        raise IngestError(path, "is a directory, not a file")
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(path, "file is empty")
    return backend_for(path, data).convert(path, data)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.I)


def decode_text(path: Path, data: bytes) -> str:
    """Decode bytes of a text or HTML file: BOM, declared charset, UTF-8, GB18030, then detection."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    declared = _META_CHARSET.search(data[:4096])
    candidates = []
    if declared:
        name = declared.group(1).decode("ascii", "ignore").lower()
        # GB2312/GBK pages routinely contain GBK-only characters: read them as GB18030 (a superset).
        candidates.append("gb18030" if name in {"gb2312", "gbk", "gb18030", "x-gbk"} else name)
    candidates += ["utf-8", "gb18030"]
    for enc in candidates:
        try:
            return data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
    best = from_bytes(data).best()
    if best is None:
        raise IngestError(path, "cannot determine the text encoding (binary or corrupt file?)")
    return str(best)


def looks_binary(head: bytes) -> bool:
    return b"\x00" in head[:1024]


# --- text rules shared by the backends ---------------------------------------------------------

# A section heading: a Chinese number (一 … 十, 十一 …) and 、, then text (一、总体情况).
_SECTION_HEADING = re.compile(r"^[一二三四五六七八九十]{1,3}、\s*\S")
SECTION_HEADING_MAX_CHARS = 40


def is_section_heading(text: str) -> bool:
    """Whether cleaned text is a section heading such as 一、总体情况.

    It starts with a Chinese number and 、, is at most 40 characters long and has no full stop
    before its last character (a full stop inside means a heading run into its paragraph).
    """
    if len(text) > SECTION_HEADING_MAX_CHARS or not _SECTION_HEADING.match(text):
        return False
    return "。" not in text[:-1]


# Set full-width in Chinese text although Unicode gives them an ambiguous width.
_WIDE_PUNCT = frozenset("“”‘’…—·•")


def is_wide(ch: str) -> bool:
    """CJK ideographs, kana, full-width forms and Chinese punctuation: no spaces around them."""
    return unicodedata.east_asian_width(ch) in ("W", "F") or ch in _WIDE_PUNCT


def join_wide(left: str, right: str) -> str:
    """Join two pieces of text: no separator where either side is a CJK (wide) character, else one space."""
    if not left or not right:
        return left or right
    return left + ("" if is_wide(left[-1]) or is_wide(right[0]) else " ") + right


def join_cell_lines(parts: Iterable[str]) -> str:
    """Clean the lines of one table cell (or paragraph) and join them with ``join_wide``; blank lines drop out.

    A label broken across lines reads as one word (法律服务 + 机构), numbers and Latin words on separate
    lines stay apart (12 + 5 -> "12 5").
    """
    out = ""
    for part in parts:
        out = join_wide(out, clean(part))
    return out
