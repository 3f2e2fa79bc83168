"""The shipped token classifier (models/tagger) on real dev reports."""

from __future__ import annotations

import random

import numpy as np
import pytest

from service.options import load_options
from service.pipeline import extract_document
from service.understand.classifier import DEFAULT_MODEL, Tagger, _plain, get_tagger
from service.understand.encode import Segment, segments, stream, windows
from service.understand.facts import extract_facts
from service.understand.labels import LABELS_FILE
from service.understand.matcher import best_similarity
from training.devlabels import SOURCES, corrupt_labels, gold_segments
from training.synth.noise import corrupt_text

MB = 1024 * 1024


def test_artifact_is_small_complete_and_trained_on_todays_label_set():
    files = {p.name for p in DEFAULT_MODEL.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "model.onnx",
        "model.int8.onnx",
        "vocab.txt",
        "tags.json",
        "labels.yaml",
        "xxgk.json",
        "README.md",
    } <= files
    assert sum(p.stat().st_size for p in DEFAULT_MODEL.iterdir()) <= 25 * MB
    assert (DEFAULT_MODEL / "labels.yaml").read_text(encoding="utf-8") == LABELS_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["r003", "r010", "r001"])
def test_labels_and_headings_of_a_real_report(name):
    doc, gold = gold_segments(name)
    tagging = get_tagger().tag(doc)
    scored = [(seg, lab) for seg, lab in gold if lab not in ("-", "val")]
    wrong = [
        (seg.text, lab, tagging.label_of(seg.key).label)
        for seg, lab in scored
        if tagging.label_of(seg.key).label != lab
    ]
    # measured 97.8-100 % on these renderings (benchmarks/bench_classifier.py); the target is 99.5 %
    assert len(wrong) <= len(scored) // 33, wrong
    headings = [lab for _, lab in scored if lab.startswith("sec.")]
    assert len(headings) >= 5


def test_onnx_and_torch_engines_predict_the_same():
    pytest.importorskip("torch")
    doc, _ = gold_segments("r003")
    onnx, torch_ = Tagger(engine="onnx"), Tagger(engine="torch")

    st = stream(segments(doc), onnx.vocab)
    w = windows(st, onnx.vocab, onnx.meta["max_len"], onnx.meta["overlap"])
    a = onnx.logits(w.input_ids, w.bbox, w.token_type_ids, w.attention_mask)
    b = torch_.logits(w.input_ids, w.bbox, w.token_type_ids, w.attention_mask)
    assert np.abs(a - b).max() < 1e-3
    assert (a.argmax(-1) == b.argmax(-1)).mean() == 1.0
    ta, tb = onnx.tag(doc), torch_.tag(doc)
    assert {k: p.label for k, p in ta.segments.items()} == {k: p.label for k, p in tb.segments.items()}
    assert [(s.key, s.start, s.end, s.label) for s in ta.spans] == [(s.key, s.start, s.end, s.label) for s in tb.spans]
    assert max(abs(p.confidence - tb.segments[k].confidence) for k, p in ta.segments.items()) < 1e-4


def test_int8_engine_gives_the_fp32_predictions_on_every_dev_rendering():
    """The served int8 weights (dynamic quantisation of model.onnx) against the fp32 export: the same label for
    every segment, the same metadata spans and the same narrative facts on every real rendering; confidences
    within 0.05. (One-character heading spans inside paragraphs, which nothing reads, may differ.)"""

    fp32, int8 = Tagger(engine="onnx"), Tagger(engine="onnx-int8")
    for name in SOURCES:
        doc, _ = gold_segments(name)
        a, b = fp32.tag(doc), int8.tag(doc)
        assert {k: p.label for k, p in a.segments.items()} == {k: p.label for k, p in b.segments.items()}, name
        meta = [[(s.key, s.start, s.end, s.label) for s in t.spans if s.label.startswith("meta.")] for t in (a, b)]
        assert meta[0] == meta[1], name  # the spans the assembler reads (agency, year, date)
        assert max(abs(p.confidence - b.segments[k].confidence) for k, p in a.segments.items()) < 0.05, name
        for fmt in ("2019", "2021"):
            fa = [(f.id, f.value, f.block, f.start) for f in extract_facts(doc, a, fmt)]
            assert fa == [(f.id, f.value, f.block, f.start) for f in extract_facts(doc, b, fmt)], name


