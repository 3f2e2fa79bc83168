"""Robustness (issue 13): every dev rendering x perturbation family x seed, extracted and scored against the
unchanged hand-checked truth (``datasets/dev-reports/<id>/cells.json``).

The variants come from ``datasets/robustness/generate.py`` (families and skips: its README). Each variant is
written to a folder and run through ``service.pipeline.extract`` in a worker process (a crash is an exception,
a hang a run past ``--timeout``). Cells are scored with ``service.evaluate.score`` (ids in the truth's
``uncertain`` and ``absent`` are skipped): **right** (the value equals the truth; a null truth is a printed blank:
right when the value is None and the status is not ``absent``), **flagged** (not right and ``needs_review``),
**wrong-and-unflagged** (not right, not ``needs_review``: a silent error). Crashed and hung documents are
counted apart, not in the cell figures. Also the report's ``coverage.status`` (where the Result has one) and
whether the format (2019/2021) was detected right. ``clean`` is the unperturbed rendering (r001: its HTML
rendering from the document model), the baseline.

The scan families (issue 15; ``datasets/robustness/scans.py``): ``scan_phone``, ``scan_photocopy``, ``scan_seal``,
``scan_curl``, ``scan_unruled``, ``scan_lowres`` — one or two reports each, printed and scanned on the fly by
``datasets/scansim.py`` with that preset and the first seed only (fixed), read by OCR like any upload.

    .venv/bin/python benchmarks/bench_robustness.py [--families F ...] [--reports R ...] [--seeds 0 1 2]
        [--out DIR] [--json FILE] [-j 2] [--timeout 120]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from datasets.robustness.generate import (  # noqa: E402
    FAMILIES,
    RENDERINGS,
    Skip,
    Variant,
    generate,
    skip_reason,
    truth,
)
from datasets.robustness.scans import SCAN_FAMILIES, make_scan, planned  # noqa: E402

ALL_FAMILIES = (*FAMILIES, *SCAN_FAMILIES)

STATUSES = ("complete", "partial", "failed")
WARMUP = ROOT / "datasets" / "dev-reports" / "seed" / "source.txt"


# --- worker ------------------------------------------------------------------------------------------


def score_result(result: Any, cells: dict[str, Any], report: str, name: str) -> dict[str, Any]:
    """Right / flagged / wrong-and-unflagged cells of one Result, with every cell that is not right."""
    from service.evaluate import score

    s = score(result, cells, report, name)
    wrong = []
    for cid, expected, got in s.wrong:
        cell = result.cells.get(cid)
        wrong.append(
            {
                "id": cid,
                "truth": expected,
                "value": got,
                "status": cell.status if cell is not None else "missing",
                "needs_review": bool(cell is not None and cell.needs_review),
            }
        )
    coverage = getattr(result, "coverage", None)
    return {
        "right": s.right,
        "total": s.total,
        "flagged": sum(w["needs_review"] for w in wrong),
        "wrong_unflagged": sum(not w["needs_review"] for w in wrong),
        "wrong": wrong,
        "format": result.format,
        "format_ok": s.format_ok,
        "coverage": getattr(coverage, "status", None),
        "coverage_reasons": list(getattr(coverage, "reasons", []) or [])[:5],
    }


def _worker(conn: Connection) -> None:
    """Extract and score the variants sent down ``conn`` until it sends None."""
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "XXGK_OCR_THREADS",
        "XXGK_CLASSIFIER_THREADS",
    ):
        os.environ[var] = "1"
    from service.pipeline import extract

    extract(WARMUP)  # imports, schema, classifier
    conn.send("ready")
    while True:
        task = conn.recv()
        if task is None:
            return
        t0 = time.perf_counter()
        try:
            result = extract(task["path"])
            out = score_result(result, truth(task["report"]), task["report"], task["name"])
            out["error"] = None
        except Exception as e:  # a crash is a measured outcome
            out = {"error": f"{type(e).__name__}: {e}"[:300]}
        out["seconds"] = round(time.perf_counter() - t0, 3)
        conn.send(out)


@dataclass
class Slot:
    proc: multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False
    task: dict[str, Any] | None = None
    started: float = 0.0


def _spawn() -> Slot:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_worker, args=(child,), daemon=True)
    proc.start()
    child.close()
    return Slot(proc, parent)


def run_all(tasks: list[dict[str, Any]], jobs: int, timeout: float, progress: bool = True) -> list[dict[str, Any]]:
    """Run the tasks on ``jobs`` worker processes; a task past ``timeout`` seconds (a scan of many pages: half of
    it per page, ``_limit``) is a hang (its worker is killed and replaced)."""
    pending = list(reversed(tasks))
    slots = [_spawn() for _ in range(max(1, min(jobs, len(tasks))))]
    results: list[dict[str, Any]] = []
    while pending or any(s.task for s in slots):
        for s in slots:
            if s.ready and s.task is None and pending:
                s.task = pending.pop()
                s.started = time.perf_counter()
                s.conn.send(s.task)
        busy = [s for s in slots if s.task is not None]
        waits = [s.started + _limit(s.task, timeout) - time.perf_counter() for s in busy if s.task is not None]
        ready = wait([s.conn for s in slots], timeout=max(0.05, min(waits, default=5.0)))
        for i, s in enumerate(slots):
            if s.conn in ready:
                try:
                    msg = s.conn.recv()
                except EOFError:  # the worker died (killed by the OS, a segfault …)
                    msg = {"error": "worker died", "seconds": round(time.perf_counter() - s.started, 3)}
                    if s.task is None:
                        raise RuntimeError("a worker died while starting") from None
                    slots[i] = _spawn()
                if msg == "ready":
                    s.ready = True
                    continue
                assert s.task is not None
                results.append({**s.task, **msg})
                if progress:
                    _progress(len(results), len(tasks), results[-1])
                s.task = None
            elif s.task is not None and time.perf_counter() - s.started > _limit(s.task, timeout):
                s.proc.kill()
                s.proc.join()
                limit = round(_limit(s.task, timeout), 1)
                results.append({**s.task, "error": None, "hang": True, "seconds": limit})
                if progress:
                    _progress(len(results), len(tasks), results[-1])
                slots[i] = _spawn()
    for s in slots:
        s.conn.send(None)
        s.proc.join(timeout=10)
        if s.proc.is_alive():
            s.proc.kill()
    return results


SCAN_PAGE_SHARE = 0.5  # a scan is read by OCR page by page: half the document timeout per page, at least the whole


def _limit(task: dict[str, Any], timeout: float) -> float:
    """Seconds before the task is a hang: ``timeout``, or for a scan of many pages its pages' share of it."""
    return max(timeout, SCAN_PAGE_SHARE * timeout * int(task.get("pages", 0)))


