"""Section headings recognised by content: numbering variants and titles matched with edit costs.

A heading is a section number written as a heading (一、 / 一. / （一） / 1. / 1、 / 第一部分) followed by a
title close to one of the section's known titles (the schema's titles, template and instruction headings,
observed variants, the section keywords of ``configs/labels.yaml``) at a weighted edit cost within the
title's tolerance (``service.fuzzy``): one stray, missing or look-alike character does not hide a heading.
A title alone (no number) counts when it matches closely. Every text path (text, Markdown, HTML, Word, PDF,
OCR) asks this module, through ``section_of_heading`` for a whole line or ``title_at`` for a place inside a
line of run-together text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from service import fuzzy
from service.normalize import chinese_numeral, clean, label_key
from service.schema import FORMATS, load_format, load_labels

NUMERALS = "一二三四五六"
_ARABIC = {str(i): n for i, n in enumerate(NUMERALS, start=1)}
# a section number written as a heading number, then the title
_NUMBERED = re.compile(
    r"^\s*(?:第\s*(?P<ord>[一二三四五六])\s*(?:部分|章|节)|[(（]\s*(?P<par>[一二三四五六])\s*[)）]"
    r"|(?P<cn>[一二三四五六])\s*[、.．,，:：]|(?P<ar>[1-6])\s*[、.．](?!\d))\s*(?P<title>.*)$"
)
MAX_TITLE = 40  # characters of a heading's title


@dataclass(frozen=True)
class Title:
    number: str  # 一 … 六
    key: str  # label key of the title (no number)
    keyword: bool = False  # a section keyword: matches as a piece of a longer title


@lru_cache(maxsize=1)
def titles() -> tuple[Title, ...]:
    """Every known title of every section of both formats, as keys without their number."""
    out: dict[tuple[str, str], Title] = {}

    def add(number: str, text: str, keyword: bool = False) -> None:
        m = _NUMBERED.match(clean(text))
        key = label_key(m.group("title") if m else text)
        if len(key) >= 2 and (number, key) not in out:
            out[(number, key)] = Title(number, key, keyword)

    for fmt in FORMATS:
        for sec in load_format(fmt).sections:
            add(sec.number, sec.title)
            for form in (sec.heading_in_template, sec.heading_in_instructions):
                if form:
                    add(sec.number, form.rstrip("。."))
            for variant in sec.heading_variants:
                if not variant.label.startswith(("(", "（")):
                    add(sec.number, variant.label)
    numbers = {sec.id: sec.number for sec in load_format(FORMATS[-1]).sections}
    for sid, words in load_labels().get("section_keywords", {}).items():
        for w in words:
            add(numbers[sid], w, keyword=True)
    return tuple(out.values())


def title_cost(key: str, number: str | None = None) -> tuple[str | None, float]:
    """(section number, cost relative to the tolerance) of the known title closest to ``key``; a cost ≤ 1 is
    a match. A keyword counts where it stands inside the title; a full title may carry words after it
    (工作, 情况 …) only through the edit cost."""
    best: tuple[str | None, float] = (None, float("inf"))
    if not key:
        return best
    for t in titles():
        if number is not None and t.number != number:
            continue
        if t.keyword:
            if len(key) > MAX_TITLE:
                continue
            hits = fuzzy.search(t.key, key)
            cost = hits[0].cost / max(fuzzy.tolerance(t.key), 1e-9) if hits else float("inf")
        elif fuzzy.lower_bound(key, t.key) > 2 * fuzzy.tolerance(t.key):
            continue  # surely more than twice the tolerance away
        else:
            cost = fuzzy.distance(key, t.key) / max(fuzzy.tolerance(t.key), 1e-9)
        if cost < best[1]:
            best = (t.number, cost)
    return best


def numbered(text: str) -> tuple[str, str] | None:
    """(section numeral, title) of a line written as a numbered heading, else None."""
    m = _NUMBERED.match(clean(text))
    if not m:
        return None
    number = m.group("ord") or m.group("par") or m.group("cn") or _ARABIC.get(m.group("ar") or "", "")
    return (number, m.group("title")) if number else None


def section_of_heading(text: str) -> str | None:
    """Section numeral (一 … 六) of a heading line, or None. Numbered: its title must be close to one of that
    section's titles (or hold its keyword). Unnumbered: the whole line must be close to a full title."""
    text = clean(text)
    m = _NUMBERED.match(text)
    parts = numbered(text)
    if m is not None and parts is not None:
        number, title = parts
        key = label_key(title)
        if not key or len(key) > MAX_TITLE:
            return None
        if m.group("cn") or m.group("ord"):  # 一、 / 第一部分: the title may vary around its keyword
            found, cost = title_cost(key, number)
            return found if cost <= 1.0 else None
        return number if full_title(key, number) else None  # （一） and 1. also number sub-items
    key = label_key(text)
    if not 4 <= len(key) <= MAX_TITLE:
        return None
    return next((t.number for t in titles() if not t.keyword and _within(key, t.key)), None)


def full_title(key: str, number: str) -> bool:
    """Whether ``key`` is one of the section's full titles within its edit tolerance (keywords do not count)."""
    return any(_within(key, t.key) for t in titles() if t.number == number and not t.keyword)


def _within(key: str, title: str) -> bool:
    tol = fuzzy.tolerance(title)
    # the length difference alone costs that many edits: most lines are ruled out before the alignment
    return abs(len(key) - len(title)) <= tol and fuzzy.within(key, title, tol)


def section_id(number: str) -> str:
    return f"s{chinese_numeral(number)}"
