"""A row printing fewer values than its table has columns, placed by the values' x-positions.

A scan that lost a vertical ruling, a table read without rulings, or a text-layer PDF whose blank cells print
nothing gives rows with fewer values than columns. Mapped in order, a lost value shifts every value after it one
column, silently; dropped, the row is lost. Where the values carry their boxes (scans and PDFs: ``Provenance.bbox``
in page units; the characters of an OCR reading in page pixels), each value is put under the column whose
x-range holds its centre: the columns from the table's header cells (their labels read, left to right, as the
format prints them) or, without such a header, from the rows of the same table that print every value. A cell
whose characters lie under two columns (the ruling between them lost) is cut where its characters change column.
Every value so placed is flagged (``PLACED``, ``SPLIT``), a column nothing falls into is blank and flagged
(``NOTHING``). A value that lies too near a column boundary, two values under one column, or a value outside the
table: no placement (the caller keeps its behaviour). Sources without boxes (HTML, text) are never placed.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from service.assemble.common import cell_from_value, deviation
from service.assemble.rows import Row, Value
from service.document import OcrChar, OcrText
from service.messages import add_reason, english
from service.normalize import label_key, parse_number
from service.result import CellValue, Deviation

PLACED = english("placed_by_position")
SPLIT = english("placed_split_cell")
NOTHING = english("placed_nothing")
APART = english("read_apart")
IN_LABEL = english("value_in_label")
_CODES = {
    PLACED: "placed_by_position",
    SPLIT: "placed_split_cell",
    NOTHING: "placed_nothing",
    IN_LABEL: "value_in_label",
}
_LABEL_THEN_NUMBER = re.compile(r"^(?P<label>.*[\u3400-\u9fff）)])\s*(?P<number>\d[\d,]*(?:\.\d+)?)$")
EDGE = 0.15  # TODO option: share of a column's width at each side where a value is too near the boundary to place


@dataclass(frozen=True)
class Columns:
    """The x-centres of a table's expected columns on one page (page units), left to right."""

    page: int | None
    centres: tuple[float, ...]
    by: str  # "header" or "rows": what the centres were measured on

    def column_of(self, x: float) -> int | None:
        """The column whose range holds ``x`` (ranges meet half-way between centres), None when ``x`` lies
        within ``EDGE`` of a boundary or outside the table."""
        c = self.centres
        if len(c) < 2:
            return None
        bounds = [c[0] - (c[1] - c[0]) / 2, *((a + b) / 2 for a, b in zip(c, c[1:])), c[-1] + (c[-1] - c[-2]) / 2]
        for k in range(len(c)):
            lo, hi = bounds[k], bounds[k + 1]
            margin = EDGE * (hi - lo)
            if lo + margin <= x <= hi - margin:
                return k
        return None


@dataclass
class Placement:
    """A short row placed: one slot per expected column (None: nothing printed there) and why each is flagged."""

    slots: list[Value | None]
    reasons: list[str]
    columns: Columns


def _scale(value: Value) -> tuple[float, float] | None:
    """(offset, factor) turning the OCR reading's pixel x into the provenance's page units."""
    ocr, box = value.ocr, value.provenance.bbox
    if ocr is None or box is None or ocr.box[2] <= ocr.box[0]:
        return None
    factor = (box[2] - box[0]) / (ocr.box[2] - ocr.box[0])
    return box[0] - ocr.box[0] * factor, factor


def _char_x(value: Value, char: OcrChar) -> float | None:
    scale = _scale(value)
    if scale is None:
        return None
    offset, factor = scale
    return offset + (char.box[0] + char.box[2]) / 2 * factor


def centre_of(value: Value) -> float | None:
    """The value's x-centre in page units: the middle of its characters where it was read by OCR (the ink, not
    the cell: a cell that spans two columns prints its number under one of them), else of its box."""
    box = value.provenance.bbox
    if box is None:
        return None
    chars = value.ocr.chars if value.ocr is not None else ()
    xs = [x for ch in chars if (x := _char_x(value, ch)) is not None]
    if xs:
        return (min(xs) + max(xs)) / 2
    return (box[0] + box[2]) / 2