def _progress(done: int, total: int, r: dict[str, Any]) -> None:
    state = (
        "HANG"
        if r.get("hang")
        else "CRASH"
        if r.get("error")
        else f"{r['right']}/{r['total']} right, {r['wrong_unflagged']} silent"
    )
    print(f"  [{done}/{total}] {r['name']}: {state} ({r['seconds']:.1f} s)", file=sys.stderr, flush=True)


# --- plan ------------------------------------------------------------------------------------------------


def plan(
    families: list[str], reports: list[str] | None, seeds: list[int], out: Path
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """Variants written to ``out`` (one task each) and the (rendering, family, reason) combinations skipped."""
    tasks: list[dict[str, Any]] = []
    skipped: dict[tuple[str, str], str] = {}
    renderings = [r for r in RENDERINGS.values() if reports is None or r.name in reports or r.report in reports]
    for family, report in planned(reports):
        if family in families:  # a scan: the first seed only (fixed), one or two reports per family
            made = make_scan(report, family, seeds[0], out)
            tasks.append(
                {
                    "name": made.name,
                    "path": str(made.path),
                    "rendering": made.rendering,
                    "report": report,
                    "family": family,
                    "seed": made.seed,
                    "steps": [family.removeprefix("scan_")],
                    "pages": made.pages,
                }
            )
    for r in renderings:
        for family in families:
            if family in SCAN_FAMILIES:
                continue
            reason = skip_reason(r.name, family)
            if reason:
                skipped[(r.name, family)] = reason
                continue
            for seed in seeds[:1] if family == "clean" else seeds:
                try:
                    v: Variant = generate(r.name, family, seed)
                except Skip as e:
                    skipped.setdefault((r.name, family), f"{e} (seed {seed})")
                    continue
                path = out / v.name
                path.write_bytes(v.data)
                tasks.append(
                    {
                        "name": v.name,
                        "path": str(path),
                        "rendering": r.name,
                        "report": r.report,
                        "family": family,
                        "seed": seed,
                        "steps": v.steps,
                    }
                )
    return tasks, [(r, f, why) for (r, f), why in skipped.items()]


# --- report -----------------------------------------------------------------------------------------------


@dataclass
class Tally:
    docs: int = 0
    cells: int = 0
    right: int = 0
    flagged: int = 0
    wrong_unflagged: int = 0
    format_ok: int = 0
    crashes: int = 0
    hangs: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def add(self, r: dict[str, Any]) -> None:
        self.docs += 1
        if r.get("hang"):
            self.hangs += 1
            return
        if r.get("error"):
            self.crashes += 1
            return
        self.cells += r["total"]
        self.right += r["right"]
        self.flagged += r["flagged"]
        self.wrong_unflagged += r["wrong_unflagged"]
        self.format_ok += int(r["format_ok"])
        self.statuses[r["coverage"] or "-"] += 1

    def pct(self, n: int) -> float:
        return 100.0 * n / self.cells if self.cells else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.docs,
            "cells": self.cells,
            "right": self.right,
            "flagged": self.flagged,
            "wrong_unflagged": self.wrong_unflagged,
            "right_pct": round(self.pct(self.right), 3),
            "wrong_unflagged_pct": round(self.pct(self.wrong_unflagged), 3),
            "flagged_pct": round(self.pct(self.flagged), 3),
            "format_ok": self.format_ok,
            "crashes": self.crashes,
            "hangs": self.hangs,
            "statuses": dict(self.statuses),
        }


