"""A page image made flat, evenly lit and free of red seals before it is read (issue 15).

Photographed and photocopied pages reach the OCR stage in colour, in perspective, unevenly lit and stamped.
Each step below is a small function on the page image; each is timed (``Normalised.timings``, seconds per
step) and each does nothing, at little cost, where there is nothing to do: a flat grey scan of today reads
exactly as before.

1. colour (``luminance``): a colour page (BGR, as OpenCV and PDFium give it) becomes its luminance, and its
   red marks are found (``red_mask``: red hue, saturated, not dark). A page without red costs a look at a
   sample of its pixels; a grayscale page is left as it is;
2. seals (``unmix_seals``): around every red mark the red ink is taken out by colour: seal ink is multiplied
   into what is printed under it and darkens green and blue far more than red, so each pixel's share of ink
   follows from its colour (the paper's and the ink's colours measured around the mark) and dividing it out
   leaves the paper white and the black print under the seal black. The marks' boxes: ``seal_boxes``;
3. perspective (``page_quad``, ``unwarp_transform``): the paper is brighter than what lies around it; the largest
   bright four-sided region is the page (its sides found again at full resolution), and a homography takes it
   to an upright rectangle: an A4 sheet at the page's dpi where its measured aspect is close to A4's, else its
   measured size. A page whose paper runs to the image's edges, or whose corners already sit on an upright
   rectangle, is left as it is;
4. illumination (``flatten``): the paper's brightness is estimated on the page reduced to BACKGROUND_DPI
   (dilation wider than any printed mark, then a median) and the page is divided by it. A page whose paper is
   evenly lit (its brightness varies less than EVEN) is left as it is.

Dewarping gently curved lines is not done yet (``normalise.dewarp`` is not timed).
Coordinates: every mask moves with the page (``Normalised.mask`` is in the pixels of ``Normalised.gray``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import cv2
import numpy as np

from service.document import BBox

# Tolerances of the steps (measured on the phone, seal and photocopy families of datasets/scansim.py)
# Colour (HSV in OpenCV's ranges: hue 0..180, saturation and value 0..255)
RED_HUES = ((0, 12), (160, 180))  # hue ranges of red and magenta-red seal ink
MIN_SATURATION = 70  # warm or tinted paper stays below this
MIN_VALUE = 110  # darker pixels are black ink (also black ink printed over a seal): kept
COLOUR_SAMPLE = 4  # every this many pixels are looked at to tell whether a page has colour at all
COLOURFUL = 0.0005  # share of sampled pixels with a red mark above which the page has colour to drop
CHROMA = 60  # a pixel whose channels differ this much is coloured
PAPER_PERCENTILE = 50  # around a red mark, the paper's colour is this percentile of each channel
INK_PERCENTILE = 20  # the ink's colour: its densest share of pixels (this percentile of blue and green)
MIN_INK_CONTRAST = 0.1  # ink darkening blue and green less than this more than red is not red: left alone
MAX_INK_SHARE = 1.5  # of the ink's measured density (a denser spot than the measured one)
TOUCHED = 0.03  # a pixel with this share of seal ink, or next to one, ...
SMEARED = 0.6  # ... with less than this share (the ink's colour thinned by JPEG: at its edges, not inside) ...
LIFT = 0.6  # ... and at least this light (of the paper) once the ink is taken out, is paper ...
DARK = 0.55  # ... unless it is next to print this dark
# Perspective
QUAD_DPI = 40  # resolution the page outline is looked for at
BORDER = 0.02  # share of the image's size: the outer ring where the background shows around a photographed page
BACKGROUND_SHARE = 0.35  # at least this share of that ring darker than the paper: there is a paper edge
MIN_PAGE = 0.35  # the page covers at least this share of the image
FLAT = 0.004  # corners within this share of the image's size of an upright rectangle: a flat scan
EDGE_SAMPLES = 40  # points along each side where the paper's edge is looked for at full resolution
EDGE_STEP = 12  # grey levels: the least step from background to paper that is an edge
ASPECT_SNAP = 0.04  # a measured aspect this close to A4's is taken as A4
A4_SIZE = (210 / 25.4, 297 / 25.4)  # inches
A4 = A4_SIZE[1] / A4_SIZE[0]
# Illumination
BACKGROUND_DPI = 25  # resolution the paper's brightness is estimated at
BACKGROUND_SPAN = 0.8  # inches: dilation wider than text and thin table shading
EVEN = 24  # grey levels: paper brightness varying less than this over the page is evenly lit
# Seals
SEAL_JOIN = 0.08  # inches: red marks closer than this are one seal
MIN_SEAL = 0.12  # inches: smaller red marks (specks of JPEG colour) are not seals

T = TypeVar("T")


@dataclass
class Normalised:
    """The page image once normalised, its red marks and the seconds each step took."""

    gray: np.ndarray
    mask: np.ndarray | None = None  # 255 where the page had red marks (pixels of ``gray``); None: no colour
    homography: np.ndarray | None = None  # 3 x 3: original pixels -> pixels of ``gray`` (None: not warped)
    timings: dict[str, float] = field(default_factory=dict)


def normalise(image: np.ndarray, dpi: float) -> Normalised:
    """Colour dropped, red seals unmixed, perspective undone, illumination flattened (see the module)."""
    timings: dict[str, float] = {}
    gray, mask = timed(timings, "normalise.colour", lambda: luminance(image))
    if (red := mask) is not None:
        gray = timed(timings, "normalise.seals", lambda: unmix_seals(image, gray, red, dpi))
    gray, mask, homography = timed(timings, "normalise.perspective", lambda: _perspective(gray, mask, dpi))
    gray = timed(timings, "normalise.illumination", lambda: flatten(gray, dpi))
    return Normalised(gray, mask, homography, timings)


def timed(timings: dict[str, float], step: str, work: Callable[[], T]) -> T:
    """``work()``, its CPU seconds (every thread of the process: the recognizer's too) added to ``timings[step]``."""
    start = time.process_time()
    out = work()
    timings[step] = round(timings.get(step, 0.0) + time.process_time() - start, 4)
    return out


# ---------------------------------------------------------------- colour


def drop_colour(image: np.ndarray, dpi: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Grayscale that keeps black ink and drops red, and the red marks' mask (None for a page without red)."""
    gray, mask = luminance(image)
    return (gray, None) if mask is None else (unmix_seals(image, gray, mask, dpi), mask)


def luminance(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The page's grayscale (a grayscale page as it is) and the mask of its red marks (None: no red)."""
    if image.ndim == 2:
        return (image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)), None
    bgr = image[:, :, :3]
    gray = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2GRAY)
    if not _has_red(bgr[::COLOUR_SAMPLE, ::COLOUR_SAMPLE]):
        return gray, None
    mask = red_mask(np.ascontiguousarray(bgr))
    return gray, (mask if mask.any() else None)


def unmix_seals(image: np.ndarray, gray: np.ndarray, mask: np.ndarray, dpi: float) -> np.ndarray:
    """The grayscale with the red ink taken out around every red mark: seal ink is multiplied into what is
    printed under it, so per pixel the share of red ink follows from how much more it darkens green and blue
    than red (ink and paper colours measured around each mark), and dividing that share out leaves the paper
    and the black print under the seal as they would be without it."""
    bgr = image[:, :, :3].astype(np.float32)
    out = gray.astype(np.float32)
    for x, y, w, h, hull in _mark_hulls(mask, dpi):
        inside = hull > 0
        red = inside & (mask[y : y + h, x : x + w] > 0)
        sub = bgr[y : y + h, x : x + w]
        rest = sub[inside & ~red]
        if len(rest) < 16 or not red.any():
            continue
        paper = np.maximum(np.percentile(rest, PAPER_PERCENTILE, axis=0), 1.0)  # B, G, R
        norm = sub / paper
        cool = (norm[:, :, 0] + norm[:, :, 1]) / 2  # blue and green: what red ink darkens
        warm = norm[:, :, 2]
        ink = norm[red]
        dense = ink[(ink[:, 0] + ink[:, 1]) / 2 <= np.percentile((ink[:, 0] + ink[:, 1]) / 2, INK_PERCENTILE)]
        k_cool = 1 - float((dense[:, 0] + dense[:, 1]).mean() / 2)  # the ink's absorption in blue and green
        k_warm = max(1 - float(dense[:, 2].mean()), 0.0)  # and in red
        if k_cool - k_warm < MIN_INK_CONTRAST:
            continue
        q = cool / np.maximum(warm, 1e-3)
        share = np.clip((1 - q) / np.maximum(k_cool - q * k_warm, 1e-3), 0.0, MAX_INK_SHARE)
        share[q >= 1] = 0.0
        under = np.clip(warm / (1 - share * k_warm), 0.0, 1.0)  # what is printed under the ink, paper = 1
        level = float(paper @ np.array([0.114, 0.587, 0.299], np.float32))
        # where JPEG smeared the ink's colour (its edges), light grey is left of it: lifted to paper
        # (not next to black print, whose soft edges stay)
        touched = cv2.dilate((share > TOUCHED).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        printed = cv2.dilate((under < DARK).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        under = np.where(touched & ~printed & (share < SMEARED) & (under >= LIFT), 1.0, under)
        patch = out[y : y + h, x : x + w]
        changed = inside & ((share > 0) | touched)
        patch[changed] = under[changed] * level
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _mark_hulls(mask: np.ndarray, dpi: float) -> list[tuple[int, int, int, int, np.ndarray]]:
    """Every red mark (marks closer than SEAL_JOIN joined) as its box (x, y, w, h) and the mask of its convex
    hull grown by SEAL_JOIN / 2 in that box: a seal's thin, pale strokes lie inside its hull."""
    size = max(int(round(SEAL_JOIN * dpi)), 1) | 1
    joined = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, _ = (int(v) for v in stats[i])
        points = cv2.findNonZero((labels[y : y + h, x : x + w] == i).astype(np.uint8))
        hull = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(points), 255)
        out.append((x, y, w, h, hull))
    return out


def _has_red(sample: np.ndarray) -> bool:
    s = sample.astype(np.int16)
    chroma = s.max(axis=2) - s.min(axis=2)
    if np.count_nonzero(chroma > CHROMA) < COLOURFUL * chroma.size:
        return False
    return np.count_nonzero(red_mask(np.ascontiguousarray(sample))) >= COLOURFUL * chroma.size


def red_mask(bgr: np.ndarray) -> np.ndarray:
    """255 where the pixel is red ink: red hue, saturated, not dark."""
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    mask: np.ndarray = np.zeros(bgr.shape[:2], np.uint8)
    for h0, h1 in RED_HUES:
        low, high = np.array([h0, MIN_SATURATION, MIN_VALUE], np.uint8), np.array([h1, 255, 255], np.uint8)
        mask = cv2.bitwise_or(mask, cv2.inRange(hsv, low, high))
    return mask


# ---------------------------------------------------------------- perspective


def _perspective(
    gray: np.ndarray, mask: np.ndarray | None, dpi: float
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    quad = page_quad(gray, dpi)
    if quad is None:
        return gray, mask, None
    homography, size = unwarp_transform(quad, dpi)
    flat = cv2.warpPerspective(gray, homography, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if mask is not None:
        mask = cv2.warpPerspective(mask, homography, size, flags=cv2.INTER_NEAREST, borderValue=0)
    return flat, mask, homography


def page_quad(gray: np.ndarray, dpi: float) -> np.ndarray | None:
    """The page's corners (top-left, top-right, bottom-right, bottom-left; float32 pixels) where the paper
    stands out from a darker background and is not already an upright rectangle; else None."""
    f = min(QUAD_DPI / dpi, 1.0)
    small = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (5, 5), 0)
    otsu, paper = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    h, w = small.shape
    ring = max(int(round(BORDER * min(h, w))), 1)
    edge = np.concatenate(
        [paper[:ring].ravel(), paper[-ring:].ravel(), paper[:, :ring].ravel(), paper[:, -ring:].ravel()]
    )
    if np.count_nonzero(edge == 0) < BACKGROUND_SHARE * edge.size:
        return None  # paper (or print) runs to the edges: no background around the page
    k = max(int(round(0.1 * QUAD_DPI)), 3) | 1
    paper = cv2.morphologyEx(paper, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))  # text and rulings into the paper
    paper = cv2.morphologyEx(paper, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    contours, _ = cv2.findContours(paper, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outline = max(contours, key=cv2.contourArea)
    if cv2.contourArea(outline) < MIN_PAGE * h * w:
        return None
    quad = _four_corners(cv2.convexHull(outline))
    if quad is None:
        return None
    quad = _refined(gray, (quad + 0.5) / f - 0.5, 1 / f)
    if quad is None or _is_upright_rectangle(quad, gray.shape[1], gray.shape[0]):
        return None
    return quad.astype(np.float32)


def _four_corners(hull: np.ndarray) -> np.ndarray | None:
    perimeter = cv2.arcLength(hull, True)
    for share in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, share * perimeter, True)
        if len(approx) == 4:
            return _ordered(approx.reshape(4, 2).astype(np.float64))
    return None


def _ordered(q: np.ndarray) -> np.ndarray:
    s, d = q.sum(axis=1), q[:, 0] - q[:, 1]
    return np.stack([q[s.argmin()], q[d.argmax()], q[s.argmax()], q[d.argmin()]])


def _refined(gray: np.ndarray, quad: np.ndarray, reach: float) -> np.ndarray | None:
    """The corners where the page's edges, found at full resolution (the steepest step across each side near
    the coarse one, ``reach`` pixels either way), meet; None where a side has no clear edge."""
    lines = []
    offsets = np.arange(-reach * 3, reach * 3 + 1, dtype=np.float32)
    for a, b in zip(quad, np.roll(quad, -1, axis=0)):
        along = b - a
        normal = np.array([-along[1], along[0]]) / max(float(np.linalg.norm(along)), 1.0)
        points = a + np.linspace(0.1, 0.9, EDGE_SAMPLES)[:, None] * along
        xs = (points[:, 0:1] + offsets[None, :] * normal[0]).astype(np.float32)
        ys = (points[:, 1:2] + offsets[None, :] * normal[1]).astype(np.float32)
        profile = cv2.remap(gray, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        step = np.abs(np.diff(cv2.GaussianBlur(profile, (5, 1), 0), axis=1))
        best = step.argmax(axis=1)
        strong = step[np.arange(len(best)), best] >= EDGE_STEP
        if np.count_nonzero(strong) < EDGE_SAMPLES // 2:
            return None
        found = points[strong] + (offsets[best[strong]] + 0.5)[:, None] * normal
        vx, vy, x0, y0 = cv2.fitLine(found.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)))
    corners = []
    for (p0, d0), (p1, d1) in zip(lines[-1:] + lines[:-1], lines):
        m = np.array([[d0[0], -d1[0]], [d0[1], -d1[1]]])
        if abs(np.linalg.det(m)) < 1e-6:
            return None
        t = np.linalg.solve(m, p1 - p0)[0]
        corners.append(p0 + t * d0)
    return np.array(corners, np.float64)


def _is_upright_rectangle(quad: np.ndarray, width: int, height: int) -> bool:
    tol = FLAT * max(width, height)
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    return abs(x0 - x3) <= tol and abs(x1 - x2) <= tol and abs(y0 - y1) <= tol and abs(y3 - y2) <= tol


def unwarp_transform(quad: np.ndarray, dpi: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The homography taking the page's corners to an upright rectangle, and that rectangle's size (width,
    height): an A4 sheet at ``dpi`` where the page's measured aspect is close to A4's (upright or lying), else
    the page's measured size."""
    top, bottom = float(np.linalg.norm(quad[1] - quad[0])), float(np.linalg.norm(quad[2] - quad[3]))
    left, right = float(np.linalg.norm(quad[3] - quad[0])), float(np.linalg.norm(quad[2] - quad[1]))
    width, height = (top + bottom) / 2, (left + right) / 2
    aspect = height / max(width, 1.0)
    if abs(aspect / A4 - 1) <= ASPECT_SNAP:
        width, height = A4_SIZE[0] * dpi, A4_SIZE[1] * dpi
    elif abs(aspect * A4 - 1) <= ASPECT_SNAP:
        width, height = A4_SIZE[1] * dpi, A4_SIZE[0] * dpi
    size = (max(int(round(width)), 1), max(int(round(height)), 1))
    target = np.array([[0, 0], [size[0] - 1, 0], [size[0] - 1, size[1] - 1], [0, size[1] - 1]], np.float32)
    return cv2.getPerspectiveTransform(quad.astype(np.float32), target), size


# ---------------------------------------------------------------- illumination


def flatten(gray: np.ndarray, dpi: float) -> np.ndarray:
    """The page divided by its paper's brightness; an evenly lit page as it is."""
    f = min(BACKGROUND_DPI / dpi, 1.0)
    small = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    span = max(int(round(BACKGROUND_SPAN * BACKGROUND_DPI)), 3) | 1
    paper = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (span, span)))
    paper = cv2.medianBlur(paper, span)
    low, high = np.percentile(paper, (2, 98))
    if high - low < EVEN:
        return gray
    background = cv2.resize(paper, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    background = cv2.GaussianBlur(background, (0, 0), 1.0 / f)  # no steps where the reduced pixels meet
    return cv2.divide(gray, np.maximum(background, 1), scale=255)


# ---------------------------------------------------------------- seals


def seal_boxes(mask: np.ndarray | None, dpi: float) -> list[BBox]:
    """The boxes (x0, y0, x1, y1 pixels) of the red marks large enough to be seals or stamps."""
    if mask is None or not mask.any():
        return []
    size = max(int(round(SEAL_JOIN * dpi)), 1) | 1
    joined = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    pad = size // 2
    boxes: list[BBox] = []
    for i in range(1, n):
        x, y, w, h, _ = (int(v) for v in stats[i])
        if max(w, h) - 2 * pad >= MIN_SEAL * dpi:
            boxes.append((float(x + pad), float(y + pad), float(x + w - pad), float(y + h - pad)))
    return boxes
