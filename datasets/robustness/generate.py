"""Perturbed renderings of the dev reports whose hand-checked truth (``cells.json``) is unchanged.

``generate(rendering, family, seed, rate=None)`` returns a :class:`Variant` (bytes + file suffix). Every
choice comes from ``random.Random`` seeded by (seed, rendering, family): the same arguments give the same
bytes. Sources are perturbed natively (tab text, crawled run-together text, Markdown and HTML as found); the
PDF (r001) is first rendered to HTML from the project's own document model (``datasets.scansim.document_html``).
The two report-level families (``scattered``, ``run_together``) rebuild the whole report from its Document.
Families, and which rendering each one skips and why: ``README.md`` next to this file.

    .venv/bin/python -m datasets.robustness.generate seed heading_typo --seed 1 -o /tmp/variants
"""
from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, NavigableString, Tag

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from service.document import Document, TableGrid  # noqa: E402

DEV = ROOT / "datasets" / "dev-reports"


# --- renderings and families -----------------------------------------------------------------------


@dataclass(frozen=True)
class Rendering:
    """One source file of a dev report and how it is perturbed (kind tab | crawl | md | html | pdf)."""

    name: str
    report: str
    path: str
    kind: str

    @property
    def source(self) -> Path:
        return DEV / self.report / self.path

    @property
    def truth_path(self) -> Path:
        return DEV / self.report / "cells.json"


RENDERINGS: dict[str, Rendering] = {r.name: r for r in (
    Rendering("seed", "seed", "source.txt", "tab"),
    Rendering("r001", "r001", "source.pdf", "pdf"),
    Rendering("r003", "r003", "source.html", "html"),
    Rendering("r005-txt", "r005", "source.txt", "crawl"),
    Rendering("r005-html", "r005", "page.html", "html"),
    Rendering("r010-txt", "r010", "source.txt", "crawl"),
    Rendering("r010-html", "r010", "page.html", "html"),
    Rendering("r013", "r013", "source.md", "md"),
)}
# report-level families are built once per report, from the rendering with the cleanest table grids
BASE = {"seed": "seed", "r001": "r001", "r003": "r003", "r005": "r005-html", "r010": "r010-html", "r013": "r013"}

# the order in which families are applied (mixed applies its draw in this order: structure first, headings last)
IN_PLACE = ("extra_subtotal", "reorder_blank_lines", "thousands_sep", "space_in_number", "units",
            "fullwidth_digits", "line_wraps", "label_noise_5", "label_noise_10", "heading_typo", "html_layout_tables")
REPORT_LEVEL = ("scattered", "run_together")
FAMILIES = ("clean", *IN_PLACE, *REPORT_LEVEL, "mixed")
MIXED_POOL = tuple(f for f in IN_PLACE if f != "label_noise_10")

DEFAULT_RATE = {  # share of the candidate tokens/cells a family touches when no rate is given
    "label_noise_5": 0.05, "label_noise_10": 0.10, "fullwidth_digits": 0.5, "thousands_sep": 1.0,
    "space_in_number": 0.5, "units": 0.5, "line_wraps": 0.5, "heading_typo": 1.0,
}

SUFFIX = {"tab": ".txt", "crawl": ".txt", "md": ".md", "html": ".html", "pdf": ".html"}


class Skip(Exception):  # noqa: N818 - a reason, not an error
    """The family does not apply to the rendering (or would change nothing); the message says why."""


@dataclass
class Variant:
    rendering: str
    family: str
    seed: int
    data: bytes
    suffix: str
    steps: list[str] = field(default_factory=list)  # families applied (mixed: its draw)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.rendering}__{self.family}__s{self.seed}{self.suffix}"


@cache
def truth(report: str) -> dict[str, Any]:
    return json.loads((DEV / report / "cells.json").read_text(encoding="utf-8"))


def skip_reason(rendering: str, family: str) -> str | None:
    """Why ``family`` is not generated for ``rendering`` (None: it is)."""
    r = RENDERINGS[rendering]
    kind = "html" if r.kind == "pdf" else r.kind
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    if family in REPORT_LEVEL and BASE[r.report] != rendering:
        return f"report-level family, built once per report from {BASE[r.report]}"
    if family == "run_together" and r.report == "r003":
        return "135 of its 198 truth cells are printed blanks, which run-together text loses: truth not recoverable"
    if family == "html_layout_tables" and kind != "html":
        return "not an HTML page"
    if family in ("thousands_sep", "space_in_number") and kind == "crawl":
        return "cells run together: a digit run holds several cells and spaces separate cells"
    if family == "reorder_blank_lines" and kind == "crawl":
        return "the crawled body is one line: no blank lines or paragraph breaks to change"
    if family == "thousands_sep" and _max_value(r.report) < 1000:
        return "no value >= 1000 in the report"
    if family == "units" and kind == "crawl" and truth(r.report)["format"] == "2019":
        return "every 2019 table-2 row has several values run together; a unit only follows a single-value row"
    return None


def _max_value(report: str) -> float:
    return max((abs(v) for v in truth(report)["cells"].values() if v is not None), default=0)


def generate(rendering: str, family: str, seed: int, rate: float | None = None) -> Variant:
    """The ``family`` variant of ``rendering`` for ``seed`` (raises :class:`Skip` where it does not apply)."""
    reason = skip_reason(rendering, family)
    if reason:
        raise Skip(reason)
    r = RENDERINGS[rendering]
    rng = random.Random(seed * 1_000_003 + zlib.crc32(f"{rendering}/{family}".encode()))
    ctx = Context(format=truth(r.report)["format"], report=r.report, rng=rng)
    if family in REPORT_LEVEL:
        doc = _document(r.source)
        text = scattered_markdown(doc, rng) if family == "scattered" else run_together_text(doc, rng)
        return Variant(rendering, family, seed, text.encode("utf-8"), ".md" if family == "scattered" else ".txt",
                       [family], {"tables": len(doc.tables())})
    state = _load_state(r)
    steps: list[str] = []
    stats: dict[str, int] = {}
    if family == "mixed":
        pool = [f for f in MIXED_POOL if skip_reason(rendering, f) is None]
        drawn = set(rng.sample(pool, min(len(pool), rng.choice((3, 4)))))
        for fam in IN_PLACE:
            if fam in drawn:
                try:
                    stats.update({f"{fam}.{k}": v for k, v in _apply(state, fam, ctx, None).items()})
                    steps.append(fam)
                except Skip:
                    continue
    elif family != "clean":
        stats = _apply(state, family, ctx, rate)
        steps.append(family)
    return Variant(rendering, family, seed, state.dump(), SUFFIX[r.kind], steps, stats)


# --- context, state ---------------------------------------------------------------------------------


@dataclass
class Context:
    format: str  # "2019" | "2021" (the truth's)
    report: str
    rng: random.Random


class TextState:
    def __init__(self, text: str, kind: str) -> None:
        self.text = text
        self.kind = kind

    def dump(self) -> bytes:
        return self.text.encode("utf-8")

    def edit(self, edits: list[tuple[int, int, str]]) -> None:
        """Replace [start, end) ranges (non-overlapping) by new text."""
        text = self.text
        for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + new + text[end:]
        self.text = text


class HtmlState:
    def __init__(self, markup: str | bytes) -> None:
        self.soup = BeautifulSoup(markup, "lxml")

    def dump(self) -> bytes:
        return self.soup.encode("utf-8")


@cache
def _document(path: Path) -> Document:
    """The project's own reading of a source (cached: variants only read it)."""
    from service.ingest import load_document

    return load_document(path)


@cache
def _pdf_html(path: Path) -> str:
    from datasets.scansim import document_html

    return document_html(_document(path))


def _load_state(r: Rendering) -> TextState | HtmlState:
    if r.kind == "pdf":
        return HtmlState(_pdf_html(r.source))
    if r.kind == "html":
        return HtmlState(r.source.read_bytes())
    return TextState(r.source.read_text(encoding="utf-8"), r.kind)


