"""OCR engine interface: what every engine returns, and how to get one.

An engine does two things:

- ``recognize_lines(page)``: full-page text detection and recognition, for running text; also in two
  steps, ``detect_lines(page, scale)`` (line quadrilaterals, detected on the page reduced by ``scale``)
  and ``read_lines(page, quads)``, for callers that turn the page or drop lines in between;
- ``read_crops(crops)``: recognition only, on crops the caller cut out (table cells), batched;
  ``read_crops_numeric(crops)`` also gives each crop's reading with the alphabet restricted to a number's
  characters (digits, sign, decimal point), decoded from the same model output.

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

from service.document import BBox, OcrChar, OcrText  # noqa: F401  (OcrChar: re-exported by service.ocr)

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

    def read_crops_numeric(self, crops: Sequence[Crop | np.ndarray]) -> list[tuple[OcrText, OcrText | None]]:
        """Each crop read as ``read_crops`` does, with its reading restricted to the characters of a number
        (digits, sign, decimal point, separators, space) from the same recognizer output where the first reading
        is made of those and look-alikes of digits (``°``, ``。``, ``O`` ...), one look-alike at least; None for
        any other reading (a number already, or words) and where the engine cannot restrict its alphabet."""
        return [(text, None) for text in self.read_crops(crops)]

    # Detection and recognition apart, for callers that turn or filter the lines in between (the page
    # reader detects once on a reduced page, then reads only the lines outside tables). Engines override
    # both; the defaults work with the two methods above, at the cost of reading the reduced page too.

    def detect_lines(self, image: np.ndarray, scale: float = 1.0) -> list[np.ndarray]:
        """Text line quadrilaterals (4 x 2, top-left first, clockwise) in pixels of ``image``, detected on
        the image resized by ``scale`` (below 1: faster, for text well above the detector's minimum size)."""
        small = resized(image, scale)
        fx, fy = image.shape[1] / small.shape[1], image.shape[0] / small.shape[0]
        return [np.asarray(line.polygon, np.float32) * (fx, fy) for line in self.recognize_lines(small)]

    def read_lines(self, image: np.ndarray, quads: Sequence[np.ndarray]) -> list[OcrLine]:
        """Read the given line quadrilaterals of ``image``; the lines with text, in the given order."""
        crops = [_box_crop(image, quad) for quad in quads]
        lines = []
        for quad, text in zip(quads, self.read_crops(crops)):
            if text.text.strip():
                polygon = tuple((round(float(x), 1), round(float(y), 1)) for x, y in quad)
                lines.append(OcrLine(**text.model_dump(), polygon=polygon))
        return lines


def resized(image: np.ndarray, scale: float) -> np.ndarray:
    """The image scaled down by ``scale`` (area averaging); the image itself for a scale of 1 or more."""
    import cv2

    if scale >= 1.0:
        return image
    size = (max(int(round(image.shape[1] * scale)), 1), max(int(round(image.shape[0] * scale)), 1))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _box_crop(image: np.ndarray, quad: np.ndarray) -> Crop:
    """The upright box around a quadrilateral, clipped to the image."""
    h, w = image.shape[:2]
    x0, y0 = (max(int(v), 0) for v in quad.min(axis=0))
    x1, y1 = (min(int(np.ceil(v)), limit) for v, limit in zip(quad.max(axis=0), (w, h)))
    return Crop(image[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)], float(x0), float(y0))


def as_crop(crop: Crop | np.ndarray) -> Crop:
    return crop if isinstance(crop, Crop) else Crop(crop)


_cache: dict[tuple[str, int], OcrEngine] = {}


def loaded_engines() -> int:
    """OCR engines this process has created (each once per name and thread count)."""
    return len(_cache)


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
