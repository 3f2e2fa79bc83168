"""Read the cells of a table grid, each from its own crop, with the recognizer only (no detection).

Full-page detection misses lone small digits (a ``0`` in a small cell) and may run a number across
two cells; reading cell by cell avoids both. Per cell:

1. the inside of the cell (a small margin drops the ruling lines) and its ink components; leftover
   pieces of ruling lines along the crop edge and specks are ignored; a cell with no other ink is
   empty (a lone ``1`` is a tall component, never a speck);
2. text lines: components grouped into horizontal bands (a band never grows taller than about one
   text height, so the strokes of 三 stay one line while two wrapped lines stay apart);
3. each band is cut out with some padding (other ink whitened) and read; a tall narrow cell with one
   character per band is vertical text: it is read as one crop turned a quarter left, which the PP-OCR
   recognizer reads as a line;
4. the text is cleaned (``service.normalize.clean``); where the whole cell is numeric-looking,
   letters confused with digits (O/0, l/1, 〇/0) are corrected;
5. a value cell (no Chinese text, nothing but digits, separators and look-alikes of digits: ``°``, ``。``,
   ``o``, ``O``, ``l``, ``I``, ``〇`` ...) takes the reading decoded with the alphabet restricted to a number's
   characters (``OcrEngine.read_crops_numeric``: the same model output, decoded a second time), so that a
   dim ``0`` read as ``°`` or ``。`` is a ``0`` with its probability and digit alternatives; a row label is
   never forced to digits;
6. a value cell still read with a character below SECOND_READ_BELOW is read again from two other renderings
   of its crops (contrast stretched; binarised, ``_variants``), all in one more batched call; of the readings
   that read as a value with as many characters or the same digits (a rendering may drop a stray point, not a
   digit), the one of highest mean probability is kept, and the other readings' characters join its
   alternatives where they differ (same length), so that reconciliation sees both. On clean scans almost no
   cell qualifies (none of the committed moderate fixtures' 1536 read cells).

All crops of all tables of a page go to the engine in one batched call.

A cell that a lost column ruling made out of two (``grid.lost_rulings``: a border the table rules in its
other rows, clear paper where it would run, ink on both sides) is read both whole and part by part, each
part from its own crop; the parts replace the cell only when every one of them reads as a number, or the
first as a row label (Chinese text) and the others as numbers. Else the cell stays as the lines drew it
(one number in a two-column span, words, a reading in doubt: the assembler sees a row short of a value
and says so). A part keeps its own box (``cell.split_from`` is the whole one) and a confidence lowered by
SPLIT_CONFIDENCE. Pieces of a broken ruling left inside a cell on such a border are no text.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from service.document import BBox
from service.lattice import Grid, GridCell
from service.normalize import clean
from service.ocr.base import Crop, OcrChar, OcrEngine, OcrText
from service.ocr.grid import DPI, binarize, is_remnant, lost_rulings, ruled_inside, to_gray
from service.ocr.recognizer import DIGIT_LOOKALIKES, NUMERIC
from service.text import join_wide

MARGIN = 0.025  # inches cut from each side of a cell (ruling lines and their blur)
SPECK = 0.02  # inches: ink components smaller than this both ways are noise
THIN = 0.02  # inches: an edge component thinner than this and ...
LONG = 0.5  # ... longer than this share of the crop side is a leftover ruling line
BAND_GROWTH = 1.25  # a text line is at most this many text heights tall
PAD = 0.25  # padding around a text line, in text heights
VERTICAL_ASPECT = 2.0  # a cell's ink this many times taller than wide, one character per band, is vertical
SPLIT_CONFIDENCE = 0.9  # confidence factor of a cell parted from its neighbour where a ruling was lost
SECOND_READ_BELOW = 0.8  # a value cell with a character below this probability is read again
STRETCH = (1.0, 99.0)  # percentiles of a crop's grey levels stretched to black and white for the second reading

_CONFUSIONS = str.maketrans({"O": "0", "o": "0", "〇": "0", "l": "1", "I": "1", "|": "1"})
_NUMERIC_LOOKING = re.compile(r"[-+]?[\dOo〇lI|][\dOo〇lI|,.]*%?")
_NUMBER = re.compile(r"\d+(,\d{3})*(\.\d+)?")
_LABEL = re.compile("[\u4e00-\u9fff]")
# what a value cell may show: a number's characters and the look-alikes a dim or blurred digit is read as
_DIGIT_LIKE = (NUMERIC | DIGIT_LOOKALIKES) - {" "}


@dataclass(frozen=True)
class CellText:
    """What one grid cell says, as read."""

    cell: GridCell
    text: str  # cleaned, with numeric confusions fixed
    raw: str  # as recognized, lines joined
    confidence: float  # mean character confidence (1.0 for an empty cell: nothing to doubt)
    min_confidence: float
    chars: tuple[OcrChar, ...] = ()  # with boxes (page pixels) and top-k alternatives
    empty: bool = False  # no ink: not read
    fixed_digits: bool = False  # letters were read as digits because the cell is numeric
    digits_only: bool = False  # the reading decoded with a number's alphabet (a value cell with look-alikes)
    read_as: str = ""  # digits_only: the reading with the full alphabet (raw), kept for the record
    second_read: str = ""  # the rendering kept after a second reading ("" first reading; "stretched"...)

    @property
    def bbox(self) -> BBox:
        return self.cell.bbox

    @property
    def split(self) -> bool:
        """A part of a cell parted where a ruling was lost (``cell.split_from`` is the whole cell's box)."""
        return self.cell.split_from is not None


@dataclass
class _Band:
    top: int
    bottom: int
    left: int
    right: int
    labels: list[int] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


@dataclass
class _CellInk:
    """A cell's inside: its offset on the page, component labels and the text bands."""

    cell: GridCell
    x0: int
    y0: int
    labels: np.ndarray  # connected components of the ink (0: background)
    bands: list[_Band]


@dataclass(frozen=True)
class _Piece:
    """One crop to read for a cell; ``turned``: the crop is the region turned a quarter left."""

    cell_index: int
    crop: Crop
    region: tuple[int, int, int, int]  # x0, y0, x1, y1 on the page
    turned: bool = False


def read_tables(
    image: np.ndarray, grids: Sequence[Grid], engine: OcrEngine, dpi: float = DPI, *, split: bool = True
) -> list[list[CellText]]:
    """The cells of every grid of one page image, read in one batch; per grid, in grid order.

    With ``split``, a cell that a lost column ruling made out of two is given as its parts where they all
    read as numbers (see the module's note): the cells returned are then not all ``grid.cells``; the grid
    they make is ``grid.with_cells(c.cell for c in cells)``."""
    gray = to_gray(image)
    ink = binarize(gray)
    cells = [cell for grid in grids for cell in grid.cells]
    proposals = [lost_rulings(grid, ink, dpi) if split else {} for grid in grids]
    parts = [part for found in proposals for whole in found.values() for part in whole]
    # lines a cell spans where the table rules its other rows: pieces of a broken ruling there are no text
    lines = {cell: [grid.xs[b] for b in inner] for grid in grids for cell, inner in ruled_inside(grid).items()}
    inks = [_cell_ink(ink, cell, dpi, lines.get(cell, ())) for cell in cells + parts]
    height = _text_height(inks[: len(cells)], dpi)
    for item in inks:
        if item is not None:
            item.bands = _merge_bands(item.bands, max(height, max(b.height for b in item.bands)))
    pieces = [p for i, item in enumerate(inks) if item is not None for p in _pieces(gray, item, i, height)]
    texts = engine.read_crops_numeric([p.crop for p in pieces])
    by_cell: dict[int, list[tuple[_Piece, OcrText, OcrText | None]]] = {}
    for piece, (text, numeric) in zip(pieces, texts):
        by_cell.setdefault(piece.cell_index, []).append((piece, text, numeric))
    results = [_cell_text(cell, by_cell.get(i, [])) for i, cell in enumerate(cells + parts)]
    _read_again(results, by_cell, engine)
    read = dict(zip(cells + parts, results))
    return [_settle(grid, found, read) for grid, found in zip(grids, proposals)]


def _parted(parts: Sequence[CellText]) -> bool:
    """Whether the parts of a cell read as cells that a lost ruling had joined: numbers, or a row label
    (Chinese text) followed by numbers. Text on both sides of the line is one label printed across
    columns (its words may leave a gap where the columns meet)."""
    first, rest = parts[0], parts[1:]
    if not all(_NUMBER.fullmatch(p.text) for p in rest):
        return False
    return bool(_NUMBER.fullmatch(first.text) or _LABEL.search(first.text))


def _settle(grid: Grid, found: dict[GridCell, tuple[GridCell, ...]], read: dict[GridCell, CellText]) -> list[CellText]:
    """A grid's cells as read: a cell parted by a lost ruling as its parts where they read as such."""
    out: list[CellText] = []
    for cell in grid.cells:
        parts = [read[p] for p in found.get(cell, ())]
        if parts and _parted(parts):
            out += [
                replace(
                    p,
                    confidence=round(p.confidence * SPLIT_CONFIDENCE, 5),
                    min_confidence=round(p.min_confidence * SPLIT_CONFIDENCE, 5),
                )
                for p in parts
            ]
        else:
            out.append(read[cell])
    return out


def read_cells(image: np.ndarray, grid: Grid, engine: OcrEngine, dpi: float = DPI) -> list[CellText]:
    """The cells of one grid, in grid order."""
    return read_tables(image, [grid], engine, dpi)[0]


# ---------------------------------------------------------------- ink of a cell


def _cell_ink(ink: np.ndarray, cell: GridCell, dpi: float, lines: Sequence[float] = ()) -> _CellInk | None:
    """``lines``: x positions (page pixels) inside the cell where a ruling may have been lost."""
    margin = max(int(round(MARGIN * dpi)), 2)
    x0, y0, x1, y1 = (int(round(v)) for v in cell.bbox)
    x0, y0, x1, y1 = x0 + margin, y0 + margin, x1 - margin, y1 - margin
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, ink.shape[1]), min(y1, ink.shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink[y0:y1, x0:x1], connectivity=8)
    local = [at - x0 for at in lines]
    kinds = [_kind(stats[i], x1 - x0, y1 - y0, dpi, local) for i in range(n)]
    text = [i for i in range(1, n) if kinds[i] == "text"]
    if not text:
        return None
    bands = _bands(stats, text)
    _attach_small(bands, stats, [i for i in range(1, n) if kinds[i] == "small"])
    return _CellInk(cell, x0, y0, labels, bands)


