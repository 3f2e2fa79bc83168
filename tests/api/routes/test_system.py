"""/healthz, /v1/review/stats and /metrics."""

from __future__ import annotations

from service import PIPELINE_VERSION
from service.store import crud
from tests.api.helpers import auth, upload, wait_done
from tests.store.helpers import without_table4


def test_health_names_the_database_and_the_workers(api):
    client, _ = api
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["database"] in ("sqlite", "postgresql")
    assert health["pipeline_version"] == PIPELINE_VERSION and health["workers"] == 1
    assert health["database"] == client.app.state.service.engine.dialect.name


def test_metrics_count_jobs_requests_and_uploads(api, seed_report):
    client, tokens = api
    metrics = client.get("/metrics", headers=auth(tokens, "admin"))
    assert metrics.headers["content-type"].startswith("text/plain")
    lines = metrics.text.splitlines()
    assert 'xxgk_jobs{status="queued"} 0' in lines and "xxgk_http_request_seconds_bucket" in metrics.text
    done = next(line for line in lines if line.startswith('xxgk_jobs{status="done"}'))
    assert int(done.split()[-1]) >= 1
    assert 'xxgk_uploads_total{outcome="new"}' in metrics.text
    assert any(line.startswith("xxgk_review_queue ") for line in lines)
    requests = [line for line in lines if line.startswith("xxgk_http_requests_total{") and 'route="/healthz"' in line]
    assert requests  # counted per route template


def test_review_stats_count_what_review_made_of_the_flags(api, tmp_path):
    """A partial report (table 4 left out: its 15 cells flagged as not read): one flagged cell corrected, the report
    approved -> per report 1 corrected and the rest confirmed as read; the same by reason and in /metrics."""
    client, tokens = api
    partial = without_table4(tmp_path / "no-t4-stats.txt")
    partial.write_text(
        partial.read_text(encoding="utf-8") + "\nreview stats\n", encoding="utf-8"
    )  # a report of its own
    body = wait_done(client, tokens, upload(client, tokens, partial).json()["id"])
    rid = body["id"]
    svc = client.app.state.service
    with svc.sessions() as s:
        result = crud.result_of(s, rid)
        assert result is not None
        flagged = sorted(cid for cid, c in result.cells.items() if c.needs_review)
        assert len(flagged) >= 15
        crud.correct(s, rid, flagged[0], 3, result.cells[flagged[0]].version, "typed", actor="rev", role="reviewer")
        crud.approve(s, rid, actor="rev", role="reviewer")
    assert client.get("/v1/review/stats", headers=auth(tokens, "uploader")).status_code == 403
    stats = client.get("/v1/review/stats", headers=auth(tokens, "reviewer")).json()
    mine = next(r for r in stats["reports"] if r["report_id"] == rid)
    assert (mine["flagged"], mine["corrected"], mine["confirmed"], mine["open"]) == (
        len(flagged),
        1,
        len(flagged) - 1,
        0,
    )
    assert mine["approved"] and mine["corrected_share"] == round(1 / len(flagged), 4)
    overall = stats["overall"]
    assert overall["flagged"] >= len(flagged) and overall["corrected"] >= 1
    assert stats["reports_approved"] >= 1 and stats["reports_counted"] >= 2  # the seed report too
    # by reason: the English reasons with their numbers as # (no review_codes yet)
    reasons = {row["reason"]: row for row in stats["by_reason"]}
    assert all(row["kind"] in ("reason", "code") for row in reasons.values())
    assert sum(row["corrected"] for row in reasons.values()) >= 1
    assert not any(ch.isdigit() for row in reasons.values() if row["kind"] == "reason" for ch in row["reason"])
    # each code's reason in the reviewer's language, its numbers as …
    assert reasons["not_read.t4_not_found"]["text"] == "未读出：未找到表四或表四无法读取"
    assert all(row["text"] for row in reasons.values() if row["kind"] == "code")
    en = client.get("/v1/review/stats", params={"lang": "en"}, headers=auth(tokens, "reviewer")).json()
    assert {r["reason"]: r["text"] for r in en["by_reason"]}["not_read.t4_not_found"].startswith("not read: ")
    metrics = client.get("/metrics", headers=auth(tokens, "admin")).text.splitlines()
    corrected = next(line for line in metrics if line.startswith('xxgk_review_cells{outcome="corrected"}'))
    assert int(corrected.split()[-1]) == overall["corrected"]
    assert any(line.startswith("xxgk_review_reason_cells{reason=") for line in metrics)
    assert any(line.startswith("xxgk_review_confirmed_share ") for line in metrics)
