"""/v1/reports: upload, list, read, page images, exports, corrections, approval, audit; /v1/review/queue.

The event loop never waits on the database. The reads (a report, the list, versions, the audit log, the review
queue) are coroutines that hand their work to ``Service.read``: on PostgreSQL the asyncio engine (asyncpg) awaits
the queries, on SQLite a small thread pool of its own runs them (the faster way on each; bench_service A/B in the
README). Uploads, corrections, approvals, exports, facts and page images write, re-run the checks or render: plain
functions, which FastAPI runs on its thread pool, each with its own session.

Tenancy: every route that names a report looks it up within the caller's scope (``_report(db, id, who)``, or the
crud function given ``scope=who.scope``): a report of another agency is answered 404 "no report …", exactly as one
that does not exist; the lists (reports, review queue, series) hold only the caller's reports. A bound uploader
sending the bytes of a report it may not see gets 409 without the report's id (crud.register)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as Path_
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.formparsers import MultiPartException, MultiPartParser

from service.api import schemas
from service.api.core import ResultCache, Service
from service.api.deps import READ, REVIEW, UPLOAD, Caller, service
from service.export import ReportMeta, long_rows, report_xlsx, to_csv
from service.ingest import IngestError, backend_for
from service.pages import NoPage
from service.reconcile.cross import SeriesCheck
from service.reconcile.start import PLACE_CODES, UNREAD_STATUSES
from service.result import Check, Result
from service.review import InvalidValue
from service.schema import load_format
from service.store import crud
from service.store.orm import Cell, Report

router = APIRouter(prefix="/v1", tags=["reports"])
MAX_OFFSET = 2**31 - 1  # integers of the query past this are no rows, versions or pages of any store (422)
MULTIPART_SLACK = 64 * 1024  # bytes of multipart framing (boundaries, part headers) allowed above the size limit
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "PDF, scan, DOCX, HTML, Markdown or text",
                        }
                    },
                }
            }
        },
    }
}


class TooLarge(Exception):
    """The upload passed the size limit while it streamed in."""


def _report(db: Session, report_id: str, who: Caller) -> Report:
    """The report ``report_id`` as ``who`` may see it: 404 when there is none or it is another agency's."""
    try:
        return crud.get_report(db, report_id, who.scope)
    except crud.NotFound as e:
        raise HTTPException(404, str(e)) from None


def _read_report(
    db: Session, report_id: str, version: int | None, cache: ResultCache, who: Caller
) -> tuple[Report, bytes]:
    """A report and the JSON of a result version (the newest by default; ``null`` when there is none yet)."""
    report = _report(db, report_id, who)
    wanted = version or report.version
    if version and version > report.version:
        raise HTTPException(404, f"report {report_id} has no result version {version}")
    if not wanted:
        return report, b"null"
    body = cache.get((report_id, wanted))  # result versions never change: their JSON is kept ready
    if body is None:
        result = crud.result_of(db, report_id, wanted)
        body = b"null" if result is None else result.model_dump_json().encode()
        cache.put((report_id, wanted), body)
    return report, body


def _newest(db: Session, report: Report) -> Result:
    result = crud.result_of(db, report.id)
    if result is None:
        raise HTTPException(409, f"report {report.id} has no result yet (status {report.status})")
    return result


@router.post(
    "/reports",
    status_code=202,
    response_model=schemas.Uploaded,
    responses={
        200: {"model": schemas.Uploaded, "description": "a file already uploaded: its report"},
        409: {"description": "a bound token sent the bytes of another agency's report"},
        413: {"description": "too large"},
        415: {"description": "not a report file"},
    },
    openapi_extra=UPLOAD_BODY,
)
async def upload(
    request: Request,
    response: Response,
    who: Caller = Depends(UPLOAD),
    svc: Service = Depends(service),
) -> schemas.Uploaded:
    """Upload a report (multipart, field ``file``). The extraction runs in the background: poll
    ``GET /v1/reports/{id}``.

    The token and role are checked before any of the body is read; the body is read as it streams in and refused
    (413) at the size limit, nothing of it kept."""
    limit = svc.cfg.max_upload_mb * 1024 * 1024
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        svc.metrics.uploads.labels("rejected").inc()
        raise HTTPException(413, f"larger than {svc.cfg.max_upload_mb} MB", headers={"Connection": "close"})
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(422, "send the report as multipart/form-data with the file in the field 'file'")
    received = 0

    async def body() -> AsyncGenerator[bytes, None]:
        nonlocal received
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit + MULTIPART_SLACK:
                raise TooLarge
            yield chunk

    parser = MultiPartParser(request.headers, body(), max_files=1, max_fields=4, max_part_size=64 * 1024)
    try:
        form = await parser.parse()
    except TooLarge:
        svc.metrics.uploads.labels("rejected").inc()
        raise HTTPException(413, f"larger than {svc.cfg.max_upload_mb} MB", headers={"Connection": "close"}) from None
    except MultiPartException as e:
        raise HTTPException(422, f"the upload is not readable multipart data: {e.message}") from None
    file = form.get("file")
    try:
        if not isinstance(file, StarletteUpload):
            raise HTTPException(422, "no file in the field 'file'")
        return await run_in_threadpool(_register_upload, file, limit, response, who, svc)
    finally:
        await form.close()