def header_columns(headers: Sequence[Row], words: Sequence[Sequence[str]]) -> list[Columns]:
    """Columns from header cells, per page. The label cells that read as one of the columns' words (``words[k]``:
    the ways column k is printed) are taken left to right as the expected columns in order (each the first
    column after the one before that its words name). A run of columns no cell names (a header cell the reader
    garbled, or two header cells printed as one) is taken from the header cells that name no column and lie
    between the named ones, overlapping none of them: one such cell per column, or one cell over the whole run
    (cut evenly). Anything else: no columns from that page's header."""
    keys = [{label_key(w) for w in ws} for ws in words]
    named: dict[int | None, list[tuple[float, float, set[int]]]] = {}
    others: dict[int | None, list[tuple[float, float]]] = {}
    seen: set[tuple[int | None, tuple[float, float, float, float]]] = set()
    for row in headers:
        for label, prov in zip(row.labels, row.label_provenance):
            if prov.bbox is None or (prov.page, prov.bbox) in seen:  # a spanning cell comes in every row it spans
                continue
            seen.add((prov.page, prov.bbox))
            key = label_key(label)
            matches = {k for k, ks in enumerate(keys) if key in ks}
            x0, x1 = prov.bbox[0], prov.bbox[2]
            if matches:
                named.setdefault(prov.page, []).append((x0, x1, matches))
            else:
                others.setdefault(prov.page, []).append((x0, x1))
    out = []
    for page, cells in named.items():
        centres = _header_centres(sorted(cells, key=lambda c: c[0] + c[1]), others.get(page, []), len(words))
        if centres is not None:
            out.append(Columns(page, tuple(centres), "header"))
    return out


def _header_centres(
    named: list[tuple[float, float, set[int]]], others: list[tuple[float, float]], n: int
) -> list[float] | None:
    at: dict[int, float] = {}
    bounds: dict[int, tuple[float, float]] = {}
    last = -1
    for x0, x1, matches in named:
        k = min((m for m in matches if m > last), default=None)
        if k is None:
            return None
        at[k], bounds[k], last = (x0 + x1) / 2, (x0, x1), k
    if len(at) < 2:
        return None
    width = statistics.median(b - a for a, b in bounds.values())
    free = [
        (x0, x1)
        for x0, x1 in others
        if all(min(x1, b1) - max(x0, b0) <= 0.1 * width for b0, b1 in bounds.values()) and x1 - x0 > 0.5 * width
    ]
    k = 0
    while k < n:
        if k in at:
            k += 1
            continue
        run: list[int] = []  # the columns no header cell names, from k on
        while k + len(run) < n and k + len(run) not in at:
            run.append(k + len(run))
        lo = bounds[k - 1][1] if k - 1 in bounds else float("-inf")
        hi = bounds[run[-1] + 1][0] if run[-1] + 1 in bounds else float("inf")
        inside = sorted((x0, x1) for x0, x1 in free if x0 >= lo - 0.1 * width and x1 <= hi + 0.1 * width)
        if len(inside) == len(run):
            for j, (x0, x1) in zip(run, inside):
                at[j] = (x0 + x1) / 2
        elif len(inside) == 1:
            x0, x1 = inside[0]
            step = (x1 - x0) / len(run)
            for i, j in enumerate(run):
                at[j] = x0 + step * (i + 0.5)
        else:
            return None
        k = run[-1] + 1
    centres = [at[k] for k in range(n)]
    return centres if all(b > a for a, b in zip(centres, centres[1:])) else None


