"""A real `xxgk serve` in a process of its own, for the restart and browser tests and the service benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    data: Path, port: int, local: bool = True, workers: int = 1, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """``xxgk serve`` in a process group of its own (so a kill takes its workers too), once /healthz answers.
    ``env``: more environment for the server (``XXGK_DATABASE_URL`` …)."""
    cmd = [
        sys.executable,
        "-m",
        "service.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data),
        "--workers",
        str(workers),
    ]
    proc = subprocess.Popen(
        cmd + (["--local"] if local else []),
        cwd=ROOT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
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


def create_token(data: Path, role: str, name: str | None = None, env: dict[str, str] | None = None) -> str:
    """``xxgk token create`` for the store in ``data`` (``env``: more environment, e.g. ``XXGK_DATABASE_URL``)."""
    cmd = [sys.executable, "-m", "service.cli", "token", "create", "--role", role] + (["--name", name] if name else [])
    made = subprocess.run(
        cmd,
        cwd=ROOT,
        env={**os.environ, "XXGK_DATA_DIR": str(data), **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]
