"""Plain-text backend: tab exports, PDF-to-text lines and crawler text whose table cells ran together.

The line machinery here is shared with the Markdown backend (``service.ingest.markdown``).

What comes out (``Document.kind == "text"``, no pages; every provenance has
``origin=Origin.TEXT``, ``page=None``, ``bbox=None`` and the 1-based source ``line``):

* **Headings.** A line that is a section heading (一、总体情况 … 六、其他需要报告的事项, the
  schema's titles, template/instruction headings and numbered variants, compared by
  ``label_key``) is a ``kind="heading"`` block. Short numbered lines (``四、…``) that carry a
  section keyword from ``configs/labels.yaml`` also count, when their number is past the
  current section. Repeated headings are all kept. Inside section 三 a line starting with a
  table-3 row label (三、本年度办理结果, 四、结转下年度继续办理) is never a heading.
* **Table regions.** A maximal run of tabular lines is one ``kind="table"`` block, one grid
  row per source line:

  - tab-separated lines (method ``tab``): cells split on tabs, empty cells kept as "";
  - pipe rows (method ``pipe``): the empty strings outside the outer pipes are dropped,
    interior blank cells are kept as "", ``|---|`` separator rows are dropped;
  - inside sections 二/三/四 only, ``label number [number …]`` lines and lines of bare
    numbers (method ``whitespace``): cells split on whitespace.

  A region's method lists its line kinds in order of appearance, e.g. ``whitespace+pipe``.
  Blank lines do not end a region. Inside sections 二/三/四, loose lines (displaced labels,
  header fragments, notes) that are followed by a tabular line in the same section are kept
  as single-cell rows of that region, in source order, so the assembler sees everything.
  Loose lines after the last tabular line of a section, or separated from the next table by
  a blank line before any table started, stay paragraphs. Table titles (``表二：…``, also as
  Markdown ``## 表二：…``) inside sections 二/三/四 and page footers (``— 5 —``, ``- 5 -``,
  ``第 5 页``) anywhere are dropped.
* **Run-together text.** A line that holds a section heading followed by more text, or
  (inside sections 二/三/四) at least three known table labels with digits right after one
  of them, is split: headings become heading blocks, text in sections 一/五/六 becomes
  paragraphs (cut before ``（一）``-style sub-items), and each stretch inside 二/三/四 becomes
  one grid (method ``run-together``). Known labels (both formats' t2 captions, column and
  row labels, 信息内容, the t3 note, column groups, columns and row labels, the t4 header
  labels) are found by ``label_key`` comparison, longest first; the text between two labels
  is that row's value run, split only on whitespace, so ``270020130`` stays one cell and
  ``500000 5`` gives two. A row label whose number starts the label (``3.危及…``) claims the
  digit, so ``00000003.危及`` gives the value ``0000000``. Grid rows follow the printed rows:
  a t2 caption is a row of its own; header labels share one row; a row label starts a row,
  except that a row label with no values yet (a group label such as （三）不予公开) and the
  label after it share a row; values after a header row start a row of their own (t4).
* **Paragraphs.** Every other line is a ``kind="paragraph"`` block (the Markdown backend
  joins consecutive lines into one paragraph, as Markdown does).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from service import fuzzy, headings
from service.document import Block, Document, Origin, Provenance, TableCell, TableGrid
from service.ingest.base import (
    Backend,
    IngestError,
    check_text_chars,
    check_text_size,
    decode_counted,
    limits_of,
    looks_binary,
    sha256,
)
from service.normalize import NOT_APPLICABLE, UNIT_PATTERN, clean, label_key, parse_number
from service.options import PipelineOptions
from service.schema import FORMATS, load_format, load_labels

TABLE_SECTIONS = frozenset("二三四")
_SECTION_ORDER = {n: i for i, n in enumerate("一二三四五六", start=1)}

_TEXT_EXTENSIONS = frozenset({".txt", ".text", ".tsv"})
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_FOREIGN_SIGNATURES = (b"%PDF", b"PK\x03\x04", b"{\\rtf", b"\xd0\xcf\x11\xe0")
_HTML_SIGNATURE = re.compile(
    rb"<!doctype\s+html|<html[\s>]|^(?:\s|<!--.*?-->)*<(?:head|body|table|meta|div|p)[\s/>]", re.I | re.S
)

# ---- line shapes
_FOOTER = re.compile(
    r"^\s*(?:[—–―\-]{1,2}\s*\d{1,4}\s*[—–―\-]{1,2}|第\s*\d{1,4}\s*页(?:\s*[，,/]?\s*共\s*\d{1,4}\s*页)?)\s*$"
)
_TABLE_TITLE = re.compile(r"^\s*表\s*[一二三四1-4]\s*[：:、.．\s]")
_PIPE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_NUM = rf"[-+]?\d[\d,]*(?:[.．]\d+)?(?:{UNIT_PATTERN})?"
_NUMBERS_ONLY = re.compile(rf"^\s*{_NUM}(?:\s+{_NUM})*\s*$")
_LABEL_NUMBERS = re.compile(rf"^\s*(?P<label>\S(?:.*?[^\s\d.,+\-])?)(?P<nums>(?:\s+{_NUM})+)\s*$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NUMBERED_LINE = re.compile(r"^([一二三四五六])[、.]\s*(\S.{0,29})$")

# ---- run-together text
_VALUE_TOKEN = re.compile(rf"^[-+]?\d[\d,]*(?:\.\d+)?(?:{UNIT_PATTERN})?$")
_SUB_ITEM = re.compile(r"(?<=[。；;！？!?])\s*(?=[（(][一二三四五六七八九十]{1,3}[）)])")
_SUB_ITEM_START = re.compile(r"^\s*[（(][一二三四五六七八九十]{1,3}[）)]")
_OPENERS = "（(【[“‘《〈「"
_CLOSERS = "）)】]”’》〉」"
_LEADING_PUNCTUATION = "。．.，,：:；;、"
_HEADING_MARKS = "、.．"
_NOT_BEFORE_HEADING = "：:；;、，,"
_RUN_MIN_LABELS = 3

_MAX_PIPE_LINES = 4  # a pipe row broken across more lines than this is not joined
_MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*")
_MARKDOWN_EMPHASIS = re.compile(r"\*\*|__")


# ---------------------------------------------------------------- vocabulary


@lru_cache(maxsize=8192)
def _char_key(ch: str) -> str:
    return label_key(ch)


def _key(text: str) -> str:
    """``label_key`` computed per character, so key positions map back to the raw text."""
    return "".join(map(_char_key, text))


_ROLE_RANK = {"header": 0, "caption": 1, "row": 2}


@dataclass(frozen=True)
class _Vocab:
    labels: re.Pattern[str]  # known table labels over label keys, longest first
    roles: dict[str, str]  # label key -> header | caption | row
    headings: re.Pattern[str]  # section headings over label keys, longest first
    heading_numbers: dict[str, str]  # heading key -> section number (一 … 六)
    keywords: dict[str, tuple[str, ...]]  # section number -> keyword keys
    t3_rows: tuple[str, ...]  # t3 row label keys


def _alternation(keys: list[str]) -> re.Pattern[str]:
    firsts = "".join(sorted({re.escape(k[0]) for k in keys}))
    body = "|".join(re.escape(k) for k in sorted(set(keys), key=len, reverse=True))
    return re.compile(f"(?=[{firsts}])(?:{body})")


def _table_labels() -> dict[str, str]:
    roles: dict[str, str] = {}

    def add(label: str, role: str) -> None:
        k = _key(label)
        if k and _ROLE_RANK[role] >= _ROLE_RANK.get(roles.get(k, "header"), 0):
            roles[k] = role

    add("信息内容", "header")  # first cell of every t2 header row; not a schema column
    for fmt in FORMATS:
        schema = load_format(fmt)
        for block in schema.t2_blocks():
            for label in block.labels():
                add(label, "caption")
            for item in block.columns:
                for label in item.labels():
                    add(label, "header")
            for row in block.rows:
                for label in row.labels():
                    add(label, "row")
        t3 = schema.tables["t3"]
        add(t3["note_cell"]["label"], "header")
        for group in t3.get("column_groups", []):
            add(group["label"], "header")
        for t3_col in schema.t3_columns():
            for label in t3_col.labels():
                add(label, "header")
        for t3_row in schema.t3_rows():
            for label in t3_row.labels():
                add(label, "row")
        for header_row in schema.tables["t4"]["printed_layout"]["header_rows"]:
            for cell in header_row:
                add(cell["text"], "header")
        for t4_item in (*schema.t4_groups(), *schema.t4_columns()):
            for label in t4_item.labels():
                add(label, "header")
    return roles


def _section_headings() -> dict[str, str]:
    out: dict[str, str] = {}
    for fmt in FORMATS:
        for sec in load_format(fmt).sections:
            n = sec.number
            forms = [f"{n}、{sec.title}", sec.heading_in_template, sec.heading_in_instructions]
            for variant in sec.heading_variants:
                if variant.label.startswith(("(", "（")):
                    continue  # sub-heading notes, not section headings
                forms.append(variant.label if variant.label.startswith(n) else f"{n}、{variant.label}")
            for form in forms:
                k = _key(form)
                if k.startswith(n):
                    out[k] = n
    return out


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    roles = _table_labels()
    headings = _section_headings()
    numbers = {sec.id: sec.number for sec in load_format(FORMATS[-1]).sections}
    keywords = {
        numbers[sid]: tuple(_key(w) for w in words)
        for sid, words in load_labels().get("section_keywords", {}).items()
        if sid in numbers
    }
    t3_rows = tuple(sorted({k for k, r in roles.items() if r == "row"}, key=len, reverse=True))
    return _Vocab(_alternation(list(roles)), roles, _alternation(list(headings)), headings, keywords, t3_rows)


# ---------------------------------------------------------------- keyed text


@dataclass
class _Keyed:
    """A line with its label key and, for each key character, the raw index it came from."""

    raw: str
    key: str
    idx: list[int]

    @classmethod
    def of(cls, raw: str) -> _Keyed:
        parts: list[str] = []
        idx: list[int] = []
        for i, ch in enumerate(raw):
            k = _char_key(ch)
            if k:
                parts.append(k)
                idx.extend([i] * len(k))
        return cls(raw, "".join(parts), idx)

    def key_range(self, lo: int, hi: int) -> tuple[int, int]:
        """Key positions whose raw characters lie in raw[lo:hi]."""
        return bisect_left(self.idx, lo), bisect_left(self.idx, hi)

    def raw_span(self, a: int, b: int, lo: int, hi: int) -> tuple[int, int]:
        """Raw span of key[a:b], widened over the brackets around it, within raw[lo:hi]."""
        s, e = self.idx[a], self.idx[b - 1] + 1
        while s > lo and self.raw[s - 1] in _OPENERS:
            s -= 1
        while e < hi and self.raw[e] in _CLOSERS:
            e += 1
        return s, e


@dataclass(frozen=True)
class _Heading:
    a: int  # key span
    b: int
    number: str


def _heading_marked(kd: _Keyed, a: int) -> bool:
    """The numeral at key[a] is written as a heading number: 二、 / 二. / （二）, not mid-sentence."""
    i = kd.idx[a]
    j = kd.idx[a + 1] if a + 1 < len(kd.idx) else len(kd.raw)
    bracketed = i > 0 and kd.raw[i - 1] in "（("
    if not (bracketed or any(c in _HEADING_MARKS for c in kd.raw[i + 1 : j])):
        return False
    before = kd.raw[: i - 1 if bracketed else i].rstrip()
    return not before or before[-1] not in _NOT_BEFORE_HEADING


def _find_headings(kd: _Keyed, section: str | None) -> list[_Heading]:
    """Section headings in a line, in order; t3 row labels win inside section 三. Headings printed exactly are
    found by the vocabulary; then, for sections still missing between them, a title with typos or OCR
    look-alikes (``service.headings``, weighted edit costs)."""
    vocab = _vocab()
    found: list[_Heading] = []
    current = section
    for m in vocab.headings.finditer(kd.key):
        if not _heading_marked(kd, m.start()):
            continue
        if current == "三":
            label = vocab.labels.match(kd.key, m.start())
            if label and vocab.roles[label.group()] == "row":
                continue
        number = vocab.heading_numbers[m.group()]
        found.append(_Heading(m.start(), m.end(), number))
        current = number
    if len(kd.key) > _SHORT_LINE:
        found = _tolerant_headings(kd, section, found)
    return found


_NUMBERED_SLACK = 1.5  # a title printed after its heading number may carry this much more edit cost
_SHORT_LINE = 60  # longer lines may hold run-together headings; shorter ones are judged whole


@lru_cache(maxsize=8)
def _heading_before(number: str) -> re.Pattern[str]:
    """The section's own number right before a title (三、 / 3、 / （三）), with up to a few words between
    (五、当前存在的主要问题); a digit that ends a value run before it is not a number (…00002、)."""
    arabic = str(_SECTION_ORDER[number])
    return re.compile(rf"(?:(?:{number}|(?<!\d){arabic})\s*[、.．]|[（(]\s*{number}\s*[)）])\s*[^\d\s。；;，,]{{0,3}}$")


def _tolerant_headings(kd: _Keyed, section: str | None, found: list[_Heading]) -> list[_Heading]:
    """Add the headings of sections missing from ``found`` that stand in the line with typos: searched only in
    table sections (where a run-together line continues into the next section) or where the line prints the
    section's number as a heading number, each between the found headings of the sections around it."""
    order = _SECTION_ORDER
    here = order.get(section or "", 0)
    have = {h.number for h in found}
    for number in headings.NUMERALS:
        n = order[number]
        if number in have or n <= here:
            continue
        if section not in TABLE_SECTIONS and not re.search(f"{number}\\s*[、.．]", kd.raw):
            continue
        lo = max((h.b for h in found if order[h.number] < n), default=0)
        hi = min((h.a for h in found if order[h.number] > n), default=len(kd.key))
        best: _Heading | None = None
        best_cost = float("inf")
        for title in headings.titles():
            if title.number != number:
                continue
            for m in fuzzy.search(title.key, kd.key[lo:hi], _NUMBERED_SLACK * fuzzy.tolerance(title.key)):
                a, b = lo + m.start, lo + m.end
                raw_a = kd.idx[a]
                before = kd.raw[:raw_a]
                numbered = _heading_before(number).search(before)
                if not numbered and (title.keyword or m.cost > fuzzy.tolerance(title.key)):
                    continue  # a keyword, and the extra slack, only right after the heading number
                # a heading starts the line, follows a value run or a sentence, or carries its number (a lone 、
                # after a value run is a heading number lost); 、 after words is a list in a sentence
                tail = before.rstrip()
                if tail.endswith(("、", ",", "，")) and tail[:-1].rstrip()[-1:].isdigit():
                    tail = tail[:-1].rstrip()
                if not (numbered or not tail or tail[-1] in "0123456789。；;"):
                    continue
                if m.cost < best_cost:
                    start = kd.key_range(numbered.start(), raw_a)[0] if numbered else a
                    best, best_cost = _Heading(start, b, number), m.cost
        if best is not None:
            found.append(best)
            found.sort(key=lambda h: h.a)
    return found


