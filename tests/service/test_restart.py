"""Kill the server (SIGKILL, workers and all) while jobs run; after a restart every job finishes, no upload lost."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import DEV, ROOT

FILES = [ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf",  # OCR: still running when the server dies
         DEV / "seed" / "source.txt", DEV / "r003" / "source.html", DEV / "r005" / "page.html",
         DEV / "r010" / "page.html", DEV / "r013" / "source.md", DEV / "r001" / "source.pdf"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--local", "--port", str(port),
                             "--data-dir", str(data), "--workers", "1"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
    raise AssertionError("the server did not come up")


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the server and its worker processes, no chance to clean up
    proc.wait(timeout=10)


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
