"""Tables printed without inner rulings (三线表), found from the whitespace of the page: r001 printed by the scan
simulator's unruled family (its tables with a top, an under-header and a bottom rule only), read end to end and
scored against the report's cells; and a ruled page, where the stream gridder finds nothing to do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service.evaluate import score
from service.ingest import load_document
from service.ocr.grid import binarize, ruling_segments
from service.ocr.render import render_pages
from service.pages.layout import find_grids
from service.pages.stream import stream_tables
from service.pipeline import extract_document
from training.layout.data import scansim

ROOT = Path(__file__).resolve().parents[2]
DPI = 200


@pytest.fixture(scope="module")
def unruled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("weasyprint")
    sim = scansim()
    preset = sim.PRESETS["unruled"]
    out = tmp_path_factory.mktemp("unruled") / sim.scan_name("r001", preset)
    return Path(sim.scan(sim.source_for("r001"), out, preset, 0).path)


def _level_page(pdf: Path, page: int) -> np.ndarray:
    """A page of the simulated scan as printed (skewed by less than half a degree: the rules are still found)."""
    return render_pages(pdf, pages=[page], dpi=DPI)[page]


def test_stream_grids_on_an_unruled_page(unruled: Path) -> None:
    gray = _level_page(unruled, 2)
    segments = ruling_segments(binarize(gray), DPI)
    assert find_grids(gray, DPI) == []  # no ruled table: only the three rules of each 三线表
    tables = stream_tables(gray, segments, DPI)
    assert len(tables) == 2  # the end of table 2, the start of table 3 (continued on page 3)
    t2, t3 = (t.grid for t in tables)
    assert not tables[0].zone.open_bottom and tables[1].zone.open_bottom
    # table 3: a label column (with the labels spanning rows) and the 7 value columns of 申请人情况
    widths = sorted(np.diff(t3.xs))
    assert t3.n_cols >= 8
    assert sum(1 for w in widths if w > 0.25 * DPI) >= 8
    # every row of table 2's sections is a row of its own (14 printed on this page)
    assert 12 <= t2.n_rows <= 14


def test_unruled_report_reads_right_and_never_silently_wrong(unruled: Path) -> None:
    truth = json.loads((ROOT / "datasets" / "dev-reports" / "r001" / "cells.json").read_text(encoding="utf-8"))
    result = extract_document(load_document(unruled))
    s = score(result, truth, "r001", unruled.name)
    silent = [cid for cid, _, _ in s.wrong if (c := result.cells.get(cid)) is None or not c.needs_review]
    assert silent == []
    assert s.right >= 0.98 * s.total  # 90 % with the layout model alone; 100 % measured


def test_ruled_scan_keeps_its_ruled_grids() -> None:
    """A ruled scan (moderate): its tables come from the rulings; no cell is marked as found without them."""
    doc = load_document(ROOT / "datasets" / "scans" / "r001-moderate-200dpi.pdf")
    cells = [c for b in doc.tables() if b.table is not None for c in b.table.cells]
    assert len(doc.tables()) == 3
    assert cells and not any(c.provenance.layout_model for c in cells)
