"""/v1/reports: upload, list, read, page images, exports, corrections, approval, audit; /v1/review/queue."""
from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Depends, File, HTTPException, Query, Response, UploadFile
from sqlalchemy.orm import Session

from service.api import schemas
from service.api.core import Service
from service.api.deps import READ, REVIEW, UPLOAD, Caller, service, session
from service.export import long_rows, report_xlsx, to_csv
from service.pages import NoPage, render_page
from service.store import crud
from service.store.orm import Report

router = APIRouter(prefix="/v1", tags=["reports"])
# Reads are coroutines: their queries are short, and a plain function endpoint pays a thread-pool hop that
# dominated the readers' latency (bench_service). Uploads, corrections, exports and page images, which write
# files, re-run the checks or render, stay plain functions in the thread pool.


def summary(report: Report) -> dict:
    return {
        "id": report.id, "filename": report.filename, "sha256": report.sha256, "status": report.status,
        "error": report.error, "agency": report.agency, "year": report.year, "format": report.format,
        "pages": report.pages, "needs_review": report.needs_review, "failing_checks": report.failing_checks,
        "coverage": report.coverage, "coverage_reasons": split_reasons(report.coverage_reasons),
        "version": report.version, "approved": report.approved_at is not None, "approved_by": report.approved_by,
        "created_at": report.created_at, "updated_at": report.updated_at,
    }


def split_reasons(text: str | None) -> list[str]:
    """Reasons as the store keeps them ("; "-joined) as a list."""
    return [x for x in (text or "").split("; ") if x]


def _report(db: Session, report_id: str) -> Report:
    try:
        return crud.get_report(db, report_id)
    except crud.NotFound as e:
        raise HTTPException(404, str(e)) from None


@router.post("/reports", status_code=202, response_model=schemas.Uploaded,
             responses={200: {"model": schemas.Uploaded, "description": "a file already uploaded: its report"},
                        413: {"description": "too large"}, 415: {"description": "not a report file"}})
def upload(response: Response, file: UploadFile = File(..., description="PDF, scan, DOCX, HTML, Markdown or text"),
           who: Caller = Depends(UPLOAD), svc: Service = Depends(service), db: Session = Depends(session)):
    """Upload a report. The extraction runs in the background: poll ``GET /v1/reports/{id}``."""
    from service.ingest import IngestError, backend_for

    limit = svc.cfg.max_upload_mb * 1024 * 1024
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
    report, new = crud.register(db, sha, name, len(data), actor=who.name, role=who.role)
    svc.metrics.uploads.labels("new" if new else "duplicate").inc()
    if new:
        svc.pool.notify()
        job = report.jobs[-1].id if report.jobs else None
        return schemas.Uploaded(id=report.id, job=job, status=report.status)
    response.status_code = 200
    return schemas.Uploaded(id=report.id, job=None, status=report.status, duplicate=True)


@router.get("/reports", response_model=schemas.ReportList)
async def list_reports(status: schemas.JobStatus | None = None, agency: str | None = None, year: int | None = None,
                 needs_review: bool | None = Query(None, description="true: cells to review and not yet approved"),
                 coverage: schemas.CoverageStatus | None = Query(None, description="partial: cells not read; "
                                                                                  "failed: no table read"),
                 limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                 _: Caller = Depends(READ), db: Session = Depends(session)):
    rows, total = crud.list_reports(db, status=status, agency=agency, year=year, needs_review=needs_review,
                                    coverage=coverage, limit=limit, offset=offset)
    return {"total": total, "items": [summary(r) for r in rows]}


@router.get("/reports/{report_id}", response_model=schemas.ReportOut)
async def get_report(report_id: str, version: int | None = Query(None, ge=1, description="an older result version"),
               _: Caller = Depends(READ), svc: Service = Depends(service), db: Session = Depends(session)):
    report = _report(db, report_id)
    wanted = version or report.version
    if version and version > report.version:
        raise HTTPException(404, f"report {report_id} has no result version {version}")
    body = b"null"
    if wanted:  # result versions never change: their JSON is kept ready (the readers' hot path)
        body = svc.results.get((report_id, wanted))
        if body is None:
            result = crud.result_of(db, report_id, wanted)
            body = json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode()
            svc.results.put((report_id, wanted), body)
    head = schemas.ReportSummary(**summary(report)).model_dump_json().encode()
    return Response(head[:-1] + b',"result":' + body + b"}", media_type="application/json")


