"""The output contract: what ``xxgk extract`` writes (documented by schemas/result.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from service.document import BBox, OcrText, Origin

SCHEMA_VERSION = "1.4"  # 1.1: cell version, status corrected; 1.2: coverage; 1.3: review_codes; 1.4: row_readings

CellStatus = Literal[
    "read",  # printed value, read as is
    "blank",  # printed cell is empty (value null; blank is not zero)
    "not_applicable",  # printed '/', '—', '不适用' …
    "absent",  # the document has no such cell (lost column, missing total)
    "inferred",  # value not printed as such; derived (rule, split of run-together digits …), see inferred_by
    "repaired",  # an OCR reading replaced by a likelier one that the rules support; original_value keeps the reading
    "unparseable",  # printed text that is not a number
    # a reviewer's value (service: PATCH /v1/reports/{id}/cells/{cell_id}); original_value keeps the machine's
    "corrected",
]


class CellSource(BaseModel):
    page: int | None = None
    bbox: BBox | None = None
    origin: Origin
    line: int | None = None
    sealed: bool = False  # a scanned cell under a red seal or stamp (its reading may be obscured)
    layout_model: bool = False  # a scanned cell of a table the layout model found (no printed rulings to follow)
    streak: bool = False  # a scanned cell a toner streak ran through (taken out before reading)
    unruled: bool = False  # a scanned cell of a table printed without inner rulings (column from the whitespace)


class ReasonCode(BaseModel):
    """A review reason as a stable code and its parameters (configs/messages/reasons.yaml has its English and
    Chinese templates): what a client translates; ``review_reasons`` keeps the English text."""

    code: str
    params: dict[str, str | int | float] = Field(default_factory=dict)


class CellValue(BaseModel):
    value: int | float | None = None
    raw: str | None = None
    status: CellStatus
    confidence: float = 1.0
    needs_review: bool = False
    review_reasons: list[str] = Field(default_factory=list)
    # the same reasons, one for one, as codes with parameters (empty in results written before schema 1.3)
    review_codes: list[ReasonCode] = Field(default_factory=list)
    source: CellSource | None = None
    unit: str | None = None
    note: str | None = None  # note printed inside the cell, e.g. 其中修订16件
    inferred_value: int | float | None = None  # for absent cells: what a rule implies (never put in value)
    inferred_by: str | None = None  # rule or method behind an inferred value
    alternatives: list[int | float] = Field(default_factory=list)  # other readings that also fit
    original_value: int | float | None = None  # repaired / corrected cells: the value as read (raw keeps the text)
    repaired_by: list[str] = Field(default_factory=list)  # repaired cells: the rules the repair satisfies
    version: int = 1  # 1 as extracted; each reviewer correction adds one (a correction names the version it saw)
    # the OCR reading behind the value (characters with their alternatives): in-process only, not in the output
    ocr: OcrText | None = Field(default=None, exclude=True)


class Check(BaseModel):
    rule: str
    instance: str  # column, row or group the rule was applied to
    status: Literal["pass", "fail", "not_assessable"]
    severity: str = "error"
    rule_status: str = ""  # stated | implied | heuristic (spec status of the rule)
    expr: str
    lhs: float | None = None
    rhs: float | None = None
    delta: float | None = None
    cells: list[str] = Field(default_factory=list)
    blank_cells: list[str] = Field(default_factory=list)  # counted as 0 in this check
    inferred_cells: list[str] = Field(default_factory=list)
    message: str = ""


class Fact(BaseModel):
    """A number the report's text states, tagged by the classifier with what it means."""

    id: str  # the table cell it states (t3.new_received.total) or a text-only id (x.policy_interpretations)
    kind: Literal["cell", "text"]
    value: int | float | None = None
    text: str  # the number as printed
    sentence: str  # the sentence that states it
    block: int  # index of the text block in the document
    start: int  # character offsets of the number in the block's text
    end: int
    page: int | None = None
    bbox: BBox | None = None  # of the text block
    origin: Origin
    cue: str | None = None  # the cue word(s) that say what the number counts (共收到, 主动公开…规章)
    # where the cue stands: before the number, after it, a verb + noun; "~": the cue matched with one look-alike
    evidence: Literal["cue", "after", "noun+verb", "cue~", "after~", "noun+verb~"] = "cue"
    classifier: float | None = None  # the token classifier's probability for this fact id
    confidence: float


class Deviation(BaseModel):
    id: str  # spec deviation id (dev_…) or an xxgk id
    message: str
    cells: list[str] = Field(default_factory=list)
    severity: Literal["info", "warning", "error"] = "warning"


class Section(BaseModel):
    id: str
    number: str
    title: str
    heading: str | None = None  # as printed
    found: bool = False
    text: str = ""


CoverageStatus = Literal["complete", "partial", "failed"]


