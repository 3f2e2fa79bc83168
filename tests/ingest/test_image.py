"""The image backend keeps colour frames in colour (BGR) for the OCR stage, grayscale frames as grayscale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from service.ingest import IngestError, load_document
from service.ingest.image import ImageBackend
from service.options import load_options
from tests.conftest import run_measured
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


def test_a_tiff_of_many_pages_holds_one_page_in_memory_and_decodes_each_again_when_read(tmp_path: Path):
    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 256, (2000, 1500), dtype=np.uint8)) for _ in range(3)]
    path = tmp_path / "three.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_deflate", dpi=(180, 180))
    pages, metadata = ImageBackend().read_pages(path, path.read_bytes(), load_options())
    assert [(p.width, p.height, p.dpi) for p in pages] == [(1500, 2000, 180.0)] * 3
    assert metadata["page_count"] == "3"
    assert all(p.bitmap is None and p.render is not None for p in pages)  # none kept, each rendered when read
    for page, frame in zip(pages, frames, strict=True):
        assert page.render is not None and np.array_equal(page.render(), np.asarray(frame))


def test_a_tiff_whose_third_frame_is_cut_is_refused_at_once(tmp_path: Path):
    rng = np.random.default_rng(1)
    frames = [Image.fromarray(rng.integers(0, 256, (600, 400), dtype=np.uint8)) for _ in range(3)]
    path = tmp_path / "cut.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:])  # uncompressed: frames one after another
    data = path.read_bytes()
    third = data.rfind(np.asarray(frames[2])[:1].tobytes())
    assert third > 0
    path.write_bytes(data[: third + 1000] + bytes(0) + data[third + 1000 + 200_000 :])
    with pytest.raises(IngestError, match="image"):
        load_document(path)


def test_reading_a_tiff_of_forty_pages_never_holds_them_all(tmp_path: Path):
    rng = np.random.default_rng(2)
    pixels = np.full((3300, 2500), 255, dtype=np.uint8)
    pixels[rng.integers(0, 3300, 20000), rng.integers(0, 2500, 20000)] = 0
    page = Image.fromarray(pixels)  # 8.25 MB a page, a small file
    path = tmp_path / "forty.tiff"
    page.save(path, save_all=True, append_images=[page] * 39, compression="tiff_deflate")
    script = (
        "import sys; from pathlib import Path; from service.ingest.image import ImageBackend; "
        "from service.options import load_options; p = Path(sys.argv[1]); "
        "pages, _ = ImageBackend().read_pages(p, p.read_bytes(), load_options()); "
        "print(sum(q.render().size for q in pages))"
    )
    code, peak, err = run_measured(["-c", script, str(path)])
    assert code == 0, err
    assert peak < 300 * 2**20  # 150 MB; the forty pages decoded at once: 465 MB
