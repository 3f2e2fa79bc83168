"""Extraction from simulated scans: cell accuracy, table structure and speed against bare RapidOCR.

Scans (see datasets/scansim.py and datasets/scans/MANIFEST.json):
- moderate: the committed fixtures datasets/scans/<id>-moderate-200dpi.pdf;
- fax: made on the fly from the same sources with the same seed (150 dpi, binarised, speckle) in a temp dir;
- clean300 (on request): the committed datasets/scans/seed-clean-300dpi.pdf;
- the real-world families of issue 15 (on request, made on the fly like fax; scansim's docstring says what each
  does): phone, photocopy, seal, curl, unruled, lowres. Their making is timed apart (s/page to make).

Per scan: the pipeline end to end (``load_document`` + ``extract_document``, which is what
``service.pipeline.extract`` runs; the Document is kept for the structure check), cells scored against
the report's cells.json (service.evaluate.score: right after reconciliation), each cell that is not right
counted as flagged (the Result's cell has needs_review) or silent (wrong and not flagged, or missing), the
table structure compared with the printed grids (same number of tables, same cell lattice per table, tables
split across pages counted once), seconds per page, and the seconds per step of the OCR pages where the
pipeline reports them (``Document.pages[i].timings``: step -> CPU seconds; medians over pages). Bare RapidOCR
(detection + recognition, the same models and threads, no table logic) reads the same page images (rendered
at the pipeline's OCR dpi) in the same run. Engine loading and a warm-up page are excluded from the timings.

Targets (issues 3 and 15): cells right moderate, clean300, phone, photocopy, seal, curl >= 99.5 %; fax,
unruled, lowres >= 98 %; wrong-and-unflagged <= 0.05 % in every family; structure 100 %; moderate <= 2.0 s/page.

    .venv/bin/python benchmarks/bench_scan.py [--presets moderate fax] [--ids r001 r003] [--no-bare]
    .venv/bin/python benchmarks/bench_scan.py --presets phone photocopy seal curl unruled lowres --no-bare
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "datasets"))

import scansim  # noqa: E402  (datasets/scansim.py)

from service.document import Document  # noqa: E402
from service.evaluate import DocScore, score  # noqa: E402
from service.ingest import load_document  # noqa: E402
from service.ocr.render import render_pages  # noqa: E402
from service.options import NormaliseOptions, PipelineOptions, load_options  # noqa: E402
from service.pipeline import extract_document  # noqa: E402

TARGETS = {
    "moderate": 0.995,
    "fax": 0.98,
    "clean300": 0.995,
    "phone": 0.995,
    "photocopy": 0.995,
    "seal": 0.995,
    "curl": 0.995,
    "unruled": 0.98,
    "lowres": 0.98,
}  # share of cells right
SILENT_TARGET = 0.0005  # wrong and unflagged, every family
SPEED_TARGET = {"moderate": 2.0}  # s/page, pipeline median
COMMITTED = {"moderate", "clean300"}  # read from datasets/scans/; the others are made on the fly
PRESETS = ["moderate", "fax", "clean300", *scansim.FAMILIES]


@dataclass
class Case:
    id: str
    preset: str
    pdf: Path
    truth: Path
    tables: list[dict[str, Any]]  # the structure oracle (scansim.grid_lattice of each printed table)
    made_seconds: float | None = None  # time to make the scan (on the fly), None for committed fixtures


@dataclass
class Outcome:
    case: Case
    pages: int
    seconds: float
    score: DocScore
    structure: list[str]  # differences from the oracle; empty = match
    tables_matched: int
    flagged: int = 0  # cells not right, needs_review set
    silent: int = 0  # cells not right, needs_review not set (or missing)
    timings: list[dict[str, float]] = field(default_factory=list)  # per OCR page: step -> seconds
    bare_seconds: list[float] = field(default_factory=list)  # per page

    @property
    def per_page(self) -> float:
        return self.seconds / max(self.pages, 1)


# --- cases -----------------------------------------------------------------------------------------


def committed_cases(preset: str, ids: set[str] | None) -> list[Case]:
    manifest = json.loads(scansim.MANIFEST.read_text(encoding="utf-8"))
    wanted = {"moderate": ("moderate", 200), "clean300": ("clean", 300)}[preset]
    cases = []
    for entry in manifest["fixtures"]:
        if (entry["preset"], entry["dpi"]) != wanted or (ids and entry["id"] not in ids):
            continue
        pdf = ROOT / entry["file"]
        if hashlib.sha256(pdf.read_bytes()).hexdigest() != entry["sha256"]:
            print(f"warning: {entry['file']} differs from MANIFEST.json (rerun datasets/scansim.py --fixtures)")
        cases.append(Case(entry["id"], preset, pdf, ROOT / entry["truth"], entry["tables"]))
    return cases


def generated_cases(
    preset: str, ids: set[str] | None, seed: int, folder: Path, changes: dict[str, Any] | None = None
) -> list[Case]:
    cases = []
    made_with = replace(scansim.PRESETS[preset], **(changes or {}))
    for report_id in scansim.FIXTURE_IDS:
        if ids and report_id not in ids:
            continue
        made = scansim.scan(
            scansim.source_for(report_id), folder / scansim.scan_name(report_id, made_with), made_with, seed
        )
        cases.append(
            Case(
                report_id,
                preset,
                made.path,
                scansim.DEV / report_id / "cells.json",
                [scansim.grid_lattice(g) for g in made.grids],
                made.seconds / max(made.pages, 1),
            )
        )
    return cases


# --- checks ----------------------------------------------------------------------------------------


def structure_diff(doc: Document, oracle: list[dict[str, Any]]) -> tuple[list[str], int]:
    """Differences between the Document's table lattices and the printed ones, and how many tables match."""
    found = [scansim.grid_lattice(b.table) for b in doc.tables() if b.table is not None]
    diffs = [] if len(found) == len(oracle) else [f"{len(found)} tables, {len(oracle)} printed"]
    matched = 0
    for k, (got, want) in enumerate(zip(found, oracle), start=1):
        if got == want:
            matched += 1
            continue
        got_cells = {tuple(c) for c in got["cells"]}
        want_cells = {tuple(c) for c in want["cells"]}
        diffs.append(
            f"t{k}: {got['n_rows']}x{got['n_cols']} (printed {want['n_rows']}x{want['n_cols']}), "
            f"{len(want_cells - got_cells)} printed cells missing, {len(got_cells - want_cells)} extra"
        )
    return diffs, matched