def _apply(state: TextState | HtmlState, family: str, ctx: Context, rate: float | None) -> dict[str, int]:
    rate = DEFAULT_RATE.get(family, 1.0) if rate is None else rate
    before = state.dump()
    stats = (TEXT_OPS[family](state, ctx, rate) if isinstance(state, TextState)
             else HTML_OPS[family](state, ctx, rate))
    if state.dump() == before:
        raise Skip(f"{family}: no effect on this rendering")
    return stats


# --- character tables -------------------------------------------------------------------------------

# OCR and typing look-alikes, hand-written for this suite (independent of training/synth/confusables.tsv);
# every character of a group may become any other one of it
LOOKALIKE_GROUPS = (
    "己已巳", "未末", "土士", "人入八", "日曰", "戌戍戊", "析折", "候侯", "拔拨", "冶治", "汩汨", "处外", "复夏",
    "请清情晴", "申由甲田", "政正止", "公么", "开升", "理埋", "予子", "办为", "结洁给", "转传", "况兄", "诉讼",
    "本木", "新亲", "收牧", "数效", "量里", "法去", "企全", "业亚", "科料", "机杌", "构钩", "社杜", "会合",
    "益盐", "组纽", "律津", "服报", "务各", "总忽", "计汁", "果杲", "以似", "部郜", "分兮", "不下", "国围",
    "秘祕", "密蜜", "其甚", "他也", "危厄", "及乃", "稳隐", "护沪", "第笫", "方万", "权杈", "内肉", "事亊",
    "信倍", "过边", "程桯", "性牲", "案桉", "卷券", "查杳", "询殉", "无天", "提捉", "供洪", "掌堂", "握渥",
    "相湘", "关美", "没设", "有右", "现观规", "成戌", "需雷", "要耍", "制刺", "作昨", "补朴", "仍扔", "明朋",
    "确碓", "访仿", "举誉", "投役", "重里", "版板", "物吻", "当尚", "大太犬", "反友", "认议", "或域", "具其",
    "获荻", "取耶", "逾愈", "期朝", "按接", "通涌", "知如", "缴徼", "纳钠", "用甩", "维锥", "持特待", "纠叫",
    "审宙", "经泾", "直真", "起超", "许浒", "可司", "罚罸", "强弹", "章竟", "范苑", "件仵", "废度", "效郊",
    "容客", "决诀", "定宝", "金全", "位住", "自白目", "然燃", "项顶", "条杀", "十千", "体休", "主王", "动劫",
    "问间", "改攻", "进讲", "报极", "告吉", "存荐", "行衔", "议仪", "商啇", "织识", "类粪", "属厲", "家豕",
    "安女", "保堡", "合含", "研妍", "助肋", "费贽", "用周",
)


def _lookalikes() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for group in LOOKALIKE_GROUPS:
        for ch in group:
            alts = table.setdefault(ch, [])
            alts.extend(c for c in group if c != ch and c not in alts)
    return table


LOOKALIKE = _lookalikes()
FILLERS = "的之和与及、"
HAN = re.compile(r"[\u4e00-\u9fff]")
FULLWIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")

# a table cell that is a number (any digits: full-width too), with separators, sign and unit as variants print it
VALUE_CELL = re.compile(r"[+\-－＋]?\d[\d,， \u00a0]*(?:[.．]\d+)?\s*(?:万元|元|件|项|个)?")
NUMBER = re.compile(r"(?P<sign>[+\-－＋]?)(?P<int>\d(?:[\d,， \u00a0]*\d)?)(?P<frac>[.．]\d+)?"
                    r"(?P<unit>\s*(?:万元|元|件|项|个))?")
UNIT = re.compile(r"(?:万元|元|件|项|个)$")

_TITLES = (
    "总体情况",
    "(?:行政机关)?主动公开政府信息(?:的)?情况",
    "(?:行政机关)?收到和处理政府信息公开申请(?:的)?情况",
    "(?:因)?政府信息公开(?:工作)?(?:被申请)?行政复议[、和]?(?:提起)?行政诉讼(?:的)?情况",
    "(?:政府信息公开工作)?存在的主要问题及改进(?:情况|措施)",
    "其他(?:需要报告的)?事项",
)
CN_NUMBERS = "一二三四五六"
HEADING = re.compile("(?P<num>[一二三四五六])、(?:"
                     + "|".join(f"(?P<t{i + 1}>{t})" for i, t in enumerate(_TITLES)) + ")")
TABLE_TITLE = re.compile(r"表[一二三四1-4][：:](?P<title>[^\n|#]{2,30})")
NUMBERING = ("{cn}、", "{n}.", "（{cn}）", "{cn}.", "{n}、")


def _section(m: re.Match[str]) -> int | None:
    """The section number of a HEADING match whose number and title agree."""
    num = CN_NUMBERS.index(m.group("num")) + 1
    return num if m.group(f"t{num}") else None


def _norm(text: str) -> str:
    return re.sub(r"[\s\u00a0\u3000]+", "", text)


def _han_count(text: str) -> int:
    return len(HAN.findall(text))


def _digits_ascii(text: str) -> str:
    return "".join(str(int(c)) if c.isdigit() else c for c in text)


def _number(text: str) -> float | None:
    m = NUMBER.search(text)
    if not m:
        return None
    digits = _digits_ascii(re.sub(r"[,， \u00a0]", "", m.group("int")) + (m.group("frac") or "").replace("．", "."))
    value = float(digits)
    return -value if m.group("sign") in ("-", "－") else value


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(value)


# --- token transformations (value cells) ------------------------------------------------------------


def thousands(token: str) -> str | None:
    """1234 -> 1,234 (the integer part of a value >= 1000); None where nothing changes."""
    m = NUMBER.search(token)
    if not m or re.search(r"[,， \u00a0]", m.group("int")) or not m.group("int").isascii() or len(m.group("int")) < 4:
        return None
    grouped = f"{int(m.group('int')):,}"
    return token[:m.start("int")] + grouped + token[m.end("int"):]


def spaced(token: str, rng: random.Random) -> str | None:
    """A space inside a multi-digit number: 1 234 (thousands) or 1 2 (anywhere)."""
    m = NUMBER.search(token)
    if not m or len(m.group("int")) < 2 or re.search(r"[,， \u00a0]", m.group("int")):
        return None
    digits = m.group("int")
    if len(digits) >= 4 and rng.random() < 0.5:
        new = f"{int(_digits_ascii(digits)):,}".replace(",", " ")
    else:
        cut = rng.randrange(1, len(digits))
        new = digits[:cut] + " " + digits[cut:]
    return token[:m.start("int")] + new + token[m.end("int"):]


def fullwidth(token: str) -> str | None:
    new = token.translate(FULLWIDTH)
    return new if new != token else None


SINGLE_VALUE_ROWS_2021 = ("行政许可", "行政处罚", "行政强制", "行政事业性收费")


def with_unit(token: str, row_label: str, table: str, ctx: Context, rate: float, crawl: bool) -> str | None:
    """件 after a count, 万元 after the 2021 fee amount (2019 procurement amounts keep their own unit)."""
    if UNIT.search(token) or "采购" in row_label:
        return None
    fee = ctx.format == "2021" and table == "t2" and "收费" in row_label
    if crawl and not (ctx.format == "2021" and table == "t2" and any(k in row_label for k in SINGLE_VALUE_ROWS_2021)):
        return None
    if fee:
        return token + "万元"
    return token + "件" if ctx.rng.random() < rate else None


# --- label characters ---------------------------------------------------------------------------------