def _status_text(t: Tally) -> str:
    return "/".join(str(t.statuses.get(s, 0)) for s in (*STATUSES, "-"))


def print_report(
    results: list[dict[str, Any]], families: list[str], skipped: list[tuple[str, str, str]], worst: int
) -> dict[str, Any]:
    per: dict[str, Tally] = {f: Tally() for f in families}
    total = Tally()
    for r in results:
        per[r["family"]].add(r)
        total.add(r)
    head = (
        f"{'family':20s} {'docs':>4s} {'cells':>6s} {'right %':>8s} {'silent %':>8s} {'flagged %':>9s} "
        f"{'complete/partial/failed/-':>25s} {'format':>7s} {'crash':>5s} {'hang':>4s}"
    )
    print(head)
    print("-" * len(head))
    for name, t in [*per.items(), ("TOTAL", total)]:
        if not t.docs:
            continue
        if name == "TOTAL":
            print("-" * len(head))
        ok = t.docs - t.crashes - t.hangs
        print(
            f"{name:20s} {t.docs:4d} {t.cells:6d} {t.pct(t.right):8.2f} {t.pct(t.wrong_unflagged):8.2f} "
            f"{t.pct(t.flagged):9.2f} {_status_text(t):>25s} {f'{t.format_ok}/{ok}':>7s} {t.crashes:5d} {t.hangs:4d}"
        )
    print(
        "(silent = wrong and not flagged for review; statuses = result.coverage.status, '-' where the Result has "
        "none; crashed/hung documents are not in the cell figures)"
    )

    bad = sorted(
        (r for r in results if not r.get("error") and not r.get("hang") and r["wrong_unflagged"]),
        key=lambda r: (-r["wrong_unflagged"], r["name"]),
    )
    if bad:
        print(f"\nworst documents (most wrong-and-unflagged cells; top {worst}):")
        for r in bad[:worst]:
            ids = Counter(w["id"].split(".")[0] for w in r["wrong"] if not w["needs_review"])
            print(
                f"  {r['name']}: {r['right']}/{r['total']} right, {r['wrong_unflagged']} silent, {r['flagged']} "
                f"flagged, coverage {r['coverage']}, format {r['format']}{'' if r['format_ok'] else ' (WRONG)'}, "
                f"silent by table {dict(ids)}; steps {'+'.join(r['steps'])}"
            )
            for w in [w for w in r["wrong"] if not w["needs_review"]][:6]:
                print(f"      {w['id']}: truth {w['truth']} got {w['value']} [{w['status']}]")
    print_matrix(results, families)
    failures = [r for r in results if r.get("error") or r.get("hang")]
    if failures:
        print("\ncrashes and hangs:")
        for r in failures:
            print(f"  {r['name']}: {'HANG' if r.get('hang') else r['error']}")
    if skipped:
        print("\nskipped (rendering x family: why):")
        for rendering, family, why in sorted(skipped, key=lambda s: (s[1], s[0])):
            print(f"  {rendering} x {family}: {why}")
    return {"families": {f: t.as_dict() for f, t in per.items() if t.docs}, "total": total.as_dict()}


