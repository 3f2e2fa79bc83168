"""Kill the server (SIGKILL, workers and all) while jobs run; after a restart every job finishes, no upload lost."""
from __future__ import annotations

import time

import httpx

from tests.conftest import DEV, ROOT
from tests.service.server import free_port, kill, start

FILES = [ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf",  # OCR: still running when the server dies
         DEV / "seed" / "source.txt", DEV / "r003" / "source.html", DEV / "r005" / "page.html",
         DEV / "r010" / "page.html", DEV / "r013" / "source.md", DEV / "r001" / "source.pdf"]


def test_jobs_survive_a_killed_server(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(tmp_path, port)
    ids = []
    try:
        for path in FILES:
            with path.open("rb") as f:
                r = httpx.post(f"{base}/v1/reports", files={"file": (path.name, f)}, timeout=30)
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        deadline = time.time() + 60
        while time.time() < deadline:  # wait until the scan is being read
            if httpx.get(f"{base}/v1/reports/{ids[0]}").json()["status"] == "running":
                break
            time.sleep(0.2)
        states = [httpx.get(f"{base}/v1/reports/{i}").json()["status"] for i in ids]
    finally:
        kill(proc)
    assert states[0] == "running" and "queued" in states, states

    proc = start(tmp_path, port)
    try:
        deadline = time.time() + 400
        while time.time() < deadline:
            listing = httpx.get(f"{base}/v1/reports", params={"limit": 100}).json()
            if all(r["status"] in ("done", "failed") for r in listing["items"]):
                break
            time.sleep(1)
        assert listing["total"] == len(FILES)
        assert sorted(r["id"] for r in listing["items"]) == sorted(ids)
        assert {r["status"] for r in listing["items"]} == {"done"}, [(r["filename"], r["error"]) for r in listing["items"]]
        scan = httpx.get(f"{base}/v1/reports/{ids[0]}").json()
        assert scan["result"]["document"]["kind"] in ("pdf", "scan") and scan["result"]["cells"]
        assert len(list((tmp_path / "blobs").rglob("*"))) >= len(FILES)
    finally:
        kill(proc)
