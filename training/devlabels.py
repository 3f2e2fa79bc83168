"""Gold labels of the real dev reports for the classifier's mapping benchmark (datasets/dev-labels/).

Drafting (``--draft``): every table cell and heading of each dev-report rendering that has table grids is
labelled by exact wording — the cell's ``label_key`` equals an official label, a label variant of the spec or a
synonym of configs/labels.yaml, within the table the cell belongs to — and value cells get ``val``. What exact
wording cannot settle is written with label "?" and decided by hand (the committed files are the reviewed
result; ``--check`` verifies they still match the documents the backends produce, and that the row labels
agree with the truth cells: a row labelled t3.<row> must carry that row's truth values).

    .venv/bin/python -m training.devlabels --draft   # write drafts for files that do not exist yet
    .venv/bin/python -m training.devlabels --check
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from difflib import SequenceMatcher
from pathlib import Path

from service.assemble.rows import is_value_text
from service.assemble.sections import section_of_heading, split_sections
from service.document import Document
from service.ingest import load_document
from service.normalize import label_key
from service.schema import detect_format, load_format
from service.understand.encode import Segment, segments
from service.understand.lexicon import lexicon

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "datasets" / "dev-reports"
OUT = ROOT / "datasets" / "dev-labels"

# dev-report renderings whose tables are grids (run-together text renderings are not cell-labelled)
SOURCES = {
    "r001": "dev-reports/r001/source.pdf",
    "r003": "dev-reports/r003/source.html",
    "r003-docx": "fixtures/r003.docx",
    "r005": "dev-reports/r005/page.html",
    "r010": "dev-reports/r010/page.html",
    "r013": "dev-reports/r013/source.md",
}


def _table_of_blocks(doc: Document) -> dict[int, str]:
    text = "\n".join(b.text for b in doc.blocks)
    schema = load_format(detect_format(text, None).format)
    _, members = split_sections(doc, schema)
    out = {}
    for sid, table in (("s2", "t2"), ("s3", "t3"), ("s4", "t4")):
        for i, b in members.get(sid, []):
            if b.kind == "table":
                out[i] = table
    return out


def draft_labels(doc: Document) -> list[dict]:
    tables = _table_of_blocks(doc)
    lex = lexicon()
    rows: list[dict] = []
    for seg in segments(doc):
        label = None
        if seg.kind == "text":
            sid = section_of_heading(seg.text) if len(seg.text) <= 60 else None
            if sid is None:
                continue
            label = f"sec.{sid}"
        else:
            table = tables.get(seg.key[0])
            if table is None:
                continue
            if is_value_text(seg.text):
                label = "val"
            else:
                ids = lex[table].get(label_key(seg.text), set())
                label = next(iter(ids)) if len(ids) == 1 else "?"
        rows.append({"key": list(seg.key), "text": seg.text, "label": label})
    return rows


def load_gold(name: str) -> list[dict]:
    return [json.loads(line) for line in (OUT / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line]


def document(name: str) -> Document:
    return load_document(ROOT / "datasets" / SOURCES[name])


def gold_segments(name: str) -> tuple[Document, list[tuple[Segment, str]]]:
    """The document and its labelled segments (gold file keys resolved against today's backend output)."""
    doc = document(name)
    by_key = {seg.key: seg for seg in segments(doc)}
    out = []
    for row in load_gold(name):
        seg = by_key.get(tuple(row["key"]))
        if seg is None or seg.text != row["text"]:
            raise ValueError(f"{name}: gold segment {row['key']} {row['text']!r} no longer matches the document")
        out.append((seg, row["label"]))
    return doc, out


def corrupt_labels(doc: Document, gold: list[tuple[Segment, str]], rate: float, seed: int) -> tuple[Document, float]:
    """The document with its gold label cells and headings corrupted like OCR output (look-alike swaps, drops;
    values untouched), for the robustness benchmark; returns the document and the share of characters changed."""
    from training.synth.noise import corrupt_text

    rng = random.Random(seed)
    doc = doc.model_copy(deep=True)
    targets = {tuple(seg.key) for seg, lab in gold if lab not in ("val", "-")}
    changed = total = 0

    def apply(text: str) -> str:
        nonlocal changed, total
        new = corrupt_text(text, rate, rng) or text[:1]
        total += len(text)
        ops = SequenceMatcher(None, text, new, autojunk=False).get_opcodes()
        changed += sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")
        return new

    for b, block in enumerate(doc.blocks):
        if block.kind == "table" and block.table is not None:
            for cell in block.table.cells:
                if (b, cell.row, cell.col) in targets:
                    cell.text = apply(cell.text)
        elif (b,) in targets:
            block.text = apply(block.text)
    return doc, changed / max(total, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draft", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    status = 0
    for name in SOURCES:
        path = OUT / f"{name}.jsonl"
        if args.draft and not path.exists():
            rows = draft_labels(document(name))
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            print(f"{path}: {len(rows)} segments, {sum(r['label'] == '?' for r in rows)} undecided", file=sys.stderr)
        if args.check and path.exists():
            _, gold = gold_segments(name)
            undecided = [s.text for s, lab in gold if lab == "?"]
            print(f"{name}: {len(gold)} gold segments, {len(undecided)} undecided", file=sys.stderr)
            status |= bool(undecided)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
