"""The agency layout memory (service/reconcile/memory.py) on real reads: fax-quality scans of the seed report (a
其他 column not printed in two rows, table 4's last 总计 not printed) and of r001 (（六）其他处理 printed as one row),
read by the pipeline with the shipped model; the memory learned from their review records
(training/layout_memory.py) as if a reviewer had approved them with every flag confirmed."""

from __future__ import annotations

import json

import pytest

from service.messages import parse, render
from service.options import load_options
from service.pipeline import extract
from service.reconcile.memory import (
    CONFIRMED,
    LAYOUTS_FILE,
    LayoutMemory,
    agency_key,
    apply_memory,
    let_off_confirmed,
    load_memory,
    review_record,
)
from service.result import Result
from tests.conftest import load_scansim
from training.layout_memory import learn

SEED_EXPLAINED = {  # absent cells a dev_* deviation of the seed report explains
    "t3.new_received.other_org": "dev_missing_other_column",
    "t3.carried_over.other_org": "dev_missing_other_column",
    "t4.litigation_after_review.total": "dev_missing_t4_total",
}
R001_RULE_FAILURES = {"t4.review.upheld", "t4.litigation_after_review.upheld"}  # the source's own arithmetic error


@pytest.fixture(scope="module")
def reads(tmp_path_factory) -> dict[str, Result]:
    """The seed and r001 reports printed and scanned at fax quality (datasets/scansim.py, seed 0), read."""
    scansim = load_scansim()
    folder = tmp_path_factory.mktemp("fax")
    out = {}
    for report in ("seed", "r001"):
        path = folder / f"{report}-fax.pdf"
        scansim.scan(scansim.source_for(report), path, scansim.PRESETS["fax"], 0)
        out[report] = extract(path, load_options())
    return out


def fresh(reads: dict[str, Result], report: str) -> Result:
    return reads[report].model_copy(deep=True)


def memory_of(*results: Result) -> LayoutMemory:
    """What an approval of ``results`` with every flag confirmed unchanged teaches."""
    return LayoutMemory.of(learn([{"report_id": f"r{i}", **review_record(r)} for i, r in enumerate(results)]))


def flagged(result: Result) -> set[str]:
    return {cid for cid, c in result.cells.items() if c.needs_review}


def test_the_reads_flag_what_the_memory_is_about(reads):
    seed, r001 = reads["seed"], reads["r001"]
    assert SEED_EXPLAINED.keys() <= flagged(seed)
    assert {d.id for d in seed.deviations} >= set(SEED_EXPLAINED.values())
    single = {
        cid for cid in flagged(r001) if any(rc.code == "single_other_processing" for rc in r001.cells[cid].review_codes)
    }
    assert len(single) == 21 and all(r001.cells[c].status == "absent" for c in single)
    assert R001_RULE_FAILURES <= flagged(r001)


def test_the_memory_lets_the_same_agencys_explained_absent_cells_off(reads):
    memory = memory_of(reads["seed"], reads["r001"])
    seed, r001 = fresh(reads, "seed"), fresh(reads, "r001")
    before_seed, before_r001 = flagged(seed), flagged(r001)

    off = apply_memory(seed.cells, seed.agency, seed.deviations, memory)
    assert set(off) == set(SEED_EXPLAINED)
    assert flagged(seed) == before_seed - set(SEED_EXPLAINED)
    assert all(seed.cells[c].status == "absent" and seed.cells[c].value is None for c in off)  # no number asserted
    cell = seed.cells["t3.new_received.other_org"]
    assert [rc.code for rc in cell.review_codes] == ["column_not_printed_in_row", "deviation", CONFIRMED]
    assert cell.review_codes[-1].params == {"year": seed.year, "count": 1}
    assert (
        cell.review_reasons[-1] == render(cell.review_codes[-1])
        and parse(cell.review_reasons[-1]) == cell.review_codes[-1]
    )
    assert "本机关" in render(cell.review_codes[-1], "zh")
    # the seed's low readings (no rule checks them) are the machine's doubt, not the layout's: they stay
    assert {c for c in flagged(seed) if any(rc.code == "low_reading_unchecked" for rc in seed.cells[c].review_codes)}

    off = apply_memory(r001.cells, r001.agency, r001.deviations, memory)
    assert len(off) == 21 and flagged(r001) == before_r001 - set(off)
    assert flagged(r001) == R001_RULE_FAILURES  # the source's own arithmetic error stays flagged
    for cid in R001_RULE_FAILURES:
        assert "source_rule_failure" in [rc.code for rc in r001.cells[cid].review_codes]
        assert CONFIRMED not in [rc.code for rc in r001.cells[cid].review_codes]


