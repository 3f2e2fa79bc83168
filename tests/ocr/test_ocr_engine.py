"""The OCR engine interface and the default RapidOCR engine, on r001 rendered at 200 dpi."""

from __future__ import annotations

import socket

import cv2
import numpy as np
import pytest

from service.ocr import Crop, OcrLine, OcrUnavailable, get_engine
from service.ocr.ctc import BLANK, char_spans, greedy_decode, restricted_decode
from service.ocr.rapidocr_engine import DET_MODEL, REC_MODEL, RapidOcrEngine, model_path
from service.ocr.recognizer import NUMERIC
from service.ocr.render import DPI
from service.pages.layout import find_grids

TOP_OF_PAGE_3 = (slice(200, 860), slice(150, 1500))  # the end of table 2: 行政处罚 4119, 行政强制 195, 7730.28


def _no_network(*args, **kwargs):
    raise AssertionError("the OCR engine tried to open a network connection")


@pytest.fixture(scope="module")
def offline_lines(r001_pages) -> list[OcrLine]:
    """A fresh engine, created and run with every network connection refused."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        engine = RapidOcrEngine(threads=1)
        return engine.recognize_lines(r001_pages[3][TOP_OF_PAGE_3])


def test_models_ship_in_the_wheel():
    for name in (DET_MODEL, REC_MODEL):
        assert model_path(name).stat().st_size > 1_000_000


def test_missing_model_names_what_to_install():
    with pytest.raises(OcrUnavailable) as info:
        model_path("PP-OCRv0_missing.onnx")
    message = str(info.value)
    assert "PP-OCRv0_missing.onnx" in message and "pip install" in message and "rapidocr" in message


def test_unknown_engine():
    with pytest.raises(ValueError, match="unknown OCR engine"):
        get_engine("tesseract")


def test_get_engine_is_cached(engine):
    assert get_engine() is engine
    assert engine.name == "rapidocr"


def test_full_page_lines_offline(offline_lines):
    texts = [line.text for line in offline_lines]
    for expected in ("行政处罚", "4119", "行政强制", "195", "行政事业性收费", "7730.28"):
        assert expected in texts, texts
    assert texts.index("行政处罚") < texts.index("行政强制") < texts.index("7730.28")  # top to bottom


def test_line_characters_have_boxes_scores_and_alternatives(offline_lines):
    line = next(ln for ln in offline_lines if ln.text == "4119")
    x0, y0, x1, y1 = line.box
    assert [c.text for c in line.chars] == list("4119")
    lefts = [c.box[0] for c in line.chars]
    assert lefts == sorted(lefts)
    for char in line.chars:
        cx0, cy0, cx1, cy1 = char.box
        assert x0 - 1 <= cx0 < cx1 <= x1 + 1 and y0 - 1 <= cy0 < cy1 <= y1 + 1
        assert 0.9 < char.confidence <= 1.0
        assert char.alternatives[0] == (char.text, pytest.approx(char.confidence, abs=1e-4))
        scores = [p for _, p in char.alternatives]
        assert scores == sorted(scores, reverse=True) and len(scores) == 5
    assert line.confidence == pytest.approx(np.mean([c.confidence for c in line.chars]), abs=1e-4)


def test_read_crops_in_order_with_page_offsets(engine, r001_pages, offline_lines):
    page = r001_pages[3][TOP_OF_PAGE_3]
    wanted = [ln for ln in offline_lines if ln.text in ("195", "行政处罚", "7730.28")]
    crops = []
    for line in wanted:
        x0, y0, x1, y1 = (int(v) for v in line.box)
        # offsets as if the crop were cut from the full page
        crops.append(Crop(page[y0:y1, x0:x1], x0 + TOP_OF_PAGE_3[1].start, y0 + TOP_OF_PAGE_3[0].start))
    crops.append(np.full((40, 120), 255, np.uint8))  # a blank crop gives empty text
    out = engine.read_crops(crops)
    assert [t.text for t in out] == [ln.text for ln in wanted] + [""]
    for text, crop in zip(out, crops):
        assert text.box == pytest.approx(crop.box if isinstance(crop, Crop) else (0, 0, 120, 40))
        for char in text.chars:
            assert text.box[0] <= char.box[0] < char.box[2] <= text.box[2] + 0.1
    assert out[-1].confidence == 0.0 and out[-1].chars == ()


def test_ctc_greedy_decode_keeps_runs_and_top_k():
    # classes: 0 blank, 1 "a", 2 "b"; steps: a a blank a b b blank
    best = [1, 1, BLANK, 1, 2, 2, BLANK]
    probs = np.full((len(best), 3), 0.05, dtype=np.float32)
    for step, cls in enumerate(best):
        probs[step, cls] = 0.9
    probs[4, 1] = 0.3  # at the first "b" step, "a" is the runner-up
    probs[4, 2] = 0.6
    chars = greedy_decode(probs, top_k=2)
    assert [c.index for c in chars] == [1, 1, 2]  # repeats collapse, a blank separates two a's
    assert (chars[0].start, chars[0].end) == (0, 2)
    assert chars[2].peak == 5 and chars[2].prob == pytest.approx(0.9)
    assert chars[2].top[0][0] == 2
    spans = char_spans(chars, len(best))
    assert all(a < b for a, b in spans) and spans[0][0] >= 0 and spans[-1][1] <= len(best)


def test_ctc_restricted_decode_reads_lookalikes_as_allowed_classes():
    # classes: 0 blank, 1 "0", 2 "°", 3 "1"; the full path reads ° ° blank 1 ° 0 -> "°1°0"
    probs = np.array(
        [
            [0.10, 0.30, 0.55, 0.05],
            [0.10, 0.20, 0.65, 0.05],
            [0.90, 0.03, 0.04, 0.03],
            [0.05, 0.05, 0.05, 0.85],
            [0.05, 0.30, 0.60, 0.05],
            [0.05, 0.80, 0.10, 0.05],
        ],
        dtype=np.float32,
    )
    assert [c.index for c in greedy_decode(probs)] == [2, 3, 2, 1]
    chars = restricted_decode(probs, np.array([1, 3]), top_k=3)
    # the blank step stays blank, ° becomes 0, and a 0 read as ° next to a 0 is one 0 (CTC collapses repeats)
    assert [c.index for c in chars] == [1, 3, 1]
    assert [(c.start, c.end) for c in chars] == [(0, 2), (3, 4), (4, 6)]
    # probability: a character is there (1 - blank) times the class's share of the allowed classes
    assert chars[0].prob == pytest.approx(0.9 * 0.3 / 0.35)
    assert chars[2].peak == 5 and chars[2].prob == pytest.approx(0.95 * 0.8 / 0.85)
    for char in chars:
        assert {i for i, _ in char.top} <= {BLANK, 1, 3}
        assert char.top[0][0] == char.index


def test_dim_zero_read_as_a_lookalike_reads_zero_with_a_numbers_alphabet(engine, r001_pages):
    """A 0 of table 4 of r001 (page 4, 200 dpi), made small and dim and set at the top of a tall crop (as a crop
    runs when the cell's band takes in something below): the full alphabet reads a look-alike (。 or O); the same
    model output decoded with a number's alphabet reads 0, with digit alternatives only."""
    page = r001_pages[4]
    (grid, *_) = find_grids(page, DPI)
    cell = next(c for c in grid.cells if (c.row, c.col) == (0, 3))
    x0, y0, x1, y1 = (int(v) for v in cell.bbox)
    inside = page[y0 + 6 : y1 - 6, x0 + 6 : x1 - 6]
    ys, xs = np.nonzero(inside < 128)
    glyph = inside[ys.min() - 3 : ys.max() + 4, xs.min() - 3 : xs.max() + 4]
    assert engine.read_crops([glyph])[0].text == "0"
    small = cv2.resize(glyph, (int(glyph.shape[1] * 0.35), int(glyph.shape[0] * 0.35)), interpolation=cv2.INTER_AREA)
    crop = cv2.copyMakeBorder(small, 0, 30, 30, 30, cv2.BORDER_CONSTANT, value=255).astype(np.float32)
    crop = np.clip(cv2.GaussianBlur(255 - (255 - crop) * 0.5, (0, 0), 1.0), 0, 255).astype(np.uint8)
    ((full, numeric),) = engine.read_crops_numeric([crop])
    assert full.text in ("。", "O", "o", "°")
    assert numeric is not None and numeric.text == "0"
    (char,) = numeric.chars
    assert char.confidence > 0.5 and char.box == full.chars[0].box
    assert all(t == "" or t in NUMERIC for t, _ in char.alternatives)
    # a reading made of a number's characters already has no second decoding
    assert engine.read_crops_numeric([glyph])[0][1] is None
