"""Narrative paragraphs of a synthetic 政府信息公开工作年度报告, with the numbers that state facts labelled.

``narrative_paragraphs(rng, fmt, cells, agency, year)`` writes the preamble and the text of sections 一, 五
and 六 of one report. Facts of configs/classifier/facts.yaml are stated in many phrasings (cue words, word
order, units, 共/累计/全年 prefixes, thousands separators, numbers spaced as PDF text layers print them),
inside long sentences full of numbers that are NOT facts (dates, years, percentages, 文号, phone numbers,
other counts such as 关停政务新媒体2个); those stay O. Only the number is labelled, after
``service.normalize.clean``: every span is ``(start, end, label)`` into the cleaned paragraph text.

Values: a fact tied to the table (a cell, or a group sum of cells) states the value of ``cells`` (the
generated table) except for a controlled share (``CONTRADICTION_RATE``) that states another number on
purpose, as real reports sometimes contradict their own tables; text-only facts get plausible random values.

The phrasings are generic wording of such reports written for this generator; none is copied from the dev
reports (datasets/dev-reports is the classifier's test set).
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from service.normalize import clean
from service.resources import CONFIG_DIR, read_yaml
from service.schema import FORMATS

FACTS_PATH = CONFIG_DIR / "classifier" / "facts.yaml"
CONTRADICTION_RATE = 0.05  # share of table-linked fact mentions that state a number other than the table's

Span = tuple[int, int, str]
Paragraph = tuple[str, list[Span]]

# a labelled number as printed (after clean): 95, 1,234, 125.5
NUMBER_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use markers around a fact number until spans are computed


# --------------------------------------------------------------------------------------------- catalog


@dataclass(frozen=True)
class FactDef:
    """One entry of configs/classifier/facts.yaml."""

    id: str
    kind: str  # "cell" | "text"
    name_zh: str
    meaning: str
    units: tuple[str, ...]
    cues: tuple[str, ...]
    cells: dict[str, str] = field(default_factory=dict)
    formats: tuple[str, ...] = FORMATS
    sum_of: tuple[str, ...] = ()

    def applies(self, fmt: str) -> bool:
        return fmt in self.formats

    def label(self, fmt: str) -> str:
        """The label this fact carries in a document of format ``fmt``."""
        return self.cells.get(fmt, self.id)


@lru_cache(maxsize=4)
def load_catalog(path: Path = FACTS_PATH) -> dict[str, FactDef]:
    """Fact entries by id, in file order."""
    data = read_yaml(path) or {}
    out: dict[str, FactDef] = {}
    for e in data.get("facts", []):
        out[e["id"]] = FactDef(
            id=e["id"],
            kind=e["kind"],
            name_zh=e.get("name_zh", ""),
            meaning=e.get("meaning", ""),
            units=tuple(e.get("units", ())),
            cues=tuple(e.get("cues", ())),
            cells={str(k): v for k, v in (e.get("cells") or {}).items()},
            formats=tuple(str(f) for f in e.get("formats", FORMATS)),
            sum_of=tuple(e.get("sum_of", ())),
        )
    return out


def fact_labels(fmt: str | None = None) -> frozenset[str]:
    """Every label a narrative fact can carry (in format ``fmt``, or in any format)."""
    fmts = FORMATS if fmt is None else (fmt,)
    return frozenset(d.label(f) for d in load_catalog().values() for f in fmts if d.applies(f))


FACT_IDS: frozenset[str] = fact_labels()


def parse_fact_number(text: str) -> int | float:
    """The value of a labelled number ("1,234" -> 1234, "12.50" -> 12.5)."""
    text = text.replace(",", "")
    return float(text) if "." in text else int(text)


def table_value(fact_id: str, fmt: str, cells: dict[str, int | float | None]) -> int | float | None:
    """The value the table gives a fact (its cell, or the sum of its cells); None when it has none."""
    d = load_catalog()[fact_id]
    if not d.applies(fmt):
        return None
    if d.kind == "cell":
        v = cells.get(d.label(fmt))
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if d.sum_of:
        vals = [cells.get(c) for c in d.sum_of]
        nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if not nums:
            return None
        total = sum(nums)
        return int(total) if all(isinstance(v, int) for v in nums) else round(float(total), 4)
    return None


# ------------------------------------------------------------------------------------ text-only values

_RANDOM_RANGES: dict[str, tuple[int, int]] = {
    "x.proactive_items": (80, 30000),
    "x.policy_interpretations": (2, 400),
    "x.press_conferences": (1, 60),
    "x.website_items": (100, 40000),
    "x.new_media_items": (50, 25000),
    "x.online_interviews": (1, 40),
    "x.gazette_issues": (4, 24),
    "x.training_sessions": (1, 30),
    "x.trained_people": (15, 3000),
}


def _random_value(rng: random.Random, fid: str) -> int | float:
    if fid == "x.processing_fee":
        r = rng.random()
        if r < 0.6:
            return 0
        if r < 0.85:
            return rng.randint(1, 3000)
        return round(rng.uniform(1, 3000), rng.choice([1, 2]))
    if fid == "x.gazette_issues" and rng.random() < 0.6:
        return rng.choice([4, 6, 12, 12, 24, 24, 36, 52])
    lo, hi = _RANDOM_RANGES[fid]
    # log-uniform: small counts as likely as large ones
    return max(lo, min(hi, int(round(lo * (hi / lo) ** rng.random()))))


# -------------------------------------------------------------------------------------------- context


@dataclass
class _Ctx:
    rng: random.Random
    fmt: str
    cells: dict[str, int | float | None]
    agency: str
    year: int
    rate: float
    we: str = "我区"
    spaced: bool = False  # numbers printed with spaces around them (PDF text layers)
    comma: float = 0.3  # chance of a thousands separator on a number >= 1000
    catalog: dict[str, FactDef] = field(default_factory=load_catalog)
    _text_values: dict[str, int | float] = field(default_factory=dict)

    def available(self, fid: str) -> bool:
        d = self.catalog.get(fid)
        if d is None or not d.applies(self.fmt):
            return False
        if d.kind == "cell" or d.sum_of:
            return table_value(fid, self.fmt, self.cells) is not None
        return True

    def value(self, fid: str) -> int | float:
        """The true value of a fact: the table's, or one random value per text-only fact and report."""
        v = table_value(fid, self.fmt, self.cells)
        if v is not None:
            return v
        if fid not in self._text_values:
            self._text_values[fid] = _random_value(self.rng, fid)
        return self._text_values[fid]

    def stated(self, fid: str) -> tuple[str, int | float]:
        """(label, value stated): table-linked facts contradict the table at the controlled rate."""
        d = self.catalog[fid]
        v = self.value(fid)
        tied = d.kind == "cell" or bool(d.sum_of)
        if tied and self.rng.random() < self.rate:
            v = _other_number(self.rng, v)
        return d.label(self.fmt), v

    def num(self, v: int | float) -> str:
        """A number as printed: maybe with a thousands separator, maybe spaced."""
        if isinstance(v, float):
            decimals = self.rng.choice([1, 2]) if v != int(v) else self.rng.choice([0, 2])
            s = f"{v:,.{decimals}f}" if v >= 1000 and self.rng.random() < self.comma else f"{v:.{decimals}f}"
        else:
            s = f"{v:,}" if v >= 1000 and self.rng.random() < self.comma else str(v)
        return s

    def pad(self, s: str) -> str:
        return f" {s} " if self.spaced else s


