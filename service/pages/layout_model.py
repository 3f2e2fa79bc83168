"""The layout model: table regions, cell boundaries and text blocks of a page image, where ruling lines may be
broken, bent or missing (unruled tables, 三线表).

A small fully-convolutional network (``models/layout/model.onnx``, trained by ``make train-layout`` from scratch on
pages the scan simulator prints; card: ``models/layout/README.md``) reads the page reduced to ``MODEL_DPI`` and
predicts per pixel (``LayoutMaps``): table region, row boundaries, column boundaries (the edges of the printed cells,
also where no ruling is printed) and text region (a fourth map the shipped model has not learned yet: see its card).
ONNX Runtime runs it on the CPU, offline.

``model_segments`` turns the boundary maps into ruling-like segments (``service.lattice.Segment``, page pixels):
inside each table region the ridge of each map (the local maxima across it above ``THRESHOLD``) is traced, cut into
pieces at most ``PIECE`` inches long (a bent or slanted boundary keeps its local position), each piece at the
probability-weighted centre of the ridge. ``model_grids`` builds the table grids from them with the one grid builder
(``service.pages.layout.table_grids``), so a grid from the model and a grid from the ruling lines are the same kind
of thing and can be combined segment by segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from service.lattice import Box, Grid, Segment
from service.pages.layout import bitmap_rulings, table_grids
from service.resources import MODELS_DIR

MODEL_DPI = 50.0  # the resolution the model reads (the page reduced to about 1/4 of a 200 dpi scan)
CHANNELS = ("table", "row", "col", "text")  # the model's output maps, in order
MODEL_PATH = MODELS_DIR / "layout" / "model.onnx"
STRIDE = 16  # the network's input sides are padded to a multiple of this
THRESHOLD = 0.5  # probability above which a map pixel counts (region, boundary ridge)
MIN_BOUNDARY = 0.12  # inches, shortest boundary piece kept (shorter than the lowest table row)
PIECE = 1.0  # inches: a boundary is cut into pieces this long at most (each with its own position)
MIN_REGION = (0.5, 0.2)  # inches (width, height): smaller table regions are noise
SUPPRESS = 0.06  # inches: a boundary ridge is the strongest this far either side (boundaries lie >= 0.15 in apart)
REACH = 1.5  # model pixels a boundary piece is extended at both ends (its ridge stops short of the crossing)
COLUMN_RULED = 0.5  # the model fills a lost stretch of a column boundary the rulings draw in this share of rows
THREADS = 1  # ONNX Runtime intra-op threads when no options say (the OCR stage passes layout.threads)


@dataclass(frozen=True)
class LayoutMaps:
    """The model's probability maps of one page at MODEL_DPI (each H x W, float32 in [0, 1])."""

    table: np.ndarray
    rows: np.ndarray  # row boundaries (horizontal cell edges)
    cols: np.ndarray  # column boundaries (vertical cell edges)
    text: np.ndarray  # text region: trained for, not learned by the shipped model yet (models/layout/README.md)
    factor: float  # page pixels per map pixel (page dpi / MODEL_DPI)

    def to_page(self, v: float) -> float:
        """A map coordinate (pixel centres at integers) in page pixels."""
        return (v + 0.5) * self.factor - 0.5


