"""Request and response shapes of the API (the extraction result itself is the output contract, service.result)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from service import messages
from service.messages import Lang
from service.result import CellValue, Check, ReasonCode, Result
from service.schema import DEFAULT_FORMAT as _FMT
from service.schema import cell_label
from service.store.orm import Cell, Report

JobStatus = Literal["queued", "running", "done", "failed"]
CoverageStatus = Literal["complete", "partial", "failed"]


class Uploaded(BaseModel):
    id: str = Field(description="the report id (the same file uploaded again gives the same id)")
    job: str | None = Field(None, description="the extraction job queued for it (none for a known file)")
    status: JobStatus
    duplicate: bool = False


class ReportSummary(BaseModel):
    id: str
    filename: str
    sha256: str
    status: JobStatus
    error: str | None = None
    agency: str | None = None
    year: int | None = None
    format: str | None = None
    pages: int | None = None
    needs_review: int = 0
    failing_checks: int = 0
    coverage: CoverageStatus | None = Field(
        None,
        description="how complete the newest result is: complete, partial "
        "(cells not read, flagged for review) or failed (no "
        "table read); none for results stored before coverage",
    )
    coverage_reasons: list[str] = Field(default_factory=list, description="why not complete (t4: table not located …)")
    version: int = 0
    approved: bool = False
    approved_by: str | None = None
    # every flag of the newest version is a layout deviation the report explains: POST /v1/review/approve-explained
    only_explained: bool = False
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, report: Report) -> ReportSummary:
        return cls(
            id=report.id,
            filename=report.filename,
            sha256=report.sha256,
            status=report.status,  # the store writes only JobStatus values
            error=report.error,
            agency=report.agency,
            year=report.year,
            format=report.format,
            pages=report.pages,
            needs_review=report.needs_review,
            failing_checks=report.failing_checks,
            coverage=report.coverage,
            coverage_reasons=split_reasons(report.coverage_reasons),
            version=report.version,
            approved=report.approved_at is not None,
            approved_by=report.approved_by,
            only_explained=bool(report.only_explained),
            created_at=report.created_at,
            updated_at=report.updated_at,
        )


def split_reasons(text: str | None) -> list[str]:
    """Reasons as the store keeps them ("; "-joined) as a list."""
    return [x for x in (text or "").split("; ") if x]


class ReportList(BaseModel):
    total: int
    items: list[ReportSummary]


class ReasonOut(BaseModel):
    """One review reason: its stable code and parameters (a client translates them with the catalogue,
    configs/messages/reasons.yaml) and its text in the language asked."""

    reason_code: str | None = Field(description="stable code (null: a reason outside the catalogue, text as written)")
    params: dict[str, str | int | float] = Field(default_factory=dict)
    text: str


def reason_items(texts: list[str], codes: list[Any], lang: Lang, fmt: str) -> list[ReasonOut]:
    return [
        ReasonOut(
            reason_code=rc.code if rc is not None else None,
            params=dict(rc.params) if rc is not None else {},
            text=messages.reason_text(rc, text, lang, fmt),
        )
        for text, rc in zip(texts, codes)
    ]


class Labels(BaseModel):
    """A cell as the report's format prints it: 三（三）2.其他法律行政法规禁止公开 × 商业企业."""

    table_label: str | None = None  # 表二 / 表三 / 表四
    row_label: str | None = None
    column_label: str | None = None
    column_group: str | None = None  # 法人或其他组织 over 商业企业 … 其他

    @classmethod
    def of(cls, fmt: str | None, cell_id: str) -> Labels:
        lab = cell_label(fmt or _FMT, cell_id)
        if lab is None:
            return cls()
        return cls(table_label=lab.table, row_label=lab.row, column_label=lab.column, column_group=lab.column_group)


class CellView(Labels):
    """A cell of the report page in the reviewer's language."""

    status: str
    reasons: list[ReasonOut] = Field(default_factory=list)
    # the raw reading of the cell's row (OCR text with boxes, the text-layer line) and one-click candidates
    # (:func:`start_from`); null for a cell not flagged or whose row nothing was read of
    start_from: dict[str, Any] | None = None