def _other_number(rng: random.Random, v: int | float) -> int | float:
    """A plausible wrong number (never the true one)."""
    if isinstance(v, float):
        return round(v + rng.choice([-1, 1]) * rng.uniform(0.5, max(1.0, v * 0.3)), 2) if v > 1 else v + 1.5
    choices = [v + 1, v + rng.randint(2, 12), max(0, v - rng.randint(1, 10)), v * 10 + rng.randint(0, 9)]
    if v >= 10:
        s = str(v)
        swapped = int(s[:-2] + s[-1] + s[-2])
        choices.append(swapped)
    out = rng.choice([c for c in choices if c != v and c >= 0] or [v + 1])
    return out


# ----------------------------------------------------------------------------------------- rendering


class _Para:
    """Builds one paragraph: plain text and labelled numbers."""

    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx
        self.raw: list[str] = []
        self.labels: list[str] = []

    def text(self, s: str) -> None:
        self.raw.append(s)

    def fact(self, label: str, number: str) -> None:
        self.labels.append(label)
        pad = " " if self.ctx.spaced else ""
        self.raw.append(f"{pad}{_OPEN}{number}{_CLOSE}{pad}")

    def empty(self) -> bool:
        return not "".join(self.raw).strip()

    def render(self, fullwidth: bool = False) -> Paragraph:
        raw = "".join(self.raw)
        if fullwidth:  # full-width digits as some Word exports print them; clean folds them back
            raw = raw.translate(_FULLWIDTH_DIGITS)
        cleaned = clean(raw)
        out: list[str] = []
        spans: list[Span] = []
        pos = 0
        labels = iter(self.labels)
        i = 0
        while i < len(cleaned):
            ch = cleaned[i]
            if ch == _OPEN:
                j = cleaned.index(_CLOSE, i)
                number = cleaned[i + 1 : j]
                spans.append((pos, pos + len(number), next(labels)))
                out.append(number)
                pos += len(number)
                i = j + 1
                continue
            out.append(ch)
            pos += 1
            i += 1
        text = "".join(out)
        for s, e, lab in spans:
            assert NUMBER_RE.fullmatch(text[s:e]), (text[s:e], lab, text)
        return text, spans


_FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")

_CHOICE = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{([=\w.]+)\}")


def _facts_in(template: str) -> list[str]:
    return [m[1:] for m in _SLOT.findall(template) if m.startswith("=")]


def _emit(ctx: _Ctx, p: _Para, template: str) -> None:
    """Write a template: [a|b|c] picks one, {=fact.id} states a fact, {name} fills a non-fact slot."""
    rng = ctx.rng
    while True:
        m = _CHOICE.search(template)
        if not m:
            break
        template = template[: m.start()] + rng.choice(m.group(1).split("|")) + template[m.end() :]
    pos = 0
    for m in _SLOT.finditer(template):
        p.text(template[pos : m.start()])
        name = m.group(1)
        if name.startswith("="):
            label, v = ctx.stated(name[1:])
            p.fact(label, ctx.num(v))
        else:
            p.text(_fill(ctx, name))
        pos = m.end()
    p.text(template[pos:])


def _usable(ctx: _Ctx, template: str) -> bool:
    return all(ctx.available(f) for f in _facts_in(template))


def _say(ctx: _Ctx, p: _Para, templates: list[str]) -> bool:
    """Write one of the templates whose facts are all available; False when none is."""
    ok = [t for t in templates if _usable(ctx, t)]
    if not ok:
        return False
    _emit(ctx, p, ctx.rng.choice(ok))
    return True


# -------------------------------------------------------------------------------- non-fact fillers

_CATEGORIES = [
    "机构职能类", "政策文件类", "规划计划类", "财政预决算类", "人事信息类", "行政许可类", "行政处罚类",
    "重大项目类", "民生保障类", "应急管理类", "统计数据类", "公共资源配置类", "工作动态类", "通知公告类",
]
_ACCOUNTS = ["发布", "政务", "在线", "之声", "微政务", "融媒"]
_DOC_PREFIX = ["政办发", "政发", "政办", "办发", "政办函", "府办发", "管办", "政规"]


