"""The OCR stage: pages that have a bitmap and no text layer are read by the recognizer (``service.ocr``).

Per page (``PageContent`` with ``bitmap`` and ``has_text_layer`` False):

1. a page with no pixel darker than INK is blank: nothing to read;
2. upright and level (``ocr.orient.upright``): text lines detected once on the reduced page, orientation from
   the lines' shape and how well they read, skew from the ruling lines or the text lines; the bitmap is
   replaced by the upright, level page and the page's size turned with it;
3. ruling segments from the ink (``ocr.grid.ruling_segments``) and the table grids the one grid builder makes of
   them (``pages.layout.table_grids``); every cell read from its own crop (``ocr.read_cells.read_tables``; a
   cell that a lost column ruling made of two is read as its parts, ``ocr.grid.lost_rulings``);
4. the detected lines outside the tables are read at full resolution: they are the page's words (one per
   detected box, with every character's box, confidence and alternatives).

The engine (``options.ocr.engine``, ``options.ocr.threads``) is loaded only when a page needs it; a missing
engine raises ``OcrUnavailable`` naming what to install. Coordinates are pixels of the upright, level page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.lattice import Grid
from service.ocr.base import OcrEngine, get_engine
from service.ocr.grid import binarize, ruling_segments, to_gray
from service.ocr.orient import Quad, upright
from service.ocr.read_cells import read_tables
from service.options import PipelineOptions
from service.pages.layout import bitmap_rulings, table_grids
from service.pages.model import PageContent, ReadTable, Word

INK = 160  # a page with no pixel darker than this is blank
TABLE_MARGIN = 0.03  # inches: a detected line centred inside a table, this far from its edges, is in it


def needs_ocr(page: PageContent) -> bool:
    return not page.has_text_layer and page.bitmap is not None


def recognize_pages(pages: Sequence[PageContent], options: PipelineOptions) -> None:
    """Fill the words, ruling segments and tables of every page that has only a bitmap."""
    todo = [p for p in pages if needs_ocr(p)]
    if not todo:
        return
    engine = get_engine(options.ocr.engine, threads=options.ocr.threads)
    for page in todo:
        recognize_page(page, engine)


def recognize_page(page: PageContent, engine: OcrEngine) -> None:
    """Read one bitmap page (grayscale or colour, any of the four orientations, slightly skewed)."""
    assert page.bitmap is not None and page.dpi is not None
    dpi = page.dpi
    gray = to_gray(page.bitmap)
    page.words, page.segments, page.tables = [], [], []
    if not (gray < INK).any():
        return
    level = upright(gray, engine, dpi)
    gray = level.gray
    if level.turns % 2:
        page.width, page.height = page.height, page.width
    page.bitmap, page.turns, page.skew = gray, level.turns, round(level.skew, 3)
    page.segments = ruling_segments(binarize(gray), dpi)
    grids = table_grids(page.segments, bitmap_rulings(dpi))
    page.tables = [
        ReadTable(g.with_cells(c.cell for c in cells), tuple(cells))
        for g, cells in zip(grids, read_tables(gray, grids, engine, dpi))
    ]
    text_quads = [q for q in level.quads if not _in_tables(q, grids, TABLE_MARGIN * dpi)]
    page.words = [
        Word(text=ln.text.strip(), box=ln.box, size=ln.box[3] - ln.box[1], confidence=ln.confidence, ocr=ln)
        for ln in engine.read_lines(gray, text_quads)
    ]


def _in_tables(quad: Quad, grids: Sequence[Grid], margin: float) -> bool:
    cx, cy = np.asarray(quad).mean(axis=0)
    return any(
        g.xs[0] + margin <= cx <= g.xs[-1] - margin and g.ys[0] + margin <= cy <= g.ys[-1] - margin for g in grids
    )