def _keyword_heading(text: str, section: str | None) -> str | None:
    """Section number of a short line that is a heading by its number and title (typos and look-alikes
    tolerated), past the current section."""
    if len(_key(text)) > _SHORT_LINE:
        return None
    number = headings.section_of_heading(text)
    if number is None or _SECTION_ORDER[number] <= _SECTION_ORDER.get(section or "", 0):
        return None
    if section == "三" and _key(text).startswith(_vocab().t3_rows):
        return None
    return number


def _looks_run_together(kd: _Keyed) -> bool:
    """Enough known table labels, one of them directly followed by digits."""
    matches = list(_vocab().labels.finditer(kd.key))
    if len(matches) < _RUN_MIN_LABELS:
        return False
    for m in matches:
        e = kd.idx[m.end() - 1] + 1
        if kd.raw[e : e + 1].isdigit():
            return True
    return False


# ---------------------------------------------------------------- run-together tables


@dataclass(frozen=True)
class _Token:
    kind: str  # caption | header | row | value | text
    start: int  # raw span
    end: int


_PIECES = re.compile(rf"[-+]?\d[\d,]*(?:[.．]\d+)?(?:{UNIT_PATTERN})?|\D+")
_SIGNED = re.compile(r"[-+]\d")
_NARRATIVE_UNIT = re.compile(r"[年月日号时余多]")
_NUMBERING = re.compile(r"^[.．](?=\s*[\u3400-\u9fff“\"（(])")  # 3.危及… : the digit before it numbers a label