def _fill(ctx: _Ctx, name: str) -> str:
    rng = ctx.rng
    y = ctx.year
    pad = ctx.pad
    if name == "y":
        return pad(str(y))
    if name == "py":
        return pad(str(y - 1))
    if name == "ny":
        return pad(str(y + 1))
    if name == "we":
        return ctx.we
    if name == "ag":
        return ctx.agency
    if name == "pre":
        return rng.choice(["", "", "全年", "共", "累计", "全年共", "全年累计", "本年度", "本年度共", "年内",
                           f"{pad(str(y))}年", f"{pad(str(y))}年全年", "一年来"])
    if name == "pct":
        return pad(f"{rng.uniform(0.1, 99.9):.{rng.choice([1, 1, 2])}f}") + "%"
    if name == "k":
        return pad(str(rng.randint(2, 9)))
    if name == "m":
        return pad(ctx.num(rng.randint(10, 600)))
    if name == "big":
        return pad(ctx.num(rng.randint(1000, 999999)))
    if name == "wan":
        return pad(f"{rng.uniform(1, 900):.{rng.choice([0, 1, 2])}f}")
    if name == "date":
        return f"{pad(str(rng.randint(1, 12)))}月{pad(str(rng.randint(1, 28)))}日"
    if name == "fulldate":
        return f"{pad(str(y))}年{pad(str(rng.randint(1, 12)))}月{pad(str(rng.randint(1, 28)))}日"
    if name == "docno":
        return f"{rng.choice(_DOC_PREFIX)}〔{y - rng.choice([0, 0, 1, 2])}〕{rng.randint(1, 150)}号"
    if name == "gbdoc":  # national documents often cited in these reports
        return rng.choice(["国办公开办函〔2021〕30号", "国办函〔2020〕109号", "国办发〔2019〕14号",
                           "国办发〔2016〕80号", "国办公开办函〔2019〕60号"])
    if name == "phone":
        return f"0{rng.randint(10, 999)}-{rng.randint(10000000, 89999999)}"
    if name == "zip":
        return str(rng.randint(100000, 860000))
    if name == "room":
        return pad(str(rng.randint(1, 30)))
    if name == "cat":
        return rng.choice(_CATEGORIES)
    if name == "acct":
        short = ctx.agency[:2] if len(ctx.agency) >= 2 else ctx.agency
        return f"“{short}{rng.choice(_ACCOUNTS)}”"
    if name == "cats":  # a run of sub-counts, all O
        picks = rng.sample(_CATEGORIES, rng.randint(2, 5))
        return "，".join(f"{c}信息{pad(ctx.num(rng.randint(3, 900)))}条" for c in picks)
    raise KeyError(name)


def _filler(ctx: _Ctx, pool: list[str], n: tuple[int, int] = (0, 2)) -> str:
    picks = ctx.rng.sample(pool, min(len(pool), ctx.rng.randint(*n)))
    out = []
    for t in picks:
        p = _Para(ctx)
        _emit(ctx, p, t)
        assert not p.labels
        out.append("".join(p.raw))
    return "".join(out)


# ---------------------------------------------------------------------------------- fact phrasings

_NEW = "{=t3.new_received.total}"
_CO = "{=t3.carried_over.total}"
_RES = "{=t3.results_total.total}"
_CF = "{=t3.carried_forward.total}"