def _register_upload(
    file: StarletteUpload, limit: int, response: Response, who: Caller, svc: Service
) -> schemas.Uploaded:
    data = file.file.read(limit + 1)
    name = Path(file.filename or "upload").name
    if len(data) > limit:
        svc.metrics.uploads.labels("rejected").inc()
        raise HTTPException(413, f"{name}: larger than {svc.cfg.max_upload_mb} MB")
    if not data.strip():
        svc.metrics.uploads.labels("rejected").inc()
        raise HTTPException(400, f"{name}: the file is empty")
    try:
        backend_for(Path(name), data)
    except IngestError as e:
        svc.metrics.uploads.labels("rejected").inc()
        raise HTTPException(415, f"{name}: {e.reason}") from None
    sha = svc.blobs.put(data)
    with svc.sessions() as db:
        try:
            report, new = crud.register(db, sha, name, len(data), actor=who.name, role=who.role, scope=who.scope)
        except crud.Unavailable:
            svc.metrics.uploads.labels("rejected").inc()
            raise HTTPException(
                409, f"{name}: this file is already in the store for another agency (an unbound token can read it)"
            ) from None
        job = report.jobs[-1].id if new and report.jobs else None
    svc.metrics.uploads.labels("new" if new else "duplicate").inc()
    if new:
        svc.pool.notify()
        return schemas.Uploaded(id=report.id, job=job, status=report.status)
    response.status_code = 200
    return schemas.Uploaded(id=report.id, job=None, status=report.status, duplicate=True)


@router.get("/reports", response_model=schemas.ReportList)
async def list_reports(
    status: schemas.JobStatus | None = None,
    agency: str | None = None,
    year: int | None = Query(None, ge=1900, le=2200),
    needs_review: bool | None = Query(None, description="true: cells to review and not yet approved"),
    coverage: schemas.CoverageStatus | None = Query(None, description="partial: cells not read; failed: no table read"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    who: Caller = Depends(READ),
    svc: Service = Depends(service),
) -> schemas.ReportList:
    rows, total = await svc.read(
        crud.list_reports,
        scope=who.scope,
        status=status,
        agency=agency,
        year=year,
        needs_review=needs_review,
        coverage=coverage,
        limit=limit,
        offset=offset,
    )
    return schemas.ReportList(total=total, items=[schemas.ReportSummary.of(r) for r in rows])


LANG_QUERY = Query("zh", description="language of the texts for the reviewer: zh (the default) or en")


@lru_cache(maxsize=64)
def _view_json(body: bytes, lang: schemas.Lang) -> bytes:
    """The reviewer's view of a result's JSON (result versions never change: kept for the versions asked last)."""
    if body == b"null":
        return b"null"
    return schemas.ReportView.of(Result.model_validate_json(body), lang).model_dump_json().encode()


@router.get("/reports/{report_id}", response_model=schemas.ReportOut)
async def get_report(
    report_id: str,
    version: int | None = Query(None, ge=1, le=MAX_OFFSET, description="an older result version"),
    lang: schemas.Lang = LANG_QUERY,
    who: Caller = Depends(READ),
    svc: Service = Depends(service),
) -> Response:
    """A report and its result version; ``view``: the result in the reviewer's language (printed row and column
    labels, each reason with its code, the deviations and the rule results as equations in printed labels)."""
    report, body = await svc.read(_read_report, report_id, version, svc.results, who)
    head = schemas.ReportSummary.of(report).model_dump_json().encode()
    view = await run_in_threadpool(_view_json, body, lang)
    return Response(head[:-1] + b',"result":' + body + b',"view":' + view + b"}", media_type="application/json")


@router.get("/reports/{report_id}/versions", response_model=list[schemas.VersionOut])
async def versions(
    report_id: str, who: Caller = Depends(READ), svc: Service = Depends(service)
) -> list[schemas.VersionOut]:
    def read(db: Session) -> list[schemas.VersionOut]:
        _report(db, report_id, who)
        return [schemas.VersionOut.model_validate(v) for v in crud.versions_of(db, report_id)]

    return await svc.read(read)


@router.get(
    "/reports/{report_id}/pages/{number}.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "the page; header X-Page-Scale: PNG pixels per bbox unit"}
    },
)
def page_image(
    report_id: str,
    number: int = Path_(..., ge=1, le=100_000),
    who: Caller = Depends(READ),
    svc: Service = Depends(service),
) -> Response:
    with svc.sessions() as db:
        report = _report(db, report_id, who)
    cache = svc.pages_dir / report.sha256 / f"{number}.png"
    scale_file = cache.with_suffix(".scale")
    if cache.exists() and scale_file.exists():
        png, scale = cache.read_bytes(), float(scale_file.read_text())
    else:
        try:
            png, scale = svc.render_page(report.sha256, report.filename, number)
        except NoPage as e:
            raise HTTPException(404, str(e)) from None
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(png)
        scale_file.write_text(repr(scale))
    return Response(
        png, media_type="image/png", headers={"X-Page-Scale": f"{scale:.6f}", "Cache-Control": "private, max-age=3600"}
    )


