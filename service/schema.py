"""The official formats as typed objects, loaded from configs/schema/*.yaml, and format detection."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.normalize import clean
from service.resources import read_yaml

FORMATS = ("2019", "2021")
DEFAULT_FORMAT = "2021"  # the current format: labels of a report whose format is not known yet


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


# ---- printed labels: a cell as the reviewer finds it on the page


class PrintedLabel(BaseModel):
    """A cell's row and column as the format prints them: ``row`` the printed row label with its numbering path
    (三（三）2.其他法律行政法规禁止公开), ``column`` the printed column label (商业企业); ``number`` the numbering path
    alone (三（三）2; t2/t4: the row label), ``short`` the numbering with the row's own words (三（七）总计; top-level
    rows: 一), for equations."""

    table: str  # 表二, 表三, 表四
    row: str
    column: str
    column_group: str | None = None  # 法人或其他组织 over 商业企业 … 其他; 行政诉讼 over its two groups
    number: str
    short: str

    @property
    def text(self) -> str:
        return f"{self.row} × {self.column}"


_TABLE_NAMES = {"t2": "表二", "t3": "表三", "t4": "表四"}


def _bare(row: T3Row) -> str:
    """A table-3 row's label without its own numbering (（七）总计 → 总计)."""
    if row.number and row.label.startswith(row.number):
        return row.label[len(row.number) :].lstrip("、.．")
    return row.label


def _t3_row_labels(schema: FormatSchema) -> dict[str, tuple[str, str, str]]:
    """Per table-3 row id: (printed label with its numbering path, numbering path, short form)."""
    rows = {r.id: r for r in schema.t3_rows()}
    out: dict[str, tuple[str, str, str]] = {}
    for r in rows.values():
        path: list[str] = []
        parent = rows.get(r.parent) if r.parent else None
        while parent is not None:
            path.insert(0, parent.number or "")
            parent = rows.get(parent.parent) if parent.parent else None
        prefix = "".join(path)
        number = prefix + (r.number or "")
        short = number if r.level == 0 else number + _bare(r)
        out[r.id] = (prefix + r.label, number, short)
    for d in schema.tables["t3"].get("derived_rows", []) or []:
        if isinstance(d, dict) and d.get("id") and d["id"] not in out:
            name = str(d.get("label", d["id"]))
            out[str(d["id"])] = (name, name, name)
    return out


@cache
def printed_labels(fmt: str) -> dict[str, PrintedLabel]:
    """Every cell id of the format (and the derived table-3 cells the rules name) → its printed labels."""
    schema = load_format(fmt)
    out: dict[str, PrintedLabel] = {}
    for block in schema.t2_blocks():
        for t2row in block.rows:
            label = f"{block.label} {t2row.label}"
            for col in block.columns:
                out[f"t2.{block.id}.{t2row.id}.{col.id}"] = PrintedLabel(
                    table="表二", row=label, column=col.label, number=label, short=label
                )
    rows = _t3_row_labels(schema)
    groups = {g["id"]: g["label"] for g in schema.tables["t3"].get("column_groups", [])}
    columns = [(c.id, c.label, groups.get(c.group) if c.group else None) for c in schema.t3_columns()]
    columns += [(g, label, None) for g, label in groups.items() if g != "applicant"]  # derived subtotal column
    for rid, (row_text, number, short) in rows.items():
        for cid, label, group in columns:
            out[f"t3.{rid}.{cid}"] = PrintedLabel(
                table="表三", row=row_text, column=label, column_group=group, number=number, short=short
            )
    for c in schema.tables["t4"]["cells"]:
        group, sup = c["group_label"], c.get("super_group_label") or c["group_label"]
        name = group if sup == group else f"{sup} {group}"
        out[c["id"]] = PrintedLabel(
            table="表四",
            row=name,
            column=c["label"],
            column_group=None if sup == group else sup,
            number=name,
            short=name,
        )
    return out


def cell_label(fmt: str, cell_id: str) -> PrintedLabel | None:
    """The printed labels of one cell of format ``fmt`` (None: not a cell of the format)."""
    return printed_labels(fmt).get(cell_id)


def row_label(fmt: str, row_id: str) -> str | None:
    """The printed label of a row id (t3.granted, granted, t2.art20_1.regulations, t4.review); None if unknown."""
    key = row_id if row_id.startswith(("t2.", "t3.", "t4.")) else f"t3.{row_id}"
    for cid, label in printed_labels(fmt).items():
        if cid.rsplit(".", 1)[0] == key:
            return label.row
    return None


def table_name(table: str) -> str:
    """表二/表三/表四 for t2/t3/t4."""
    return _TABLE_NAMES.get(table, table)
