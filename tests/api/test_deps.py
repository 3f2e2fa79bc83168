"""Who may call what: bearer tokens by role, 401 without one, 403 for the wrong role; local mode needs none."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.core import TOKEN_WATCH, ServiceConfig
from service.store import crud
from tests.api.helpers import LOCAL, auth, upload
from tests.store.helpers import SEED


def test_every_endpoint_checks_its_role(api, seed_report):
    client, tokens = api
    rid = seed_report["id"]
    assert client.get("/v1/reports").status_code == 401
    assert client.get("/v1/reports", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/healthz").status_code == 200  # liveness probes carry no token
    cases = [
        ("get", "/v1/reports", "uploader"),
        ("get", f"/v1/reports/{rid}", "uploader"),
        ("get", "/v1/review/queue", "reviewer"),
        ("get", f"/v1/reports/{rid}/audit", "reviewer"),
        ("post", f"/v1/reports/{rid}/approve", "reviewer"),
        ("get", "/metrics", "admin"),
        ("get", f"/v1/reports/{rid}/export.json", "uploader"),
    ]
    for method, path, role in cases:
        assert getattr(client, method)(path).status_code == 401, path
        assert getattr(client, method)(path, headers=auth(tokens, role)).status_code != 401, path
    assert client.get("/v1/review/queue", headers=auth(tokens, "uploader")).status_code == 403
    assert (
        client.patch(
            f"/v1/reports/{rid}/cells/t3.new_received.total",
            headers=auth(tokens, "uploader"),
            json={"value": 1, "expected_version": 1},
        ).status_code
        == 403
    )
    assert upload(client, tokens, SEED, role="reviewer").status_code == 403
    assert client.get("/metrics", headers=auth(tokens, "reviewer")).status_code == 403
    assert client.get("/v1/review/queue", headers=auth(tokens, "admin")).status_code == 200


def test_me_says_who_holds_the_token(api):
    client, tokens = api
    me = client.get("/v1/me", headers=auth(tokens, "reviewer"))
    assert me.status_code == 200
    assert me.json() == {"name": "reviewer-1", "role": "reviewer", "local": False, "agencies": None}
    assert client.get("/v1/me").status_code == 401
    assert client.get("/v1/me", headers={"Authorization": "Bearer xxgk_nope"}).status_code == 401


def test_a_revoked_token_is_refused_at_once(api):
    """Revoked in the store (as ``xxgk token revoke`` does, from another process): refused within a second,
    although the service had the token in its cache."""
    client, _ = api
    svc = client.app.state.service
    with svc.sessions() as s:
        token = crud.create_token(s, "uploader", "temp")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/reports", headers=headers).status_code == 200  # looked up, then cached
    assert client.get("/v1/reports", headers=headers).status_code == 200
    with svc.sessions() as s:
        assert crud.revoke_token(s, "temp") == 1
    deadline = time.monotonic() + 3 * TOKEN_WATCH
    while client.get("/v1/reports", headers=headers).status_code == 200:
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.1)
    assert client.get("/v1/reports", headers=headers).status_code == 401


def test_local_mode_needs_no_token(tmp_path):
    with TestClient(
        create_app(ServiceConfig(data_dir=tmp_path, local=True, start_workers=False)), base_url=LOCAL
    ) as client:
        assert client.get("/v1/reports").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.get("/v1/review/queue").status_code == 200