class LayoutModel:
    """The ONNX layout network on ONNX Runtime (CPU)."""

    def __init__(self, path: Path = MODEL_PATH, threads: int = THREADS) -> None:
        if not path.exists():
            raise FileNotFoundError(f"layout model {path} is missing (make train-layout builds it)")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def predict(self, gray: np.ndarray, dpi: float) -> LayoutMaps:
        """The maps of a grayscale page image (uint8, dark ink on light paper) scanned at ``dpi``."""
        h, w = gray.shape[:2]
        mh, mw = max(1, int(round(h * MODEL_DPI / dpi))), max(1, int(round(w * MODEL_DPI / dpi)))
        small = cv2.resize(gray, (mw, mh), interpolation=cv2.INTER_AREA)
        ph, pw = -(-mh // STRIDE) * STRIDE, -(-mw // STRIDE) * STRIDE
        x = np.zeros((1, 1, ph, pw), np.float32)
        x[0, 0, :mh, :mw] = 1.0 - small.astype(np.float32) / 255.0
        logits = self.session.run(None, {self.input: x})[0][0, :, :mh, :mw]
        probs = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return LayoutMaps(probs[0], probs[1], probs[2], probs[3], factor=dpi / MODEL_DPI)


@lru_cache(maxsize=2)
def load_model(path: Path = MODEL_PATH, threads: int = THREADS) -> LayoutModel:
    """The layout model, loaded once per process."""
    return LayoutModel(path, threads)


def predict(gray: np.ndarray, dpi: float) -> LayoutMaps:
    """The shipped model's maps of a grayscale page image scanned at ``dpi``."""
    return load_model().predict(gray, dpi)


# ---------------------------------------------------------------- maps -> regions, segments, grids


def _regions(prob: np.ndarray, maps: LayoutMaps, min_size: tuple[float, float]) -> list[tuple[int, int, int, int]]:
    """Connected regions above THRESHOLD as (x, y, w, h) in map pixels, at least ``min_size`` inches."""
    n, _, stats, _ = cv2.connectedComponentsWithStats((prob > THRESHOLD).astype(np.uint8), connectivity=4)
    min_w, min_h = (v * MODEL_DPI for v in min_size)
    boxes = [(int(x), int(y), int(w), int(h)) for x, y, w, h, _a in stats[1:n] if w >= min_w and h >= min_h]
    # a region inside another one's box is a hole's island: part of the larger region
    return [b for b in boxes if not any(o != b and _within(b, o) for o in boxes)]


def _within(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return b[0] <= a[0] and b[1] <= a[1] and a[0] + a[2] <= b[0] + b[2] and a[1] + a[3] <= b[1] + b[3]


def _page_box(maps: LayoutMaps, x: int, y: int, w: int, h: int) -> Box:
    return (maps.to_page(x - 0.5), maps.to_page(y - 0.5), maps.to_page(x + w - 0.5), maps.to_page(y + h - 0.5))


def table_regions(maps: LayoutMaps) -> list[Box]:
    """The table regions the model sees, in page pixels, top to bottom."""
    boxes = [_page_box(maps, *r) for r in _regions(maps.table, maps, MIN_REGION)]
    return sorted(boxes, key=lambda b: (b[1], b[0]))


def model_segments(maps: LayoutMaps) -> list[Segment]:
    """Ruling-like segments (page pixels) along the row and column boundaries inside the table regions."""
    out: list[Segment] = []
    pad = int(round(0.06 * MODEL_DPI))
    h, w = maps.table.shape
    for x, y, rw, rh in _regions(maps.table, maps, MIN_REGION):
        x0, y0, x1, y1 = max(x - pad, 0), max(y - pad, 0), min(x + rw + pad, w), min(y + rh + pad, h)
        cols = _ridges(maps.cols[y0:y1, x0:x1], True, x0, y0, maps)
        rows = _ridges(maps.rows[y0:y1, x0:x1].T, False, y0, x0, maps)
        if cols:  # a row boundary ends at the outer column boundaries (else its ends would make an open edge)
            left, right = min(s.pos for s in cols), max(s.pos for s in cols)
            rows = [replace(s, start=max(s.start, left), end=min(s.end, right)) for s in rows]
            rows = [s for s in rows if s.end > s.start]
        out += cols + rows
    return out


def _ridges(prob: np.ndarray, vertical: bool, across0: int, along0: int, maps: LayoutMaps) -> list[Segment]:
    """Segments along the ridges of a boundary map laid out with the boundaries running down axis 0 (the map of
    column boundaries as it is, the map of row boundaries transposed); ``across0``/``along0`` place it."""
    if prob.size == 0:
        return []
    # a ridge pixel: above THRESHOLD and the maximum of its row within SUPPRESS either side (the first of equals)
    reach = max(int(round(SUPPRESS * MODEL_DPI)), 1)
    padded_p = np.pad(prob, ((0, 0), (reach, reach)), constant_values=-1.0)
    width = prob.shape[1]
    ridge = prob > THRESHOLD
    for o in range(1, reach + 1):
        ridge &= prob >= padded_p[:, reach - o : reach - o + width]
        ridge &= prob > padded_p[:, reach + o : reach + o + width]
    n, comp, stats, _ = cv2.connectedComponentsWithStats(ridge.astype(np.uint8), connectivity=8)
    padded = np.pad(np.clip(prob - THRESHOLD / 2, 0, None), ((0, 0), (2, 2)))
    min_len = MIN_BOUNDARY * MODEL_DPI
    piece = max(int(PIECE * MODEL_DPI), 1)
    out: list[Segment] = []
    for k in range(1, n):
        cx, cy, cw, ch = (int(v) for v in stats[k, :4])
        if ch < min_len:
            continue
        rows, at = np.nonzero(comp[cy : cy + ch, cx : cx + cw] == k)
        rows += cy
        at += cx
        centres = _centres(padded, rows, at)
        for start in range(cy, cy + ch, piece):
            sel = (rows >= start) & (rows < start + piece)
            if not sel.any():
                continue
            r0, r1 = float(rows[sel].min()), float(rows[sel].max())
            if r1 - r0 + 1 < min_len and ch >= piece:  # a short tail of a long boundary: joined to the previous
                r0 = max(r0 - piece, float(cy))
            pos = maps.to_page(float(centres[sel].mean()) + across0)
            lo = maps.to_page(r0 - REACH + along0)
            hi = maps.to_page(r1 + REACH + along0)
            out.append(Segment(vertical, pos, lo, hi))
    return out


def _centres(padded: np.ndarray, rows: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The probability-weighted centre across the ridge (two pixels either side) of each ridge pixel."""
    offsets = np.arange(-2, 3)
    w = padded[rows[:, None], at[:, None] + offsets + 2]
    total = w.sum(axis=1)
    shift = (w * offsets).sum(axis=1) / np.where(total > 0, total, 1.0)
    return (at + shift).astype(np.float32)


def model_grids(maps: LayoutMaps, dpi: float) -> list[Grid]:
    """The table grids the model sees (page pixels), built by the one grid builder, top to bottom."""
    return table_grids(model_segments(maps), bitmap_rulings(dpi))


def combined_grids(ruling: Sequence[Segment], maps: LayoutMaps, dpi: float) -> list[Grid]:
    """The table grids of a page from its ruling segments (``service.ocr.grid.ruling_segments``) and the model.

    Where the ruling lines make a table, its boundaries stay theirs: the model only fills the stretches of its
    column boundaries (those ruled in at least COLUMN_RULED of the rows) where the ruling is broken or lost (a model
    piece on a ruled boundary, moved onto it exactly), so a cell that a lost column ruling made one is parted again,
    a spanning label cell stays whole, and the positions the rulings give do not move. A table
    region of the model that no ruled grid overlaps (an unruled table, a 三线表 whose few rules make no lattice)
    gets the model's boundaries, with the rules it has.
    """
    rulings = bitmap_rulings(dpi)
    ruled = table_grids(ruling, rulings)
    free = [r for r in table_regions(maps) if not any(_overlap(g.bbox, r) for g in ruled)]
    slack = 0.1 * dpi
    extra: list[Segment] = []
    for seg in model_segments(maps):
        mid = (seg.start + seg.end) / 2
        x, y = (seg.pos, mid) if seg.vertical else (mid, seg.pos)
        grid = next((g for g in ruled if _inside(g.bbox, x, y, rulings.tol)), None)
        if grid is None:
            if any(_inside(r, x, y, slack) for r in free):
                extra.append(seg)
            continue
        if not seg.vertical:
            continue  # a ruled table's rows stay the rulings' (a spanning label cell is not cut by the model)
        i = min(range(len(grid.xs)), key=lambda k: abs(grid.xs[k] - seg.pos))
        # a column boundary the table rules in most rows, on it and short of the table's outer lines by more than
        # the tolerance: no new edge, and the ends that make an open edge (``service.lattice.boundaries``) stay
        # those of the rulings
        lo, hi = grid.ys[0] + rulings.tol + 1, grid.ys[-1] - rulings.tol - 1
        if (
            abs(grid.xs[i] - seg.pos) <= rulings.tol
            and _ruled_share(grid, i) >= COLUMN_RULED
            and min(seg.end, hi) > max(seg.start, lo)
        ):
            extra.append(Segment(True, float(grid.xs[i]), max(seg.start, lo), min(seg.end, hi)))
    return table_grids([*ruling, *extra], rulings) if extra else ruled


def _ruled_share(grid: Grid, i: int) -> float:
    """The share of the grid's rows in which column boundary ``i`` is a cell edge."""
    rows = {r for c in grid.cells if c.col == i or c.col + c.colspan == i for r in range(c.row, c.row + c.rowspan)}
    return len(rows) / grid.n_rows if grid.n_rows else 0.0


def _inside(box: Box, x: float, y: float, slack: float) -> bool:
    return box[0] - slack <= x <= box[2] + slack and box[1] - slack <= y <= box[3] + slack


def _overlap(a: Box, b: Box) -> bool:
    """Whether two boxes share at least half of the smaller one."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return small > 0 and ix * iy >= 0.5 * small
