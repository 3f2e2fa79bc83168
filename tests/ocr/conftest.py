"""Shared fixtures for the OCR tests: r001 rendered once at 200 dpi, its text-layer grids, the engine."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pypdfium2
import pytest

from service.document import TableGrid
from service.ingest.pdf import PdfBackend
from service.ocr import OcrEngine, get_engine
from service.ocr.render import DPI, render_pages
from service.options import load_options

ROOT = Path(__file__).resolve().parents[2]
R001 = ROOT / "datasets/dev-reports/r001"


@pytest.fixture(scope="session")
def r001_pages() -> dict[int, np.ndarray]:
    """All five pages of r001 as grayscale images at 200 dpi."""
    return render_pages(R001 / "source.pdf", dpi=DPI)


@pytest.fixture(scope="session")
def r001_page_grids() -> dict[int, list[TableGrid]]:
    """The PDF text-layer backend's grids of each page read alone (no joining across page breaks)."""
    source = pypdfium2.PdfDocument(str(R001 / "source.pdf"))
    grids: dict[int, list[TableGrid]] = {}
    for index in range(len(source)):
        single = pypdfium2.PdfDocument.new()
        single.import_pages(source, [index])
        buffer = io.BytesIO()
        single.save(buffer)
        doc = PdfBackend().convert(Path(f"r001-page{index + 1}.pdf"), buffer.getvalue(), load_options())
        grids[index + 1] = [b.table for b in doc.tables() if b.table is not None]
    return grids


@pytest.fixture(scope="session")
def r001_cells_truth() -> dict:
    return json.loads((R001 / "cells.json").read_text(encoding="utf-8"))["cells"]


@pytest.fixture(scope="session")
def engine() -> OcrEngine:
    return get_engine("rapidocr")