def corrupt_segments(segments: list[str], rate: float, rng: random.Random) -> tuple[list[str], int, int]:
    """``rate`` of the CJK characters of the segments changed: 3 in 4 replaced by a look-alike (where the
    character has one), the rest dropped (never the last CJK characters of a short segment).
    Returns the new segments, the number of CJK characters and the number changed."""
    positions = [(si, ci) for si, s in enumerate(segments) for ci, ch in enumerate(s) if HAN.match(ch)]
    n = len(positions)
    k = round(rate * n)
    if k == 0:
        return list(segments), n, 0
    subable = [p for p in positions if segments[p[0]][p[1]] in LOOKALIKE]
    subs = rng.sample(subable, min(len(subable), round(k * 0.75)))
    taken = set(subs)
    droppable = [p for p in positions if p not in taken and _han_count(segments[p[0]]) > 2]
    drops = rng.sample(droppable, min(len(droppable), k - len(subs)))
    chars = [list(s) for s in segments]
    for si, ci in subs:
        chars[si][ci] = rng.choice(LOOKALIKE[segments[si][ci]])
    for si, ci in drops:
        chars[si][ci] = ""
    return ["".join(c) for c in chars], n, len(subs) + len(drops)


def typo(title: str, rng: random.Random) -> str:
    """1-2 character edits of a heading: OCR look-alike substitution, deletion or insertion."""
    for _ in range(20):
        chars = list(title)
        for _ in range(rng.choice((1, 2))):
            op = rng.choices(("sub", "del", "ins"), weights=(0.55, 0.2, 0.25))[0]
            subable = [i for i, c in enumerate(chars) if c in LOOKALIKE]
            if op == "sub" and subable:
                i = rng.choice(subable)
                chars[i] = rng.choice(LOOKALIKE[chars[i]])
            elif op == "del" and len(chars) > 3:
                del chars[rng.randrange(len(chars))]
            else:
                i = rng.randrange(1, len(chars) + 1)
                chars.insert(i, chars[i - 1] if rng.random() < 0.5 else rng.choice(FILLERS))
        out = "".join(chars)
        if out != title:
            return out
    return title + "况"


def _numbering_style(rng: random.Random) -> str:
    return NUMBERING[0] if rng.random() < 0.5 else rng.choice(NUMBERING[1:])


def typo_heading(heading: str, style: str, rng: random.Random) -> str:
    """一、总体情况 -> 1.总体晴况 (the number keeps its meaning; the title gets 1-2 edits)."""
    m = HEADING.match(heading)
    if m:
        num = CN_NUMBERS.index(m.group("num")) + 1
        return style.format(cn=m.group("num"), n=num) + typo(heading[m.end("num") + 1:], rng)
    m2 = TABLE_TITLE.search(heading)
    if m2:
        return heading[:m2.start("title")] + typo(m2.group("title"), rng)
    return heading


# --- text renderings: analysis -----------------------------------------------------------------------


@dataclass
class Span:
    start: int
    end: int
    role: str  # heading | title | label | value | prose
    table: str = ""  # t2 | t3 | t4 (labels, values)
    cell: str = ""  # how the cell is delimited: tab | pipe | loose | crawl
    row: str = ""  # values: the row's label
    num: int = 0  # headings: section number
    line: int = 0  # start offset of the span's line


SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}")
FOOTER = re.compile(r"^\s*[—\-]\s*\d+\s*[—\-]\s*$|^\s*第\s*\d+\s*页")
NOTE = re.compile(r"^\s*(?:注[：:]|[（(](?:其中|含))")


def _lines(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, str]]:
    end = len(text) if end is None else end
    pos = text.rfind("\n", 0, start) + 1
    while pos < end:
        nl = text.find("\n", pos)
        nl = len(text) if nl < 0 else nl
        yield pos, text[pos:nl]
        pos = nl + 1


@dataclass
class TextLayout:
    spans: list[Span]
    headings: list[Span]
    zone: tuple[int, int] | None  # the tables: from the end of heading 二 to heading 五 (or the last table line)
    bounds: dict[str, tuple[int, int]]  # t2/t3/t4 -> [start, end)

    def of(self, role: str) -> list[Span]:
        return [s for s in self.spans if s.role == role]


def analyse_text(text: str, kind: str) -> TextLayout:
    """Headings, table titles, label and value cells of the tables, prose lines."""
    headings: list[Span] = []
    for m in HEADING.finditer(text):
        num = _section(m)
        line = text.rfind("\n", 0, m.start()) + 1
        if num is None or (kind != "crawl" and text[line:m.start()].strip(" \t#\u3000")):
            continue
        headings.append(Span(m.start(), m.end(), "heading", num=num, line=line))
    titles: list[Span] = []
    if kind != "crawl":
        for m in TABLE_TITLE.finditer(text):
            line = text.rfind("\n", 0, m.start()) + 1
            if not text[line:m.start()].strip(" \t#"):
                titles.append(Span(m.start(), m.end(), "title", line=line))
    spans = headings + titles

    def first(num: int, after: int) -> Span | None:
        return next((h for h in headings if h.num == num and h.start >= after), None)

    s2 = first(2, 0)
    if s2 is None:
        return TextLayout(spans + _prose(text, kind, spans, None), headings, None, {})
    s3, s5, s6 = first(3, s2.end), first(5, s2.end), first(6, s2.end)
    s4 = first(4, s3.end if s3 else s2.end)
    end = s5.start if s5 else s6.start if s6 else len(text)
    if kind != "crawl":
        last = s2.end
        for off, row in _lines(text, s2.end, end):
            if "|" in row or "\t" in row or re.fullmatch(r"[\d\s.]+", row.strip() or "x"):
                last = off + len(row)
        end = max(last, s2.end)
    zone = (s2.end, end)
    t3_start = s3.start if s3 else end
    t4_start = s4.start if s4 else end
    bounds = {"t2": (s2.end, t3_start), "t3": (t3_start, t4_start), "t4": (t4_start, end)}

    def table_of(pos: int) -> str:
        return "t2" if pos < t3_start else "t3" if pos < t4_start else "t4"

    covered = [(s.start, s.end) for s in spans]
    cells = _crawl_cells(text, zone, covered, table_of) if kind == "crawl" else _line_cells(text, zone, spans, table_of)
    return TextLayout(spans + cells + _prose(text, kind, spans, zone), headings, zone, bounds)


def _line_cells(text: str, zone: tuple[int, int], marks: list[Span], table_of: Callable[[int], str]) -> list[Span]:
    out: list[Span] = []
    marked_lines = {s.line for s in marks}
    for off, line in _lines(text, *zone):
        if off < zone[0] or off in marked_lines or not line.strip():
            continue
        if SEPARATOR.match(line) or FOOTER.match(line) or NOTE.match(line):
            continue
        stripped = line.lstrip()
        if stripped.startswith("|"):
            delim, pieces = "pipe", re.finditer(r"[^|]+", line)
        elif "\t" in line:
            delim, pieces = "tab", re.finditer(r"[^\t]+", line)
        else:
            delim, pieces = "loose", re.finditer(r"\S+", line)
        row = ""
        for m in pieces:
            raw = m.group()
            lead = len(raw) - len(raw.lstrip())
            cell = raw.strip()
            if not cell:
                continue
            start = off + m.start() + lead
            span = Span(start, start + len(cell), "", table=table_of(start), cell=delim, line=off)
            if VALUE_CELL.fullmatch(cell):
                span.role, span.row = "value", row
            elif HAN.search(cell):
                span.role = "label"
                row = row or cell
            else:
                continue
            out.append(span)
    return out


CRAWL_NUMBER = re.compile(r"\d+(?:[.．]\d+)?(?:万元|元|件)?")


