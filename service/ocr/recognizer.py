"""What both OCR engines share: the PP-OCR recognition model's CTC output decoded per character, and the engine
methods built on it (``CtcEngine``). An engine brings its text detector (``detect``) and the session that runs
its recognition model (ONNX Runtime for ``rapidocr``, Paddle Inference for ``paddleocr``); everything else is
here, so that both read crops and lines the same way.

- Recognition (``Recognizer``) batches crops of similar widths, scales them to the model's input height (a short
  crop padded to REC_MIN_WIDTH) and decodes the output here (``service.ocr.ctc``): every character gets its exact
  probability, its position and its top-k alternatives (engines themselves return only the best path). A
  reading of NUMERIC characters and look-alikes of digits (DIGIT_LOOKALIKES), at least one of them, also carries
  the same probabilities decoded with the alphabet restricted to NUMERIC (``Reading.numeric``,
  ``ctc.restricted_decode``): what the crop says if it is a number (a table's value cell), at the cost of a
  second decoding of the few crops concerned, not a second model run.
- Detected lines are read with a white margin of LINE_PAD line heights above and below (``padded``); a box much
  taller than wide is vertical text, read turned a quarter left.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import cv2
import numpy as np

from service.document import BBox
from service.ocr.base import Crop, OcrChar, OcrEngine, OcrLine, OcrText, as_crop, resized
from service.ocr.ctc import DecodedChar, char_spans, greedy_decode, restricted_decode

REC_HEIGHT = 48  # input height of the recognition model
# PaddleOCR pads every batch to at least 320 px; short crops (a lone digit of a table cell) then cost as much
# as a line. Padding to 2 heights keeps their confidences (0.9996 against 0.9999 on r001's digits; with no
# minimum they fall to 0.93) at less than half the time.
REC_MIN_WIDTH = 96
BATCH = 8
TOP_K = 5
LINE_PAD = 0.3  # white margin above and below a detected line before reading it, in line heights
VERTICAL_RATIO = 1.5  # a detected box this much taller than wide is vertical text (read rotated)
# The alphabet of a number: digits, sign, decimal point, thousands separator, percent, and the space that parts
# numbers run together in one crop.
NUMERIC = frozenset("0123456789-+.,% ")
# What a dim, blurred or broken digit is read as (a 0 as ° or 。 or U, a 1 as l or I): a reading made of these
# and NUMERIC may be a number, and is decoded again with NUMERIC alone; any other character makes it words.
DIGIT_LOOKALIKES = frozenset("°˚º。○〇oOlI|·DUQ")

Quad = np.ndarray  # 4 x 2 float32: top-left, top-right, bottom-right, bottom-left


class Session(Protocol):
    """A recognition model: ``run(None, {input_name: batch})`` -> [probabilities (N, T, C)] (ONNX Runtime's call)."""

    def run(self, outputs: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class Reading:
    """One crop as read: characters (text, probability, alternatives, start and end as fractions 0..1 of the
    crop width)."""

    chars: list[tuple[str, float, tuple[tuple[str, float], ...], float, float]]
    # the same probabilities decoded with only NUMERIC characters, for a reading of NUMERIC and DIGIT_LOOKALIKES
    # with at least one look-alike; None for any other reading (a number already, or words)
    numeric: Reading | None = None

    @property
    def text(self) -> str:
        return "".join(c[0] for c in self.chars)


class Recognizer:
    """A PP-OCR recognition model (CTC head), decoded with top-k per character. ``classes``: class 0 is the CTC
    blank (""), then the model's characters (and the space class)."""

    def __init__(
        self,
        session: Session,
        classes: list[str],
        input_name: str,
        top_k: int = TOP_K,
        min_width: int = REC_MIN_WIDTH,
    ):
        self.session = session
        self.classes = classes
        self.input_name = input_name
        self.top_k = top_k
        self.min_width = min_width
        self.numeric_classes = np.asarray([i for i, c in enumerate(classes) if i and c in NUMERIC], dtype=np.int64)

    def read(self, images: Sequence[np.ndarray]) -> list[Reading]:
        """Read each image as one line of text; batches of similar widths."""
        results: list[Reading] = [Reading([]) for _ in images]
        ratios = [img.shape[1] / max(img.shape[0], 1) for img in images]
        order = [i for i in np.argsort(ratios, kind="stable") if min(images[i].shape[:2]) >= 2]
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            for i, read in zip(batch, self._read_batch([images[i] for i in batch])):
                results[i] = read
        return results

    def _read_batch(self, images: list[np.ndarray]) -> list[Reading]:
        widths = [max(1, math.ceil(REC_HEIGHT * img.shape[1] / img.shape[0])) for img in images]
        width = max(self.min_width, max(widths))
        width = math.ceil(width / 8) * 8
        batch = np.zeros((len(images), 3, REC_HEIGHT, width), dtype=np.float32)
        for k, (img, w) in enumerate(zip(images, widths)):
            scaled = cv2.resize(bgr(img), (w, REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
            batch[k, :, :, :w] = (scaled.astype(np.float32).transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
        probs = self.session.run(None, {self.input_name: batch})[0]
        stride = width / probs.shape[1]
        return [self.decode(probs[k], w / stride) for k, w in enumerate(widths)]

    def decode(self, probs: np.ndarray, image_steps: float) -> Reading:
        """One crop's class probabilities (T, C) as characters placed on the crop; with its NUMERIC decoding
        where the reading is NUMERIC and DIGIT_LOOKALIKES with a look-alike among them."""
        read = self._placed(greedy_decode(probs, self.top_k), probs.shape[0], image_steps)
        texts = {c[0] for c in read.chars}
        if texts <= NUMERIC or not texts <= NUMERIC | DIGIT_LOOKALIKES or not len(self.numeric_classes):
            return read
        numeric = restricted_decode(probs, self.numeric_classes, self.top_k)
        return replace(read, numeric=self._placed(numeric, probs.shape[0], image_steps))

    def _placed(self, decoded: list[DecodedChar], n_steps: int, image_steps: float) -> Reading:
        spans = char_spans(decoded, n_steps)
        chars = []
        for d, (left, right) in zip(decoded, spans):
            f0 = min(left / image_steps, 1.0)
            f1 = min(max(right / image_steps, f0), 1.0)
            chars.append((self.classes[d.index], d.prob, self._alternatives(d), f0, f1))
        return Reading(chars)

    def _alternatives(self, d: DecodedChar) -> tuple[tuple[str, float], ...]:
        return tuple((self.classes[i], round(p, 5)) for i, p in d.top)


class CtcEngine(OcrEngine):
    """An engine of the PaddleOCR family: its own text detector, a ``Recognizer`` read and decoded here."""

    recognizer: Recognizer

    @abstractmethod
    def detect(self, image: np.ndarray) -> tuple[list[Quad], list[float]]:
        """Text line quadrilaterals of the image and their detection scores."""

    def read_crops(self, crops: Sequence[Crop | np.ndarray]) -> list[OcrText]:
        items = [as_crop(c) for c in crops]
        reads = self.recognizer.read([c.image for c in items])
        return [text_from(read, crop) for read, crop in zip(reads, items)]

    def read_crops_numeric(self, crops: Sequence[Crop | np.ndarray]) -> list[tuple[OcrText, OcrText | None]]:
        items = [as_crop(c) for c in crops]
        reads = self.recognizer.read([c.image for c in items])
        return [
            (text_from(read, crop), None if read.numeric is None else text_from(read.numeric, crop))
            for read, crop in zip(reads, items)
        ]

    def recognize_lines(self, image: np.ndarray) -> list[OcrLine]:
        return self._read_lines(image, *self.detect(image))

    def detect_lines(self, image: np.ndarray, scale: float = 1.0) -> list[Quad]:
        small = resized(image, scale)
        fx, fy = image.shape[1] / small.shape[1], image.shape[0] / small.shape[0]
        quads, _ = self.detect(small)
        return [q * np.array((fx, fy), np.float32) for q in quads]

    def read_lines(self, image: np.ndarray, quads: Sequence[Quad]) -> list[OcrLine]:
        return self._read_lines(image, [np.asarray(q, np.float32) for q in quads], [1.0] * len(quads))

    def _read_lines(self, image: np.ndarray, quads: Sequence[Quad], scores: Sequence[float]) -> list[OcrLine]:
        warped = [warp(image, q) for q in quads]
        reads = self.recognizer.read([padded(img) for img, _ in warped])
        lines = []
        for quad, score, (_, vertical), read in zip(quads, scores, warped, reads):
            if read.text.strip():
                lines.append(line_from(read, quad, vertical, score))
        return lines


def bgr(image: np.ndarray) -> np.ndarray:
    """A grayscale or 3-channel image as BGR."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"expected a grayscale or 3-channel image, got shape {image.shape}")


# ---------------------------------------------------------------- geometry


def text_from(read: Reading, crop: Crop) -> OcrText:
    """A crop's reading with every character boxed on the page (its share of the crop's width)."""
    x0, y0, x1, y1 = crop.box
    width = x1 - x0
    chars = tuple(
        OcrChar(
            text=t,
            confidence=round(p, 5),
            box=_round((x0 + f0 * width, y0, x0 + f1 * width, y1)),
            alternatives=alts,
        )
        for t, p, alts, f0, f1 in read.chars
    )
    return OcrText(text=read.text, confidence=_mean(chars), box=_round(crop.box), chars=chars)


def line_from(read: Reading, quad: Quad, vertical: bool, score: float) -> OcrLine:
    """A detected line's reading with every character boxed on the page (its share of the quad)."""
    chars = []
    for t, p, alts, f0, f1 in read.chars:
        if vertical:  # the crop was turned a quarter left: its x runs down the quad
            corners = [_on_quad(quad, fx, fy) for fx in (0.0, 1.0) for fy in (f0, f1)]
        else:
            corners = [_on_quad(quad, fx, fy) for fx in (f0, f1) for fy in (0.0, 1.0)]
        chars.append(OcrChar(text=t, confidence=round(p, 5), box=_bbox(corners), alternatives=alts))
    polygon = tuple((round(float(x), 1), round(float(y), 1)) for x, y in quad)
    return OcrLine(
        text=read.text,
        confidence=_mean(chars),
        box=_bbox(list(polygon)),
        chars=tuple(chars),
        polygon=polygon,
        detection_score=round(score, 5),
    )


def warp(image: np.ndarray, quad: Quad) -> tuple[np.ndarray, bool]:
    """The quad's content as an upright image; tall boxes (vertical text) turned a quarter left."""
    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    width, height = max(width, 1), max(height, 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    crop = cv2.warpPerspective(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if height >= VERTICAL_RATIO * width:
        return np.ascontiguousarray(np.rot90(crop)), True
    return crop, False


def padded(crop: np.ndarray) -> np.ndarray:
    """A detected line with white above and below. The recognizer's cost grows with the width of the crop
    scaled to its input height, so the margin makes a line cheaper to read (some 30% at 0.2, more at 0.3); it
    reads as well (r001 and its simulated scan give the same text with a margin of 0, 0.2 and 0.3 line
    heights; at 0.5 digits start to drop)."""
    pad = int(round(LINE_PAD * crop.shape[0]))
    if pad <= 0:
        return crop
    value = 255 if crop.ndim == 2 else (255,) * crop.shape[2]
    return cv2.copyMakeBorder(crop, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=value)


def _on_quad(quad: Quad, fx: float, fy: float) -> tuple[float, float]:
    """The point at fractions (fx, fy) of the quad's width and height (bilinear)."""
    top = (1 - fx) * quad[0] + fx * quad[1]
    bottom = (1 - fx) * quad[3] + fx * quad[2]
    x, y = (1 - fy) * top + fy * bottom
    return float(x), float(y)


def _bbox(points: list[tuple[float, float]]) -> BBox:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return _round((min(xs), min(ys), max(xs), max(ys)))


def _round(box: tuple[float, float, float, float]) -> BBox:
    x0, y0, x1, y1 = box
    return (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1))


def _mean(chars: Sequence[OcrChar]) -> float:
    return round(sum(c.confidence for c in chars) / len(chars), 5) if chars else 0.0
