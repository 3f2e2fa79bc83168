"""/healthz (no token: for liveness probes), /v1/me (who a token is: the UI's login), /v1/review/stats (what review made
of the machine's flags) and /metrics (Prometheus
text format; an unbound admin: its counts cover every agency, so a token bound to agencies is refused)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service import __version__, messages
from service.api.core import Service
from service.api.deps import ADMIN, REVIEW, Caller, caller, service
from service.messages import Lang
from service.store import crud
from service.understand.classifier import pipeline_version

router = APIRouter(tags=["system"])

STATES = ("queued", "running", "done", "failed")


@router.get("/healthz")
async def healthz(svc: Service = Depends(service)) -> dict[str, Any]:
    await svc.read(crud.ping)
    return {
        "status": "ok",
        "version": __version__,
        # what this service stamps on its results: 2.4, or 2.4+tagger.<id> with a retrained classifier
        "pipeline_version": pipeline_version(svc.options.classifier),
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
    lines += review_lines(await svc.read(crud.review_stats, None, 0))
    body = generate_latest(svc.metrics.registry) + ("\n".join(lines) + "\n").encode()
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/review/stats", tags=["review"])
async def review_stats(
    limit: int = Query(500, ge=0, le=5000, description="reports listed one by one (newest first); all are counted"),
    lang: Lang = Query("zh", description="the language of each reason's ``text``"),
    who: Caller = Depends(REVIEW),
    svc: Service = Depends(service),
) -> dict[str, Any]:
    """What review made of the machine's flags, over the reports the caller may see: per report and overall the
    cells flagged in the machine's reading (its newest machine version), how many a reviewer confirmed unchanged
    (approved as read, or corrected to the same value: the machine was right), corrected (changed), left open
    (report not approved), and ``missed`` (not flagged, but changed by a reviewer); ``confirmed_share`` and
    ``corrected_share`` over the decided ones. ``by_reason``: the same by review reason (``kind`` ``code``: the
    cells' ``review_codes``; ``reason``: the English reason with its numbers as #). A high confirmed share for a
    reason says its threshold is too cautious."""
    stats = await svc.read(crud.review_stats, who.scope, limit)
    for row in stats["by_reason"]:  # the reason in the reviewer's language (parameters as …)
        row["text"] = messages.code_title(row["reason"], lang) if row["kind"] == "code" else None
    return stats


def review_lines(stats: dict[str, Any]) -> list[str]:
    """Prometheus gauges of :func:`crud.review_stats` (every report in the store)."""
    overall = stats["overall"]
    lines = [
        "# HELP xxgk_review_cells Cells the machine flagged, by what review made of them (done reports).",
        "# TYPE xxgk_review_cells gauge",
    ]
    outcomes = ("flagged", "confirmed", "corrected", "open", "missed")
    lines += [f'xxgk_review_cells{{outcome="{o}"}} {overall[o]}' for o in outcomes]
    lines += [
        "# HELP xxgk_review_confirmed_share Share of the decided flagged cells confirmed unchanged (NaN: none yet).",
        "# TYPE xxgk_review_confirmed_share gauge",
        f"xxgk_review_confirmed_share {_number(overall['confirmed_share'])}",
        "# HELP xxgk_review_reason_cells Flagged cells by review reason and outcome.",
        "# TYPE xxgk_review_reason_cells gauge",
    ]
    for row in stats["by_reason"]:
        reason = _label(row["reason"])
        lines += [f'xxgk_review_reason_cells{{reason="{reason}",outcome="{o}"}} {row[o]}' for o in outcomes[:4]]
    lines += [
        "# HELP xxgk_reports_approved Reports a reviewer approved.",
        "# TYPE xxgk_reports_approved gauge",
        f"xxgk_reports_approved {stats['reports_approved']}",
    ]
    return lines


def _number(x: float | None) -> str:
    return "NaN" if x is None else repr(float(x))


def _label(value: str) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