def row_columns(rows: Sequence[Sequence[Value]], n: int) -> list[Columns]:
    """Columns from the rows that print every value (``n``, each with its box), per page: the median centre of
    each column."""
    by_page: dict[int | None, list[list[float]]] = {}
    for values in rows:
        if len(values) != n:
            continue
        xs = [centre_of(v) for v in values]
        pages = {v.provenance.page for v in values}
        if len(pages) != 1 or any(x is None for x in xs):
            continue
        by_page.setdefault(pages.pop(), []).append([x for x in xs if x is not None])
    out = []
    for page, rows_xs in by_page.items():
        centres = tuple(statistics.median(col) for col in zip(*rows_xs))
        if all(b > a for a, b in zip(centres, centres[1:])):
            out.append(Columns(page, centres, "rows"))
    return out


def _parts(value: Value, columns: Columns) -> list[tuple[int, Value]] | None:
    """The value cut where its characters change column: (column, part) each; None when a character cannot be
    placed or a part is no number."""
    assert value.ocr is not None
    groups: dict[int, list[OcrChar]] = {}
    for ch in value.ocr.chars:
        if not ch.text.strip():
            continue
        x = _char_x(value, ch)
        col = columns.column_of(x) if x is not None else None
        if col is None:
            return None
        groups.setdefault(col, []).append(ch)
    out = []
    scale = _scale(value)
    assert scale is not None and value.provenance.bbox is not None
    offset, factor = scale
    for col, chars in sorted(groups.items()):
        text = "".join(c.text for c in chars)
        parsed = parse_number(text)
        if parsed.status != "value":
            return None
        x0, x1 = offset + min(c.box[0] for c in chars) * factor, offset + max(c.box[2] for c in chars) * factor
        _, y0, _, y1 = value.provenance.bbox
        confidence = round(min(value.provenance.confidence, min(c.confidence for c in chars)), 5)
        prov = value.provenance.model_copy(
            update={"bbox": (round(x0, 2), y0, round(x1, 2), y1), "confidence": confidence}
        )
        ocr = OcrText(text=text, confidence=confidence, box=value.ocr.box, chars=tuple(chars))
        out.append((col, Value(text, parsed, prov, ocr)))
    return out


def place(values: Sequence[Value], n: int, columns: Sequence[Columns]) -> Placement | None:
    """The values of a row printing fewer than ``n`` under the ``n`` columns by their x-positions: the columns
    measured on the values' own page first (the header's, then the full rows'), else on another page. None when
    a value has no box, lies near a boundary or outside the table, or two values fall under one column."""
    pages = {v.provenance.page for v in values}
    if not values or len(values) >= n or any(v.provenance.bbox is None for v in values) or len(pages) != 1:
        return None
    page = pages.pop()
    usable = [c for c in columns if len(c.centres) == n]
    ordered = [c for c in usable if c.page == page] + [c for c in usable if c.page != page]
    for cols in ordered[:1]:
        slots: list[Value | None] = [None] * n
        reasons = [NOTHING] * n
        # printed values first; a blank cell (a grid cell printing nothing) only holds a column nothing else does
        for value in sorted(values, key=lambda v: v.blank):
            x = centre_of(value)
            col = cols.column_of(x) if x is not None else None
            placed: list[tuple[int, Value]] | None = [(col, value)] if col is not None else None
            if value.ocr is not None and len(value.ocr.chars) > 1 and not value.blank:
                parts = _parts(value, cols)
                if parts is not None and len(parts) > 1:
                    placed = parts
            if value.blank:
                if placed is not None and slots[placed[0][0]] is None:
                    slots[placed[0][0]] = value
                    reasons[placed[0][0]] = PLACED
                continue
            if placed is None:
                return None
            for k, part in placed:
                if slots[k] is not None:
                    return None
                slots[k] = part
                reasons[k] = SPLIT if part is not value else PLACED
        return Placement(slots, reasons, cols)
    return None