def _pieces(raw: str, s: int, e: int) -> list[tuple[str, int, int]]:
    """Value and text pieces of one whitespace chunk raw[s:e]: a run of digits next to text is a value of its
    own (labels and values ran together), except a digit that numbers the label after it (00000003.危及)."""
    out: list[tuple[str, int, int]] = []
    for m in _PIECES.finditer(raw, s, e):
        kind = "value" if m.group()[:1].isdigit() or _SIGNED.match(m.group()) else "text"
        if kind == "value" and _NARRATIVE_UNIT.match(raw, m.end()):
            kind = "text"  # 2024年, 3月: a date or a count in a sentence, not a table value
        a, b = m.start(), m.end()
        if kind == "text" and out and out[-1][0] == "value" and _NUMBERING.match(m.group()):
            _, pa, pb = out.pop()
            if pb - pa > 1 and raw[pb - 2].isdigit():
                out.append(("value", pa, pb - 1))
            a = pb - 1
        if out and out[-1][0] == kind == "text":
            a = out.pop()[1]
        out.append((kind, a, b))
    return out


def _gap_tokens(raw: str, lo: int, hi: int) -> list[_Token]:
    """Whitespace-separated tokens of raw[lo:hi], cut where digits meet text: values, or text."""
    out: list[_Token] = []
    for m in re.finditer(r"\S+", raw[lo:hi]):
        s, e = lo + m.start(), lo + m.end()
        tok = clean(m.group())
        if _VALUE_TOKEN.match(tok) or tok in NOT_APPLICABLE:
            out.append(_Token("value", s, e))
            continue
        for kind, a, b in _pieces(raw, s, e):
            if kind == "value" or _key(raw[a:b]):
                out.append(_Token(kind, a, b))  # punctuation-only leftovers are dropped
    return out


