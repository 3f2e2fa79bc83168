from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType

import pytest

from tests.s3server import s3_server  # noqa: F401  (a real S3 server on the loopback, for any test that asks)

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "datasets" / "dev-reports"
REPORT_IDS = sorted(p.name for p in DEV.iterdir() if (p / "cells.json").exists())


@lru_cache(maxsize=1)
def load_scansim() -> ModuleType:
    """datasets/scansim.py as a module (loaded by path: `datasets` is also the name of a PyPI package)."""
    spec = importlib.util.spec_from_file_location("scansim", ROOT / "datasets" / "scansim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def levenshtein(a: str, b: str) -> int:
    """Plain edit distance (every insertion, deletion and substitution costs 1), for measuring test inputs."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@cache
def extracted(path: str):
    from service.pipeline import extract

    return extract(path)


def truth(report_id: str) -> dict:
    return json.loads((DEV / report_id / "cells.json").read_text(encoding="utf-8"))


def source_of(report_id: str) -> Path:
    return next(p for p in sorted((DEV / report_id).glob("source.*")))


@pytest.fixture
def dev_dir() -> Path:
    return DEV


_MEASURE = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); _, st, ru = os.wait4(p.pid, 0); "
    "print(os.waitstatus_to_exitcode(st), ru.ru_maxrss)"
)


def run_measured(args: list[str]) -> tuple[int, int, str]:
    """``python args…`` in the repository root: (exit code, peak resident bytes, stderr). Measured by a small
    fresh interpreter that starts it (a child forked from the large test process would count its pages)."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, *args], cwd=ROOT, capture_output=True, text=True
    )
    code, rss = out.stdout.split()[-2:]
    return int(code), int(rss) * 1024, out.stderr
