"""Narrative facts: the catalog, the synthetic paragraph generator and the hand-checked dev fact set."""
from __future__ import annotations

import json
import random
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from service.ingest import load_document
from service.normalize import clean
from service.schema import FORMATS, load_format
from training.synth.narrative import (
    CONTRADICTION_RATE,
    FACT_IDS,
    NUMBER_RE,
    fact_labels,
    load_catalog,
    narrative_paragraphs,
    parse_fact_number,
    table_value,
)

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "datasets" / "dev-reports"
DEV_FACTS = ROOT / "datasets" / "facts" / "dev-facts.jsonl"


def _cells(rng: random.Random, fmt: str) -> dict[str, int | float | None]:
    """A table as a generator would draw it: counts, some blanks."""
    out: dict[str, int | float | None] = {}
    for c in load_format(fmt).cells():
        r = rng.random()
        out[c.id] = None if r < 0.05 else (0 if r < 0.3 else rng.randint(1, 3000))
    return out


def _generate(seed: int, fmt: str, **kw):
    rng = random.Random(seed)
    cells = _cells(rng, fmt)
    out = narrative_paragraphs(random.Random(seed), fmt, cells, "某某县人民政府", 2022, **kw)
    return cells, out


def _spans(out):
    for section, paras in out.items():
        for text, spans in paras:
            for s, e, label in spans:
                yield section, text, s, e, label


# ------------------------------------------------------------------------------------------- catalog


def test_catalog_ids_are_cells_or_text_ids():
    cat = load_catalog()
    assert 20 <= len(cat) <= 40
    for fmt in FORMATS:
        cell_ids = {c.id for c in load_format(fmt).cells()}
        for d in cat.values():
            assert d.kind in ("cell", "text") and d.name_zh and d.units and d.cues, d.id
            if not d.applies(fmt):
                continue
            if d.kind == "cell":
                assert d.label(fmt) in cell_ids, (fmt, d.id)
            else:
                assert d.id.startswith("x.") and d.label(fmt) == d.id
                assert all(c in cell_ids for c in d.sum_of), (fmt, d.id)
    assert FACT_IDS == fact_labels("2019") | fact_labels("2021")
    assert "t3.new_received.total" in FACT_IDS and "x.proactive_items" in FACT_IDS
    # per-format cells: 2019 "made", 2021 "issued"
    assert "t2.art20_1.normative_documents.made_this_year" in fact_labels("2019")
    assert "t2.art20_1.normative_documents.issued_this_year" in fact_labels("2021")
    assert "t3.other_processing.total" not in fact_labels("2021")


def test_labelset_builder_takes_every_fact_label():
    from training.labelset import build

    ids = {lab["id"] for lab in build()}
    assert FACT_IDS <= ids


# ----------------------------------------------------------------------------------------- generator


@pytest.mark.parametrize("fmt", FORMATS)
def test_spans_point_at_numbers_of_clean_text(fmt):
    seen = Counter()
    for seed in range(60):
        _, out = _generate(seed, fmt)
        assert {"s1", "s5", "s6"} <= set(out) <= {"preamble", "s1", "s5", "s6"}
        for paras in out.values():
            for text, spans in paras:
                assert text and clean(text) == text
                last = 0
                for s, e, label in spans:
                    assert last <= s < e <= len(text)
                    assert NUMBER_RE.fullmatch(text[s:e]), (text[s:e], text)
                    # the number is whole: no digit glued on either side
                    assert not (s > 0 and text[s - 1].isdigit()) and not (e < len(text) and text[e].isdigit())
                    assert label in fact_labels(fmt), label
                    seen[label] += 1
                    last = e
    # breadth: most facts of the format appear across 60 reports
    assert len(seen) >= len(fact_labels(fmt)) - 2, set(fact_labels(fmt)) - set(seen)


def test_seeded_output_is_deterministic():
    for fmt in FORMATS:
        assert _generate(7, fmt) == _generate(7, fmt)
    assert _generate(7, "2021")[1] != _generate(8, "2021")[1]


def test_numbers_that_are_not_facts_stay_unlabelled():
    unlabelled = 0
    for seed in range(20):
        _, out = _generate(seed, "2021")
        for paras in out.values():
            for text, spans in paras:
                covered = {(s, e) for s, e, _ in spans}
                unlabelled += sum(1 for m in NUMBER_RE.finditer(text) if (m.start(), m.end()) not in covered)
    assert unlabelled > 100  # dates, years, percentages, 文号, phones, other counts


@pytest.mark.parametrize("fmt", FORMATS)
def test_table_linked_facts_state_the_table(fmt):
    for seed in range(40):
        cells, out = _generate(seed, fmt, contradiction_rate=0.0)
        by_label = {load_catalog()[fid].label(fmt): fid for fid in load_catalog() if load_catalog()[fid].applies(fmt)}
        for _, text, s, e, label in _spans(out):
            fid = by_label[label]
            expected = table_value(fid, fmt, cells)
            d = load_catalog()[fid]
            if d.kind == "cell" or d.sum_of:
                assert parse_fact_number(text[s:e]) == expected, (label, text[s:e], expected)


def test_a_controlled_share_contradicts_the_table():
    tied = wrong = 0
    for seed in range(200):
        fmt = FORMATS[seed % 2]
        cells, out = _generate(seed, fmt)
        by_label = {d.label(fmt): d for d in load_catalog().values() if d.applies(fmt)}
        for _, text, s, e, label in _spans(out):
            d = by_label[label]
            if d.kind == "cell" or d.sum_of:
                tied += 1
                wrong += parse_fact_number(text[s:e]) != table_value(d.id, fmt, cells)
    assert tied > 500
    assert 0.4 * CONTRADICTION_RATE < wrong / tied < 2 * CONTRADICTION_RATE


# --------------------------------------------------------------------------------------- dev fact set


@lru_cache(maxsize=None)
def _report_texts(report: str, source: str) -> tuple[str, ...]:
    doc = load_document(DEV / report / source)
    return tuple(b.text for b in doc.blocks if b.kind != "table")


def _dev_facts() -> list[dict]:
    return [json.loads(line) for line in DEV_FACTS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_dev_facts_parse_and_occur_in_the_reports():
    facts = _dev_facts()
    assert len(facts) >= 30
    keys = set()
    for f in facts:
        assert set(f) == {"report", "source", "fact", "value", "text", "sentence"}, f
        fmt = json.loads((DEV / f["report"] / "meta.json").read_text(encoding="utf-8"))["format"]
        assert f["fact"] in fact_labels(str(fmt)), f
        assert NUMBER_RE.fullmatch(f["text"]) and parse_fact_number(f["text"]) == f["value"], f
        assert f["text"] in f["sentence"] and clean(f["sentence"]) == f["sentence"], f
        texts = _report_texts(f["report"], f["source"])
        assert any(f["sentence"] in t for t in texts), f
        key = (f["report"], f["fact"], f["sentence"])
        assert key not in keys, f
        keys.add(key)


def test_dev_facts_of_table_cells_agree_with_the_truth_tables():
    for f in _dev_facts():
        if not f["fact"].startswith("t"):
            continue
        truth = json.loads((DEV / f["report"] / "cells.json").read_text(encoding="utf-8"))["cells"]
        printed = truth.get(f["fact"])
        assert printed is None or printed == f["value"], f