def _run_tokens(kd: _Keyed, lo: int, hi: int) -> list[_Token]:
    vocab = _vocab()
    ka, kb = kd.key_range(lo, hi)
    tokens: list[_Token] = []
    pos = lo
    for m in vocab.labels.finditer(kd.key, ka, kb):
        s, e = kd.raw_span(m.start(), m.end(), pos, hi)
        if s - pos >= 2 and kd.raw[s - 1] in ".．" and kd.raw[s - 2].isdigit():
            s -= 2  # the label's own number (2.其他…) is not the last digit of the values before it
        tokens += _gap_tokens(kd.raw, pos, s)
        tokens.append(_Token(vocab.roles[m.group()], s, e))
        pos = e
    tokens += _gap_tokens(kd.raw, pos, hi)
    return [piece for tok in tokens for piece in (_tolerant_labels(kd.raw, tok) if tok.kind == "text" else [tok])]


_MIN_FUZZY_KEY = 4  # shorter label keys are found only as printed


def _tolerant_labels(raw: str, tok: _Token) -> list[_Token]:
    """Known labels inside a text piece that the exact vocabulary missed (typos, OCR look-alikes, dropped
    characters), found by weighted edit distance (``service.fuzzy``); the rest stays text."""
    text = raw[tok.start : tok.end]
    sub = _Keyed.of(text)
    if len(sub.key) < _MIN_FUZZY_KEY:
        return [tok]
    vocab = _vocab()
    chars = set(sub.key)
    hits: list[tuple[float, int, int, str]] = []
    for key, role in vocab.roles.items():
        if len(key) < _MIN_FUZZY_KEY or len(key) > len(sub.key) + 2:
            continue
        if 2 * sum(c in chars for c in key) < len(key):
            continue  # cannot be within its tolerance: most of its characters are missing
        for m in fuzzy.search(key, sub.key):
            hits.append((m.cost / len(key), m.start, m.end, role))
    taken: list[tuple[int, int, str]] = []
    for _, a, b, role in sorted(hits):
        if all(b <= x or a >= y for x, y, _ in taken):
            taken.append((a, b, role))
    if not taken:
        return [tok]
    out: list[_Token] = []
    pos = 0
    for a, b, role in sorted(taken):
        s, e = sub.raw_span(a, b, pos, len(text))
        if _key(text[pos:s]):
            out.append(_Token("text", tok.start + pos, tok.start + s))
        out.append(_Token(role, tok.start + s, tok.start + e))
        pos = e
    if _key(text[pos:]):
        out.append(_Token("text", tok.start + pos, tok.end))
    return out


