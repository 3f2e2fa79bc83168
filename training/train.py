"""`make train`: synthetic corpus -> vocabulary -> masked-LM pretraining -> BIO fine-tuning -> models/tagger/.

Everything is seeded (configs/classifier/train.yaml) and runs on the CPU (torch 2.13.0, 2 threads).

    .venv/bin/python -m training.train                 # the full recipe (≈40 min on 2 cores)
    .venv/bin/python -m training.train --quick -o /tmp/tagger   # a smoke run of a few steps
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import LayoutLMForTokenClassification, get_linear_schedule_with_warmup

from service.ingest import load_document
from service.resources import CONFIG_DIR, read_yaml
from service.understand.encode import segments
from service.understand.labels import LABELS_FILE, load_label_set
from training.data import Batchable, build_vocab, concat, doc_windows, mask_tokens, narrative_only, tag_weights
from training.model import MaskedLM, make_config

ROOT = Path(__file__).resolve().parents[1]
RECIPE = CONFIG_DIR / "classifier" / "train.yaml"
MODEL_DIR = ROOT / "models" / "tagger"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def dev_documents() -> list:
    """Every dev-report rendering (texts for masked-LM pretraining only; never fine-tuning labels)."""
    paths = sorted(p for p in (ROOT / "datasets" / "dev-reports").glob("*/*")
                   if p.suffix in (".txt", ".html", ".md", ".pdf") and p.name.startswith(("source", "page")))
    paths.append(ROOT / "datasets" / "fixtures" / "r003.docx")
    return [load_document(p) for p in paths]


def synthetic(seed: int, n: int, noisy_share: float, noise_rate: list[float]):
    from training.synth.report import generate

    rng = random.Random(seed + 1)
    for sd in generate(seed, n):
        if noisy_share > 0 and rng.random() < noisy_share:
            from training.synth.noise import corrupt_document

            sd = corrupt_document(sd, rng.uniform(*noise_rate), rng)
        yield sd


def _batches(n: int, batch: int, rng: np.random.Generator):
    while True:
        order = rng.permutation(n)
        for i in range(0, len(order) - batch + 1, batch):
            idx = order[i:i + batch]
            yield idx


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def _optimise(model: torch.nn.Module, stage: dict, name: str, rng: np.random.Generator, n: int, loss_of) -> None:
    """AdamW with linear warm-up/decay over ``stage["steps"]`` batches of window indices; ``loss_of(idx)``."""
    opt = torch.optim.AdamW(model.parameters(), lr=stage["lr"], weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, stage["warmup"], stage["steps"])
    model.train()
    batches = _batches(n, stage["batch_size"], rng)
    t0, running = time.time(), []
    for step in range(1, stage["steps"] + 1):
        loss = loss_of(next(batches))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(), sched.step(), opt.zero_grad()
        running.append(loss.item())
        if step % 100 == 0 or step == stage["steps"]:
            log(f"{name} step {step}/{stage['steps']} loss {np.mean(running):.4f} ({time.time() - t0:.0f} s)")
            running = []
    model.eval()


def pretrain(data: Batchable, vocab, config, recipe: dict, seed: int) -> MaskedLM:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = MaskedLM(config)
    p = recipe["pretrain"]

    def loss_of(idx):
        ids, labels = mask_tokens(data.input_ids[idx], data.attention_mask[idx], vocab, p["mask_prob"], rng)
        return model(_tensor(ids), _tensor(data.bbox[idx]), _tensor(data.token_type_ids[idx]),
                     _tensor(data.attention_mask[idx]), _tensor(labels))

    _optimise(model, p, "pretrain (masked LM)", rng, len(data), loss_of)
    return model


def finetune(data: Batchable, encoder_dir: Path, tags: list[str], recipe: dict, seed: int, weights: np.ndarray):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed + 2)
    model = LayoutLMForTokenClassification.from_pretrained(
        encoder_dir, num_labels=len(tags), id2label=dict(enumerate(tags)), label2id={t: i for i, t in enumerate(tags)})
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(weights), ignore_index=-100)

    def loss_of(idx):
        logits = model(input_ids=_tensor(data.input_ids[idx]), bbox=_tensor(data.bbox[idx]),
                       token_type_ids=_tensor(data.token_type_ids[idx]),
                       attention_mask=_tensor(data.attention_mask[idx])).logits
        return loss_fn(logits.reshape(-1, len(tags)), _tensor(data.labels[idx]).reshape(-1))

    _optimise(model, recipe["finetune"], "finetune", rng, len(data), loss_of)
    return model


class _LogitsOnly(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, bbox, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, bbox=bbox, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).logits


def export_onnx(model, out: Path, max_len: int) -> None:
    ids = torch.zeros((2, max_len), dtype=torch.long)
    bbox = torch.zeros((2, max_len, 4), dtype=torch.long)
    torch.onnx.export(
        _LogitsOnly(model).eval(), (ids, bbox, torch.ones_like(ids), torch.zeros_like(ids)), str(out),
        input_names=["input_ids", "bbox", "attention_mask", "token_type_ids"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch"}, "bbox": {0: "batch"}, "attention_mask": {0: "batch"},
                      "token_type_ids": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17, dynamo=False)


def quantize_onnx(src: Path, dst: Path) -> None:
    """int8 weights for serving (dynamic quantisation: MatMul weights int8, activations quantised per call)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="train the classifier end to end")
    ap.add_argument("-o", "--out", type=Path, default=MODEL_DIR)
    ap.add_argument("--quick", action="store_true", help="a few steps on a few documents (smoke test)")
    ap.add_argument("--pretrain-steps", type=int, help="override the recipe (trial runs)")
    ap.add_argument("--finetune-steps", type=int, help="override the recipe (trial runs)")
    ap.add_argument("--threads", type=int, help="torch threads (default: the recipe's)")
    args = ap.parse_args(argv)
    recipe = read_yaml(RECIPE)
    if args.pretrain_steps:
        recipe["pretrain"]["steps"] = args.pretrain_steps
    if args.finetune_steps:
        recipe["finetune"]["steps"] = args.finetune_steps
    if args.threads:
        recipe["threads"] = args.threads
    if args.quick:
        recipe["corpus"].update(train_docs=12, pretrain_docs=6, narrative_docs=4, noisy_share=0.0)
        recipe["pretrain"].update(steps=4, warmup=1, batch_size=8)
        recipe["finetune"].update(steps=4, warmup=1, batch_size=8)
    seed, arch = recipe["seed"], recipe["model"]
    torch.set_num_threads(recipe.get("threads", 2))
    random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)
    started = time.time()
    label_set = load_label_set(LABELS_FILE)
    tags = label_set.tags()
    tag_index = {t: i for i, t in enumerate(tags)}
    c = recipe["corpus"]

    log("corpus: generating synthetic reports")
    train_docs = list(synthetic(seed, c["train_docs"], c["noisy_share"], c["noise_rate"]))
    train_docs += [narrative_only(sd) for sd in synthetic(seed + 200, c["narrative_docs"], c["noisy_share"],
                                                          c["noise_rate"])]
    pre_docs = [sd.document for sd in synthetic(seed + 100, c["pretrain_docs"], c["noisy_share"], c["noise_rate"])]
    dev_docs = dev_documents()
    texts = [s.text for d in [*pre_docs, *dev_docs, *(sd.document for sd in train_docs)] for s in segments(d)]
    vocab = build_vocab(texts)
    log(f"corpus: {len(train_docs)} fine-tuning docs, {len(pre_docs)} + {len(dev_docs)} dev pretraining docs, "
        f"vocabulary {len(vocab)}")

    pre = concat([doc_windows(d, vocab, arch["max_len"], arch["overlap"]) for d in [*pre_docs, *dev_docs]])
    fine = concat([doc_windows(sd.document, vocab, arch["max_len"], arch["overlap"], sd.labels, tag_index)
                   for sd in train_docs])
    log(f"windows: pretraining {len(pre)}, fine-tuning {len(fine)}")

    config = make_config(arch, len(vocab))
    mlm = pretrain(pre, vocab, config, recipe, seed)
    with tempfile.TemporaryDirectory() as tmp:
        mlm.encoder.save_pretrained(tmp)
        kinds = {lab.id: lab.kind for lab in label_set.labels}
        model = finetune(fine, Path(tmp), tags, recipe, seed, tag_weights(tags, kinds, recipe["finetune"]["weights"]))

    out = args.out
    if out.exists():
        for name in ("config.json", "model.safetensors", "model.onnx", "model.int8.onnx", "vocab.txt", "tags.json",
                     "xxgk.json"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    vocab.save(out / "vocab.txt")
    (out / "tags.json").write_text(json.dumps(tags, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    export_onnx(model, out / "model.onnx", arch["max_len"])
    quantize_onnx(out / "model.onnx", out / "model.int8.onnx")
    meta = {
        "max_len": arch["max_len"], "overlap": arch["overlap"], "seed": seed,
        "labels_file": str(LABELS_FILE.relative_to(ROOT)), "n_tags": len(tags), "vocab": len(vocab),
        "train_docs": len(train_docs), "pretrain_docs": len(pre_docs) + len(dev_docs),
        "windows": {"pretrain": len(pre), "finetune": len(fine)},
        "recipe": recipe, "train_seconds": round(time.time() - started),
        "torch": torch.__version__, "transformers": __import__("transformers").__version__,
    }
    (out / "xxgk.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    shutil.copy(LABELS_FILE, out / "labels.yaml")
    log(f"saved {out} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
