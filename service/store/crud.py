"""Operations on the store: register uploads, run the job queue, keep result versions, corrections, approvals,
the review queue and tokens. Every function takes a SQLAlchemy session and commits what it changes.

Tenancy: a token may be bound to agencies (``Token.agencies``); its **scope** (:func:`scope_of`: their agency keys)
then limits every read and write to the reports it may see (:func:`visible`): those whose extracted agency is one of
them, and those uploaded by a token bound to one of them (``report_uploads``; before extraction the agency is
unknown). A report outside the scope is answered as one that does not exist (NotFound). Scope ``None``: every
report (an unbound token, local mode, the command line).

Results go in and come out as :class:`~service.result.Result`; the JSON column of ``result_versions`` is the only
place they are JSON."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service import PIPELINE_VERSION
from service.reconcile.cross import SeriesCheck, cross_report_checks
from service.result import CellValue, Check, Result
from service.review import apply_correction, apply_corrections, only_explained
from service.store.orm import (
    AuditEntry,
    Cell,
    Extraction,
    Job,
    PageReading,
    Report,
    ReportUpload,
    ResultVersion,
    Token,
    utcnow,
)

ROLES = ("uploader", "reviewer", "admin")
MAX_ATTEMPTS = 3  # a job interrupted this many times (crash, kill) fails instead of looping


class NotFound(LookupError):
    pass


class StaleVersion(Exception):
    def __init__(self, current: int, cell_id: str | None = None) -> None:
        self.current = current
        self.cell_id = cell_id
        super().__init__(f"{cell_id or 'the cell'} is at version {current}")


class Conflict(Exception):
    pass


class Unavailable(Exception):
    """A bound caller uploaded the bytes of a report it may not see (another agency's): it is not told which."""


# ------------------------------------------------------------------ tenancy

Scope = tuple[str, ...] | None  # the agency keys a caller is bound to; None: every report


def agency_key(name: str) -> str:
    """An agency's name as tokens and reports are matched on it: NFKC (full-width letters, digits and brackets to
    their plain forms), no whitespace, casefolded — "XX市 XX区人民政府办公室" and "XX市XX区人民政府办公室" are one."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def scope_of(agencies: Iterable[str] | None) -> Scope:
    """The scope of a token bound to ``agencies`` (None: unbound)."""
    return None if agencies is None else tuple(sorted({agency_key(a) for a in agencies}))


def visible(scope: Scope) -> ColumnElement[bool]:
    """The condition on ``Report`` of the reports a caller with ``scope`` sees: its agencies' (as extracted) and
    those uploaded for them."""
    if scope is None:
        return true()
    uploaded = select(ReportUpload.report_id).where(ReportUpload.agency_key.in_(scope))
    return or_(Report.agency_key.in_(scope), Report.id.in_(uploaded))


def new_id() -> str:
    return uuid.uuid4().hex


# ------------------------------------------------------------------ reports and jobs


def register(
    session: Session,
    sha256: str,
    filename: str,
    size: int,
    *,
    actor: str,
    role: str,
    source: str = "upload",
    scope: Scope = None,
) -> tuple[Report, bool]:
    """The report of a file (by content): an existing one, or a new one with a queued job. Returns (report, new).

    ``scope``: the uploader's (a bound token's): a new report is recorded as uploaded for its agencies; the bytes
    of a report it may not see raise Unavailable (one report per content: it is not given another agency's
    report, its corrections and its log, nor told which report it is)."""
    existing = report_by_sha(session, sha256)
    if existing is not None:
        if not _sees(session, existing.id, scope):
            raise Unavailable("this file is in the store for another agency")
        return existing, False
    report = Report(id=new_id(), sha256=sha256, filename=filename, size=size, status="queued", source=source)
    session.add(report)
    session.add_all(ReportUpload(report_id=report.id, agency_key=key) for key in scope or ())
    session.add(Job(id=new_id(), report_id=report.id, status="queued"))
    session.add(
        AuditEntry(
            actor=actor,
            role=role,
            action="upload",
            report_id=report.id,
            new={"filename": filename, "sha256": sha256, "size": size},
        )
    )
    try:
        session.commit()
    except IntegrityError:  # the same file uploaded at the same moment by another request
        session.rollback()
        earlier = report_by_sha(session, sha256)
        if earlier is None:
            raise
        if not _sees(session, earlier.id, scope):
            raise Unavailable("this file is in the store for another agency") from None
        return earlier, False
    return report, True


def _sees(session: Session, report_id: str, scope: Scope) -> bool:
    if scope is None:
        return True
    return session.scalar(select(Report.id).where(Report.id == report_id, visible(scope))) is not None


def requeue(session: Session, report: Report) -> Job:
    """A new job for a report (a failed one, or one done by an older pipeline)."""
    report.status = "queued"
    report.error = None
    job = Job(id=new_id(), report_id=report.id, status="queued")
    session.add(job)
    session.commit()
    return job


def retry(session: Session, report_id: str, *, actor: str, role: str, scope: Scope = None) -> Job:
    """Run a failed report again (a new queued job; the audit log says who asked). Raises NotFound (also for a
    report outside ``scope``), or Conflict when the report has not failed (queued, running or done: nothing to
    retry; two retries at once: one wins)."""
    report = get_report(session, report_id, scope)
    taken = session.execute(
        update(Report)
        .where(Report.id == report_id, Report.status == "failed")
        .values(status="queued", error=None)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], taken).rowcount != 1:
        session.rollback()
        raise Conflict(f"the report is {report.status}, not failed: nothing to retry")
    job = Job(id=new_id(), report_id=report_id, status="queued")
    session.add(job)
    session.add(AuditEntry(actor=actor, role=role, action="retry", report_id=report_id, old={"error": report.error}))
    session.commit()
    return job


@dataclass
class Claimed:
    job_id: str
    report_id: str
    sha256: str
    filename: str


def claim(session: Session) -> Claimed | None:
    """Take the oldest queued job (atomically: two workers never take the same job)."""
    while True:
        row = session.execute(
            select(Job.id, Job.report_id).where(Job.status == "queued").order_by(Job.created_at, Job.id).limit(1)
        ).first()
        if row is None:
            return None
        now = utcnow()
        taken = session.execute(
            update(Job)
            .where(Job.id == row.id, Job.status == "queued")
            .values(status="running", started_at=now, attempts=Job.attempts + 1)
        )
        if cast(CursorResult[Any], taken).rowcount != 1:
            session.rollback()
            continue
        session.execute(update(Report).where(Report.id == row.report_id).values(status="running", error=None))
        session.commit()
        report = session.get_one(Report, row.report_id)
        return Claimed(row.id, row.report_id, report.sha256, report.filename)


def report_by_sha(session: Session, sha256: str) -> Report | None:
    return session.scalar(select(Report).where(Report.sha256 == sha256))


def queued(session: Session) -> int:
    """The number of jobs waiting for a worker."""
    return int(session.scalar(select(func.count()).select_from(Job).where(Job.status == "queued")) or 0)


def recover(session: Session) -> int:
    """After a restart: jobs left running were interrupted; queue them again (or fail them after MAX_ATTEMPTS)."""
    jobs = session.scalars(select(Job).where(Job.status == "running")).all()
    for job in jobs:
        if job.attempts >= MAX_ATTEMPTS:
            _set_failed(job, f"interrupted {job.attempts} times (the worker crashed or the server stopped)")
        else:
            job.status, job.report.status = "queued", "queued"
    session.commit()
    return len(jobs)


def complete(session: Session, job_id: str, result: Result, *, actor: str = "machine") -> Report | None:
    """Store the machine extraction as result version 1 (or the next version after a re-run by a newer pipeline).

    Once per file content and pipeline version, whatever runs it (an ``extractions`` row inserted with ON CONFLICT
    DO NOTHING in the same transaction): an attempt that finds the row there (a cluster retried the document) marks
    its job done and stores nothing; returns None then."""
    job = session.get_one(Job, job_id)
    report = job.report
    if not _first_extraction(session, report, result.pipeline_version, report.version + 1, job_id):
        job.status, job.finished_at, job.error = "done", utcnow(), None
        if report.status != "done":
            report.status, report.error = "done", None
        session.commit()
        return None
    _write_version(session, report, result, report.version + 1, "machine", actor)
    report.status, report.error = "done", None
    report.pipeline_version = result.pipeline_version
    report.format, report.agency, report.year = result.format, result.agency, result.year
    report.agency_key = agency_key(result.agency) if result.agency else None
    report.pages = result.document.pages
    job.status, job.finished_at, job.error = "done", utcnow(), None
    session.commit()
    return report


def _first_extraction(session: Session, report: Report, pipeline_version: str, version: int, job_id: str) -> bool:
    """Insert the extraction row of (the report's content, ``pipeline_version``) unless there is one; whether this
    call inserted it (the caller's transaction then stores the result)."""
    values = {
        "sha256": report.sha256,
        "pipeline_version": pipeline_version,
        "report_id": report.id,
        "version": version,
        "job_id": job_id,
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(Extraction)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["sha256", "pipeline_version"])
        .returning(Extraction.sha256)
    )
    return session.execute(statement).first() is not None  # a row back: this call inserted it (psycopg: rowcount -1)


def start(session: Session, job_id: str, worker: str = "") -> bool:
    """Mark a job running for an attempt that was handed it (a cluster's actor: queued, or running when its earlier
    attempt died with its node): one more attempt, where it runs. False when there is nothing to run (done or
    failed by an earlier attempt), and after MAX_ATTEMPTS (then the job is failed with that reason)."""
    taken = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("queued", "running")))
        .values(status="running", started_at=utcnow(), attempts=Job.attempts + 1, worker=worker or None)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], taken).rowcount != 1:
        session.rollback()
        return False
    job = session.get_one(Job, job_id)
    session.refresh(job)
    if job.attempts > MAX_ATTEMPTS:
        _set_failed(job, f"interrupted {job.attempts - 1} times (the worker crashed or its node was lost)")
        session.commit()
        return False
    job.report.status, job.report.error = "running", None
    session.commit()
    return True