def _starts_row(kind: str, kinds: set[str]) -> bool:
    """Whether a token of this kind opens a new grid row after a row holding ``kinds``."""
    if not kinds or "caption" in kinds or kind == "caption":
        return True
    if kind == "header":
        return not kinds <= {"header"}
    if kind == "row":
        return not kinds <= {"row", "text"}
    if kind == "value":
        return kinds <= {"header"}
    return "value" in kinds  # text


def _group_rows(tokens: list[_Token]) -> list[list[_Token]]:
    rows: list[list[_Token]] = []
    kinds: set[str] = set()
    for tok in tokens:
        if _starts_row(tok.kind, kinds):
            rows.append([])
            kinds = set()
        rows[-1].append(tok)
        kinds.add(tok.kind)
    return rows


# ---------------------------------------------------------------- block builders


def _prov(line: int) -> Provenance:
    return Provenance(origin=Origin.TEXT, line=line)


def _cell(raw: str, line: int) -> TableCell:
    return TableCell(row=0, col=0, text=clean(raw), raw=raw, provenance=_prov(line))


def _table_block(rows: list[list[TableCell]], method: str, raw: str, line: int) -> Block:
    grid = TableGrid.from_rows(rows, method)
    text = " ".join(c.text for c in grid.cells if c.text)
    return Block(kind="table", text=text, raw=raw, provenance=_prov(line), table=grid)


