"""Scan simulator: any report -> image-only PDF, with controlled, seeded degradations.

1. Render (``render_source`` / ``render_document``): a PDF is rasterised as it is (pypdfium2, original
   look); every other input (HTML, text, Markdown, DOCX) is read with the project's own backends
   (``service.ingest.load_document``) and printed to a clean report page by ``document_html`` (A4,
   2.5 cm margins, Noto CJK SC, every table with its rowspan/colspan and a 1 px black border on every
   cell, header rows not repeated) -> WeasyPrint -> PDF -> pypdfium2 raster. The table grids that were
   printed (``printed_grid``: rectangles, see there) are kept as the structure oracle.
2. Degrade (``degrade``) with a numpy Generator seeded per (seed, page): paper tint, rotation (skew, 90/180),
   copier background, curl, a photo (desk, perspective, light falloff, shadow band), toner streaks, gaussian
   blur, gaussian noise, background cleanup (levels), JPEG, binarisation, fax-like speckle (salt-and-pepper +
   scan-line dropouts). Red seals are stamped on the clean pages before (``stamp_seals``).
   Before these, optionally (``lose_rulings``, ``LostRuling``): a column border of one table faded or
   broken over a block of rows (a fax or photocopy losing one vertical ruling segment), seeded too; and
   (``fade_cells``, ``FadedCell``) the print inside one table cell too faint to scan (a number lost to the scanner).
3. Write (``write_image_pdf``): one JPEG (grayscale; colour for RGB pages) or 1-bit CCITT G4 (binary pages) per
   page inside a PDF, page size from the pixel size and the dpi; no text layer. ``pages`` keeps only some pages.

Presets: clean (200 dpi, none), moderate (200 dpi: skew +-0.4 deg, blur 0.6, noise 6, background
cleanup at gray 240, JPEG 60), fax (150 dpi: skew +-0.8 deg, blur 0.5, binarised, speckle; 1-bit G4 pages),
dpi300 (300 dpi, none).

The real-world families (issue 15; every step seeded per (seed, page), every one a Preset field off by default,
so they compose: ``--preset photocopy+seal`` lays the seal's settings over the photocopy's):
- phone: a colour photo of the page: warm paper tint, the page a quadrilateral inside a frame 6 % larger on
  every side with a dark, uneven desk around it (``photograph``: each corner moved by up to 4 % of the page
  size, the corners kept in ``Scan.geometry``), light falling off across the page to 65 % of the brightest and
  a soft shadow band (``lighting``), blur 0.8, noise 4, colour JPEG of a quality drawn in 60-75; 200 dpi.
- photocopy: grayscale; the sheet turned by 0.7-1.2 degrees (either way), the copier's gray paper (~225) with
  a mottled haze and grain (``copier_background``), 1-4 toner streaks, vertical or horizontal
  (``toner_streaks``), blur 0.7, noise 6, JPEG 70.
- seal: the page in colour with red official seals (``stamp_seals``: round, 38/40/42/45 mm, a ring, the
  agency's name round the top, a star, a line under it; semi-transparent, unevenly inked red multiplied into
  the page so black print under it stays black): one over a number cell of table 3 per report, one more on
  every page over printed ink (text or a table). Each seal's page, centre, size and the table cells it
  covers are kept in ``Scan.seals`` (the oracle of what a seal hides). Skew 0.4, blur 0.6, noise 4, JPEG 70.
- curl: a gently curved sheet (``curl_page``): every point moved down by a smooth function of x (a bow over
  the width plus a bend near one side), so a printed line bows by up to 1 % of the page height; grayscale,
  with the moderate degradations.
- unruled: the tables printed as 三线表 (``Preset.ruling = "three-line"``, a printing option of
  ``document_html``/``table_html``): a top rule, a rule under the header rows, a bottom rule, no vertical
  rules; the moderate degradations. A PDF source is reprinted from its document model for this.
- lowres: 120 dpi with the moderate degradations.
Pages written from an RGB image are colour JPEGs in the PDF; ``write_image_files`` (``--image-files``) also
writes each page as a .jpg, as a phone uploads it. ``printed_grid`` stays the structure oracle for every family
(the grids printed do not depend on the ruling or on what happens to the paper afterwards).

    .venv/bin/python datasets/scansim.py SRC... --preset moderate --seed 0 -o OUTDIR
    .venv/bin/python datasets/scansim.py SRC --preset fax --lose-ruling table=1,boundary=6,rows=5 --pages 2-3
    .venv/bin/python datasets/scansim.py SRC --preset phone --image-files -o OUTDIR   # PDF and a .jpg per page
    .venv/bin/python datasets/scansim.py SRC --preset photocopy+seal -o OUTDIR
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
from functools import cache
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
    # --- the real-world families (issue 15); every one off by default, so the presets above are unchanged ---
    colour: bool = False  # colour pages (RGB, written as colour JPEG); else the page ends grayscale
    ruling: str = "full"  # how tables are printed: "full" (every cell bordered) | "three-line" (三线表, no inner rules)
    skew_min: float = 0.0  # smallest |degrees| of the skew draw (then |angle| in [skew_min, skew], either sign)
    seals: int = 0  # red seals stamped per page (plus one over table 3's number cells per report: ``stamp_seals``)
    tint: float = 0.0  # warm paper tint (0..1): white paper becomes cream
    copier: float = 0.0  # photocopier: gray levels the paper loses (30: paper at ~225), with a mottled toner noise
    streaks: int = 0  # toner streaks per page, at most (vertical or horizontal, each 1-4 px wide)
    curl: float = 0.0  # page curl: largest bow of a printed line, a share of the page height (0.01 = 1 %)
    margin: float = 0.0  # a photo: desk around the page, a share of the page size on every side
    perspective: float = 0.0  # a photo: each page corner moved by up to this share of the page size
    falloff: float = 0.0  # a photo: light falls across the page to (1 - falloff) of the brightest
    shadow: float = 0.0  # a photo: a soft shadow band taking this share of the light
    jpeg_max: int | None = None  # JPEG quality drawn per page in [jpeg, jpeg_max] (a phone's encoder)


PRESETS: dict[str, Preset] = {
    "clean": Preset("clean", dpi=200, pdf_quality=70),
    "moderate": Preset("moderate", dpi=200, skew=0.4, blur=0.6, noise=6.0, white=240, jpeg=60, pdf_quality=60),
    "fax": Preset("fax", dpi=150, skew=0.8, blur=0.5, threshold=180, speckle=1.0, pdf_quality=None),
    "dpi300": Preset("dpi300", dpi=300, pdf_quality=70),
    # the real-world families (issue 15): what people upload
    "phone": Preset(
        "phone",
        dpi=200,
        colour=True,
        tint=1.0,
        margin=0.06,
        perspective=0.04,
        falloff=0.35,
        shadow=0.3,
        blur=0.8,
        noise=4.0,
        jpeg=60,
        jpeg_max=75,
        pdf_quality=95,
    ),
    "photocopy": Preset(
        "photocopy",
        dpi=200,
        skew=1.2,
        skew_min=0.7,
        copier=30.0,
        streaks=4,
        blur=0.7,
        noise=6.0,
        jpeg=70,
        pdf_quality=60,
    ),
    "seal": Preset("seal", dpi=200, colour=True, seals=1, skew=0.4, blur=0.6, noise=4.0, jpeg=70, pdf_quality=75),
    "curl": Preset("curl", dpi=200, curl=0.01, skew=0.4, blur=0.6, noise=6.0, white=240, jpeg=60, pdf_quality=60),
    "unruled": Preset(
        "unruled", dpi=200, ruling="three-line", skew=0.4, blur=0.6, noise=6.0, white=240, jpeg=60, pdf_quality=60
    ),
    "lowres": Preset("lowres", dpi=120, skew=0.4, blur=0.6, noise=6.0, white=240, jpeg=60, pdf_quality=60),
}
FAMILIES = ("phone", "photocopy", "seal", "curl", "unruled", "lowres")  # the issue-15 presets
RULINGS = ("full", "three-line")


def preset_named(name: str) -> Preset:
    """A preset by name; ``a+b`` composes presets: each later one lays its non-default settings over the first
    (``photocopy+seal``: a copy stamped with red seals; ``phone+lowres``: a photo at 120 dpi; a dpi other than 200 is a
    setting too)."""
    parts = name.split("+")
    unknown = [p for p in parts if p not in PRESETS]
    if unknown:
        raise ValueError(f"unknown preset {', '.join(unknown)} (known: {', '.join(PRESETS)})")
    out = PRESETS[parts[0]]
    defaults = Preset("")
    for part in parts[1:]:
        other = PRESETS[part]
        changes = {
            f.name: getattr(other, f.name)
            for f in fields(Preset)
            if f.name != "name" and getattr(other, f.name) != getattr(defaults, f.name)
        }
        out = replace(out, **changes)
    return replace(out, name=name)


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


def print_source(path: str | Path, ruling: str = "full") -> tuple[bytes, list[TableGrid]]:
    """The document as a printed PDF and the table grids that it prints. A PDF stays itself when its tables are
    printed ``full``; with another ``ruling`` it is reprinted from its document model like any other input."""
    path = Path(path)
    doc = load_document(path)
    if doc.kind == "pdf" and ruling == "full":
        return path.read_bytes(), [b.table for b in doc.tables() if b.table is not None]
    grids = [printed_grid(b.table) for b in doc.tables() if b.table is not None]
    return html_to_pdf(document_html(doc, grids, ruling)), grids


def render_source(path: str | Path, dpi: int = 200, ruling: str = "full") -> Rendered:
    """Print a document to grayscale page images; PDFs as they are, anything else via ``document_html``."""
    pdf, grids = print_source(path, ruling)
    return Rendered(Path(path), rasterise(pdf, dpi), grids, dpi)


def render_document(path: str | Path, dpi: int = 200, ruling: str = "full") -> list[Image.Image]:
    """The page images of a document printed at ``dpi`` (see ``render_source``)."""
    return render_source(path, dpi, ruling).images


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
        out = subprocess.run(
            ["fc-list", f"{CJK_FONT}:lang=zh", "family"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
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
    cells = [
        c.model_copy(
            update={
                "rowspan": max(1, min(c.rowspan, n_rows - c.row)),
                "colspan": max(1, min(c.colspan, n_cols - c.col)),
            }
        )
        for c in grid.cells
        if c.row < n_rows and c.col < n_cols
    ]
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
    return (
        min(grid.n_rows, max(c.row + c.rowspan for c in filled)),
        min(grid.n_cols, max(c.col + c.colspan for c in filled)),
    )


def _collapse(grid: TableGrid) -> TableGrid:
    """Drop grid lines no cell edge falls on (a column every row spans across is not printed)."""
    row_lines = sorted({0, grid.n_rows} | {c.row for c in grid.cells} | {c.row + c.rowspan for c in grid.cells})
    col_lines = sorted({0, grid.n_cols} | {c.col for c in grid.cells} | {c.col + c.colspan for c in grid.cells})
    r_at = {line: i for i, line in enumerate(row_lines)}
    c_at = {line: i for i, line in enumerate(col_lines)}
    cells = [
        c.model_copy(
            update={
                "row": r_at[c.row],
                "col": c_at[c.col],
                "rowspan": r_at[c.row + c.rowspan] - r_at[c.row],
                "colspan": c_at[c.col + c.colspan] - c_at[c.col],
            }
        )
        for c in grid.cells
    ]
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
table.three-line {{ border-top: 1.5pt solid #000; border-bottom: 1.5pt solid #000; }}
table.three-line td {{ border: none; }}
table.three-line td.rule-below {{ border-bottom: 0.75pt solid #000; }}
"""


