"""The OCR stage: pages that have a bitmap and no text layer are read by the recognizer (``service.ocr``).

Per page (``PageContent`` with ``bitmap`` and ``has_text_layer`` False):

0. normalised (``pages.normalize_image``): a colour page made grayscale with its red seals taken out by colour
   (black print under them kept; their boxes kept in ``page.seals``), perspective undone, illumination
   flattened; a flat grey scan is left exactly as it is;
1. a page with no pixel darker than INK is blank: nothing to read;
2. upright and level (``ocr.orient.upright``): text lines detected once on the reduced page, orientation from
   the lines' shape and how well they read, skew from the ruling lines or the text lines; the bitmap is
   replaced by the upright, level page and the page's size turned with it;
3. ruling segments from the ink (``ocr.grid.ruling_segments``) and the table grids the one grid builder makes of
   them (``pages.layout.table_grids``); on a page where they make no table, the tables printed without inner
   rulings (三线表) found from the page's whitespace (``pages.stream``; the columns of a table the previous page
   left open carried over), else, where the option lets it, the layout model's (``pages.layout_model``); every
   cell read from its own crop (``ocr.read_cells.read_tables``; a cell of a ruled table that a lost column
   ruling made of two is read as its parts, ``ocr.grid.lost_rulings``);
4. the detected lines outside the tables are read at full resolution: they are the page's words (one per
   detected box, with every character's box, confidence and alternatives).

The engine (``options.ocr.engine``, ``options.ocr.threads``) is loaded only when a page needs it; a missing
engine raises ``OcrUnavailable`` naming what to install. Coordinates are pixels of the upright, level page.
``page.timings``: CPU seconds of each step (normalise.colour, normalise.perspective, normalise.illumination,
normalise.seals, orient, rulings, grids, stream, layout, cells, lines; CPU seconds of the whole process, the
recognizer's threads included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from service.document import BBox
from service.lattice import Grid, Segment
from service.ocr.base import OcrEngine, get_engine
from service.ocr.grid import binarize, erase_streaks, rulings_and_streaks
from service.ocr.orient import Quad, follow, upright
from service.ocr.read_cells import read_tables
from service.options import NormaliseOptions, PipelineOptions
from service.pages.layout import bitmap_rulings, table_grids
from service.pages.layout_model import LayoutModel, combined_grids, load_model
from service.pages.model import PageContent, ReadTable, Word
from service.pages.normalize_image import normalise, seal_boxes, timed
from service.pages.stream import StreamTable, stream_tables

INK = 160  # a page with no pixel darker than this is blank
TABLE_MARGIN = 0.03  # inches: a detected line centred inside a table, this far from its edges, is in it
MODEL_TABLE_RULES = 1  # horizontal rules across a table the layout model found, for it to be taken as one


def needs_ocr(page: PageContent) -> bool:
    return not page.has_text_layer and (page.bitmap is not None or page.render is not None)


def recognize_pages(
    pages: Sequence[PageContent], options: PipelineOptions, known: Mapping[int, PageContent] | None = None
) -> list[PageContent]:
    """Fill the words, ruling segments and tables of every page that has only a bitmap; the pages, in order.

    ``known``: pages read elsewhere by number (a cluster's actors read the pages of a long scan at once, each with
    no columns carried in): such a page stands for the one here when it was read with the columns this reading
    carries into it (``columns_in``) — always, except after a page that left a table printed without rulings open;
    there the page is read again here, so the document is the one a reading page after page makes."""
    out = list(pages)
    columns: list[float] | None = None  # of a table printed without rulings that the previous page left open
    previous = None
    for at, page in enumerate(out):
        if not needs_ocr(page):
            continue
        if previous is None or page.number != previous + 1:  # the table went on over a page that was not read
            columns = None
        done = (known or {}).get(page.number)
        if done is not None and done.columns_in == columns:
            out[at] = done
            columns = done.columns_after
            previous = page.number
            continue
        engine = get_engine(options.ocr.engine, threads=options.ocr.threads)
        layout = (
            None if options.layout.model == "off" else load_model(options.layout.model_path, options.layout.threads)
        )
        if page.bitmap is None and page.render is not None:
            page.bitmap = page.render()  # rendered now, one page at a time
        page.columns_in = columns
        columns = recognize_page(
            page, engine, layout, always=options.layout.model == "always", columns=columns, steps=options.normalise
        )
        page.columns_after = columns
        previous = page.number
        if page.render is not None:
            page.bitmap = None  # read: its words, rulings and tables are what the next stages use
    return out


def recognize_page(
    page: PageContent,
    engine: OcrEngine,
    layout: LayoutModel | None = None,
    always: bool = False,
    columns: list[float] | None = None,
    steps: NormaliseOptions | None = None,
) -> list[float] | None:
    """Read one bitmap page (grayscale or colour, any of the four orientations, slightly skewed, photographed).

    ``columns``: the column boundaries of a table printed without rulings that the previous page left open (its
    continuation at the top of this page takes them where its own rows leave a column blank); returned likewise
    for the next page (None when no such table runs over this page's foot). ``steps``: the normalisation steps
    (all when not given)."""
    assert page.bitmap is not None and page.dpi is not None
    dpi = page.dpi
    page.words, page.segments, page.tables, page.seals = [], [], [], []
    timings = page.timings = {}
    flat = normalise(page.bitmap, dpi, steps)
    timings.update(flat.timings)
    gray = flat.gray
    if gray.shape[:2] != page.bitmap.shape[:2]:  # perspective undone: the page fills the image
        page.width, page.height = gray.shape[1] * page.scale, gray.shape[0] * page.scale
    if not (gray < INK).any():
        page.bitmap = gray
        return None
    level = timed(timings, "orient", lambda: upright(gray, engine, dpi))
    gray = level.gray
    if level.turns % 2:
        page.width, page.height = page.height, page.width
    page.bitmap, page.turns, page.skew = gray, level.turns, round(level.skew, 3)
    if flat.mask is not None:
        page.seals = seal_boxes(follow(flat.mask, level.turns, level.skew), dpi)
    page.segments, streaks = timed(timings, "rulings", lambda: rulings_and_streaks(binarize(gray), dpi))
    grids = timed(timings, "grids", lambda: table_grids(page.segments, bitmap_rulings(dpi)))
    stream: list[StreamTable] = []
    if not grids and not always:  # no ruled table on the page: tables printed without inner rulings (三线表)
        stream = timed(timings, "stream", lambda: stream_tables(gray, page.segments, dpi, columns))
        grids = [t.grid for t in stream]
        page.stream_tables = [g.bbox for g in grids]
    if layout is not None and (always or not grids):  # no table found (unruled, 三线表, lost rulings)
        ruled = len(grids)
        maps = timed(timings, "layout", lambda: layout.predict(gray, dpi))
        grids = timed(timings, "grids", lambda: combined_grids(page.segments, maps, dpi))
        if not ruled:  # the model's tables stand only where the page prints a table's rules (三线表: top, bottom)
            grids = [g for g in grids if _ruled_across(g, page.segments, dpi)]
            page.model_tables = [g.bbox for g in grids]
    page.streaked = _streaked_cells(grids, streaks)
    if page.streaked:  # toner streaks of a photocopy: out of the table cells before they are read (not the text)
        gray = erase_streaks(gray, _within(streaks, page.streaked), dpi)
    read = timed(timings, "cells", lambda: read_tables(gray, grids, engine, dpi, split=not stream))
    page.tables = [ReadTable(g.with_cells(c.cell for c in cells), tuple(cells)) for g, cells in zip(grids, read)]
    text_quads = [q for q in level.quads if not _in_tables(q, grids, TABLE_MARGIN * dpi)]
    lines = timed(timings, "lines", lambda: engine.read_lines(gray, text_quads))
    page.words = [
        Word(text=ln.text.strip(), box=ln.box, size=ln.box[3] - ln.box[1], confidence=ln.confidence, ocr=ln)
        for ln in lines
    ]
    last = stream[-1] if stream else None
    return list(last.grid.xs) if last is not None and last.zone.open_bottom else None


def _ruled_across(grid: Grid, segments: Sequence[Segment], dpi: float) -> bool:
    """At least MODEL_TABLE_RULES horizontal rules run across most of the grid's width inside it (a 三线表's top and
    bottom rule): a region of running text the model took for a table has none."""
    x0, y0, x1, y1 = grid.bbox
    slack = TABLE_MARGIN * dpi
    across = [
        s
        for s in segments
        if not s.vertical and y0 - slack <= s.pos <= y1 + slack and min(s.end, x1) - max(s.start, x0) >= 0.5 * (x1 - x0)
    ]
    return len({round(s.pos / slack) for s in across}) >= MODEL_TABLE_RULES


def _within(mask: np.ndarray | None, boxes: Sequence[BBox]) -> np.ndarray | None:
    """The mask's pixels inside the boxes only."""
    if mask is None:
        return None
    out = np.zeros_like(mask)
    for x0, y0, x1, y1 in boxes:
        out[int(y0) : int(y1), int(x0) : int(x1)] = mask[int(y0) : int(y1), int(x0) : int(x1)]
    return out


def _streaked_cells(grids: Sequence[Grid], streaks: np.ndarray | None) -> list[BBox]:
    """The boxes (inset by 2 px: not the rulings around them) of the table cells a toner streak ran through."""
    if streaks is None:
        return []
    out: list[BBox] = []
    for g in grids:
        for c in g.cells:
            x0, x1 = int(g.xs[c.col]) + 2, int(g.xs[c.col + c.colspan]) - 2
            y0, y1 = int(g.ys[c.row]) + 2, int(g.ys[c.row + c.rowspan]) - 2
            if x1 > x0 and y1 > y0 and streaks[y0:y1, x0:x1].any():
                out.append((float(x0), float(y0), float(x1), float(y1)))
    return out


def _in_tables(quad: Quad, grids: Sequence[Grid], margin: float) -> bool:
    cx, cy = np.asarray(quad).mean(axis=0)
    return any(
        g.xs[0] + margin <= cx <= g.xs[-1] - margin and g.ys[0] + margin <= cy <= g.ys[-1] - margin for g in grids
    )