class DeviationView(BaseModel):
    id: str
    severity: str
    title: str = Field(description="the deviation in the language asked (the id stays in `id`)")
    message: str = Field(description="the pipeline's finding as written (English, with the printed text)")
    cells: list[str] = Field(default_factory=list)
    cell_labels: list[str] = Field(default_factory=list, description="the cells as printed: row × column")


class CheckView(BaseModel):
    index: int = Field(description="position in result.checks")
    rule: str
    rule_title: str
    instance: str
    status: str
    text: str = Field(description="the rule as the equation in printed labels with the numbers")

    @classmethod
    def all_of(cls, result: Result, lang: Lang) -> list[CheckView]:
        return [
            cls(
                index=k,
                rule=c.rule,
                rule_title=messages.rule_title(c.rule, lang),
                instance=c.instance,
                status=c.status,
                text=messages.check_text(c, result.cells, result.format, lang),
            )
            for k, c in enumerate(result.checks)
        ]


class ReportView(BaseModel):
    """The newest result in the reviewer's language: every cell's printed labels and reasons, the deviations and
    the rule results (the codes stay in the fields beside the text)."""

    lang: Lang
    cells: dict[str, CellView]
    deviations: list[DeviationView]
    checks: list[CheckView]
    coverage_reasons: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, result: Result, lang: Lang) -> ReportView:
        fmt = result.format
        cells = {}
        for cid, cell in result.cells.items():
            codes = messages.codes_of(cell)
            cells[cid] = CellView(
                **Labels.of(fmt, cid).model_dump(),
                status=cell.status,
                reasons=reason_items(cell.review_reasons, codes, lang, fmt),
                start_from=start_from(result, cid, lang) if cell.needs_review else None,
            )
        devs = [
            DeviationView(
                id=d.id,
                severity=d.severity,
                title=messages.deviation_title(d.id, lang),
                message=d.message,
                cells=d.cells,
                cell_labels=[lab.text for c in d.cells if (lab := cell_label(fmt, c)) is not None],
            )
            for d in result.deviations
        ]
        checks = CheckView.all_of(result, lang)
        reasons = result.coverage.reasons if result.coverage else []
        return cls(
            lang=lang,
            cells=cells,
            deviations=devs,
            checks=checks,
            coverage_reasons=[messages.coverage_text(r, lang) for r in reasons],
        )


class ReportOut(ReportSummary):
    result: Result | None = Field(
        None, description="the output contract of the newest result version (each cell with its version)"
    )
    view: ReportView | None = Field(
        None, description="the result in the reviewer's language (?lang=zh, the default; en): labels, reasons, rules"
    )


CellNumber = StrictInt | StrictFloat | None  # JSON numbers only: true, "5" are no values (checked per cell: review)


class Correction(BaseModel):
    value: CellNumber = Field(
        description="the value the document prints (null: the cell is blank); a count: a whole number >= 0 "
        "(本年增/减 may be negative); an amount (万元, 元): a number >= 0, at most 6 decimals"
    )
    expected_version: int = Field(description="the cell's version this correction was made against")
    reason: str | None = Field(None, max_length=2000)


class Preview(BaseModel):
    value: CellNumber


class CorrectionOut(BaseModel):
    cell_id: str
    cell: CellValue
    checks: list[Check]
    result_version: int
    needs_review: int
    failing_checks: int
    # the re-run checks in the reviewer's language (?lang=zh, the default; en), one per entry of ``checks``
    check_views: list[CheckView] = Field(default_factory=list)


class Approval(BaseModel):
    reason: str | None = Field(None, max_length=2000)


class CellChange(BaseModel):
    cell_id: str = Field(max_length=120)
    value: CellNumber = Field(description="as in Correction")
    expected_version: int = Field(description="the cell's version this value was made against")


class Corrections(BaseModel):
    """Several cells of one report saved together (a whole row accepted): all or nothing."""

    changes: list[CellChange] = Field(min_length=1, max_length=200)
    reason: str | None = Field(None, max_length=2000)


class CorrectionsOut(BaseModel):
    cells: dict[str, CellValue]  # the changed cells as stored
    checks: list[Check]
    result_version: int
    needs_review: int
    failing_checks: int
    check_views: list[CheckView] = Field(default_factory=list)


class BatchApproval(BaseModel):
    """Approve reports whose only flags are layout deviations they explain (``only_explained``)."""

    report_ids: list[str] | None = Field(
        None, max_length=1000, description="the reports to approve; null: every such report the caller sees"
    )
    reason: str | None = Field(None, max_length=2000)


