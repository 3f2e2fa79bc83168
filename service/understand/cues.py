"""Which catalog quantity a number in a sentence states: the cue grammar of narrative facts.

The token classifier proposes fact labels for numbers, but it ties numbers to the wrong cue of a long sentence
(办结93件 read as 收到). This module reads the sentence structure the way a reviewer does, from the cue words of
``configs/classifier/facts.yaml``:

* a number is a candidate when a count unit follows it (件, 条, 场 …, the fact's ``units``) and nothing marks it
  as something else (a percentage, a date, an ordinal 第N, an approximation 约 / 余, a 文号);
* **item** = the text between the nearest separators (，、；。：and brackets) around the number (an item that is only
  a filler — 共, 合计 — or a bracket takes in the item before it); **sentence part** = the text back to the previous
  ；。 (or to the enclosing bracket);
* strong evidence: one of the fact's ``cues`` in the item before the number (共受理政府信息公开申请 1295 件), or
  one of its ``after`` cues after it (1件结转下年度继续办理). Cues rank by their distance from the number minus
  their length: the nearest wins, a longer one may stand further away (作出不予公开答复2件: 不予公开, not 答复), a
  tie goes to the longer (予以公开及部分公开 beats 部分公开);
* ``light`` cues (答复 of the application counts) rank after every other fact's cue in the item: 予以公开类答复14件
  is a 予以公开 count;
* weak evidence, only when no cue speaks: one of the fact's ``nouns`` in the item, after the nearest of its
  ``verbs`` in the sentence part (主动公开规章13件，行政规范性文件60件 → 60 规范性文件 under 主动公开). Weak evidence
  is void in an item that starts with 其中, after 等 (an aggregate), or next to one of the fact's ``not`` words
  (废止规章, 修订);
* a number inside a bracket that starts with 其中 is a sub-count, never a fact, and so is a number listed after a
  verb of publication contents (刊登 …) in its sentence part; ``requires`` words must appear in
  the sentence (申请 for the application counts).

Exact cue words first; only where none speaks, cue words of four or more characters with one look-alike character
(OCR: 政府倍息 for 政府信息), which the caller admits only where the classifier sees a fact.

The result is a :class:`CueReading` per candidate number: the fact chosen (or None), the cue that decided and its
strength. :mod:`service.understand.facts` combines it with the classifier's own reading.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from service.understand.catalog import catalog

STRONG_STOPS = "。；;！？!?\n"
ITEM_STOPS = STRONG_STOPS + "，,、：:()（）"
OPENERS = "(（"
CLOSERS = ")）"
NUMBER = re.compile(r"(?<![\d.])\d+(?:,\d{3})*(?:\.\d+)?(?![\d])")  # 1,234 whole; 69件,1件 two numbers
# what may follow a count and makes it something else
NOT_A_COUNT_AFTER = (
    "%",
    "％",
    "‰",
    "年",
    "月",
    "日",
    "号",
    "个百分点",
    "个月",
    "个工作日",
    "工作日",
    "天",
    "倍",
    "余",
    "多",
    "万",
    "亿",
    "时",
    "岁",
    "周岁",
    "小时",
    "分",
    "秒",
    ".",
    "-",
    "/",
    "〕",
    "]",
)
NOT_A_COUNT_BEFORE = ("第", "约", "近", "逾", "超过", "超", "〔", "[", "No", "号", "编号", "电话", "邮编")
# verbs that list the contents of a publication: what follows them in the sentence counts printed items, not the
# agency's own activity (编发公报24期，刊登…政策解读83件: 83 is not the year's interpretations)
CONTENTS_VERBS = ("刊登", "刊发", "刊载", "收录")
FILLERS = {"共", "共计", "合计", "累计", "总计", "计", "达", "为", "共有", "其中共"}
EXTRA_UNITS = (
    "人次",
    "万元",
    "批次",
    "件次",
    "个",
    "人",
    "家",
    "项",
    "部",
    "份",
    "篇",
    "期",
    "场",
    "次",
    "条",
    "件",
    "起",
    "宗",
    "元",
)


@dataclass(frozen=True)
class FactCues:
    """The cue words of one catalog entry (facts.yaml), resolved for one report format."""

    label: str  # the fact id in this format (a cell id or an x. id)
    units: tuple[str, ...]
    cues: tuple[str, ...]
    after: tuple[str, ...] = ()
    nouns: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    not_words: tuple[str, ...] = ()
    light: tuple[str, ...] = ()  # generic cues that yield to any other fact's cue in the item (答复)
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class CueReading:
    start: int  # the number's offsets in the text
    end: int
    text: str
    unit: str | None
    label: str | None  # the fact chosen, or None
    cue: str | None  # the cue word that decided
    strength: str  # "cue" | "after" | "noun+verb" | "none" | "blocked"
    alternatives: tuple[str, ...] = ()  # other facts with equally good evidence (ambiguous when not empty)


def _unit_after(text: str, end: int) -> tuple[str | None, bool]:
    """(unit, blocked): the count unit printed after ``end`` (spaces skipped), or a marker that this is no count."""
    rest = text[end : end + 6].lstrip(" ")
    for marker in NOT_A_COUNT_AFTER:
        if rest.startswith(marker) and not rest.startswith("万元"):
            return None, True
    for unit in EXTRA_UNITS:
        if rest.startswith(unit):
            return unit, False
    return None, False


def _blocked_before(text: str, start: int) -> bool:
    head = text[max(0, start - 4) : start].rstrip(" ")
    return any(head.endswith(m) for m in NOT_A_COUNT_BEFORE)


def _last_stop(text: str, pos: int, stops: str) -> int:
    """Index just after the last char of ``stops`` before ``pos`` (0 when none)."""
    return max((text.rfind(ch, 0, pos) for ch in stops), default=-1) + 1


def _next_stop(text: str, pos: int, stops: str) -> int:
    found = [i for ch in stops if (i := text.find(ch, pos)) >= 0]
    return min(found) if found else len(text)


def _enclosing_bracket(text: str, pos: int) -> int | None:
    """Index of the bracket opener enclosing ``pos`` (None at top level)."""
    depth = 0
    for i in range(pos - 1, -1, -1):
        ch = text[i]
        if ch in CLOSERS:
            depth += 1
        elif ch in OPENERS:
            if depth == 0:
                return i
            depth -= 1
        elif ch in "。\n":
            return None
    return None


def _find(hay: str, w: str, last: bool, fuzzy: bool) -> int:
    """Index of ``w`` in ``hay`` (the last or the first occurrence), -1 when absent. ``fuzzy``: a window that
    differs from ``w`` in one character also counts (words of 4+ characters: OCR look-alikes, 政府倍息 for 政府信息)."""
    if not fuzzy:
        return hay.rfind(w) if last else hay.find(w)
    n = len(w)
    if n < 4:
        return -1
    starts = range(len(hay) - n, -1, -1) if last else range(len(hay) - n + 1)
    for i in starts:
        if sum(a != b for a, b in zip(hay[i : i + n], w)) <= 1:
            return i
    return -1


def _nearest_left(hay: str, words: tuple[str, ...], fuzzy: bool = False) -> tuple[int, int, str] | None:
    """(rank, -len, word) of the best word of ``words`` in ``hay`` (spaces ignored), or None. Rank = distance
    from the word's end to the end of ``hay`` minus its length: the nearest word wins, a longer one may stand
    further away (作出不予公开答复2件: 不予公开 beats 答复), a tie goes to the longer."""
    hay = hay.replace(" ", "")
    best = None
    for w in words:
        i = _find(hay, w, True, fuzzy)
        if i >= 0:
            cand = (len(hay) - (i + len(w)) - len(w), -len(w), w)
            best = cand if best is None or cand < best else best
    return best


def _nearest_right(hay: str, words: tuple[str, ...], fuzzy: bool = False) -> tuple[int, int, str] | None:
    hay = hay.replace(" ", "")
    best = None
    for w in words:
        i = _find(hay, w, False, fuzzy)
        if i >= 0:
            cand = (i - len(w), -len(w), w)
            best = cand if best is None or cand < best else best
    return best


def _item_start(text: str, start: int) -> int:
    """Start of the item the number at ``start`` belongs to. An item that is only a filler (共, 合计 …) or only
    a bracket (予以公开(含部分公开) 0件) takes in the item before it."""
    a = _last_stop(text, start, ITEM_STOPS)
    for _ in range(3):
        head = text[a:start].replace(" ", "")
        if a > 0 and text[a - 1] in CLOSERS and not head:  # X(Y) N件: the item is X(Y)
            depth, i = 0, a - 1
            while i >= 0:
                depth += text[i] in CLOSERS
                depth -= text[i] in OPENERS
                if depth == 0:
                    break
                i -= 1
            a = _last_stop(text, max(i, 0), ITEM_STOPS)
            continue
        if a > 0 and head in FILLERS and text[a - 1] in "，,":
            a = _last_stop(text, a - 1, ITEM_STOPS)
            continue
        break
    return a


def _evidence(
    grammar: tuple[FactCues, ...],
    unit: str,
    sentence: str,
    item_left: str,
    item_right: str,
    part_left: str,
    fuzzy: bool,
) -> list[tuple[tuple, str, str, str]]:
    """Candidate facts for one number: strong (a cue word) if any, else weak (noun under a verb)."""
    tag = "~" if fuzzy else ""
    item_head = item_left.lstrip(" ")
    aggregate = item_left.rstrip(" ").endswith("等")
    strong: list[tuple[tuple, str, str, str]] = []
    weak: list[tuple[tuple, str, str, str]] = []
    for f in grammar:
        if unit not in f.units or (f.requires and not any(w in sentence for w in f.requires)):
            continue
        if f.not_words and any(w in item_left or w in item_right[:6] for w in f.not_words):
            continue
        hit = _nearest_left(item_left, f.cues, fuzzy)
        if hit is not None:
            light = hit[2] in f.light  # ranks after every other fact's cue
            strong.append(((light, hit[0], hit[1]), f.label, hit[2], "cue" + tag))
        hit = _nearest_right(item_right, f.after, fuzzy)
        if hit is not None:
            strong.append(((False, hit[0], hit[1]), f.label, hit[2], "after" + tag))
        if f.nouns and f.verbs and not item_head.startswith("其中") and not aggregate:
            noun = _nearest_left(item_left, f.nouns, fuzzy)
            lead = len(item_right) - len(item_right.lstrip())
            if noun is None and (right := _nearest_right(item_right[: lead + 8], f.nouns, fuzzy)) is not None:
                noun = (-1_000, right[1], right[2])  # 主动公开864条政府信息: the noun right after the unit
            verb = _nearest_left(part_left, f.verbs, fuzzy)
            if noun is not None and verb is not None and verb[0] + len(verb[2]) > noun[0] + len(noun[2]):
                weak.append(((False, verb[0], verb[1]), f.label, f"{verb[2]}…{noun[2]}", "noun+verb" + tag))
    return strong or weak


def read_numbers(
    text: str, grammar: tuple[FactCues, ...], fuzzy_ok: Callable[[int], bool] | None = None
) -> list[CueReading]:
    """A reading of every number of ``text`` (a cleaned text block). ``fuzzy_ok(start)``: whether look-alike cue
    words are worth trying for the number at ``start`` (default: always)."""
    out: list[CueReading] = []
    for m in NUMBER.finditer(text):
        start, end = m.span()

        def none(
            why: str, unit: str | None = None, start: int = start, end: int = end, m: re.Match[str] = m
        ) -> CueReading:
            return CueReading(start, end, m.group(), unit, None, None, why)

        unit, blocked = _unit_after(text, end)
        if blocked or unit is None or _blocked_before(text, start):
            out.append(none("blocked" if blocked else "none", unit))
            continue
        unit_end = text.find(unit, end) + len(unit)
        opener = _enclosing_bracket(text, start)
        if opener is not None and text[opener + 1 : opener + 3] == "其中":
            out.append(none("blocked", unit))
            continue
        item_from = _item_start(text, start)
        item_left = text[item_from:start]
        item_right = text[unit_end : _next_stop(text, unit_end, STRONG_STOPS + "，,()（）")]
        part_from = max(_last_stop(text, start, STRONG_STOPS), opener + 1 if opener is not None else 0)
        part_left = text[min(part_from, item_from) : start]
        sentence = text[_last_stop(text, start, "。\n") : _next_stop(text, unit_end, "。\n")]
        pool: list[tuple[tuple, str, str, str]] = []  # (rank, label, cue, how)
        for fuzzy in (False, True):  # exact cue words first; one look-alike character only when none speaks
            if fuzzy and fuzzy_ok is not None and not fuzzy_ok(start):
                break
            pool = _evidence(grammar, unit, sentence, item_left, item_right, part_left, fuzzy)
            if pool:
                break
        if not pool:
            out.append(none("none", unit))
            continue
        pool.sort()
        best = pool[0]
        cue_word = best[2].split("…")[0]
        before_cue = part_left[: part_left.rfind(cue_word)] if best[3] != "after" else part_left
        if any(v in before_cue for v in CONTENTS_VERBS):  # 刊登…政策解读83件: contents of a publication
            out.append(none("blocked", unit))
            continue
        ties = tuple(sorted({p[1] for p in pool if p[0] == best[0] and p[1] != best[1]}))
        out.append(CueReading(start, end, m.group(), unit, best[1], best[2], best[3], ties))
    return out


@lru_cache(maxsize=4)
def grammar_for(fmt: str) -> tuple[FactCues, ...]:
    """The cue grammar of every catalog fact that applies to format ``fmt``."""
    out = []
    for entry in catalog().values():
        formats = entry.get("formats") or ["2019", "2021"]
        if fmt not in formats:
            continue
        label = (entry.get("cells") or {}).get(fmt, entry["id"])
        out.append(
            FactCues(
                label=label,
                units=tuple(entry.get("units", ())),
                cues=tuple(entry.get("cues", ())),
                after=tuple(entry.get("after", ())),
                nouns=tuple(entry.get("nouns", ())),
                verbs=tuple(entry.get("verbs", ())),
                not_words=tuple(entry.get("not", ())),
                light=tuple(entry.get("light", ())),
                requires=tuple(entry.get("requires", ())),
            )
        )
    return tuple(out)