PHRASES: dict[str, list[str]] = {
    "t3.new_received.total": [
        "{pre}[共|]收到政府信息公开申请" + _NEW + "[件|个]",
        "{pre}受理政府信息公开申请" + _NEW + "件",
        "本年度新收政府信息公开申请" + _NEW + "件",
        "{pre}[共|]受理依申请公开[事项|申请]" + _NEW + "件",
        "{we}全年共收到" + _NEW + "件政府信息公开申请",
        "新收各类政府信息公开申请" + _NEW + "件",
        "依申请公开方面，{y}年[共|]受理" + _NEW + "件",
        "收到公民、法人和其他组织提出的政府信息公开申请" + _NEW + "件",
        "通过网上申请、信函、当面提交等渠道[共|]收到申请" + _NEW + "件",
        "接收政府信息公开申请共计" + _NEW + "件",
        "全年新收申请" + _NEW + "件，[同比增长|同比下降|较上年减少|较上年增加]{pct}",
        "政府信息公开申请数量为" + _NEW + "件",
        "{y}年度受理信息公开申请" + _NEW + "[个|件]",
        "本机关[共|]收到依申请公开" + _NEW + "[件|宗]",
    ],
    "t3.carried_over.total": [
        "上年结转" + _CO + "件",
        "上年度结转申请" + _CO + "件",
        "另有上一年度结转申请" + _CO + "件",
        "加上{py}年结转的" + _CO + "件",
        "上年度遗留申请" + _CO + "件",
        "{py}年结转至本年度办理的申请" + _CO + "件",
        "从上年度结转" + _CO + "件",
        "上年结转[申请|的申请]" + _CO + "件",
    ],
    "t3.results_total.total": [
        "[已|]办结" + _RES + "件",
        "已全部办结，共" + _RES + "件",
        "共答复" + _RES + "件",
        "本年度办理完毕" + _RES + "件",
        "依法予以答复" + _RES + "件",
        "按时办结" + _RES + "件",
        "全年答复政府信息公开申请" + _RES + "件",
        "[共|]办理答复" + _RES + "件",
        "办结率100%，[共|]办结" + _RES + "件",
        "在法定期限内答复" + _RES + "件",
    ],
    "t3.carried_forward.total": [
        "结转下年度继续办理" + _CF + "件",
        _CF + "件结转至{ny}年继续办理",
        "尚有" + _CF + "件转入下一年度办理",
        "另有" + _CF + "件因尚在法定答复期限内顺延至下年度答复",
        "结转下年度" + _CF + "件",
        _CF + "件申请因未到答复期限结转下年",
        "[跨年度|跨年]办理的" + _CF + "件",
        "结转{ny}年办理" + _CF + "件",
    ],
    "t3.granted.total": [
        "予以公开{=t3.granted.total}件",
        "同意公开{=t3.granted.total}件",
        "全部公开{=t3.granted.total}件",
        "其中予以公开的{=t3.granted.total}件",
        "决定予以公开{=t3.granted.total}件",
        "答复予以公开的有{=t3.granted.total}件",
        "予以公开类答复{=t3.granted.total}件",
        "依法予以公开{=t3.granted.total}件",
    ],
    "t3.partially_granted.total": [
        "部分公开{=t3.partially_granted.total}件",
        "部分予以公开{=t3.partially_granted.total}件",
        "区分处理后部分公开{=t3.partially_granted.total}件",
        "作出部分公开答复{=t3.partially_granted.total}件",
        "部分公开的{=t3.partially_granted.total}件",
        "部分公开类{=t3.partially_granted.total}件",
        "经区分处理部分公开{=t3.partially_granted.total}件",
        "予以部分公开{=t3.partially_granted.total}件",
    ],
    "x.granted_or_partial": [
        "予以公开及部分公开{=x.granted_or_partial}件",
        "予以公开和部分公开的共{=x.granted_or_partial}件",
        "公开或部分公开{=x.granted_or_partial}件",
        "全部或部分公开{=x.granted_or_partial}件",
        "同意公开和部分公开{=x.granted_or_partial}件",
        "予以公开（含部分公开）{=x.granted_or_partial}件",
        "答复公开及部分公开{=x.granted_or_partial}件",
        "属于公开或部分公开情形的{=x.granted_or_partial}件",
    ],
    "x.denied_total": [
        "不予公开{=x.denied_total}件",
        "决定不予公开的{=x.denied_total}件",
        "依法不予公开{=x.denied_total}件",
        "属于不予公开范围的{=x.denied_total}件",
        "作出不予公开答复{=x.denied_total}件",
        "因涉及国家秘密、第三方合法权益等原因不予公开{=x.denied_total}件",
        "不予公开类{=x.denied_total}件",
        "告知不予公开{=x.denied_total}件",
    ],
    "x.unable_total": [
        "无法提供{=x.unable_total}件",
        "因本机关不掌握等原因无法提供{=x.unable_total}件",
        "信息不存在无法提供{=x.unable_total}件",
        "告知信息不存在等无法提供的{=x.unable_total}件",
        "无法提供类{=x.unable_total}件",
        "属于无法提供情形的{=x.unable_total}件",
        "因不掌握相关信息、需另行制作等无法提供{=x.unable_total}件",
        "答复无法提供的{=x.unable_total}件",
    ],
    "x.not_processed_total": [
        "不予处理{=x.not_processed_total}件",
        "属于信访举报、重复申请等情形不予处理{=x.not_processed_total}件",
        "作出不予处理决定{=x.not_processed_total}件",
        "不予处理的{=x.not_processed_total}件",
        "依法不予处理{=x.not_processed_total}件",
        "告知不予处理{=x.not_processed_total}件",
        "不予处理类{=x.not_processed_total}件",
        "对重复申请等作出不予处理{=x.not_processed_total}件",
    ],
    "t3.other_processing.total": [
        "其他处理{=t3.other_processing.total}件",
        "以其他方式处理{=t3.other_processing.total}件",
        "其他处理情形{=t3.other_processing.total}件",
        "作其他处理{=t3.other_processing.total}件",
        "其他处理{=t3.other_processing.total}件（含申请人撤回申请{k}件）",
        "[属于|]其他处理的{=t3.other_processing.total}件",
    ],
    "x.other_processing_total": [
        "其他处理{=x.other_processing_total}件",
        "以其他方式处理{=x.other_processing_total}件",
        "其他处理情形{=x.other_processing_total}件",
        "作其他处理{=x.other_processing_total}件",
        "其他处理{=x.other_processing_total}件（含申请人撤回申请{k}件）",
        "逾期不补正、撤回等其他处理{=x.other_processing_total}件",
    ],
    "t4.review.total": [
        "行政复议{=t4.review.total}件",
        "被申请行政复议{=t4.review.total}[件|起]",
        "因政府信息公开工作被申请行政复议{=t4.review.total}[起|件]",
        "发生政府信息公开类行政复议案件{=t4.review.total}件",
        "涉及政府信息公开的行政复议{=t4.review.total}[宗|件]",
        "收到政府信息公开行政复议申请{=t4.review.total}件",
        "行政复议案件共{=t4.review.total}件",
        "被申请人为本机关的政府信息公开行政复议{=t4.review.total}件",
    ],
    "x.litigation_total": [
        "行政诉讼{=x.litigation_total}件",
        "被提起行政诉讼{=x.litigation_total}起",
        "行政诉讼案件{=x.litigation_total}件",
        "诉讼{=x.litigation_total}件",
        "因政府信息公开被提起行政诉讼{=x.litigation_total}[件|起]",
        "政府信息公开行政诉讼{=x.litigation_total}宗",
        "行政应诉案件{=x.litigation_total}件",
        "被诉行政诉讼案件共{=x.litigation_total}起",
    ],
    "t4.litigation_direct.total": [
        "未经复议直接起诉{=t4.litigation_direct.total}件",
        "直接提起行政诉讼{=t4.litigation_direct.total}件",
        "未经复议直接向人民法院起诉的{=t4.litigation_direct.total}起",
        "申请人直接起诉{=t4.litigation_direct.total}件",
    ],
    "t4.litigation_after_review.total": [
        "复议后起诉{=t4.litigation_after_review.total}件",
        "经复议后提起行政诉讼{=t4.litigation_after_review.total}件",
        "复议后又提起诉讼的{=t4.litigation_after_review.total}起",
        "经行政复议后起诉{=t4.litigation_after_review.total}件",
    ],
    "t2.art20_1.regulations.issued_this_year": [
        "制发规章{=t2.art20_1.regulations.issued_this_year}件",
        "出台政府规章{=t2.art20_1.regulations.issued_this_year}件",
        "主动公开规章{=t2.art20_1.regulations.issued_this_year}件",
        "制定并公布政府规章{=t2.art20_1.regulations.issued_this_year}部",
        "本年新制定规章{=t2.art20_1.regulations.issued_this_year}件",
        "以政府令形式公布规章{=t2.art20_1.regulations.issued_this_year}件",
        "印发政府规章{=t2.art20_1.regulations.issued_this_year}件",
        "公开{ag}规章{=t2.art20_1.regulations.issued_this_year}件",
    ],
    "t2.art20_1.normative_documents.issued_this_year": [
        "制发行政规范性文件{=t2.art20_1.normative_documents.issued_this_year}件",
        "印发规范性文件{=t2.art20_1.normative_documents.issued_this_year}件",
        "出台行政规范性文件{=t2.art20_1.normative_documents.issued_this_year}份",
        "公开行政规范性文件{=t2.art20_1.normative_documents.issued_this_year}件",
        "本年度新制定规范性文件{=t2.art20_1.normative_documents.issued_this_year}件",
        "经合法性审核后发布规范性文件{=t2.art20_1.normative_documents.issued_this_year}件",
        "制定出台规范性文件{=t2.art20_1.normative_documents.issued_this_year}个",
        "主动公开规范性文件{=t2.art20_1.normative_documents.issued_this_year}件",
        "[新|]制发[的|]规范性文件共{=t2.art20_1.normative_documents.issued_this_year}件",
    ],
    "x.proactive_items": [
        "{pre}主动公开政府信息{=x.proactive_items}条",
        "全年共主动公开各类政府信息{=x.proactive_items}条",
        "累计公开政府信息{=x.proactive_items}条",
        "通过各类渠道主动公开信息{=x.proactive_items}条",
        "主动公开政府信息共计{=x.proactive_items}条",
        "共公布政府信息{=x.proactive_items}条",
        "主动公开{=x.proactive_items}条政府信息",
        "发布主动公开信息{=x.proactive_items}[条|件]",
        "{y}年主动公开政府信息数量达{=x.proactive_items}条",
        "{we}各单位主动公开政府信息{=x.proactive_items}条",
        "主动公开各类政务信息{=x.proactive_items}条",
    ],
    "x.website_items": [
        "通过政府门户网站发布信息{=x.website_items}条",
        "门户网站[全年|]更新信息{=x.website_items}条",
        "在政府网站发布各类信息{=x.website_items}条",
        "政府网站全年发布政务信息{=x.website_items}条",
        "网站累计发布信息{=x.website_items}篇",
        "门户网站共发布动态信息{=x.website_items}条",
        "政府门户网站发布信息总量达{=x.website_items}条",
        "依托门户网站发布各类信息{=x.website_items}条",
    ],
    "x.new_media_items": [
        "通过政务微信公众号发布信息{=x.new_media_items}条",
        "政务新媒体发布信息{=x.new_media_items}条",
        "政务微博发布{=x.new_media_items}条",
        "{acct}微信公众号[全年|]推送信息{=x.new_media_items}条",
        "政务新媒体累计推送{=x.new_media_items}篇",
        "通过抖音、视频号等新媒体平台发布{=x.new_media_items}条",
        "政务新媒体[共|]发布各类信息{=x.new_media_items}条",
        "依托{acct}等政务新媒体发布信息{=x.new_media_items}条",
    ],
    "x.policy_interpretations": [
        "发布政策解读{=x.policy_interpretations}篇",
        "[共|]发布政策解读材料{=x.policy_interpretations}件",
        "对{=x.policy_interpretations}[项|件]重要政策文件进行解读",
        "采用图解、视频等形式解读政策{=x.policy_interpretations}件",
        "发布解读文章{=x.policy_interpretations}篇",
        "推出政策解读{=x.policy_interpretations}条",
        "制作图文解读{=x.policy_interpretations}期",
        "政策解读共{=x.policy_interpretations}件",
        "[开展|完成]政策解读{=x.policy_interpretations}[篇|件|次]",
    ],
    "x.press_conferences": [
        "召开新闻发布会{=x.press_conferences}场",
        "举办新闻发布会{=x.press_conferences}次",
        "组织召开新闻发布会{=x.press_conferences}场",
        "举行新闻发布会{=x.press_conferences}场",
        "召开各类新闻发布会{=x.press_conferences}[期|场]",
        "参加{ag}新闻发布会{=x.press_conferences}次",
        "[共|]召开政策发布会、新闻发布会{=x.press_conferences}场",
        "通过新闻发布会{=x.press_conferences}场发布重要信息",
    ],
    "x.online_interviews": [
        "开展在线访谈{=x.online_interviews}期",
        "组织网上访谈{=x.online_interviews}场",
        "举办在线访谈活动{=x.online_interviews}次",
        "邀请部门负责人参加在线访谈{=x.online_interviews}期",
        "在线访谈{=x.online_interviews}期",
        "开展网络在线访谈{=x.online_interviews}场",
        "举办“局长在线访谈”{=x.online_interviews}期",
        "围绕热点开展在线访谈{=x.online_interviews}[期|次]",
    ],
    "x.gazette_issues": [
        "编发《{ag}公报》{=x.gazette_issues}期",
        "全年出版政府公报{=x.gazette_issues}期",
        "编印政府公报{=x.gazette_issues}期，刊登文件{m}件",
        "政府公报共刊发{=x.gazette_issues}期",
        "按时编印公报{=x.gazette_issues}期",
        "出版《政府公报》{=x.gazette_issues}期",
        "编辑出版政府公报{=x.gazette_issues}期，发放{big}份",
        "全年共编发公报{=x.gazette_issues}期",
    ],
    "x.training_sessions": [
        "组织业务培训{=x.training_sessions}次",
        "开展政务公开专题培训{=x.training_sessions}场",
        "举办培训班{=x.training_sessions}期",
        "全年共开展培训{=x.training_sessions}场次",
        "召开政务公开业务培训会{=x.training_sessions}次",
        "组织政府信息公开业务培训{=x.training_sessions}[次|场]",
        "开展[集中|线上|专题]培训{=x.training_sessions}[次|批次|期]",
        "举办政务公开工作培训{=x.training_sessions}场",
    ],
    "x.trained_people": [
        "培训{=x.trained_people}人次",
        "参训人员{=x.trained_people}人次",
        "共培训工作人员{=x.trained_people}人次",
        "累计培训{=x.trained_people}人",
        "培训各级工作人员{=x.trained_people}人次",
        "参加培训{=x.trained_people}人次",
        "覆盖{=x.trained_people}人次",
        "参训人数达{=x.trained_people}人次",
    ],
    "x.processing_fee": [
        "收取信息处理费{=x.processing_fee}元",
        "全年共收取政府信息公开信息处理费{=x.processing_fee}元",
        "按照规定收取信息处理费{=x.processing_fee}元",
        "信息处理费收取金额为{=x.processing_fee}元",
        "本年度收取信息处理费共计{=x.processing_fee}元",
        "{we}[共|]收取政府信息公开信息处理费{=x.processing_fee}元",
    ],
}
# 2019 cells of the same statements (one row in 2019; three sub-rows in 2021) share the phrasings
_OTHER_PROCESSING = ("t3.other_processing.total", "x.other_processing_total")


