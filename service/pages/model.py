"""The page primitives every paged source is read into: a PDF page with a text layer, a PDF page that is a scan,
an image frame. The backends fill what the file holds (``service.ingest.pdf``, ``service.ingest.image``); the OCR
stage (``service.pages.recognize``) fills the words and ruling segments of pages that have only a bitmap; the
layout (``service.pages.layout``) and the composer (``service.pages.compose``) read every page the same way.

Coordinates: ``words``, ``segments``, ``tables`` and the bitmap are in the page's coordinate ``unit`` (PDF
points for a text layer, pixels for a bitmap); ``scale`` takes them to the page's own units (``width``,
``height``, provenance boxes): 1 for a text layer and for an image, 72/dpi for a PDF page rendered to pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from service.document import BBox, OcrText, Origin
from service.lattice import Grid, Segment
from service.ocr.read_cells import CellText


class Unit(StrEnum):
    POINT = "pt"  # PDF points (1/72 inch)
    PIXEL = "px"  # pixels of a page image


@dataclass
class Word:
    """A piece of printed text with its box: one character of a PDF text layer, or one line as the recognizer
    read it (a detected box)."""

    text: str
    box: BBox  # x0, top, x1, bottom in the page's coordinate unit
    size: float  # font size (text layer); the box height (recognized)
    confidence: float = 1.0  # 1.0 for a text layer
    ocr: OcrText | None = None  # recognized: every character with its box, confidence and alternatives


@dataclass(frozen=True)
class ReadTable:
    """A ruled table of a bitmap page and its cells as the recognizer read them, each from its own crop."""

    grid: Grid
    cells: tuple[CellText, ...]


@dataclass
class PageContent:
    """One page as read from the file (and, for a bitmap-only page, by the OCR stage)."""

    number: int  # 1-based
    width: float  # page size in page units (PDF points, image pixels), upright
    height: float
    unit: Unit  # of the coordinates of words, segments, tables and bitmap
    scale: float  # page units per coordinate unit
    has_text_layer: bool
    words: list[Word] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)  # ruling segments, as drawn or as found in the bitmap
    bitmap: np.ndarray | None = None  # the page image (grayscale, or BGR colour), when read from pixels; gray once read
    # a page rendered only when the OCR stage reaches it (a PDF's scanned page): gives its bitmap at ``dpi``; the
    # stage drops the bitmap once the page is read, so a long scan holds one page image at a time
    render: Callable[[], np.ndarray] | None = None
    dpi: float | None = None  # resolution of the bitmap
    tables: list[ReadTable] | None = None  # bitmap pages: ruled tables read cell by cell (OCR stage)
    turns: int = 0  # quarter turns (numpy's rot90) that made the page upright (OCR stage)
    skew: float = 0.0  # degrees the page was levelled by (OCR stage)
    streaked: list[BBox] = field(default_factory=list)  # table cells a toner streak ran through (taken out)
    model_tables: list[BBox] = field(default_factory=list)  # tables the layout model found (no ruled grid there)
    stream_tables: list[BBox] = field(default_factory=list)  # tables printed without inner rulings (pages.stream)
    seals: list[BBox] = field(default_factory=list)  # red seals and stamps found (pixels of the upright page)
    timings: dict[str, float] = field(default_factory=dict)  # OCR stage: CPU seconds per step (normalise.*, ...)
    # OCR stage: the columns of a table printed without rulings that the previous page left open when this page was
    # read, and those this page leaves open (None: none); a page read on its own elsewhere had none carried in
    columns_in: list[float] | None = None
    columns_after: list[float] | None = None

    @property
    def origin(self) -> Origin:
        return Origin.TEXT_LAYER if self.has_text_layer else Origin.OCR
