"""Turn document blocks into label/value rows, the unit every table assembler works on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service.document import Block, OcrText, Provenance, TableCell
from service.normalize import UNIT_PATTERN, ParsedNumber, clean, label_key, parse_number
from service.understand.classifier import SegmentPrediction, Tagging


@dataclass
class Value:
    """One printed value cell (or run of digits) of a row."""

    raw: str
    parsed: ParsedNumber
    provenance: Provenance
    ocr: OcrText | None = None  # the recognizer's characters and their alternatives (OCR'd cells)

    @property
    def blank(self) -> bool:
        return self.parsed.status == "blank"


@dataclass
class Row:
    """A printed row: its label cells (outermost first) and its value cells in order."""

    labels: list[str]
    values: list[Value]
    provenance: Provenance
    run_together: bool = False  # value digits may have lost their separators
    block_index: int = 0
    label_keys: list[tuple[int, ...]] = field(
        default_factory=list
    )  # segment key of each label (service.understand.encode)
    tag: SegmentPrediction | None = None  # the classifier's reading of the row's leaf label
    label_tags: list[SegmentPrediction | None] = field(default_factory=list)  # … of every label cell
    # where each label cell is printed (grids only; its box places a short row's values, ``service.assemble.place``)
    label_provenance: list[Provenance] = field(default_factory=list)

    @property
    def leaf(self) -> str:
        return self.labels[-1] if self.labels else ""

    @property
    def text(self) -> str:
        return " ".join(self.labels)

    def filled_values(self) -> list[Value]:
        return [v for v in self.values if not v.blank]


_NUMBER_WITH_UNIT = rf"[+-]?\d[\d,]*(?:\.\d+)?\s*(?:{UNIT_PATTERN})?"
_INLINE_NUMBERS = re.compile(rf"^(?P<label>.*?[^\d\s.+\-,])\s*(?P<nums>(?:{_NUMBER_WITH_UNIT}\s*)+)$")


def is_value_text(text: str) -> bool:
    return parse_number(text).status in {"value", "blank", "not_applicable"}


_IDEOGRAPH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def is_value_slot(cell: TableCell, after_label: bool) -> bool:
    """A recognized cell after the row's label that does not read as a number and holds no Chinese word (``°``,
    ``。``, ``6o``: a number the recognizer misread): it stands where a value is printed, so it keeps its column
    as an unreadable value (flagged) instead of joining the labels and shifting every value after it."""
    return after_label and cell.ocr is not None and bool(cell.text) and not _IDEOGRAPH.search(cell.text)


def rows_from_table(block: Block, index: int) -> list[Row]:
    """Rows of a grid; spanning label cells from rows above are repeated as outer labels."""
    grid = block.table
    assert grid is not None
    run_together = grid.method == "run-together"
    expanded = grid.expanded()
    rows: list[Row] = []
    for r, slots in enumerate(expanded):
        seen: set[int] = set()
        cells: list[TableCell] = []
        for cell in slots:
            if cell is None or id(cell) in seen:
                continue
            seen.add(id(cell))
            cells.append(cell)
        if not cells:
            continue
        labels: list[TableCell] = []
        values: list[TableCell] = []
        for cell in cells:
            starts_here = cell.row == r
            if is_value_text(cell.text) or is_value_slot(cell, bool(labels or values)):
                # a value cell that spans down from an earlier row belongs to that row only
                if starts_here:
                    values.append(cell)
            elif not values:
                labels.append(cell)
            else:
                # label text after values (e.g. a note column): keep it as a trailing label
                labels.append(cell)
        if not values and not labels:
            continue
        prov = (values or labels)[0].provenance
        rows.append(
            Row(
                labels=[c.text for c in labels if c.text],
                values=[Value(c.raw, parse_number(c.text), c.provenance, c.ocr) for c in values],
                provenance=prov,
                run_together=run_together,
                block_index=index,
                label_keys=[(index, c.row, c.col) for c in labels if c.text],
                label_provenance=[c.provenance for c in labels if c.text],
            )
        )
    return rows


def rows_from_text(block: Block, index: int) -> list[Row]:
    """A paragraph line inside a table section: 'label 1 2 3' or a loose label/header fragment."""
    rows: list[Row] = []
    # the source's own lines where it has them: a paragraph joined from label lines (a PDF-to-text conversion
    # that printed a table's labels apart from its values) is a row label a line
    lines = block.raw.splitlines() if "\n" in block.raw else block.text.splitlines()
    for line in lines or [block.text]:
        line = clean(line)
        if not line:
            continue
        m = _INLINE_NUMBERS.match(line)
        if m and label_key(m.group("label")):
            nums = re.findall(_NUMBER_WITH_UNIT, m.group("nums"))
            values = [Value(n, parse_number(n), block.provenance) for n in nums]
            rows.append(
                Row([clean(m.group("label"))], values, block.provenance, block_index=index, label_keys=[(index,)])
            )
        elif all(is_value_text(tok) for tok in line.split()):
            values = [Value(t, parse_number(t), block.provenance) for t in line.split()]
            rows.append(Row([], values, block.provenance, block_index=index))
        else:
            rows.append(Row([line], [], block.provenance, block_index=index, label_keys=[(index,)]))
    return rows


def rows_from_blocks(blocks: list[tuple[int, Block]], tagging: Tagging | None = None) -> list[Row]:
    rows: list[Row] = []
    for index, block in blocks:
        if block.kind == "table" and block.table is not None:
            rows.extend(rows_from_table(block, index))
        elif block.kind == "paragraph":
            rows.extend(rows_from_text(block, index))
    if tagging is not None:
        for row in rows:
            row.tag = leaf_tag(row, tagging)
            row.label_tags = [tagging.label_of(k) if len(k) == 3 else None for k in row.label_keys]
    return rows


def leaf_tag(row: Row, tagging: Tagging) -> SegmentPrediction | None:
    """The classifier's label of the row's innermost label cell (a whole text line counts as one label)."""
    for key in reversed(row.label_keys):
        pred = tagging.label_of(key)
        if pred is not None and len(key) == 3:
            return pred
    return None


def trim_values(values: list[Value], expected: int) -> list[Value]:
    """Drop blank padding cells around the values while there are more cells than expected."""
    vals = list(values)
    while len(vals) > expected and vals and vals[0].blank:
        vals.pop(0)
    while len(vals) > expected and vals and vals[-1].blank:
        vals.pop()
    return vals
