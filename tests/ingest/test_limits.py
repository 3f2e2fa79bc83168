"""Bombs: small files that ask for unbounded work (issue 16). Each is made in the test; each must fail at once, before
the work starts, naming the limit of ``configs/pipeline.yaml`` it is past — never run, never retried."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import numpy as np
import pypdfium2
import pytest
from PIL import Image

from service.ingest import LimitExceeded, load_document
from service.options import load_options
from tests.conftest import run_measured

LIMITS = load_options().limits


def blank_pages_pdf(path: Path, pages: int, size: tuple[float, float] = (595, 842)) -> Path:
    pdf = pypdfium2.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(*size)
    pdf.save(str(path))
    pdf.close()
    return path


def million_paragraph_docx(path: Path, paragraphs: int = 1_000_000) -> Path:
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = f'<?xml version="1.0"?><w:document {ns}><w:body>' + "<w:p/>" * paragraphs + "</w:body></w:document>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", body)
    return path


def unzips_huge_docx(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        zf.writestr("word/media/zeros.bin", bytes((LIMITS.max_docx_unzipped_mb + 1) * 1024 * 1024))
    return path


def many_frames_tiff(path: Path, frames: int) -> Path:
    first, *rest = [Image.fromarray(np.full((64, 64), 255, np.uint8)) for _ in range(frames)]
    first.save(path, save_all=True, append_images=rest, compression="tiff_deflate")
    return path


def huge_frame_png(path: Path) -> Path:
    side = int(LIMITS.max_page_pixels**0.5) + 64
    Image.new("1", (side, side), 1).save(path, optimize=True)  # 1-bit white: a few kB on disk
    return path


def test_each_bomb_fails_at_once_naming_its_limit(tmp_path: Path):
    cases = [
        (blank_pages_pdf(tmp_path / "blank.pdf", LIMITS.max_pages + 1700), "max_pages"),
        (blank_pages_pdf(tmp_path / "huge-page.pdf", 1, (14400, 14400)), "max_page_pixels"),
        (million_paragraph_docx(tmp_path / "paragraphs.docx"), "max_docx_paragraphs"),
        (unzips_huge_docx(tmp_path / "zip-bomb.docx"), "max_docx_unzipped_mb"),
        (many_frames_tiff(tmp_path / "frames.tiff", 500), "max_pages"),
        (huge_frame_png(tmp_path / "huge.png"), "max_page_pixels"),
    ]
    html = tmp_path / "big.html"
    with open(html, "wb") as f:
        f.write(b"<html><body>")
        chunk = ("<p>" + "一" * 1000 + "</p>").encode() * 1000
        while f.tell() < 50 * 1024 * 1024:
            f.write(chunk)
    cases.append((html, "max_text_chars"))
    for path, limit in cases:
        assert path.stat().st_size < 60 * 1024 * 1024
        start = time.perf_counter()
        with pytest.raises(LimitExceeded) as caught:
            load_document(path)
        assert caught.value.limit == limit, path.name
        assert f"limits.{limit} = " in caught.value.reason
        assert time.perf_counter() - start < 10, path.name


def test_a_bomb_through_the_cli_exits_2_in_bounded_memory(tmp_path: Path):
    """xxgk extract on a 2,000-page blank PDF (a 250 KB file that once took 7.6 GB): a clear error, exit 2, the
    process's peak memory far below 1.5 GB."""
    bomb = blank_pages_pdf(tmp_path / "blank-2000.pdf", 2000)
    assert bomb.stat().st_size < 1024 * 1024
    code, peak, err = run_measured(["-m", "service.cli", "extract", str(bomb)])
    assert code == 2, err
    assert "limits.max_pages" in err and "2000 pages" in err
    assert peak < 1.5 * 1024**3


def test_scanned_pages_are_rendered_and_read_one_at_a_time(tmp_path: Path):
    """120 image-only pages (blank: nothing to read): each rendered when the OCR stage reaches it and dropped once
    read, so the process holds one page image, not 120 (460 MB of them at 200 dpi)."""
    pdf = blank_pages_pdf(tmp_path / "blank-120.pdf", 120)
    code, peak, err = run_measured(["-m", "service.cli", "extract", str(pdf), "-o", str(tmp_path / "out.json")])
    assert code in (0, 1), err
    assert peak < 700 * 1024**2
