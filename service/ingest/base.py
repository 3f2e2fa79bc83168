"""Backend interface, registry and helpers shared by the format backends."""

from __future__ import annotations

import hashlib
import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from service.document import UNDECODABLE_KEY, Document
from service.ocr.base import OcrUnavailable
from service.options import LimitsOptions, PipelineOptions, load_options
from service.pages import PageContent, build_document
from service.pages.recognize import needs_ocr, recognize_pages

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


class LimitExceeded(IngestError):
    """A file past one of ``options.limits``: names the limit, its value and what the file has."""

    def __init__(self, path: str | Path, limit: str, value: int, found: str):
        self.limit, self.value, self.found = limit, value, found
        super().__init__(path, f"over the limit limits.{limit} = {value}: {found}")

    def __reduce__(self):
        return LimitExceeded, (self.path, self.limit, self.value, self.found)


class Backend(ABC):
    name: str = ""

    @classmethod
    @abstractmethod
    def accepts(cls, path: Path, head: bytes) -> bool:
        """Whether this backend reads the file (by content first, extension second)."""

    @abstractmethod
    def convert(self, path: Path, data: bytes, options: PipelineOptions) -> Document:
        """Read the file into the document model; raise IngestError on corrupt input. (The declarative
        backends, HTML, DOCX, text and Markdown, read no option and take ``options`` as optional.)"""


class PagedBackend(Backend):
    """A source made of pages (PDF, images): the backend reads the file into ``PageContent``s and what it knows
    about the file (metadata); the pages then go through the page stages (``service.pages.build_document``: OCR
    of bitmap-only pages, layout, composition), the same for every paged source. ``Document.kind`` is the
    backend's name."""

    ocr_needed_for: str = "pages without a text layer"  # in the message when the OCR engine is missing

    @abstractmethod
    def read_pages(self, path: Path, data: bytes, options: PipelineOptions) -> tuple[list[PageContent], dict[str, str]]:
        """The file's pages and metadata; raise IngestError on corrupt input."""

    def convert(
        self, path: Path, data: bytes, options: PipelineOptions, known: Mapping[int, PageContent] | None = None
    ) -> Document:
        """``known``: pages the OCR stage read elsewhere, by number (see ``recognize_pages``)."""
        pages, metadata = self.read_pages(path, data, options)
        try:
            return build_document(path, sha256(data), self.name, pages, metadata, options, known)
        except OcrUnavailable as exc:
            raise IngestError(path, f"{self.ocr_needed_for} are read by OCR: {exc}") from exc

    def read_one_page(self, path: Path, data: bytes, number: int, options: PipelineOptions) -> PageContent | None:
        """Page ``number`` read by the OCR stage on its own (no columns of a table left open by the page before it
        carried in), ready to be handed to :meth:`convert` as a known page; None when the page has a text layer
        (nothing to read by OCR)."""
        pages, _ = self.read_pages(path, data, options)
        if not 1 <= number <= len(pages):
            raise IngestError(path, f"no page {number} (the file has {len(pages)})")
        page = pages[number - 1]
        if not needs_ocr(page):
            return None
        try:
            (page,) = recognize_pages([page], options)
        except OcrUnavailable as exc:
            raise IngestError(path, f"{self.ocr_needed_for} are read by OCR: {exc}") from exc
        page.render, page.bitmap = None, None  # it held the whole file's bytes; the bitmap is read
        return page


def _load(spec: str) -> type[Backend]:
    module, _, cls = spec.partition(":")
    return getattr(importlib.import_module(module), cls)


def backend_for(path: Path, data: bytes) -> Backend:
    head = data[:4096]
    for spec in REGISTRY:
        cls = _load(spec)
        if cls.accepts(path, head):
            return cls()
    raise IngestError(
        path, "unsupported file type (expected PDF, DOCX, HTML, Markdown, plain text or an image: PNG, JPEG, TIFF)"
    )


def limits_of(options: PipelineOptions | None) -> LimitsOptions:
    return (options or load_options()).limits


def check_text_size(path: Path, data: bytes, limits: LimitsOptions) -> None:
    """A text-like file far larger than the characters a document may have (four bytes a character at most)."""
    if len(data) > 4 * limits.max_text_chars:
        raise LimitExceeded(path, "max_text_chars", limits.max_text_chars, f"{len(data) / 1024 / 1024:.0f} MB of text")


def check_text_chars(path: Path, text: str, limits: LimitsOptions) -> None:
    if len(text) > limits.max_text_chars:
        raise LimitExceeded(path, "max_text_chars", limits.max_text_chars, f"{len(text)} characters")


def load_document(
    path: str | Path, options: PipelineOptions | None = None, known: Mapping[int, PageContent] | None = None
) -> Document:
    """Read a file into the document model with the backend that accepts it (``options``: ``load_options()``
    when not given; ``known``: pages of a paged file the OCR stage read elsewhere, by number)."""
    options = options or load_options()
    path, data = Path(path), _read_checked(Path(path), options)
    backend = backend_for(path, data)
    if known and isinstance(backend, PagedBackend):
        return backend.convert(path, data, options, known)
    return backend.convert(path, data, options)