@router.get("/reports/{report_id}/facts.html", response_class=Response)
def facts_html(
    report_id: str,
    fragment: bool = Query(False, description="markup only, for embedding"),
    who: Caller = Depends(READ),
    svc: Service = Depends(service),
) -> Response:
    """The newest result's narrative facts rendered by displaCy (the spaCy fact component's labels): each
    sentence that states a number, the number marked with its fact id; red where the text contradicts the table."""
    # spaCy (and torch through thinc) loads only when a facts page is asked for: importing it with the API would
    # add seconds to every start of the service and of the command line
    from service.understand.spacy_facts import render_result_facts  # noqa: PLC0415

    with svc.sessions() as db:
        result = _newest(db, _report(db, report_id, who))
    return Response(render_result_facts(result, page=not fragment), media_type="text/html; charset=utf-8")


EXPORT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get("/reports/{report_id}/export.{fmt}", response_class=Response)
def export(report_id: str, fmt: str, who: Caller = Depends(READ), svc: Service = Depends(service)) -> Response:
    """The newest result: ``json`` (the output contract), ``csv`` (one row per cell), ``xlsx`` (cells, checks,
    facts)."""
    with svc.sessions() as db:
        report = _report(db, report_id, who)  # first: another agency's report is "no report", whatever the format
        if fmt not in EXPORT_TYPES:
            raise HTTPException(404, f"export formats: {', '.join(EXPORT_TYPES)}")
        result = _newest(db, report)
    meta = ReportMeta.of(report)
    if fmt == "json":
        body = result.to_json().encode()
    elif fmt == "csv":
        body = to_csv(long_rows(meta, result))
    else:
        body = report_xlsx(meta, result)
    stem = Path(report.filename).stem or report.id
    return Response(
        body,
        media_type=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(stem)}.{fmt}"},
    )


@contextmanager
def _correction_errors(svc: Service) -> Iterator[None]:
    """The store's refusals of a correction as HTTP answers: 404, 409 (a stale version names the cell and its
    current version; the report approved), 422 (a value the cell cannot hold)."""
    try:
        yield
    except crud.NotFound as e:
        raise HTTPException(404, str(e)) from None
    except crud.StaleVersion as e:
        svc.metrics.corrections.labels("stale").inc()
        raise HTTPException(
            409,
            {
                "message": f"stale version: the cell is at version {e.current}",
                "cell_id": e.cell_id,
                "current_version": e.current,
            },
        ) from None
    except crud.Conflict as e:
        raise HTTPException(409, str(e)) from None
    except InvalidValue as e:
        raise HTTPException(422, str(e)) from None


