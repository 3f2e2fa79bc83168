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
import sys
from functools import lru_cache
from pathlib import Path

from service.assemble.rows import is_value_text
from service.assemble.sections import section_of_heading, split_sections
from service.document import Document
from service.ingest import load_document
from service.normalize import label_key
from service.schema import FORMATS, detect_format, load_format, load_labels
from service.understand.encode import Segment, segments

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


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, dict[str, set[str]]]:
    """table -> label_key -> label ids with that exact wording."""
    lex: dict[str, dict[str, set[str]]] = {"t2": {}, "t3": {}, "t4": {}, "heading": {}}

    def add(table: str, text: str, lid: str) -> None:
        if label_key(text):
            lex[table].setdefault(label_key(text), set()).add(lid)

    def add_all(table: str, items, prefix: str) -> None:
        for item in items:
            for t in item.labels():
                add(table, t, prefix + item.id)

    syn = load_labels()
    for fmt in FORMATS:
        s = load_format(fmt)
        add("t2", "信息内容", "t2.header")
        for block in s.t2_blocks():
            add_all("t2", [block], "t2.")
            add_all("t2", block.rows, f"t2.{block.id}.")
            add_all("t2", block.columns, "t2.col.")
        add("t3", "申请人情况", "t3.header")
        add_all("t3", s.t3_rows(), "t3.")
        add_all("t3", s.t3_columns(), "t3.col.")
        for cid, words in syn["t3_columns"].items():
            for t in words:
                add("t3", t, f"t3.col.{cid}")
        add("t4", "行政诉讼", "t4.litigation")
        add_all("t4", s.t4_groups(), "t4.")
        add_all("t4", s.t4_columns(), "t4.col.")
    return lex


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
    lex = _lexicon()
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
