"""Scan simulator: any report -> image-only PDF, with controlled, seeded degradations.

1. Render (``render_source`` / ``render_document``): a PDF is rasterised as it is (pypdfium2, original
   look); every other input (HTML, text, Markdown, DOCX) is read with the project's own backends
   (``service.ingest.load_document``) and printed to a clean report page by ``document_html`` (A4,
   2.5 cm margins, Noto CJK SC, every table with its rowspan/colspan and a 1 px black border on every
   cell, header rows not repeated) -> WeasyPrint -> PDF -> pypdfium2 raster. The table grids that were
   printed (``printed_grid``: rectangles, see there) are kept as the structure oracle.
2. Degrade (``degrade``) with a numpy Generator seeded per (seed, page): rotation (skew, 90/180),
   gaussian blur, gaussian noise, background cleanup (levels), JPEG, binarisation, fax-like speckle
   (salt-and-pepper + scan-line dropouts).
   Before these, optionally (``lose_rulings``, ``LostRuling``): a column border of one table faded or
   broken over a block of rows (a fax or photocopy losing one vertical ruling segment), seeded too.
3. Write (``write_image_pdf``): one grayscale JPEG (or 1-bit CCITT G4 for binary pages) per page inside
   a PDF, page size from the pixel size and the dpi; no text layer. ``pages`` keeps only some pages.

Presets: clean (200 dpi, none), moderate (200 dpi: skew +-0.4 deg, blur 0.6, noise 6, background
cleanup at gray 240, JPEG 60), fax (150 dpi: skew +-0.8 deg, blur 0.5, binarised, speckle; 1-bit G4 pages),
dpi300 (300 dpi, none).

    .venv/bin/python datasets/scansim.py SRC... --preset moderate --seed 0 -o OUTDIR
    .venv/bin/python datasets/scansim.py SRC --preset fax --lose-ruling table=1,boundary=6,rows=5 --pages 2-3
    .venv/bin/python datasets/scansim.py --fixtures      # rebuild datasets/scans/ and its MANIFEST.json

Needs the ``scan`` extra (weasyprint) and the Noto CJK fonts (Debian: fonts-noto-cjk) for non-PDF input.
"""
from __future__ import annotations

import argparse
import hashlib
import html
import io
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from service.document import Document, Origin, Provenance, TableCell, TableGrid  # noqa: E402
from service.ingest import load_document  # noqa: E402
from service.ocr.render import render_pages  # noqa: E402
from service.pages.compose import join_pages  # noqa: E402
from service.pages.layout import find_grids  # noqa: E402  (the project's own grid finder: the pixels it sees)
from service.text import join_wide  # noqa: E402

DEV = ROOT / "datasets" / "dev-reports"
SCANS = ROOT / "datasets" / "scans"
MANIFEST = SCANS / "MANIFEST.json"
FIXTURE_IDS = ("seed", "r001", "r003", "r005", "r010", "r013")
CJK_FONT = "Noto Sans CJK SC"
PDF_DATE = time.struct_time((2020, 1, 1, 0, 0, 0, 2, 1, 0))  # fixed PDF dates: byte-identical reruns


# --- presets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A scan: resolution and degradations, applied in this order (each 0/None = off)."""

    name: str
    dpi: int = 200
    rotate: int = 0  # quarter turns, counter-clockwise degrees: 0, 90, 180, 270
    skew: float = 0.0  # max |degrees|; each page gets a uniform draw in [-skew, skew]
    blur: float = 0.0  # gaussian sigma in pixels
    noise: float = 0.0  # gaussian sigma in gray levels
    white: int | None = None  # scanner background cleanup: levels stretched so that this gray is paper white
    jpeg: int | None = None  # JPEG quality of the image itself (a lossy scanner)
    threshold: int | None = None  # binarise: pixels darker than this become black, the rest white
    speckle: float = 0.0  # fax speckle strength (1.0 = the fax preset)
    pdf_quality: int | None = 70  # JPEG quality inside the PDF; None: 1-bit G4 for binary pages (else q95)