@router.patch(
    "/reports/{report_id}/cells/{cell_id}",
    response_model=schemas.CorrectionOut,
    responses={
        409: {"description": "stale version (someone changed the cell) or report approved"},
        422: {"description": "a value the cell cannot hold (a count: a whole number >= 0; an amount: >= 0)"},
    },
)
def correct_cell(
    report_id: str,
    cell_id: str,
    body: schemas.Correction,
    lang: schemas.Lang = LANG_QUERY,
    who: Caller = Depends(REVIEW),
    svc: Service = Depends(service),
) -> schemas.CorrectionOut:
    """Set a cell to the value the document prints. Names the cell version it was made against; the checks are
    re-run and returned. The machine's value and every earlier version stay in the store."""
    with svc.sessions() as db, _correction_errors(svc):
        cell, result = crud.correct(
            db,
            report_id,
            cell_id,
            body.value,
            body.expected_version,
            body.reason,
            actor=who.name,
            role=who.role,
            scope=who.scope,
        )
        report = _report(db, report_id, who)
    svc.metrics.corrections.labels("applied").inc()
    return schemas.CorrectionOut(
        cell_id=cell_id,
        cell=cell,
        checks=result.checks,
        result_version=report.version,
        needs_review=report.needs_review,
        failing_checks=report.failing_checks,
        check_views=schemas.CheckView.all_of(result, lang),
    )


@router.patch(
    "/reports/{report_id}/cells",
    response_model=schemas.CorrectionsOut,
    responses={
        409: {"description": "a stale version (names the cell and its current version), or the report approved"},
        422: {"description": "a value a cell cannot hold"},
    },
)
def correct_cells(
    report_id: str,
    body: schemas.Corrections,
    lang: schemas.Lang = LANG_QUERY,
    who: Caller = Depends(REVIEW),
    svc: Service = Depends(service),
) -> schemas.CorrectionsOut:
    """Several cells saved together (a whole row accepted, a candidate of ``start_from``): all or nothing, one new
    result version, the checks run once, an audit entry per cell."""
    with svc.sessions() as db, _correction_errors(svc):
        result = crud.correct_many(
            db,
            report_id,
            [(c.cell_id, c.value, c.expected_version) for c in body.changes],
            body.reason,
            actor=who.name,
            role=who.role,
            scope=who.scope,
        )
        report = _report(db, report_id, who)
    for _ in body.changes:
        svc.metrics.corrections.labels("applied").inc()
    return schemas.CorrectionsOut(
        cells={c.cell_id: result.cells[c.cell_id] for c in body.changes},
        checks=result.checks,
        result_version=report.version,
        needs_review=report.needs_review,
        failing_checks=report.failing_checks,
        check_views=schemas.CheckView.all_of(result, lang),
    )


@router.post("/reports/{report_id}/cells/{cell_id}/preview", response_model=list[Check])
def preview_cell(
    report_id: str, cell_id: str, body: schemas.Preview, who: Caller = Depends(REVIEW), svc: Service = Depends(service)
) -> list[Check]:
    """The checks as they would be with this value (nothing is stored): the rule panel while a value is typed."""
    with svc.sessions() as db:
        try:
            return crud.preview(db, report_id, cell_id, body.value, who.scope)
        except crud.NotFound as e:
            raise HTTPException(404, str(e)) from None
        except InvalidValue as e:
            raise HTTPException(422, str(e)) from None


@router.post("/reports/{report_id}/approve", response_model=schemas.ReportSummary)
def approve(
    report_id: str,
    body: schemas.Approval | None = None,
    who: Caller = Depends(REVIEW),
    svc: Service = Depends(service),
) -> schemas.ReportSummary:
    with svc.sessions() as db:
        try:
            report = crud.approve(
                db, report_id, actor=who.name, role=who.role, reason=body.reason if body else None, scope=who.scope
            )
        except crud.NotFound as e:
            raise HTTPException(404, str(e)) from None
        except crud.Conflict as e:
            raise HTTPException(409, str(e)) from None
        return schemas.ReportSummary.of(report)


@router.post(
    "/reports/{report_id}/retry",
    status_code=202,
    response_model=schemas.Uploaded,
    responses={409: {"description": "the report has not failed"}},
)
def retry(report_id: str, who: Caller = Depends(REVIEW), svc: Service = Depends(service)) -> schemas.Uploaded:
    """Run a failed report again (after a fix to the pipeline or its limits): a new job, the report queued."""
    with svc.sessions() as db:
        try:
            job = crud.retry(db, report_id, actor=who.name, role=who.role, scope=who.scope)
        except crud.NotFound as e:
            raise HTTPException(404, str(e)) from None
        except crud.Conflict as e:
            raise HTTPException(409, str(e)) from None
    svc.pool.notify()
    return schemas.Uploaded(id=report_id, job=job.id, status="queued")


