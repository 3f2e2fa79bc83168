"""Train the layout model from scratch and export it to ``models/layout/`` (``make train-layout``).

    .venv/bin/python -m training.layout.train [--docs 60] [--steps 1200] [--minutes 14] [--out models/layout]

Seeded (data, crops and weights): the same settings give the same model on a machine fast enough to run
``--steps`` within ``--minutes``; on a slower or busy one the loop stops at the time limit and the learning rate
anneals by time (the log and config.json say how many steps ran). Writes ``model.onnx`` and ``config.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from service.pages.layout_model import CHANNELS, MODEL_DPI, STRIDE
from training.layout.data import CACHE, DataSettings, cached_samples
from training.layout.model import WIDTHS, LayoutNet, n_parameters

ROOT = Path(__file__).resolve().parents[2]
POS_WEIGHT = (1.0, 4.0, 4.0, 1.0)  # per map: boundaries are thin, their pixels weigh more
DICE = (0.0, 1.0, 1.0, 0.0)  # per map: weight of the soft Dice term
VAL_EVERY = 10  # every tenth report is held out for the validation loss


def crops(
    images: np.ndarray, maps: np.ndarray, picks: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of ``size`` x ``size`` crops, most of them around a table pixel."""
    xs, ys = [], []
    _, h, w = images.shape
    for k in picks:
        table = maps[k, 0]
        if rng.random() < 0.75 and table.any():
            tys, txs = np.nonzero(table[::4, ::4])
            j = int(rng.integers(len(tys)))
            cy, cx = int(tys[j]) * 4, int(txs[j]) * 4
        else:
            cy, cx = int(rng.integers(h)), int(rng.integers(w))
        y0 = int(np.clip(cy - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, max(h - size, 0)))
        x0 = int(np.clip(cx - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, max(w - size, 0)))
        img = np.full((size, size), 255, np.uint8)
        lab = np.zeros((len(CHANNELS), size, size), np.uint8)
        part = images[k, y0 : y0 + size, x0 : x0 + size]
        img[: part.shape[0], : part.shape[1]] = part
        lab[:, : part.shape[0], : part.shape[1]] = maps[k, :, y0 : y0 + size, x0 : x0 + size]
        xs.append(1.0 - img.astype(np.float32) / 255.0)
        ys.append(lab.astype(np.float32))
    return torch.from_numpy(np.stack(xs)[:, None]), torch.from_numpy(np.stack(ys))


def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    pos = torch.tensor(POS_WEIGHT).view(1, -1, 1, 1)
    bce = nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=pos)
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(0, 2, 3))
    dice = 1 - (2 * inter + 1) / (prob.sum(dim=(0, 2, 3)) + target.sum(dim=(0, 2, 3)) + 1)
    return bce + (dice * torch.tensor(DICE)).sum()


