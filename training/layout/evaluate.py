"""The layout model on the dev reports' scans (evaluation only: never trained on).

    .venv/bin/python -m training.layout.evaluate [--ids seed r001 ...] [--json models/layout/metrics.json]

Pages: every page of the committed moderate fixture scans (``datasets/scans/<id>-moderate-200dpi.pdf``) as they
are ("ruled"), and the same pages printed again by the scan simulator with the table rulings taken out before the
same seeded degradation (same skew, blur, noise): "three_line" (三线表: top, header and bottom rules kept) and
"unruled" (no rulings at all). Truth: the ruled tables of the fixture page found by the ruling-line finder
(``service.pages.layout.find_grids``, exact on the moderate fixtures: bench_scan's structure score is 100 %), whose
row and column counts are those of ``scansim.printed_grid`` (MANIFEST.json, tables split over pages counted per
page here); the unruled prints have the same geometry, so the same truth.

Figures: table detection recall and precision (a predicted grid matches a true one at IoU >= 0.5), boundary F1
(column and row boundaries of matched tables, one-to-one within ``TOL`` inches), cell F1 (a cell is found when a
predicted cell has all four sides within ``TOL``: spans count), tables whose grid is exact (same rows, columns and
cells), and the CPU time per page of prediction + grid building on one thread. The ruling-line finder's figures on
the same pages are given beside them.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from service.lattice import Box, Grid
from service.ocr.render import render_pages
from service.pages.layout import find_grids
from service.pages.layout_model import MODEL_PATH, LayoutModel, model_grids
from training.layout.data import CACHE, ruling_style, scansim

ROOT = Path(__file__).resolve().parents[2]
TOL = 0.04  # inches: a boundary or a cell side this near the true one is found
DPI = 200
STYLES = ("ruled", "three_line", "unruled")
EVAL_VERSION = 1  # bump when the evaluation pages change (a new cache file)


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_tables(truth: list[Grid], pred: list[Grid]) -> list[tuple[Grid, Grid]]:
    pairs = sorted(((iou(t.bbox, p.bbox), i, j) for i, t in enumerate(truth) for j, p in enumerate(pred)), reverse=True)
    used_t: set[int] = set()
    used_p: set[int] = set()
    out = []
    for score, i, j in pairs:
        if score >= 0.5 and i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
            out.append((truth[i], pred[j]))
    return out


def match_positions(truth: list[float], pred: list[float], tol: float) -> int:
    """One-to-one matches of sorted positions within tol (greedy by distance)."""
    pairs = sorted((abs(t - p), i, j) for i, t in enumerate(truth) for j, p in enumerate(pred) if abs(t - p) <= tol)
    used_t: set[int] = set()
    used_p: set[int] = set()
    for _, i, j in pairs:
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
    return len(used_t)


def cells_found(truth: Grid, pred: Grid, tol: float) -> int:
    boxes = [c.bbox for c in pred.cells]
    return sum(any(all(abs(a - b) <= tol for a, b in zip(c.bbox, box)) for box in boxes) for c in truth.cells)


class Tally:
    def __init__(self) -> None:
        self.n: dict[str, float] = {
            k: 0
            for k in (
                "tables",
                "pred_tables",
                "matched",
                "exact",
                "cols_t",
                "cols_p",
                "cols_m",
                "rows_t",
                "rows_p",
                "rows_m",
                "cells_t",
                "cells_p",
                "cells_m",
                "pages",
                "seconds",
            )
        }

    def add(self, truth: list[Grid], pred: list[Grid], tol: float) -> None:
        n = self.n
        n["pages"] += 1
        n["tables"] += len(truth)
        n["pred_tables"] += len(pred)
        matched = match_tables(truth, pred)
        n["matched"] += len(matched)
        for t, p in matched:
            n["cols_t"] += len(t.xs)
            n["cols_p"] += len(p.xs)
            n["cols_m"] += match_positions(list(t.xs), list(p.xs), tol)
            n["rows_t"] += len(t.ys)
            n["rows_p"] += len(p.ys)
            n["rows_m"] += match_positions(list(t.ys), list(p.ys), tol)
            found = cells_found(t, p, tol)
            n["cells_m"] += found
            n["exact"] += int(
                t.n_rows == p.n_rows and t.n_cols == p.n_cols and found == len(t.cells) and len(p.cells) == len(t.cells)
            )
        n["cells_t"] += sum(len(t.cells) for t in truth)
        n["cells_p"] += sum(len(p.cells) for p in pred)

    def figures(self) -> dict[str, float]:
        n = self.n

        def f1(m: float, t: float, p: float) -> float:
            return round(2 * m / (t + p), 4) if t + p else 0.0

        return {
            "pages": int(n["pages"]),
            "tables": int(n["tables"]),
            "table_recall": round(n["matched"] / n["tables"], 4) if n["tables"] else 0.0,
            "table_precision": round(n["matched"] / n["pred_tables"], 4) if n["pred_tables"] else 0.0,
            "col_boundary_f1": f1(n["cols_m"], n["cols_t"], n["cols_p"]),
            "row_boundary_f1": f1(n["rows_m"], n["rows_t"], n["rows_p"]),
            "cell_f1": f1(n["cells_m"], n["cells_t"], n["cells_p"]),
            "tables_exact": int(n["exact"]),
            "seconds_per_page": round(n["seconds"] / n["pages"], 3) if n["pages"] else 0.0,
        }


EvalPage = tuple[str, int, str, np.ndarray, list[Grid]]


def eval_pages(ids: list[str], cache: Path = CACHE) -> list[EvalPage]:
    """(report, page, style, image, truth grids) for every page of the fixture scans and its unruled prints (kept in
    ``cache`` once made: printing the reports again takes a while)."""
    path = cache / f"eval-{EVAL_VERSION}-{'-'.join(ids)}.pickle"
    if path.exists():
        with path.open("rb") as f:
            cached: list[EvalPage] = pickle.load(f)
        return cached
    out = _eval_pages(ids)
    cache.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(out, f)
    return out


def _eval_pages(ids: list[str]) -> list[EvalPage]:
    sim = scansim()
    preset = sim.PRESETS["moderate"]
    out = []
    for rid in ids:
        fixture = ROOT / "datasets" / "scans" / sim.scan_name(rid, preset)
        pages = render_pages(fixture.read_bytes(), dpi=DPI)
        clean = sim.render_source(sim.source_for(rid), DPI).images
        for n in sorted(pages):
            ruled = pages[n]
            truth = find_grids(ruled, DPI)
            out.append((rid, n, "ruled", ruled, truth))
            gray = np.asarray(clean[n - 1].convert("L"))
            grids = find_grids(gray, DPI)
            for style in STYLES[1:]:
                printed = ruling_style(gray, grids, style, np.random.default_rng([0, n]), DPI)
                img = sim.degrade(Image.fromarray(printed, mode="L"), preset, sim.page_rng(0, n))
                out.append((rid, n, style, np.asarray(img), truth))
    return out


def evaluate(ids: list[str], model_path: Path = MODEL_PATH, tol: float = TOL) -> dict[str, dict[str, dict[str, float]]]:
    model = LayoutModel(model_path, threads=1)
    pages = eval_pages(ids)
    finders: dict[str, Callable[[np.ndarray], list[Grid]]] = {
        "model": lambda img: model_grids(model.predict(img, DPI), DPI),
        "rulings": lambda img: find_grids(img, DPI),
    }
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, finder in finders.items():
        tallies = {style: Tally() for style in STYLES}
        for _rid, _n, style, img, truth in pages:
            t0 = time.process_time()
            pred = finder(img)
            tallies[style].n["seconds"] += time.process_time() - t0
            tallies[style].add(truth, pred, tol * DPI)
        out[name] = {style: tally.figures() for style, tally in tallies.items()}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ids", nargs="*", default=list(scansim().FIXTURE_IDS))
    ap.add_argument("--model", type=Path, default=MODEL_PATH)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    figures = evaluate(args.ids, args.model)
    for name, by_style in figures.items():
        for style, fig in by_style.items():
            print(f"{name:8s} {style:10s} {json.dumps(fig)}")
    if args.json:
        args.json.write_text(json.dumps({"ids": args.ids, "tol_inches": TOL, "dpi": DPI, **figures}, indent=1) + "\n")


if __name__ == "__main__":
    main()
