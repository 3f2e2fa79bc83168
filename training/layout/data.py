"""Training pages for the layout model: synthetic reports printed by the scan simulator, with every cell box known.

1. Print (``printed_pages``): ``training.synth.report.synth_doc`` makes a whole report (tables 2/3/4, narrative);
   the scan simulator prints it (``scansim.document_html`` -> WeasyPrint -> PDF -> raster at 200 dpi), with the
   table font size, cell padding and ruling width varied a little. The clean page's ruled tables are found by the
   project's own grid finder (``service.pages.layout.find_grids``, exact on a clean print): they are the truth.
2. Label (``labels``): per pixel, at the model's resolution (``MODEL_DPI``): table region, row boundaries and
   column boundaries (every printed cell edge: the cell boundaries also where the variant prints no ruling),
   text region (ink outside the tables, closed into lines).
3. Vary the print (``ruling_style``): fully ruled; broken and faded rulings; 三线表 (only the top, header and
   bottom rules); no rulings at all. The labels stay those of the ruled print.
4. Degrade (``augment``): perspective (corners moved up to 4 %) or a small rotation, a red seal (grey where the
   page is grey), a light gradient and a shadow band, a photocopy's grey background, blur, a resolution of 120-200
   dpi, noise, JPEG; then the page is reduced to ``MODEL_DPI``.

The samples are rendered once into a cache folder (``cached_samples``) keyed by the settings.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from service.lattice import Grid
from service.ocr.grid import binarize, line_masks
from service.pages.layout import find_grids
from service.pages.layout_model import CHANNELS, MODEL_DPI
from training.synth.report import synth_doc

ROOT = Path(__file__).resolve().parents[2]
RENDER_DPI = 200
CACHE = Path("/tmp/xxgk-layout-cache")
DATA_VERSION = 1  # bump when the rendering or labelling changes (a new cache key)
SEP_WIDTH = 3  # pixels at MODEL_DPI: width of a boundary in the label maps
STYLES = {"ruled": 0.3, "broken": 0.15, "three_line": 0.3, "unruled": 0.25}


@lru_cache(maxsize=1)
def scansim() -> ModuleType:
    """datasets/scansim.py as a module (loaded by path: ``datasets`` is also the name of a PyPI package)."""
    spec = importlib.util.spec_from_file_location("scansim", ROOT / "datasets" / "scansim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class PrintedPage:
    gray: np.ndarray  # the clean print, uint8, RENDER_DPI
    grids: list[Grid]  # its ruled tables (pixels)
    doc: int  # index of the document it comes from


@dataclass(frozen=True)
class DataSettings:
    seed: int = 0
    docs: int = 60
    variants: int = 2  # degraded variants per page
    version: int = DATA_VERSION

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


# ---------------------------------------------------------------- printing


def _vary_css(markup: str, rng: random.Random) -> str:
    """The simulator's page with the table font size, cell padding and ruling width varied."""
    size = rng.choice(["9pt", "10pt", "10.5pt", "10.5pt", "11pt", "12pt"])
    pad = rng.choice(["2pt 2pt", "3pt 3pt", "3pt 3pt", "4pt 3pt", "5pt 4pt"])
    border = rng.choice(["0.75px", "1px", "1px", "1.5px", "2px"])
    markup = markup.replace("font-size: 10.5pt;", f"font-size: {size};", 1)
    markup = markup.replace("padding: 3pt 3pt;", f"padding: {pad};", 1)
    return markup.replace("border: 1px solid #000;", f"border: {border} solid #000;", 1)


