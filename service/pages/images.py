"""Page images for review: a page of a stored PDF or image file as PNG, with the scale from the coordinates of
``source.bbox`` (PDF points for PDFs, pixels of the upright page for images) to the PNG's pixels.

Bounded whatever the file: a PDF page is rendered at PDF_DPI or less, so that it has at most MAX_RENDER_PIXELS; an
image frame of more than MAX_DECODE_PIXELS is not decoded at all (NoPage). The service renders them in a worker
process of its own, never in the API process."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2
from PIL import Image, ImageOps

from service.ocr.render import render_pages

PDF_DPI = 110  # enough to read a table cell on screen; small enough to send quickly
MAX_IMAGE_SIDE = 1800
MAX_RENDER_PIXELS = 8_000_000  # a PDF page rendered larger than this is rendered at a lower dpi
MAX_DECODE_PIXELS = 60_000_000  # an image frame larger than this is not decoded for review


class NoPage(LookupError):
    pass


def render_page(path: Path, filename: str, number: int) -> tuple[bytes, float]:
    """PNG bytes of page ``number`` (1-based) and the scale (PNG pixels per bbox unit)."""
    data = Path(path).read_bytes()
    suffix = Path(filename).suffix.lower()
    if data[:5] == b"%PDF-" or suffix == ".pdf":
        dpi = _pdf_dpi(data, number)
        try:
            image = render_pages(data, [number], dpi=dpi)[number]
        except ValueError as exc:  # page out of range
            raise NoPage(str(exc)) from None
        return _png(Image.fromarray(image)), dpi / 72
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise NoPage(f"page {number} of {filename} is too large to show") from None
    except Exception as exc:  # not an image: web pages, Word files and text have no page images
        raise NoPage(f"{filename} has no page images (only PDFs and scans do)") from exc
    frames = getattr(img, "n_frames", 1)
    if not 1 <= number <= frames:
        raise NoPage(f"page {number} of {frames}")
    img.seek(number - 1)
    if img.width * img.height > MAX_DECODE_PIXELS:
        raise NoPage(f"page {number} is {img.width} x {img.height} pixels: too large to show")
    page = ImageOps.exif_transpose(img.convert("RGB") if img.mode not in ("RGB", "L") else img)
    scale = min(1.0, MAX_IMAGE_SIDE / max(page.size))
    if scale < 1.0:
        page = page.resize((round(page.width * scale), round(page.height * scale)))
    return _png(page), scale


def _pdf_dpi(data: bytes, number: int) -> int:
    """PDF_DPI, or less where the page would pass MAX_RENDER_PIXELS at it."""
    try:
        doc = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise NoPage(f"unreadable PDF ({exc})") from None
    try:
        if not 1 <= number <= len(doc):
            raise NoPage(f"page {number} of {len(doc)}")
        width, height = doc.get_page_size(number - 1)
    except pypdfium2.PdfiumError as exc:
        raise NoPage(f"page {number} cannot be read ({exc})") from None
    finally:
        doc.close()
    pixels = width * height * (PDF_DPI / 72) ** 2
    return PDF_DPI if pixels <= MAX_RENDER_PIXELS else max(int(PDF_DPI * (MAX_RENDER_PIXELS / pixels) ** 0.5), 1)


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