def _kind(stat: np.ndarray, width: int, height: int, dpi: float, lines: Sequence[float] = ()) -> str:
    """ "text", "small" (a speck, or a full stop: kept only next to text) or "line" (a ruling line left over
    along the crop's edge, or a piece of a broken ruling on one of the ``lines``, crop coordinates)."""
    x, y, w, h, _area = (int(v) for v in stat)
    speck = SPECK * dpi
    if w < speck and h < speck:
        return "small"
    thin = THIN * dpi
    on_edge = x == 0 or y == 0 or x + w == width or y + h == height
    line_left = (h <= thin and w >= LONG * width) or (w <= thin and h >= LONG * height)
    if on_edge and line_left or is_remnant(x, w, h, height, lines, dpi):
        return "line"
    return "text"


def _attach_small(bands: list[_Band], stats: np.ndarray, small: list[int]) -> None:
    """Small components (full stops, dots of decimals) join the text line they sit in or next to."""
    for i in small:
        x, y, w, h = (int(v) for v in stats[i][:4])
        cx, cy = x + w / 2, y + h / 2
        for band in bands:
            reach = band.height
            if band.top <= cy <= band.bottom and band.left - reach <= cx <= band.right + reach:
                band.labels.append(i)
                band.left, band.right = min(band.left, x), max(band.right, x + w)
                break