def test_another_agencys_identical_layout_is_not_let_off(reads):
    memory = memory_of(reads["seed"])
    seed = fresh(reads, "seed")
    assert apply_memory(seed.cells, "湖滨区人民政府办公室（另一机关）", seed.deviations, memory) == []
    assert apply_memory(seed.cells, None, seed.deviations, memory) == []
    assert flagged(seed) == flagged(reads["seed"])
    # the agency's name as printed another way (full-width, spaces) is the same agency
    name = " ".join(seed.agency or "")
    assert agency_key(name) == agency_key(seed.agency or "")
    assert set(apply_memory(seed.cells, name, seed.deviations, memory)) == set(SEED_EXPLAINED)


def test_a_deviation_not_detected_again_or_another_one_lets_nothing_off(reads):
    memory = memory_of(reads["seed"])
    seed = fresh(reads, "seed")
    # this read does not show the 其他 column missing (the deviation is not detected): its cells stay flagged
    kept = [d for d in seed.deviations if d.id != "dev_missing_other_column"]
    assert apply_memory(seed.cells, seed.agency, kept, memory) == ["t4.litigation_after_review.total"]
    assert {"t3.new_received.other_org", "t3.carried_over.other_org"} <= flagged(seed)
    # confirmed under another deviation than the one that explains the cell now: not the same layout
    data = learn([{"report_id": "s", **review_record(reads["seed"])}])
    (entry,) = data["agencies"].values()
    entry["layouts"]["dev_transposed_t4"] = entry["layouts"].pop("dev_missing_t4_total")
    seed = fresh(reads, "seed")
    off = apply_memory(seed.cells, seed.agency, seed.deviations, LayoutMemory.of(data))
    assert "t4.litigation_after_review.total" not in off and "t4.litigation_after_review.total" in flagged(seed)
    assert set(off) == {"t3.new_received.other_org", "t3.carried_over.other_org"}


def test_a_cell_with_a_number_or_another_reason_is_never_let_off(reads):
    memory = memory_of(reads["seed"])
    seed = fresh(reads, "seed")
    read = seed.cells["t3.new_received.other_org"]
    read.status, read.value = "read", 0  # read this time (a number asserted), with the same reasons
    inferred = seed.cells["t3.carried_over.other_org"]
    inferred.status, inferred.value = "inferred", inferred.inferred_value  # the rule's number put in the value
    doubted = seed.cells["t4.litigation_after_review.total"]
    doubted.review_codes.append(doubted.review_codes[0].model_copy(update={"code": "low_reading"}))
    doubted.review_reasons.append(render(doubted.review_codes[-1]))
    assert apply_memory(seed.cells, seed.agency, seed.deviations, memory) == []
    assert set(SEED_EXPLAINED) <= flagged(seed)


def test_a_corrected_cell_is_not_learned(reads):
    seed = fresh(reads, "seed")
    cell = seed.cells["t3.new_received.other_org"]
    cell.status, cell.value, cell.version, cell.needs_review = "corrected", 3, 2, False  # the reviewer disagreed
    data = learn([{"report_id": "s", **review_record(seed)}])
    (entry,) = data["agencies"].values()
    learned = {cid for lay in entry["layouts"].values() for cid in lay["cells"]}
    assert learned == set(SEED_EXPLAINED) - {"t3.new_received.other_org"}
    again = fresh(reads, "seed")
    assert "t3.new_received.other_org" not in apply_memory(
        again.cells, again.agency, again.deviations, LayoutMemory.of(data)
    )


def test_the_memory_comes_from_the_classifier_model_folder_once_per_path(reads, tmp_path):
    options = load_options()
    shipped = options.classifier
    assert load_memory(str(shipped.model_path)) is None  # the shipped model has none: nothing changes
    seed = fresh(reads, "seed")
    assert let_off_confirmed(seed.cells, seed.agency, seed.deviations, shipped) == []
    folder = tmp_path / "tagger-reviewed"
    folder.mkdir()
    data = learn([{"report_id": "s", **review_record(reads["seed"])}])
    (folder / LAYOUTS_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    cfg = shipped.model_copy(update={"model_dir": str(folder)})
    misses = load_memory.cache_info().misses
    assert set(let_off_confirmed(seed.cells, seed.agency, seed.deviations, cfg)) == set(SEED_EXPLAINED)
    again = fresh(reads, "seed")
    assert set(let_off_confirmed(again.cells, again.agency, again.deviations, cfg)) == set(SEED_EXPLAINED)
    assert load_memory.cache_info().misses == misses + 1
    off = fresh(reads, "seed")
    assert let_off_confirmed(off.cells, off.agency, off.deviations, cfg.model_copy(update={"enabled": False})) == []
