"""One text normaliser for every backend.

``clean`` makes text comparable across sources (web pages, PDF text layers, Word,
OCR): CJK radical code points to unified ideographs, NFKC (full-width digits and
punctuation to ASCII), invisible characters removed, whitespace collapsed.
``label_key`` reduces a label to the characters that matter for matching.
``parse_number`` reads one table cell.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)


@lru_cache(maxsize=1)
def _radical_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    text = resources.files("service.data").joinpath("radicals.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        radical, ideograph = line.split("\t")
        table[int(radical, 16)] = chr(int(ideograph, 16))
    table.update(_INVISIBLE)
    return table


_WS = re.compile(r"\s+")


def clean(text: str, *, keep_newlines: bool = False) -> str:
    """Radicals -> ideographs, NFKC, drop invisibles, collapse whitespace."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text.translate(_radical_table()))
    if keep_newlines:
        lines = (_WS.sub(" ", line).strip() for line in text.splitlines())
        return "\n".join(lines)
    return _WS.sub(" ", text).strip()


# Characters that carry no meaning for label matching (punctuation, brackets, spaces).
_LABEL_DROP = re.compile(r"[\s\u3000,.;:!?'\"()\[\]{}<>、，。；：！？“”‘’「」『』【】《》〈〉（）—\-_/\\|·•…~～*#]+")


@lru_cache(maxsize=65536)
def label_key(text: str) -> str:
    """Matching key of a label: cleaned, without punctuation or spaces."""
    return _LABEL_DROP.sub("", clean(text))


# Numeric OCR/typing confusions, applied only where the context is numeric.
_DIGIT_CONFUSIONS = str.maketrans({"O": "0", "o": "0", "〇": "0", "l": "1", "I": "1", "|": "1"})

NOT_APPLICABLE = {"/", "-", "—", "–", "——", "--", "―", "不适用", "无", "\\", "N/A", "n/a", "NA", "×", "x"}

# Units printed after a number in a table cell (longest first): amounts, counts, percent.
UNITS = ("万元", "人次", "元", "件", "项", "个", "次", "条", "笔", "份", "篇", "家", "%")
UNIT_PATTERN = "|".join(UNITS)

_NUMBER = re.compile(
    rf"""^(?P<sign>[+-])?\s*(?P<int>\d{{1,3}}(?:,\d{{3}})+|\d+)(?P<frac>\.\d+)?\s*
        (?P<unit>{UNIT_PATTERN})?\s*(?P<note>.*)$""",
    re.X,
)


# one cell whose digits carry spaces (clean() has folded every run of white space to one space)
_SPACED_DIGITS = re.compile(r"^[+-]?\d+(?: \d+)+(?:\.\d+)?(?:\s*\D.*)?$")
_THOUSANDS_SPACED = re.compile(r"^[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?(?:\s*\D.*)?$")


@dataclass(frozen=True)
class ParsedNumber:
    """What one cell says: a number, blank, not applicable, or unreadable text."""

    status: str  # "value" | "blank" | "not_applicable" | "unparseable"
    value: int | float | None = None
    unit: str | None = None
    note: str | None = None
    decimals: int = 0
    # digits printed with spaces between them inside one cell (1 295): "thousands" where the groups are of three
    # (1 234 567), "irregular" otherwise (12 95) — read as one number either way, the second reviewed
    spaced: str | None = None


def parse_number(raw: str | None, *, numeric_context: bool = False) -> ParsedNumber:
    """Parse a printed cell. Blank is not zero; units and notes are kept apart."""
    text = clean(raw or "")
    if not text:
        return ParsedNumber("blank")
    if text in NOT_APPLICABLE:
        return ParsedNumber("not_applicable", note=text)
    if numeric_context:
        text = text.translate(_DIGIT_CONFUSIONS)
    spaced = None
    if _SPACED_DIGITS.match(text):
        spaced = "thousands" if _THOUSANDS_SPACED.match(text) else "irregular"
        text = text.replace(" ", "")
    m = _NUMBER.match(text)
    if not m:
        return ParsedNumber("unparseable", note=text)
    note = m.group("note").strip()
    if note:
        # A note must be parenthesised text, e.g. 22（其中修订16件）; anything else is not a number.
        if not (note.startswith("(") and note.endswith(")")):
            return ParsedNumber("unparseable", note=text)
        note = note[1:-1].strip()
    digits = m.group("int").replace(",", "")
    frac = m.group("frac")
    sign = -1 if m.group("sign") == "-" else 1
    if frac:
        value: int | float = sign * float(digits + frac)
        decimals = len(frac) - 1
    else:
        value = sign * int(digits)
        decimals = 0
    return ParsedNumber("value", value=value, unit=m.group("unit"), note=note or None, decimals=decimals, spaced=spaced)


_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def chinese_numeral(text: str) -> int | None:
    """Value of a small Chinese numeral (一 … 九十九), else None."""
    if not text:
        return None
    if text == "十":
        return 10
    if text.startswith("十"):
        rest = _CN_DIGITS.get(text[1:]) if len(text) == 2 else None
        return 10 + rest if rest is not None else None
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = _CN_DIGITS.get(tens)
        o = _CN_DIGITS.get(ones, 0) if ones else 0
        return t * 10 + o if t is not None else None
    return _CN_DIGITS.get(text) if len(text) == 1 else None