PRESETS: dict[str, Preset] = {
    "clean": Preset("clean", dpi=200, pdf_quality=70),
    "moderate": Preset("moderate", dpi=200, skew=0.4, blur=0.6, noise=6.0, white=240, jpeg=60, pdf_quality=60),
    "fax": Preset("fax", dpi=150, skew=0.8, blur=0.5, threshold=180, speckle=1.0, pdf_quality=None),
    "dpi300": Preset("dpi300", dpi=300, pdf_quality=70),
}


# --- rendering -------------------------------------------------------------------------------------


@dataclass
class Rendered:
    """A source printed to pages: the page images and the table grids that were printed."""

    source: Path
    images: list[Image.Image]  # grayscale ("L"), one per page
    grids: list[TableGrid]
    dpi: int


def source_for(report_id: str) -> Path:
    """The document a dev report is printed from: page.html for crawled texts, else source.*."""
    folder = DEV / report_id
    page = folder / "page.html"
    if page.exists():
        return page
    return next(p for p in sorted(folder.glob("source.*")))


def print_source(path: str | Path) -> tuple[bytes, list[TableGrid]]:
    """The document as a printed PDF (a PDF stays itself) and the table grids that it prints."""
    path = Path(path)
    doc = load_document(path)
    if doc.kind == "pdf":
        return path.read_bytes(), [b.table for b in doc.tables() if b.table is not None]
    grids = [printed_grid(b.table) for b in doc.tables() if b.table is not None]
    return html_to_pdf(document_html(doc, grids)), grids


def render_source(path: str | Path, dpi: int = 200) -> Rendered:
    """Print a document to grayscale page images; PDFs as they are, anything else via ``document_html``."""
    pdf, grids = print_source(path)
    return Rendered(Path(path), rasterise(pdf, dpi), grids, dpi)


def render_document(path: str | Path, dpi: int = 200) -> list[Image.Image]:
    """The page images of a document printed at ``dpi`` (see ``render_source``)."""
    return render_source(path, dpi).images


def rasterise(pdf: bytes, dpi: int) -> list[Image.Image]:
    pages = render_pages(pdf, dpi=dpi)
    return [Image.fromarray(pages[n], mode="L") for n in sorted(pages)]


def html_to_pdf(markup: str) -> bytes:
    import weasyprint  # optional: the ``scan`` extra

    # Whole fonts, no compression: subsetting or deflating the CJK fonts takes WeasyPrint 10-20 s per
    # document; this PDF lives only in memory, to be rasterised.
    return weasyprint.HTML(string=markup, base_url=str(ROOT)).write_pdf(full_fonts=True, uncompressed_pdf=True)