def read_one_page(path: str | Path, number: int, options: PipelineOptions | None = None) -> PageContent | None:
    """Page ``number`` of a paged file (PDF, TIFF) read by the OCR stage on its own (``PagedBackend.read_one_page``);
    an IngestError for a file that is not paged."""
    options = options or load_options()
    path, data = Path(path), _read_checked(Path(path), options)
    backend = backend_for(path, data)
    if not isinstance(backend, PagedBackend):
        raise IngestError(path, "not a file of pages (PDF or image)")
    return backend.read_one_page(path, data, number, options)


def pages_to_read(path: str | Path, options: PipelineOptions | None = None) -> list[int]:
    """The pages of a file that the OCR stage reads (those without a text layer: a scan's pages), by number; none
    for a file that is not paged, or that cannot be read (its reading will say why)."""
    options = options or load_options()
    try:
        path, data = Path(path), _read_checked(Path(path), options)
        backend = backend_for(path, data)
        if not isinstance(backend, PagedBackend):
            return []
        pages, _ = backend.read_pages(path, data, options)
    except IngestError:
        return []
    return [page.number for page in pages if needs_ocr(page)]


def _read_checked(path: Path, options: PipelineOptions) -> bytes:
    """The file's bytes, after the checks every reading makes first (there, not a folder, not past max_file_mb,
    not empty)."""
    if not path.exists():
        raise IngestError(path, "file not found")
    if path.is_dir():
        raise IngestError(path, "is a directory, not a file")
    size = path.stat().st_size
    if size > options.limits.max_file_mb * 1024 * 1024:
        raise LimitExceeded(path, "max_file_mb", options.limits.max_file_mb, f"{size / 1024 / 1024:.0f} MB")
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(path, "file is empty")
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.I)


MAX_UNDECODABLE = 0.05  # share of a text's characters that may be bytes no encoding reads (replaced, reported)
MIN_COMMON = 0.9  # ... when at least this share of its Chinese characters are common ones (GB2312): real text


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    replaced: int = 0  # characters that could not be read (each became U+FFFD; a bad byte may take its pair)

    def note(self) -> dict[str, str]:
        """Document.metadata entries saying what was replaced (none for a clean decoding)."""
        return {UNDECODABLE_KEY: f"{self.replaced} ({self.encoding})"} if self.replaced else {}


def decode_text(path: Path, data: bytes) -> str:
    """Decode bytes of a text or HTML file: BOM, declared charset, UTF-8, GB18030, then detection."""
    return decode_counted(path, data).text


def decode_counted(path: Path, data: bytes) -> Decoded:
    """``decode_text`` that also tolerates a few bytes no encoding reads (a stray 0xFF in UTF-8, garbage in GBK):
    the encoding that needs the fewest replaced is taken when they are at most MAX_UNDECODABLE of the text, and
    the count is returned with it."""
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
        return Decoded(text, "utf-8", text.count("\ufffd") - data.count("\ufffd".encode()))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Decoded(data.decode("utf-16", errors="replace"), "utf-16")
    declared = _META_CHARSET.search(data[:4096])
    candidates = []
    if declared:
        name = declared.group(1).decode("ascii", "ignore").lower()
        # GB2312/GBK pages routinely contain GBK-only characters: read them as GB18030 (a superset).
        candidates.append("gb18030" if name in {"gb2312", "gbk", "gb18030", "x-gbk"} else name)
    candidates += ["utf-8", "gb18030"]
    for enc in candidates:
        try:
            return Decoded(data.decode(enc), enc)
        except (UnicodeDecodeError, LookupError):
            continue
    tried = []
    for enc in dict.fromkeys(candidates):  # Chinese reports are UTF-8 or GB: a few bad bytes in one of them
        try:
            text = data.decode(enc, errors="replace")
        except LookupError:
            continue
        tried.append(Decoded(text, enc, text.count("\ufffd") - data.count("\ufffd".encode())))
    usable = [d for d in tried if d.replaced <= MAX_UNDECODABLE * max(len(d.text), 1) and _plausible(d.text)]
    if usable:
        return min(usable, key=lambda d: d.replaced)
    best = from_bytes(data).best()
    if best is None:
        raise IngestError(path, "cannot determine the text encoding (binary or corrupt file?)")
    return Decoded(str(best), str(best.encoding))


_HAN = re.compile(r"[\u3400-\u9fff]")


def _plausible(text: str) -> bool:
    """Chinese text, not bytes decoded at random: most of its Chinese characters are common ones (GB2312); random
    bytes read as GB18030 give rare ones two times in three."""
    han = _HAN.findall(text)
    if len(han) < 20:
        return True
    common = 0
    for ch in han:
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common >= MIN_COMMON * len(han)


def looks_binary(head: bytes) -> bool:
    return b"\x00" in head[:1024]
