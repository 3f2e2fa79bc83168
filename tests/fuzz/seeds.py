"""Seeds of the fuzzers, taken from the real reports: the dev reports' sources, the DOCX fixture, pages of the
digital PDF and crops of a simulated scan. Built in memory (nothing of them is stored in the repository); the
fuzzers write them to a temporary corpus folder. Also the reading the fuzzers do (``read``) and the options they
read with (``OPTIONS``: the configured ones, the facts stage off as in the rest of the fuzzing)."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import numpy as np
import pypdfium2
from PIL import Image

from service.ingest import IngestError, load_document
from service.ocr.render import render_pages
from service.options import load_options
from service.pipeline import extract_document
from tests.conftest import DEV, ROOT

OPTIONS = load_options().with_changes(classifier={"facts": False})
SCAN = ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf"


def read(path: Path) -> bool:
    """Read a file as the service does (backend, then every stage): True when read, False when refused with an
    ``IngestError`` (a limit included). Anything else it raises is a crash."""
    try:
        doc = load_document(path, OPTIONS)
    except IngestError:
        return False
    extract_document(doc, OPTIONS)
    return True


@cache
def scan_page() -> np.ndarray:
    """Page 2 of the seed report's moderate scan (table 3) at 100 dpi, grayscale."""
    return render_pages(SCAN, [2], dpi=100)[2]


def scan_crop() -> bytes:
    """A crop of the seed's scan (table 3's first rows, at 100 dpi) as PNG: an image cheap to read by OCR."""
    return _image(scan_page()[100:400, 50:780], "PNG")


def _image(pixels: np.ndarray, fmt: str, **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format=fmt, **save)
    return buf.getvalue()


def _pdf_page(path: Path, index: int) -> bytes:
    """One page of a PDF as a PDF of its own (fonts and all)."""
    src = pypdfium2.PdfDocument(str(path))
    out = pypdfium2.PdfDocument.new()
    try:
        out.import_pages(src, [index])
        buf = io.BytesIO()
        out.save(buf)
        return buf.getvalue()
    finally:
        out.close()
        src.close()


def _tiff(frames: list[np.ndarray], compression: str | None) -> bytes:
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    buf = io.BytesIO()
    save: dict[str, object] = {"save_all": True, "append_images": images[1:], "dpi": (100, 100)}
    if compression:
        save["compression"] = compression
    images[0].save(buf, format="TIFF", **save)
    return buf.getvalue()


def corpus(backend: str) -> dict[str, bytes]:
    """The seed inputs of one backend, by a name that says where each comes from."""
    if backend == "pdf":
        digital = DEV / "r001" / "source.pdf"
        return {
            "r001.pdf": digital.read_bytes(),
            "r001-page3.pdf": _pdf_page(digital, 2),  # table 3 alone
            "seed-scan-crop.pdf": _image(scan_page()[100:400, 50:780], "PDF", resolution=100.0),  # image-only
        }
    if backend == "docx":
        return {"r003.docx": (ROOT / "datasets" / "fixtures" / "r003.docx").read_bytes()}
    if backend in ("html", "txt", "md"):
        return {f"{p.parent.name}.{backend}": p.read_bytes() for p in sorted(DEV.glob(f"*/source.{backend}"))}
    if backend == "png":
        crop = scan_page()[100:400, 50:780]
        return {"seed-scan-crop.png": _image(crop, "PNG"), "seed-scan-crop.jpg": _image(crop, "JPEG", quality=80)}
    if backend == "tiff":
        page = scan_page()
        frames = [page[100:250, 50:500], page[400:550, 50:500]]  # two frames: read one at a time
        return {"seed-scan-2frames.tiff": _tiff(frames, None), "seed-scan-2frames-lzw.tiff": _tiff(frames, "tiff_lzw")}
    raise ValueError(f"no such backend: {backend}")


BACKENDS = ("pdf", "docx", "html", "txt", "md", "png", "tiff")