def _garble(doc, key, text):
    doc = doc.model_copy(deep=True)
    cell = next(c for c in doc.blocks[key[0]].table.cells if (c.row, c.col) == key[1:])
    cell.text = text
    return doc


def test_classifier_finds_a_row_whose_label_ocr_garbled_beyond_the_matcher():
    doc, gold = gold_segments("r010")
    seg = next(seg for seg, lab in gold if lab == "t3.unable_needs_creation")
    # 2.没有现成信息需要另行制作 read by a poor OCR: half of the characters swapped for shapes outside the
    # matcher's look-alike groups (service/data/lookalikes.tsv)
    garbled = "2.殳冇现戍伩息霈娄另亍制诈"
    bad = _garble(doc, seg.key, garbled)

    assert best_similarity([garbled], ["2.没有现成信息需要另行制作"]) < 0.5
    with_classifier = extract_document(bad)
    clean = extract_document(doc)
    without = extract_document(bad, load_options().with_changes(classifier={"enabled": False}))
    cid = "t3.unable_needs_creation.total"
    assert with_classifier.cells[cid].value == clean.cells[cid].value
    assert with_classifier.cells[cid].status == "read"
    assert (
        without.cells[cid].status != "read"
        or without.cells[cid].value != clean.cells[cid].value
        or any("unmapped" in d.id for d in without.deviations)
    )


def test_tagging_is_deterministic_and_offsets_are_exact():
    doc, _ = gold_segments("r005")
    a, b = get_tagger().tag(doc), get_tagger().tag(doc)
    assert a == b
    for span in a.spans:
        block = doc.blocks[span.key[0]]
        text = (
            block.text
            if len(span.key) == 1
            else next(c.text for c in block.table.cells if (c.row, c.col) == span.key[1:])
        )
        assert text[span.start : span.end] == span.text
    assert a.numbers and all(doc.blocks[n.key[0]].text[n.start : n.end] == n.text for n in a.numbers)


def test_random_noise_rarely_moves_labels():
    """Robustness smoke test on one report: 6 % of label characters corrupted like OCR output."""

    doc, gold = gold_segments("r003")
    rng = random.Random(11)
    bad = doc.model_copy(deep=True)
    keys = {seg.key for seg, lab in gold if lab not in ("val", "-") and len(seg.key) == 3}
    for b, block in enumerate(bad.blocks):
        if block.table is not None:
            for cell in block.table.cells:
                if (b, cell.row, cell.col) in keys:
                    cell.text = corrupt_text(cell.text, 0.06, rng) or cell.text
    tagging = get_tagger().tag(bad)
    scored = [(seg, lab) for seg, lab in gold if len(seg.key) == 3 and lab not in ("val", "-")]
    right = sum(tagging.label_of(seg.key).label == lab for seg, lab in scored)
    assert right / len(scored) >= 0.95


def test_table3_without_total_column_is_mapped_from_the_header_the_classifier_reads():
    """A layout the count rules cannot place (six values and a 其他 column: the 总计 column is missing)."""
    doc, gold = gold_segments("r010")
    total_key = next(seg.key for seg, lab in gold if lab == "t3.col.total")
    b, _, total_col = total_key
    doc = doc.model_copy(deep=True)
    grid = doc.blocks[b].table
    grid.cells = [c for c in grid.cells if c.col != total_col]
    clean = extract_document(gold_segments("r010")[0])
    result = extract_document(doc)
    for rid in ("new_received", "granted", "results_total"):
        for col in ("natural_person", "commercial_enterprise", "other_org"):
            cid = f"t3.{rid}.{col}"
            assert result.cells[cid].value == clean.cells[cid].value, cid
        assert result.cells[f"t3.{rid}.total"].status == "absent"
    assert any(d.id == "xxgk_columns_from_header" for d in result.deviations)