MIN_COL = "1.8em"  # narrowest printed column (2-3 digits at the table's font size)


def printed_text(raw: str, text: str) -> str:
    """What a block or cell prints: the source text (full-width punctuation kept), lines joined."""
    lines = [" ".join(line.split()) for line in (raw or text).splitlines()]
    out = ""
    for line in lines:
        out = join_wide(out, line)
    return out


def document_html(doc: Document, grids: list[TableGrid] | None = None, ruling: str = "full") -> str:
    """A clean report page: title, headings, paragraphs, tables (``grids`` replace the tables in order), each
    printed with ``ruling`` (see ``table_html``)."""
    grids = list(grids) if grids is not None else [printed_grid(b.table) for b in doc.tables() if b.table]
    parts: list[str] = []
    title = doc.metadata.get("title", "")
    opening = "".join(b.text for b in doc.blocks[:3]).replace(" ", "")
    if title and title.replace(" ", "") not in opening:
        parts.append(f"<h1>{html.escape(title)}</h1>")
    for block in doc.blocks:
        if block.kind == "table" and block.table is not None:
            parts.append(table_html(grids.pop(0), ruling))
        elif block.kind == "heading":
            parts.append(f"<h2>{html.escape(printed_text(block.raw, block.text))}</h2>")
        elif block.text:
            parts.append(f"<p>{html.escape(printed_text(block.raw, block.text))}</p>")
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><style>{CSS}</style></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def table_html(grid: TableGrid, ruling: str = "full") -> str:
    """One HTML table, every cell at its grid position with its spans; no <thead> (nothing repeats).

    ``ruling``: "full", a 1 px border on every cell; "three-line" (三线表), no vertical rules and no rules between
    body rows: a top rule, a rule under the header rows (``header_rows``) and a bottom rule."""
    if ruling not in RULINGS:
        raise ValueError(f"ruling {ruling!r}: expected one of {', '.join(RULINGS)}")
    head = header_rows(grid) if ruling == "three-line" else 0
    rows = []
    for row in grid.rows():
        tds = []
        for cell in row:
            span = (f' rowspan="{cell.rowspan}"' if cell.rowspan > 1 else "") + (
                f' colspan="{cell.colspan}"' if cell.colspan > 1 else ""
            )
            rule = ' class="rule-below"' if head and cell.row + cell.rowspan == head else ""
            tds.append(f"<td{span}{rule}>{html.escape(printed_text(cell.raw, cell.text))}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    # every grid column at least MIN_COL wide: a column that only spanning cells cross would otherwise
    # shrink to nothing and two printed lines would fall together
    cols = "<colgroup>" + f'<col style="width: {MIN_COL}">' * grid.n_cols + "</colgroup>"
    kind = ' class="three-line"' if ruling == "three-line" else ""
    return f"<table{kind}>{cols}<tbody>\n" + "\n".join(rows) + "\n</tbody></table>"


NUMBER_TEXT = re.compile(r"^[+\-]?\d[\d,]*(?:\.\d+)?$")


def header_rows(grid: TableGrid) -> int:
    """Rows of the table's head: those above the first row where a cell right of the first column holds a
    number (at least 1; the whole table when no row does)."""
    for r, row in enumerate(grid.rows()):
        if any(c.col > 0 and NUMBER_TEXT.match(c.text.replace(" ", "")) for c in row):
            return max(1, r)
    return grid.n_rows


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
    h, w = out.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), rest, 1.0)
    return cv2.warpAffine(out, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=_white(out))


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
    mode = "RGB" if img.ndim == 3 else "L"
    buffer = io.BytesIO()
    Image.fromarray(img, mode=mode).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert(mode)).copy()


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
        out[y, x0 : x0 + int(rng.integers(w // 20, w // 3))] = 255
    return out


def degrade(
    image: Image.Image, preset: Preset, rng: np.random.Generator, record: dict[str, object] | None = None
) -> Image.Image:
    """Apply the preset's degradations to one page (same rng state -> same bytes). The page may be RGB (stamped
    with seals); it stays RGB when ``preset.colour``, else it ends grayscale. What was drawn that a test or a
    normaliser may want (the angle, the page corners of a photo, the curl) goes into ``record``.

    Order: paper tint, the sheet's rotation, the copier's background, the curl, the photo (desk, perspective,
    light falloff, shadow band), toner streaks, then the sensor and encoder (blur, noise, levels, JPEG,
    binarisation, speckle)."""
    colour_in = image.mode == "RGB" or preset.colour or preset.tint > 0
    img = np.asarray(image.convert("RGB" if colour_in else "L"))
    rec: dict[str, object] = record if record is not None else {}
    if preset.tint:
        img = paper_tint(img, preset.tint)
    if preset.skew and preset.skew_min:
        magnitude = float(rng.uniform(preset.skew_min, preset.skew))
        angle = float(preset.rotate) + (magnitude if rng.random() < 0.5 else -magnitude)
    else:
        angle = float(preset.rotate) + (float(rng.uniform(-preset.skew, preset.skew)) if preset.skew else 0.0)
    rec["angle"] = angle
    if angle:
        img = rotate(img, angle)
    if preset.copier:  # the copier's gray reaches the edges of the copy, past the sheet's rotated corners
        img = copier_background(img, preset.copier, rng)
    if preset.curl:
        img, rec["curl_px"] = curl_page(img, preset.curl, rng)
    if preset.margin or preset.perspective:
        img, corners = photograph(img, preset.margin, preset.perspective, rng)
        rec["corners"] = corners
    if preset.falloff or preset.shadow:
        img = lighting(img, preset.falloff, preset.shadow, rng)
    if preset.streaks:
        img = toner_streaks(img, preset.streaks, rng)
    if preset.blur:
        img = gaussian_blur(img, preset.blur)
    if preset.noise:
        img = gaussian_noise(img, preset.noise, rng)
    if preset.white:
        img = levels(img, preset.white)
    if preset.jpeg:
        quality = int(rng.integers(preset.jpeg, preset.jpeg_max + 1)) if preset.jpeg_max else preset.jpeg
        rec["jpeg"] = quality
        img = jpeg(img, quality)
    if img.ndim == 3 and not preset.colour:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if preset.threshold:
        img = binarise(img, preset.threshold)
    if preset.speckle:
        img = fax_speckle(img, rng, preset.speckle)
    return Image.fromarray(np.ascontiguousarray(img), mode="RGB" if img.ndim == 3 else "L")


# --- the real-world families: paper, copier, photo, curl -------------------------------------------------


PAPER_TINT = (1.0, 0.955, 0.87)  # cream paper under warm light: the blue channel loses most
DESK = (62.0, 54.0, 47.0)  # a dark wooden desk, RGB


def _white(img: np.ndarray) -> int | tuple[int, int, int]:
    return (255, 255, 255) if img.ndim == 3 else 255


def _smooth_field(shape: tuple[int, int], cells: int, rng: np.random.Generator) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid (``cells`` across the short side) scaled up."""
    h, w = shape
    gh, gw = max(2, round(cells * h / min(h, w))), max(2, round(cells * w / min(h, w)))
    coarse = rng.uniform(-1.0, 1.0, (gh, gw)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).clip(-1.0, 1.0)


def _multiply(img: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """The page times a light/tint factor (2-D, per pixel; or 3 values, per channel)."""
    f = factor[..., None] if (factor.ndim == 2 and img.ndim == 3) else factor
    return np.clip(np.rint(img.astype(np.float32) * f), 0, 255).astype(np.uint8)


def paper_tint(img: np.ndarray, strength: float) -> np.ndarray:
    """Warm paper: white becomes cream (RGB out); black ink stays black."""
    rgb = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    tint = np.array([1.0 - strength * (1.0 - t) for t in PAPER_TINT], np.float32)
    return _multiply(rgb, tint)


def copier_background(img: np.ndarray, loss: float, rng: np.random.Generator) -> np.ndarray:
    """A photocopier's gray paper: the page darkened by ``loss`` gray levels, with a mottled toner haze
    (low-frequency, +-loss/3) and fine grain (sigma loss/5); ink stays dark."""
    h, w = img.shape[:2]
    haze = loss + loss / 3.0 * _smooth_field((h, w), 6, rng) + rng.normal(0.0, loss / 5.0, (h, w)).astype(np.float32)
    factor = np.clip(1.0 - haze / 255.0, 0.0, 1.0)
    return _multiply(img, factor)


def toner_streaks(img: np.ndarray, most: int, rng: np.random.Generator) -> np.ndarray:
    """1..``most`` toner streaks: thin dark lines (1-4 px, gray 60-170, faint to dark), mostly vertical (the
    drum), some horizontal, each over part or all of the page, their darkness varying along them."""
    out = img.astype(np.float32)
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, most + 1))):
        vertical = rng.random() < 0.7
        length = h if vertical else w
        across = w if vertical else h
        at = int(rng.integers(0, across))
        width = int(rng.integers(1, 5))
        a = int(rng.integers(0, length // 2)) if rng.random() < 0.5 else 0
        b = length if rng.random() < 0.6 else int(rng.integers(a + length // 4, length + 1))
        gray = float(rng.uniform(60.0, 170.0))
        along = np.clip(gray + 40.0 * _smooth_field((1, b - a), 8, rng)[0], 0.0, 255.0)
        ink = along / 255.0
        if vertical:
            band = out[a:b, at : at + width]
            band *= ink[:, None, None] if out.ndim == 3 else ink[:, None]
        else:
            band = out[at : at + width, a:b]
            band *= ink[None, :, None] if out.ndim == 3 else ink[None, :]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def curl_page(img: np.ndarray, amount: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A gently curved sheet: every point moved down by a smooth function of x (a bow over the width plus a
    bend near one side), a little more near the top and bottom edges, and pulled in a little near the bent side.
    A printed line bows by up to ``amount`` of the page height; returns the page and the largest bow in pixels."""
    h, w = img.shape[:2]
    peak = amount * h * float(rng.uniform(0.7, 1.0))
    share = float(rng.uniform(0.3, 0.7))  # the bow's part; the rest is the bend near a side
    start = float(rng.uniform(0.6, 0.8))  # where the bend begins (share of the width)
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)
    if rng.random() < 0.5:
        x = x[::-1].copy()  # bent on the left instead
    bend = np.clip((x - start) / (1.0 - start), 0.0, 1.0) ** 2
    bow = 4.0 * x * (1.0 - x)
    shape = share * bow + (1.0 - share) * bend
    dy_x = peak * (shape - shape.min()) / max(float(shape.max() - shape.min()), 1e-6)  # a line bows by peak * gain
    y = np.linspace(-1.0, 1.0, h, dtype=np.float32)
    gain = 0.75 + 0.25 * y**2  # the sheet lifts more at its top and bottom
    map_y = np.arange(h, dtype=np.float32)[:, None] - dy_x[None, :] * gain[:, None]
    pull = 0.3 * peak * bend  # the bent side leans away: compressed a little towards it
    map_x = np.broadcast_to(np.arange(w, dtype=np.float32)[None, :] + pull[None, :], (h, w)).astype(np.float32)
    out = cv2.remap(
        img, map_x, map_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=_white(img)
    )
    return out, float(dy_x.max() - dy_x.min()) if dy_x.size else 0.0


def photograph(
    img: np.ndarray, margin: float, perspective: float, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The page photographed on a desk: a frame ``margin`` larger on every side, the desk (dark, uneven) around,
    the page a quadrilateral whose corners are each moved by up to ``perspective`` of the page size. Returns the
    RGB frame and the page corners in it (top-left, top-right, bottom-right, bottom-left, pixels)."""
    rgb = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    h, w = rgb.shape[:2]
    mx, my = int(round(margin * w)), int(round(margin * h))
    fw, fh = w + 2 * mx, h + 2 * my
    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    moves = rng.uniform(-1.0, 1.0, (4, 2)) * np.array([perspective * w, perspective * h])
    dst = (src + np.array([mx, my], np.float32) + moves).astype(np.float32)
    dst[:, 0] = dst[:, 0].clip(0, fw - 1)
    dst[:, 1] = dst[:, 1].clip(0, fh - 1)
    matrix = cv2.getPerspectiveTransform(src, dst)
    page = cv2.warpPerspective(
        rgb, matrix, (fw, fh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)
    )
    inside = (
        cv2.warpPerspective(
            np.full((h, w), 255, np.uint8),
            matrix,
            (fw, fh),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        ).astype(np.float32)
        / 255.0
    )
    grain = 1.0 + 0.12 * _smooth_field((fh, fw), 12, rng)
    desk = np.array(DESK, np.float32)[None, None, :] * grain[..., None]
    frame = page.astype(np.float32) * inside[..., None] + desk * (1.0 - inside[..., None])
    corners = [(float(x), float(y)) for x, y in dst]
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8), corners


def lighting(img: np.ndarray, falloff: float, shadow: float, rng: np.random.Generator) -> np.ndarray:
    """Uneven light: a smooth falloff in a random direction down to (1 - ``falloff``) of the brightest (a slight
    curve, not a plane), and a soft shadow band (a phone or a hand) taking ``shadow`` of the light."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = np.ones((h, w), np.float32)
    if falloff:
        theta = float(rng.uniform(0.0, 2.0 * np.pi))
        t = (xx / w) * np.cos(theta) + (yy / h) * np.sin(theta)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        light *= 1.0 - falloff * t**1.3
    if shadow:
        theta = float(rng.uniform(0.0, np.pi))
        cx, cy = w * float(rng.uniform(0.2, 0.8)), h * float(rng.uniform(0.2, 0.8))
        dist = (xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)
        half = min(h, w) * float(rng.uniform(0.05, 0.10))
        soft = min(h, w) * 0.04
        band = 1.0 / (1.0 + np.exp((np.abs(dist) - half) / soft))
        light *= 1.0 - shadow * band
    return _multiply(img, light)


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


def lose_rulings(
    images: Sequence[Image.Image], losses: Sequence[LostRuling], seed: int, dpi: float
) -> tuple[list[Image.Image], list[LostSegment]]:
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
    return [
        r
        for r in range(table.n_rows)  # type: ignore[attr-defined]
        if (r, boundary - 1) in owner and (r, boundary) in owner and owner[(r, boundary - 1)] != owner[(r, boundary)]
    ]


def _blocks(rows: list[int], length: int) -> list[int]:
    """First rows of every run of ``length`` consecutive rows in ``rows``."""
    have = set(rows)
    return [r for r in rows if all(r + i in have for i in range(length))]


def _lose(
    pages: dict[int, np.ndarray], tables: list, loss: LostRuling, rng: np.random.Generator, dpi: float
) -> LostSegment:
    if loss.rows < 1:
        raise ValueError("a lost ruling covers at least one row")
    choices = [
        (t, b, first)
        for t, table in enumerate(tables)
        if loss.table in (None, t)
        for b in range(1, table.n_cols)
        if loss.boundary in (None, b)
        for first in _blocks(_bordered_rows(table, b), loss.rows)
        if loss.first in (None, first)
    ]
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
                keep[at : at + length] = rng.random() < loss.keep
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


@dataclass(frozen=True)
class FadedCell:
    """The print inside one cell of a printed table too faint for the scanner (a number printed light, a worn
    ribbon): the cell's inside turned to paper, its rulings kept. ``table``: 0-based in document order as for
    ``LostRuling``; ``row``/``col``: the cell of the ruled grid holding that slot (0-based)."""

    table: int
    row: int
    col: int
    fade: int = 255  # gray the print is left in: 255 gone

    @classmethod
    def parse(cls, spec: str) -> FadedCell:
        """``table=1,row=12,col=2[,fade=255]`` (table, row and col required)."""
        values: dict[str, int] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, value = item.partition("=")
            if not sep or key.strip() not in ("table", "row", "col", "fade"):
                raise ValueError(f"faded cell {spec!r}: expected key=value with keys table, row, col, fade")
            values[key.strip()] = int(value)
        missing = {"table", "row", "col"} - set(values)
        if missing:
            raise ValueError(f"faded cell {spec!r}: {', '.join(sorted(missing))} required")
        return cls(**values)


def fade_cells(images: Sequence[Image.Image], faded: Sequence[FadedCell], dpi: float) -> list[Image.Image]:
    """The pages with the print inside each ``faded`` cell lightened to ``fade`` (its rulings kept)."""
    if not faded:
        return list(images)
    pages = {n: np.asarray(im.convert("L")).copy() for n, im in enumerate(images, start=1)}
    tables = join_pages({n: find_grids(img, dpi) for n, img in pages.items()}, dpi)
    inset = max(3, int(round(0.03 * dpi)))  # off the rulings and their blur
    for f in faded:
        if not 0 <= f.table < len(tables):
            raise ValueError(f"{f}: no such table (tables found: {len(tables)})")
        table = tables[f.table]
        cell = next(
            (c for c in table.cells if c.row <= f.row < c.row + c.rowspan and c.col <= f.col < c.col + c.colspan),
            None,
        )
        if cell is None:
            raise ValueError(f"{f}: no cell there (the table has {table.n_rows} rows, {table.n_cols} columns)")
        for part in cell.parts:
            x0, y0, x1, y1 = (int(round(v)) for v in part.cell.bbox)
            img = pages[part.page]
            box = img[y0 + inset : y1 - inset, x0 + inset : x1 - inset]
            box[...] = np.maximum(box, f.fade)
    return [Image.fromarray(pages[n], mode="L") for n in sorted(pages)]


# --- red seals ---------------------------------------------------------------------------------------


SEAL_MM = (38.0, 40.0, 42.0, 45.0)  # diameters of official seals (42 mm: an agency's seal)
SEAL_NAMES = ("某某市人民政府办公室", "某某县政务服务管理局", "某某区信息公开办公室", "某某市自然资源局")
SEAL_FOOT = ("政务公开专用章", "", "业务专用章")
INK_RED = (205.0, 35.0, 45.0)  # seal ink, RGB


@dataclass(frozen=True)
class Seal:
    """A red seal as stamped: on which page, where (pixels of the printed page, before skew, curl or a photo
    move it), how large, over what, and the table cells it covers (the oracle of a seal's damage)."""

    page: int  # 1-based document page
    x: float
    y: float
    radius: float  # pixels
    diameter_mm: float
    over: str  # "table3": aimed at a number cell of table 3 | "table" | "text"
    cells: tuple[tuple[int, int, int], ...]  # (table, row, col) it overlaps; tables 0-based in document order


@cache
def _seal_font_path() -> str | None:
    """A bold CJK font file (fontconfig), for the ring of text; None where there is none."""
    import subprocess

    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}", f"{CJK_FONT}:bold:lang=zh"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out if out and Path(out).exists() and "CJK" in out else None


def seal_mask(diameter: int, name: str, foot: str, rng: np.random.Generator) -> np.ndarray:
    """The ink of one round seal, float32 in [0, 1], ``diameter`` pixels square: a thick outer ring, the
    agency's name round the top half inside it, a five-pointed star in the middle, a line of text under it;
    unevenly inked (worn spots, a lighter side) and turned by a random angle."""
    from PIL import ImageDraw, ImageFont

    d = diameter
    canvas = Image.new("L", (d, d), 0)
    draw = ImageDraw.Draw(canvas)
    ring = max(2, round(0.035 * d))
    draw.ellipse((ring // 2, ring // 2, d - 1 - ring // 2, d - 1 - ring // 2), outline=255, width=ring)
    c = d / 2.0
    star = 0.19 * d
    points = [
        (
            c + (star if k % 2 == 0 else 0.38 * star) * np.sin(k * np.pi / 5),
            c - (star if k % 2 == 0 else 0.38 * star) * np.cos(k * np.pi / 5),
        )
        for k in range(10)
    ]
    draw.polygon(points, fill=255)
    font_path = _seal_font_path()
    if font_path:
        size = max(6, round(0.12 * d))
        font = ImageFont.truetype(font_path, size)
        n = len(name)
        sweep = np.deg2rad(min(250.0, 22.0 * n))  # the arc the name covers, centred on the top
        for k, ch in enumerate(name):
            a = -sweep / 2 + sweep * (k + 0.5) / n  # 0 = top, clockwise
            glyph = Image.new("L", (size * 2, size * 2), 0)
            ImageDraw.Draw(glyph).text((size, size), ch, fill=255, font=font, anchor="mm")
            glyph = glyph.rotate(-np.rad2deg(a), resample=Image.Resampling.BILINEAR)
            r = c - ring - 0.62 * size
            gx, gy = c + r * np.sin(a), c - r * np.cos(a)
            canvas.paste(255, (round(gx - size), round(gy - size)), glyph)
        if foot:
            small = ImageFont.truetype(font_path, max(5, round(0.085 * d)))
            draw.text((c, c + 0.30 * d), foot, fill=255, font=small, anchor="mm")
    ink = np.asarray(canvas).astype(np.float32) / 255.0
    ink *= float(rng.uniform(0.75, 0.92))  # semi-transparent: the paper and black print show through
    worn = 0.78 + 0.22 * _smooth_field((d, d), 5, rng)  # uneven pressure
    side = np.linspace(1.0, float(rng.uniform(0.7, 1.0)), d, dtype=np.float32)[None, :]  # one side lighter
    gaps = rng.random((d, d)) < 0.04  # ink missing in specks
    ink = ink * worn * side
    ink[gaps] *= 0.3
    angle = float(rng.uniform(-25.0, 25.0))
    matrix = cv2.getRotationMatrix2D((c, c), angle, 1.0)
    return cv2.warpAffine(ink, matrix, (d, d), flags=cv2.INTER_LINEAR, borderValue=0.0).clip(0.0, 1.0)


def stamp(page: np.ndarray, ink: np.ndarray, x: float, y: float, rng: np.random.Generator) -> np.ndarray:
    """The seal's ink laid on an RGB page centred at (x, y): red multiplied into the paper, so black print
    under the seal stays black and the paper shows through thin ink."""
    h, w = page.shape[:2]
    d = ink.shape[0]
    x0, y0 = int(round(x - d / 2)), int(round(y - d / 2))
    a0, b0 = max(0, -x0), max(0, -y0)
    a1, b1 = min(d, w - x0), min(d, h - y0)
    if a1 <= a0 or b1 <= b0:
        return page
    colour = np.array(INK_RED, np.float32) + rng.normal(0.0, 8.0, 3).astype(np.float32)
    alpha = ink[b0:b1, a0:a1, None]
    region = page[y0 + b0 : y0 + b1, x0 + a0 : x0 + a1].astype(np.float32)
    mixed = region * (1.0 - alpha + alpha * np.clip(colour, 0, 255) / 255.0)
    out = page.copy()
    out[y0 + b0 : y0 + b1, x0 + a0 : x0 + a1] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out


def _covered(tables: list, page: int, x: float, y: float, radius: float) -> tuple[tuple[int, int, int], ...]:
    """(table, row, col) of every cell part on ``page`` whose box the disc overlaps."""
    out: set[tuple[int, int, int]] = set()
    for t, table in enumerate(tables):
        for cell in table.cells:
            for part in cell.parts:
                if part.page != page:
                    continue
                x0, y0, x1, y1 = part.cell.bbox
                dx, dy = max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1)
                if dx * dx + dy * dy < radius * radius:
                    out.add((t, cell.row, cell.col))
    return tuple(sorted(out))


def _table3(tables: list) -> int | None:
    """Table 3 of a report (applications and how they ended): the largest table, by slots."""
    if not tables:
        return None
    return max(range(len(tables)), key=lambda t: tables[t].n_rows * tables[t].n_cols)


def stamp_seals(
    images: Sequence[Image.Image], per_page: int, seed: int, dpi: float
) -> tuple[list[Image.Image], list[Seal]]:
    """RGB pages stamped with red seals (several sizes, ``SEAL_MM``): one over a number cell of table 3 (the
    lower, right part of the table: the values), on the page holding it, and ``per_page`` more on every page,
    each centred on printed ink (text or a table). Seeded by (seed, page). The tables, and the cells each seal
    covers, are those the project's grid finder sees on the clean pages (ruled tables; none when unruled)."""
    gray = {n: np.asarray(im.convert("L")) for n, im in enumerate(images, start=1)}
    tables = join_pages({n: find_grids(img, dpi) for n, img in gray.items()}, dpi)
    pages = {n: cv2.cvtColor(img, cv2.COLOR_GRAY2RGB) for n, img in gray.items()}
    seals: list[Seal] = []
    plan: list[tuple[int, float, float, str]] = []
    t3 = _table3(tables)
    rng = np.random.default_rng([seed, 4243])
    if t3 is not None:
        table = tables[t3]
        values = [
            (cell, part)
            for cell in table.cells
            if cell.rowspan == 1
            and cell.colspan == 1
            and cell.row >= table.n_rows // 3
            and cell.col >= max(1, table.n_cols - 7)
            for part in cell.parts
        ]
        if values:
            cell, part = values[int(rng.integers(len(values)))]
            x0, y0, x1, y1 = part.cell.bbox
            plan.append((part.page, float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1)), "table3"))
    for n, img in gray.items():
        page_rng_ = np.random.default_rng([seed, n, 4243])
        small = img[::4, ::4]
        ys, xs = np.nonzero(small < 128)
        for _ in range(per_page if len(xs) else 0):
            k = int(page_rng_.integers(len(xs)))
            plan.append((n, float(xs[k] * 4), float(ys[k] * 4), ""))
    for n, x, y, over in plan:
        srng = np.random.default_rng([seed, n, int(x), int(y)])
        mm = float(SEAL_MM[int(srng.integers(len(SEAL_MM)))])
        d = int(round(mm / 25.4 * dpi))
        h, w = gray[n].shape
        x = float(np.clip(x, d / 2, w - d / 2))
        y = float(np.clip(y, d / 2, h - d / 2))
        name = SEAL_NAMES[int(srng.integers(len(SEAL_NAMES)))]
        foot = SEAL_FOOT[int(srng.integers(len(SEAL_FOOT)))]
        pages[n] = stamp(pages[n], seal_mask(d, name, foot, srng), x, y, srng)
        cells = _covered(tables, n, x, y, d / 2)
        seals.append(Seal(n, x, y, d / 2, mm, over or ("table" if cells else "text"), cells))
    return [Image.fromarray(pages[n], mode="RGB") for n in sorted(pages)], seals


# --- writing ---------------------------------------------------------------------------------------


def is_binary(image: Image.Image) -> bool:
    return set(np.unique(np.asarray(image))) <= {0, 255}


def write_image_pdf(images: list[Image.Image], path: str | Path, dpi: int, jpeg_quality: int | None = 70) -> Path:
    """An image-only PDF: one page per image, page size = pixels / dpi inches, no text layer.

    Pages are JPEGs of the given quality, grayscale, or colour where the image is RGB (a photo, a seal); with
    ``jpeg_quality=None`` binary pages are stored as 1-bit (CCITT G4, lossless) and others as JPEG q95. Dates
    are fixed: same images, same bytes.
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
            pages, options = [_jpeg_mode(im) for im in images], {"quality": 95, "optimize": True}
    else:
        pages = [_jpeg_mode(im) for im in images]
        options = {"quality": jpeg_quality, "optimize": True}
    pages[0].save(
        path,
        format="PDF",
        save_all=True,
        append_images=pages[1:],
        resolution=float(dpi),
        title=path.stem,
        producer="xxgk scansim",
        creator="xxgk scansim",
        creationDate=PDF_DATE,
        modDate=PDF_DATE,
        **options,
    )
    return path


def _jpeg_mode(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("L")


def write_image_files(
    images: list[Image.Image], folder: str | Path, stem: str, dpi: int, jpeg_quality: int = 92
) -> list[Path]:
    """The pages as image files, ``<stem>-p<N>.jpg`` (colour or gray JPEG, the dpi in the JFIF header): what a
    phone uploads. The pipeline reads .jpg/.png/.tif (service/ingest/image.py). Same images, same bytes."""
    if not images:
        raise ValueError("no pages to write")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n, image in enumerate(images, start=1):
        path = folder / f"{stem}-p{n}.jpg"
        _jpeg_mode(image).save(path, format="JPEG", quality=jpeg_quality, dpi=(dpi, dpi))
        out.append(path)
    return out


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
    seals: list[Seal] = field(default_factory=list)  # the seals stamped (``stamp_seals``), every page
    geometry: list[dict[str, object]] = field(default_factory=list)  # per page written: what ``degrade`` drew
    images: list[Path] = field(default_factory=list)  # the pages as .jpg files (``scan(..., image_files=True)``)
    seconds: float = 0.0  # time taken to make the scan


def scan(
    source: str | Path,
    out: str | Path,
    preset: Preset,
    seed: int = 0,
    lost: Sequence[LostRuling] = (),
    pages: Sequence[int] | None = None,
    image_files: bool = False,
    faded: Sequence[FadedCell] = (),
) -> Scan:
    """Print ``source`` (tables ruled as ``preset.ruling``), lose the ``lost`` rulings, stamp the seals, degrade
    every page with ``preset`` (seeded per page) and write the image-only PDF of all pages, or of ``pages``
    (1-based document page numbers) only; with ``image_files`` also one .jpg per page beside it."""
    t0 = time.perf_counter()
    rendered = render_source(source, preset.dpi, preset.ruling)
    images, segments = lose_rulings(rendered.images, lost, seed, preset.dpi)
    images = fade_cells(images, faded, preset.dpi)
    seals: list[Seal] = []
    if preset.seals:
        images, seals = stamp_seals(images, preset.seals, seed, preset.dpi)
    numbers = sorted(set(pages)) if pages else list(range(1, len(images) + 1))
    if not numbers or numbers[0] < 1 or numbers[-1] > len(images):
        raise ValueError(f"pages {numbers} out of 1..{len(images)}")
    geometry: list[dict[str, object]] = [{"page": n} for n in numbers]
    degraded = [degrade(images[n - 1], preset, page_rng(seed, n), record) for n, record in zip(numbers, geometry)]
    path = write_image_pdf(degraded, out, preset.dpi, preset.pdf_quality)
    files = write_image_files(degraded, Path(out).parent, Path(out).stem, preset.dpi) if image_files else []
    return Scan(
        path,
        Path(source),
        preset,
        seed,
        len(degraded),
        rendered.grids,
        segments,
        numbers,
        seals,
        geometry,
        files,
        time.perf_counter() - t0,
    )


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
        "degradation": _settings(result.preset),
        "seed": result.seed,
        "dpi": result.preset.dpi,
        "pages": result.pages,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "tables": [grid_lattice(g) for g in result.grids],
    }


def _settings(preset: Preset) -> dict[str, object]:
    """The preset's settings: the scanner's (up to pdf_quality) always, the real-world families' where set."""
    names = [f.name for f in fields(Preset) if f.name != "name"]
    legacy = names[: names.index("pdf_quality") + 1]
    defaults = Preset("")
    return {n: getattr(preset, n) for n in names if n in legacy or getattr(preset, n) != getattr(defaults, n)}


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
        print(f"{relative(result.path)}: {result.pages} pages, {result.path.stat().st_size / 1024:.0f} KB")
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
    ap.add_argument(
        "--preset",
        type=preset_named,
        default=PRESETS["moderate"],
        metavar="NAME[+NAME]",
        help="; ".join(f"{name}: {_describe(p)}" for name, p in PRESETS.items()) + " (a+b: b's settings laid over a)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", type=Path, default=Path("."), help="output folder")
    ap.add_argument("--fixtures", action="store_true", help=f"rebuild {relative(SCANS)}/ and its MANIFEST.json")
    ap.add_argument(
        "--lose-ruling",
        action="append",
        default=[],
        metavar="SPEC",
        type=LostRuling.parse,
        help="lose a column border over a block of rows: table=T,boundary=B,rows=N,first=R,fade=G,keep=F "
        "(every key optional; what is not given is drawn with the seed); may be repeated",
    )
    ap.add_argument(
        "--fade-cell",
        action="append",
        default=[],
        metavar="SPEC",
        type=FadedCell.parse,
        help="print one table cell too faint to scan: table=T,row=R,col=C[,fade=G] (0-based cell of the ruled "
        "grid); may be repeated",
    )
    ap.add_argument(
        "--pages",
        type=_page_list,
        default=None,
        metavar="LIST",
        help="write only these pages (1-based), e.g. 2-3 or 1,4",
    )
    ap.add_argument("--image-files", action="store_true", help="also write every page as a .jpg (a phone upload)")
    ap.add_argument("--ruling", choices=RULINGS, default=None, help="override the preset's table ruling")
    for f in _numeric_fields():
        ap.add_argument(
            f"--{f.name.replace('_', '-')}", type=float, default=None, help=f"override the preset's {f.name}"
        )
    args = ap.parse_args(argv)
    if args.fixtures:
        build_fixtures(seed=args.seed)
        return
    if not args.sources:
        ap.error("give SRC documents or --fixtures")
    overrides: dict[str, object] = {
        f.name: _as_field(f.type, getattr(args, f.name)) for f in _numeric_fields() if getattr(args, f.name) is not None
    }
    if overrides.get("pdf_quality") == 0:
        overrides["pdf_quality"] = None  # --pdf-quality 0: lossless pages
    if args.ruling:
        overrides["ruling"] = args.ruling
    preset = replace(args.preset, **overrides)
    for src in args.sources:
        # dev-reports/r003/source.html -> r003-html-...; report.docx -> report-docx-...
        label = (src.parent.name if src.stem in ("source", "page") else src.stem) + "-" + src.suffix.lstrip(".")
        result = scan(
            src,
            args.out / scan_name(label, preset),
            preset,
            args.seed,
            args.lose_ruling,
            args.pages,
            args.image_files,
            args.fade_cell,
        )
        print(
            f"{result.path}: {result.pages} pages, {result.path.stat().st_size / 1024:.0f} KB, "
            f"{len(result.grids)} tables, {result.seconds / max(result.pages, 1):.1f} s/page to make"
        )
        for path in result.images:
            print(f"  {path}")
        for s in result.seals:
            print(
                f"  seal: page {s.page}, centre ({s.x:.0f}, {s.y:.0f}) px, {s.diameter_mm:g} mm, over {s.over}, "
                f"{len(s.cells)} cells"
            )
        for seg in result.lost:
            print(
                f"  lost ruling: table {seg.table}, boundary {seg.boundary} (x {seg.x:.0f} px), rows "
                f"{seg.rows[0]}-{seg.rows[-1]}, pages {', '.join(map(str, seg.pages))}"
            )


def _describe(preset: Preset) -> str:
    defaults = Preset("")
    return ", ".join(
        f"{f.name} {getattr(preset, f.name)}"
        for f in fields(Preset)
        if f.name != "name" and (f.name == "dpi" or getattr(preset, f.name) != getattr(defaults, f.name))
    )


def _page_list(spec: str) -> list[int]:
    """``2-3`` or ``1,4`` or ``1,3-5``: page numbers."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def _numeric_fields() -> list:
    """The Preset fields a number sets (the CLI's overrides)."""
    return [f for f in fields(Preset) if str(f.type).split(" |")[0] in ("int", "float") and f.name != "name"]


def _as_field(kind: object, value: float) -> float | int:
    return value if "float" in str(kind) else int(value)


if __name__ == "__main__":
    main()