def cjk_font_installed() -> bool:
    """Whether fontconfig knows the CJK font the renderer prints with."""
    import subprocess

    try:
        out = subprocess.run(["fc-list", f"{CJK_FONT}:lang=zh", "family"], capture_output=True, text=True,
                             timeout=20, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return CJK_FONT in out


def printed_grid(grid: TableGrid, trim: bool = True) -> TableGrid:
    """The grid as it is printed: a rectangle without holes, the cells of the source in place.

    Trailing rows and columns that are blank throughout are dropped (``trim``); spans are clipped to the
    grid; a slot left empty with a cell to its right is printed as a blank cell; the last cell of a row
    that stops short of the right edge (a crawled or tab-separated text) spans to the edge, as merged
    cells do in Word (a blank cell there would read as a printed blank value); grid lines no cell edge
    falls on are dropped.
    """
    n_rows, n_cols = _used_extent(grid) if trim else (grid.n_rows, grid.n_cols)
    cells = [c.model_copy(update={"rowspan": max(1, min(c.rowspan, n_rows - c.row)),
                                  "colspan": max(1, min(c.colspan, n_cols - c.col))})
             for c in grid.cells if c.row < n_rows and c.col < n_cols]
    slots = TableGrid(n_rows=n_rows, n_cols=n_cols, cells=cells).expanded()
    for r, row in enumerate(slots):
        last = max((c for c, slot in enumerate(row) if slot is not None), default=-1)
        for c in range(last):
            if row[c] is None:
                cells.append(_blank(r, c))
        cell = row[last] if last >= 0 else None
        if cell is None:
            cells.append(_blank(r, 0, colspan=n_cols))
        elif last < n_cols - 1 and cell.row == r and cell.rowspan == 1:
            cells[cells.index(cell)] = cell.model_copy(update={"colspan": n_cols - cell.col})
        else:
            cells.extend(_blank(r, c) for c in range(last + 1, n_cols) if row[c] is None)
    return _collapse(TableGrid(n_rows=n_rows, n_cols=n_cols, cells=cells, method=grid.method))


def _blank(row: int, col: int, colspan: int = 1) -> TableCell:
    return TableCell(row=row, col=col, colspan=colspan, text="", raw="", provenance=Provenance(origin=Origin.TEXT))


def _used_extent(grid: TableGrid) -> tuple[int, int]:
    """Rows and columns up to the last one a non-blank cell covers."""
    filled = [c for c in grid.cells if c.text.strip()]
    if not filled:
        return grid.n_rows, grid.n_cols
    return (min(grid.n_rows, max(c.row + c.rowspan for c in filled)),
            min(grid.n_cols, max(c.col + c.colspan for c in filled)))


def _collapse(grid: TableGrid) -> TableGrid:
    """Drop grid lines no cell edge falls on (a column every row spans across is not printed)."""
    row_lines = sorted({0, grid.n_rows} | {c.row for c in grid.cells} | {c.row + c.rowspan for c in grid.cells})
    col_lines = sorted({0, grid.n_cols} | {c.col for c in grid.cells} | {c.col + c.colspan for c in grid.cells})
    r_at = {line: i for i, line in enumerate(row_lines)}
    c_at = {line: i for i, line in enumerate(col_lines)}
    cells = [c.model_copy(update={"row": r_at[c.row], "col": c_at[c.col],
                                  "rowspan": r_at[c.row + c.rowspan] - r_at[c.row],
                                  "colspan": c_at[c.col + c.colspan] - c_at[c.col]}) for c in grid.cells]
    cells.sort(key=lambda c: (c.row, c.col))
    return TableGrid(n_rows=len(row_lines) - 1, n_cols=len(col_lines) - 1, cells=cells, method=grid.method)


CSS = f"""
@page {{ size: A4; margin: 2.5cm; }}
body {{ font-family: "Noto Serif CJK SC", "{CJK_FONT}", serif; font-size: 12pt; line-height: 1.6; color: #000; }}
h1 {{ font-family: "{CJK_FONT}"; font-size: 16pt; font-weight: bold; text-align: center; margin: 0 0 1em; }}
h2 {{ font-family: "{CJK_FONT}"; font-size: 12pt; font-weight: bold; margin: 0.8em 0 0.3em; break-after: avoid; }}
p {{ text-indent: 2em; margin: 0 0 0.3em; text-align: justify; }}
table {{ border-collapse: collapse; width: 100%; margin: 0.6em 0; font-family: "{CJK_FONT}"; font-size: 10.5pt;
        line-height: 1.3; }}
td {{ border: 1px solid #000; padding: 3pt 3pt; text-align: center; vertical-align: middle; }}
tr {{ break-inside: avoid; }}
"""


MIN_COL = "1.8em"  # narrowest printed column (2-3 digits at the table's font size)


def printed_text(raw: str, text: str) -> str:
    """What a block or cell prints: the source text (full-width punctuation kept), lines joined."""
    lines = [" ".join(line.split()) for line in (raw or text).splitlines()]
    out = ""
    for line in lines:
        out = join_wide(out, line)
    return out


def document_html(doc: Document, grids: list[TableGrid] | None = None) -> str:
    """A clean report page: title, headings, paragraphs, tables (``grids`` replace the tables in order)."""
    grids = list(grids) if grids is not None else [printed_grid(b.table) for b in doc.tables() if b.table]
    parts: list[str] = []
    title = doc.metadata.get("title", "")
    opening = "".join(b.text for b in doc.blocks[:3]).replace(" ", "")
    if title and title.replace(" ", "") not in opening:
        parts.append(f"<h1>{html.escape(title)}</h1>")
    for block in doc.blocks:
        if block.kind == "table" and block.table is not None:
            parts.append(table_html(grids.pop(0)))
        elif block.kind == "heading":
            parts.append(f"<h2>{html.escape(printed_text(block.raw, block.text))}</h2>")
        elif block.text:
            parts.append(f"<p>{html.escape(printed_text(block.raw, block.text))}</p>")
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><style>{CSS}</style></head>\n'
            f"<body>\n{body}\n</body></html>\n")