def pad_to_stride(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    return nn.functional.pad(x, (0, -(-w // STRIDE) * STRIDE - w, 0, -(-h // STRIDE) * STRIDE - h))


@torch.no_grad()
def validate(model: nn.Module, images: np.ndarray, maps: np.ndarray, picks: np.ndarray) -> dict[str, float]:
    """Loss and per-map pixel F1 (boundaries within one pixel) on whole held-out pages."""
    model.eval()
    losses = []
    tp = np.zeros(len(CHANNELS))
    fp = np.zeros(len(CHANNELS))
    fn = np.zeros(len(CHANNELS))
    for k in picks:
        x = torch.from_numpy(1.0 - images[k].astype(np.float32) / 255.0)[None, None]
        y = torch.from_numpy(maps[k].astype(np.float32))[None]
        h, w = x.shape[-2:]
        logits = model(pad_to_stride(x))[..., :h, :w]
        losses.append(float(loss_fn(logits, y)))
        pred = (torch.sigmoid(logits)[0] > 0.5).numpy()
        truth = maps[k] > 0
        tp += (pred & truth).sum(axis=(1, 2))
        fp += (pred & ~truth).sum(axis=(1, 2))
        fn += (~pred & truth).sum(axis=(1, 2))
    model.train()
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    return {"loss": float(np.mean(losses)), **{f"f1_{c}": round(float(v), 4) for c, v in zip(CHANNELS, f1)}}


def export(model: nn.Module, path: Path) -> None:
    model.eval()
    dummy = torch.zeros(1, 1, 64, 64)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=["page"],
        output_names=["logits"],
        dynamic_axes={"page": {2: "height", 3: "width"}, "logits": {2: "height", 3: "width"}},
        opset_version=17,
        dynamo=False,
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=60, help="synthetic reports printed for training")
    ap.add_argument("--variants", type=int, default=2, help="degraded variants per printed page")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--minutes", type=float, default=14.0, help="stop the training loop after this long")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=192, help="crop side in model pixels (MODEL_DPI)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "layout")
    ap.add_argument("--init", type=Path, default=None, help="start from these weights (a checkpoint.pt of a run)")
    args = ap.parse_args(argv)

    start = time.perf_counter()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    settings = DataSettings(seed=args.seed, docs=args.docs, variants=args.variants)
    print(f"data: {settings} (cache {args.cache})", flush=True)
    images, maps, docs = cached_samples(settings, args.cache)
    data_s = time.perf_counter() - start
    val = np.nonzero(docs % VAL_EVERY == VAL_EVERY - 1)[0]
    train = np.nonzero(docs % VAL_EVERY != VAL_EVERY - 1)[0]
    print(f"{len(train)} training, {len(val)} validation samples; data ready in {data_s:.0f} s", flush=True)

    rng = np.random.default_rng(args.seed)
    model = LayoutNet()
    if args.init is not None:
        model.load_state_dict(torch.load(args.init, map_location="cpu"))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    warm = 30

    def lr_at(step: int, elapsed: float) -> float:
        """Warm-up, then a cosine over the run's progress: the share of the steps done or of the time limit
        spent, whichever is further (on a busy machine the schedule still anneals before the time limit)."""
        if step < warm:
            return args.lr * (step + 1) / warm
        progress = max((step - warm) / max(args.steps - warm, 1), elapsed / (args.minutes * 60))
        return args.lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    loop_start = time.perf_counter()
    step = 0
    running = 0.0
    for step in range(args.steps):
        if time.perf_counter() - loop_start > args.minutes * 60:
            print(f"time limit: stopped after {step} of {args.steps} steps", flush=True)
            break
        for group in opt.param_groups:
            group["lr"] = lr_at(step, time.perf_counter() - loop_start)
        x, y = crops(images, maps, rng.choice(train, size=args.batch), args.crop, rng)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.item()
        running = 0.95 * running + 0.05 * value if step else value
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step}: loss {running:.4f} ({time.perf_counter() - loop_start:.0f} s)", flush=True)
    else:
        step = args.steps
    train_s = time.perf_counter() - loop_start
    metrics = validate(model, images, maps, val)
    print(f"validation (held-out synthetic pages): {metrics}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = args.cache / f"checkpoint-{settings.key()}-seed{args.seed}.pt"  # to continue training (--init)
    torch.save(model.state_dict(), checkpoint)
    onnx_path = args.out / "model.onnx"
    export(model, onnx_path)
    config = {
        "about": "Layout model of service/pages/layout_model.py: per-pixel maps of a page at model_dpi",
        "channels": list(CHANNELS),
        "model_dpi": MODEL_DPI,
        "input": "1 x 1 x H x W float32: 1 - gray/255 (ink high), H and W padded to a multiple of stride",
        "stride": STRIDE,
        "widths": list(WIDTHS),
        "parameters": n_parameters(model),
        "onnx_bytes": onnx_path.stat().st_size,
        "data": {**settings.__dict__, "samples": len(images), "train_samples": len(train), "val_samples": len(val)},
        "training": {
            "steps_planned": args.steps,
            "steps_done": step,
            "init": None if args.init is None else args.init.name,
            "batch": args.batch,
            "crop": args.crop,
            "lr": args.lr,
            "threads": args.threads,
            "data_seconds": round(data_s),
            "train_seconds": round(train_s),
            "total_seconds": round(time.perf_counter() - start),
        },
        "validation_synthetic": metrics,
        "versions": {"torch": torch.__version__},
    }
    (args.out / "config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    print(
        f"wrote {onnx_path} ({onnx_path.stat().st_size / 1024:.0f} KB) and config.json in "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
