"""OCR engine interface: what every engine returns, and how to get one.

An engine does two things:

- ``recognize_lines(page)``: full-page text detection and recognition, for running text;
- ``read_crops(crops)``: recognition only, on crops the caller cut out (table cells), batched.

Both give text with one ``OcrChar`` per character: its box in pixel coordinates of the page, its
confidence, and the recognizer's other candidates for that character with their scores (top-k), kept
for reconciliation with the table rules later.

Engines never download weights: a missing package or model file raises ``OcrUnavailable`` naming what
to install.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.document import BBox, OcrChar, OcrText

# Engine name -> "module:class"; modules are imported on first use (their packages are optional).
ENGINES = {
    "rapidocr": "service.ocr.rapidocr_engine:RapidOcrEngine",
    "paddleocr": "service.ocr.paddleocr_engine:PaddleOcrEngine",  # optional extra: pip install .[paddle]
}
DEFAULT_ENGINE = "rapidocr"


class OcrUnavailable(RuntimeError):
    """An OCR engine cannot run here: names the package or model file to install."""

    def __init__(self, engine: str, reason: str, install: str):
        self.engine = engine
        self.install = install
        super().__init__(f"OCR engine {engine!r} unavailable: {reason}; install it with `{install}`")


class OcrLine(OcrText):
    """A text line found by full-page detection; ``polygon`` is the detector's quadrilateral."""

    polygon: tuple[tuple[float, float], ...] = ()
    detection_score: float = 1.0


@dataclass(frozen=True)
class Crop:
    """An image cut from a page, with where it sits on the page (pixel offset of its top-left corner)."""

    image: np.ndarray  # 2-D grayscale or H x W x 3
    x0: float = 0.0
    y0: float = 0.0

    @property
    def box(self) -> BBox:
        h, w = self.image.shape[:2]
        return (self.x0, self.y0, self.x0 + w, self.y0 + h)


class OcrEngine(ABC):
    """A recognizer of the PaddleOCR family."""

    name: str = ""

    @abstractmethod
    def recognize_lines(self, image: np.ndarray) -> list[OcrLine]:
        """Detect and read every text line of a page image, top to bottom."""

    @abstractmethod
    def read_crops(self, crops: Sequence[Crop | np.ndarray]) -> list[OcrText]:
        """Read each crop as one line of text (no detection); one result per crop, in order."""


def as_crop(crop: Crop | np.ndarray) -> Crop:
    return crop if isinstance(crop, Crop) else Crop(crop)


_cache: dict[tuple[str, int], OcrEngine] = {}


def get_engine(name: str = DEFAULT_ENGINE, *, threads: int = 1) -> OcrEngine:
    """The named engine (created once per process and thread count); OcrUnavailable if it cannot run."""
    spec = ENGINES.get(name)
    if spec is None:
        raise ValueError(f"unknown OCR engine {name!r} (known: {', '.join(sorted(ENGINES))})")
    key = (name, threads)
    if key not in _cache:
        module, _, cls = spec.partition(":")
        _cache[key] = getattr(importlib.import_module(module), cls)(threads=threads)
    return _cache[key]