def _fact(ctx: _Ctx, p: _Para, fid: str) -> bool:
    """State one fact in one of its phrasings; False when it does not apply or has no value."""
    if fid == "other_processing":
        return any(ctx.available(f) and _say(ctx, p, PHRASES[f]) for f in _OTHER_PROCESSING)
    return ctx.available(fid) and _say(ctx, p, PHRASES[fid])


# --------------------------------------------------------------------------------- non-fact pools

_INTRO = [
    "{y}年，{ag}坚持以习近平新时代中国特色社会主义思想为指导，认真贯彻落实《中华人民共和国政府信息公开条例》，",
    "{y}年，在上级政务公开主管部门的指导下，{we}深入推进政务公开工作，",
    "{y}年以来，{ag}紧紧围绕中心工作，坚持“以公开为常态、不公开为例外”，",
    "{y}年，{we}全面贯彻党中央、国务院关于全面推进政务公开工作的决策部署，",
    "一年来，{ag}严格执行《中华人民共和国政府信息公开条例》（以下简称《条例》），",
]
_INTRO_TAIL = [
    "不断提升政府工作透明度，切实保障人民群众知情权、参与权、表达权和监督权。",
    "持续深化重点领域信息公开，政务公开工作取得积极成效。",
    "围绕稳增长、优服务、惠民生等重点任务，扎实推进决策、执行、管理、服务、结果公开。",
    "以公开促落实、以公开优服务、以公开强监督，政务公开质量和实效持续提升。",
]
_FILL_PROACTIVE = [
    "坚持“应公开尽公开”，重点做好财政预决算、重大建设项目、公共资源配置等领域信息公开。",
    "及时更新政府信息公开指南和主动公开目录，方便公众查询获取。",
    "动态调整主动公开基本目录，规范公开内容和公开时限。",
    "围绕群众关切，加大稳就业、保民生等方面政策的公开力度。",
    "及时公开部门预决算、“三公”经费等财政信息，共涉及{k}个预算单位。",
    "统计期内更新公开目录{k}次。",
    "公开时限自信息形成或变更之日起{k}个工作日内。",
    "于{date}前完成{py}年度部门决算公开工作。",
    "按照《政务公开工作要点》（{docno}）要求逐项抓好落实。",
]
_FILL_APPLY = [
    "进一步规范依申请公开受理、审查、答复等环节，做到程序合法、答复规范。",
    "完善依申请公开工作流程，严格执行法定答复期限。",
    "畅通网上申请、信函申请和当面申请等渠道，提升办理质效。",
    "对疑难复杂申请组织会商研判，确保答复内容准确、依据充分。",
    "加强与申请人的沟通，必要时通过电话、面谈等方式了解申请人的实际需求。",
    "答复平均用时{k}个工作日，较法定期限缩短{k}个工作日。",
]
_FILL_MANAGE = [
    "严格落实信息发布保密审查制度，坚持“先审查、后公开”和“一事一审”原则。",
    "开展规范性文件清理工作，建立健全动态更新机制。",
    "健全公文公开属性源头认定机制，拟制公文时同步明确公开方式。",
    "完成公文公开属性审查{m}件。",
    "严把政治关、法律关、政策关、保密关和文字关。",
    "对{k}个单位的信息发布情况开展抽查。",
]
_FILL_PLATFORM = [
    "加强政府网站和政务新媒体日常监测，及时整改错别字、链接失效等问题。",
    "持续优化政府信息公开专栏设置，提升信息检索便利度。",
    "关停整合更新缓慢的政务新媒体账号{k}个。",
    "完成网站集约化迁移，{k}个部门网站全部纳入集约化平台管理。",
    "门户网站全年访问量达{big}人次。",
    "新增专题专栏{k}个，调整栏目{m}个。",
    "政务新媒体粉丝总数达{wan}万。",
    "对网站开展安全检测{k}次，未发生网络安全事件。",
    "开通政务服务热线，联系电话{phone}。",
]
_FILL_SUPERVISE = [
    "将政务公开纳入年度绩效考核，考核分值占比{pct}。",
    "定期开展政务公开工作检查，对发现的问题督促限期整改。",
    "组织开展季度检查{k}次，通报问题{m}个。",
    "邀请第三方机构开展政务公开评估。",
    "建立政务公开工作责任追究机制，全年未发生责任追究情况。",
    "发现并整改问题{m}个，整改率100%。",
    "聘请政务公开社会监督员{k}名。",
]
_FILL_PROBLEMS = [
    "对照新形势新要求，政务公开工作仍存在一些不足：",
    "一是公开内容的深度和广度有待拓展；",
    "二是政策解读形式还不够丰富，解读质量有待提升；",
    "三是基层政务公开工作人员业务能力有待加强。",
    "下一步，我们将进一步完善工作机制，加强业务培训，推动政务公开工作提质增效。",
    "针对上年度指出的{k}个问题，已逐项制定整改措施并全部整改到位。",
    "{ny}年，将重点抓好以下工作：一是加强组织领导；二是深化重点领域公开；三是优化平台建设。",
    "力争在{ny}年{date}前完成政务公开标准目录修订。",
    "继续严格落实《条例》和上级关于政务公开工作的各项部署。",
]
_FILL_OTHER = [
    "全年办理人大代表建议{m}件、政协委员提案{m}件，办理结果均已按要求公开。",
    "按照《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）规定执行。",
    "认真落实政务公开工作要点，{k}项重点任务全部完成。",
    "本年度无其他需要报告的事项。",
    "本机关无其他需要报告的事项。",
    "落实《{y}年政务公开工作要点》（{docno}）情况良好。",
]
_PREAMBLE = [
    "本报告根据《中华人民共和国政府信息公开条例》（以下简称《条例》）[和|、]《关于印发中华人民共和国政府信息公开"
    "工作年度报告格式的通知》（{gbdoc}）要求编制。",
    "本报告由{ag}[编制|办公室编制]，内容包括总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况、"
    "政府信息公开行政复议和行政诉讼情况、存在的主要问题及改进情况、其他需要报告的事项。",
    "本报告中所列数据的统计期限自{fulldate}起至{y}年12月31日止。",
    "本报告中所列数据统计期限为{y}年1月1日至{y}年12月31日。",
    "本报告电子版可在{ag}门户网站下载。",
    "如对本报告有任何疑问，请与{ag}办公室联系（地址：人民路{m}号{room}楼，邮编：{zip}，电话：{phone}）。",
    "联系电话：{phone}，传真：{phone}。",
]

