from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.core import ServiceConfig
from service.store import crud
from tests.api.helpers import upload, wait_done
from tests.store.helpers import SEED, backends, fresh_database


def running_service(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """A running service on a fresh database of ``backend`` (one worker process) and a token per role."""
    data = tmp_path_factory.mktemp(f"svc-{backend}")
    url = fresh_database(backend, data)
    cfg = ServiceConfig(data_dir=data, database_url=url, workers=1, local=False)
    with TestClient(create_app(cfg)) as client:
        svc = client.app.state.service
        with svc.sessions() as s:
            tokens = {role: crud.create_token(s, role, f"{role}-1") for role in crud.ROLES}
        yield client, tokens


@pytest.fixture(scope="package", params=backends())
def api(request: pytest.FixtureRequest, tmp_path_factory):
    """A running service on each kind of database (one worker process), a token per role."""
    yield from running_service(request.param, tmp_path_factory)


@pytest.fixture(scope="package")
def seed_report(api) -> dict:
    """The seed report uploaded and extracted: the API's answer for it."""
    client, tokens = api
    r = upload(client, tokens, SEED)
    assert r.status_code == 202 and r.json()["status"] == "queued" and r.json()["job"]
    return wait_done(client, tokens, r.json()["id"])