def _text_block(kind: Literal["heading", "paragraph"], raw: str, line: int, text: str | None = None) -> Block:
    return Block(kind=kind, text=clean(raw if text is None else text), raw=raw, provenance=_prov(line))


def _join_wrapped(parts: list[str]) -> str:
    """Join wrapped lines: no space between CJK characters, one between ASCII words."""
    out = parts[0]
    for part in parts[1:]:
        if out and part and out[-1].isascii() and out[-1].isalnum() and part[0].isascii() and part[0].isalnum():
            out += " " + part
        else:
            out += part
    return out


# ---------------------------------------------------------------- line classification


def _pipe_cells(line: str) -> list[str] | None:
    s = line.strip()
    if not s.startswith("|") or s.count("|") < 2:
        return None
    if _PIPE_SEPARATOR.match(s):
        return []
    cells = s.split("|")[1:]
    if s.endswith("|"):
        cells = cells[:-1]
    return [c.strip() for c in cells]


def _whitespace_cells(line: str) -> list[str] | None:
    if _NUMBERS_ONLY.match(line):
        return line.split()
    m = _LABEL_NUMBERS.match(line)
    if m and _CJK.search(m.group("label")):
        return [m.group("label").strip(), *m.group("nums").split()]
    return None


def _tabular(line: str, in_table: bool) -> tuple[str, list[str]] | None:
    """(method, raw cells) of a tabular line; cells == [] for a pipe separator row."""
    if "\t" in line:
        cells = line.split("\t")
        if in_table or sum(1 for c in cells if c.strip()) >= 2:
            return "tab", cells
    pipe = _pipe_cells(line)
    if pipe is not None:
        return "pipe", pipe
    if in_table:
        ws = _whitespace_cells(line)
        if ws is not None:
            return "whitespace", ws
    return None


# ---------------------------------------------------------------- the reader


def _label_cost(key: str) -> float:
    """Edit cost of ``key`` to the closest known table label, relative to that label's tolerance (≤ 1: it is
    that label, printed with typos; ``service.fuzzy``)."""
    vocab = _vocab()
    if key in vocab.roles:
        return 0.0
    return min(
        (
            fuzzy.distance(key, k) / fuzzy.tolerance(k)
            for k in vocab.roles
            if len(k) >= _MIN_FUZZY_KEY and fuzzy.lower_bound(key, k) <= fuzzy.tolerance(k)
        ),
        default=float("inf"),
    )


def _is_text(cell: str) -> bool:
    """A cell of words: not a number (with or without its unit), not blank, not a not-applicable mark."""
    return bool(_CJK.search(cell)) and parse_number(cell).status == "unparseable"


def _join_broken_rows(lines: list[str]) -> list[tuple[int, str]]:
    """Numbered lines, a tab row broken inside a label joined again: a line whose last cell is text, followed by
    a tab row whose first cell is text, when the two pieces together make a known label and closer than the
    first piece alone (2. 其他法律行政 / 法规禁止公开→→0→0…)."""
    out: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if out and "\t" in line:
            prev = out[-1][1]
            tail, head = prev.split("\t")[-1].strip(), line.split("\t")[0].strip()
            if (
                _is_text(tail)
                and _is_text(head)
                and (joined := _label_cost(_key(tail + head))) <= 1
                and joined < _label_cost(_key(tail))
            ):
                out[-1] = (out[-1][0], prev.rstrip() + line.lstrip())
                continue
        out.append((number, line))
    return out


@dataclass
class _Region:
    line: int
    rows: list[list[TableCell]] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    def add(self, cells: list[TableCell], raw: str, method: str | None) -> None:
        self.rows.append(cells)
        self.raws.append(raw)
        if method and method not in self.methods:
            self.methods.append(method)


Pending = tuple[int, str] | None  # a loose line (number, text), or None for a blank line