def _crawl_cells(text: str, zone: tuple[int, int], covered: list[tuple[int, int]],
                 table_of: Callable[[int], str]) -> list[Span]:
    """Run-together text: digit runs are values (a label's own number, 2.其他…, stays with the label)."""
    out: list[Span] = []
    pieces: list[tuple[int, int]] = []
    pos = zone[0]
    for a, b in sorted(c for c in covered if zone[0] <= c[0] < zone[1]):
        pieces.append((pos, a))
        pos = b
    pieces.append((pos, zone[1]))
    for a, b in pieces:
        pos, row = a, ""
        for m in CRAWL_NUMBER.finditer(text, a, b):
            s, e = m.start(), m.end()
            prev, nxt = text[s - 1:s], text[e:e + 1]
            if prev == "第" or (nxt and nxt in "位年月日号次条"):
                continue
            if nxt in (".", "．") and not text[e + 1:e + 2].isdigit() and not UNIT.search(m.group()):
                if e - s == 1:
                    continue
                e -= 1
            label = _label_span(text, pos, s, table_of)
            if label:
                out.append(label)
                row = text[label.start:label.end]
            out.append(Span(s, e, "value", table=table_of(s), cell="crawl", row=row))
            pos = e
        label = _label_span(text, pos, b, table_of)
        if label:
            out.append(label)
    return out


def _label_span(text: str, a: int, b: int, table_of: Callable[[int], str]) -> Span | None:
    piece = text[a:b]
    if not HAN.search(piece):
        return None
    lead = len(piece) - len(piece.lstrip())
    return Span(a + lead, a + len(piece.rstrip()), "label", table=table_of(a + lead), cell="crawl")


def _prose(text: str, kind: str, marks: list[Span], zone: tuple[int, int] | None) -> list[Span]:
    """Narrative text outside the tables: lines (or, in crawled text, stretches between headings)."""
    out: list[Span] = []
    cuts = sorted((s.start, s.end) for s in marks)
    for off, line in _lines(text):
        a, b = off, off + len(line)
        pieces = []
        pos = a
        for s, e in cuts:
            if a <= s < b:
                pieces.append((pos, s))
                pos = max(pos, e)
        pieces.append((pos, b))
        for s, e in pieces:
            if zone is not None and s < zone[1] and e > zone[0]:
                s, e = (s, min(e, zone[0])) if s < zone[0] else (max(s, zone[1]), e)
            piece = text[s:e]
            if e - s >= 20 and _han_count(piece) >= 10 and not FOOTER.match(piece):
                out.append(Span(s, e, "prose", line=off))
    return out


# --- text renderings: operations ------------------------------------------------------------------------


def _text_heading_typo(st: TextState, ctx: Context, rate: float) -> dict[str, int]:
    lay = analyse_text(st.text, st.kind)
    marks = [s for s in lay.spans if s.role in ("heading", "title") and ctx.rng.random() < rate]
    style = _numbering_style(ctx.rng)
    st.edit([(s.start, s.end, typo_heading(st.text[s.start:s.end], style, ctx.rng)) for s in marks])
    return {"headings": sum(s.role == "heading" for s in marks), "titles": sum(s.role == "title" for s in marks),
            "numbering_changed": int(style != NUMBERING[0])}


def _text_label_noise(st: TextState, ctx: Context, rate: float) -> dict[str, int]:
    labels = analyse_text(st.text, st.kind).of("label")
    olds = [st.text[s.start:s.end] for s in labels]
    news, n, k = corrupt_segments(olds, rate, ctx.rng)
    st.edit([(s.start, s.end, new) for s, old, new in zip(labels, olds, news, strict=True) if new != old])
    return {"label_chars": n, "label_changed": k}


def _pick(eligible: list[Any], rate: float, rng: random.Random) -> list[Any]:
    """Each eligible item with probability ``rate``; at least one where any is eligible."""
    picked = [e for e in eligible if rng.random() < rate]
    return picked or (rng.sample(eligible, 1) if eligible else [])


def _text_values(st: TextState, ctx: Context, rate: float, fn: Callable[[str, Span], str | None],
                 cells: tuple[str, ...]) -> dict[str, int]:
    """``fn`` on the value cells delimited as ``cells`` says; ``rate`` of the cells it applies to change."""
    values = [s for s in analyse_text(st.text, st.kind).of("value") if s.cell in cells]
    eligible = [(s, new) for s in values if (new := fn(st.text[s.start:s.end], s)) is not None]
    edits = [(s.start, s.end, new) for s, new in _pick(eligible, rate, ctx.rng)]
    st.edit(edits)
    return {"values": len(values), "values_changed": len(edits)}


def _text_thousands(st: TextState, ctx: Context, rate: float) -> dict[str, int]:
    return _text_values(st, ctx, rate, lambda t, s: thousands(t), ("tab", "pipe", "loose"))


def _text_spaces(st: TextState, ctx: Context, rate: float) -> dict[str, int]:
    return _text_values(st, ctx, rate, lambda t, s: spaced(t, ctx.rng), ("tab", "pipe"))


def _text_fullwidth(st: TextState, ctx: Context, rate: float) -> dict[str, int]:
    return _text_values(st, ctx, rate, lambda t, s: fullwidth(t), ("tab", "pipe", "loose", "crawl"))


def _text_units(st: TextState, ctx: Context, rate: float) -> dict[str, int]:
    return _text_values(st, ctx, 1.0, lambda t, s: with_unit(t, s.row, s.table, ctx, rate, s.cell == "crawl"),
                        ("tab", "pipe", "loose", "crawl"))


NO_LINE_END = "（(《“‘【["
NO_LINE_START = "，。、；：！？）)》”’】]."


def _breakable(text: str, i: int) -> bool:
    """A line may break before text[i]: not inside a number or a Latin word, no opening bracket left at the end
    of a line, no closing punctuation carried to the start of the next (as Chinese typesetting does)."""
    a, b = text[i - 1], text[i]
    if a.isdigit() or b.isdigit() or a in NO_LINE_END or b in NO_LINE_START:
        return False
    return not (a.isascii() and a.isalpha() and b.isascii() and b.isalpha())


def _text_line_wraps(st: TextState, ctx: Context, rate: float) -> dict[str, int]:
    lay = analyse_text(st.text, st.kind)
    rng, text = ctx.rng, st.text
    edits: list[tuple[int, int, str]] = []
    labels = prose = 0
    for s in lay.of("label"):
        cut = [i for i in range(s.start + 2, s.end - 1) if HAN.match(text[i - 1]) and HAN.match(text[i])]
        if _han_count(text[s.start:s.end]) >= 8 and cut and rng.random() < rate:
            i = rng.choice(cut)
            edits.append((i, i, "\n"))
            labels += 1
    for s in lay.of("prose"):
        if s.end - s.start < 40 or rng.random() >= rate:
            continue
        i = s.start + rng.randint(28, 40)
        while i < s.end - 5:
            j = next((k for k in range(i, min(i + 5, s.end)) if _breakable(text, k)), None)
            if j is not None:
                edits.append((j, j, "\n"))
                i = j
            i += rng.randint(28, 40)
        prose += 1
    st.edit(edits)
    return {"labels_wrapped": labels, "paragraphs_wrapped": prose}


def _text_reorder(st: TextState, ctx: Context, rate: float) -> dict[str, int]:
    moved = _text_shuffle(st, ctx.rng)
    changed = _text_blank_lines(st, ctx.rng)
    return {"paragraphs_moved": moved, "blank_runs_changed": changed}


def _line_starts(lines: list[str]) -> list[int]:
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    return starts


def _text_blank_lines(st: TextState, rng: random.Random) -> int:
    """Blank lines between blocks removed or doubled (tab text: also added); the tables' own lines stay."""
    lay = analyse_text(st.text, st.kind)
    lines = st.text.split("\n")
    starts = _line_starts(lines)
    heading_lines = {h.line for h in lay.headings}
    zone = lay.zone or (0, 0)

    def free(i: int) -> bool:  # a gap after line i may change
        return not zone[0] <= starts[i] < zone[1] or starts[i] in heading_lines

    out: list[str] = []
    changed = i = 0
    while i < len(lines):
        if lines[i].strip():
            out.append(lines[i])
            if (st.kind == "tab" and i + 1 < len(lines) and lines[i + 1].strip() and free(i)
                    and rng.random() < 0.25):
                out.append("")
                changed += 1
            i += 1
            continue
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        roll = rng.random()
        if (i > 0 and not free(i - 1)) or j == len(lines) or roll >= 0.75:
            out.extend(lines[i:j])
        elif roll < 0.5:
            changed += 1
        else:
            out.extend([""] * (j - i + rng.randint(1, 2)))
            changed += 1
        i = j
    st.text = "\n".join(out)
    return changed


