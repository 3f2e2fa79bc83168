"""OCR-like corruption of synthetic documents, labels kept right.

Character noise (``corrupt_text``): a character is swapped for a visually similar one
(``confusables.tsv``: hand-written pairs plus pairs our own OCR engine proposes as alternatives),
a digit for a digit-like character (0/O/8/6, 1/l/7 …), or dropped; now and then a space is inserted.

Document noise (``corrupt_document``): character noise on headings, paragraphs and table cells
(value cells get digit confusions only), paragraph spans moved with the text (a span whose characters
are all dropped disappears with its fact; a fact whose number was damaged gets the damaged reading,
None when it no longer parses); plus layout noise on tables: a label cell split into two stacked
cells, or a long label broken across two lines (a space in the cleaned text). Both halves keep the label.

``ocr_pairs`` collects (character, alternative) pairs from OCR'd documents; it made the ``ocr:`` rows
of confusables.tsv.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from service.document import Block, Document, TableCell, TableGrid
from service.normalize import clean, parse_number
from training.synth.types import Fact, LabelKey, LabelValue, SynthDoc

CONFUSABLES = Path(__file__).with_name("confusables.tsv")
DIGIT_CONFUSIONS = {
    "0": "OoD86", "1": "l|I7", "2": "Z7", "3": "8", "5": "S6", "6": "b8G", "7": "1", "8": "B063", "9": "g",
}
SUBSTITUTE, DROP, SPACE = 0.7, 0.25, 0.05  # shares of the corruption kinds
OCR_WEIGHT = 3.0  # an OCR-observed pair is this many times likelier than a hand-written one


@lru_cache(maxsize=1)
def confusables() -> dict[str, tuple[list[str], list[float]]]:
    """Character -> (confusable characters, weights)."""
    table: dict[str, tuple[list[str], list[float]]] = {}
    for line in CONFUSABLES.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        a, b, source = line.split("\t")
        alts, weights = table.setdefault(a, ([], []))
        alts.append(b)
        weights.append(OCR_WEIGHT if "ocr" in source else 1.0)
    return table


def _swap(ch: str, rng: random.Random, digits_only: bool = False) -> str | None:
    if ch in DIGIT_CONFUSIONS:
        return rng.choice(DIGIT_CONFUSIONS[ch])
    if digits_only:
        return None
    entry = confusables().get(ch)
    if entry is None:
        return None
    return rng.choices(entry[0], weights=entry[1])[0]


def _corrupt(text: str, rate: float, rng: random.Random, *, digits_only: bool = False,
             allow_drop: bool = True) -> tuple[str, list[int | None]]:
    """Corrupted text and, for every original character, its index in the result (None: dropped)."""
    out: list[str] = []
    where: list[int | None] = []
    for ch in text:
        if ch == " " or rng.random() >= rate:
            where.append(len(out))
            out.append(ch)
            continue
        kind = rng.random()
        if kind < SUBSTITUTE or not allow_drop:
            alt = _swap(ch, rng, digits_only)
            where.append(len(out))
            out.append(alt if alt is not None else ch)
        elif kind < SUBSTITUTE + DROP:
            where.append(None)
        else:
            where.append(len(out))
            out.append(ch)
            if not digits_only:
                out.append(" ")
    return "".join(out), where


def corrupt_text(text: str, rate: float, rng: random.Random) -> str:
    """``text`` with about ``rate`` of its characters swapped for look-alikes, dropped or followed by a space."""
    return clean(_corrupt(text, rate, rng)[0])


def _recleaned(text: str, where: list[int | None]) -> tuple[str, list[int | None]]:
    """Clean corrupted text (collapse the spaces noise may double) and carry the index map along."""
    cleaned = clean(text)
    if cleaned == text:
        return text, where
    # map raw positions to cleaned positions by walking both strings (clean here only drops spaces)
    raw_to_clean: list[int | None] = []
    j = 0
    for ch in text:
        if j < len(cleaned) and cleaned[j] == ch:
            raw_to_clean.append(j)
            j += 1
        else:
            raw_to_clean.append(None)
    return cleaned, [None if w is None else raw_to_clean[w] for w in where]


def _move_spans(spans: list[tuple[int, int, str]], where: list[int | None]) -> list[tuple[int, int, str] | None]:
    moved: list[tuple[int, int, str] | None] = []
    for s, e, lab in spans:
        kept = [where[i] for i in range(s, e) if where[i] is not None]
        moved.append((min(kept), max(kept) + 1, lab) if kept else None)
    return moved


def corrupt_document(doc: SynthDoc, rate: float, rng: random.Random, *, layout_rate: float = 0.15) -> SynthDoc:
    """A corrupted copy of ``doc``: character noise at ``rate``, layout noise in ``layout_rate`` of the tables.

    ``truth`` stays the clean document's (a value cell read as 1O is still the cell that printed 10).
    """
    labels: dict[LabelKey, LabelValue] = {}
    blocks: list[Block] = []
    facts_by_block: dict[int, list[Fact]] = {}
    for f in doc.facts:
        facts_by_block.setdefault(f.block_index, []).append(f)
    new_facts: list[Fact] = []
    layout: list[str] = []
    for i, block in enumerate(doc.document.blocks):
        if block.kind == "table" and block.table is not None:
            cell_labels = {(r, c): lab for k, lab in doc.labels.items() if len(k) == 3 and k[0] == i
                           for r, c in [k[1:]]}
            grid, cell_labels = _corrupt_grid(block.table, cell_labels, rate, rng)
            if rng.random() < layout_rate:
                grid, cell_labels, what = _layout_noise(grid, cell_labels, rng)
                if what:
                    layout.append(f"{i}:{what}")
            text = " ".join(c.text for c in grid.cells if c.text)
            blocks.append(block.model_copy(update={"table": grid, "text": text}))
            for (r, c), lab in cell_labels.items():
                labels[(i, r, c)] = lab
            continue
        label = doc.labels.get((i,), [])
        text, where = _corrupt(block.text, rate, rng)
        text, where = _recleaned(text, where)
        if not text:  # never lose a whole block
            text, where = block.text, list(range(len(block.text)))
        blocks.append(block.model_copy(update={"text": text, "raw": text}))
        if isinstance(label, str):
            labels[(i,)] = label
            continue
        moved = _move_spans(label, where)
        labels[(i,)] = [m for m in moved if m is not None]
        for f in facts_by_block.get(i, []):
            span = _move_spans([(f.start, f.end, f.id)], where)[0]
            if span is None:
                continue
            value = parse_number(text[span[0]:span[1]].replace(" ", "").replace(",", "")).value
            new_facts.append(Fact(id=f.id, value=value, block_index=i, start=span[0], end=span[1]))
    document = doc.document.model_copy(update={"blocks": blocks})
    meta = {**doc.meta, "noise": {"rate": rate, "layout": layout}}
    return SynthDoc(document=document, labels=labels, facts=new_facts, truth=dict(doc.truth), meta=meta)


def _corrupt_grid(grid: TableGrid, cell_labels: dict[tuple[int, int], str], rate: float,
                  rng: random.Random) -> tuple[TableGrid, dict[tuple[int, int], str]]:
    cells = []
    for cell in grid.cells:
        is_value = cell_labels.get((cell.row, cell.col)) == "val"
        text, _ = _corrupt(cell.text, rate, rng, digits_only=is_value, allow_drop=len(cell.text) > 1)
        text = clean(text) or cell.text
        cells.append(cell.model_copy(update={"text": text, "raw": text}))
    return grid.model_copy(update={"cells": cells}), dict(cell_labels)


def _layout_noise(grid: TableGrid, cell_labels: dict[tuple[int, int], str],
                  rng: random.Random) -> tuple[TableGrid, dict[tuple[int, int], str], str]:
    """Split one long label cell: into two stacked cells (a new grid row) or across two lines (a space)."""
    candidates = [c for c in grid.cells if c.rowspan == 1 and len(c.text.replace(" ", "")) >= 6
                  and cell_labels.get((c.row, c.col), "val") not in ("val", "O")]
    if not candidates:
        return grid, cell_labels, ""
    target = rng.choice(candidates)
    cut = rng.randint(2, len(target.text) - 2)
    head, tail = target.text[:cut].strip(), target.text[cut:].strip()
    if not head or not tail:
        return grid, cell_labels, ""
    if rng.random() < 0.5:
        cells = [c.model_copy(update={"text": f"{head} {tail}", "raw": f"{head}\n{tail}"}) if c is target else c
                 for c in grid.cells]
        return grid.model_copy(update={"cells": cells}), cell_labels, "two_lines"
    r = target.row
    cells: list[TableCell] = []
    labels: dict[tuple[int, int], str] = {}
    for c in grid.cells:
        lab = cell_labels.get((c.row, c.col), "O")
        if c is target:
            cells.append(c.model_copy(update={"text": head, "raw": head}))
            cells.append(c.model_copy(update={"row": r + 1, "text": tail, "raw": tail}))
            labels[(r, c.col)] = labels[(r + 1, c.col)] = lab
        elif c.row > r:
            cells.append(c.model_copy(update={"row": c.row + 1}))
            labels[(c.row + 1, c.col)] = lab
        elif c.row + c.rowspan > r:  # covers row r: now covers the new row too
            cells.append(c.model_copy(update={"rowspan": c.rowspan + 1}))
            labels[(c.row, c.col)] = lab
        else:
            cells.append(c)
            labels[(c.row, c.col)] = lab
    cells.sort(key=lambda c: (c.row, c.col))
    return grid.model_copy(update={"cells": cells, "n_rows": grid.n_rows + 1}), labels, "stacked_cells"


def ocr_pairs(docs: Iterable[Document], min_probability: float = 0.01) -> Counter[tuple[str, str]]:
    """(character, alternative) pairs the OCR engine proposed for table cells (p >= ``min_probability``)."""
    pairs: Counter[tuple[str, str]] = Counter()
    for doc in docs:
        for block in doc.blocks:
            if block.table is None:
                continue
            for cell in block.table.cells:
                for ch in cell.ocr.chars if cell.ocr is not None else ():
                    for alt, p in ch.alternatives:
                        if alt and alt != ch.text and p >= min_probability:
                            pairs[(ch.text, alt)] += 1
    return pairs
