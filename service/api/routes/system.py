"""/healthz (no token: for liveness probes), /v1/me (who a token is: the UI's login) and /metrics (Prometheus
text format; an unbound admin: its counts cover every agency, so a token bound to agencies is refused)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service import PIPELINE_VERSION, __version__
from service.api.core import Service
from service.api.deps import ADMIN, Caller, caller, service
from service.store import crud

router = APIRouter(tags=["system"])

STATES = ("queued", "running", "done", "failed")


@router.get("/healthz")
async def healthz(svc: Service = Depends(service)) -> dict[str, Any]:
    await svc.read(crud.ping)
    return {
        "status": "ok",
        "version": __version__,
        "pipeline_version": PIPELINE_VERSION,
        "database": svc.engine.dialect.name,
        "workers": svc.cfg.workers,
        "jobs_in_flight": svc.pool.busy,
    }


@router.get("/v1/me")
async def me(who: Caller = Depends(caller), svc: Service = Depends(service)) -> dict[str, Any]:
    """Who the token belongs to (401 for an unknown, revoked or expired one): the review UI's login checks it.
    ``agencies``: the agencies it is bound to (it sees only their reports); null: every report."""
    agencies = None if who.agencies is None else list(who.agencies)
    return {"name": who.name, "role": who.role, "local": svc.cfg.local, "agencies": agencies}


@router.get("/metrics", response_class=Response, responses={403: {"description": "not an unbound admin token"}})
async def metrics(who: Caller = Depends(ADMIN), svc: Service = Depends(service)) -> Response:
    """The service's counters and the store's gauges (jobs, reports, cells to review) across every agency: for an
    admin token bound to no agency (a bound one would learn of the other agencies' uploads and reports)."""
    if who.agencies is not None:
        raise HTTPException(403, "the metrics count every agency's reports: they need an admin token bound to none")
    jobs, reports, queue = await svc.read(crud.states)
    lines = ["# HELP xxgk_jobs Jobs by state.", "# TYPE xxgk_jobs gauge"]
    lines += [f'xxgk_jobs{{status="{s}"}} {jobs.get(s, 0)}' for s in STATES]
    lines += ["# HELP xxgk_reports Reports by state.", "# TYPE xxgk_reports gauge"]
    lines += [f'xxgk_reports{{status="{s}"}} {reports.get(s, 0)}' for s in STATES]
    lines += [
        "# HELP xxgk_review_queue Cells waiting for review.",
        "# TYPE xxgk_review_queue gauge",
        f"xxgk_review_queue {queue}",
    ]
    body = generate_latest(svc.metrics.registry) + ("\n".join(lines) + "\n").encode()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