@dataclass
class LineReader:
    """Reads decoded text line by line into blocks (see the module docstring)."""

    markdown: bool = False
    blocks: list[Block] = field(default_factory=list)
    section: str | None = None
    region: _Region | None = None
    pending: list[Pending] = field(default_factory=list)
    paragraph: list[tuple[int, str]] = field(default_factory=list)
    # a run-together stretch being read (first line number, its lines): a crawl hard-wrapped at a fixed width
    # breaks labels and headings across lines; the lines that follow are joined to it until a blank or a
    # tabular line
    run: tuple[int, list[str]] | None = None
    pipe: list[tuple[int, str]] | None = None  # an unterminated pipe row: its lines so far (number, text)

    def read(self, text: str) -> list[Block]:
        for number, line in _join_broken_rows(re.split(r"\r\n|\r|\n", text)):
            self._line(number, line)
        self._close_pipe()
        self._flush_all()
        return self.blocks

    # ---- one line
    def _line(self, number: int, line: str) -> None:
        if self.pipe is not None:  # a pipe row whose cell text was broken across lines: join it again
            self.pipe.append((number, line))
            if line.rstrip().endswith("|") or len(self.pipe) > _MAX_PIPE_LINES or not line.strip():
                self._close_pipe()
            return
        stripped = line.strip()
        if stripped.startswith("|") and not stripped.endswith("|"):
            self.pipe = [(number, line)]
            return
        self._read_line(number, line)

    def _read_line(self, number: int, line: str) -> None:
        if self.run is not None:
            if line.strip() and _tabular(line, True) is None:
                if not _FOOTER.match(line):
                    self.run[1].append(line.strip())
                return
            self._flush_run()
        if not line.strip():
            self._blank()
            return
        if _FOOTER.match(line):
            return
        text = self._prepare(line)
        in_table = self.section in TABLE_SECTIONS
        if in_table and _TABLE_TITLE.match(text):
            return
        shape = _tabular(line, in_table)
        if shape is not None:
            method, cells = shape
            if self.markdown:
                cells = [_MARKDOWN_EMPHASIS.sub("", c) for c in cells]
            if cells:
                self._table_row(number, line, method, cells)
            return
        self._loose(number, line, text.strip())

    def _close_pipe(self) -> None:
        """The lines of an unterminated pipe row: one row when they end it, else each line as it stands."""
        if self.pipe is None:
            return
        lines, self.pipe = self.pipe, None
        joined = "".join(text.strip() for _, text in lines)
        if joined.endswith("|"):
            self._read_line(lines[0][0], joined)
            return
        for number, text in lines:
            self._read_line(number, text)

    def _prepare(self, line: str) -> str:
        if not self.markdown:
            return line
        return _MARKDOWN_EMPHASIS.sub("", _MARKDOWN_HEADING.sub("", line))

    def _loose(self, number: int, line: str, text: str) -> None:
        kd = _Keyed.of(text)
        heads = _find_headings(kd, self.section)
        if len(heads) == 1 and heads[0].a == 0 and heads[0].b == len(kd.key):
            self._heading(number, line, text, heads[0].number)
        elif heads or (
            self.section in TABLE_SECTIONS and _keyword_heading(text, self.section) is None and _looks_run_together(kd)
        ):
            if self.markdown:
                self._run_line(number, kd, heads)
            else:
                self._flush_all()
                self.run = (number, [text])
        elif (found := _keyword_heading(text, self.section)) is not None:
            self._heading(number, line, text, found)
        elif self.section in TABLE_SECTIONS:
            self._flush_paragraph()
            self.pending.append((number, text))
        else:
            if self.region is not None:
                self._close_table()
            self._paragraph_line(number, text)

    def _blank(self) -> None:
        if self.markdown:
            self._flush_paragraph()
        if self.region is None:
            self._flush_pending()
        elif self.pending:
            self.pending.append(None)

    # ---- tables
    def _table_row(self, number: int, line: str, method: str, cells: list[str]) -> None:
        self._flush_paragraph()
        if self.region is None:
            first = next((item[0] for item in self.pending if item is not None), number)
            self.region = _Region(line=first)
        for item in self.pending:
            if item is not None:
                self.region.add([_cell(item[1], item[0])], item[1], None)
        self.pending.clear()
        self.region.add([_cell(c, number) for c in cells], line, method)

    def _close_table(self) -> None:
        region, self.region = self.region, None
        if region is not None:
            method = "+".join(region.methods)
            self.blocks.append(_table_block(region.rows, method, "\n".join(region.raws), region.line))
        self._flush_pending()

    # ---- headings and paragraphs
    def _heading(self, number: int, line: str, text: str, section: str) -> None:
        self._flush_all()
        self.blocks.append(_text_block("heading", line.strip(), number, text))
        self.section = section

    def _paragraph_line(self, number: int, text: str) -> None:
        if self.markdown:
            if _SUB_ITEM_START.match(text):
                self._flush_paragraph()  # （一）… starts a paragraph of its own
            self.paragraph.append((number, text))
        else:
            self.blocks.append(_text_block("paragraph", text, number))

    def _flush_paragraph(self) -> None:
        if self.paragraph:
            lines = [t for _, t in self.paragraph]
            self.blocks.append(_text_block("paragraph", "\n".join(lines), self.paragraph[0][0], _join_wrapped(lines)))
            self.paragraph.clear()

    def _flush_pending(self) -> None:
        """Loose lines that no table followed are paragraphs."""
        if not self.pending:
            return
        items, self.pending = self.pending, []
        self._flush_paragraph()
        for item in items:
            if item is None:
                self._flush_paragraph()
            else:
                self._paragraph_line(*item)
        self._flush_paragraph()

    def _flush_all(self) -> None:
        self._flush_run()
        self._flush_paragraph()
        self._close_table()

    def _flush_run(self) -> None:
        if self.run is None:
            return
        (number, lines), self.run = self.run, None
        kd = _Keyed.of(_join_wrapped(lines))
        self._run_line(number, kd, _find_headings(kd, self.section))

    # ---- run-together lines
    def _run_line(self, number: int, kd: _Keyed, heads: list[_Heading]) -> None:
        self._flush_all()
        pos = 0
        for head in heads:
            s, e = kd.raw_span(head.a, head.b, pos, len(kd.raw))
            self._run_segment(number, kd, pos, s)
            self.blocks.append(_text_block("heading", kd.raw[s:e], number))
            self.section = head.number
            pos = e
        self._run_segment(number, kd, pos, len(kd.raw))

    def _run_segment(self, number: int, kd: _Keyed, lo: int, hi: int) -> None:
        if self.section not in TABLE_SECTIONS:
            self._run_paragraphs(number, kd.raw[lo:hi])
            return
        tokens = _run_tokens(kd, lo, hi)
        body = [i for i, t in enumerate(tokens) if t.kind != "text"]
        if not body:
            self._run_paragraphs(number, kd.raw[lo:hi])
            return
        first, last = tokens[body[0]], tokens[body[-1]]
        self._run_paragraphs(number, kd.raw[lo : first.start])
        grouped = _group_rows(tokens[body[0] : body[-1] + 1])
        rows = [[_cell(kd.raw[t.start : t.end], number) for t in row] for row in grouped]
        self.blocks.append(_table_block(rows, "run-together", kd.raw[first.start : last.end], number))
        self._run_paragraphs(number, kd.raw[last.end : hi])

    def _run_paragraphs(self, number: int, raw: str) -> None:
        for part in _SUB_ITEM.split(raw):
            part = part.strip().lstrip(_LEADING_PUNCTUATION).lstrip()  # e.g. "。" left after a heading
            if _key(part):
                self.blocks.append(_text_block("paragraph", part, number))