def job_status(session: Session, job_id: str) -> str | None:
    """A job's status (queued, running, done, failed); None when there is no such job."""
    return session.scalar(select(Job.status).where(Job.id == job_id))


def queued_jobs(session: Session) -> list[Claimed]:
    """Every queued job, oldest first (a cluster's driver hands them all to its actors)."""
    rows = session.execute(
        select(Job.id, Job.report_id, Report.sha256, Report.filename)
        .join(Report, Report.id == Job.report_id)
        .where(Job.status == "queued")
        .order_by(Job.created_at, Job.id)
    ).all()
    return [Claimed(row.id, row.report_id, row.sha256, row.filename) for row in rows]


def extra_attempts(session: Session, job_ids: Iterable[str]) -> int:
    """Attempts beyond the first of these jobs (documents run again after a worker or node was lost)."""
    ids, total = list(job_ids), 0
    for at in range(0, len(ids), 500):
        chunk = ids[at : at + 500]
        total += int(session.scalar(select(func.sum(Job.attempts - 1)).where(Job.id.in_(chunk), Job.attempts > 1)) or 0)
    return total


def record_page(
    session: Session,
    sha256: str,
    page: int,
    blob: str | None,
    error: str | None = None,
    *,
    version: str = PIPELINE_VERSION,
) -> None:
    """Keep a page of a long scan read on its own (``blob``), or why it was not (``error``); the first record of a
    page stands (a second reading of it, a retried task, changes nothing)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    values = {"sha256": sha256, "pipeline_version": version, "page": page, "blob": blob, "error": error}
    session.execute(insert(PageReading).values(created_at=utcnow(), **values).on_conflict_do_nothing())
    session.commit()


def pages_read(session: Session, sha256: str, *, version: str = PIPELINE_VERSION) -> dict[int, str | None]:
    """The pages of a file read on their own by this pipeline version: page -> its blob (None: not readable there)."""
    rows = session.execute(
        select(PageReading.page, PageReading.blob).where(
            PageReading.sha256 == sha256, PageReading.pipeline_version == version
        )
    ).all()
    return {row.page: row.blob for row in rows}


def fail(session: Session, job_id: str, error: str) -> None:
    _set_failed(session.get_one(Job, job_id), error)
    session.commit()


def _set_failed(job: Job, error: str) -> None:
    job.status, job.finished_at, job.error = "failed", utcnow(), error
    job.report.status, job.report.error = "failed", error
    job.report.pipeline_version = PIPELINE_VERSION  # the pipeline that failed (batch skips it until --retry-failed)


def _write_version(session: Session, report: Report, result: Result, version: int, kind: str, actor: str) -> None:
    data = result.model_dump(mode="json")
    session.add(ResultVersion(report_id=report.id, version=version, kind=kind, result=data, created_by=actor))
    existing = {c.cell_id: c for c in session.scalars(select(Cell).where(Cell.report_id == report.id))}
    for cid, cell in result.cells.items():
        row = existing.get(cid)
        if row is None:
            row = Cell(report_id=report.id, cell_id=cid)
            session.add(row)
        row.value = cell.value
        row.raw = cell.raw
        row.status = cell.status
        row.confidence = cell.confidence
        row.needs_review = cell.needs_review
        row.reasons = "; ".join(cell.review_reasons)
        row.codes = [rc.model_dump(mode="json") for rc in cell.review_codes] or None
        row.version = cell.version
    report.version = version
    report.needs_review = sum(1 for c in result.cells.values() if c.needs_review)
    report.only_explained = only_explained(result)
    report.failing_checks = sum(1 for c in result.checks if c.status == "fail")
    cov = result.coverage
    report.coverage, report.coverage_reasons = None, None  # a result stored before coverage existed
    if cov is not None:
        report.coverage, report.coverage_reasons = cov.status, "; ".join(cov.reasons) or None


def result_of(session: Session, report_id: str, version: int | None = None) -> Result | None:
    """A result version of a report (the newest by default); None when there is none."""
    q = select(ResultVersion.result).where(ResultVersion.report_id == report_id)
    q = q.where(ResultVersion.version == version) if version else q.order_by(ResultVersion.version.desc())
    data = session.scalar(q.limit(1))
    return None if data is None else Result.model_validate(data)


def newest_results(session: Session, *, approved_only: bool = False) -> Iterator[tuple[Report, Result]]:
    """Every report done, oldest first, with its newest result (``approved_only``: those a reviewer approved)."""
    q = select(Report).where(Report.status == "done")
    if approved_only:
        q = q.where(Report.approved_at.is_not(None))
    for report in session.scalars(q.order_by(Report.created_at, Report.id)).all():
        result = result_of(session, report.id)
        if result is not None:
            yield report, result


def versions_of(session: Session, report_id: str) -> list[ResultVersion]:
    return list(
        session.scalars(
            select(ResultVersion).where(ResultVersion.report_id == report_id).order_by(ResultVersion.version)
        )
    )


def get_report(session: Session, report_id: str, scope: Scope = None) -> Report:
    """The report ``report_id``; NotFound when there is none or when it is outside ``scope`` (the same answer: a
    bound caller cannot tell another agency's report from none)."""
    if scope is None:
        report = session.get(Report, report_id)
    else:
        report = session.scalar(select(Report).where(Report.id == report_id, visible(scope)))
    if report is None:
        raise NotFound(f"no report {report_id}")
    return report


def list_reports(
    session: Session,
    *,
    status: str | None = None,
    agency: str | None = None,
    year: int | None = None,
    needs_review: bool | None = None,
    coverage: str | None = None,
    limit: int = 100,
    offset: int = 0,
    scope: Scope = None,
) -> tuple[list[Report], int]:
    q = select(Report).where(visible(scope))
    if status:
        q = q.where(Report.status == status)
    if coverage:
        q = q.where(Report.coverage == coverage)
    if agency:
        q = q.where(Report.agency.contains(agency))
    if year is not None:
        q = q.where(Report.year == year)
    if needs_review is True:
        q = q.where(Report.needs_review > 0, Report.approved_at.is_(None))
    elif needs_review is False:
        q = q.where((Report.needs_review == 0) | Report.approved_at.is_not(None))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(Report.created_at.desc(), Report.id).limit(limit).offset(offset)).all()
    return list(rows), int(total or 0)