class TableCoverage(BaseModel):
    """How much of one standard table was found and read."""

    located: bool = False
    # what found it: "heading" (its section heading), "labels" (its row labels and values, no heading),
    # "classifier" (the token classifier's table labels), "grid" (a table grid placed by its header)
    located_by: list[str] = Field(default_factory=list)
    rows_expected: int = 0
    rows_mapped: int = 0
    cells_expected: int = 0
    cells_read: int = 0  # a value was printed and read (read, repaired, inferred, corrected)
    cells_blank: int = 0  # printed empty or not applicable
    cells_absent: int = 0  # expected but not read
    cells_absent_explained: int = 0  # … of which a deviation of the source explains (dev_*)
    cells_unparseable: int = 0
    cells_flagged: int = 0  # needs_review


class Coverage(BaseModel):
    """How complete a result is. ``complete``: every expected cell was read, printed blank, or is absent for a
    reason the document itself gives (a ``dev_*`` deviation); ``partial``: some expected cells were not read
    (each is flagged, with the reason); ``failed``: no standard table was read at all."""

    status: CoverageStatus
    reasons: list[str] = Field(default_factory=list)  # why not complete
    tables: dict[str, TableCoverage] = Field(default_factory=dict)  # t2, t3, t4
    cells_expected: int = 0
    cells_read: int = 0
    cells_blank: int = 0
    cells_absent: int = 0
    cells_absent_explained: int = 0
    cells_unparseable: int = 0
    cells_flagged: int = 0


class ReadToken(BaseModel):
    """One value of a printed row as it was read (an OCR'd cell, a text-layer word, a number of a text line)."""

    raw: str
    value: int | float | None = None  # the number it parses to (None: blank or not a number)
    page: int | None = None
    bbox: BBox | None = None  # page units, as CellSource.bbox
    confidence: float | None = None  # the reading's (OCR) confidence; 1.0 for text


class RowCandidate(BaseModel):
    """A one-click reading of a whole row for the reviewer: a value per cell of the row."""

    values: dict[str, int | float | None]  # cell id -> value (None: nothing to propose, the reviewer types it)
    raw: dict[str, str | None] = Field(default_factory=dict)  # cell id -> the read text the value comes from
    # split: the read values (digits run together cut apart) put in the columns in order; gap: the read values in
    # order with a value lost where nothing was read, its value what the rules then require; row: a row read
    # without (or with another) label where this row is printed, its values in order
    how: Literal["split", "gap", "row"]
    rules_hold: list[str] = Field(default_factory=list)  # equations (their text) that hold with these values
    rules_broken: list[str] = Field(default_factory=list)  # … that these values break
    proposed: bool = False  # the one candidate the rules single out (every row rule holds, no rival as good)


class RowReading(BaseModel):
    """What was read of a row of the format that has a cell the reviewer must look at (a cell not read, placed by
    position or otherwise uncertain): the raw reading and one-click candidates (issue 18: start from what was
    read)."""

    row: str  # t3.partially_granted, t2.art20_1.regulations, t4 (table 4 is one logical row of 15 cells)
    cells: list[str]  # the row's cells, left to right as printed
    matched: bool = True  # False: the row was not found by its label; ``tokens`` are of a row read where it belongs
    label: str | None = None  # the printed label as read
    text: str = ""  # the whole line as read (label and values)
    page: int | None = None
    line: int | None = None  # 1-based line of a text source
    origin: Origin | None = None
    tokens: list[ReadToken] = Field(default_factory=list)
    candidates: list[RowCandidate] = Field(default_factory=list)


class DocumentInfo(BaseModel):
    path: str
    sha256: str
    kind: str
    pages: int


class Result(BaseModel):
    schema_version: str = SCHEMA_VERSION
    pipeline_version: str
    document: DocumentInfo
    format: Literal["2019", "2021"]
    format_reason: str = ""
    agency: str | None = None
    year: int | None = None
    published: str | None = None  # publication date (ISO) when the document prints one
    metadata_source: dict[str, str] = Field(default_factory=dict)  # field -> "title" (pattern) | "classifier"
    cells: dict[str, CellValue]
    checks: list[Check] = Field(default_factory=list)
    deviations: list[Deviation] = Field(default_factory=list)
    sections: dict[str, Section] = Field(default_factory=dict)
    facts: list[Fact] = Field(default_factory=list)
    coverage: Coverage | None = None  # None only in results stored before schema 1.2
    # rows with a cell to review: their raw reading and one-click candidates (empty before schema 1.4)
    row_readings: list[RowReading] = Field(default_factory=list)

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)


def json_schema() -> dict:
    return Result.model_json_schema(mode="serialization")


def write_json_schema(path: Path) -> None:
    path.write_text(json.dumps(json_schema(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
