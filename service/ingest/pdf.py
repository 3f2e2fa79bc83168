"""PDF backend: every page of the file as a ``PageContent`` (``service.pages.model``); the page stages read them.

Per page, through pdfplumber (pdfminer parses each page once):

- the characters, overprinted duplicates (fake bold) dropped, as words with their box (PDF points, top-left
  origin) and font size, confidence 1.0;
- the ruling segments: stroked lines, stroked rectangle borders and thin filled bars (white strokes and
  background fills are ignored), as ``service.lattice.Segment``;
- whether the page has a text layer. A page with no characters, or a few (fewer than
  ``options.ocr.min_text_chars_per_page``: a page number) over an image covering half the page or more (a
  scan), has none: its characters are dropped, it is rendered by PDFium at ``options.ocr.dpi`` and its bitmap
  (``unit`` pixels, ``scale`` 72/dpi to the page's points) goes to the OCR stage (``service.pages.recognize``).

Tables, lines, paragraphs, page furniture and tables joined across pages come from ``service.pages.layout`` and
``service.pages.compose``, the same for text-layer and scanned pages, so a PDF mixing both reads as one document.
Provenance boxes are in PDF points (of the page turned upright, when a scan lies on its side).

metadata: image_only_pages ("3,4"), ocr_engine and ocr_dpi (when there are such pages), large_image_pages
(pages with a text layer and an image covering a quarter of the page or more: often a table pasted as a
picture), page_count, and the PDF's title/creator/producer. A corrupt file, one PDFium cannot open, an
encrypted one or one with no pages raises IngestError naming the file and the reason.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pdfplumber
import pypdfium2
from pdfplumber.page import Page as PlumberPage

from service.ingest.base import IngestError, LimitExceeded, PagedBackend
from service.lattice import Segment
from service.normalize import clean
from service.ocr.render import render_pages
from service.options import PipelineOptions
from service.pages import PageContent, Unit, Word

MAX_THIN = 2.0  # a filled rectangle thinner than this is a ruling line
LARGE_IMAGE = 0.25  # share of the page an image covers to be listed in large_image_pages
SCAN_IMAGE = 0.5  # share of the page an image covers to make a page with few characters a scan

Point = tuple[float, float]


@dataclass(slots=True)
class _Char:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass
class _RawPage:
    """What pdfplumber gives for a page: characters and drawing objects (dicts)."""

    number: int
    width: float
    height: float
    chars: list[_Char]
    paths: list[dict[str, Any]]  # lines and curves
    rects: list[dict[str, Any]]
    images: list[dict[str, Any]]


class PdfBackend(PagedBackend):
    name = "pdf"
    ocr_needed_for = "scanned pages"

    @classmethod
    def accepts(cls, path: Path, head: bytes) -> bool:
        return head.startswith(b"%PDF") or (path.suffix.lower() == ".pdf" and b"%PDF-" in head[:1024])

    def read_pages(self, path: Path, data: bytes, options: PipelineOptions) -> tuple[list[PageContent], dict[str, str]]:
        metadata = _open_check(path, data, options)
        raw = _read_pages(path, data)
        if not raw:
            raise IngestError(path, "PDF has no pages")
        shares = [_image_share(page) for page in raw]
        pages = [_page(page, share, options) for page, share in zip(raw, shares)]
        image_only = [p for p in pages if not p.has_text_layer]
        if image_only:
            metadata["image_only_pages"] = ",".join(str(p.number) for p in image_only)
            _render(path, data, image_only, options.ocr.dpi)
            metadata["ocr_engine"] = options.ocr.engine
            metadata["ocr_dpi"] = str(options.ocr.dpi)
        with_images = [str(p.number) for p, share in zip(pages, shares) if p.has_text_layer and share >= LARGE_IMAGE]
        if with_images:
            metadata["large_image_pages"] = ",".join(with_images)
        metadata["page_count"] = str(len(pages))
        return pages, metadata


# ---------------------------------------------------------------- opening


def _open_check(path: Path, data: bytes, options: PipelineOptions) -> dict[str, str]:
    """Open with PDFium, which tells corrupt and password-protected files apart; check the pages against
    ``options.limits`` (their number, each one's pixels at the OCR dpi) before any is read; return the document
    info."""
    try:
        doc = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            raise IngestError(path, "encrypted PDF: a password is required to open it") from exc
        raise IngestError(path, f"corrupt or unreadable PDF ({message})") from exc
    try:
        if len(doc) == 0:
            raise IngestError(path, "PDF has no pages")
        limits, dpi = options.limits, options.ocr.dpi
        if len(doc) > limits.max_pages:
            raise LimitExceeded(path, "max_pages", limits.max_pages, f"{len(doc)} pages")
        for i in range(len(doc)):
            try:
                width, height = doc.get_page_size(i)
            except pypdfium2.PdfiumError as exc:
                raise IngestError(path, f"corrupt PDF: page {i + 1} cannot be read ({exc})") from exc
            pixels = width * height * (dpi / 72) ** 2
            if pixels > limits.max_page_pixels:
                raise LimitExceeded(
                    path,
                    "max_page_pixels",
                    limits.max_page_pixels,
                    f"page {i + 1} is {width / 72:.0f} x {height / 72:.0f} in: "
                    f"{pixels / 1e6:.0f} M pixels at {dpi} dpi",
                )
        info = {}
        for key in ("Title", "Creator", "Producer"):
            try:
                info[key] = doc.get_metadata_value(key)
            except UnicodeDecodeError:  # not valid UTF-16 (an unpaired surrogate, found by fuzzing): left out
                info[key] = ""
    finally:
        doc.close()
    return {f"pdf_{k.lower()}": clean(v) for k, v in info.items() if clean(v)}


def _read_pages(path: Path, data: bytes) -> list[_RawPage]:
    """The objects of every page, parsed once by pdfminer (through pdfplumber)."""
    pages: list[_RawPage] = []
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for page in pdf.pages:
                pages.append(_raw_page(page))
                page.close()
    except Exception as exc:  # pdfminer raises many kinds of errors on broken files
        raise IngestError(path, f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    return pages


def _raw_page(page: PlumberPage) -> _RawPage:
    chars = [_Char(c["text"], c["x0"], c["x1"], c["top"], c["bottom"], c["size"]) for c in page.chars]
    return _RawPage(
        number=page.page_number,
        width=float(page.width),
        height=float(page.height),
        chars=chars,
        paths=page.lines + page.curves,
        rects=page.rects,
        images=page.images,
    )


# ---------------------------------------------------------------- one page


def _page(page: _RawPage, image_share: float, options: PipelineOptions) -> PageContent:
    chars = _dedupe(page.chars)
    visible = sum(1 for c in chars if not c.text.isspace())
    # no text at all, or a few characters (a page number) over a page-sized image: a scan
    scan = visible == 0 or (visible < options.ocr.min_text_chars_per_page and image_share >= SCAN_IMAGE)
    content = PageContent(page.number, page.width, page.height, Unit.POINT, 1.0, has_text_layer=not scan)
    if not scan:
        content.words = [Word(c.text, (c.x0, c.top, c.x1, c.bottom), c.size) for c in chars]
        content.segments = _ruling_segments(page)
    return content


def _image_share(page: _RawPage) -> float:
    return max((_area(im) / (page.width * page.height) for im in page.images), default=0.0)


def _area(obj: dict[str, Any]) -> float:
    return max(float(obj["x1"] - obj["x0"]), 0.0) * max(float(obj["bottom"] - obj["top"]), 0.0)


def _dedupe(chars: list[_Char]) -> list[_Char]:
    """Drop overprinted copies (fake bold): same text within a point of a kept character."""
    seen: dict[tuple[str, int, int], _Char] = {}
    out: list[_Char] = []
    for c in chars:
        rx, ry = round(c.x0), round(c.top)
        duplicate = any(
            (other := seen.get((c.text, rx + dx, ry + dy))) is not None
            and abs(other.x0 - c.x0) <= 1
            and abs(other.top - c.top) <= 1
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
        )
        if not duplicate:
            seen[(c.text, rx, ry)] = c
            out.append(c)
    return out


def _render(path: Path, data: bytes, pages: list[PageContent], dpi: int) -> None:
    """Give the pages without a text layer their bitmap (``dpi``; in colour where the page has colour: the OCR
    stage drops red seals by it) for the OCR stage: rendered when the stage reaches the page (``page.render``),
    one at a time, not all before the first is read."""
    for page in pages:
        page.render = functools.partial(_render_one, path, data, page.number, dpi)
        page.dpi, page.unit, page.scale = float(dpi), Unit.PIXEL, 72 / dpi


def _render_one(path: Path, data: bytes, number: int, dpi: int) -> np.ndarray:
    try:
        return render_pages(data, [number], dpi=dpi, colour=True)[number]
    except pypdfium2.PdfiumError as exc:
        raise IngestError(path, f"cannot render scanned page {number} for OCR ({exc})") from exc


# ---------------------------------------------------------------- ruling lines


def _ruling_segments(page: _RawPage) -> list[Segment]:
    segs: list[Segment] = []
    for obj in page.paths:
        if obj.get("stroke", True) and not _is_white(obj.get("stroking_color")):
            segs += [s for a, b in _straight_pieces(obj) if (s := _axis_segment(a, b)) is not None]
    for rect in page.rects:
        segs += _rect_segments(rect)
    return segs


def _straight_pieces(obj: dict[str, Any]) -> list[tuple[Point, Point]]:
    """The straight pieces of a drawn path (moveto/lineto/closepath; curves are skipped)."""
    path = obj.get("path")
    if not path:
        pts = obj.get("pts") or [(obj["x0"], obj["top"]), (obj["x1"], obj["bottom"])]
        return list(zip(pts, pts[1:]))
    pieces: list[tuple[Point, Point]] = []
    start: Point | None = None
    here: Point | None = None
    for cmd, *pts in path:
        if cmd == "m" and pts:
            start = here = pts[-1]
        elif cmd == "l" and pts and here is not None:
            pieces.append((here, pts[-1]))
            here = pts[-1]
        elif cmd == "h" and here is not None and start is not None:
            pieces.append((here, start))
            here = start
        elif pts:
            here = pts[-1]
    return pieces


def _axis_segment(a: Point, b: Point) -> Segment | None:
    (xa, ya), (xb, yb) = a, b
    if abs(ya - yb) <= 1 and abs(xa - xb) > 1:
        return Segment(False, (ya + yb) / 2, min(xa, xb), max(xa, xb))
    if abs(xa - xb) <= 1 and abs(ya - yb) > 1:
        return Segment(True, (xa + xb) / 2, min(ya, yb), max(ya, yb))
    return None


def _rect_segments(rect: dict[str, Any]) -> list[Segment]:
    x0, x1, top, bottom = rect["x0"], rect["x1"], rect["top"], rect["bottom"]
    if rect.get("fill") and not _is_white(rect.get("non_stroking_color")):
        if bottom - top <= MAX_THIN and x1 - x0 > MAX_THIN:
            return [Segment(False, (top + bottom) / 2, x0, x1)]
        if x1 - x0 <= MAX_THIN and bottom - top > MAX_THIN:
            return [Segment(True, (x0 + x1) / 2, top, bottom)]
    if rect.get("stroke") and not _is_white(rect.get("stroking_color")):
        return [
            Segment(False, top, x0, x1),
            Segment(False, bottom, x0, x1),
            Segment(True, x0, top, bottom),
            Segment(True, x1, top, bottom),
        ]
    return []


def _is_white(color: Any) -> bool:
    if isinstance(color, (int, float)):
        color = (color,)
    if not isinstance(color, (tuple, list)) or not color or not all(isinstance(v, (int, float)) for v in color):
        return False
    if len(color) == 4:  # CMYK
        return all(v <= 0.05 for v in color)
    return all(v >= 0.95 for v in color)