def test_paragraphs_without_a_count_are_left_out_of_the_classifier():

    def seg(text: str, block: int = 20) -> Segment:
        return Segment((block,), text, "text", (0, 0, 1000, 1000), None)

    dated = "根据《中华人民共和国政府信息公开条例》（国务院令第711号）要求，现公布本机关2021年度报告，统计期限为2021年1月1日至12月31日止。"
    assert not _plain(seg(dated))  # 第711号 is a number that is no date: kept
    assert _plain(seg(dated.replace("（国务院令第711号）", "")))
    assert _plain(
        seg(
            "依据〔2021〕号文件的要求，进一步规范政府信息公开工作流程，加强对各部门公开工作的指导和监督检查，确保公开质量。"
        )
    )
    assert not _plain(
        seg("全年共收到政府信息公开申请95件，比上年增加12件，全部在法定期限内答复，没有发生因答复不及时被复议的情况。")
    )
    assert not _plain(seg("二、主动公开政府信息情况"))  # headings are short
    assert not _plain(seg(dated.replace("（国务院令第711号）", ""), block=3))  # title lines: metadata is read there


def test_cell_labels_are_constrained_by_what_their_text_can_print():
    """r013 (a PDF-to-Markdown conversion) cuts （六）其他处理 and （五）不予处理 into fragments printed beside the
    sub-items of their group: the network reads them as the neighbouring sub-item, the text rules that out, and
    the served label is the group. The network's own reading is kept (``model_label``) for review."""
    doc, gold = gold_segments("r013")
    tagging = get_tagger().tag(doc)
    by_text = {seg.text: (seg, lab) for seg, lab in gold}
    for text in ("(六)其", "他处理", "予处理"):
        seg, lab = by_text[text]
        pred = tagging.label_of(seg.key)
        assert pred.label == lab, (text, pred)
        assert pred.model_label not in (None, lab)  # the network alone got it wrong: the constraint decided
        assert pred.confidence > 0.5 and pred.top[0] == (pred.label, pred.confidence)
    # cells whose text fits the network's label keep the network's distribution untouched
    untouched = [tagging.label_of(seg.key) for seg, lab in gold if lab not in ("-", "O")]
    assert sum(p.model_label is None for p in untouched) >= len(untouched) - 8


def test_a_bare_number_is_never_a_table_label():
    """r003's table 3 prints 5 under 5.属于三类内部事务信息: the network calls that value cell the row label."""
    for name in ("r003", "r003-docx"):
        doc, gold = gold_segments(name)
        tagging = get_tagger().tag(doc)
        values = [tagging.label_of(seg.key) for seg, lab in gold if lab == "val"]
        assert all(p.label == "val" for p in values), name
        assert any(p.model_label == "t3.denied_internal_affairs" for p in values), name


def test_mapping_on_every_dev_rendering_reaches_the_target():
    """Issue 4's target, 99.5 % of every table label and heading of the dev renderings (datasets/dev-labels),
    clean; and 98 % with 6 % of their label characters corrupted like OCR output."""
    import zlib

    right = total = right_noisy = 0
    for name in SOURCES:
        doc, gold = gold_segments(name)
        bad, _ = corrupt_labels(doc, gold, 0.06, 4 + zlib.crc32(name.encode()) % 1000)
        for d, hits in ((doc, "clean"), (bad, "noisy")):
            tagging = get_tagger().tag(d)
            ok = sum(tagging.label_of(seg.key).label == lab for seg, lab in gold if lab not in ("-", "val"))
            if hits == "clean":
                right += ok
                total += sum(lab not in ("-", "val") for _, lab in gold)
            else:
                right_noisy += ok
    assert right / total >= 0.995, (right, total)
    assert right_noisy / total >= 0.98, (right_noisy, total)


def test_a_long_text_is_read_in_bounded_batches(tmp_path):
    """850 KB of real report text (three dev reports, 25 times): the windows are read BATCH_WINDOWS at a time, so
    the process stays far below the 1.84 GB that reading them all at once took, and every report's tables still
    come out (the same cells in each copy)."""
    from tests.conftest import DEV, run_measured

    parts = [(DEV / r / "source.txt").read_bytes() for r in ("r005", "seed", "r010")]
    text = tmp_path / "long.txt"
    text.write_bytes(b"".join(parts) * 25)
    assert text.stat().st_size > 800_000
    out = tmp_path / "long.json"
    code, peak, err = run_measured(["-m", "service.cli", "extract", str(text), "-o", str(out)])
    assert code in (0, 1), err
    assert peak < 1.3 * 1024**3
    assert out.stat().st_size > 0
