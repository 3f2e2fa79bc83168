from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "datasets" / "dev-reports"
REPORT_IDS = sorted(p.name for p in DEV.iterdir() if (p / "cells.json").exists())


@lru_cache(maxsize=None)
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
