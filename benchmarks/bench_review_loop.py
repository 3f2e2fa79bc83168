"""The reviewer's loop, end to end (issue 18): fax-quality scans of the dev reports read into a store; a simulated
reviewer corrects the flagged cells of every family but one from the truth (``datasets/dev-reports/<id>/cells.json``)
and approves; the approved reports are exported as training data (``xxgk export --training``), the tagger is
fine-tuned on them and the agency layout memory learned from their reviews (``xxgk train --from``: the model folder
with its ``layouts.json``), and the scans are read again with the new model folder.

Printed per family, before (shipped model) and after (fine-tuned): flagged cells and errors (cells whose value is
not the truth; ``silent`` = errors not flagged), and ``let off``: flagged cells the layout memory let off the queue
(reason ``layout_confirmed``); the dev reports' score with the new model (every rendering).
Target: the held-out family's flags and errors do not grow, the corrected families' flags shrink, dev 100 %.

    .venv/bin/python benchmarks/bench_review_loop.py [--holdout r010] [--reports seed r001 r003 r005 r010 r013]
        [--steps 60] [--synthetic-docs 40] [--out DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for where in (ROOT, ROOT / "datasets"):
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))

import scansim  # noqa: E402  (datasets/scansim.py)

from service.batch import run_batch  # noqa: E402
from service.evaluate import score  # noqa: E402
from service.export import ReportMeta, write_training  # noqa: E402
from service.options import PipelineOptions, load_options  # noqa: E402
from service.pipeline import extract  # noqa: E402
from service.reconcile.memory import CONFIRMED  # noqa: E402
from service.result import Result  # noqa: E402
from service.store import crud, opened, sqlite_url  # noqa: E402
from service.store.blobs import LocalBlobs, file_sha256  # noqa: E402
from training import finetune  # noqa: E402

DEV = ROOT / "datasets" / "dev-reports"
REPORTS = list(scansim.FIXTURE_IDS)  # seed, r001, r003, r005, r010, r013


def scan(report: str, out: Path, preset_name: str = "fax") -> Path:
    """The report printed and scanned (datasets/scansim.py, fax quality by default: the source bench_scan.py prints,
    seed 0)."""
    out.mkdir(parents=True, exist_ok=True)
    preset = scansim.PRESETS[preset_name]
    path = out / scansim.scan_name(report, preset)
    scansim.scan(scansim.source_for(report), path, preset, 0)
    return path


def figures(result: Result, truth: dict[str, Any], report: str) -> dict[str, int]:
    s = score(result, truth, report, "fax")
    wrong = {cid for cid, _, _ in s.wrong}
    flagged = {cid for cid, c in result.cells.items() if c.needs_review}
    let_off = sum(1 for c in result.cells.values() if any(rc.code == CONFIRMED for rc in c.review_codes))
    return {
        "flagged": len(flagged),
        "let_off": let_off,
        "errors": len(wrong),
        "silent": len(wrong - flagged),
        "right": s.right,
        "total": s.total,
    }


def review(url: str, truths: dict[str, dict[str, Any]], names: dict[str, str], holdout: str) -> dict[str, int]:
    """Correct every flagged cell whose value is not the truth (the others are confirmed as read), then approve —
    for every report but the held-out one. Returns corrections per report."""
    done: dict[str, int] = {}
    with opened(url) as sessions, sessions() as s:
        for report, result in list(crud.newest_results(s)):
            family = names[report.sha256]
            if family == holdout:
                continue
            truth = truths[family]["cells"]
            n = 0
            for cid, cell in result.cells.items():
                if not cell.needs_review or cid not in truth:
                    continue
                want = truth[cid]
                if cell.value == want and (want is not None or cell.status != "absent"):
                    continue
                crud.correct(
                    s,
                    report.id,
                    cid,
                    want,
                    cell.version,
                    "from truth (bench_review_loop)",
                    actor="bench",
                    role="reviewer",
                )
                n += 1
            crud.approve(s, report.id, actor="bench", role="reviewer")
            done[family] = n
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--holdout", default="r010")
    ap.add_argument("--reports", nargs="+", default=REPORTS)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--synthetic-docs", type=int, default=40)
    ap.add_argument("--preset", default="fax", help="the scan simulator's preset (datasets/scansim.py)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    work = args.out or Path(tempfile.mkdtemp(prefix="xxgk-loop-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    options = load_options()
    # a shared 2-core machine: the store's per-job time limit is not what this benchmark measures
    options = options.model_copy(update={"limits": options.limits.model_copy(update={"job_seconds": 1200})})
    truths = {r: json.loads((DEV / r / "cells.json").read_text(encoding="utf-8")) for r in args.reports}
    scans = {r: scan(r, work / "scans", args.preset) for r in args.reports}
    print(f"scanned {len(scans)} reports ({args.preset}) ({time.time() - t0:.0f} s)", file=sys.stderr)
    url = sqlite_url(str(work / "loop.db"))
    blobs = LocalBlobs(work / "loop.files")
    run_batch([str(p) for p in scans.values()], url, blobs, options, workers=2)
    names = {file_sha256(p): r for r, p in scans.items()}
    before: dict[str, dict[str, int]] = {}
    with opened(url) as sessions, sessions() as s:
        for report, result in crud.newest_results(s):
            fam = names[report.sha256]
            before[fam] = figures(result, truths[fam], fam)
    missing = sorted(set(args.reports) - set(before))
    if missing:
        raise SystemExit(f"not read into the store: {', '.join(missing)} (see the batch's errors)")
    print(f"read before ({time.time() - t0:.0f} s): {before}", file=sys.stderr)
    corrections = review(url, truths, names, args.holdout)
    with opened(url) as sessions, sessions() as s:
        approved = [(ReportMeta.of(r), res) for r, res in crud.newest_results(s, approved_only=True)]
        stats = crud.review_stats(s)
    exported = write_training(work / "export", approved, blobs, options)
    print(f"exported {exported.reports} reports, {exported.from_corrections} relabelled segments", file=sys.stderr)
    model = work / "model"
    finetune.run(work / "export", model, steps=args.steps, synthetic_docs=args.synthetic_docs, options=options)
    meta = json.loads((model / "xxgk.json").read_text(encoding="utf-8"))
    new_opts: PipelineOptions = options.model_copy(
        update={"classifier": options.classifier.model_copy(update={"model_dir": str(model)})}
    )
    after = {r: figures(extract(p, new_opts), truths[r], r) for r, p in scans.items()}
    seconds = round(time.time() - t0)
    layouts = meta.get("layouts") or {}
    print(f"\nheld out: {args.holdout}; model {meta['model_id']}; fine-tuning {meta['finetune']['train_seconds']} s")
    print(
        f"layout memory: {layouts.get('agencies', 0)} agencies, {layouts.get('layouts', 0)} layouts, "
        f"{layouts.get('cells', 0)} cells (from {layouts.get('review_records', 0)} approved reports)"
    )
    print(f"{'family':8} {'role':9} {'corr.':>5}  {'flagged':>15}  {'let off':>7}  {'errors':>13}  {'silent':>11}")
    for r in args.reports:
        b, a = before[r], after[r]
        role = "held out" if r == args.holdout else "corrected"
        print(
            f"{r:8} {role:9} {corrections.get(r, 0):>5}  {b['flagged']:>6} -> {a['flagged']:<6}  {a['let_off']:>7}  "
            f"{b['errors']:>5} -> {a['errors']:<5}  {b['silent']:>4} -> {a['silent']:<4}"
        )
    dev = meta["eval"]["dev"]
    print(f"dev reports with the new model (all renderings; primary total): {dev['right']}/{dev['total']}")
    print(f"review stats before retraining: {json.dumps(stats['overall'])}")
    for row in stats["by_reason"][:8]:
        print(
            f"  {row['flagged']:>4} flagged, {row['confirmed']:>4} confirmed, {row['corrected']:>3} corrected: "
            f"{row['reason']}"
        )
    print(f"total {seconds} s; work folder {work}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "holdout": args.holdout,
                    "before": before,
                    "after": after,
                    "corrections": corrections,
                    "dev": dev,
                    "model": meta["model_id"],
                    "layouts": layouts,
                    "stats": stats["overall"],
                    "seconds": seconds,
                },
                indent=1,
            ),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
