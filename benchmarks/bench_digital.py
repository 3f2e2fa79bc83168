"""Speed of extraction on digital reports (one core, model/schema loading excluded).

Label and similarity memo tables are cleared before every run, so each run is a cold read
of the document. Targets (issue 2): median per document <= 50 ms for HTML/text/Markdown/DOCX, <= 150 ms per page
for text-layer PDFs; since issue 4 the token classifier may add 30 ms per page (per 1,000 characters for sources
without pages). Prints one line per document and the medians per kind.

    .venv/bin/python benchmarks/bench_digital.py [--runs N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER_MS = 30  # issue 4: the token classifier may add this per page


def documents() -> list[Path]:
    dev = ROOT / "datasets" / "dev-reports"
    docs = sorted(p for d in dev.iterdir() for p in d.glob("source.*"))
    docs += sorted(dev.glob("*/page.html"))
    docs += sorted((ROOT / "datasets" / "fixtures").glob("*.docx"))
    return docs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    from service import fuzzy
    from service.ingest import load_document
    from service.normalize import label_key
    from service.options import load_options
    from service.pipeline import extract
    from service.understand.matcher import _counts, _similarity_keys

    def clear_text_caches() -> None:
        # per-document memo tables are emptied so that no run profits from an earlier one
        label_key.cache_clear()
        _similarity_keys.cache_clear()
        _counts.cache_clear()
        for memo in (fuzzy.distance, fuzzy.canonical, fuzzy._canon_counts):  # the edit-cost matcher's memos
            memo.cache_clear()

    options = load_options()  # once, as the entry points do
    per_kind: dict[str, list[float]] = {}
    print(f"{'document':48s} {'kind':9s} {'pages':>5s} {'median ms':>10s} {'ms/page':>8s}")
    for path in documents():
        extract(path, options)  # warm-up: imports, schema and label caches (model loading excluded)
        times = []
        for _ in range(args.runs):
            clear_text_caches()
            t0 = time.perf_counter()
            result = extract(path, options)
            times.append((time.perf_counter() - t0) * 1000)
        med = statistics.median(times)
        pages = max(result.document.pages, 1)
        kind = result.document.kind
        chars = sum(len(b.text) for b in load_document(path, options).blocks)
        # the budget: the foundation's (50 ms a document, 150 ms a PDF page) plus the classifier's 30 ms a page
        # (a page-less source counts one page per 1,000 characters)
        target = 150 + CLASSIFIER_MS if kind == "pdf" else 50 + CLASSIFIER_MS * chars / 1000
        per_kind.setdefault(kind, []).append((med / pages if kind == "pdf" else med, target))
        print(f"{str(path.relative_to(ROOT)):48s} {kind:9s} {result.document.pages:5d} {med:10.1f} {med / pages:8.1f}")
    print()
    for kind, vals in sorted(per_kind.items()):
        unit = "ms per page" if kind == "pdf" else "ms per document"
        med = statistics.median(v for v, _ in vals)
        target = statistics.median(t for _, t in vals)
        print(f"median {kind:9s} {med:7.1f} {unit} (target <= {target:.0f}) {'OK' if med <= target else 'OVER'}")


if __name__ == "__main__":
    main()