def _text_shuffle(st: TextState, rng: random.Random) -> int:
    """The paragraphs of sections 一 and 五 shuffled (the first one stays: it introduces the section)."""
    lay = analyse_text(st.text, st.kind)
    lines = st.text.split("\n")
    index = {start: i for i, start in enumerate(_line_starts(lines))}
    heads = sorted((index[h.line], h.num) for h in lay.headings if h.line in index)
    moved = 0
    for k in range(len(heads) - 1, -1, -1):  # from the end: earlier line numbers stay valid
        h, num = heads[k]
        end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
        region = lines[h + 1:end]
        if num not in (1, 5) or any("\t" in x or x.lstrip().startswith("|") for x in region):
            continue
        paras = _paragraphs(region, st.kind)
        if len(paras) < 3:
            continue
        rest = paras[1:]
        order = rest[:]
        rng.shuffle(order)
        if order == rest:
            order = rest[1:] + rest[:1]
        lines[h + 1:end] = _join_paragraphs([paras[0], *order])
        moved += len(rest)
    st.text = "\n".join(lines)
    return moved


def _paragraphs(lines: list[str], kind: str) -> list[list[str]]:
    """Paragraphs of a section: every non-blank line in tab text; blank-separated runs of lines in Markdown."""
    paras: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if not line.strip():
            if current:
                paras.append(current)
                current = []
        elif kind == "tab":
            paras.append([line])
        else:
            current.append(line)
    if current:
        paras.append(current)
    return paras


def _join_paragraphs(paras: list[list[str]]) -> list[str]:
    out: list[str] = [""]
    for p in paras:
        out.extend([*p, ""])
    return out


T3_COLUMNS = ("natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
              "legal_service_org", "other_org", "total")
SUBTOTAL_GROUPS = (  # group, the key of its last row's label, its rows
    ("denied", "属于行政查询事项", ("state_secret", "other_laws", "three_security_one_stability",
                                  "third_party_rights", "internal_affairs", "process_info", "enforcement_files",
                                  "admin_query")),
    ("unable", "补正后申请内容仍不明确", ("not_held", "needs_creation", "unclear")),
    ("not_processed", "重新出具已获取信息", ("petition_complaint", "duplicate", "publication", "excessive_repeat",
                                          "confirm_reissue")),
)


def group_sums(report: str, group: str, rows: tuple[str, ...]) -> list[float | None]:
    """Column sums of a t3 group from the truth (blank counts 0; a column blank throughout stays blank)."""
    cells = truth(report)["cells"]
    out: list[float | None] = []
    for col in T3_COLUMNS:
        vals = [cells[f"t3.{group}_{r}.{col}"] for r in rows if f"t3.{group}_{r}.{col}" in cells]
        present = [v for v in vals if v is not None]
        out.append(sum(present) if present else None)
    return out


def _fuzzy(key: str) -> re.Pattern[str]:
    return re.compile(r"\s*".join(map(re.escape, key)))


def _draw_groups(rng: random.Random) -> list[tuple[str, str, tuple[str, ...]]]:
    return rng.sample(SUBTOTAL_GROUPS, rng.randint(1, len(SUBTOTAL_GROUPS)))


def _text_subtotal(st: TextState, ctx: Context, rate: float) -> dict[str, int]:
    rng = ctx.rng
    lay = analyse_text(st.text, st.kind)
    if "t3" not in lay.bounds:
        return {}
    a, b = lay.bounds["t3"]
    values = [s for s in lay.of("value") if a <= s.start < b]
    if st.kind != "crawl" and rng.random() < 0.5:
        stats = _text_subtotal_column(st, lay, values)
        if stats:
            return stats
    labels = [s for s in lay.of("label") if a <= s.start < b]
    edits = []
    for group, key, rows in _draw_groups(rng):
        sums = group_sums(ctx.report, group, rows)
        m = _fuzzy(key).search(st.text, a, b)
        if not m:
            continue
        if st.kind == "crawl":
            after = next((s for s in values if s.start >= m.end()), None)
            if after is not None and None not in sums:
                edits.append((after.end, after.end, "小计" + "".join(_fmt(v) for v in sums)))
            continue
        line = next((s.line for s in labels if s.start <= m.start() < s.end), None)
        row_values = [s for s in values if s.line == line]
        if line is None or len(row_values) != len(T3_COLUMNS):
            continue
        # the row copied below itself: its label cell says 小计, other labels go, the values are the group's sums
        cells = [(s.start, s.end, "小计" if s.start <= m.start() < s.end else "") for s in labels if s.line == line]
        cells += [(s.start, s.end, _fmt(v)) for s, v in zip(row_values, sums, strict=True)]
        end = st.text.find("\n", line)
        end = len(st.text) if end < 0 else end
        new = st.text[line:end]
        for start, stop, text in sorted(cells, reverse=True):
            new = new[:start - line] + text + new[stop - line:]
        edits.append((end, end, "\n" + new))
    st.edit(edits)
    return {"subtotal_rows": len(edits)}


def _text_subtotal_column(st: TextState, lay: TextLayout, values: list[Span]) -> dict[str, int]:
    """A 法人或其他组织 小计 column before 总计: in the header line and in every row of 6 or 7 values."""
    a, b = lay.bounds["t3"]
    by_line: dict[int, list[Span]] = {}
    for s in values:
        by_line.setdefault(s.line, []).append(s)
    sep = "\t" if st.kind == "tab" else " | "
    edits = []
    for row in by_line.values():
        if len(row) not in (6, 7) or row[0].cell not in ("tab", "pipe"):
            continue
        nums = [_number(st.text[s.start:s.end]) for s in row[1:-1]]
        total = sum(n for n in nums if n is not None)
        edits.append((row[-1].start, row[-1].start, _fmt(total) + sep))
    for s in lay.of("label"):
        if a <= s.start < b and st.text[s.start:s.end] == "总计" and s.cell in ("tab", "pipe"):
            edits.append((s.start, s.start, "小计" + sep))
            break
    if not edits:
        return {}
    st.edit(edits)
    return {"subtotal_column_cells": len(edits)}


TEXT_OPS: dict[str, Callable[[TextState, Context, float], dict[str, int]]] = {
    "heading_typo": _text_heading_typo,
    "label_noise_5": _text_label_noise,
    "label_noise_10": _text_label_noise,
    "fullwidth_digits": _text_fullwidth,
    "thousands_sep": _text_thousands,
    "space_in_number": _text_spaces,
    "units": _text_units,
    "line_wraps": _text_line_wraps,
    "reorder_blank_lines": _text_reorder,
    "extra_subtotal": _text_subtotal,
}


# --- HTML renderings ------------------------------------------------------------------------------------


@dataclass
class HCell:
    td: Tag
    row: int
    col: int
    rowspan: int
    colspan: int
    text: str  # whitespace removed
    role: str  # label | value | blank | other


@dataclass
class HTable:
    tag: Tag
    kind: str  # t2 | t3 | t4
    rows: list[Tag]
    cells: list[HCell]

    def starting(self, row: int) -> list[HCell]:
        return sorted((c for c in self.cells if c.row == row), key=lambda c: c.col)

    def row_label(self, row: int) -> str:
        return "".join(c.text for c in self.starting(row) if c.role == "label")