# ---------------------------------------------------------------- backend


def _binary(head: bytes) -> bool:
    return looks_binary(head) and not head.startswith(_UTF16_BOMS)


def foreign_format(head: bytes) -> bool:
    """PDF, ZIP (DOCX), RTF, OLE or HTML content: not for the text backends."""
    return head.lstrip().startswith(_FOREIGN_SIGNATURES) or bool(_HTML_SIGNATURE.search(head))


def read_text_document(
    path: Path, data: bytes, kind: str, *, markdown: bool, options: PipelineOptions | None = None
) -> Document:
    """Decode and read a text-like file into a Document (shared by the text and Markdown backends)."""
    if _binary(data[:4096]):
        raise IngestError(path, "binary content (NUL bytes), not a text file")
    limits = limits_of(options)
    check_text_size(path, data, limits)
    decoded = decode_counted(path, data)
    text = decoded.text
    check_text_chars(path, text, limits)
    if not text.strip():
        raise IngestError(path, "file is empty")
    blocks = LineReader(markdown=markdown).read(text)
    if not blocks:
        raise IngestError(path, "no readable text (only page footers or separators)")
    return Document(path=str(path), sha256=sha256(data), kind=kind, blocks=blocks, metadata=decoded.note())


class TextBackend(Backend):
    name = "text"

    @classmethod
    def accepts(cls, path: Path, head: bytes) -> bool:
        if _binary(head):
            return False
        return path.suffix.lower() in _TEXT_EXTENSIONS or not foreign_format(head)

    def convert(self, path: Path, data: bytes, options: PipelineOptions | None = None) -> Document:
        return read_text_document(path, data, self.name, markdown=False, options=options)
