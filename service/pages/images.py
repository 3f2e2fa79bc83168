"""Page images for review: a page of a stored PDF or image file as PNG, with the scale from the coordinates of
``source.bbox`` (PDF points for PDFs, pixels of the upright page for images) to the PNG's pixels."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from service.ocr.render import render_pages

PDF_DPI = 110  # enough to read a table cell on screen; small enough to send quickly
MAX_IMAGE_SIDE = 1800


class NoPage(LookupError):
    pass


def render_page(path: Path, filename: str, number: int) -> tuple[bytes, float]:
    """PNG bytes of page ``number`` (1-based) and the scale (PNG pixels per bbox unit)."""
    data = Path(path).read_bytes()
    suffix = Path(filename).suffix.lower()
    if data[:5] == b"%PDF-" or suffix == ".pdf":
        try:
            image = render_pages(data, [number], dpi=PDF_DPI)[number]
        except ValueError as exc:  # page out of range
            raise NoPage(str(exc)) from None
        return _png(Image.fromarray(image)), PDF_DPI / 72
    try:
        img = Image.open(io.BytesIO(data))
    except Exception as exc:  # not an image: web pages, Word files and text have no page images
        raise NoPage(f"{filename} has no page images (only PDFs and scans do)") from exc
    frames = getattr(img, "n_frames", 1)
    if not 1 <= number <= frames:
        raise NoPage(f"page {number} of {frames}")
    img.seek(number - 1)
    page = ImageOps.exif_transpose(img.convert("RGB") if img.mode not in ("RGB", "L") else img)
    scale = min(1.0, MAX_IMAGE_SIDE / max(page.size))
    if scale < 1.0:
        page = page.resize((round(page.width * scale), round(page.height * scale)))
    return _png(page), scale


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