@router.get("/reports/{report_id}/audit", response_model=list[schemas.AuditOut])
async def audit(
    report_id: str, who: Caller = Depends(REVIEW), svc: Service = Depends(service)
) -> list[schemas.AuditOut]:
    def read(db: Session) -> list[schemas.AuditOut]:
        _report(db, report_id, who)
        return [schemas.AuditOut.model_validate(a) for a in crud.audit_log(db, report_id)]

    return await svc.read(read)


@router.post("/review/approve-explained", response_model=schemas.BatchApproved, tags=["review"])
def approve_explained(
    body: schemas.BatchApproval | None = None, who: Caller = Depends(REVIEW), svc: Service = Depends(service)
) -> schemas.BatchApproved:
    """Approve in one go the reports whose only flags are layout deviations the report explains (a 2021 report
    printing （六）其他处理 as one row, a column the report does not print, …; ``only_explained`` on the report):
    the named ones, or every such report the caller sees. Each approval is audited as usual."""
    with svc.sessions() as db:
        approved, skipped = crud.approve_explained(
            db,
            body.report_ids if body else None,
            actor=who.name,
            role=who.role,
            reason=body.reason if body else None,
            scope=who.scope,
        )
    return schemas.BatchApproved(approved=approved, skipped=[schemas.Skipped(id=i, why=w) for i, w in skipped])


@router.get("/review/queue", response_model=schemas.Queue, tags=["review"])
async def review_queue(
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    lang: schemas.Lang = LANG_QUERY,
    who: Caller = Depends(REVIEW),
    svc: Service = Depends(service),
) -> schemas.Queue:
    """Cells needing review across reports not yet approved, least confident first: the cells a partial report
    did not read come first (confidence 0, the first reason "not read: …"). Each with its printed row and column
    labels and its reasons as codes with parameters and text in ``lang``."""

    def read(db: Session) -> tuple[list[tuple[Cell, Report]], int, dict[str, Result | None]]:
        rows, total = crud.review_queue(db, limit, offset, who.scope)
        # the newest result of each report with an item to start from (its rows as read, its candidates)
        wanted = {
            r.id
            for c, r in rows
            if c.status in UNREAD_STATUSES or any(rc.get("code") in PLACE_CODES for rc in c.codes or [])
        }
        return rows, total, {rid: crud.result_of(db, rid) for rid in sorted(wanted)}

    rows, total, results = await svc.read(read)
    return schemas.Queue(total=total, items=[schemas.QueueItem.of(c, r, lang, results.get(r.id)) for c, r in rows])


@router.get("/series", tags=["review"], response_model=list[SeriesCheck])
def series(
    agency: str | None = Query(None, description="part of the agency's name"),
    who: Caller = Depends(READ),
    svc: Service = Depends(service),
) -> list[SeriesCheck]:
    """Checks across the years of one agency over the reports in the store: what report Y says was carried over
    from last year equals what report Y-1 carried forward, per applicant column; table 2's 现行有效件数 carry."""
    with svc.sessions() as db:
        return crud.series(db, agency, who.scope)


@router.get("/schema/{fmt}", tags=["schema"])
def format_schema(fmt: str, _: Caller = Depends(READ)) -> dict:
    """The official format's tables (rows, columns, labels, cell ids) and rules, for drawing the tables."""
    if fmt not in ("2019", "2021"):
        raise HTTPException(404, "formats: 2019, 2021")
    s = load_format(fmt)
    return {
        "format": fmt,
        "sections": [{"id": x.id, "number": x.number, "title": x.title} for x in s.sections],
        "t2": [
            {
                "id": b.id,
                "label": b.label,
                "columns": [{"id": c.id, "label": c.label} for c in b.columns],
                "rows": [{"id": r.id, "label": r.label} for r in b.rows],
            }
            for b in s.t2_blocks()
        ],
        "t3": {
            "columns": [
                {"id": c["id"], "label": c["label"], "group": c.get("group")} for c in s.tables["t3"]["columns"]
            ],
            "groups": {g["id"]: g["label"] for g in s.tables["t3"].get("column_groups", [])},
            "rows": [
                {
                    "id": r.id,
                    "label": r.label,
                    "level": r.level,
                    "parent": r.parent,
                    "has_values": r.has_values,
                    "number": r.number,
                }
                for r in s.t3_rows()
            ],
        },
        "t4": {
            "groups": [{"id": g.id, "label": g.label} for g in s.t4_groups()],
            "columns": [{"id": c.id, "label": c.label} for c in s.t4_columns()],
        },
    }
