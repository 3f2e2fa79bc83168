"""Gold labels of the dev reports, and the training recipe end to end on a few steps."""
from __future__ import annotations

import json

import pytest

from service.understand.labels import load_label_set
from training.devlabels import SOURCES, gold_segments


@pytest.mark.parametrize("name", list(SOURCES))
def test_gold_labels_match_todays_documents_and_the_label_set(name):
    _, gold = gold_segments(name)
    ids = set(load_label_set().ids) | {"O", "-"}
    assert gold and all(lab in ids for _, lab in gold)
    assert not [s.text for s, lab in gold if lab == "?"]
    headings = {lab for _, lab in gold if lab.startswith("sec.")}
    assert {"sec.s2", "sec.s3", "sec.s4"} <= headings


def test_quick_training_run_writes_a_loadable_model(tmp_path):
    pytest.importorskip("torch")
    from service.understand.classifier import Tagger
    from training.train import main

    assert main(["--quick", "-o", str(tmp_path)]) == 0
    meta = json.loads((tmp_path / "xxgk.json").read_text())
    assert meta["n_tags"] == len(load_label_set().tags())
    doc, _ = gold_segments("r003")
    tagging = Tagger(tmp_path).tag(doc)  # an untrained model still answers for every segment
    assert len(tagging.segments) > 100