_CN = "一二三四五六七八九十"


def _marker(ctx: _Ctx, i: int, style: int) -> str:
    if style == 0:
        return f"（{_CN[i]}）"
    if style == 1:
        return f"{i + 1}."
    return f"{_CN[i]}是"


# ------------------------------------------------------------------------------ section writers


def _join_facts(ctx: _Ctx, p: _Para, fids: list[str], sep: list[str], end: str = "。",
                after: Callable[[], None] | None = None) -> int:
    """State several facts in a run ("…件，…件；…件"), skipping those unavailable; returns how many.
    ``after`` writes something after each fact (a share such as （占12.5%））."""
    n = 0
    for fid in fids:
        tmp = _Para(ctx)
        if not _fact(ctx, tmp, fid):
            continue
        if n:
            p.text(ctx.rng.choice(sep))
        p.raw.extend(tmp.raw)
        p.labels.extend(tmp.labels)
        if after is not None:
            after()
        n += 1
    if n:
        p.text(end)
    return n


def _maybe(ctx: _Ctx, prob: float) -> bool:
    return ctx.rng.random() < prob


def _proactive(ctx: _Ctx, p: _Para) -> None:
    rng = ctx.rng
    p.text(_filler(ctx, _FILL_PROACTIVE, (0, 2)))
    if _maybe(ctx, 0.7) and _fact(ctx, p, "x.proactive_items"):
        if _maybe(ctx, 0.35):
            p.text("，其中")
            _emit(ctx, p, "{cats}")
        elif _maybe(ctx, 0.3):
            _emit(ctx, p, "，[同比增长|较上年增长|同比减少]{pct}")
        p.text(rng.choice(["。", "，主要通过政府网站、政务新媒体、政府公报等渠道发布。", "。"]))
    docs = [f for f in ("t2.art20_1.regulations.issued_this_year", "t2.art20_1.normative_documents.issued_this_year")
            if _maybe(ctx, 0.4)]
    if docs:
        _emit(ctx, p, "[|{y}年，|全年|本年度]")
        _join_facts(ctx, p, docs, ["，", "、", "；"])
        if _maybe(ctx, 0.3):
            _emit(ctx, p, "其他文件{m}件，人事任免信息{m}条。")
    p.text(_filler(ctx, _FILL_PROACTIVE, (0, 1)))
    extra = [f for f, pr in (("x.policy_interpretations", 0.5), ("x.press_conferences", 0.35),
                             ("x.online_interviews", 0.2)) if _maybe(ctx, pr)]
    rng.shuffle(extra)
    for fid in extra:
        p.text(rng.choice(["", "做好政策解读，", "加强解读回应，", "围绕重大政策，", "全年"]))
        _fact(ctx, p, fid)
        if _maybe(ctx, 0.3):
            _emit(ctx, p, rng.choice(["，回应社会关切{m}条", "，解读率达到100%", "，阅读量{big}次",
                                      "，发布会日期为{date}"]))
        p.text("。")