TABLE_MARKERS = {  # words of each table's labels; a table is the one whose words it holds most (two at least)
    "t2": ("第二十条", "信息内容", "规章", "规范性文件", "行政许可", "行政处罚", "行政强制", "行政事业性收费"),
    "t3": ("申请人情况", "自然人", "商业企业", "本年新收", "上年结转", "予以公开", "不予公开", "无法提供", "不予处理"),
    "t4": ("行政复议", "行政诉讼", "结果维持", "结果纠正", "尚未审结", "复议后起诉"),
}


def _kind_of(text: str) -> str:
    """t2 / t3 / t4 by the label words the text holds ("" for none), robust to a few corrupted labels."""
    hits = {k: sum(w in text for w in words) for k, words in TABLE_MARKERS.items()}
    best = max(hits, key=lambda k: hits[k])
    return best if hits[best] >= 2 else ""


def _span_attr(td: Tag, name: str) -> int:
    try:
        return max(1, int(str(td.get(name) or "1").strip()))
    except ValueError:
        return 1


def html_tables(soup: BeautifulSoup) -> list[HTable]:
    """The report's tables (t2/t3/t4 by their labels), each cell at its grid position."""
    out: list[HTable] = []
    for table in soup.find_all("table"):
        if table.find("table") is not None:
            continue
        kind = _kind_of(_norm(table.get_text()))
        if not kind:
            continue
        rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
        taken: set[tuple[int, int]] = set()
        cells: list[HCell] = []
        for r, tr in enumerate(rows):
            c = 0
            for td in tr.find_all(["td", "th"], recursive=False):
                while (r, c) in taken:
                    c += 1
                rs, cs = _span_attr(td, "rowspan"), _span_attr(td, "colspan")
                taken.update((r + i, c + j) for i in range(rs) for j in range(cs))
                t = _norm(td.get_text())
                role = ("blank" if not t or t in ("-", "—", "/") else "value" if VALUE_CELL.fullmatch(t)
                        else "label" if HAN.search(t) else "other")
                cells.append(HCell(td, r, c, rs, cs, t, role))
                c += cs
        out.append(HTable(table, kind, rows, cells))
    return out


def _strings(tag: Tag) -> list[NavigableString]:
    return [s for s in tag.find_all(string=True) if type(s) is NavigableString]


def _outside(node: NavigableString) -> bool:
    return node.find_parent(["table", "script", "style", "head", "title"]) is None


def html_headings(soup: BeautifulSoup) -> list[tuple[NavigableString, re.Match[str]]]:
    """Text nodes that are a section heading (a number and the section's title, nothing much else)."""
    out = []
    for s in soup.find_all(string=True):
        if type(s) is not NavigableString or not _outside(s):
            continue
        m = HEADING.search(str(s))
        if m and _section(m) and not _norm(str(s)[:m.start()]) and len(_norm(str(s)[m.end():])) <= 2:
            out.append((s, m))
    return out


def _heading_block(node: NavigableString) -> Tag | None:
    return node.find_parent(["p", "h1", "h2", "h3", "h4", "h5", "h6", "div", "li"])


def _html_heading_typo(st: HtmlState, ctx: Context, rate: float) -> dict[str, int]:
    style = _numbering_style(ctx.rng)
    n = 0
    for node, m in html_headings(st.soup):
        if ctx.rng.random() >= rate:
            continue
        text = str(node)
        node.replace_with(NavigableString(text[:m.start()] + typo_heading(m.group(), style, ctx.rng) + text[m.end():]))
        n += 1
    return {"headings": n, "numbering_changed": int(style != NUMBERING[0] and n > 0)}


def _label_nodes(st: HtmlState) -> list[NavigableString]:
    return [s for t in html_tables(st.soup) for c in t.cells if c.role == "label" for s in _strings(c.td)
            if HAN.search(str(s))]


def _html_label_noise(st: HtmlState, ctx: Context, rate: float) -> dict[str, int]:
    nodes = _label_nodes(st)
    olds = [str(s) for s in nodes]
    news, n, k = corrupt_segments(olds, rate, ctx.rng)
    for node, old, new in zip(nodes, olds, news, strict=True):
        if new != old:
            node.replace_with(NavigableString(new))
    return {"label_chars": n, "label_changed": k}


def _html_values(st: HtmlState, ctx: Context, rate: float,
                 fn: Callable[[str, HTable, HCell], str | None]) -> dict[str, int]:
    """``fn`` on the number of every value cell; ``rate`` of the cells it applies to change."""
    n = 0
    eligible = []
    for table in html_tables(st.soup):
        for cell in table.cells:
            if cell.role != "value":
                continue
            n += 1
            node = next((s for s in _strings(cell.td) if re.search(r"\d", str(s))), None)
            m = NUMBER.search(str(node)) if node is not None else None
            if node is not None and m is not None and (new := fn(m.group(), table, cell)) is not None:
                eligible.append((node, m, new))
    picked = _pick(eligible, rate, ctx.rng)
    for node, m, new in picked:
        text = str(node)
        node.replace_with(NavigableString(text[:m.start()] + new + text[m.end():]))
    return {"values": n, "values_changed": len(picked)}


def _html_thousands(st: HtmlState, ctx: Context, rate: float) -> dict[str, int]:
    return _html_values(st, ctx, rate, lambda t, tb, c: thousands(t))


def _html_spaces(st: HtmlState, ctx: Context, rate: float) -> dict[str, int]:
    return _html_values(st, ctx, rate, lambda t, tb, c: spaced(t, ctx.rng))


def _html_fullwidth(st: HtmlState, ctx: Context, rate: float) -> dict[str, int]:
    return _html_values(st, ctx, rate, lambda t, tb, c: fullwidth(t))


def _html_units(st: HtmlState, ctx: Context, rate: float) -> dict[str, int]:
    return _html_values(st, ctx, 1.0, lambda t, tb, c: with_unit(t, tb.row_label(c.row), tb.kind, ctx, rate, False))


def _html_line_wraps(st: HtmlState, ctx: Context, rate: float) -> dict[str, int]:
    rng = ctx.rng
    labels = prose = 0
    for table in html_tables(st.soup):
        for cell in table.cells:
            if cell.role != "label" or _han_count(cell.text) < 8 or rng.random() >= rate:
                continue
            node = max(_strings(cell.td), key=lambda s: _han_count(str(s)))
            text = str(node)
            cut = [i for i in range(2, len(text) - 1) if HAN.match(text[i - 1]) and HAN.match(text[i])]
            if not cut:
                continue
            i = rng.choice(cut)
            node.replace_with(NavigableString(text[:i]), st.soup.new_tag("br"), NavigableString(text[i:]))
            labels += 1
    for p in st.soup.find_all("p"):
        if p.find_parent("table") is not None or len(_norm(p.get_text())) < 40 or rng.random() >= rate:
            continue
        for node in _strings(p):
            text = str(node)
            if len(text) < 40:
                continue
            parts, last = [], 0
            i = rng.randint(28, 40)
            while i < len(text) - 5:
                if _breakable(text, i):
                    parts.append(text[last:i])
                    last = i
                i += rng.randint(28, 40)
            parts.append(text[last:])
            if len(parts) > 1:
                node.replace_with(NavigableString("\n".join(parts)))
                prose += 1
    return {"labels_wrapped": labels, "paragraphs_wrapped": prose}


BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6")


