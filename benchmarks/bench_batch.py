"""Bulk digitization throughput (issue 6): the dev reports and their scanned renderings through `xxgk batch`'s
engine with 1 and 2 worker processes, then a second run over the same inputs (everything skipped).

Target: 2 workers >= 1.7x the throughput of 1 on this 2-core machine (one inference thread per worker, xxgk
batch's default); also 1 worker with 2 threads, the other way to use both cores.

    .venv/bin/python benchmarks/bench_batch.py [--configs 1x1 2x1 1x2]
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
from service.options import load_options  # noqa: E402
from service.store import sqlite_url  # noqa: E402

INPUTS = [str(ROOT / "datasets" / "dev-reports"), str(ROOT / "datasets" / "scans")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--configs",
        nargs="+",
        default=["1x1", "2x1", "1x2"],
        help="workers x threads per worker (xxgk batch's --workers and --threads)",
    )
    args = ap.parse_args()
    options = load_options()
    items, _ = expand(INPUTS)
    print(
        f"inputs: {len(items)} files ({sum(1 for i in items if '/scans/' in i.name)} scans, "
        f"{sum(i.size for i in items) / 1e6:.1f} MB) from "
        f"datasets/dev-reports and datasets/scans"
    )
    rates = {}
    for config in args.configs:
        workers, threads = (int(x) for x in config.split("x"))
        with tempfile.TemporaryDirectory(prefix="xxgk-batch-") as tmp:
            url = sqlite_url(Path(tmp) / "results.db")
            s = run_batch(INPUTS, url, Path(tmp) / "files", options, workers=workers, threads=threads)
            rates[config] = (s.files - s.skipped) / s.seconds
            print(
                f"  {workers} worker(s) x {threads} thread(s): {s.done} extracted, {s.failed} failed, {s.pages} pages "
                f"in {s.seconds:.1f} s -> {rates[config]:.3f} files/s, {s.pages / s.seconds:.3f} pages/s"
            )
            for name, error in s.errors:
                print(f"    failed {name}: {error}")
            t0 = time.perf_counter()
            again = run_batch(INPUTS, url, Path(tmp) / "files", options, workers=workers, threads=threads)
            print(
                f"    second run: {again.skipped} of {again.files} skipped, {again.done} extracted, "
                f"{time.perf_counter() - t0:.1f} s"
            )
    if "1x1" in rates and "2x1" in rates:
        print(
            f"2 workers / 1 worker (one thread each, xxgk batch's default per worker): "
            f"{rates['2x1'] / rates['1x1']:.2f}x (target >= 1.7x)"
        )
    if "1x2" in rates and "2x1" in rates:
        print(
            f"2 workers x 1 thread / 1 worker x 2 threads (both cores either way): {rates['2x1'] / rates['1x2']:.2f}x"
        )


if __name__ == "__main__":
    main()
