"""Small-angle skew of a scanned page, measured on its long horizontal ruling lines, and its correction.

Ruling-line grids (``service.ocr.grid``) need lines level to within about a quarter of a degree; scans
are often a degree or two off. The angle is the length-weighted median of the slopes of the long,
thin, nearly horizontal ink runs (table rules, underlines). A page without such lines is left as it is.
Quarter-turn orientation is not handled here.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from service.ocr.grid import DPI, binarize, to_gray

MAX_ANGLE = 5.0  # degrees: steeper runs are not taken for rules
MIN_RULE = 1.0  # inches: shortest run measured
PIECE = 0.15  # inches: opening kernel, short enough to follow a tilted line
MIN_ANGLE = 0.05  # degrees: below this the page is not rotated


def estimate_skew(image: np.ndarray, dpi: float = DPI) -> float:
    """The page's skew in degrees (positive: lines rise to the right, as cv2 rotates), 0.0 if unknown."""
    ink = binarize(to_gray(image))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(int(PIECE * dpi), 5), 1))
    runs = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
    runs = cv2.dilate(runs, np.ones((3, 1), np.uint8))  # rejoin pieces of a tilted line
    n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    angles: list[tuple[float, float]] = []
    for i in range(1, n):
        x, y, w, h, _ = stats[i]
        if w < MIN_RULE * dpi or h > w * math.tan(math.radians(MAX_ANGLE)) + 6:
            continue
        ys, xs = np.nonzero(labels[y : y + h, x : x + w] == i)
        slope = np.polyfit(xs.astype(np.float64), ys.astype(np.float64), 1)[0]
        angles.append((-math.degrees(math.atan(slope)), float(w)))
    return weighted_median(angles)


def deskew(image: np.ndarray, dpi: float = DPI) -> tuple[np.ndarray, float]:
    """The page turned level (white fill at the edges) and the angle it was turned by."""
    angle = estimate_skew(image, dpi)
    if abs(angle) < MIN_ANGLE:
        return image, 0.0
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    fill = 255 if image.ndim == 2 else (255, 255, 255)
    turned = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=fill)
    return turned, angle


def weighted_median(values: list[tuple[float, float]]) -> float:
    if not values:
        return 0.0
    values.sort()
    half = sum(w for _, w in values) / 2
    seen = 0.0
    for value, weight in values:
        seen += weight
        if seen >= half:
            return value
    return values[-1][0]