def review_queue(
    session: Session, limit: int = 50, offset: int = 0, scope: Scope = None
) -> tuple[list[tuple[Cell, Report]], int]:
    """Cells needing review in reports not yet approved (within ``scope``), least confident first (unread cells
    have confidence 0)."""
    q = (
        select(Cell, Report)
        .join(Report, Report.id == Cell.report_id)
        .where(Cell.needs_review.is_(True), Report.approved_at.is_(None), Report.status == "done", visible(scope))
    )
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.execute(
        q.order_by(Cell.confidence, Report.created_at, Cell.cell_id).limit(limit).offset(offset)
    ).all()
    return [(c, r) for c, r in rows], int(total or 0)


def states(session: Session) -> tuple[dict[str, int], dict[str, int], int]:
    """The store's gauges: jobs by status, reports by status, cells waiting for review."""
    jobs = {str(k): int(n) for k, n in session.execute(select(Job.status, func.count()).group_by(Job.status)).all()}
    reports = {
        str(k): int(n) for k, n in session.execute(select(Report.status, func.count()).group_by(Report.status)).all()
    }
    waiting = session.scalar(
        select(func.count())
        .select_from(Cell)
        .join(Report, Report.id == Cell.report_id)
        .where(Cell.needs_review.is_(True), Report.approved_at.is_(None))
    )
    return jobs, reports, int(waiting or 0)