def _application(ctx: _Ctx, p: _Para) -> None:
    rng = ctx.rng
    p.text(_filler(ctx, _FILL_APPLY, (0, 2)))
    _emit(ctx, p, "[|{y}年，|本年度，|全年|统计期内，]")
    flow = ["t3.new_received.total"]
    if _maybe(ctx, 0.5):
        flow.append("t3.carried_over.total")
    if _maybe(ctx, 0.7):
        flow.append("t3.results_total.total")
    if _maybe(ctx, 0.5):
        flow.append("t3.carried_forward.total")
    if _maybe(ctx, 0.15):
        rng.shuffle(flow)
    _join_facts(ctx, p, flow, ["，", "，", "；"], rng.choice(["。", "，均在法定期限内答复。", "。"]))
    if _maybe(ctx, 0.6):
        if _maybe(ctx, 0.5):
            outcomes = ["t3.granted.total", "t3.partially_granted.total"]
        else:
            outcomes = ["x.granted_or_partial"]
        outcomes += ["x.denied_total", "x.unable_total", "x.not_processed_total", "other_processing"]
        outcomes = [o for o in outcomes if _maybe(ctx, 0.8)]
        p.text(rng.choice(["从办理结果看，", "其中，", "办理结果中，", ""]))
        pct = _maybe(ctx, 0.35)

        def share() -> None:
            _emit(ctx, p, rng.choice(["（{pct}）", "，占{pct}", "（占比{pct}）"]))

        _join_facts(ctx, p, outcomes, ["，", "；", "，"], after=share if pct else None)
    if _maybe(ctx, 0.45):
        p.text(rng.choice(["全年", "本年度", "", "因政府信息公开工作，"]))
        if _maybe(ctx, 0.3):
            _join_facts(ctx, p, ["t4.review.total", "t4.litigation_direct.total", "t4.litigation_after_review.total"],
                        ["，", "；", "，"], "")
        else:
            _join_facts(ctx, p, ["t4.review.total", "x.litigation_total"], ["，", "、", "，"], "")
        _emit(ctx, p, "[。|。|，均已依法办理。|，已按规定报送结果。]")
    p.text(_filler(ctx, _FILL_APPLY, (0, 1)))


def _management(ctx: _Ctx, p: _Para) -> None:
    p.text(_filler(ctx, _FILL_MANAGE, (1, 3)))
    if _maybe(ctx, 0.35) and _fact(ctx, p, "x.gazette_issues"):
        p.text("。")
    p.text(_filler(ctx, _FILL_MANAGE, (0, 1)))


def _platform(ctx: _Ctx, p: _Para) -> None:
    p.text(_filler(ctx, _FILL_PLATFORM, (1, 2)))
    for fid in ("x.website_items", "x.new_media_items"):
        if _maybe(ctx, 0.4):
            _emit(ctx, p, "[|全年|{y}年|累计]")
            _fact(ctx, p, fid)
            p.text("。")
    p.text(_filler(ctx, _FILL_PLATFORM, (0, 2)))


def _supervision(ctx: _Ctx, p: _Para) -> None:
    p.text(_filler(ctx, _FILL_SUPERVISE, (1, 2)))
    _training(ctx, p, 0.5)
    p.text(_filler(ctx, _FILL_SUPERVISE, (0, 2)))


def _training(ctx: _Ctx, p: _Para, prob: float) -> None:
    if not _maybe(ctx, prob):
        return
    rng = ctx.rng
    p.text(rng.choice(["加强业务培训，", "", "抓好队伍建设，"]))
    facts = ["x.training_sessions"] + (["x.trained_people"] if _maybe(ctx, 0.6) else [])
    if _maybe(ctx, 0.2):
        facts = ["x.trained_people"]
    _join_facts(ctx, p, facts, ["，", "，", "，共"], rng.choice(["。", "，有效提升了工作人员业务水平。"]))


