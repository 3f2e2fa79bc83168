"""Bulk digitization throughput (issue 6): the dev reports and their scanned renderings through `xxgk batch`'s
engine with 1 and 2 worker processes, then a second run over the same inputs (everything skipped).

Target: 2 workers >= 1.7x the throughput of 1 on this 2-core machine (each worker gets cores / workers threads).

    .venv/bin/python benchmarks/bench_batch.py [--workers 1 2]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from service.batch import expand, run_batch  # noqa: E402
from service.store import sqlite_url  # noqa: E402

INPUTS = [str(ROOT / "datasets" / "dev-reports"), str(ROOT / "datasets" / "scans")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    items, _ = expand(INPUTS)
    print(f"inputs: {len(items)} files ({sum(1 for i in items if '/scans/' in i.name)} scans) from "
          f"datasets/dev-reports and datasets/scans")
    rates = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory(prefix="xxgk-batch-") as tmp:
            url = sqlite_url(Path(tmp) / "results.db")
            s = run_batch(INPUTS, url, Path(tmp) / "files", workers=workers)
            rates[workers] = (s.files - s.skipped) / s.seconds
            print(f"  {workers} worker(s): {s.done} extracted, {s.failed} failed, {s.pages} pages in {s.seconds:.1f} s"
                  f" -> {rates[workers]:.3f} files/s, {s.pages / s.seconds:.3f} pages/s")
            for name, error in s.errors:
                print(f"    failed {name}: {error}")
            t0 = time.perf_counter()
            again = run_batch(INPUTS, url, Path(tmp) / "files", workers=workers)
            print(f"  second run: {again.skipped} of {again.files} skipped, {again.done} extracted, "
                  f"{time.perf_counter() - t0:.1f} s")
    if 1 in rates and 2 in rates:
        print(f"2 workers / 1 worker throughput: {rates[2] / rates[1]:.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
