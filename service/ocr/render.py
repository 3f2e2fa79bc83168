"""PDF pages as images for OCR (PDFium through pypdfium2): grayscale, or colour (BGR) where the OCR stage drops
red seals by colour."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pypdfium2

DPI = 200  # default resolution for OCR


def render_pages(
    source: str | Path | bytes, pages: Iterable[int] | None = None, dpi: int = DPI, colour: bool = False
) -> dict[int, np.ndarray]:
    """Grayscale images (H x W, uint8) of the given 1-based pages (all pages when None); with ``colour``, BGR
    images (H x W x 3, uint8) of the pages that print anything in colour and grayscale ones of the others."""
    pdf = pypdfium2.PdfDocument(source if isinstance(source, bytes) else str(source))
    try:
        numbers = list(pages) if pages is not None else list(range(1, len(pdf) + 1))
        out: dict[int, np.ndarray] = {}
        for number in numbers:
            if not 1 <= number <= len(pdf):
                raise ValueError(f"page {number} out of range 1..{len(pdf)}")
            page = pdf[number - 1]
            bitmap = page.render(scale=dpi / 72, grayscale=not colour)
            image = bitmap.to_numpy().reshape(bitmap.height, bitmap.width, -1)
            out[number] = np.ascontiguousarray(image[:, :, 0] if image.shape[2] == 1 or _neutral(image) else image)
            page.close()
        return out
    finally:
        pdf.close()


def _neutral(image: np.ndarray) -> bool:
    """A BGR image whose every pixel is grey (a grayscale scan rendered in colour)."""
    return bool((image[:, :, 0] == image[:, :, 1]).all() and (image[:, :, 1] == image[:, :, 2]).all())