def _html_reorder(st: HtmlState, ctx: Context, rate: float) -> dict[str, int]:
    rng, soup = ctx.rng, st.soup
    moved = 0
    heads: dict[int | None, Tag] = {}
    for node, m in html_headings(soup):
        block = _heading_block(node)
        if block is not None:
            heads.setdefault(_section(m), block)
    for num, nxt in ((1, 2), (5, 6)):
        a, b = heads.get(num), heads.get(nxt)
        if a is None or b is None or a.parent is not b.parent:
            continue
        between = []
        for sib in a.next_siblings:
            if sib is b:
                break
            between.append(sib)
        else:
            continue
        paras = [s for s in between if isinstance(s, Tag)]
        if (len(paras) < 3 or any(p.name != "p" or p.find("table") is not None for p in paras)
                or any(isinstance(s, NavigableString) and s.strip() for s in between)):
            continue
        rest = paras[1:]
        order = rest[:]
        rng.shuffle(order)
        if order == rest:
            order = rest[1:] + rest[:1]
        for p in rest:
            p.extract()
        anchor = paras[0]
        for p in order:
            anchor.insert_after(p)
            anchor = p
        moved += len(rest)
    changed = 0
    for p in soup.find_all(BLOCKS):
        if p.find_parent("table") is not None:
            continue
        empty = not _norm(p.get_text()) and p.find(["img", "table"]) is None
        if empty and rng.random() < 0.5:
            p.decompose()
            changed += 1
        elif not empty and rng.random() < 0.2:
            blank = soup.new_tag("p")
            blank.append(NavigableString("\u00a0") if rng.random() < 0.5 else soup.new_tag("br"))
            p.insert_after(blank)
            changed += 1
    return {"paragraphs_moved": moved, "blank_blocks_changed": changed}


def _set_text(td: Tag, text: str) -> None:
    """The cell's first text node becomes ``text`` (a non-breaking space for an empty cell), the others go."""
    nodes = _strings(td)
    if not nodes:
        td.append(NavigableString(text or "\u00a0"))
        return
    first = next((s for s in nodes if s.strip()), nodes[0])
    for s in nodes:
        if s is not first:
            s.replace_with(NavigableString(""))
    first.replace_with(NavigableString(text or "\u00a0"))


def _html_subtotal(st: HtmlState, ctx: Context, rate: float) -> dict[str, int]:
    table = next((t for t in html_tables(st.soup) if t.kind == "t3"), None)
    if table is None:
        return {}
    if ctx.rng.random() < 0.5:
        n = _html_subtotal_column(table)
        if n:
            return {"subtotal_column_cells": n}
    inserted = 0
    for group, key, rows in _draw_groups(ctx.rng):
        table = next(t for t in html_tables(st.soup) if t.kind == "t3")  # again: the last insertion moved rows
        pattern = _fuzzy(key)
        r = next((i for i in range(len(table.rows)) if pattern.search(table.row_label(i))), None)
        if r is None:
            continue
        own = table.starting(r)
        vals = [c for c in own if c.role in ("value", "blank")]
        if len(vals) != len(T3_COLUMNS):
            continue
        for c in table.cells:
            if c.row < r <= c.row + c.rowspan - 1:  # a group or block label over the row: one row longer
                c.td["rowspan"] = str(c.rowspan + 1)
        clone = copy.copy(table.rows[r])
        clone_tds = clone.find_all(["td", "th"], recursive=False)
        sums = group_sums(ctx.report, group, rows)
        vi = 0
        labelled = False
        for td, c in zip(clone_tds, own, strict=True):
            if c.role == "label":
                _set_text(td, "" if labelled else "小计")
                labelled = True
            elif c.role in ("value", "blank"):
                _set_text(td, _fmt(sums[vi]))
                vi += 1
        table.rows[r].insert_after(clone)
        inserted += 1
    return {"subtotal_rows": inserted}


def _html_subtotal_column(table: HTable) -> int:
    """A 法人或其他组织 小计 column after 其他 (法律服务机构 where 其他 is missing)."""
    head = next((c for c in table.cells if c.text == "其他"), None) or next(
        (c for c in table.cells if c.text == "法律服务机构"), None)
    first = next((c for c in table.cells if c.text == "商业企业"), None)
    if head is None or first is None:
        return 0
    col = head.col + head.colspan - 1
    n = 0
    for c in table.cells:
        end = c.col + c.colspan - 1
        if c is head:
            clone = copy.copy(c.td)
            _set_text(clone, "小计")
            c.td.insert_after(clone)
            n += 1
        elif c.col <= col < end or (end == col and c.colspan > 1):
            c.td["colspan"] = str(c.colspan + 1)
        elif end == col and c.role in ("value", "blank") and c.colspan == 1:
            orgs = [x for x in table.starting(c.row) if first.col <= x.col <= col and x.role in ("value", "blank")]
            nums = [_number(x.text) for x in orgs if x.role == "value"]
            clone = copy.copy(c.td)
            present = [v for v in nums if v is not None]
            _set_text(clone, _fmt(sum(present)) if present else "")
            c.td.insert_after(clone)
            n += 1
    return n


NAV = ("首页", "政务公开", "政府信息公开指南", "政府信息公开制度", "法定主动公开内容", "政府信息公开年报", "依申请公开",
       "政务服务", "互动交流", "走进本区", "专题专栏", "公众参与")
SIDE = ("相关链接", "政府信息公开申请表下载", "热点信息", "政策解读", "常见问题", "联系我们")


def _html_layout(st: HtmlState, ctx: Context, rate: float) -> dict[str, int]:
    """The page inside layout tables: header, left navigation, content cell (maybe nested), right column, footer."""
    rng, soup = ctx.rng, st.soup
    body = soup.body
    if body is None:
        return {}

    def tag(name: str, text: str = "", **attrs: str) -> Tag:
        t = soup.new_tag(name, attrs=attrs)
        if text:
            t.append(NavigableString(text))
        return t

    outer = tag("table", width="1000", border="0", cellspacing="0", cellpadding="0", align="center")
    top = tag("tr")
    top_td = tag("td", colspan="3")
    top_td.append(tag("div", "　".join(rng.sample(NAV, 6))))
    top_td.append(tag("div", f"今天是：{rng.randint(2020, 2025)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"))
    top.append(top_td)
    outer.append(top)
    main = tag("tr")
    left = tag("td", width="200", valign="top")
    if rng.random() < 0.5:
        nav = tag("table", width="100%", border="0")
        for item in rng.sample(NAV, 7):
            row = tag("tr")
            row.append(tag("td", item))
            nav.append(row)
        left.append(nav)
    else:
        ul = tag("ul")
        for item in rng.sample(NAV, 7):
            li = tag("li")
            li.append(tag("a", item, href="#"))
            ul.append(li)
        left.append(ul)
    content = tag("td", valign="top")
    holder = content
    nested = rng.random() < 0.5
    if nested:
        inner = tag("table", width="100%", border="0")
        row = tag("tr")
        holder = tag("td")
        row.append(holder)
        inner.append(row)
        content.append(inner)
    for child in list(body.contents):
        holder.append(child.extract())
    main.append(left)
    main.append(content)
    if rng.random() < 0.7:
        right = tag("td", width="180", valign="top")
        for item in rng.sample(SIDE, 3):
            right.append(tag("p", item))
        right.append(tag("p", f"{rng.randint(2019, 2024)}年政府信息公开工作年度报告"))
        right.append(tag("p", f"浏览次数：{rng.randint(100, 99999)}"))
        main.append(right)
    outer.append(main)
    foot = tag("tr")
    foot_td = tag("td", colspan="3")
    foot_td.append(tag("p", f"网站标识码：{rng.randint(10 ** 9, 10 ** 10 - 1)}　"
                            f"ICP备案号：ICP备{rng.randint(10 ** 7, 10 ** 8 - 1)}号"))
    foot_td.append(tag("p", f"联系电话：0{rng.randint(100, 999)}-{rng.randint(10 ** 7, 10 ** 8 - 1)}"))
    foot.append(foot_td)
    outer.append(foot)
    body.append(outer)
    return {"layout_tables": 2 + int(nested) + int(left.find("table") is not None)}