def _bands(stats: np.ndarray, keep: list[int]) -> list[_Band]:
    """Components grouped into bands of overlapping vertical extent, top to bottom."""
    bands: list[_Band] = []
    for i in sorted(keep, key=lambda i: stats[i][1]):
        x, y, w, h = (int(v) for v in stats[i][:4])
        last = bands[-1] if bands else None
        if last is not None and y < last.bottom:
            last.bottom = max(last.bottom, y + h)
            last.left, last.right = min(last.left, x), max(last.right, x + w)
            last.labels.append(i)
        else:
            bands.append(_Band(y, y + h, x, x + w, [i]))
    return bands


def _text_height(inks: Sequence[_CellInk | None], dpi: float) -> float:
    """Typical text height on the page: the median of each cell's tallest band."""
    tallest = [max(b.height for b in item.bands) for item in inks if item is not None]
    return float(statistics.median(tallest)) if tallest else 0.12 * dpi


def _merge_bands(bands: list[_Band], height: float) -> list[_Band]:
    """Join bands into text lines, top down, while a line stays within one text height."""
    out: list[_Band] = []
    for band in bands:
        last = out[-1] if out else None
        if last is not None and band.bottom - last.top <= BAND_GROWTH * height:
            last.bottom = max(last.bottom, band.bottom)
            last.left, last.right = min(last.left, band.left), max(last.right, band.right)
            last.labels += band.labels
        else:
            out.append(_Band(band.top, band.bottom, band.left, band.right, list(band.labels)))
    return out


