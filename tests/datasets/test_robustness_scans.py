"""The scan families of the robustness suite (datasets/robustness/scans.py): the plan covers every dev report,
each family is its scansim preset, a variant is a seeded image-only PDF of the report's base rendering."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pdfplumber
import pytest

from datasets.robustness import generate as gen
from datasets.robustness import scans
from tests.conftest import load_scansim

scansim = load_scansim()
DEV = Path(__file__).resolve().parents[2] / "datasets" / "dev-reports"


def test_every_dev_report_is_scanned_by_some_family_and_every_family_runs() -> None:
    reports = {r for ids in scans.PLAN.values() for r in ids}
    assert reports == {p.name for p in DEV.iterdir() if (p / "cells.json").exists()}
    assert {f.removeprefix("scan_") for f in scans.SCAN_FAMILIES} == set(scansim.FAMILIES)
    assert all(1 <= len(ids) <= 2 for ids in scans.PLAN.values())  # the suite stays a few minutes
    assert not set(scans.SCAN_FAMILIES) & set(gen.FAMILIES)
    for family, report in scans.planned(None):
        assert scans.preset(family).name == family.removeprefix("scan_")
        assert gen.BASE[report] in gen.RENDERINGS
    assert scans.planned(["r005-html"]) == [(f, "r005") for f, ids in scans.PLAN.items() if "r005" in ids]


def test_a_scan_variant_is_a_seeded_image_only_pdf(tmp_path: Path) -> None:
    pytest.importorskip("weasyprint", reason="weasyprint is not installed (the `scan` extra)")
    if not scansim.cjk_font_installed():
        pytest.skip(f"font {scansim.CJK_FONT!r} is not installed")
    made = scans.make_scan("r001", "scan_lowres", 0, tmp_path / "a")  # a PDF source: no WeasyPrint, quick
    again = scans.make_scan("r001", "scan_lowres", 0, tmp_path / "b")
    assert made.name == again.name == "r001__scan_lowres__s0.pdf" and made.rendering == "r001"
    digest = hashlib.sha256(made.path.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(again.path.read_bytes()).hexdigest()
    with pdfplumber.open(made.path) as pdf:
        assert len(pdf.pages) == made.pages == 5
        assert sum(len(p.chars) for p in pdf.pages) == 0
