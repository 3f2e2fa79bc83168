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
   measured size. A page whose corners already sit on an upright rectangle is left as it is. A page whose paper
   runs to the image's edges (a close-up: no edge in sight) is taken flat by its printed lines instead
   (``ruled_transform``: the long horizontal lines and a table's vertical rulings of a photo meet in two vanishing
   points; the homography that makes each family parallel and square again, keeping the size); a flat or only
   turned page (the deskew's work), or one printing too few long lines, is left as it is;
4. illumination (``flatten``): the paper's brightness is estimated on the page reduced to BACKGROUND_DPI
   (dilation wider than any printed mark, then a median) and the page is divided by it. A page whose paper is
   evenly lit (its brightness varies less than EVEN) is left as it is;
5. dewarp (``curl_field``, ``dewarp``): the page's long horizontal lines (printed rulings and lines of text,
   traced on the page reduced to LINE_DPI) are fitted together as one smooth field of vertical displacement
   (each line its own height plus a curve along x, a penalised spline whose shape varies smoothly down the
   page); where the lines bow more than MIN_CURL beyond a straight slant (the slant is the deskew's) and clearly
   more than the traced points scatter, every column is moved back by the field's curved part. A page too
   sideways or too empty to trace enough lines (MIN_LINES), or bowing more than a gentle curl (MAX_CURL), is
   left as it is.

Every step can be turned off (``NormaliseOptions``, ``configs/pipeline.yaml`` ``normalise``: to measure what each
buys, ``benchmarks/bench_scan.py --without STEP``).
Coordinates: every mask moves with the page (``Normalised.mask`` is in the pixels of ``Normalised.gray``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import cv2
import numpy as np

from service.document import BBox
from service.options import NormaliseOptions

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
MIN_RULED = 1.0  # inches: printed lines at least this long tell how a page without a visible edge lies
MIN_RULED_LINES = 3  # ... of each family (near-horizontal, near-vertical)
STRAIGHT = 0.03  # inches: a long ruling farther than this (beyond its thickness) from its straight fit bows
FRAME_REACH = 0.05  # inches: a ruling's end this close to a ruling of the other direction meets it
MIN_SPREAD = 0.25  # the lines of a family spread over at least this share of the page
PARALLEL = 0.004  # a family's slopes changing less than this (0.23°) across the page: parallel
CONVERGE = 10.0  # ... and a change of slopes must be this many times their scatter about the fit to be perspective
SLOPE_NOISE = 0.0015  # a line's slope off its family's fit by less than this is in it
MAX_GROWTH = 0.1  # the image a page without a visible edge is unwarped to grows by at most this on each side
# Illumination
BACKGROUND_DPI = 25  # resolution the paper's brightness is estimated at
BACKGROUND_SPAN = 0.8  # inches: dilation wider than text and thin table shading
EVEN = 24  # grey levels: paper brightness varying less than this over the page is evenly lit
# Dewarp
LINE_DPI = 100  # resolution the printed lines are traced at
LINE_JOIN = 0.12  # inches: characters of a line closer than this join into one band
MIN_LINE = 1.5  # inches: shorter bands (table cells, short headings) are not traced
MAX_LINE_HEIGHT = 0.4  # inches: taller bands are not one line (figures, a seal, a table's frame)
RULE_PIECE = 0.25  # inches: horizontal runs this long are rulings (traced apart from the text)
TRACE_STEP = 0.2  # inches: a line's height is measured every this many inches along it
MIN_LINES = 8  # traced lines needed to fit the page's curl
CURL_KNOTS = 16  # the curl along a line: a curve through this many knots across the traced width ...
CURL_DEPTH = 2  # ... whose shape varies down the page as a polynomial of this degree in y
CURL_SMOOTH = 0.05  # weight of the curves' bending against the fit (a share of the fit's own scale)
MIN_CURL = 0.005  # inches: a page whose lines bow less than this (RMS along them, beyond a straight slant) is left
MAX_CURL = 0.05  # of the page height: a larger bow is not a gently curled sheet (or not traced right): left alone
BOW_OVER_NOISE = 2.5  # the lines' bow (RMS along them) must be this many times their points' scatter about it
# Seals
SEAL_JOIN = 0.08  # inches: red marks closer than this are one seal
MIN_SEAL = 0.12  # inches: smaller red marks (specks of JPEG colour) are not seals

ALL_STEPS = NormaliseOptions(colour=True, seals=True, perspective=True, illumination=True, dewarp=True)
T = TypeVar("T")


@dataclass
class Normalised:
    """The page image once normalised, its red marks and the seconds each step took."""

    gray: np.ndarray
    mask: np.ndarray | None = None  # 255 where the page had red marks (pixels of ``gray``); None: no colour
    homography: np.ndarray | None = None  # 3 x 3: original pixels -> pixels of ``gray`` (None: not warped)
    timings: dict[str, float] = field(default_factory=dict)


def normalise(image: np.ndarray, dpi: float, steps: NormaliseOptions | None = None) -> Normalised:
    """Colour dropped, red seals unmixed, perspective undone, illumination flattened, curl straightened (see the
    module); ``steps`` turns single steps off (all on when not given). A step that is off is not timed."""
    on = steps or ALL_STEPS
    timings: dict[str, float] = {}
    # colour off: the plain luminance, red marks not looked for (so no seals step either)
    gray, mask = timed(timings, "normalise.colour", lambda: luminance(image, red=on.colour and on.seals))
    if (red := mask) is not None:
        gray = timed(timings, "normalise.seals", lambda: unmix_seals(image, gray, red, dpi))
    homography = None
    if on.perspective:
        gray, mask, homography = timed(timings, "normalise.perspective", lambda: _perspective(gray, mask, dpi))
    if on.illumination:
        gray = timed(timings, "normalise.illumination", lambda: flatten(gray, dpi))
    if on.dewarp:
        field_y = timed(timings, "normalise.dewarp", lambda: curl_field(gray, dpi))
        if field_y is not None:
            gray = timed(timings, "normalise.dewarp", lambda: dewarp(gray, field_y))
            if mask is not None:
                mask = dewarp(mask, field_y, nearest=True)
    if on.perspective and homography is None:  # no paper edge: the printed lines, once straight
        flat, flat_mask = gray, mask
        gray, mask, homography = timed(
            timings, "normalise.perspective", lambda: _ruled_perspective(flat, flat_mask, dpi)
        )
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


def luminance(image: np.ndarray, red: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The page's grayscale (a grayscale page as it is) and the mask of its red marks (None: no red, or ``red``
    False: not looked for)."""
    if image.ndim == 2:
        return (image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)), None
    bgr = image[:, :, :3]
    gray = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2GRAY)
    if not red or not _has_red(bgr[::COLOUR_SAMPLE, ::COLOUR_SAMPLE]):
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
    return _warped(gray, mask, homography, size)


def _ruled_perspective(
    gray: np.ndarray, mask: np.ndarray | None, dpi: float
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """No paper edge in sight (the page fills the photo): the table's rulings say how the page lies (after the
    dewarp, so that a curled page's bowed lines are not taken for converging ones)."""
    ruled = ruled_transform(gray, dpi)
    if ruled is None:
        return gray, mask, None
    return _warped(gray, mask, *ruled)


def _warped(
    gray: np.ndarray, mask: np.ndarray | None, homography: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
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


def ruled_transform(gray: np.ndarray, dpi: float) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The homography that makes a photographed page's printed lines parallel again, from the lines themselves
    (no paper edge needed), and the size of the image it gives; None where they already are (a flat scan, a
    turned one: a turn is the deskew's) or where too few long lines are printed to tell.

    The page's long near-horizontal lines (rulings, lines of text) and near-vertical rulings (a table's), traced
    on the page reduced to LINE_DPI, are each fitted as a straight line; in a photo the lines of each family
    meet in a vanishing point, so a line's slope changes in proportion to where it crosses the page. That
    proportion, fitted over every line of a family, gives the top and bottom line of the horizontal family and the
    left and right one of the vertical family; their four crossings are taken to an upright rectangle of the
    same size, where the page's middle stays."""
    rows, cols = _straight_lines(gray, dpi)
    if len(rows) < MIN_RULED_LINES or len(cols) < MIN_RULED_LINES:
        return None
    h, w = gray.shape[:2]
    top_bottom = _family(rows, h)
    left_right = _family(cols, w)
    if top_bottom is None or left_right is None:
        return None
    (t, tb), (b, bb), (rows_converge, _) = top_bottom  # y = a + slope * x
    (left, lb), (right, rb), (cols_converge, _) = left_right  # x = c + slope * y
    if not (rows_converge or cols_converge):
        return None  # parallel: flat, or only turned (the deskew's work), or bowed (the dewarp's)
    quad = np.array(
        [
            _crossing(t, tb, left, lb),
            _crossing(t, tb, right, rb),
            _crossing(b, bb, right, rb),
            _crossing(b, bb, left, lb),
        ]
    )
    width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    cx, cy = quad.mean(axis=0)
    target = np.array(
        [
            [cx - width / 2, cy - height / 2],
            [cx + width / 2, cy - height / 2],
            [cx + width / 2, cy + height / 2],
            [cx - width / 2, cy + height / 2],
        ],
        np.float32,
    )
    homography = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    frame = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32).reshape(-1, 1, 2)
    moved = cv2.perspectiveTransform(frame, homography).reshape(-1, 2)
    x0, y0 = np.maximum(moved.min(axis=0), [-MAX_GROWTH * w, -MAX_GROWTH * h])
    x1, y1 = np.minimum(moved.max(axis=0), [(1 + MAX_GROWTH) * w, (1 + MAX_GROWTH) * h])
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    return shift @ homography, (int(round(x1 - x0)), int(round(y1 - y0)))


def _crossing(a: float, sa: float, c: float, sc: float) -> tuple[float, float]:
    """Where y = a + sa * x meets x = c + sc * y."""
    y = (a + sa * c) / (1 - sa * sc)
    return c + sc * y, y


def _family(lines: list[tuple[float, float, float]], extent: int) -> tuple[tuple[float, float], ...] | None:
    """Lines of one family (offset, slope, weight): the slope fitted as a straight function of the offset
    (lines meeting in one vanishing point), robustly; the first and last line of the family on that fit, and
    whether the family converges: its slopes change across the page by PARALLEL or more and by CONVERGE times
    their own scatter about the fit (a photo's lines do; a curled page's pieces and a streak do not)."""
    arr = np.array(lines, np.float64)
    offs, slopes, weights = arr[:, 0], arr[:, 1], arr[:, 2]
    keep = np.ones(len(arr), bool)
    for _ in range(3):
        if np.count_nonzero(keep) < MIN_RULED_LINES:
            return None
        k, m = np.polyfit(offs[keep], slopes[keep], 1, w=np.sqrt(weights[keep]))
        off = np.abs(k * offs + m - slopes)
        keep = off <= max(3.0 * float(np.median(off[keep])), SLOPE_NOISE)
    first, last = float(offs[keep].min()), float(offs[keep].max())
    if last - first < MIN_SPREAD * extent:
        return None
    change = abs(k) * (last - first)
    scatter = float(np.median(off[keep]))
    converges = change >= PARALLEL and change >= CONVERGE * scatter
    return (first, float(k * first + m)), (last, float(k * last + m)), (float(converges), change)


Line = tuple[float, float, float, float, float]  # offset, slope, length, start, end (page pixels, along the line)


def _framed(lines: list[Line], across: list[Line], reach: float) -> list[tuple[float, float, float]]:
    """The lines whose both ends meet a line of the other family (within ``reach`` pixels): a table's rulings end
    at its frame; a copier's toner streak runs on past it into the margins, text or the page's edge."""
    out = []
    for offset, slope, length, start, end in lines:
        ends = 0
        for at in (start, end):
            pos = offset + slope * at  # where this line is, across, at that end
            for o2, s2, _, a2, b2 in across:
                cross = o2 + s2 * pos  # the other line's position along this one, there
                if abs(cross - at) <= reach and a2 - reach <= pos <= b2 + reach:
                    ends += 1
                    break
        if ends == 2:
            out.append((offset, slope, length))
    return out


def _straight_lines(gray: np.ndarray, dpi: float) -> tuple[list[tuple[float, float, float]], ...]:
    """The page's long near-horizontal rulings as (y at x = 0, slope, length) and its long near-vertical rulings
    as (x at y = 0, slope, length), page pixels: only those whose two ends meet a ruling of the other direction (a
    table's frame; not a toner streak)."""
    f = min(LINE_DPI / dpi, 1.0)
    small = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    d = LINE_DPI if f < 1.0 else dpi
    block = max(int(round(0.3 * d)), 3) | 1
    ink = cv2.adaptiveThreshold(small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 15)
    out: list[list[Line]] = []
    for vertical in (False, True):
        piece = max(int(round(RULE_PIECE * d)), 3)
        kernel = (1, piece) if vertical else (piece, 1)
        rules = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        rules = cv2.morphologyEx(
            rules, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (3, piece) if vertical else (piece, 3))
        )
        n, labels, stats, _ = cv2.connectedComponentsWithStats(rules, connectivity=8)
        found = []
        for i in range(1, n):
            x, y, bw, bh, _ = (int(v) for v in stats[i])
            along, across = (bh, bw) if vertical else (bw, bh)
            if across > 0.1 * along:
                continue
            ys, xs = np.nonzero(labels[y : y + bh, x : x + bw] == i)
            a, b = (ys + y, xs + x) if vertical else (xs + x, ys + y)  # fit b = offset + slope * a
            slope, offset = np.polyfit(a.astype(np.float64), b.astype(np.float64), 1)
            if along >= MIN_RULED * d and float(np.abs(b - (offset + slope * a)).max()) > STRAIGHT * d + across:
                continue  # a long line that bows (a curled page: the dewarp's work), not a straight ruling
            start, end = (float(a.min()) + 0.5) / f - 0.5, (float(a.max()) + 0.5) / f - 0.5
            page_offset = (offset + 0.5) / f - 0.5 - slope * (0.5 / f - 0.5)
            found.append((page_offset, float(slope), float(along / f), start, end))
        out.append(found)
    reach, least = FRAME_REACH * dpi, MIN_RULED * dpi  # every ruling frames; the long ones are fitted
    rows, cols = out
    return (
        _framed([ln for ln in rows if ln[2] >= least], cols, reach),
        _framed([ln for ln in cols if ln[2] >= least], rows, reach),
    )


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


# ---------------------------------------------------------------- dewarp


def curl_field(gray: np.ndarray, dpi: float) -> np.ndarray | None:
    """The vertical displacement (pixels, float32, the page's size) that a curled sheet moved every point by,
    beyond a straight slant; None where the page's lines are straight (or cannot be traced well enough)."""
    points = _traced_lines(gray, dpi)
    if len(points) < MIN_LINES:
        return None
    h, w = gray.shape[:2]
    xs, ys = np.concatenate([p[:, 0] for p in points]), np.concatenate([p[:, 1] for p in points])
    curve = _fit_curl(points, (float(xs.min()), float(xs.max())))
    if curve is None:
        return None
    # the field is known where lines were traced: above the first and below the last line it is held
    step = max(int(round(dpi * TRACE_STEP / 2)), 4)
    gx = np.arange(0, w + step, step, dtype=np.float64)
    gy = np.clip(np.arange(0, h + step, step, dtype=np.float64), ys.min(), ys.max())
    coarse = curve.at(gx[None, :], gy[:, None])
    most = float(np.abs(coarse).max())
    if curve.bow < MIN_CURL * dpi or curve.bow < BOW_OVER_NOISE * curve.residual or most > MAX_CURL * h:
        return None
    full = cv2.resize(coarse.astype(np.float32), (len(gx) * step, len(gy) * step), interpolation=cv2.INTER_LINEAR)
    off = step // 2  # coarse samples sit at multiples of step: centre the resized pixels on them
    return np.ascontiguousarray(full[off : off + h, off : off + w])


def dewarp(image: np.ndarray, field_y: np.ndarray, nearest: bool = False) -> np.ndarray:
    """Every pixel taken from where the curl moved it (``curl_field``)."""
    h, w = image.shape[:2]
    map_x = np.broadcast_to(np.arange(w, dtype=np.float32)[None, :], (h, w))
    map_y = np.arange(h, dtype=np.float32)[:, None] + field_y
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    border = cv2.BORDER_CONSTANT if nearest else cv2.BORDER_REPLICATE
    return cv2.remap(image, np.ascontiguousarray(map_x), map_y, flags, borderMode=border, borderValue=0)


@dataclass(frozen=True)
class Curl:
    """The fitted curl: down the page, each power of y (0..CURL_DEPTH) has a curve along x (piecewise linear
    between CURL_KNOTS knots over the traced lines' width, held beyond), its straight part (the slant) taken out."""

    knots: np.ndarray  # x of the knots (pixels)
    curves: np.ndarray  # (CURL_DEPTH + 1) x knots: pixels of displacement at each knot, per power of y
    height: float  # page pixels per unit of y (y is measured from the page's middle in page heights)
    middle: float
    residual: float  # RMS distance of the traced points from the fitted lines (pixels)
    bow: float  # RMS of the curved part along each traced line (pixels): how much the lines bow

    def at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The displacement (pixels) at page points (x, y), broadcast."""
        v = (np.asarray(y, np.float64) - self.middle) / self.height
        out = np.zeros(np.broadcast_shapes(np.shape(x), np.shape(v)))
        for j, curve in enumerate(self.curves):
            out = out + np.interp(x, self.knots, curve) * v**j
        return out


def _hats(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Piecewise-linear basis: column k is 1 at knot k, falling to 0 at its neighbours (held beyond the ends)."""
    eye = np.eye(len(knots))
    return np.stack([np.interp(x, knots, eye[k]) for k in range(len(knots))], axis=1)


def _fit_curl(points: list[np.ndarray], span: tuple[float, float]) -> Curl | None:
    """Least squares over every traced line at once: y = the line's own height + a smooth curve along x whose
    shape varies smoothly down the page (a penalised spline: second differences between knots cost CURL_SMOOTH);
    the points far off (a descender, a stray mark) dropped and fitted again. None when too few points to tell."""
    n = len(points)
    x = np.concatenate([p[:, 0] for p in points])
    y = np.concatenate([p[:, 1] for p in points])
    line = np.concatenate([np.full(len(p), k) for k, p in enumerate(points)])
    middle, height = float(y.mean()), max(float(np.ptp(y)), 1.0)
    # each point at its line's mean height (its own height would predict itself)
    v = (np.concatenate([np.full(len(p), p[:, 1].mean()) for p in points]) - middle) / height
    knots = np.linspace(span[0], span[1], CURL_KNOTS)
    hats = _hats(x, knots)
    design = np.hstack([hats * v[:, None] ** j for j in range(CURL_DEPTH + 1)])
    k = len(knots)
    second = np.diff(np.eye(k), 2, axis=0)
    penalty = np.zeros((design.shape[1], design.shape[1]))
    for j in range(CURL_DEPTH + 1):
        penalty[j * k : (j + 1) * k, j * k : (j + 1) * k] = second.T @ second
    keep = np.ones(len(x), bool)
    for _ in range(2):
        if np.count_nonzero(keep) < 3 * k + 2 * n:
            return None
        a, b = _less_line_means(design, line, keep, n), _less_line_means(y[:, None], line, keep, n)[:, 0]
        gram = a[keep].T @ a[keep]
        weight = CURL_SMOOTH * float(np.trace(gram)) / design.shape[1]
        coef = np.linalg.solve(gram + weight * penalty + 1e-9 * np.eye(len(gram)), a[keep].T @ b[keep])
        off = np.abs(a @ coef - b)
        keep = off <= max(3.0 * float(np.median(off[keep])), 1.0)
    residual = float(np.sqrt(np.mean(off[keep] ** 2)))
    curves = coef.reshape(CURL_DEPTH + 1, k)
    dense = np.linspace(span[0], span[1], 4 * k)
    for j in range(CURL_DEPTH + 1):  # the straight part of each curve is the slant: left to the deskew
        slope, level = np.polyfit(dense, np.interp(dense, knots, curves[j]), 1)
        curves[j] = curves[j] - (slope * knots + level)
    curve = Curl(knots, curves, height, middle, residual, 0.0)
    bent = curve.at(x, v * height + middle)[:, None]
    bow = float(np.sqrt(np.mean(_less_line_means(bent, line, keep, n)[keep, 0] ** 2)))
    return replace(curve, bow=bow)


def _less_line_means(values: np.ndarray, line: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """Each column of ``values`` less its mean over the kept points of the same line."""
    counts = np.maximum(np.bincount(line[keep], minlength=n), 1)
    means = np.stack([np.bincount(line[keep], weights=col[keep], minlength=n) / counts for col in values.T], axis=1)
    out: np.ndarray = values - means[line]
    return out


def _traced_lines(gray: np.ndarray, dpi: float) -> list[np.ndarray]:
    """Points (x, y in page pixels) along the page's long horizontal lines: the printed rulings and the lines of
    text (characters joined along the line), each line's height measured every TRACE_STEP."""
    f = min(LINE_DPI / dpi, 1.0)
    small = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    _, ink = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    d = LINE_DPI if f < 1.0 else dpi
    piece = max(int(round(RULE_PIECE * d)), 3)
    rules = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (piece, 1)))
    rules = cv2.morphologyEx(rules, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (piece, 3)))
    text = cv2.subtract(ink, cv2.dilate(rules, np.ones((3, 3), np.uint8)))
    joined = cv2.morphologyEx(
        text, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (max(int(round(LINE_JOIN * d)), 3), 1))
    )
    out: list[np.ndarray] = []
    for mask, thin in ((rules, True), (joined, False)):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, _ = (int(v) for v in stats[i])
            if bw < MIN_LINE * d or bh > MAX_LINE_HEIGHT * d or (not thin and bh < 0.05 * d):
                continue
            points = _line_points(labels[y : y + bh, x : x + bw] == i, max(int(round(TRACE_STEP * d)), 2))
            if len(points) >= 4:
                out.append((points + np.array([x, y], np.float64) + 0.5) / f - 0.5)
    return out


def _line_points(mask: np.ndarray, step: int) -> np.ndarray:
    """(x, y) every ``step`` columns of a line's mask: the middle between its highest and lowest pixel there."""
    has = np.asarray(mask.any(axis=0))
    top = mask.argmax(axis=0)
    bottom = mask.shape[0] - 1 - mask[::-1].argmax(axis=0)
    mid = np.where(has, (top + bottom) / 2.0, np.nan)
    bins = mask.shape[1] // step
    if not bins:
        return np.zeros((0, 2), np.float64)
    cols = mid[: bins * step].reshape(bins, step)
    enough = np.count_nonzero(~np.isnan(cols), axis=1) >= step // 2
    if not enough.any():
        return np.zeros((0, 2), np.float64)
    ys = np.nanmedian(cols[enough], axis=1)
    xs = np.flatnonzero(enough) * step + (step - 1) / 2
    return np.stack([xs, ys], axis=1).astype(np.float64)
