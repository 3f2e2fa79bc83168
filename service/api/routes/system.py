"""/healthz (no token: for liveness probes) and /metrics (Prometheus text format; admin)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service import PIPELINE_VERSION, __version__
from service.api.core import Service
from service.api.deps import ADMIN, Caller, service, session
from service.store.orm import Cell, Job, Report

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def healthz(svc: Service = Depends(service), db: Session = Depends(session)):
    db.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "pipeline_version": PIPELINE_VERSION,
            "database": svc.engine.dialect.name, "workers": svc.cfg.workers, "jobs_in_flight": svc.pool.busy}


@router.get("/metrics", response_class=Response)
def metrics(_: Caller = Depends(ADMIN), svc: Service = Depends(service), db: Session = Depends(session)):
    jobs = dict(db.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    reports = dict(db.execute(select(Report.status, func.count()).group_by(Report.status)).all())
    queue = db.scalar(select(func.count()).select_from(Cell).join(Report, Report.id == Cell.report_id)
                      .where(Cell.needs_review.is_(True), Report.approved_at.is_(None)))
    lines = ["# HELP xxgk_jobs Jobs by state.", "# TYPE xxgk_jobs gauge"]
    lines += [f'xxgk_jobs{{status="{s}"}} {jobs.get(s, 0)}' for s in ("queued", "running", "done", "failed")]
    lines += ["# HELP xxgk_reports Reports by state.", "# TYPE xxgk_reports gauge"]
    lines += [f'xxgk_reports{{status="{s}"}} {reports.get(s, 0)}' for s in ("queued", "running", "done", "failed")]
    lines += ["# HELP xxgk_review_queue Cells waiting for review.", "# TYPE xxgk_review_queue gauge",
              f"xxgk_review_queue {queue or 0}"]
    body = generate_latest(svc.metrics.registry) + ("\n".join(lines) + "\n").encode()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