class Skipped(BaseModel):
    id: str
    why: str


class BatchApproved(BaseModel):
    approved: list[str]
    skipped: list[Skipped] = Field(default_factory=list)


class QueueItem(BaseModel):
    report_id: str
    filename: str
    agency: str | None
    year: int | None
    cell_id: str
    value: float | None
    raw: str | None
    status: str
    confidence: float
    reasons: list[str]
    version: int
    # the reviewer's language (?lang=zh, the default; en): the printed labels and each reason with its code
    row_label: str | None = None
    column_label: str | None = None
    column_group: str | None = None
    table_label: str | None = None
    reason_items: list[ReasonOut] = Field(default_factory=list)
    # the raw reading of the cell's row and one-click candidates (:func:`start_from`)
    start_from: dict[str, Any] | None = None

    @classmethod
    def of(cls, cell: Cell, report: Report, lang: Lang = "zh", result: Result | None = None) -> QueueItem:
        fmt = report.format or _FMT
        texts = messages.split_joined(cell.reasons or "")
        stored = [ReasonCode.model_validate(c) for c in cell.codes] if cell.codes else None
        codes = stored if stored is not None and len(stored) == len(texts) else [messages.parse(t) for t in texts]
        return cls(
            report_id=report.id,
            filename=report.filename,
            agency=report.agency,
            year=report.year,
            cell_id=cell.cell_id,
            value=cell.value,
            raw=cell.raw,
            status=cell.status,
            confidence=cell.confidence,
            reasons=texts,
            version=cell.version,
            **Labels.of(fmt, cell.cell_id).model_dump(),
            reason_items=reason_items(texts, codes, lang, fmt),
            start_from=start_from(result, cell.cell_id, lang) if result is not None else None,
        )


class Queue(BaseModel):
    total: int
    items: list[QueueItem]


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    role: str
    action: str
    report_id: str
    cell_id: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reason: str | None


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    kind: str
    created_by: str
    created_at: datetime


_HOW = {
    "zh": {
        "row": "按读出的顺序填入本行",
        "gap": "按读出的顺序填入，未读出的值按规则推算",
        "split": "把连在一起的数字拆开，按列填入",
    },
    "en": {
        "row": "the values read, in order",
        "gap": "the values read in order; a value not read is what the rules require",
        "split": "digits that ran together cut into the columns",
    },
}


def start_from(result: Result, cell_id: str, lang: Lang = "zh") -> dict[str, Any] | None:
    """Where the reviewer starts for ``cell_id``: the raw reading of its row (tokens with page and box), the
    row's one-click candidates (``proposed``: the one the rules single out) and the value a rule infers for the
    cell. None when nothing was read of its row and no rule infers it."""
    cell = result.cells.get(cell_id)
    reading = next((r for r in result.row_readings if cell_id in r.cells), None)
    inferred = cell.inferred_value if cell is not None else None
    if reading is None and inferred is None:
        return None
    fmt = result.format
    out: dict[str, Any] = {"inferred": inferred, "row": None, "cells": [], "read": None, "candidates": []}
    if reading is None:
        return out
    labels = [cell_label(fmt, c) for c in reading.cells]
    out.update(
        row=reading.row,
        row_label=labels[0].row if labels and labels[0] is not None else None,
        table_label=labels[0].table if labels and labels[0] is not None else None,
        cells=list(reading.cells),
        column_labels=[lab.column if lab is not None else c for lab, c in zip(labels, reading.cells)],
        versions={c: result.cells[c].version for c in reading.cells if c in result.cells},
        read={
            "matched": reading.matched,
            "label": reading.label,
            "text": reading.text,
            "page": reading.page,
            "line": reading.line,
            "origin": reading.origin,
            "tokens": [t.model_dump(mode="json") for t in reading.tokens],
        },
        candidates=[
            {
                **c.model_dump(mode="json"),
                "text": _HOW[lang][c.how],
                "summary": (
                    f"{len(c.rules_hold)} 条规则成立，{len(c.rules_broken)} 条不成立"
                    if lang == "zh"
                    else f"{len(c.rules_hold)} rules hold, {len(c.rules_broken)} broken"
                ),
            }
            for c in reading.candidates
        ],
    )
    return out
