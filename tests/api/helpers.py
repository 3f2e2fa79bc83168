"""Calls on a running service (a TestClient) with a token per role."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

LOCAL = "http://127.0.0.1"  # local mode answers the loopback only: its test clients address it

Tokens = dict[str, str]


def auth(tokens: Tokens, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def upload(client: TestClient, tokens: Tokens, path: Path, name: str | None = None, role: str = "uploader"):
    with open(path, "rb") as f:
        return client.post("/v1/reports", files={"file": (name or path.name, f)}, headers=auth(tokens, role))


def wait_done(client: TestClient, tokens: Tokens, report_id: str, timeout: float = 180) -> dict[str, Any]:
    """The report once its job is done or failed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = client.get(f"/v1/reports/{report_id}", headers=auth(tokens, "uploader")).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.3)
    raise AssertionError(f"report {report_id} not done after {timeout} s: {body['status']}")


def timed(call, *args, **kwargs) -> tuple[httpx.Response, float]:
    """A request and the seconds it took."""
    t0 = time.perf_counter()
    response = call(*args, **kwargs)
    return response, time.perf_counter() - t0