def printed_pages(seed: int, n_docs: int) -> Iterator[PrintedPage]:
    """The pages of ``n_docs`` synthetic reports with tables (crawled one-run texts skipped), printed clean."""
    sim = scansim()
    made = 0
    i = 0
    while made < n_docs:
        rng = random.Random(f"layout:{seed}:{i}")
        i += 1
        synth = synth_doc(rng)
        if synth.meta.get("crawled_text") or not synth.document.tables():
            continue
        markup = _vary_css(sim.document_html(synth.document), rng)
        for image in sim.rasterise(sim.html_to_pdf(markup), RENDER_DPI):
            gray = np.asarray(image.convert("L")).copy()
            yield PrintedPage(gray, find_grids(gray, RENDER_DPI), made)
        made += 1


# ---------------------------------------------------------------- labels


def to_model(v: float, factor: float) -> float:
    """A pixel coordinate (pixel centres at integers) at a resolution ``factor`` times lower."""
    return (v + 0.5) / factor - 0.5


def labels(grids: list[Grid], ink: np.ndarray, shape: tuple[int, int], factor: float) -> np.ndarray:
    """The label maps (len(CHANNELS) x H x W, uint8 0/1) at ``shape``: ``factor`` page pixels per model pixel."""
    h, w = shape
    out = np.zeros((len(CHANNELS), h, w), np.uint8)
    table, rows, cols, text = out
    for grid in grids:
        x0, y0, x1, y1 = (int(round(to_model(v, factor))) for v in grid.bbox)
        cv2.rectangle(table, (x0, y0), (x1, y1), 1, thickness=-1)
        for cell in grid.cells:
            a, b, c, d = (int(round(to_model(v, factor))) for v in cell.bbox)
            if not cell.open_top:
                cv2.line(rows, (a, b), (c, b), 1, 1)
            if not cell.open_bottom:
                cv2.line(rows, (a, d), (c, d), 1, 1)
            cv2.line(cols, (a, b), (a, d), 1, 1)
            cv2.line(cols, (c, b), (c, d), 1, 1)
    half = SEP_WIDTH // 2
    rows[:] = cv2.dilate(rows, np.ones((2 * half + 1, 1), np.uint8))
    cols[:] = cv2.dilate(cols, np.ones((1, 2 * half + 1), np.uint8))
    small = cv2.resize(ink, (w, h), interpolation=cv2.INTER_AREA) > 20
    small &= table == 0
    text[:] = cv2.morphologyEx(small.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 7), np.uint8))
    text[table > 0] = 0
    return out


# ---------------------------------------------------------------- print variants


def _table_mask(shape: tuple[int, int], grids: list[Grid], pad: int) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for grid in grids:
        x0, y0, x1, y1 = (int(round(v)) for v in grid.bbox)
        mask[max(y0 - pad, 0) : y1 + pad + 1, max(x0 - pad, 0) : x1 + pad + 1] = 1
    return mask