_S1_PARTS: list[tuple[str, list[str], Callable[[_Ctx, _Para], None]]] = [
    ("proactive", ["主动公开情况", "主动公开方面", "主动公开政府信息", "积极推进主动公开"], _proactive),
    ("application", ["依申请公开情况", "依申请公开方面", "规范依申请公开", "依申请公开办理"], _application),
    ("management", ["政府信息管理情况", "政府信息管理方面", "加强政府信息管理"], _management),
    ("platform", ["平台建设情况", "政府信息公开平台建设情况", "平台载体建设方面", "加强平台建设"], _platform),
    ("supervision", ["监督保障情况", "监督保障方面", "强化监督保障", "政府信息公开监督保障情况"], _supervision),
]


def _intro(ctx: _Ctx) -> _Para:
    p = _Para(ctx)
    _emit(ctx, p, ctx.rng.choice(_INTRO))
    _emit(ctx, p, ctx.rng.choice(_INTRO_TAIL))
    if _maybe(ctx, 0.3):  # a summary of the year's figures before the details
        p.text(ctx.rng.choice(["全年", "本年度", "一年来，"]))
        _join_facts(ctx, p, [f for f in ("x.proactive_items", "t3.new_received.total", "x.policy_interpretations")
                             if _maybe(ctx, 0.6)], ["，", "，", "；"])
    return p


def _section1(ctx: _Ctx) -> list[_Para]:
    rng = ctx.rng
    paras = [_intro(ctx)]
    parts = list(_S1_PARTS)
    if _maybe(ctx, 0.1):
        rng.shuffle(parts)
    parts = [pt for pt in parts if _maybe(ctx, 0.9)]
    style = rng.choice([0, 0, 0, 1, 2])
    one_block = _maybe(ctx, 0.15)  # the whole section as one paragraph
    heading_alone = _maybe(ctx, 0.25)  # "（一）主动公开方面" as its own paragraph
    block = paras[0] if one_block else None
    for i, (_, titles, writer) in enumerate(parts):
        title = _marker(ctx, i, style) + rng.choice(titles)
        if block is not None:
            block.text(title + rng.choice(["。", "：", ""]))
            writer(ctx, block)
            continue
        if heading_alone:
            h = _Para(ctx)
            h.text(title)
            paras.append(h)
            p = _Para(ctx)
        else:
            p = _Para(ctx)
            p.text(title + rng.choice(["。", "：", "。"] + ([""] if style == 0 else [])))
        writer(ctx, p)
        paras.append(p)
    return paras


def _section5(ctx: _Ctx) -> list[_Para]:
    p = _Para(ctx)
    rng = ctx.rng
    head = _FILL_PROBLEMS[: rng.randint(1, 5)]  # in order: the problems, then the plans
    if rng.random() < 0.3:
        head = head[1:]
    for t in head:
        _emit(ctx, p, t)
    _training(ctx, p, 0.15)
    p.text(_filler(ctx, _FILL_PROBLEMS[5:], (0, 3)))
    if p.empty():
        _emit(ctx, p, _FILL_PROBLEMS[4])
    return [p]


def _section6(ctx: _Ctx) -> list[_Para]:
    rng = ctx.rng
    p = _Para(ctx)
    if _maybe(ctx, 0.15):
        p.text(rng.choice(["无。", "无", "本年度无其他需要报告的事项。"]))
        return [p]
    fee_prob = 0.65 if ctx.fmt == "2021" else 0.3
    if _maybe(ctx, fee_prob):
        _emit(ctx, p, "[|{y}年，|本年度|依据《政府信息公开信息处理费管理办法》，]")
        if _maybe(ctx, 0.3):
            p.text(rng.choice(["未收取信息处理费。", "本机关未收取政府信息公开信息处理费。", "无收取信息处理费情况。"]))
        else:
            _fact(ctx, p, "x.processing_fee")
            p.text("。")
    p.text(_filler(ctx, _FILL_OTHER[:3] + _FILL_OTHER[5:], (0, 2)))
    if p.empty():
        p.text(rng.choice(_FILL_OTHER[3:5]))
    return [p]


def _preamble(ctx: _Ctx) -> list[_Para]:
    p = _Para(ctx)
    picks = [t for t in _PREAMBLE if _maybe(ctx, 0.55)] or [_PREAMBLE[0]]
    if _PREAMBLE[2] in picks and _PREAMBLE[3] in picks:  # one statistics period only
        picks.remove(ctx.rng.choice(_PREAMBLE[2:4]))
    for t in picks:
        _emit(ctx, p, t)
    return [p]


# ---------------------------------------------------------------------------------------- public API


def narrative_paragraphs(
    rng: random.Random,
    fmt: str,
    cells: dict[str, int | float | None],
    agency: str,
    year: int,
    *,
    contradiction_rate: float = CONTRADICTION_RATE,
) -> dict[str, list[tuple[str, list[tuple[int, int, str]]]]]:
    """Paragraphs per section ("preamble" when drawn, "s1", "s5", "s6"), each (text, spans).

    ``cells`` is the generated table (cell id -> value, None for a printed blank); table-linked facts state
    its values (but for ``contradiction_rate`` of their mentions). Texts are cleaned as real inputs are;
    spans cover the number only and carry the fact's label for format ``fmt``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    ctx = _Ctx(rng=rng, fmt=fmt, cells=cells, agency=agency, year=year, rate=contradiction_rate)
    ctx.we = rng.choice(["我区", "我县", "我市", "我局", "我委", "本机关", "我办", agency])
    ctx.spaced = rng.random() < 0.15
    ctx.comma = rng.choice([0.0, 0.3, 0.8])
    fullwidth = rng.random() < 0.05
    out: dict[str, list[Paragraph]] = {}
    if rng.random() < 0.5:
        out["preamble"] = [p.render(fullwidth) for p in _preamble(ctx)]
    out["s1"] = [p.render(fullwidth) for p in _section1(ctx) if not p.empty()]
    out["s5"] = [p.render(fullwidth) for p in _section5(ctx)]
    out["s6"] = [p.render(fullwidth) for p in _section6(ctx)]
    return out
