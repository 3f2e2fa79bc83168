"""`xxgk train --from DB_OR_DIR` (`make train-from`): fine-tune the shipped tagger on reviewed reports.

The examples are those of ``xxgk export --training`` (``examples/<report>.json``: segments with boxes and the
approved labels); given a store, they are exported first. The shipped model (models/tagger: its vocabulary, tags
and weights) is trained on for a few steps at a small learning rate on batches that mix the reviewed examples'
windows with windows of freshly generated synthetic reports (so that nothing the synthetic corpus taught is
forgotten), then evaluated on the dev reports (every rendering, as ``xxgk eval --all-sources``), exported
(ONNX, int8) and written with its card, the examples it saw and a ``model_id`` (a hash of its weights and its
layout memory) that the pipeline stamps on results read with it (``2.4+tagger.<id>``).

Beside the tagger, the reviews teach the agency layout memory (training/layout_memory.py → ``layouts.json``): the absent
cells a reviewer confirmed under a deviation of an agency's report, which the pipeline then lets off the queue when
the same agency's next report shows the same deviation (service/reconcile/memory.py).

    .venv/bin/python -m training.finetune --from results.db --out models/tagger-reviewed
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import LayoutLMForTokenClassification, get_linear_schedule_with_warmup

from service import versioned
from service.evaluate import discover, evaluate_folder
from service.options import PipelineOptions, load_options
from service.understand.encode import Segment, Vocab, stream, windows
from service.understand.labels import load_label_set
from training.data import IGNORE, Batchable, char_tags, concat, doc_windows, tag_weights
from training.layout_memory import learn, review_records, summary, write_layouts
from training.train import export_onnx, quantize_onnx, synthetic

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "models" / "tagger"
DEV = ROOT / "datasets" / "dev-reports"


@dataclass
class Recipe:
    steps: int = 60
    batch_size: int = 16
    lr: float = 5e-5
    warmup: int = 6
    synthetic_docs: int = 40  # fresh synthetic reports mixed in (seed below: not the base model's corpus)
    reviewed_share: float = 0.5  # of each batch: windows of the reviewed examples
    seed: int = 20261205
    threads: int = 2
    extra: dict[str, Any] = field(default_factory=dict)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_examples(folder: Path) -> list[dict[str, Any]]:
    """The examples of an ``xxgk export --training`` folder (its ``examples/*.json``), in name order."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((folder / "examples").glob("*.json"))]


def example_windows(example: dict[str, Any], vocab: Vocab, max_len: int, overlap: int, tag_index: dict[str, int]):
    """An exported example as windows of token ids, boxes and BIO tag ids (labels outside the tag set: ignored)."""
    segs = [Segment(tuple(s["key"]), s["text"], s["kind"], tuple(s["box"]), s.get("page")) for s in example["segments"]]
    labels = {tuple(s["key"]): s["label"] for s in example["segments"] if f"B-{s['label']}" in tag_index}
    st = stream(segs, vocab)
    w = windows(st, vocab, max_len, overlap)
    tags = char_tags(st, labels, tag_index)
    lab = np.full(w.input_ids.shape, IGNORE, dtype=np.int64)
    for i, (a, b) in enumerate(w.spans):
        lab[i, 1 : b - a + 1] = tags[a:b]
    return Batchable(w.input_ids, w.bbox, w.token_type_ids, w.attention_mask, lab)


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def finetune(base: Path, reviewed: Batchable, synth: Batchable, tags: list[str], weights: np.ndarray, r: Recipe):
    torch.manual_seed(r.seed)
    rng = np.random.default_rng(r.seed)
    model = LayoutLMForTokenClassification.from_pretrained(base)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(weights), ignore_index=IGNORE)
    opt = torch.optim.AdamW(model.parameters(), lr=r.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, r.warmup, r.steps)
    n_rev = max(1, round(r.batch_size * r.reviewed_share)) if len(reviewed) else 0
    model.train()
    t0, running = time.time(), []
    for step in range(1, r.steps + 1):
        parts = []
        if n_rev:
            parts.append((reviewed, rng.integers(0, len(reviewed), n_rev)))
        parts.append((synth, rng.integers(0, len(synth), r.batch_size - n_rev)))
        ids = np.concatenate([d.input_ids[i] for d, i in parts])
        bbox = np.concatenate([d.bbox[i] for d, i in parts])
        types = np.concatenate([d.token_type_ids[i] for d, i in parts])
        mask = np.concatenate([d.attention_mask[i] for d, i in parts])
        labels = np.concatenate([d.labels[i] for d, i in parts])  # type: ignore[index]
        logits = model(
            input_ids=_tensor(ids), bbox=_tensor(bbox), token_type_ids=_tensor(types), attention_mask=_tensor(mask)
        ).logits
        loss = loss_fn(logits.reshape(-1, len(tags)), _tensor(labels).reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(), sched.step(), opt.zero_grad()
        running.append(loss.item())
        if step % 20 == 0 or step == r.steps:
            log(f"fine-tune step {step}/{r.steps} loss {np.mean(running):.4f} ({time.time() - t0:.0f} s)")
            running = []
    model.eval()
    return model


def dev_eval(model_dir: Path, options: PipelineOptions) -> dict[str, Any]:
    """Every dev report, every rendering (``xxgk eval datasets/dev-reports --all-sources``) with ``model_dir``."""
    opts = options.model_copy(
        update={"classifier": options.classifier.model_copy(update={"model_dir": str(model_dir.resolve())})}
    )
    right = total = 0
    renderings = []
    for folder in discover([DEV]):
        for k, s in enumerate(evaluate_folder(folder, opts, all_sources=True)):
            renderings.append({"report": s.id, "source": s.source, "right": s.right, "total": s.total})
            if k == 0:
                right, total = right + s.right, total + s.total
    return {"right": right, "total": total, "renderings": renderings}


def weights_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def model_hash(weights: Path, layouts: bytes | None) -> str:
    """The model id: the SHA-256 of its weights, followed by its layout memory's ``layouts.json`` where it has one
    (a memory learned from other reviews is another model: results read with it carry another version)."""
    h = hashlib.sha256(weights.read_bytes())
    if layouts is not None:
        h.update(layouts)
    return h.hexdigest()[:12]


CARD = """# {name} — the xxgk tagger fine-tuned on reviewed reports (model card)

Made by `xxgk train --from {source}` on {date} from the shipped tagger ([`models/tagger`](../tagger/README.md):
architecture, vocabulary, tags and label set unchanged — read that card for what the network is). Model id
**{model_id}** (first 12 hex digits of the SHA-256 of `model.safetensors` followed by `layouts.json`): results
read with it carry
`pipeline_version` **{version}**; `xxgk batch --reprocess-older` re-reads reports done by another model.
Use it with `classifier.model_dir: {out}` (or `XXGK_CLASSIFIER_MODEL_DIR={out}`).

## What it saw

- **{n_examples} reviewed reports** ({n_windows} windows; `examples.json` lists them: report, file, the
  segments whose approved label differs from the base model's) — the approved readings exported by
  `xxgk export --training`: value cells where the result took its values, the label cell of each row the
  result (or the reviewer, for rows typed by hand) placed, every other segment the base model's label.
- **{n_synth} fresh synthetic reports** (`training/synth`, seed {seed}, half corrupted like OCR output;
  {n_synth_windows} windows), mixed into every batch ({share:.0%} reviewed windows) so that the fine-tuning does
  not forget what the synthetic corpus taught.

## Layout memory (`layouts.json`)

{layouts}

## Recipe

{steps} steps of {batch} windows, AdamW lr {lr} (linear warm-up {warmup} steps, then decay), the base card's
loss weights by label kind; {threads} threads; {seconds} s on this machine (fine-tuning {train_seconds} s).
Export as in `make train`: ONNX (opset 17) and its int8 dynamic quantisation.

## Evaluation

- Dev reports, every rendering (`xxgk eval datasets/dev-reports --all-sources` with this model): **{right}/{total}**
  cells right on the primary renderings; per rendering in `xxgk.json` (`eval.dev`).
- The robustness suite (`benchmarks/bench_robustness.py`) was {robustness}.

## Limits

Few reviewed reports teach little and can over-fit their wording: compare `eval.dev` with the base model's
1179/1179 before switching, and keep the base model for reports far from those reviewed.
"""


def layouts_card(memory: dict[str, Any] | None, records: int, examples: int) -> str:
    """The model card's paragraph on the layout memory."""
    if memory is None:
        why = (
            f"the review records of the {records} approved reports hold no absent cell a reviewer confirmed under a "
            "deviation of the source"
            if records
            else f"the {examples} examples carry no review records (an export written before they existed)"
        )
        return f"None ({why}): no `layouts.json`, the pipeline lets nothing off the queue with this model."
    n = summary(memory)
    lines = [
        f"Learned from the review records of {records} approved reports: {n['agencies']} agencies, "
        f"{n['layouts']} layouts (agency × deviation), {n['cells']} cells a reviewer confirmed absent under a "
        "deviation of the source. Reading a report of one of these agencies with this model, a flagged cell is let "
        "off the queue (reason `layout_confirmed`, its other reasons kept) only when the same deviation is detected "
        "again, the cell is absent (no number asserted), it was confirmed absent under that deviation, and its "
        "other reasons are only the deviation's own plus `not_found_in_scan` (service/reconcile/memory.py). "
        "Numbers, source rule failures, low readings and streaks stay flagged.",
        "",
    ]
    for entry in memory["agencies"].values():
        for dev, lay in entry["layouts"].items():
            years = sorted({e["year"] for c in lay["cells"].values() for e in c["confirmed_in"] if e["year"]})
            lines.append(
                f"- {' / '.join(entry['names'])}: `{dev}`, {len(lay['cells'])} cells "
                f"(confirmed in reports of {', '.join(map(str, years)) or 'unknown years'})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fine-tune the tagger on reviewed reports")
    ap.add_argument("--from", dest="source", type=Path, required=True, help="an export --training folder or a store")
    ap.add_argument("-o", "--out", type=Path, help="model folder to write (default: models/tagger-<id>)")
    ap.add_argument("--base", type=Path, default=BASE)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--synthetic-docs", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--no-eval", action="store_true", help="skip the dev-report evaluation")
    args = ap.parse_args(argv)
    return run(
        args.source,
        args.out,
        args.base,
        steps=args.steps,
        synthetic_docs=args.synthetic_docs,
        lr=args.lr,
        evaluate=not args.no_eval,
    )


def run(
    source: Path,
    out: Path | None = None,
    base: Path = BASE,
    *,
    steps: int | None = None,
    synthetic_docs: int | None = None,
    lr: float | None = None,
    evaluate: bool = True,
    options: PipelineOptions | None = None,
) -> int:
    r = Recipe()
    if steps:
        r.steps = steps
    if synthetic_docs is not None:
        r.synthetic_docs = synthetic_docs
    if lr:
        r.lr = lr
    options = options or load_options()
    started = time.time()
    torch.set_num_threads(r.threads)
    random.seed(r.seed), np.random.seed(r.seed), torch.manual_seed(r.seed)
    if source.is_dir():
        folder = source
    else:
        raise SystemExit(f"{source}: export it first (xxgk export --training DIR --db {source}) or give a folder")
    examples = load_examples(folder)
    if not examples:
        raise SystemExit(f"{folder}: no examples/*.json (xxgk export --training writes them)")
    meta = json.loads((base / "xxgk.json").read_text(encoding="utf-8"))
    tags: list[str] = json.loads((base / "tags.json").read_text(encoding="utf-8"))
    tag_index = {t: i for i, t in enumerate(tags)}
    vocab = Vocab.load(base / "vocab.txt")
    max_len, overlap = meta["max_len"], meta["overlap"]
    reviewed = concat([example_windows(e, vocab, max_len, overlap, tag_index) for e in examples])
    recipe = meta["recipe"]
    c = recipe["corpus"]
    docs = list(synthetic(r.seed, r.synthetic_docs, c["noisy_share"], c["noise_rate"])) if r.synthetic_docs else []
    synth = (
        concat([doc_windows(sd.document, vocab, max_len, overlap, sd.labels, tag_index) for sd in docs])
        if docs
        else reviewed
    )
    log(f"{len(examples)} reviewed reports ({len(reviewed)} windows), {len(docs)} synthetic ({len(synth)} windows)")
    records = review_records(examples)
    learned = learn(records)
    memory = learned if learned["agencies"] else None  # nothing learned: no layouts.json, the id is the weights'
    layouts = json.dumps(memory, ensure_ascii=False, indent=1).encode() + b"\n" if memory is not None else None
    kinds = {lab.id: lab.kind for lab in load_label_set(base / "labels.yaml").labels}
    t0 = time.time()
    model = finetune(base, reviewed, synth, tags, tag_weights(tags, kinds, recipe["finetune"]["weights"]), r)
    train_seconds = round(time.time() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        model.save_pretrained(stage)
        mid = model_hash(stage / "model.safetensors", layouts)
        out = out or ROOT / "models" / f"tagger-{mid}"
        if out.resolve() == BASE.resolve():
            raise SystemExit("never overwrite the shipped model (models/tagger): give another --out")
        out.mkdir(parents=True, exist_ok=True)
        for p in stage.iterdir():
            shutil.copy(p, out / p.name)
    for name in ("vocab.txt", "tags.json", "labels.yaml"):
        shutil.copy(base / name, out / name)
    if memory is not None:
        written = write_layouts(out, memory)
        assert written.read_bytes() == layouts  # the bytes the model id was made of
    log(f"layout memory: {summary(learned)} from {len(records)} review records")
    export_onnx(model, out / "model.onnx", max_len)
    quantize_onnx(out / "model.onnx", out / "model.int8.onnx")
    seen = [
        {
            "report_id": e["report_id"],
            "filename": e["filename"],
            "sha256": e["sha256"],
            "result_version": e["result_version"],
            "corrected_cells": e["corrected"],
            "relabelled": [
                {"key": s["key"], "text": s["text"], "label": s["label"], "was": s["predicted"]}
                for s in e["segments"]
                if s["label"] != (s["predicted"] or "O")
            ],
        }
        for e in examples
    ]
    (out / "examples.json").write_text(json.dumps(seen, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    new_meta = {
        **{k: meta[k] for k in ("max_len", "overlap", "labels_file", "n_tags", "vocab")},
        "model_id": mid,
        "base": {
            "dir": str(base.relative_to(ROOT)) if base.is_relative_to(ROOT) else str(base),
            "model_id": meta.get("model_id"),
            "weights": weights_id(base / "model.safetensors"),
        },
        "from": str(source),
        "layouts": {
            "file": "layouts.json" if memory is not None else None,
            "review_records": len(records),
            **summary(learned),
        },
        "finetune": {
            **r.__dict__,
            "reviewed_windows": len(reviewed),
            "synthetic_windows": len(synth),
            "train_seconds": train_seconds,
        },
        "recipe": recipe,
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
    }
    (out / "xxgk.json").write_text(json.dumps(new_meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    dev = dev_eval(out, options) if evaluate else {"right": "not run", "total": "not run", "renderings": []}
    new_meta["eval"] = {"dev": dev}
    new_meta["seconds"] = round(time.time() - started)
    (out / "xxgk.json").write_text(json.dumps(new_meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "README.md").write_text(
        CARD.format(
            name=out.name,
            source=source,
            date=time.strftime("%Y-%m-%d"),
            model_id=mid,
            version=versioned(mid),
            out=out,
            n_examples=len(examples),
            n_windows=len(reviewed),
            n_synth=len(docs),
            seed=r.seed,
            n_synth_windows=len(synth),
            share=r.reviewed_share,
            steps=r.steps,
            batch=r.batch_size,
            lr=r.lr,
            warmup=r.warmup,
            threads=r.threads,
            seconds=new_meta["seconds"],
            train_seconds=train_seconds,
            right=dev["right"],
            total=dev["total"],
            layouts=layouts_card(memory, len(records), len(examples)),
            robustness="not run by `xxgk train --from` (run it with XXGK_CLASSIFIER_MODEL_DIR set to this folder)",
        ),
        encoding="utf-8",
    )
    log(f"saved {out} (model id {mid}); dev reports {dev['right']}/{dev['total']} in {new_meta['seconds']} s")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
