"""The official formats as typed objects, loaded from configs/schema/*.yaml, and format detection."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.normalize import clean
from service.resources import read_yaml

FORMATS = ("2019", "2021")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LabelVariant(_Model):
    label: str
    status: str = ""


class Labelled(_Model):
    id: str
    label: str
    label_variants: list[LabelVariant] = Field(default_factory=list)

    def labels(self) -> list[str]:
        return [self.label, *(v.label for v in self.label_variants)]


class Column(Labelled):
    value_type: str = "count"
    group: str | None = None  # table 3: the column group it belongs to (legal_or_other_org: the organisations)


class T2Row(Labelled):
    pass


class T2Block(Labelled):
    columns: list[Column]
    rows: list[T2Row]


class T3Row(Labelled):
    level: int
    parent: str | None = None
    has_values: bool
    number: str | None = None


class CellDef(_Model):
    id: str
    value_type: str = "count"


class Section(_Model):
    id: str
    number: str
    title: str
    heading_in_template: str = ""
    heading_in_instructions: str = ""
    heading_variants: list[LabelVariant] = Field(default_factory=list)


class Rule(_Model):
    id: str
    table: str
    status: str
    kind: str | None = None
    scope: str | None = None
    expr: str = ""
    expanded: list[str] = Field(default_factory=list)
    severity: str = "error"
    applies_to_columns: list[str] = Field(default_factory=list)
    applies_to_rows: list[str] = Field(default_factory=list)


class FormatSchema(_Model):
    format: str
    title: str
    detection_markers: list[str]
    sections: list[Section]
    tables: dict[str, Any]
    rules: list[Rule]
    value_types: dict[str, Any]

    # ---- table 2
    def t2_blocks(self) -> list[T2Block]:
        return [T2Block.model_validate(b) for b in self.tables["t2"]["blocks"]]

    # ---- table 3
    def t3_rows(self) -> list[T3Row]:
        return [T3Row.model_validate(r) for r in self.tables["t3"]["rows"]]

    def t3_columns(self) -> list[Column]:
        return [Column.model_validate(c) for c in self.tables["t3"]["columns"]]

    def t3_value_rows(self) -> list[T3Row]:
        return [r for r in self.t3_rows() if r.has_values]

    def t3_column_ids(self) -> list[str]:
        """The applicant columns in printed order (自然人 first, 总计 last)."""
        return [c.id for c in self.t3_columns()]

    def t3_org_column_ids(self) -> list[str]:
        """The organisation columns (the 法人或其他组织 group), in printed order."""
        return [c.id for c in self.t3_columns() if c.group is not None]

    def t3_row_cells(self, row: str) -> list[str]:
        """The cell ids of one table-3 row, in column order."""
        return [f"t3.{row}.{c}" for c in self.t3_column_ids()]

    # ---- table 4
    def t4_groups(self) -> list[Labelled]:
        return [Labelled.model_validate(r) for r in self.tables["t4"]["logical_rows"]]

    def t4_columns(self) -> list[Labelled]:
        return [Labelled.model_validate(c) for c in self.tables["t4"]["logical_columns"]]

    def t4_cell_ids(self) -> list[str]:
        """The 15 cells of table 4 in printed order (one row: 行政复议, then the two 行政诉讼 groups)."""
        cells = sorted(self.tables["t4"]["cells"], key=lambda c: c["printed_position"])
        return [c["id"] for c in cells]

    # ---- all cells
    def cells(self) -> list[CellDef]:
        out: list[CellDef] = []
        for t in ("t2", "t3", "t4"):
            for c in self.tables[t]["cells"]:
                # t3 lists bare ids (all counts); t2/t4 list objects with their value type
                out.append(CellDef(id=c) if isinstance(c, str) else CellDef.model_validate(c))
        return out

    def cell_ids(self) -> list[str]:
        return [c.id for c in self.cells()]

    def value_type(self, cell_id: str) -> str:
        return self.cell_value_types()[cell_id]

    def cell_value_types(self) -> dict[str, str]:
        cached = self.__dict__.get("_vt")
        if cached is None:
            cached = {c.id: c.value_type for c in self.cells()}
            self.__dict__["_vt"] = cached
        return cached


@cache
def load_format(fmt: str) -> FormatSchema:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return FormatSchema.model_validate(read_yaml(f"configs/schema/{fmt}.yaml"))


@lru_cache(maxsize=1)
def load_labels() -> dict[str, Any]:
    """Extra label synonyms and matcher settings (configs/labels.yaml)."""
    return read_yaml("configs/labels.yaml")


class FormatDecision(BaseModel):
    format: str
    reason: str
    markers_2019: list[str]
    markers_2021: list[str]


_MARKER_ONLY = re.compile(r"^[\w（）()/、·“”\-]+$")


def detect_format(text: str, year: int | None) -> FormatDecision:
    """2019 vs 2021 from label markers; the report year breaks ties."""
    hay = clean(text).replace(" ", "")
    found: dict[str, list[str]] = {}
    for fmt in FORMATS:
        markers = [m for m in load_format(fmt).detection_markers if _MARKER_ONLY.match(m)]
        found[fmt] = [m for m in markers if clean(m).replace(" ", "") in hay]
    n19, n21 = len(found["2019"]), len(found["2021"])
    if n19 != n21:
        fmt = "2019" if n19 > n21 else "2021"
        reason = f"label markers: {n19} of the 2019 format, {n21} of the 2021 format"
    elif year is not None:
        fmt = "2019" if year <= 2020 else "2021"
        reason = f"no marker majority; report year {year}"
    else:
        fmt = "2021"
        reason = "no markers and no year; assumed the current (2021) format"
    return FormatDecision(format=fmt, reason=reason, markers_2019=found["2019"], markers_2021=found["2021"])