@router.get("/reports/{report_id}/versions", response_model=list[schemas.VersionOut])
async def versions(report_id: str, _: Caller = Depends(READ), db: Session = Depends(session)):
    _report(db, report_id)
    return [{"version": v.version, "kind": v.kind, "created_by": v.created_by, "created_at": v.created_at}
            for v in crud.versions_of(db, report_id)]


@router.get("/reports/{report_id}/pages/{number}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "the page; header X-Page-Scale: PNG "
                                                                          "pixels per bbox unit"}})
def page_image(report_id: str, number: int, _: Caller = Depends(READ), svc: Service = Depends(service),
               db: Session = Depends(session)):
    report = _report(db, report_id)
    cache = svc.pages_dir / report.sha256 / f"{number}.png"
    scale_file = cache.with_suffix(".scale")
    if cache.exists() and scale_file.exists():
        png, scale = cache.read_bytes(), float(scale_file.read_text())
    else:
        try:
            png, scale = render_page(svc.blobs.path(report.sha256), report.filename, number)
        except NoPage as e:
            raise HTTPException(404, str(e)) from None
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(png)
        scale_file.write_text(repr(scale))
    return Response(png, media_type="image/png", headers={"X-Page-Scale": f"{scale:.6f}",
                                                          "Cache-Control": "private, max-age=3600"})


@router.get("/reports/{report_id}/facts.html", response_class=Response)
def facts_html(report_id: str, fragment: bool = Query(False, description="markup only, for embedding"),
               _: Caller = Depends(READ), db: Session = Depends(session)):
    """The newest result's narrative facts rendered by displaCy (the spaCy fact component's labels): each
    sentence that states a number, the number marked with its fact id; red where the text contradicts the table."""
    from service.understand.spacy_facts import render_result_facts

    report = _report(db, report_id)
    result = crud.result_of(db, report_id)
    if result is None:
        raise HTTPException(409, f"report {report_id} has no result yet (status {report.status})")
    return Response(render_result_facts(result, page=not fragment), media_type="text/html; charset=utf-8")


EXPORT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/reports/{report_id}/export.{fmt}", response_class=Response)
def export(report_id: str, fmt: str, _: Caller = Depends(READ), db: Session = Depends(session)):
    """The newest result: ``json`` (the output contract), ``csv`` (one row per cell), ``xlsx`` (cells, checks,
    facts)."""
    import json

    if fmt not in EXPORT_TYPES:
        raise HTTPException(404, f"export formats: {', '.join(EXPORT_TYPES)}")
    report = _report(db, report_id)
    result = crud.result_of(db, report_id)
    if result is None:
        raise HTTPException(409, f"report {report_id} has no result yet (status {report.status})")
    meta = summary(report)
    stem = Path(report.filename).stem or report.id
    if fmt == "json":
        body = json.dumps(result, ensure_ascii=False, indent=1).encode()
    elif fmt == "csv":
        body = to_csv(long_rows(meta, result))
    else:
        body = report_xlsx(meta, result)
    from urllib.parse import quote

    return Response(body, media_type=EXPORT_TYPES[fmt],
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(stem)}.{fmt}"})


@router.patch("/reports/{report_id}/cells/{cell_id}", response_model=schemas.CorrectionOut,
              responses={409: {"description": "stale version (someone changed the cell) or report approved"}})
def correct_cell(report_id: str, cell_id: str, body: schemas.Correction, who: Caller = Depends(REVIEW),
                 svc: Service = Depends(service), db: Session = Depends(session)):
    """Set a cell to the value the document prints. Names the cell version it was made against; the checks are
    re-run and returned. The machine's value and every earlier version stay in the store."""
    try:
        cell, result = crud.correct(db, report_id, cell_id, body.value, body.expected_version, body.reason,
                                    actor=who.name, role=who.role)
    except crud.NotFound as e:
        raise HTTPException(404, str(e)) from None
    except crud.StaleVersion as e:
        svc.metrics.corrections.labels("stale").inc()
        raise HTTPException(409, {"message": f"stale version: the cell is at version {e.current}",
                                  "current_version": e.current}) from None
    except crud.Conflict as e:
        raise HTTPException(409, str(e)) from None
    svc.metrics.corrections.labels("applied").inc()
    report = _report(db, report_id)
    return {"cell_id": cell_id, "cell": cell, "checks": result["checks"], "result_version": report.version,
            "needs_review": report.needs_review, "failing_checks": report.failing_checks}


