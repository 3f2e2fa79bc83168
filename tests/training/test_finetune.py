"""`xxgk train --from` (training/finetune.py): exported examples -> windows; a short fine-tune writes a model folder
the service can switch to, with its id in the pipeline version."""

from __future__ import annotations

import json

import numpy as np
import pytest

from service import PIPELINE_VERSION
from service.export import ReportMeta, training_example
from service.ingest import load_document
from service.options import load_options
from service.pipeline import extract_document, understand
from service.understand.classifier import Tagger, model_id, pipeline_version
from service.understand.encode import Vocab
from service.understand.labels import LABELS_FILE, load_label_set
from tests.conftest import DEV
from training import finetune

BASE = finetune.BASE


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """r001's PDF as ``xxgk export --training`` writes it (examples/<id>.json)."""
    options = load_options()
    doc = load_document(DEV / "r001" / "source.pdf", options)
    result = extract_document(doc, options)
    known = {lab.id for lab in load_label_set(LABELS_FILE).labels}
    meta = ReportMeta(id="r001", filename="source.pdf", sha256="ab" * 32, version=1, approved=True)
    example = training_example(meta, result, doc, understand(doc, options), known)
    folder = tmp_path_factory.mktemp("export")
    (folder / "examples").mkdir()
    (folder / "examples" / "r001.json").write_text(json.dumps(example, ensure_ascii=False), encoding="utf-8")
    return folder


def test_an_example_becomes_windows_with_its_labels_as_bio_tags(exported):
    (example,) = finetune.load_examples(exported)
    tags = json.loads((BASE / "tags.json").read_text(encoding="utf-8"))
    index = {t: i for i, t in enumerate(tags)}
    w = finetune.example_windows(example, Vocab.load(BASE / "vocab.txt"), 256, 32, index)
    assert w.labels is not None and w.input_ids.shape == w.labels.shape and w.input_ids.shape[1] == 256
    seen = {tags[t] for t in np.unique(w.labels) if t >= 0}
    wanted = {s["label"] for s in example["segments"] if s["label"] != "O"}
    assert {f"B-{lab}" for lab in wanted} <= seen and "B-val" in seen and "O" in seen


def test_the_shipped_model_keeps_the_plain_pipeline_version():
    assert model_id(BASE) is None
    assert pipeline_version(load_options().classifier) == PIPELINE_VERSION


def test_a_short_fine_tune_writes_a_model_the_service_can_switch_to(exported, tmp_path):
    out = tmp_path / "tagger-test"
    assert finetune.run(exported, out, steps=2, synthetic_docs=2, evaluate=False) == 0
    for name in (
        "model.safetensors",
        "model.onnx",
        "model.int8.onnx",
        "vocab.txt",
        "tags.json",
        "labels.yaml",
        "xxgk.json",
        "README.md",
        "examples.json",
    ):
        assert (out / name).is_file(), name
    meta = json.loads((out / "xxgk.json").read_text(encoding="utf-8"))
    assert (
        meta["model_id"]
        == finetune.weights_id(out / "model.safetensors")
        != finetune.weights_id(BASE / "model.safetensors")
    )
    assert meta["finetune"]["steps"] == 2 and meta["finetune"]["reviewed_windows"] > 0
    seen = json.loads((out / "examples.json").read_text(encoding="utf-8"))
    assert [e["report_id"] for e in seen] == ["r001"]
    options = load_options()
    switched = options.classifier.model_copy(update={"model_dir": str(out)})
    assert pipeline_version(switched) == f"{PIPELINE_VERSION}+tagger.{meta['model_id']}"
    assert meta["model_id"] in (out / "README.md").read_text(encoding="utf-8")
    tagging = Tagger(out).tag(load_document(DEV / "r001" / "source.pdf", options))
    assert sum(p.label == "val" for p in tagging.segments.values()) > 100  # a few small steps: still reads values
    with pytest.raises(SystemExit):
        finetune.run(exported, BASE, steps=1, synthetic_docs=0, evaluate=False)  # never over the shipped model
