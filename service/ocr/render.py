"""PDF pages as grayscale images for OCR (PDFium through pypdfium2)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pypdfium2

DPI = 200  # default resolution for OCR


def render_pages(
    source: str | Path | bytes, pages: Iterable[int] | None = None, dpi: int = DPI
) -> dict[int, np.ndarray]:
    """Grayscale images (H x W, uint8) of the given 1-based pages (all pages when None)."""
    pdf = pypdfium2.PdfDocument(source if isinstance(source, bytes) else str(source))
    try:
        numbers = list(pages) if pages is not None else list(range(1, len(pdf) + 1))
        out: dict[int, np.ndarray] = {}
        for number in numbers:
            if not 1 <= number <= len(pdf):
                raise ValueError(f"page {number} out of range 1..{len(pdf)}")
            page = pdf[number - 1]
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            out[number] = np.ascontiguousarray(bitmap.to_numpy().reshape(bitmap.height, bitmap.width))
            page.close()
        return out
    finally:
        pdf.close()
