"""The OCR stage fills only the pages that have a bitmap and no text layer."""

from __future__ import annotations

import numpy as np

from service.options import load_options
from service.pages import PageContent, Unit, Word
from service.pages.recognize import needs_ocr, recognize_pages


def test_only_bitmap_pages_without_a_text_layer_are_read():
    layer = PageContent(1, 595, 842, Unit.POINT, 1.0, has_text_layer=True, words=[Word("甲", (1, 2, 3, 4), 10)])
    blank = PageContent(2, 400, 500, Unit.PIXEL, 1.0, has_text_layer=False, bitmap=np.full((500, 400), 250, np.uint8))
    blank.dpi = 200
    assert [needs_ocr(p) for p in (layer, blank)] == [False, True]
    recognize_pages([layer, blank], load_options())
    assert [w.text for w in layer.words] == ["甲"] and layer.tables is None  # untouched
    assert (blank.words, blank.segments, blank.tables) == ([], [], [])  # nothing darker than paper: blank
    assert (blank.width, blank.height, blank.turns) == (400, 500, 0)


def test_no_engine_is_loaded_for_text_layer_pages():
    options = load_options().with_changes(ocr={"engine": "no-such-engine"})
    recognize_pages([PageContent(1, 595, 842, Unit.POINT, 1.0, has_text_layer=True)], options)  # no error