# ---------------------------------------------------------------- crops


def _pieces(gray: np.ndarray, item: _CellInk, index: int, height: float) -> list[_Piece]:
    if _is_vertical(item, height):
        return [_vertical_piece(gray, item, index, height)]
    return [_line_piece(gray, item, band, index, height) for band in item.bands]


def _is_vertical(item: _CellInk, height: float) -> bool:
    bands = item.bands
    if len(bands) < 3:
        return False
    top, bottom = bands[0].top, bands[-1].bottom
    left, right = min(b.left for b in bands), max(b.right for b in bands)
    one_char = all(b.width <= 1.6 * height for b in bands)
    return one_char and bottom - top >= VERTICAL_ASPECT * (right - left)


def _line_piece(gray: np.ndarray, item: _CellInk, band: _Band, index: int, height: float) -> _Piece:
    box_h = max(band.height, height)
    pad = PAD * box_h
    centre = (band.top + band.bottom) / 2
    region = _clip(band.left - pad, centre - box_h / 2 - pad, band.right + pad, centre + box_h / 2 + pad, item)
    image = _masked(gray, item, band.labels, region)
    return _Piece(index, Crop(image, region[0], region[1]), region)


def _vertical_piece(gray: np.ndarray, item: _CellInk, index: int, height: float) -> _Piece:
    bands = item.bands
    left, right = min(b.left for b in bands), max(b.right for b in bands)
    width = max(right - left, height)
    centre = (left + right) / 2
    pad = PAD * height
    region = _clip(centre - width / 2 - pad, bands[0].top - pad, centre + width / 2 + pad, bands[-1].bottom + pad, item)
    labels = [label for b in bands for label in b.labels]
    image = np.ascontiguousarray(np.rot90(_masked(gray, item, labels, region)))
    return _Piece(index, Crop(image), region, turned=True)


