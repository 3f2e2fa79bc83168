"""Narrative facts and report metadata from the classifier's spans."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from service.document import Document
from service.normalize import parse_number
from service.result import Fact
from service.schema import load_format
from service.understand.catalog import catalog
from service.understand.classifier import SpanPrediction, Tagging
from service.understand.cues import grammar_for, read_numbers

_SENTENCE_END = "。！？；;!?\n"


@lru_cache(maxsize=4)
def _cell_ids(fmt: str) -> frozenset[str]:
    return frozenset(c.id for c in load_format(fmt).cells())


def fact_id_for_format(label: str, fmt: str) -> str | None:
    """The fact id in a report of format ``fmt``: a cell id of that format, an x.-id, or None (not in this format)."""
    if label.startswith("x."):
        return label
    if label in _cell_ids(fmt):
        return label
    for entry in catalog().values():
        cells = entry.get("cells") or {}
        if label in cells.values():
            return cells.get(fmt)
    return None


def sentence_around(text: str, start: int, end: int) -> str:
    a = max((text.rfind(ch, 0, start) for ch in _SENTENCE_END), default=-1) + 1
    ends = [i for ch in _SENTENCE_END if (i := text.find(ch, end)) >= 0]
    b = min(ends) + 1 if ends else len(text)
    return text[a:b].strip()


# confidence of a fact by the evidence that chose it (service.understand.cues), moved by the classifier's reading
BASE_CONFIDENCE = {"cue": 0.9, "after": 0.9, "noun+verb": 0.8, "cue~": 0.75, "after~": 0.75, "noun+verb~": 0.65}
AGREE_BONUS, DISAGREE_PENALTY, TIE_PENALTY = 0.08, 0.25, 0.3
FUZZY_NEEDS = 0.3  # classifier probability (any fact label) a look-alike cue needs


def extract_facts(doc: Document, tagging: Tagging | None, fmt: str, min_confidence: float = 0.5) -> list[Fact]:
    """Every number of the document's text that states a catalog quantity, with its fact id for format ``fmt``.

    The cue grammar (:mod:`service.understand.cues`) decides which quantity a number states; the classifier's
    probabilities for that number (``tagging.numbers``) confirm it (+), contradict it (-) or break a tie
    between equally cued facts. Facts below ``min_confidence`` are dropped."""
    grammar = grammar_for(fmt)
    by_place = {(tuple(n.key), n.start): n for n in tagging.numbers} if tagging is not None else {}

    def fact_probs(b: int, start: int) -> dict[str, float] | None:
        pred = by_place.get(((b,), start))
        if pred is None:
            return None
        probs: dict[str, float] = {}
        for lab, p in pred.probs.items():
            if lab != "O" and (fid := fact_id_for_format(lab, fmt)) is not None:
                probs[fid] = probs.get(fid, 0.0) + p
        return probs

    out: list[Fact] = []
    for b, block in enumerate(doc.blocks):
        if block.kind == "table" or not block.text:
            continue

        def fuzzy_ok(start: int, b: int = b) -> bool:
            return max((fact_probs(b, start) or {}).values(), default=0.0) >= FUZZY_NEEDS

        for r in read_numbers(block.text, grammar, fuzzy_ok):
            if r.label is None:
                continue
            seen = fact_probs(b, r.start)
            probs = seen or {}
            label = r.label
            if r.strength.endswith("~") and (max(probs.values(), default=0.0) < FUZZY_NEEDS):
                continue  # a cue read through a look-alike character counts only when the classifier sees a fact
            conf = BASE_CONFIDENCE[r.strength]
            if r.alternatives:  # equally cued facts: the classifier picks, at a lower confidence
                label = max((r.label, *r.alternatives), key=lambda x: probs.get(x, 0.0))
                conf -= TIE_PENALTY
            p_same = probs.get(label, 0.0)
            p_other = max((p for lab, p in probs.items() if lab != label), default=0.0)
            if p_same >= 0.5:
                conf += AGREE_BONUS
            elif p_other >= 0.5:
                conf -= DISAGREE_PENALTY
            conf = round(min(conf, 0.99), 4)
            if conf < min_confidence:
                continue
            value = parse_number(r.text).value
            out.append(
                Fact(
                    id=label,
                    kind="text" if label.startswith("x.") else "cell",
                    value=value,
                    text=r.text,
                    sentence=sentence_around(block.text, r.start, r.end),
                    block=b,
                    start=r.start,
                    end=r.end,
                    page=block.provenance.page,
                    bbox=block.provenance.bbox,
                    origin=block.provenance.origin,
                    cue=r.cue,
                    evidence=r.strength,
                    classifier=round(p_same, 4) if seen is not None else None,
                    confidence=conf,
                )
            )
    return out


_ISO = re.compile(r"(20\d\d)[-./年](\d{1,2})[-./月](\d{1,2})")


def _iso_date(text: str) -> str | None:
    m = _ISO.search(text.replace(" ", ""))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return None


def best_span(tagging: Tagging, label: str, *, max_block: int = 12) -> SpanPrediction | None:
    """The most confident span of a metadata label near the start of the document."""
    spans = [s for s in tagging.spans if s.label == label and s.key[0] < max_block]
    return max(spans, key=lambda s: s.confidence, default=None)


def metadata(tagging: Tagging) -> dict[str, str | int | None]:
    """Agency, report year and publication date as the classifier reads them (None where it finds none)."""
    out: dict[str, str | int | None] = {"agency": None, "year": None, "published": None}
    if (s := best_span(tagging, "meta.agency")) is not None and len(s.text) >= 2:
        out["agency"] = s.text.strip('《》“”"')
    if (s := best_span(tagging, "meta.year")) is not None and (m := re.search(r"20\d\d", s.text)):
        out["year"] = int(m.group())
    spans = [s for s in tagging.spans if s.label == "meta.date"]
    for s in sorted(spans, key=lambda s: -s.confidence):
        if (d := _iso_date(s.text)) is not None:
            out["published"] = d
            break
    return out
