"""Rule-based label matcher: the normalising baseline that maps printed labels to schema ids.

Scores are in [0, 1]; a pair that cannot reach MIN_SCORE scores 0. Labels are compared on their ``label_key``
(NFKC, radicals fixed,
punctuation and spaces removed) with OCR look-alikes read as one character (``service.fuzzy``);
truncated labels (a PDF or Markdown extraction cut them) score by containment, typos by edit similarity.
"""

from __future__ import annotations

from collections import Counter
from difflib import SequenceMatcher
from functools import lru_cache

from service import fuzzy
from service.normalize import label_key

MIN_SCORE = 0.5


@lru_cache(maxsize=8192)
def _counts(key: str) -> dict[str, int]:
    return Counter(key)


@lru_cache(maxsize=65536)
def _similarity_keys(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    # OCR look-alikes (已/己, 请/清 …) compare as the same character: service.fuzzy's substitution model
    a, b = fuzzy.canonical(a), fuzzy.canonical(b)
    if a == b:
        return 0.98
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    contained = len(short) >= 4 and short in long_
    # difflib's ratio is at most 2*|common characters|/(|a|+|b|): skip it when that cannot reach MIN_SCORE
    ca, cb = _counts(a), _counts(b)
    if len(ca) > len(cb):
        ca, cb = cb, ca
    common = sum(min(n, cb.get(ch, 0)) for ch, n in ca.items())
    if not contained and 2 * common / (len(a) + len(b)) < MIN_SCORE:
        return 0.0
    ratio = SequenceMatcher(None, a, b, autojunk=False).ratio()
    if contained:
        ratio = max(ratio, 0.55 + 0.4 * len(short) / len(long_))
    return ratio


def similarity(doc_label: str, target_label: str) -> float:
    return _similarity_keys(label_key(doc_label), label_key(target_label))


def best_similarity(doc_labels: list[str], targets: list[str]) -> float:
    """Best score of any reading of a row's labels (leaf, leaf with its parents) against any target label."""
    if not doc_labels:
        return 0.0
    readings = {doc_labels[-1], "".join(doc_labels[-2:]), "".join(doc_labels)}
    return max(similarity(r, t) for r in readings for t in targets)
