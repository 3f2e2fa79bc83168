"""Edit distance with a substitution model: how text printed with typos or OCR look-alikes is matched.

One mechanism for every text path (web pages, text, Markdown, PDF text layers, OCR): a label or heading is
compared to the printed text by a weighted Levenshtein alignment in which a look-alike substitution (已/己,
未/末, 请/清 …, ``service/data/lookalikes.tsv``) costs ``LOOKALIKE`` and any other edit costs 1.
``distance`` compares two strings; ``search`` finds where a pattern stands inside a longer text (free start
and end: approximate substring matching), the way a heading is found inside a line of run-together text.
Both work on ``label_key``-style keys (punctuation and spaces already removed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

LOOKALIKE = 0.3  # cost of substituting a look-alike character
EDIT = 1.0  # cost of any other substitution, an inserted or a dropped character


@lru_cache(maxsize=1)
def _lookalike_groups() -> dict[str, frozenset[str]]:
    """Character -> the characters it is confused with (groups of look-alikes, one group a line)."""
    groups: dict[str, set[str]] = {}
    text = resources.files("service.data").joinpath("lookalikes.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        chars = [c for c in line if not c.isspace()]
        for c in chars:
            groups.setdefault(c, set()).update(x for x in chars if x != c)
    return {c: frozenset(s) for c, s in groups.items()}


@lru_cache(maxsize=1)
def _canon_table() -> dict[int, str]:
    """Each look-alike character -> one representative of its group (the smallest code point)."""
    return {ord(c): min(group | {c}) for c, group in _lookalike_groups().items()}


@lru_cache(maxsize=65536)
def canonical(key: str) -> str:
    """``key`` with every look-alike written as its group's representative: text compared this way sees an OCR
    look-alike as the same character (the matcher's fast path; ``distance`` prices it at ``LOOKALIKE``)."""
    return key.translate(_canon_table())


def lookalikes(ch: str) -> frozenset[str]:
    return _lookalike_groups().get(ch, frozenset())


def substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return LOOKALIKE if b in lookalikes(a) else EDIT


@lru_cache(maxsize=65536)
def distance(a: str, b: str) -> float:
    """Weighted edit distance between two keys."""
    if not a or not b:
        return EDIT * max(len(a), len(b))
    prev = [EDIT * j for j in range(len(b) + 1)]
    for i, ca in enumerate(a, start=1):
        cur = [EDIT * i] + [0.0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j - 1] + substitution_cost(ca, cb), prev[j] + EDIT, cur[j - 1] + EDIT)
        prev = cur
    return prev[-1]


@lru_cache(maxsize=65536)
def _canon_counts(key: str) -> Counter[str]:
    return Counter(canonical(key))


def lower_bound(a: str, b: str) -> float:
    """A cheap bound under ``distance(a, b)``: with look-alikes read as one character, every character of the
    longer key that the other lacks costs at least one edit."""
    ca, cb = _canon_counts(a), _canon_counts(b)
    common = sum(min(n, cb[ch]) for ch, n in ca.items())
    return EDIT * (max(len(a), len(b)) - common)


def within(a: str, b: str, limit: float) -> bool:
    """``distance(a, b) <= limit``, answered by the bound alone where it can be."""
    return lower_bound(a, b) <= limit + 1e-9 and distance(a, b) <= limit + 1e-9


def tolerance(pattern: str) -> float:
    """How much edit cost a printed form of ``pattern`` may carry and still be taken for it: look-alikes only
    for very short keys, one edit up to 6 characters, two up to 12, then 15 %."""
    n = len(pattern)
    if n <= 3:
        return LOOKALIKE
    if n <= 6:
        return EDIT
    if n <= 12:
        return 2 * EDIT
    return round(0.15 * n, 2)


@dataclass(frozen=True)
class Match:
    start: int  # span in the searched text
    end: int
    cost: float


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _sub_costs(ch: str, text: np.ndarray) -> np.ndarray:
    cost = np.full(text.shape, EDIT)
    near = lookalikes(ch)
    if near:
        cost[np.isin(text, _codes("".join(near)))] = LOOKALIKE
    cost[text == ord(ch)] = 0.0
    return cost


def search(pattern: str, text: str, max_cost: float | None = None) -> list[Match]:
    """Non-overlapping places where ``pattern`` stands in ``text`` at an edit cost of at most ``max_cost``
    (default ``tolerance(pattern)``), best first.

    Sellers' approximate matching, one pattern character at a time over the whole text (numpy): row i holds
    the cheapest alignment of pattern[:i] ending at each text position, with where it started."""
    if not pattern or not text:
        return []
    limit = tolerance(pattern) if max_cost is None else max_cost
    t = _codes(text)
    n = len(text)
    pos = np.arange(n + 1, dtype=np.float64)
    cost = np.zeros(n + 1)  # row 0: the match may start anywhere
    start = np.arange(n + 1)
    for i, ch in enumerate(pattern, start=1):
        diag = cost[:-1] + _sub_costs(ch, t)  # pattern char against text char j-1
        up = cost + EDIT  # pattern char dropped in the text
        e = up.copy()
        e_start = start.copy()
        better = diag <= up[1:]  # on a tie, a substituted character rather than a dropped one
        e[1:] = np.where(better, diag, up[1:])
        e_start[1:] = np.where(better, start[:-1], start[1:])
        e[0], e_start[0] = EDIT * i, 0
        # text characters inserted into the pattern: cost[j] = min_k<=j e[k] + (j - k) * EDIT
        shifted = e - pos * EDIT
        running = np.minimum.accumulate(shifted)
        arg = np.maximum.accumulate(np.where(shifted <= running, np.arange(n + 1), 0))
        cost = running + pos * EDIT
        start = e_start[arg]
    ends = np.nonzero(cost <= limit + 1e-9)[0]
    found = sorted(
        ((float(cost[j]), int(start[j]), int(j)) for j in ends if j > start[j]), key=lambda m: (m[0], -(m[2] - m[1]))
    )
    out: list[Match] = []
    for m_cost, m_start, m_end in found:
        if all(m_end <= m.start or m_start >= m.end for m in out):
            out.append(Match(m_start, m_end, m_cost))
    return out