HTML_OPS: dict[str, Callable[[HtmlState, Context, float], dict[str, int]]] = {
    "heading_typo": _html_heading_typo,
    "label_noise_5": _html_label_noise,
    "label_noise_10": _html_label_noise,
    "fullwidth_digits": _html_fullwidth,
    "thousands_sep": _html_thousands,
    "space_in_number": _html_spaces,
    "units": _html_units,
    "line_wraps": _html_line_wraps,
    "reorder_blank_lines": _html_reorder,
    "extra_subtotal": _html_subtotal,
    "html_layout_tables": _html_layout,
}


# --- report-level families: from the Document -------------------------------------------------------


GEOMETRIC = ("html", "ruling-lines", "docx")


def _printed(raw: str, text: str) -> str:
    from datasets.scansim import printed_text

    return printed_text(raw, text)


def table_kind(grid: TableGrid) -> str:
    return _kind_of(_norm("".join(c.text for c in grid.cells)))


def logical_rows(grid: TableGrid) -> list[tuple[list[str], list[str]]]:
    """(labels, values) of every grid row in order; header rows have no values. Grids read from geometry keep
    printed blanks ("" values); in text grids empty cells are padding and drop out."""
    geometric = any(grid.method.startswith(g) for g in GEOMETRIC)
    out: list[tuple[list[str], list[str]]] = []
    for row in grid.rows():
        texts = [_printed(c.raw, c.text).strip() for c in row]
        roles = []
        for t in texts:
            n = _norm(t)
            if n and VALUE_CELL.fullmatch(n):
                roles.append("value")
            elif n and HAN.search(n):
                roles.append("label")
            elif geometric and (not n or n in ("-", "—", "/")):
                roles.append("blank")
            else:
                roles.append("pad")
        first = next((i for i, r in enumerate(roles) if r in ("value", "blank")), None)
        data = first is not None and "label" not in roles[first:] and (geometric or "value" in roles)
        if not data:
            out.append(([t for t in texts if t], []))
            continue
        out.append(([t for t, r in zip(texts, roles, strict=True) if r == "label"],
                    [t for t, r in zip(texts, roles, strict=True) if r in ("value", "blank")]))
    return out


def _pipe(values: list[str]) -> str:
    return "| " + " | ".join(values) + " |"


def _cut(text: str, rng: random.Random, p: float) -> list[str]:
    if len(text) >= 8 and rng.random() < p:
        i = rng.randint(3, len(text) - 3)
        return [text[:i], text[i:]]
    return [text]


def _stacked(headers: list[str], width: int = 2) -> list[str]:
    """Narrow header cells as a PDF text layer gives them: the first two characters of every cell on a line,
    then the next two, …"""
    chunks = [[h[i:i + width] for i in range(0, len(h), width)] for h in headers]
    depth = max((len(c) for c in chunks), default=0)
    return ["".join(c[k] for c in chunks if k < len(c)) for k in range(depth)]


def _wrap(text: str, rng: random.Random) -> list[str]:
    width = rng.randint(28, 36)
    lines, i = [], 0
    while i < len(text):
        j = min(len(text), i + width)
        while j < len(text) and j > i + 10 and not _breakable(text, j):
            j -= 1
        lines.append(text[i:j])
        i = j
    return lines


def scattered_table(grid: TableGrid, rng: random.Random) -> list[str]:
    kind = table_kind(grid)
    rows = logical_rows(grid)
    out: list[str] = []
    first_data = next((i for i, (_, v) in enumerate(rows) if v), len(rows))
    if kind == "t3":
        headers = [h for labels, _ in rows[:first_data] for h in labels]
        leaf = [h for h in headers if len(h) <= 6]
        for h in headers:
            if h not in leaf:
                out.extend(_cut(h, rng, 0.8))
        out.extend(_stacked(rng.sample(leaf, len(leaf)) if rng.random() < 0.3 else leaf))
        rows = rows[first_data:]
    elif kind == "t4":
        headers = [h for labels, _ in rows[:first_data] for h in labels]
        values = [v for _, vs in rows[first_data:] for v in vs]
        groups = [h for h in headers if any(k in h for k in ("行政复议", "行政诉讼", "起诉"))]
        leaf = [h for h in headers if h not in groups]
        out.append("".join(groups[:2]))
        out.append("".join(groups[2:]))
        out.extend(_stacked(leaf))
        tail = [h[2:] or h for h in rng.sample(leaf, min(len(leaf), 6))]
        if rng.random() < 0.5:
            out.extend([_pipe(tail), _pipe(["---"] * len(tail)), _pipe(values)])
        else:
            out.extend([_pipe(values), _pipe(["---"] * len(values)), *_stacked(tail)])
        return out
    i = 0
    while i < len(rows):
        labels, values = rows[i]
        if not values:
            out.extend(_cut("".join(labels), rng, 0.5))
            i += 1
            continue
        size = rng.randint(3, 6)
        chunk: list[tuple[list[str], list[str]]] = []
        while i < len(rows) and rows[i][1] and len(chunk) < size:
            chunk.append(rows[i])
            i += 1
        if rng.random() < 0.65:  # labels first, then a run of value rows
            for labels, _ in chunk:
                for label in labels:
                    out.extend(_cut(label, rng, 0.3))
            for k, (_, values) in enumerate(chunk):
                out.append(_pipe(values))
                if k == 0:
                    out.append(_pipe(["---"] * len(values)))
        else:
            for k, (labels, values) in enumerate(chunk):
                out.append(_pipe(["".join(labels), *values] if labels else values))
                if k == 0:
                    out.append(_pipe(["---"] * (len(values) + bool(labels))))
        if rng.random() < 0.5:
            out.append("")
    return out


def _title(doc: Document) -> str:
    title = doc.metadata.get("title", "")
    opening = "".join(b.text for b in doc.blocks[:3]).replace(" ", "")
    return title if title and title.replace(" ", "") not in opening else ""


def scattered_markdown(doc: Document, rng: random.Random) -> str:
    """The report as a PDF-to-Markdown converter emits it at its worst: wrapped lines, page footers, tables
    as label lines followed by runs of ``| 0 | 0 | … |`` rows, headers cut across lines, t4's headers stacked."""
    out: list[str] = []
    title = _title(doc)
    if title:
        out.extend([title, ""])
    page = 1
    for block in doc.blocks:
        if block.kind == "table" and block.table is not None:
            out.extend(scattered_table(block.table, rng))
            out.append("")
        elif block.kind == "heading":
            out.extend(["", _printed(block.raw, block.text)])
        elif block.text:
            out.extend(_wrap(_printed(block.raw, block.text), rng))
            if rng.random() < 0.6:
                out.append("")
        if len(out) > 45 * page:
            out.append(f"— {page} —")
            page += 1
    return "\n".join(out) + "\n"


def run_together_text(doc: Document, rng: random.Random) -> str:
    """The report as a crawler's ``get_text()`` gives it: one body line, every table's cells concatenated."""
    parts: list[str] = []
    for block in doc.blocks:
        if block.kind == "table" and block.table is not None:
            parts.append("".join(_printed(c.raw, c.text).strip() for row in block.table.rows() for c in row))
        elif block.text:
            parts.append(_printed(block.raw, block.text))
    body = ""
    for part in parts:
        body += (" " if body and rng.random() < 0.3 else "") + part
    title = _title(doc) or doc.metadata.get("title", "")
    head = f"标题: {title}\n" if title else ""
    return f"{head}==================== 正文 ====================\n{body}\n"


# --- command line -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rendering", choices=sorted(RENDERINGS))
    ap.add_argument("family", choices=FAMILIES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rate", type=float, default=None)
    ap.add_argument("-o", "--out", type=Path, default=Path("."))
    args = ap.parse_args(argv)
    try:
        v = generate(args.rendering, args.family, args.seed, args.rate)
    except Skip as e:
        sys.exit(f"skipped: {e}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / v.name
    path.write_bytes(v.data)
    print(path, " ".join(v.steps), json.dumps(v.stats, ensure_ascii=False))


if __name__ == "__main__":
    main()
