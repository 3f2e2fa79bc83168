"""Request and response shapes of the API (the extraction result itself is the output contract, service.result)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from service.result import CellValue, Check, Result
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


class ReportOut(ReportSummary):
    result: Result | None = Field(
        None, description="the output contract of the newest result version (each cell with its version)"
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

    @classmethod
    def of(cls, cell: Cell, report: Report) -> QueueItem:
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
