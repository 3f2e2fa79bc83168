"""Text rules shared by every reader (format backends, the page layout, OCR): section headings and how pieces of
Chinese and Latin text are joined (no space next to a CJK character, one space between Latin words)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from service.normalize import clean

# A section heading: a Chinese number (一 … 十, 十一 …) and 、, then text (一、总体情况).
_SECTION_HEADING = re.compile(r"^[一二三四五六七八九十]{1,3}、\s*\S")
SECTION_HEADING_MAX_CHARS = 40

# Set full-width in Chinese text although Unicode gives them an ambiguous width.
_WIDE_PUNCT = frozenset("“”‘’…—·•")


def is_section_heading(text: str) -> bool:
    """Whether cleaned text is a section heading such as 一、总体情况.

    It starts with a Chinese number and 、, is at most 40 characters long and has no full stop
    before its last character (a full stop inside means a heading run into its paragraph).
    """
    if len(text) > SECTION_HEADING_MAX_CHARS or not _SECTION_HEADING.match(text):
        return False
    return "。" not in text[:-1]


def is_wide(ch: str) -> bool:
    """CJK ideographs, kana, full-width forms and Chinese punctuation: no spaces around them."""
    return unicodedata.east_asian_width(ch) in ("W", "F") or ch in _WIDE_PUNCT


def join_wide(left: str, right: str) -> str:
    """Join two pieces of text: no separator where either side is a CJK (wide) character, else one space."""
    if not left or not right:
        return left or right
    return left + ("" if is_wide(left[-1]) or is_wide(right[0]) else " ") + right


def join_cell_lines(parts: Iterable[str]) -> str:
    """Clean the lines of one table cell (or paragraph) and join them with ``join_wide``; blank lines drop out.

    A label broken across lines reads as one word (法律服务 + 机构), numbers and Latin words on separate
    lines stay apart (12 + 5 -> "12 5").
    """
    out = ""
    for part in parts:
        out = join_wide(out, clean(part))
    return out


_SPACE_BETWEEN = re.compile(r"(?<=\S) (?=\S)")


def tidy(raw: str) -> str:
    """Cleaned text without the spaces a recognizer puts next to CJK characters (Latin words keep theirs)."""
    text = clean(raw)
    return _SPACE_BETWEEN.sub(
        lambda m: "" if is_wide(text[m.start() - 1]) or is_wide(text[m.start() + 1]) else " ", text
    )