def print_matrix(results: list[dict[str, Any]], families: list[str]) -> None:
    """Cells right % and silent cells (summed over seeds) per family x rendering."""
    names = [n for n in RENDERINGS if any(r["rendering"] == n for r in results)]
    cells: dict[tuple[str, str], Tally] = {}
    for r in results:
        cells.setdefault((r["family"], r["rendering"]), Tally()).add(r)
    print("\nright % / silent cells by rendering ('.' skipped, C crash, H hang):")
    print(f"{'':20s}" + "".join(f"{n:>13s}" for n in names))
    for f in families:
        if not any(k[0] == f for k in cells):
            continue
        row = []
        for n in names:
            t = cells.get((f, n))
            if t is None:
                row.append(".")
            elif t.crashes or t.hangs:
                row.append("C" * bool(t.crashes) + "H" * bool(t.hangs))
            else:
                row.append(f"{t.pct(t.right):.0f}/{t.wrong_unflagged}")
        print(f"{f:20s}" + "".join(f"{x:>13s}" for x in row))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", nargs="*", default=list(ALL_FAMILIES), choices=ALL_FAMILIES, metavar="FAMILY")
    ap.add_argument(
        "--reports",
        nargs="*",
        default=None,
        help="report ids (seed r001 …) or rendering names (r005-txt …); default all",
    )
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=None, help="keep the variants in this folder")
    ap.add_argument("--json", type=Path, default=None, help="write the figures and every document's result")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per document before it is a hang")
    ap.add_argument("--worst", type=int, default=12, help="worst documents listed")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xxgk-robustness-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        tasks, skipped = plan(args.families, args.reports, args.seeds, out)
        t_gen = time.perf_counter() - t0
        print(
            f"{len(tasks)} variants generated in {t_gen:.1f} s ({len(skipped)} rendering x family combinations "
            f"skipped); extracting with {args.jobs} workers …",
            file=sys.stderr,
        )
        results = run_all(tasks, args.jobs, args.timeout)
    results.sort(key=lambda r: r["name"])
    seconds = time.perf_counter() - t0
    print(f"\nrobustness: {len(results)} documents, seeds {args.seeds}, {args.jobs} workers, {seconds:.0f} s\n")
    figures = print_report(results, args.families, skipped, args.worst)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "seeds": args.seeds,
                    "jobs": args.jobs,
                    "seconds": round(seconds, 1),
                    **figures,
                    "skipped": [{"rendering": r, "family": f, "reason": why} for r, f, why in skipped],
                    "documents": results,
                },
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )
        print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()
