"""/healthz and /metrics."""

from __future__ import annotations

from service import PIPELINE_VERSION
from tests.api.helpers import auth


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