def placed_cells(
    placement: Placement, ids: Sequence[str], value_types: Sequence[str] | None = None
) -> dict[str, CellValue]:
    """The cells of a placed row, every one flagged with why it stands where it does."""
    out: dict[str, CellValue] = {}
    for k, (cid, value, reason) in enumerate(zip(ids, placement.slots, placement.reasons)):
        if value is None:
            cell = CellValue(value=None, raw="", status="blank", confidence=0.5)
        else:
            cell = cell_from_value(value, value_type=value_types[k] if value_types else "count")
        cell.needs_review = True
        add_reason(cell, _CODES[reason])
        out[cid] = cell
    return out


def placed_deviation(what: str, row: Row, placement: Placement, ids: Sequence[str]) -> Deviation:
    """The finding of a row placed by position: what it printed, and where each value went."""
    where = ", ".join(
        f"{v.raw.strip() or '(blank)'}→{cid.rsplit('.', 1)[-1]}"
        for cid, v in zip(ids, placement.slots)
        if v is not None
    )
    return deviation(
        "xxgk_placed_by_position",
        f"{what} {row.text!r} prints {sum(v is not None for v in placement.slots)} values where {len(ids)} are "
        f"expected; placed by their x-positions under the {placement.columns.by}'s columns: {where}",
        list(ids),
        severity="warning",
    )


def split_apart(values: Sequence[Value], n: int) -> tuple[list[Value], int] | None:
    """A row one value short of ``n`` where one OCR cell reads two numbers with a gap between them (``1 0``: the
    ruling that parted two cells lost, and the header's with it, so no column can be measured): that cell read
    as two, cut at the gap. Returns the values and the index of the first part; None unless exactly one such
    cell makes the row ``n`` values."""
    if len(values) != n - 1:
        return None
    found = []
    for i, v in enumerate(values):
        scale = _scale(v)
        if v.ocr is None or v.parsed.spaced != "irregular" or scale is None or v.provenance.bbox is None:
            continue
        tokens = v.raw.split()
        chars = [c for c in v.ocr.chars if c.text.strip()]
        if len(tokens) != 2 or "".join(tokens) != "".join(c.text for c in chars):
            continue
        offset, factor = scale
        _, y0, _, y1 = v.provenance.bbox
        parts = []
        for text, group in ((tokens[0], chars[: len(tokens[0])]), (tokens[1], chars[len(tokens[0]) :])):
            parsed = parse_number(text)
            if parsed.status != "value":
                break
            x0, x1 = offset + min(c.box[0] for c in group) * factor, offset + max(c.box[2] for c in group) * factor
            prov = v.provenance.model_copy(update={"bbox": (round(x0, 2), y0, round(x1, 2), y1)})
            conf = round(min(c.confidence for c in group), 5)
            parts.append(
                Value(text, parsed, prov, OcrText(text=text, confidence=conf, box=v.ocr.box, chars=tuple(group)))
            )
        if len(parts) == 2:
            found.append((i, parts))
    if len(found) != 1:
        return None
    i, parts = found[0]
    return [*values[:i], *parts, *values[i + 1 :]], i


def mark_apart(cells: Sequence[CellValue]) -> None:
    """Cells of a row read after ``split_apart``: from the cut on, their column is a guess: flagged."""
    for cell in cells:
        cell.needs_review = True
        add_reason(cell, "read_apart")


def value_in_label(row: Row, placement: Placement) -> None:
    """A placed row whose first column is empty and whose last label cell ends in a number after its words
    (``行政处罚2648``: the ruling between the label and the first value lost, both read as one cell): that number
    is the first column's value (flagged)."""
    if placement.slots[0] is not None or not row.labels or not row.label_provenance:
        return
    m = _LABEL_THEN_NUMBER.match(row.labels[-1].replace(" ", ""))
    if m is None:
        return
    raw = m.group("number")
    prov = row.label_provenance[-1]
    placement.slots[0] = Value(
        raw, parse_number(raw), prov.model_copy(update={"confidence": min(prov.confidence, 0.5)})
    )
    placement.reasons[0] = IN_LABEL
