"""Request and response shapes of the API (the extraction result itself is the output contract, service.result)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

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
    coverage: CoverageStatus | None = Field(None, description="how complete the newest result is: complete, partial "
                                                              "(cells not read, flagged for review) or failed (no "
                                                              "table read); none for results stored before coverage")
    coverage_reasons: list[str] = Field(default_factory=list, description="why not complete (t4: table not located …)")
    version: int = 0
    approved: bool = False
    approved_by: str | None = None
    created_at: datetime
    updated_at: datetime


class ReportList(BaseModel):
    total: int
    items: list[ReportSummary]


class ReportOut(ReportSummary):
    result: dict[str, Any] | None = Field(None, description="the output contract of the newest result version "
                                                            "(each cell with its version)")


class Correction(BaseModel):
    value: int | float | None = Field(description="the value the document prints (null: the cell is blank)")
    expected_version: int = Field(description="the cell's version this correction was made against")
    reason: str | None = Field(None, max_length=2000)


class Preview(BaseModel):
    value: int | float | None


class CorrectionOut(BaseModel):
    cell_id: str
    cell: dict[str, Any]
    checks: list[dict[str, Any]]
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


class Queue(BaseModel):
    total: int
    items: list[QueueItem]


class AuditOut(BaseModel):
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
    version: int
    kind: str
    created_by: str
    created_at: datetime
