"""Score extraction against hand-checked truth (folders laid out like shared/dev-reports/<id>/)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from service.options import PipelineOptions
from service.pipeline import extract
from service.result import Result

SOURCE_GLOB = "source.*"


@dataclass
class DocScore:
    id: str
    source: str
    format_expected: str | None
    format_found: str
    right: int = 0
    total: int = 0
    wrong: list[tuple[str, object, object]] = field(default_factory=list)  # cell id, truth, extracted
    result: Result | None = None

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 1.0

    @property
    def format_ok(self) -> bool:
        return self.format_expected is None or self.format_expected == self.format_found


def _same(truth: float | None, value: float | None) -> bool:
    if truth is None or value is None:
        return truth is None and value is None
    return abs(float(truth) - float(value)) < 1e-9


def score(result: Result, truth: dict, doc_id: str, source: str) -> DocScore:
    skip = set(truth.get("uncertain", [])) | set(truth.get("absent", []))
    s = DocScore(
        id=doc_id, source=source, format_expected=truth.get("format"), format_found=result.format, result=result
    )
    for cid, expected in truth["cells"].items():
        if cid in skip:
            continue
        s.total += 1
        cell = result.cells.get(cid)
        got = None if cell is None else cell.value
        if cell is not None and _same(expected, got) and (expected is not None or cell.status != "absent"):
            s.right += 1
        else:
            s.wrong.append((cid, expected, got))
    return s


def find_sources(folder: Path) -> list[Path]:
    """The folder's source document(s): source.* first, then the original web page of a crawled text."""
    sources = sorted(p for p in folder.glob(SOURCE_GLOB) if p.is_file())
    page = folder / "page.html"
    if page.exists():
        sources.append(page)
    return sources


def evaluate_folder(folder: Path, options: PipelineOptions, *, all_sources: bool = False) -> list[DocScore]:
    truth_path = folder / "cells.json"
    if not truth_path.exists():
        raise FileNotFoundError(f"{folder}: no cells.json truth file")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    sources = find_sources(folder)
    if not sources:
        raise FileNotFoundError(f"{folder}: no source.* document")
    if not all_sources:
        sources = sources[:1]
    return [score(extract(src, options), truth, truth.get("id", folder.name), src.name) for src in sources]


def discover(paths: list[Path]) -> list[Path]:
    """Report folders under the given paths (a folder with cells.json, or its parent)."""
    out: list[Path] = []
    for p in paths:
        if (p / "cells.json").exists():
            out.append(p)
        elif p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if (q / "cells.json").exists()))
    return out
