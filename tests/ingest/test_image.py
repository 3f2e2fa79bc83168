"""The image backend keeps colour frames in colour (BGR) for the OCR stage, grayscale frames as grayscale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from service.ingest import load_document
from service.ingest.image import ImageBackend
from service.options import load_options
from tests.pages.test_normalize_image import photographed, r001_pages


def test_a_colour_photo_reaches_the_ocr_stage_in_colour_and_a_grey_scan_in_grey(tmp_path: Path):
    photo = photographed(r001_pages()[2])
    jpg, png = tmp_path / "photo.jpg", tmp_path / "scan.png"
    Image.fromarray(np.ascontiguousarray(photo[:, :, ::-1]), "RGB").save(jpg, quality=90)
    Image.fromarray(r001_pages()[2]).save(png)
    (page,), _ = ImageBackend().read_pages(jpg, jpg.read_bytes(), load_options())
    assert page.bitmap is not None and page.bitmap.shape == photo.shape
    y, x = 1750 + 165 * 0.72 * np.sin(np.pi), 1150 - 165  # on the seal's ring, left of its centre (warped a little)
    ring = page.bitmap[int(y) - 30 : int(y) + 30, int(x) - 30 : int(x) + 70].reshape(-1, 3).astype(int)
    assert ((ring[:, 2] - ring[:, 0]) > 60).any()  # red stays red: BGR order, red channel last
    (grey,), _ = ImageBackend().read_pages(png, png.read_bytes(), load_options())
    assert grey.bitmap is not None and np.array_equal(grey.bitmap, r001_pages()[2])


def test_a_photographed_stamped_jpeg_reads_its_numbers_and_marks_the_cells_under_the_seal(tmp_path: Path):
    path = tmp_path / "page3.jpg"
    Image.fromarray(np.ascontiguousarray(photographed(r001_pages()[2])[:, :, ::-1]), "RGB").save(path, quality=80)
    doc = load_document(path)
    (page,) = doc.pages
    assert {"normalise.seals", "normalise.perspective", "normalise.illumination"} <= set(page.timings)
    table3 = next(b.table for b in doc.tables() if b.table is not None and "自然人" in b.text)
    sealed = [c for c in table3.cells if c.provenance.sealed]
    assert len(sealed) >= 20 and all(c.text.isdigit() for c in sealed)
    numbers = [c.text for c in table3.cells if c.col >= 3 and c.row >= 4]
    assert numbers and all(t.isdigit() for t in numbers)  # no ° or 。 for a zero