def ping(session: Session) -> None:
    """A round trip to the database (health checks)."""
    session.execute(select(1))


# ------------------------------------------------------------------ corrections and approval


def correct(
    session: Session,
    report_id: str,
    cell_id: str,
    value: int | float | None,
    expected_version: int,
    reason: str | None,
    *,
    actor: str,
    role: str,
    scope: Scope = None,
) -> tuple[CellValue, Result]:
    """A reviewer's value for one cell: a new result version with the checks re-run. Returns (cell, result).

    Raises NotFound (no report or one outside ``scope``, no result, no such cell), StaleVersion
    (``expected_version`` is not the cell's version: someone else changed it), Conflict (the report is approved)."""
    result = correct_many(
        session, report_id, [(cell_id, value, expected_version)], reason, actor=actor, role=role, scope=scope
    )
    return result.cells[cell_id], result


def correct_many(
    session: Session,
    report_id: str,
    changes: list[tuple[str, int | float | None, int]],
    reason: str | None,
    *,
    actor: str,
    role: str,
    scope: Scope = None,
) -> Result:
    """Several cells of one report set at once (a whole row accepted): ``changes`` are (cell id, value, the cell
    version it was made against). All or nothing: one new result version, the checks run once, an audit entry per
    cell. Raises as :func:`correct` (StaleVersion carries the first stale cell's current version; InvalidValue
    before anything is written)."""
    report = get_report(session, report_id, scope)
    if report.approved_at is not None:
        raise Conflict("the report is approved; corrections are closed")
    if not changes:
        raise Conflict("no change given")
    result = result_of(session, report_id)
    if result is None:
        raise NotFound(f"report {report_id} has no result yet (status {report.status})")
    if len({cid for cid, _, _ in changes}) != len(changes):
        raise Conflict("a cell is named twice")
    old: dict[str, dict[str, Any]] = {}
    for cid, _, expected in changes:
        cell = result.cells.get(cid)
        if cell is None:
            raise NotFound(f"no cell {cid} in this report's format ({result.format})")
        if cell.version != expected:
            raise StaleVersion(cell.version, cid)
        old[cid] = {"value": cell.value, "status": cell.status, "version": cell.version}
    apply_corrections(result, {cid: value for cid, value, _ in changes}, actor=actor, reason=reason)
    new_version = report.version + 1
    try:
        _write_version(session, report, result, new_version, "correction", actor)
        for cid, _, _ in changes:
            cell = result.cells[cid]
            session.add(
                AuditEntry(
                    actor=actor,
                    role=role,
                    action="correct",
                    report_id=report_id,
                    cell_id=cid,
                    old=old[cid],
                    new={
                        "value": cell.value,
                        "status": cell.status,
                        "version": cell.version,
                        "result_version": new_version,
                        **({"with": len(changes)} if len(changes) > 1 else {}),  # cells saved together (a row)
                    },
                    reason=reason,
                )
            )
        session.commit()
    except IntegrityError:
        session.rollback()
        now = result_of(session, report_id)
        first = changes[0][0]
        raise StaleVersion(now.cells[first].version if now is not None else changes[0][2], first) from None
    return result


