"""OCR speed: seconds per page, end to end, for r001's five pages as 200-dpi PNG images.

For each thread count: ``service.pipeline.extract`` on every page image (decode, orientation, skew,
tables read cell by cell, running text, assembly), against RapidOCR's own default call (detection, angle
classification, recognition) on the same files with the same thread count. Every figure is the best of
``--rounds`` runs, the two taking turns page by page (other processes on the machine only ever slow a
run down, and both alike); the summary is the median over the pages.

    .venv/bin/python benchmarks/bench_ocr.py [--rounds 3] [--threads 2 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.ocr.base import get_engine  # noqa: E402
from service.ocr.render import render_pages  # noqa: E402
from service.options import load_options  # noqa: E402
from service.pipeline import extract  # noqa: E402

R001 = ROOT / "datasets/dev-reports/r001/source.pdf"
DPI = 200


Times = list[tuple[float, float]]  # (wall, cpu) seconds per file


def best_times(runs: list[Callable[[Path], object]], files: list[Path], rounds: int) -> list[Times]:
    """For every run, the fastest of the rounds per file; the runs take turns file by file."""
    out = [[(float("inf"), float("inf"))] * len(files) for _ in runs]
    for _ in range(rounds):
        for i, path in enumerate(files):
            for times, run in zip(out, runs):
                wall, cpu = time.perf_counter(), time.process_time()
                run(path)
                times[i] = min(times[i], (time.perf_counter() - wall, time.process_time() - cpu))
    return out


def bare_rapidocr(threads: int) -> Callable[[Path], object]:
    from rapidocr import RapidOCR

    params = get_engine("rapidocr", threads=threads)._rapidocr_params()  # model paths: never download
    params.update({"Global.use_cls": True})  # RapidOCR's default
    engine = RapidOCR(params=params)
    return lambda path: engine(str(path))


def ours(threads: int) -> Callable[[Path], object]:
    options = load_options().with_changes(ocr={"threads": threads})
    return lambda path: extract(path, options)


def report(name: str, times: Times) -> float:
    walls = [w for w, _ in times]
    median = statistics.median(walls)
    pages = "  ".join(f"{w:.2f}" for w in walls)
    cpu = statistics.median(c for _, c in times)
    print(f"{name:<28} median {median:.2f} s/page (cpu {cpu:.2f})   pages: {pages}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for number, image in render_pages(R001, dpi=DPI).items():
            files.append(Path(tmp) / f"r001-page{number}.png")
            Image.fromarray(image).save(files[-1])
        print(f"r001, {len(files)} pages at {DPI} dpi, {os.cpu_count()} CPUs, best of {args.rounds} rounds")
        for threads in args.threads:
            pipeline, bare = ours(threads), bare_rapidocr(threads)
            pipeline(files[0]), bare(files[0])  # load the models
            mine, theirs = best_times([pipeline, bare], files, args.rounds)
            report(f"pipeline, {threads} thread(s)", mine)
            report(f"bare RapidOCR, {threads} thread(s)", theirs)


if __name__ == "__main__":
    main()