def _clip(x0: float, y0: float, x1: float, y1: float, item: _CellInk) -> tuple[int, int, int, int]:
    """A box given in cell-inside coordinates, clipped to the cell inside, in page coordinates."""
    h, w = item.labels.shape
    cx0, cy0 = max(int(x0), 0), max(int(y0), 0)
    cx1, cy1 = min(int(np.ceil(x1)), w), min(int(np.ceil(y1)), h)
    return (item.x0 + cx0, item.y0 + cy0, item.x0 + max(cx1, cx0 + 1), item.y0 + max(cy1, cy0 + 1))


def _masked(gray: np.ndarray, item: _CellInk, labels: list[int], region: tuple[int, int, int, int]) -> np.ndarray:
    """The region of the page with the ink of other components (other lines, ruling-line leftovers,
    specks) whitened, rim included; light pixels of the line itself are kept as they are."""
    x0, y0, x1, y1 = region
    crop = gray[y0:y1, x0:x1].copy()
    local = item.labels[y0 - item.y0 : y1 - item.y0, x0 - item.x0 : x1 - item.x0]
    other = ((local > 0) & ~np.isin(local, labels)).astype(np.uint8)
    if other.any():
        crop[cv2.dilate(other, np.ones((3, 3), np.uint8)) > 0] = 255
    return crop


# ---------------------------------------------------------------- text


def _cell_text(
    cell: GridCell, read: list[tuple[_Piece, OcrText, OcrText | None]], *, numeric: bool = False
) -> CellText:
    """A cell's text from its pieces' readings: the readings restricted to a number's alphabet where the cell
    reads as a value cell (``is_value_like``) or ``numeric`` says it is one."""
    result = _joined(cell, [(piece, text) for piece, text, _ in read])
    if not any(alt is not None for _, _, alt in read) or not (numeric or is_value_like(result.text)):
        return result
    digits = _joined(cell, [(piece, text if alt is None else alt) for piece, text, alt in read])
    return replace(digits, digits_only=True, read_as=result.raw)


def _joined(cell: GridCell, read: list[tuple[_Piece, OcrText]]) -> CellText:
    chars: list[OcrChar] = []
    raw = ""
    for piece, reading in read:
        line_chars = _turned_back(reading, piece) if piece.turned else list(reading.chars)
        raw = join_wide(raw, "".join(c.text for c in line_chars).strip())
        chars += line_chars
    if not chars:
        return CellText(cell, "", "", 1.0, 1.0, empty=not read)
    text = _drop_cjk_spaces(clean(raw))
    fixed = fix_numeric(text)
    confidences = [c.confidence for c in chars]
    return CellText(
        cell,
        text=fixed,
        raw=raw,
        confidence=round(sum(confidences) / len(confidences), 5),
        min_confidence=min(confidences),
        chars=tuple(chars),
        fixed_digits=fixed != text,
    )


def is_value_like(text: str) -> bool:
    """Whether a cell's reading is a value's (to be decoded with a number's alphabet): no Chinese text (a row
    label is never forced to digits), nothing but digits, separators and look-alikes of digits, with a real
    digit or at most two characters (a lone ``°`` or ``。`` where a dim ``0`` is printed)."""
    compact = text.replace(" ", "")
    if not compact or _LABEL.search(compact) or not set(compact) <= _DIGIT_LIKE:
        return False
    return any(ch.isdigit() for ch in compact) or len(compact) <= 2


# ---------------------------------------------------------------- second reading