def bare_engine() -> Any:
    """RapidOCR as it comes (detection + recognition), with the pipeline's models and thread count."""
    from rapidocr import RapidOCR

    from service.ocr.rapidocr_engine import CLS_MODEL, DET_MODEL, REC_MODEL, model_path

    threads = load_options().ocr.threads
    return RapidOCR(
        params={
            "Global.log_level": "warning",
            "Global.use_cls": False,
            "Det.model_path": str(model_path(DET_MODEL)),
            "Cls.model_path": str(model_path(CLS_MODEL)),
            "Rec.model_path": str(model_path(REC_MODEL)),
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )


def run_case(case: Case, bare: Any | None, options: PipelineOptions | None = None) -> Outcome:
    truth = json.loads(case.truth.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    doc = load_document(case.pdf, options)
    result = extract_document(doc, options)
    seconds = time.perf_counter() - t0
    diffs, matched = structure_diff(doc, case.tables)
    s = score(result, truth, case.id, case.pdf.name)
    flagged = sum(1 for cid, _, _ in s.wrong if (c := result.cells.get(cid)) is not None and c.needs_review)
    timings = [dict(t) for page in doc.pages if (t := getattr(page, "timings", None))]
    out = Outcome(case, len(doc.pages), seconds, s, diffs, matched, flagged, len(s.wrong) - flagged, timings)
    if bare is not None:
        for image in render_pages(case.pdf, dpi=load_options().ocr.dpi).values():
            t0 = time.perf_counter()
            bare(image)
            out.bare_seconds.append(time.perf_counter() - t0)
    return out


def warm_up(bare: Any | None) -> None:
    """Load the engines and run each once on a page (excluded from the timings)."""
    page = ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf"
    load_document(page)
    if bare is not None:
        bare(render_pages(page, [1], dpi=load_options().ocr.dpi)[1])


# --- report ----------------------------------------------------------------------------------------


def _pct(n: int, total: int) -> float:
    return 100.0 * n / total if total else 0.0


def print_outcome(o: Outcome) -> None:
    s = o.score
    bare = f"{statistics.fmean(o.bare_seconds):8.2f}" if o.bare_seconds else f"{'-':>8s}"
    tables = f"{o.tables_matched}/{len(o.case.tables)}"
    made = f"{o.case.made_seconds:6.1f}" if o.case.made_seconds is not None else f"{'-':>6s}"
    print(
        f"{o.case.id:6s} {o.case.preset:9s} {o.pages:5d} {s.right:4d}/{s.total:<4d} {100 * s.accuracy:7.2f}% "
        f"{_pct(o.silent, s.total):7.2f}% {_pct(o.flagged, s.total):7.2f}% "
        f"{tables:>7s} {o.per_page:8.2f} {bare} {made}"
    )
    for cid, expected, got in s.wrong[:8]:
        cell = s.result.cells.get(cid) if s.result is not None else None
        state = "flagged" if cell is not None and cell.needs_review else "SILENT"
        print(f"{'':17s}wrong {cid}: truth {expected}, got {got} [{state}]")
    if len(s.wrong) > 8:
        print(f"{'':17s}... {len(s.wrong) - 8} more wrong cells")
    for diff in o.structure:
        print(f"{'':17s}structure {diff}")


def _verdict(ok: bool) -> str:
    return "OK" if ok else "BELOW"


def print_total(preset: str, outcomes: list[Outcome]) -> None:
    right = sum(o.score.right for o in outcomes)
    total = sum(o.score.total for o in outcomes)
    accuracy = right / total if total else 1.0
    silent = sum(o.silent for o in outcomes)
    flagged = sum(o.flagged for o in outcomes)
    matched = sum(o.tables_matched for o in outcomes)
    printed = sum(len(o.case.tables) for o in outcomes)
    docs_ok = sum(1 for o in outcomes if not o.structure)
    pages = sum(o.pages for o in outcomes)
    target = TARGETS[preset]
    silent_share = silent / total if total else 0.0
    print(
        f"{preset}: cells {right}/{total} = {100 * accuracy:.2f}% (target >= {100 * target:.1f}%) "
        f"{_verdict(accuracy >= target)}; structure {matched}/{printed} tables, "
        f"{docs_ok}/{len(outcomes)} documents (target 100%) {_verdict(docs_ok == len(outcomes))}"
    )
    print(
        f"{preset}: wrong and unflagged {silent} = {100 * silent_share:.2f}% (target <= {100 * SILENT_TARGET:.2f}%) "
        f"{_verdict(silent_share <= SILENT_TARGET)}; flagged {flagged} = {_pct(flagged, total):.2f}%"
    )
    median = statistics.median(o.per_page for o in outcomes)
    line = (
        f"{preset}: speed {pages} pages, pipeline median {median:.2f} "
        f"s/page (mean {sum(o.seconds for o in outcomes) / pages:.2f})"
    )
    if preset in SPEED_TARGET:
        line += f" (target <= {SPEED_TARGET[preset]:.1f}) {_verdict(median <= SPEED_TARGET[preset])}"
    bare = [t for o in outcomes for t in o.bare_seconds]
    if bare:
        line += (
            f"; bare RapidOCR median {statistics.median(statistics.fmean(o.bare_seconds) for o in outcomes):.2f}"
            f" s/page (mean {statistics.fmean(bare):.2f})"
        )
    print(line + " [medians over documents of seconds per page]")
    made = [o.case.made_seconds for o in outcomes if o.case.made_seconds is not None]
    if made:
        print(f"{preset}: making the scans {statistics.median(made):.1f} s/page (median over documents)")
    steps = per_step(outcomes)
    if steps:
        print(
            f"{preset}: per step, median s/page over {sum(len(o.timings) for o in outcomes)} OCR pages: "
            + ", ".join(f"{step} {secs:.3f}" for step, secs in steps.items())
        )
    else:
        print(f"{preset}: per step: not reported by the pipeline (Document.pages[i].timings empty)")


def per_step(outcomes: list[Outcome]) -> dict[str, float]:
    """Median seconds per page of every step the pipeline timed (a page without a step counts 0 for it)."""
    pages = [t for o in outcomes for t in o.timings]
    steps = list(dict.fromkeys(step for t in pages for step in t))
    return {step: statistics.median(t.get(step, 0.0) for t in pages) for step in steps}


def preset_changes(items: list[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` pairs as changes to a scansim.Preset, each value of the field's own type."""
    kinds = {f.name: f.type for f in fields(scansim.Preset)}
    changes: dict[str, Any] = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in kinds or not text:
            raise SystemExit(f"--set {item}: expected FIELD=VALUE with FIELD one of {', '.join(kinds)}")
        kind = str(kinds[name])
        changes[name] = (
            int(text)
            if kind.startswith("int")
            else (text.lower() in {"1", "true", "yes"})
            if "bool" in kind
            else text
            if kind.startswith("str")
            else float(text)
        )
    return changes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["moderate", "fax"], choices=PRESETS)
    ap.add_argument("--ids", nargs="+", help="only these reports (default: all fixtures)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the scans made on the fly")
    ap.add_argument("--no-bare", action="store_true", help="skip the bare RapidOCR timing")
    ap.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="FIELD=VALUE",
        help="change a field of the presets made on the fly (scansim.Preset), e.g. curl=0.03 margin=0",
    )
    ap.add_argument(
        "--without",
        nargs="+",
        default=[],
        choices=list(NormaliseOptions.model_fields),
        help="page normalisation steps turned off (to measure what each buys; configs/pipeline.yaml normalise)",
    )
    args = ap.parse_args()
    ids = set(args.ids) if args.ids else None
    changes = preset_changes(args.set)
    options = load_options().with_changes(normalise=dict.fromkeys(args.without, False)) if args.without else None
    if args.without:
        print(f"normalisation steps off: {', '.join(args.without)}")
    config = load_options().ocr
    print(f"OCR engine {config.engine}, {config.dpi} dpi, {config.threads} threads")
    bare = None if args.no_bare else bare_engine()
    warm_up(bare)
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        groups: dict[str, list[Outcome]] = {}
        print(
            f"{'id':6s} {'preset':9s} {'pages':>5s} {'cells':>9s} {'right':>8s} {'silent':>8s} {'flagged':>8s} "
            f"{'tables':>7s} {'s/page':>8s} {'bare s/p':>8s} {'make/p':>6s}"
        )
        for preset in args.presets:
            cases = (
                committed_cases(preset, ids)
                if preset in COMMITTED
                else generated_cases(preset, ids, args.seed, Path(tmp), changes)
            )
            for case in cases:
                outcome = run_case(case, bare, options)
                print_outcome(outcome)
                groups.setdefault(preset, []).append(outcome)
        print()
        for preset, outcomes in groups.items():
            print_total(preset, outcomes)


if __name__ == "__main__":
    main()
