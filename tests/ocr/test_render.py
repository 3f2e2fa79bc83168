"""PDF pages rendered for OCR: grayscale, or in colour where the page has colour (red seals)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from service.ocr.render import render_pages


def test_colour_pages_render_in_colour_and_grey_pages_as_before(tmp_path: Path):
    grey = np.full((400, 300), 250, np.uint8)
    grey[100:110, 50:250] = 0
    colour = np.stack([grey] * 3, axis=2)
    colour[200:260, 100:160] = (215, 45, 60)  # RGB: a red mark
    path = tmp_path / "two.pdf"
    Image.fromarray(grey).save(path, format="PDF", save_all=True, append_images=[Image.fromarray(colour, "RGB")],
                               resolution=100.0)  # fmt: skip
    plain, coloured = render_pages(path, dpi=100), render_pages(path, dpi=100, colour=True)
    assert plain[1].ndim == plain[2].ndim == 2
    assert np.array_equal(coloured[1], plain[1])  # a grey page: the same bytes as the grayscale rendering
    assert coloured[2].ndim == 3
    b, g, r = (int(v) for v in coloured[2][230, 130])
    assert r > 180 and g < 100 and b < 100  # BGR order