def approve_explained(
    session: Session,
    report_ids: list[str] | None,
    *,
    actor: str,
    role: str,
    reason: str | None = None,
    scope: Scope = None,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Approve, in one go, every report (of ``report_ids``, or every one the caller sees) that is done, not yet
    approved and whose only flags are layout deviations the report explains (``Report.only_explained``).
    Returns (approved ids, [(id, why not)] for the named reports that were not)."""
    q = select(Report).where(visible(scope))
    if report_ids is not None:
        q = q.where(Report.id.in_(report_ids))
    else:
        q = q.where(Report.only_explained.is_(True), Report.approved_at.is_(None), Report.status == "done")
    found = {r.id: r for r in session.scalars(q)}
    approved: list[str] = []
    skipped: list[tuple[str, str]] = []
    for rid in report_ids if report_ids is not None else sorted(found):
        report = found.get(rid)
        if report is None:
            skipped.append((rid, "not found"))
        elif report.status != "done":
            skipped.append((rid, f"the report is {report.status}, not done"))
        elif report.approved_at is not None:
            skipped.append((rid, "already approved"))
        elif not report.only_explained:
            skipped.append((rid, "has flags that are not explained deviations"))
        else:
            _mark_approved(session, report, actor, role, reason or "batch: only explained deviations", batch=True)
            approved.append(rid)
    session.commit()
    return approved, skipped


def preview(
    session: Session, report_id: str, cell_id: str, value: int | float | None, scope: Scope = None
) -> list[Check]:
    """The checks as they would be with ``cell_id`` set to ``value``; nothing is written (the UI's rule panel
    follows a value as it is typed). NotFound for a report outside ``scope``."""
    get_report(session, report_id, scope)
    current = result_of(session, report_id)
    if current is None or cell_id not in current.cells:
        raise NotFound(f"no cell {cell_id} in report {report_id}")
    return apply_correction(current, cell_id, value, actor="preview").checks


def _mark_approved(session: Session, report: Report, actor: str, role: str, reason: str | None, **extra: Any) -> None:
    """``report`` approved by ``actor`` now, and the audit entry saying so (``extra`` in its ``new``)."""
    report.approved_at, report.approved_by = utcnow(), actor
    session.add(
        AuditEntry(
            actor=actor,
            role=role,
            action="approve",
            report_id=report.id,
            new={"result_version": report.version, "needs_review": report.needs_review, **extra},
            reason=reason,
        )
    )


def approve(
    session: Session, report_id: str, *, actor: str, role: str, reason: str | None = None, scope: Scope = None
) -> Report:
    report = get_report(session, report_id, scope)
    if report.status != "done":
        raise Conflict(f"the report is {report.status}, not done")
    if report.approved_at is not None:
        return report
    _mark_approved(session, report, actor, role, reason)
    session.commit()
    return report


def series(session: Session, agency: str | None = None, scope: Scope = None) -> list[SeriesCheck]:
    """Checks across the years of each agency over the reports done in the store (within ``scope``; 上年结转 =
    last year's 结转下年度; table 2's 现行有效件数 carry): heuristic findings."""
    q = select(Report).where(
        Report.status == "done", Report.agency.is_not(None), Report.year.is_not(None), visible(scope)
    )
    if agency:
        q = q.where(Report.agency.contains(agency))
    results = [result_of(session, r.id) for r in session.scalars(q).all()]
    return cross_report_checks([r for r in results if r is not None])


def audit_log(session: Session, report_id: str | None = None, limit: int = 200) -> list[AuditEntry]:
    q = select(AuditEntry)
    if report_id:
        q = q.where(AuditEntry.report_id == report_id)
    return list(session.scalars(q.order_by(AuditEntry.id).limit(limit)))


# ------------------------------------------------------------------ tokens


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    role: str,
    name: str,
    expires_in: timedelta | None = None,
    agencies: Iterable[str] | None = None,
) -> str:
    """A new token for ``name`` (stored as a hash only); ``expires_in``: it stops working after that long;
    ``agencies``: it sees only the reports of these agencies (and those it or another token of them uploaded);
    None: every report."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    bound = None if agencies is None else list(dict.fromkeys(a.strip() for a in agencies))
    if bound is not None and (not bound or not all(agency_key(a) for a in bound)):
        raise ValueError("an agency's name is empty: bind a token to named agencies (or to none: every report)")
    token = "xxgk_" + secrets.token_urlsafe(24)
    expires = datetime.now(UTC) + expires_in if expires_in is not None else None
    session.add(Token(name=name, role=role, token_sha256=_hash(token), expires_at=expires, agencies=bound))
    session.commit()
    return token


def list_tokens(session: Session) -> list[Token]:
    """Every token (revoked and expired ones too), oldest first."""
    return list(session.scalars(select(Token).order_by(Token.created_at, Token.id)))


def lookup_token(session: Session, token: str) -> Token | None:
    row = session.scalar(select(Token).where(Token.token_sha256 == _hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and aware(row.expires_at) <= datetime.now(UTC):
        return None
    return row


def aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def revocations(session: Session) -> tuple[int, datetime | None]:
    """How many tokens are revoked and the latest revocation: changes whenever a token is revoked."""
    count, latest = session.execute(
        select(func.count(Token.id), func.max(Token.revoked_at)).where(Token.revoked_at.is_not(None))
    ).one()
    return int(count), latest


def revoke_token(session: Session, name: str) -> int:
    rows = session.scalars(select(Token).where(Token.name == name, Token.revoked_at.is_(None))).all()
    for row in rows:
        row.revoked_at = datetime.now(UTC)
    session.commit()
    return len(rows)


def recover_one(session: Session, job_id: str, why: str) -> str | None:
    """A job whose run broke off (its worker died): queue it again, or fail it after MAX_ATTEMPTS. Returns the
    error it failed with, None when it is queued again."""
    job = session.get_one(Job, job_id)
    error = None
    if job.status != "running":  # it ended after all (its outcome was stored before the worker was lost)
        return job.error if job.status == "failed" else None
    if job.attempts >= MAX_ATTEMPTS:
        error = f"{why} ({job.attempts} attempts)"
        _set_failed(job, error)
    else:
        job.status, job.report.status = "queued", "queued"
    session.commit()
    return error


# ------------------------------------------------------------------ review statistics

_NUMBERS = re.compile(r"\d+(?:\.\d+)?")


def reason_key(reason: str) -> str:
    """A review reason as a group: its numbers replaced by # ("row prints 6 values, expected 7" and "… 5 …, … 7" are
    one reason)."""
    return _NUMBERS.sub("#", reason).strip()


@dataclass
class ReviewCounts:
    """Flagged cells of the machine's reading and what review made of them. ``confirmed``: the report approved and
    the cell's value as the machine read it (not corrected, or corrected to the same value: the machine was right);
    ``corrected``: a reviewer changed its value; ``open``: neither yet. ``missed``: cells not flagged that a
    reviewer changed (the flags did not catch them)."""

    flagged: int = 0
    confirmed: int = 0
    corrected: int = 0
    open: int = 0
    missed: int = 0

    def add(self, other: ReviewCounts) -> None:
        self.flagged += other.flagged
        self.confirmed += other.confirmed
        self.corrected += other.corrected
        self.open += other.open
        self.missed += other.missed

    def as_dict(self) -> dict[str, Any]:
        decided = self.confirmed + self.corrected
        return {
            "flagged": self.flagged,
            "confirmed": self.confirmed,
            "corrected": self.corrected,
            "open": self.open,
            "missed": self.missed,
            # shares of the flagged cells a reviewer decided (confirmed or corrected); None before any decision
            "confirmed_share": round(self.confirmed / decided, 4) if decided else None,
            "corrected_share": round(self.corrected / decided, 4) if decided else None,
        }


def _machine_and_final(session: Session, report_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The report's newest machine result and its newest result (after the corrections), as stored (JSON)."""
    rows = session.execute(
        select(ResultVersion.version, ResultVersion.kind, ResultVersion.result)
        .where(ResultVersion.report_id == report_id)
        .order_by(ResultVersion.version)
    ).all()
    machine = [r for r in rows if r.kind == "machine"]
    if not machine:
        return None
    return machine[-1].result, rows[-1].result


def report_review_stats(
    session: Session, report: Report
) -> tuple[ReviewCounts, dict[str, ReviewCounts], dict[str, str]] | None:
    """One report's counts, the same by reason, and the reason behind each group key (``reason_code`` where the
    cells carry ``review_codes``, else the English reason with its numbers as #)."""
    pair = _machine_and_final(session, report.id)
    if pair is None:
        return None
    machine, final = pair
    approved = report.approved_at is not None
    total = ReviewCounts()
    by_reason: dict[str, ReviewCounts] = {}
    source: dict[str, str] = {}
    final_cells = final.get("cells", {})
    for cid, cell in machine.get("cells", {}).items():
        after = final_cells.get(cid, cell)
        # a reviewer's save of the machine's own value is a confirmation (its status becomes corrected all the
        # same); a cell the machine did not read (absent, unparseable) saved by a reviewer is a correction
        changed = after.get("version", 1) > cell.get("version", 1) and (
            after.get("value") != cell.get("value") or cell.get("status") in ("absent", "unparseable")
        )
        if not cell.get("needs_review"):
            total.missed += int(changed)
            continue
        one = ReviewCounts(flagged=1)
        if changed:
            one.corrected = 1
        elif approved:
            one.confirmed = 1
        else:
            one.open = 1
        total.add(one)
        codes = cell.get("review_codes") or []
        keys = [str(c.get("code", c)) if isinstance(c, dict) else str(c) for c in codes] or [
            reason_key(r) for r in cell.get("review_reasons") or ["(no reason)"]
        ]
        for key in dict.fromkeys(keys):
            by_reason.setdefault(key, ReviewCounts()).add(one)
            source.setdefault(key, "code" if codes else "reason")
    return total, by_reason, source


def review_stats(session: Session, scope: Scope = None, limit: int = 500) -> dict[str, Any]:
    """Review statistics of the reports done (within ``scope``; the newest ``limit`` listed one by one, every one
    counted): per report and overall, flagged cells, the share confirmed unchanged and the share corrected, and the
    same by review reason — the figures that tell whether the review thresholds are too cautious."""
    reports = session.scalars(
        select(Report).where(Report.status == "done", visible(scope)).order_by(Report.created_at.desc(), Report.id)
    ).all()
    overall = ReviewCounts()
    by_reason: dict[str, ReviewCounts] = {}
    source: dict[str, str] = {}
    counted = 0
    listed: list[dict[str, Any]] = []
    for report in reports:
        stats = report_review_stats(session, report)
        if stats is None:
            continue
        counts, reasons, keys = stats
        counted += 1
        overall.add(counts)
        for key, c in reasons.items():
            by_reason.setdefault(key, ReviewCounts()).add(c)
        source.update(keys)
        if len(listed) < limit:
            listed.append(
                {
                    "report_id": report.id,
                    "filename": report.filename,
                    "agency": report.agency,
                    "year": report.year,
                    "pipeline_version": report.pipeline_version,
                    "approved": report.approved_at is not None,
                    **counts.as_dict(),
                }
            )
    return {
        "reports_counted": counted,
        "reports_approved": sum(1 for r in reports if r.approved_at is not None),
        "overall": overall.as_dict(),
        "by_reason": [
            {"reason": key, "kind": source[key], **c.as_dict()}
            for key, c in sorted(by_reason.items(), key=lambda kv: (-kv[1].flagged, kv[0]))
        ],
        "reports": listed,
    }
