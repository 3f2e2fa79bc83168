"""The store's tables (SQLAlchemy 2). Alembic migrations in ``service/store/migrations`` create them.

A report is one uploaded file (content-addressed by sha256). Its results are versioned: version 1 is the
machine extraction, every human correction adds a version; nothing is overwritten. ``cells`` is the current view
of the newest version (what the review queue and the exports query). The audit log is append-only (database
triggers refuse UPDATE and DELETE on it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued | running | done | failed
    error: Mapped[str | None] = mapped_column(Text, default=None)
    source: Mapped[str] = mapped_column(String(16), default="upload")  # upload | batch
    pipeline_version: Mapped[str | None] = mapped_column(String(32), default=None)
    format: Mapped[str | None] = mapped_column(String(8), default=None)
    agency: Mapped[str | None] = mapped_column(String(300), default=None, index=True)
    # the agency as tokens are bound to it (crud.agency_key: NFKC, no whitespace, casefolded): who sees the report
    agency_key: Mapped[str | None] = mapped_column(String(300), default=None, index=True)
    year: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    pages: Mapped[int | None] = mapped_column(Integer, default=None)
    needs_review: Mapped[int] = mapped_column(Integer, default=0)  # cells flagged in the newest version
    failing_checks: Mapped[int] = mapped_column(Integer, default=0)
    # every flag of the newest version is a layout deviation the report explains (batch approval; see review.py)
    only_explained: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the newest version's coverage: complete | partial | failed (None: a result stored before coverage existed)
    coverage: Mapped[str | None] = mapped_column(String(16), default=None, index=True)
    coverage_reasons: Mapped[str | None] = mapped_column(Text, default=None)  # why not complete, "; "-joined
    version: Mapped[int] = mapped_column(Integer, default=0)  # newest result version (0: none yet)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    approved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    jobs: Mapped[list[Job]] = relationship(back_populates="report", order_by="Job.created_at")


class ReportUpload(Base):
    """The agencies a report was uploaded for (the agencies of the bound token that uploaded it, as agency keys):
    their tokens see it from the upload on, whatever agency its extraction reads (or before it has read one)."""

    __tablename__ = "report_uploads"

    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    agency_key: Mapped[str] = mapped_column(String(300), primary_key=True, index=True)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # times a worker started it
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)  # where its last attempt ran (node:pid)

    report: Mapped[Report] = relationship(back_populates="jobs")

    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"),)


class Extraction(Base):
    """One machine reading of a file (its content) by one pipeline version, whatever ran it and however often: the
    attempt that inserts this row stores its result; another (a cluster's retried document) finds it and stores
    nothing (``INSERT … ON CONFLICT DO NOTHING``)."""

    __tablename__ = "extractions"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    pipeline_version: Mapped[str] = mapped_column(String(32), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # the result version it stored
    job_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PageReading(Base):
    """A page of a long scan read on its own by a cluster's actor: ``blob`` holds it as the OCR stage left it (the
    actor that reads the document joins the pages); ``error`` where it could not be read there (the join reads it)."""

    __tablename__ = "page_readings"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    pipeline_version: Mapped[str] = mapped_column(String(32), primary_key=True)
    page: Mapped[int] = mapped_column(Integer, primary_key=True)
    blob: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ResultVersion(Base):
    __tablename__ = "result_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # machine | correction
    result: Mapped[dict] = mapped_column(JSON)  # the output contract
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("report_id", "version"),)


class Cell(Base):
    """One schema cell of a report's newest result version."""

    __tablename__ = "cells"

    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    cell_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, default=None)
    raw: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[str] = mapped_column(Text, default="")  # review reasons, "; "-joined
    # the same reasons as codes with parameters, [{code, params}] (None: stored before migration 0007)
    codes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_cells_review", "needs_review", "confidence"),)


class AuditEntry(Base):
    """Append-only: who did what, when, old and new, why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # upload | correct | approve
    report_id: Mapped[str] = mapped_column(String(32), index=True)
    cell_id: Mapped[str | None] = mapped_column(String(120), default=None)
    old: Mapped[dict | None] = mapped_column(JSON, default=None)
    new: Mapped[dict | None] = mapped_column(JSON, default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))  # uploader | reviewer | admin
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)  # None: never
    # the agencies the token is bound to (names as given); None: every report (unbound)
    agencies: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True), default=None)
