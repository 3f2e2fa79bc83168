"""Request and response shapes of the API (the extraction result itself is the output contract, service.result)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from service import messages
from service.messages import Lang
from service.result import CellValue, Check, Result
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
    # hook (issue 18, item 2): the raw reading of the cell's row (OCR text with boxes, the text-layer line) and
    # one-click candidates; null until that work lands
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
    # hook (issue 18, item 2): the raw reading of the cell's row and one-click candidates; null until that lands
    start_from: dict[str, Any] | None = None

    @classmethod
    def of(cls, cell: Cell, report: Report, lang: Lang = "zh") -> QueueItem:
        fmt = report.format or _FMT
        texts = messages.split_joined(cell.reasons or "")
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
            reasons=split_reasons(cell.reasons),
            version=cell.version,
            **Labels.of(fmt, cell.cell_id).model_dump(),
            reason_items=reason_items(texts, [messages.parse(t) for t in texts], lang, fmt),
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