@router.post("/reports/{report_id}/cells/{cell_id}/preview", response_model=list[dict])
def preview_cell(report_id: str, cell_id: str, body: schemas.Preview, _: Caller = Depends(REVIEW),
                 db: Session = Depends(session)):
    """The checks as they would be with this value (nothing is stored): the rule panel while a value is typed."""
    try:
        return crud.preview(db, report_id, cell_id, body.value)
    except crud.NotFound as e:
        raise HTTPException(404, str(e)) from None


@router.post("/reports/{report_id}/approve", response_model=schemas.ReportSummary)
def approve(report_id: str, body: schemas.Approval | None = None, who: Caller = Depends(REVIEW),
            db: Session = Depends(session)):
    try:
        report = crud.approve(db, report_id, actor=who.name, role=who.role, reason=body.reason if body else None)
    except crud.NotFound as e:
        raise HTTPException(404, str(e)) from None
    except crud.Conflict as e:
        raise HTTPException(409, str(e)) from None
    return summary(report)


@router.get("/reports/{report_id}/audit", response_model=list[schemas.AuditOut])
def audit(report_id: str, _: Caller = Depends(REVIEW), db: Session = Depends(session)):
    _report(db, report_id)
    return [{"id": a.id, "at": a.at, "actor": a.actor, "role": a.role, "action": a.action,
             "report_id": a.report_id, "cell_id": a.cell_id, "old": a.old, "new": a.new, "reason": a.reason}
            for a in crud.audit_log(db, report_id)]


@router.get("/review/queue", response_model=schemas.Queue, tags=["review"])
async def review_queue(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0), _: Caller = Depends(REVIEW),
                 db: Session = Depends(session)):
    """Cells needing review across reports not yet approved, least confident first: the cells a partial report
    did not read come first (confidence 0, the first reason "not read: …")."""
    rows, total = crud.review_queue(db, limit, offset)
    return {"total": total, "items": [
        {"report_id": r.id, "filename": r.filename, "agency": r.agency, "year": r.year, "cell_id": c.cell_id,
         "value": c.value, "raw": c.raw, "status": c.status, "confidence": c.confidence,
         "reasons": split_reasons(c.reasons), "version": c.version} for c, r in rows]}


@router.get("/series", tags=["review"])
def series(agency: str | None = Query(None, description="part of the agency's name"), _: Caller = Depends(READ),
           db: Session = Depends(session)):
    """Checks across the years of one agency over the reports in the store: what report Y says was carried over
    from last year equals what report Y-1 carried forward, per applicant column; table 2's 现行有效件数 carry."""
    return [c.model_dump(mode="json") for c in crud.series(db, agency)]


@router.get("/schema/{fmt}", tags=["schema"])
def format_schema(fmt: str, _: Caller = Depends(READ)):
    """The official format's tables (rows, columns, labels, cell ids) and rules, for drawing the tables."""
    from service.schema import load_format

    if fmt not in ("2019", "2021"):
        raise HTTPException(404, "formats: 2019, 2021")
    s = load_format(fmt)
    return {
        "format": fmt,
        "sections": [{"id": x.id, "number": x.number, "title": x.title} for x in s.sections],
        "t2": [{"id": b.id, "label": b.label, "columns": [{"id": c.id, "label": c.label} for c in b.columns],
                "rows": [{"id": r.id, "label": r.label} for r in b.rows]} for b in s.t2_blocks()],
        "t3": {"columns": [{"id": c["id"], "label": c["label"], "group": c.get("group")}
                           for c in s.tables["t3"]["columns"]],
               "groups": {g["id"]: g["label"] for g in s.tables["t3"].get("column_groups", [])},
               "rows": [{"id": r.id, "label": r.label, "level": r.level, "parent": r.parent,
                         "has_values": r.has_values, "number": r.number} for r in s.t3_rows()]},
        "t4": {"groups": [{"id": g.id, "label": g.label} for g in s.t4_groups()],
               "columns": [{"id": c.id, "label": c.label} for c in s.t4_columns()]},
    }
