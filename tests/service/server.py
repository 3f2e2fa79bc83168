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


def start(data: Path, port: int, local: bool = True, workers: int = 1) -> subprocess.Popen:
    """``xxgk serve`` in a process group of its own (so a kill takes its workers too), once /healthz answers."""
    cmd = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--data-dir", str(data),
           "--workers", str(workers)]
    proc = subprocess.Popen(cmd + (["--local"] if local else []), cwd=ROOT, start_new_session=True,
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
