"""The agency layout memory learned from a real store (training/layout_memory.py through training/finetune.py): the seed
report's fax-quality scan read into a temporary SQLite store, a reviewer corrects one flagged cell and approves
(crud.correct / crud.approve, as benchmarks/bench_review_loop.py does), the approved report is exported for training
(service/export.py) and a short ``xxgk train --from`` writes the model folder with its ``layouts.json``; reading the
scan again with that folder lets the confirmed cells off the queue and keeps the corrected one in it."""

from __future__ import annotations

import json

import pytest

from service import PIPELINE_VERSION
from service.batch import run_batch
from service.export import ReportMeta, write_training
from service.options import load_options
from service.pipeline import extract
from service.reconcile.memory import CONFIRMED, LAYOUTS_FILE, agency_key
from service.store import crud, opened, sqlite_url
from service.store.blobs import LocalBlobs
from tests.conftest import load_scansim
from training import finetune

CORRECTED = "t3.new_received.other_org"  # the reviewer types the value the row total implies
CONFIRMED_CELLS = {"t3.carried_over.other_org", "t4.litigation_after_review.total"}


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    work = tmp_path_factory.mktemp("loop")
    scansim = load_scansim()
    scan = work / "seed-fax.pdf"
    scansim.scan(scansim.source_for("seed"), scan, scansim.PRESETS["fax"], 0)
    options = load_options()
    url = sqlite_url(str(work / "loop.db"))
    blobs = LocalBlobs(work / "loop.files")
    run_batch([str(scan)], url, blobs, options)
    with opened(url) as sessions, sessions() as s:
        ((report, result),) = list(crud.newest_results(s))
        machine = result.model_copy(deep=True)
        cell = result.cells[CORRECTED]
        assert cell.needs_review and cell.status == "absent" and cell.inferred_value is not None
        crud.correct(
            s, report.id, CORRECTED, cell.inferred_value, cell.version, "the row total", actor="t", role="reviewer"
        )
        crud.approve(s, report.id, actor="t", role="reviewer")
        approved = [(ReportMeta.of(r), res) for r, res in crud.newest_results(s, approved_only=True)]
        sha256 = report.sha256
    export = work / "export"
    write_training(export, approved, blobs, options)
    out = work / "tagger-reviewed"
    assert finetune.run(export, out, steps=2, synthetic_docs=2, evaluate=False, options=options) == 0
    return {"scan": scan, "machine": machine, "out": out, "sha256": sha256, "options": options, "export": export}


def test_the_approved_review_is_learned_into_layouts_json(loop):
    machine, out = loop["machine"], loop["out"]
    data = json.loads((out / LAYOUTS_FILE).read_text(encoding="utf-8"))
    assert data["format"] == "xxgk-layouts/1"
    (key,) = data["agencies"]
    assert key == agency_key(machine.agency or "") and data["agencies"][key]["names"] == [machine.agency]
    layouts = data["agencies"][key]["layouts"]
    assert set(layouts) == {"dev_missing_other_column", "dev_missing_t4_total"}
    cells = {cid: c for lay in layouts.values() for cid, c in lay["cells"].items()}
    assert set(cells) == CONFIRMED_CELLS  # the corrected cell is not learned; low readings are no layout
    assert layouts["dev_missing_other_column"]["cells"]["t3.carried_over.other_org"]["codes"] == [
        "column_not_printed_in_row"
    ]
    assert layouts["dev_missing_t4_total"]["cells"]["t4.litigation_after_review.total"]["codes"] == [
        "t4_last_total_missing"
    ]
    for c in cells.values():
        ((evidence),) = c["confirmed_in"]
        assert evidence["sha256"] == loop["sha256"] and evidence["year"] == machine.year == 2021


def test_the_memory_is_part_of_the_model_id_and_card(loop):
    out = loop["out"]
    meta = json.loads((out / "xxgk.json").read_text(encoding="utf-8"))
    layouts = (out / LAYOUTS_FILE).read_bytes()
    assert meta["model_id"] == finetune.model_hash(out / "model.safetensors", layouts)
    assert meta["model_id"] != finetune.weights_id(out / "model.safetensors")
    assert meta["layouts"] == {"file": "layouts.json", "review_records": 1, "agencies": 1, "layouts": 2, "cells": 2}
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "`dev_missing_other_column`, 1 cells" in card and "`dev_missing_t4_total`, 1 cells" in card
    (example,) = finetune.load_examples(loop["export"])  # the record comes with the approved report's example
    assert example["review"]["flags"][CORRECTED]["status"] == "corrected"


def test_reading_again_with_the_model_folder_lets_the_confirmed_cells_off(loop):
    options = loop["options"]
    switched = options.model_copy(
        update={"classifier": options.classifier.model_copy(update={"model_dir": str(loop["out"])})}
    )
    meta = json.loads((loop["out"] / "xxgk.json").read_text(encoding="utf-8"))
    result = extract(loop["scan"], switched)
    assert result.pipeline_version == f"{PIPELINE_VERSION}+tagger.{meta['model_id']}"
    machine = loop["machine"]
    before = {cid for cid, c in machine.cells.items() if c.needs_review}
    after = {cid for cid, c in result.cells.items() if c.needs_review}
    let_off = {cid for cid, c in result.cells.items() if any(rc.code == CONFIRMED for rc in c.review_codes)}
    assert let_off == CONFIRMED_CELLS and not after & CONFIRMED_CELLS
    assert CORRECTED in after  # the reviewer disagreed with the machine there: it stays in the queue
    assert after == before - CONFIRMED_CELLS  # the low readings stay; nothing else changes
    for cid in CONFIRMED_CELLS:
        assert result.cells[cid].status == "absent" and result.cells[cid].value is None