def table_html(grid: TableGrid) -> str:
    """One HTML table, every cell at its grid position with its spans; no <thead> (nothing repeats)."""
    rows = []
    for row in grid.rows():
        tds = []
        for cell in row:
            span = (f' rowspan="{cell.rowspan}"' if cell.rowspan > 1 else "") + (
                f' colspan="{cell.colspan}"' if cell.colspan > 1 else "")
            tds.append(f"<td{span}>{html.escape(printed_text(cell.raw, cell.text))}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    # every grid column at least MIN_COL wide: a column that only spanning cells cross would otherwise
    # shrink to nothing and two printed lines would fall together
    cols = "<colgroup>" + f'<col style="width: {MIN_COL}">' * grid.n_cols + "</colgroup>"
    return f"<table>{cols}<tbody>\n" + "\n".join(rows) + "\n</tbody></table>"


def grid_lattice(grid: TableGrid) -> dict[str, object]:
    """The structure oracle of one table: size and the (row, col, rowspan, colspan) of every cell."""
    cells = sorted((c.row, c.col, c.rowspan, c.colspan) for c in grid.cells)
    return {"n_rows": grid.n_rows, "n_cols": grid.n_cols, "cells": [list(c) for c in cells]}


# --- degradations ----------------------------------------------------------------------------------


def page_rng(seed: int, page: int) -> np.random.Generator:
    """The generator of one page: depends on the seed and the page number only."""
    return np.random.default_rng([seed, page])


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate counter-clockwise: quarter turns exactly, the rest by interpolation (white fill, same size)."""
    quarters, rest = divmod(degrees, 90.0)
    if rest > 45.0:
        quarters, rest = quarters + 1, rest - 90.0
    out = np.rot90(img, int(quarters) % 4)
    if abs(rest) < 1e-6:
        return np.ascontiguousarray(out)
    h, w = out.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), rest, 1.0)
    return cv2.warpAffine(out, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma)


def gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = img.astype(np.float32) + rng.normal(0.0, sigma, img.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def levels(img: np.ndarray, white: int) -> np.ndarray:
    """A scanner's tone curve: gray ``white`` and lighter become 255, darker grays stretched linearly."""
    lut = np.clip(np.rint(np.arange(256) * (255.0 / white)), 0, 255).astype(np.uint8)
    return lut[img]


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG (the losses of a scanner that saves JPEG)."""
    buffer = io.BytesIO()
    Image.fromarray(img, mode="L").save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L")).copy()


def binarise(img: np.ndarray, threshold: int) -> np.ndarray:
    return np.where(img < threshold, 0, 255).astype(np.uint8)


def fax_speckle(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Fax-like defects on a binary page: black specks (pepper), white pinholes in black (salt),
    and scan-line dropouts (white runs across a line); the result stays binary."""
    out = img.copy()
    h, w = out.shape
    pepper = rng.random(out.shape) < 2e-4 * strength
    out[pepper] = 0
    salt = (rng.random(out.shape) < 0.02 * strength) & (img == 0)
    out[salt] = 255
    n_lines = rng.poisson(4 * strength)
    for y in rng.integers(0, h, size=n_lines):
        x0 = int(rng.integers(0, w))
        out[y, x0:x0 + int(rng.integers(w // 20, w // 3))] = 255
    return out


def degrade(image: Image.Image, preset: Preset, rng: np.random.Generator) -> Image.Image:
    """Apply the preset's degradations to one grayscale page (same rng state -> same bytes)."""
    img = np.asarray(image.convert("L"))
    angle = float(preset.rotate) + (float(rng.uniform(-preset.skew, preset.skew)) if preset.skew else 0.0)
    if angle:
        img = rotate(img, angle)
    if preset.blur:
        img = gaussian_blur(img, preset.blur)
    if preset.noise:
        img = gaussian_noise(img, preset.noise, rng)
    if preset.white:
        img = levels(img, preset.white)
    if preset.jpeg:
        img = jpeg(img, preset.jpeg)
    if preset.threshold:
        img = binarise(img, preset.threshold)
    if preset.speckle:
        img = fax_speckle(img, rng, preset.speckle)
    return Image.fromarray(np.ascontiguousarray(img), mode="L")


# --- a lost ruling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LostRuling:
    """A column border of one printed table lost over a block of rows: the vertical ruling between two
    columns faded or broken (a fax, a photocopy), the horizontal rulings crossing it left as they are.
    What is not given is drawn, seeded (``lose_rulings``)."""

    table: int | None = None  # the table, 0-based in document order (a table over several pages counts once)
    boundary: int | None = None  # its column boundary (1..n_cols-1 of the ruled grid; 0 and n_cols: the edges)
    rows: int = 4  # consecutive rows of the table over which the border is lost
    first: int | None = None  # the first of them (0-based row of the ruled grid)
    fade: int = 255  # gray the lost segment is left in: 255 gone; ~200 faint to the eye, paper to a scanner
    keep: float = 0.0  # share of the lost segment left as short broken pieces (too short to be a ruling)

    @classmethod
    def parse(cls, spec: str) -> LostRuling:
        """``table=1,boundary=6,rows=5,first=8,fade=255,keep=0.1`` (every key optional)."""
        kinds = {"table": int, "boundary": int, "rows": int, "first": int, "fade": int, "keep": float}
        values: dict[str, object] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, value = item.partition("=")
            if not sep or key.strip() not in kinds:
                raise ValueError(f"lost ruling {spec!r}: expected key=value with keys {', '.join(kinds)}")
            values[key.strip()] = kinds[key.strip()](value)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class LostSegment:
    """A ruling as it was lost: table, column boundary, rows (of the ruled grid) and the pages erased on."""

    table: int
    boundary: int
    rows: tuple[int, ...]
    pages: tuple[int, ...]
    x: float  # pixels, the ruling's position (on the first page)


def lose_rulings(images: Sequence[Image.Image], losses: Sequence[LostRuling], seed: int,
                 dpi: float) -> tuple[list[Image.Image], list[LostSegment]]:
    """The clean pages with each loss applied: the tables are found by their ruling lines (tables ending one
    page and starting the next with the same columns are one table), then the border segment between each
    row's two cells is faded. Seeded by (seed, index of the loss)."""
    if not losses:
        return list(images), []
    pages = {n: np.asarray(im.convert("L")).copy() for n, im in enumerate(images, start=1)}
    tables = join_pages({n: find_grids(img, dpi) for n, img in pages.items()}, dpi)
    out: list[LostSegment] = []
    for k, loss in enumerate(losses):
        rng = np.random.default_rng([seed, 7919, k])
        out.append(_lose(pages, tables, loss, rng, dpi))
    return [Image.fromarray(pages[n], mode="L") for n in sorted(pages)], out


def _bordered_rows(table: object, boundary: int) -> list[int]:
    """Rows of a joined table where ``boundary`` parts two cells (a ruling segment is printed there)."""
    owner: dict[tuple[int, int], int] = {}
    for i, cell in enumerate(table.cells):  # type: ignore[attr-defined]
        for r in range(cell.row, cell.row + cell.rowspan):
            for c in range(cell.col, cell.col + cell.colspan):
                owner[(r, c)] = i
    return [r for r in range(table.n_rows)  # type: ignore[attr-defined]
            if (r, boundary - 1) in owner and (r, boundary) in owner
            and owner[(r, boundary - 1)] != owner[(r, boundary)]]


def _blocks(rows: list[int], length: int) -> list[int]:
    """First rows of every run of ``length`` consecutive rows in ``rows``."""
    have = set(rows)
    return [r for r in rows if all(r + i in have for i in range(length))]


def _lose(pages: dict[int, np.ndarray], tables: list, loss: LostRuling, rng: np.random.Generator,
          dpi: float) -> LostSegment:
    if loss.rows < 1:
        raise ValueError("a lost ruling covers at least one row")
    choices = [(t, b, first) for t, table in enumerate(tables) if loss.table in (None, t)
               for b in range(1, table.n_cols) if loss.boundary in (None, b)
               for first in _blocks(_bordered_rows(table, b), loss.rows) if loss.first in (None, first)]
    if not choices:
        raise ValueError(f"no ruling to lose for {loss} (tables found: {len(tables)})")
    t, b, first = choices[int(rng.integers(len(choices)))]
    table = tables[t]
    rows = tuple(range(first, first + loss.rows))
    half = max(2, int(round(0.015 * dpi)))  # the line's width and its blur
    piece = max(2, int(round(0.04 * dpi)))  # longest piece left of a broken line
    touched: list[int] = []
    xs: list[float] = []
    for r in rows:
        cell = next(c for c in table.cells if c.row <= r < c.row + c.rowspan and c.col == b)
        for part in cell.parts:
            x = part.cell.bbox[0]
            span = _row_span(table, part.page, r)
            if span is None:
                continue
            y0, y1 = int(round(span[0])) + half + 1, int(round(span[1])) - half  # the crossings stay
            if y1 <= y0:
                continue
            img = pages[part.page]
            x0, x1 = max(int(round(x)) - half, 0), min(int(round(x)) + half + 1, img.shape[1])
            keep = np.zeros(y1 - y0, bool)
            at = 0
            while at < y1 - y0:
                length = int(rng.integers(2, piece + 1))
                keep[at:at + length] = rng.random() < loss.keep
                at += length + int(rng.integers(2, piece + 1)) if keep[at] else length
            strip = img[y0:y1, x0:x1]
            strip[~keep] = np.maximum(strip[~keep], loss.fade)
            touched.append(part.page)
            xs.append(x)
    if not touched:
        raise ValueError(f"rows {rows} of table {t} lie on no page")
    return LostSegment(t, b, rows, tuple(sorted(set(touched))), xs[0])


def _row_span(table: object, page: int, row: int) -> tuple[float, float] | None:
    """Top and bottom (pixels) of one row of a joined table on one page: a one-row cell's box there."""
    for cell in table.cells:  # type: ignore[attr-defined]
        if cell.row == row and cell.rowspan == 1:
            for part in cell.parts:
                if part.page == page:
                    return part.cell.bbox[1], part.cell.bbox[3]
    return None


# --- writing ---------------------------------------------------------------------------------------


def is_binary(image: Image.Image) -> bool:
    return set(np.unique(np.asarray(image))) <= {0, 255}


def write_image_pdf(images: list[Image.Image], path: str | Path, dpi: int, jpeg_quality: int | None = 70) -> Path:
    """An image-only PDF: one page per image, page size = pixels / dpi inches, no text layer.

    Pages are grayscale JPEGs of the given quality; with ``jpeg_quality=None`` binary pages are stored
    as 1-bit (CCITT G4, lossless) and others as JPEG q95. Dates are fixed: same images, same bytes.
    """
    if not images:
        raise ValueError("no pages to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if jpeg_quality is None:
        if all(is_binary(im) for im in images):
            pages = [im.convert("1", dither=Image.Dither.NONE) for im in images]
            options: dict[str, object] = {}
        else:
            pages, options = [im.convert("L") for im in images], {"quality": 95, "optimize": True}
    else:
        pages = [im.convert("L") for im in images]
        options = {"quality": jpeg_quality, "optimize": True}
    pages[0].save(path, format="PDF", save_all=True, append_images=pages[1:], resolution=float(dpi),
                  title=path.stem, producer="xxgk scansim", creator="xxgk scansim",
                  creationDate=PDF_DATE, modDate=PDF_DATE, **options)
    return path


# --- scans and fixtures ----------------------------------------------------------------------------


@dataclass
class Scan:
    path: Path
    source: Path
    preset: Preset
    seed: int
    pages: int  # pages written
    grids: list[TableGrid]  # the tables of the whole document (also where ``pages`` keeps only some pages)
    lost: list[LostSegment] = field(default_factory=list)  # the rulings lost (``lose_rulings``)
    page_numbers: list[int] = field(default_factory=list)  # the document pages written, 1-based


def scan(source: str | Path, out: str | Path, preset: Preset, seed: int = 0, lost: Sequence[LostRuling] = (),
         pages: Sequence[int] | None = None) -> Scan:
    """Print ``source``, lose the ``lost`` rulings, degrade every page with ``preset`` (seeded per page) and
    write the image-only PDF of all pages, or of ``pages`` (1-based document page numbers) only."""
    rendered = render_source(source, preset.dpi)
    images, segments = lose_rulings(rendered.images, lost, seed, preset.dpi)
    numbers = sorted(set(pages)) if pages else list(range(1, len(images) + 1))
    if not numbers or numbers[0] < 1 or numbers[-1] > len(images):
        raise ValueError(f"pages {numbers} out of 1..{len(images)}")
    degraded = [degrade(images[n - 1], preset, page_rng(seed, n)) for n in numbers]
    path = write_image_pdf(degraded, out, preset.dpi, preset.pdf_quality)
    return Scan(path, Path(source), preset, seed, len(degraded), rendered.grids, segments, numbers)


def scan_name(report_id: str, preset: Preset) -> str:
    return f"{report_id}-{preset.name}-{preset.dpi}dpi.pdf"


def fixture_plan() -> list[tuple[str, Preset]]:
    """The committed fixtures: every dev report at moderate, and the seed clean at 300 dpi."""
    clean300 = replace(PRESETS["dpi300"], name="clean")
    return [(rid, PRESETS["moderate"]) for rid in FIXTURE_IDS] + [("seed", clean300)]


def relative(path: Path) -> str:
    """A path relative to the repository root (absolute when outside it)."""
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def manifest_entry(report_id: str, result: Scan) -> dict[str, object]:
    data = result.path.read_bytes()
    return {
        "file": relative(result.path),
        "id": report_id,
        "source": relative(result.source),
        "truth": relative(DEV / report_id / "cells.json"),
        "preset": result.preset.name,
        "degradation": {f.name: getattr(result.preset, f.name) for f in fields(Preset) if f.name != "name"},
        "seed": result.seed,
        "dpi": result.preset.dpi,
        "pages": result.pages,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "tables": [grid_lattice(g) for g in result.grids],
    }


def versions() -> dict[str, str]:
    out = {}
    for package in ("weasyprint", "pypdfium2", "pillow", "numpy", "opencv-python-headless"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "absent"
    return out


def build_fixtures(out_dir: Path = SCANS, seed: int = 0) -> list[dict[str, object]]:
    """(Re)build the committed scans and MANIFEST.json; returns the manifest entries."""
    entries = []
    for report_id, preset in fixture_plan():
        result = scan(source_for(report_id), out_dir / scan_name(report_id, preset), preset, seed)
        entries.append(manifest_entry(report_id, result))
        print(f"{relative(result.path)}: {result.pages} pages, {entries[-1]['bytes'] / 1024:.0f} KB")
    manifest = {
        "about": "Simulated scans of the dev reports, made by datasets/scansim.py --fixtures. 'tables' is the "
                 "structure oracle: the table grids that were printed, per table n_rows, n_cols and "
                 "[row, col, rowspan, colspan] of every cell (tables split across pages counted once).",
        "built_with": versions(),
        "fixtures": entries,
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=1)
    text = re.sub(r"\[\s+(\d+),\s+(\d+),\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2, \3, \4]", text)  # a cell per line
    (out_dir / "MANIFEST.json").write_text(text + "\n", encoding="utf-8")
    return entries


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Render reports to image-only PDFs with seeded scan degradations.")
    ap.add_argument("sources", nargs="*", type=Path, help="documents to scan (PDF, HTML, text, Markdown, DOCX)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="moderate",
                    help="; ".join(f"{name}: {_describe(p)}" for name, p in PRESETS.items()))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", type=Path, default=Path("."), help="output folder")
    ap.add_argument("--fixtures", action="store_true", help=f"rebuild {relative(SCANS)}/ and its MANIFEST.json")
    ap.add_argument("--lose-ruling", action="append", default=[], metavar="SPEC", type=LostRuling.parse,
                    help="lose a column border over a block of rows: table=T,boundary=B,rows=N,first=R,fade=G,keep=F "
                         "(every key optional; what is not given is drawn with the seed); may be repeated")
    ap.add_argument("--pages", type=_page_list, default=None, metavar="LIST",
                    help="write only these pages (1-based), e.g. 2-3 or 1,4")
    for f in fields(Preset):
        if f.name != "name":
            ap.add_argument(f"--{f.name.replace('_', '-')}", type=float, default=None,
                            help=f"override the preset's {f.name}")
    args = ap.parse_args(argv)
    if args.fixtures:
        build_fixtures(seed=args.seed)
        return
    if not args.sources:
        ap.error("give SRC documents or --fixtures")
    overrides = {f.name: _as_field(f.type, getattr(args, f.name)) for f in fields(Preset)
                 if f.name != "name" and getattr(args, f.name) is not None}
    if overrides.get("pdf_quality") == 0:
        overrides["pdf_quality"] = None  # --pdf-quality 0: lossless pages
    preset = replace(PRESETS[args.preset], **overrides)
    for src in args.sources:
        # dev-reports/r003/source.html -> r003-html-...; report.docx -> report-docx-...
        label = (src.parent.name if src.stem in ("source", "page") else src.stem) + "-" + src.suffix.lstrip(".")
        result = scan(src, args.out / scan_name(label, preset), preset, args.seed, args.lose_ruling, args.pages)
        print(f"{result.path}: {result.pages} pages, {result.path.stat().st_size / 1024:.0f} KB, "
              f"{len(result.grids)} tables")
        for seg in result.lost:
            print(f"  lost ruling: table {seg.table}, boundary {seg.boundary} (x {seg.x:.0f} px), rows "
                  f"{seg.rows[0]}-{seg.rows[-1]}, pages {', '.join(map(str, seg.pages))}")


def _describe(preset: Preset) -> str:
    defaults = Preset("")
    return ", ".join(f"{f.name} {getattr(preset, f.name)}" for f in fields(Preset)
                     if f.name != "name" and (f.name == "dpi" or getattr(preset, f.name) != getattr(defaults, f.name)))


def _page_list(spec: str) -> list[int]:
    """``2-3`` or ``1,4`` or ``1,3-5``: page numbers."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def _as_field(kind: object, value: float) -> float | int:
    return value if "float" in str(kind) else int(value)


if __name__ == "__main__":
    main()