def _read_again(
    results: list[CellText], by_cell: dict[int, list[tuple[_Piece, OcrText, OcrText | None]]], engine: OcrEngine
) -> None:
    """Value cells read with a character below SECOND_READ_BELOW, read again from other renderings of their
    crops (one batched call); in ``results``, each replaced by its best-supported reading (see the module's
    note)."""
    low = [
        i
        for i, r in enumerate(results)
        if r.chars and r.min_confidence < SECOND_READ_BELOW and (r.digits_only or is_value_like(r.text))
    ]
    if not low:
        return
    jobs = [(i, name, piece, image) for i in low for piece, _, _ in by_cell[i] for name, image in _variants(piece)]
    texts = engine.read_crops_numeric([Crop(image, piece.crop.x0, piece.crop.y0) for _, _, piece, image in jobs])
    again: dict[tuple[int, str], list[tuple[_Piece, OcrText, OcrText | None]]] = {}
    for (i, name, piece, _), (text, numeric) in zip(jobs, texts):
        again.setdefault((i, name), []).append((piece, text, numeric))
    for i in low:
        first = results[i]
        others = [
            replace(_cell_text(results[i].cell, read, numeric=True), second_read=name)
            for (k, name), read in again.items()
            if k == i
        ]
        # a rendering whose reading is words (not a number with look-alikes) says nothing about the value; one
        # with more or fewer characters may only drop or add separators (a digit it loses is not outvoted)
        readings = [first, *(o for o in others if o.chars and is_value_like(o.text) and _comparable(first, o))]
        best = max(readings, key=lambda r: r.confidence)
        results[i] = _with_alternatives(best, [r for r in readings if r is not best])


def _comparable(first: CellText, other: CellText) -> bool:
    """Whether a second reading competes with the first: as many characters, or the same digits."""
    return len(other.chars) == len(first.chars) or _digits(other.text) == _digits(first.text)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _variants(piece: _Piece) -> list[tuple[str, np.ndarray]]:
    """Other renderings of a crop, the same size (character boxes stay where they are): its grey levels
    stretched between the STRETCH percentiles, and that binarised (Otsu) and slightly smoothed."""
    image = piece.crop.image
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    lo, hi = np.percentile(gray, STRETCH)
    if hi - lo < 1:
        return []
    stretched = np.clip((gray.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    _, binary = cv2.threshold(stretched, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return [("stretched", stretched), ("binarised", cv2.GaussianBlur(binary, (3, 3), 0))]


def _with_alternatives(best: CellText, others: list[CellText]) -> CellText:
    """``best`` with the characters of the other readings of the same length added to its alternatives where
    they differ (the character as kept stays first)."""
    same = [o for o in others if len(o.chars) == len(best.chars)]
    if not same:
        return best
    chars = []
    for k, ch in enumerate(best.chars):
        alts = dict(ch.alternatives)
        for other in same:
            theirs = other.chars[k]
            alts[theirs.text] = max(alts.get(theirs.text, 0.0), round(theirs.confidence, 5))
        alts.pop(ch.text, None)
        ordered = ((ch.text, round(ch.confidence, 5)), *sorted(alts.items(), key=lambda a: -a[1]))
        chars.append(ch.model_copy(update={"alternatives": ordered}))
    return replace(best, chars=tuple(chars))


def _turned_back(text: OcrText, piece: _Piece) -> list[OcrChar]:
    """Character boxes of a crop turned a quarter left, put back on the page: its x runs down the page."""
    x0, y0, x1, _ = piece.region
    return [c.model_copy(update={"box": (float(x0), y0 + c.box[0], float(x1), y0 + c.box[2])}) for c in text.chars]


_CJK = "\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef“”‘’"
_CJK_SPACE = re.compile(f"(?<=[{_CJK}]) | (?=[{_CJK}])")


def _drop_cjk_spaces(text: str) -> str:
    """No space next to CJK text (the recognizer sometimes emits one after "1." before a character)."""
    return _CJK_SPACE.sub("", text)


def fix_numeric(text: str) -> str:
    """Letters confused with digits (O/0, l/1, 〇/0, I/1, |/1), fixed only where the cell looks numeric:
    nothing but digits, confusable letters and separators, with at least one real digit or at most two
    characters (a lone ``O`` in a value cell)."""
    compact = text.replace(" ", "")  # spaces stay: they may part numbers run together
    if not _NUMERIC_LOOKING.fullmatch(compact):
        return text
    if not any(ch.isdigit() for ch in compact) and len(compact) > 2:
        return text
    return text.translate(_CONFUSIONS)
