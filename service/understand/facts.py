"""Narrative facts and report metadata from the classifier's spans."""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

import yaml

from service.document import Document
from service.normalize import parse_number
from service.result import Fact
from service.schema import CONFIG_DIR, load_format
from service.understand.classifier import SpanPrediction, Tagging
from service.understand.labels import FACT_KINDS, load_label_set

FACTS_FILE = CONFIG_DIR / "classifier" / "facts.yaml"
_SENTENCE_END = "。！？；;!?\n"
_NUMBER = re.compile(r"^\d[\d,]*(?:\.\d+)?$")


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict]:
    data = yaml.safe_load(FACTS_FILE.read_text(encoding="utf-8")) or {}
    return {f["id"]: f for f in data.get("facts", [])}


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


def extract_facts(doc: Document, tagging: Tagging, fmt: str, min_confidence: float = 0.5) -> list[Fact]:
    kinds = {lab.id: lab.kind for lab in load_label_set().labels}
    out: list[Fact] = []
    for span in tagging.spans:
        if kinds.get(span.label) not in FACT_KINDS or len(span.key) != 1 or span.confidence < min_confidence:
            continue
        text = span.text.strip()
        if not _NUMBER.match(text):
            continue  # a fact is a whole number (the tagger proposes every maximal number of a text block)
        fid = fact_id_for_format(span.label, fmt)
        if fid is None:
            continue
        block = doc.blocks[span.key[0]]
        parsed = parse_number(text)
        out.append(Fact(
            id=fid, kind="text" if fid.startswith("x.") else "cell", value=parsed.value, text=text,
            sentence=sentence_around(block.text, span.start, span.end), block=span.key[0], start=span.start,
            end=span.end, page=block.provenance.page, bbox=block.provenance.bbox, origin=block.provenance.origin,
            confidence=round(span.confidence, 4)))
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
        out["agency"] = s.text.strip("《》“”\"")
    if (s := best_span(tagging, "meta.year")) is not None and (m := re.search(r"20\d\d", s.text)):
        out["year"] = int(m.group())
    spans = [s for s in tagging.spans if s.label == "meta.date"]
    for s in sorted(spans, key=lambda s: -s.confidence):
        if (d := _iso_date(s.text)) is not None:
            out["published"] = d
            break
    return out