def ruling_style(
    gray: np.ndarray, grids: list[Grid], style: str, rng: np.random.Generator, dpi: float = RENDER_DPI
) -> np.ndarray:
    """The page printed with its table rulings in ``style``: ruled, broken (pieces lost, some lines faded),
    three_line (三线表: top rule, the rule under the header, bottom rule) or unruled."""
    if style == "ruled" or not grids:
        return gray
    ink = binarize(gray)
    hmask, vmask = line_masks(ink, dpi)
    near = _table_mask(gray.shape, grids, int(0.05 * dpi))
    grow = np.ones((3, 3), np.uint8)
    hmask = cv2.dilate(hmask, grow) * near
    vmask = cv2.dilate(vmask, grow) * near
    out = gray.copy()
    if style == "broken":
        for mask, vertical in ((hmask, False), (vmask, True)):
            n, comp = cv2.connectedComponents(mask)
            for k in range(1, n):
                piece = comp == k
                draw = rng.random()
                if draw < 0.25:  # faded
                    out[piece] = np.maximum(out[piece], int(rng.integers(150, 225)))
                elif draw < 0.6:  # broken: gaps along it
                    along = np.arange(out.shape[0] if vertical else out.shape[1])
                    period = int(rng.integers(int(0.1 * dpi), int(0.6 * dpi)))
                    gap = int(rng.integers(int(0.02 * dpi), max(int(0.02 * dpi) + 1, period // 2)))
                    lost = ((along + int(rng.integers(period))) % period) < gap
                    sel = piece & (lost[:, None] if vertical else lost[None, :])
                    out[sel] = 255
        return out
    out[vmask > 0] = 255
    if style == "unruled":
        out[hmask > 0] = 255
        return out
    keep = np.zeros(gray.shape, bool)
    band = int(0.02 * dpi) + 1
    for grid in grids:
        ys = list(grid.ys)
        header = min(len(ys) - 2, int(rng.integers(1, 4)))
        for y in {ys[0], ys[header], ys[-1]}:
            keep[max(int(y) - band, 0) : int(y) + band + 1, :] = True
    out[(hmask > 0) & ~keep] = 255
    return out


# ---------------------------------------------------------------- degradations


def _homography(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    if rng.random() < 0.5:
        move = rng.uniform(-0.04, 0.04, size=(4, 2)) * np.array([w, h], np.float32)
        dst = (src + move).astype(np.float32)
    else:
        angle = np.deg2rad(rng.uniform(-1.0, 1.0))
        c, s = np.cos(angle), np.sin(angle)
        centre = np.array([w / 2, h / 2], np.float32)
        dst = ((src - centre) @ np.array([[c, s], [-s, c]], np.float32) + centre).astype(np.float32)
    return np.asarray(cv2.getPerspectiveTransform(src, dst))


def _seal(img: np.ndarray, rng: np.random.Generator, dpi: float) -> None:
    """A red seal as a grayscale page shows it: a ring, a star and a ring of glyph-like marks, darkening."""
    h, w = img.shape
    r = int(rng.uniform(0.6, 0.9) * dpi)
    cx, cy = int(rng.integers(r, max(w - r, r + 1))), int(rng.integers(r, max(h - r, r + 1)))
    level = int(rng.integers(90, 175))
    mark = np.full_like(img, 255)
    cv2.circle(mark, (cx, cy), r, level, max(2, int(0.035 * dpi)), lineType=cv2.LINE_AA)
    star = np.array(
        [
            (
                cx + (r * 0.3 if k % 2 == 0 else r * 0.12) * np.sin(k * np.pi / 5),
                cy - (r * 0.3 if k % 2 == 0 else r * 0.12) * np.cos(k * np.pi / 5),
            )
            for k in range(10)
        ],
        np.int32,
    )
    cv2.fillPoly(mark, [star], level)
    for k in range(int(rng.integers(8, 16))):
        a = np.pi * (0.8 + 1.4 * k / 16)
        px, py = cx + 0.72 * r * np.cos(a), cy + 0.72 * r * np.sin(a)
        size = max(3, int(0.09 * dpi))
        for _ in range(4):
            dx, dy = rng.integers(-size, size, 2)
            cv2.line(mark, (int(px), int(py)), (int(px + dx), int(py + dy)), level, max(1, int(0.012 * dpi)))
    img[:] = np.minimum(img, mark)


def _light(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = (xx * np.cos(angle) + yy * np.sin(angle)) / max(w, h)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    gain = 1.0 - rng.uniform(0.0, 0.35) * t
    if rng.random() < 0.4:  # a shadow band
        pos, width = rng.uniform(0.1, 0.9), rng.uniform(0.03, 0.12)
        band = np.exp(-(((xx / w if rng.random() < 0.5 else yy / h) - pos) ** 2) / (2 * width**2))
        gain *= 1.0 - rng.uniform(0.1, 0.3) * band
    return np.clip(img.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def augment(
    gray: np.ndarray, maps: np.ndarray, rng: np.random.Generator, dpi: float = RENDER_DPI
) -> tuple[np.ndarray, np.ndarray]:
    """A degraded page at MODEL_DPI and its label maps moved along with it."""
    h, w = gray.shape
    mh, mw = maps.shape[1:]
    factor = dpi / MODEL_DPI
    img = gray.copy()
    if rng.random() < 0.3:
        _seal(img, rng, dpi)
    hom = _homography(w, h, rng)
    img = cv2.warpPerspective(img, hom, (w, h), flags=cv2.INTER_LINEAR, borderValue=int(rng.integers(200, 256)))
    scale = np.diag([1 / factor, 1 / factor, 1]).astype(np.float64)
    hom_small = scale @ hom @ np.linalg.inv(scale)
    maps = np.stack([cv2.warpPerspective(m, hom_small, (mw, mh), flags=cv2.INTER_NEAREST) for m in maps])
    if rng.random() < 0.6:
        img = _light(img, rng)
    if rng.random() < 0.2:  # photocopy: grey background
        paper = rng.uniform(170, 225)
        img = (img.astype(np.float32) * (paper / 255.0)).astype(np.uint8)
    sigma = rng.uniform(0.0, 1.4)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    scan_dpi = rng.uniform(120, 200)
    size = (int(round(w * scan_dpi / dpi)), int(round(h * scan_dpi / dpi)))
    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    noise = rng.uniform(0, 10)
    img = np.clip(img.astype(np.float32) + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(45, 90))])
        assert ok
        img = np.asarray(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE))
    img = cv2.resize(img, (mw, mh), interpolation=cv2.INTER_AREA)
    return img, maps


def model_shape(shape: tuple[int, int], dpi: float) -> tuple[int, int]:
    h, w = shape
    return int(round(h * MODEL_DPI / dpi)), int(round(w * MODEL_DPI / dpi))


def page_samples(page: PrintedPage, index: int, settings: DataSettings) -> list[tuple[np.ndarray, np.ndarray]]:
    """The degraded variants of one printed page, each (image, label maps) at MODEL_DPI."""
    shape = model_shape(page.gray.shape, RENDER_DPI)
    factor = RENDER_DPI / MODEL_DPI
    ink = binarize(page.gray)
    maps = labels(page.grids, ink, shape, factor)
    out = []
    for v in range(settings.variants):
        rng = np.random.default_rng([settings.seed, index, v])
        style = rng.choice(list(STYLES), p=list(STYLES.values()))
        printed = ruling_style(page.gray, page.grids, str(style), rng)
        out.append(augment(printed, maps, rng))
    return out


def cached_samples(
    settings: DataSettings, cache: Path = CACHE, log: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images (N x H x W uint8), label maps (N x C x H x W uint8) and the document of each sample; rendered once
    into ``cache/<key>.npz``."""
    path = cache / f"samples-{settings.key()}.npz"
    if path.exists():
        data = np.load(path)
        return data["images"], data["maps"], data["docs"]
    start = time.perf_counter()
    images: list[np.ndarray] = []
    maps: list[np.ndarray] = []
    docs: list[int] = []
    for index, page in enumerate(printed_pages(settings.seed, settings.docs)):
        for img, lab in page_samples(page, index, settings):
            images.append(img)
            maps.append(lab)
            docs.append(page.doc)
        if log and index % 20 == 0:
            print(f"  page {index} (doc {page.doc}), {time.perf_counter() - start:.0f} s", flush=True)
    h = max(i.shape[0] for i in images)
    w = max(i.shape[1] for i in images)
    img_arr = np.full((len(images), h, w), 255, np.uint8)
    map_arr = np.zeros((len(images), len(CHANNELS), h, w), np.uint8)
    for k, (img, lab) in enumerate(zip(images, maps)):
        img_arr[k, : img.shape[0], : img.shape[1]] = img
        map_arr[k, :, : img.shape[0], : img.shape[1]] = lab
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, images=img_arr, maps=map_arr, docs=np.array(docs))
    tmp.rename(path)
    if log:
        print(f"  {len(images)} samples from {settings.docs} reports in {time.perf_counter() - start:.0f} s")
    return img_arr, map_arr, np.array(docs)
