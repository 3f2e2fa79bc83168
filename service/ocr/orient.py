"""A page image made upright and level before it is read, with its text lines detected once.

1. text lines are detected once, on the page reduced to DETECT_DPI (the detector's cost grows with the
   pixels; body text stays well above its minimum size);
2. orientation: mostly tall line boxes mean a page lying on its side; the page is upright in whichever
   of the two remaining turns its longest lines read with the higher confidence (the heads of a few
   lines are read; the first turn tried is kept at once when it reads confidently);
3. skew: measured on the ruling lines (``deskew.estimate_skew``), else on the detected lines; the page is
   levelled and the detected boxes moved with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from service.ocr.base import OcrEngine
from service.ocr.deskew import MIN_ANGLE, estimate_skew, weighted_median

DETECT_DPI = 100  # resolution of text detection
ORIENTATION_SAMPLE = 4  # lines read to tell the page's orientation
HEAD_HEIGHTS = 6.0  # of each, the first this many line heights are read
UPRIGHT = 0.85  # mean confidence that settles the orientation at the first turn tried
LINE_RATIO = 3.0  # a detected box this many times longer than high is a text line (not a lone character)
SKEW_LINE_RATIO = 8.0  # lines at least this long measure the skew of a page without ruling lines
MIN_SKEW_LINES = 3

Quad = np.ndarray  # 4 x 2 float32: top-left, top-right, bottom-right, bottom-left


@dataclass(frozen=True)
class Upright:
    """A page image turned upright and levelled, and its detected text lines moved with it."""

    gray: np.ndarray
    quads: list[Quad]
    turns: int  # quarter turns counter-clockwise (numpy's rot90) that made the page upright
    skew: float  # degrees the page was levelled by (0.0: left as it was)


def upright(gray: np.ndarray, engine: OcrEngine, dpi: float) -> Upright:
    """Detect the text lines of a grayscale page, then turn it upright and level it."""
    quads = [ordered(q) for q in engine.detect_lines(gray, scale=min(DETECT_DPI / dpi, 1.0))]
    turns = _orientation(gray, quads, engine)
    if turns:
        quads = [ordered(_turn_points(q, turns, gray.shape[1], gray.shape[0])) for q in quads]
        gray = np.ascontiguousarray(np.rot90(gray, turns))
    angle = estimate_skew(gray, dpi) or _text_skew(quads)
    if abs(angle) >= MIN_ANGLE:
        gray, quads = _level(gray, quads, angle)
    else:
        angle = 0.0
    return Upright(gray, quads, turns, angle)


def _orientation(gray: np.ndarray, quads: list[Quad], engine: OcrEngine) -> int:
    """Quarter turns (as numpy's rot90) that make the page upright."""
    lines = [q for q in quads if _long_side(q) >= LINE_RATIO * _short_side(q)]
    if not lines:
        return 0
    tall = sum(_long_side(q) for q in lines if _extent(q)[1] > _extent(q)[0])
    wide = sum(_long_side(q) for q in lines) - tall
    candidates = (1, 3) if tall > wide else (0, 2)
    sample = sorted(lines, key=_long_side, reverse=True)[:ORIENTATION_SAMPLE]
    best, best_score = candidates[0], -1.0
    for turns in candidates:
        score = _read_score(gray, sample, turns, engine)
        if score >= UPRIGHT:
            return turns
        if score > best_score:
            best, best_score = turns, score
    return best


def _read_score(gray: np.ndarray, sample: list[Quad], turns: int, engine: OcrEngine) -> float:
    """Mean confidence of the heads of the sample lines read with the page turned."""
    h, w = gray.shape
    image = np.ascontiguousarray(np.rot90(gray, turns)) if turns else gray
    heads = [_head(ordered(_turn_points(q, turns, w, h)), HEAD_HEIGHTS) for q in sample]
    lines = engine.read_lines(image, heads)
    return sum(line.confidence for line in lines) / len(sample)


def _text_skew(quads: list[Quad]) -> float:
    """Skew in degrees (positive: lines rise to the right) from the long detected lines; 0.0 if too few."""
    angles = []
    for q in quads:
        length = float(np.linalg.norm(q[1] - q[0]))
        if length >= SKEW_LINE_RATIO * float(np.linalg.norm(q[3] - q[0])):
            dx, dy = q[1] - q[0]
            angles.append((-math.degrees(math.atan2(float(dy), float(dx))), length))
    return weighted_median(angles) if len(angles) >= MIN_SKEW_LINES else 0.0


def follow(image: np.ndarray, turns: int, skew: float) -> np.ndarray:
    """Another image of the same page (a mask: 0 outside) turned and levelled as ``upright`` turned the page."""
    if turns:
        image = np.ascontiguousarray(np.rot90(image, turns))
    if skew:
        h, w = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -skew, 1.0)
        image = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    return image


def _level(gray: np.ndarray, quads: list[Quad], angle: float) -> tuple[np.ndarray, list[Quad]]:
    """The page turned level (as ``deskew.deskew`` turns it) and the line boxes moved with it."""
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    level = cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    moved = [(q @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32) for q in quads]
    return level, moved


# ---------------------------------------------------------------- geometry of line boxes


def _turn_points(points: np.ndarray, turns: int, width: int, height: int) -> np.ndarray:
    """Points of an image of the given size where they land in ``np.rot90(image, turns)``."""
    out = np.asarray(points, np.float32)
    for _ in range(turns % 4):
        out = np.stack([out[:, 1], width - out[:, 0]], axis=1)
        width, height = height, width
    return out


def ordered(quad: np.ndarray) -> Quad:
    """The four corners as top-left, top-right, bottom-right, bottom-left (for boxes within 45 degrees
    of level)."""
    q = np.asarray(quad, np.float32).reshape(4, 2)
    s, d = q.sum(axis=1), q[:, 0] - q[:, 1]
    return np.stack([q[s.argmin()], q[d.argmax()], q[s.argmax()], q[d.argmin()]])


def _extent(quad: Quad) -> tuple[float, float]:
    span = quad.max(axis=0) - quad.min(axis=0)
    return float(span[0]), float(span[1])


def _long_side(quad: Quad) -> float:
    return max(_extent(quad))


def _short_side(quad: Quad) -> float:
    return max(min(_extent(quad)), 1.0)


def _head(quad: Quad, heights: float) -> Quad:
    """The start of a line box: at most ``heights`` times its height long."""
    length = float(np.linalg.norm(quad[1] - quad[0]))
    limit = heights * max(float(np.linalg.norm(quad[3] - quad[0])), 1.0)
    if length <= limit:
        return quad
    f = limit / length
    return np.stack([quad[0], quad[0] + f * (quad[1] - quad[0]), quad[3] + f * (quad[2] - quad[3]), quad[3]])
