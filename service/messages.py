"""The review reasons, deviations and rule results in the reviewer's language (configs/messages/reasons.yaml).

Every stage that flags a cell appends its reason through :func:`add_reason` (or builds it with :func:`reason`):
the English text goes into ``CellValue.review_reasons`` exactly as before (existing clients, the eval), the code
and its parameters into ``CellValue.review_codes``, one for one. :func:`render` turns a code into English or
Chinese; :func:`parse` reads an English reason back into its code (results stored before the codes existed, the
store's "; "-joined reasons). :func:`check_text` writes a rule result as the equation in printed labels with its
numbers (一 + 二 = 三（七）总计 + 四：…).

A YAML catalogue rather than gettext/Babel: Babel is not installed, the reasons need named parameters in both
languages and a way back from the English text to the code, and the catalogue is read as the schema is (one
YAML file under configs/, no compile step)."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, Literal

from service.resources import read_yaml
from service.result import CellValue, Check, ReasonCode
from service.schema import DEFAULT_FORMAT, cell_label, printed_labels, row_label, table_name

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
CATALOGUE = "configs/messages/reasons.yaml"
NOT_READ = "not_read"  # the prefix code of an expected cell that was not read (coverage)


@cache
def catalogue() -> dict[str, Any]:
    return read_yaml(CATALOGUE)


def _templates(section: str) -> dict[str, dict[str, str]]:
    return catalogue()[section]


def reason(code: str, **params: str | int | float) -> ReasonCode:
    """A reason of the catalogue; KeyError for a code it does not have (caught by the tests, not by the reader)."""
    base = code.split(".", 1)[1] if code.startswith(NOT_READ + ".") else code
    if base not in _templates("reasons"):
        raise KeyError(f"review reason {code!r} is not in {CATALOGUE}")
    return ReasonCode(code=code, params=params)


def english(code: str, **params: str | int | float) -> str:
    """The English text of a reason (what ``review_reasons`` holds)."""
    return render(reason(code, **params))


def add_reason(cell: CellValue, code: str, *, unique: bool = True, **params: str | int | float) -> bool:
    """Append a reason to ``cell`` (English text and code); ``unique``: unless its text is there already. True if
    added."""
    return add_code(cell, reason(code, **params), unique=unique)


def add_code(cell: CellValue, rc: ReasonCode, *, unique: bool = True) -> bool:
    """:func:`add_reason` for a reason already built."""
    en = render(rc)
    if unique and en in cell.review_reasons:
        return False
    cell.review_reasons.append(en)
    cell.review_codes.append(rc)
    return True


def set_reasons(cell: CellValue, reasons: Iterable[ReasonCode]) -> None:
    """Replace the reasons of ``cell``."""
    codes = list(reasons)
    cell.review_reasons = [render(r) for r in codes]
    cell.review_codes = codes


def reasons_list(*codes: ReasonCode) -> dict[str, list[Any]]:
    """``review_reasons`` and ``review_codes`` for a constructor: ``CellValue(..., **reasons_list(r))``."""
    return {"review_reasons": [render(r) for r in codes], "review_codes": list(codes)}


def not_read(rc: ReasonCode) -> ReasonCode:
    """The reason of an expected cell not read: ``rc`` under the prefix "not read: " (once)."""
    return rc if rc.code.startswith(NOT_READ + ".") else ReasonCode(code=f"{NOT_READ}.{rc.code}", params=rc.params)


# ---------------------------------------------------------------- rendering


def _word(word: str, lang: Lang) -> str:
    entry = catalogue().get("words", {}).get(word)
    return entry[lang] if entry else word


def _rule_name(rule: str, lang: Lang) -> str:
    entry = _templates("rules").get(rule)
    return entry[lang] if entry else rule


def deviation_title(dev_id: str, lang: Lang = "zh") -> str:
    """A deviation's title (its id when the catalogue has none)."""
    entry = _templates("deviations").get(dev_id)
    return entry[lang] if entry else dev_id


def rule_title(rule: str, lang: Lang = "zh") -> str:
    return _rule_name(rule, lang)


def _column(value: str, fmt: str) -> str:
    """A table-3 column id in printed words (other_org → 其他); anything else as it is."""
    return _t3_columns(fmt).get(value, value)


@cache
def _t3_columns(fmt: str) -> dict[str, str]:
    return {
        cid.rsplit(".", 1)[1]: lab.column
        for cid, lab in printed_labels(fmt).items()
        if cid.startswith("t3.new_received.")
    }


def _label(value: str, fmt: str) -> str:
    """A row or cell id in printed words (t3.granted → 三（一）予以公开)."""
    label = cell_label(fmt, value)
    if label is not None:
        return label.text
    found = row_label(fmt, value)
    return found if found is not None else "格式之外的行"  # a label id of no row (the code's params keep it)


def _converters(lang: Lang, fmt: str) -> dict[str, Callable[[Any], str]]:
    if lang == "en":
        return {}
    return {
        "column": lambda v: _column(str(v), fmt),
        "label": lambda v: _label(str(v), fmt),
        "rules": lambda v: "、".join(_rule_name(r.strip(), lang) for r in str(v).split(",")),
        "deviation": lambda v: deviation_title(str(v), lang),
        "how": lambda v: _word(str(v), lang),
        "reading": lambda v: _word(str(v), lang),
        "table": lambda v: table_name(str(v)),
    }


class _Formatter(string.Formatter):
    """``{name:converter}`` → the converter's words (Chinese); any other spec as str.format reads it."""

    def __init__(self, converters: Mapping[str, Callable[[Any], str]]) -> None:
        self.converters = converters

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec in _CONVERTER_NAMES:
            conv = self.converters.get(format_spec)
            return conv(value) if conv else str(value)
        return format(value, format_spec)


_CONVERTER_NAMES = frozenset({"column", "label", "rules", "deviation", "how", "reading", "table"})


def render(rc: ReasonCode, lang: Lang = "en", fmt: str = DEFAULT_FORMAT) -> str:
    """The text of a reason in ``lang``; ``fmt`` (2019, 2021) names the format whose labels it uses."""
    code = rc.code
    fmtr = _Formatter(_converters(lang, fmt))
    if code.startswith(NOT_READ + "."):
        inner = render(ReasonCode(code=code.split(".", 1)[1], params=rc.params), lang, fmt)
        return fmtr.format(_templates("reasons")[NOT_READ][lang], reason=inner)
    return fmtr.format(_templates("reasons")[code][lang], **rc.params)


def code_title(code: str, lang: Lang = "zh") -> str | None:
    """A reason code as a group of reasons (its parameters as …), e.g. for statistics by reason; None for a code
    outside the catalogue."""
    templates = _templates("reasons")
    if code.startswith(NOT_READ + "."):
        inner = code_title(code.split(".", 1)[1], lang)
        return None if inner is None else templates[NOT_READ][lang].replace("{reason}", inner)
    if code not in templates:
        return None
    return re.sub(r"\{[^{}]*\}", "…", templates[code][lang])


def coverage_text(text_en: str, lang: Lang = "zh") -> str:
    """A coverage reason (``t4: table not located``) in ``lang``; as given when the catalogue has no template."""
    for code, entry in _templates("coverage").items():
        m = _pattern("coverage", code).fullmatch(text_en)
        if m:
            return _Formatter(_converters(lang, DEFAULT_FORMAT)).format(entry[lang], **_typed(m.groupdict()))
    return text_en


# ---------------------------------------------------------------- parsing the English text back


_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_SPECIAL = {"id": r"(?:dev|xxgk)_[a-z0-9_]+"}


@cache
def _pattern(section: str, code: str) -> re.Pattern[str]:
    template = _templates(section)[code]["en"]
    out, pos, seen = [], 0, set()
    for m in _PLACEHOLDER.finditer(template):
        out.append(re.escape(template[pos : m.start()]))
        name = m.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>{_SPECIAL.get(name, '.+?')})")
        seen.add(name)
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out), re.S)


@cache
def _ordered_codes() -> list[str]:
    """The codes, most literal text first (so that a specific template wins over a general one)."""
    reasons = _templates("reasons")
    return sorted(
        (c for c in reasons if c != NOT_READ),
        key=lambda c: -len(_PLACEHOLDER.sub("", reasons[c]["en"])),
    )


def _typed(params: Mapping[str, str]) -> dict[str, str | int | float]:
    out: dict[str, str | int | float] = {}
    for k, v in params.items():
        if re.fullmatch(r"-?\d+", v):
            out[k] = int(v)
        elif re.fullmatch(r"-?\d+\.\d+", v):
            out[k] = float(v)
        else:
            out[k] = v
    return out


def parse(text_en: str) -> ReasonCode | None:
    """The code of an English reason (None: not a reason of the catalogue)."""
    prefix = _templates("reasons")[NOT_READ]["en"].split("{", 1)[0]
    if text_en.startswith(prefix):
        inner = parse(text_en[len(prefix) :])
        return not_read(inner) if inner is not None else None
    for code in _ordered_codes():
        m = _pattern("reasons", code).fullmatch(text_en)
        if m is not None:
            rc = ReasonCode(code=code, params=_typed(m.groupdict()))
            if render(rc) == text_en:  # the way back must give the text again (3 vs 3.0, 0.50 vs 0.5)
                return rc
            return ReasonCode(code=code, params=dict(m.groupdict()))
    return None


def split_joined(joined: str) -> list[str]:
    """The reasons of the store's "; "-joined text, a reason that holds "; " itself kept whole: of the ways to
    group the parts, the one with the most reasons of the catalogue and the fewest other pieces."""
    parts = joined.split("; ") if joined else []
    n = len(parts)
    # best[k]: (reasons read, -pieces not read, the grouping) for parts[k:]
    best: list[tuple[int, int, list[str]]] = [(0, 0, [])] * (n + 1)
    for k in range(n - 1, -1, -1):
        options = []
        for j in range(k + 1, n + 1):
            piece = "; ".join(parts[k:j])
            known = parse(piece) is not None
            if not known and j > k + 1:
                continue
            read, unread, rest = best[j]
            options.append((read + known, unread - (not known), [piece, *rest]))
        best[k] = max(options, key=lambda o: (o[0], o[1]))
    return best[0][2]


def codes_of(cell: CellValue) -> list[ReasonCode | None]:
    """The codes of a cell's reasons, one per reason: its own when it has them, else read back from the text."""
    if len(cell.review_codes) == len(cell.review_reasons):
        return list(cell.review_codes)
    return [parse(r) for r in cell.review_reasons]


def reason_text(rc: ReasonCode | None, text_en: str, lang: Lang, fmt: str = DEFAULT_FORMAT) -> str:
    """A reason in ``lang``: its template rendered, or the English text when it has no code."""
    return render(rc, lang, fmt) if rc is not None else text_en


# ---------------------------------------------------------------- rule results


_OPS = {"==": "=", "<=": "≤", ">=": "≥", ":=": "="}
_NOT = {"==": "≠", "<=": ">", ">=": "<", ":=": "≠"}
_SIDE_TERMS_WITH_WORDS = 6  # up to this many terms a side: 三（七）总计; more: the numbering alone, 三（七）


def _cell_number(cell: CellValue | None) -> str:
    if cell is None:
        return "?"
    value = cell.value if cell.value is not None else cell.inferred_value
    if value is None:
        return "0" if cell.status in ("blank", "not_applicable") else "?"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _sum_text(v: float | None) -> str:
    return "?" if v is None else f"{v:g}"


def check_text(check: Check, cells: Mapping[str, CellValue], fmt: str, lang: Lang = "zh") -> str:
    """A rule result in printed labels with its numbers, e.g.
    ``收支平衡…｜自然人：一 + 二 = 三（七）总计 + 四：12 + 1 ≠ 12 + 0（13 ≠ 12）``.
    English: the rule's expression and message as the Check states them."""
    if lang == "en":
        return f"{check.expr}: {check.message}" if check.message else check.expr
    name = _rule_name(check.rule, lang)
    m = re.fullmatch(r"(.+?)\s*(==|<=|>=|:=)\s*(.+)", check.expr)
    terms_ok = m is not None and all(
        cell_label(fmt, t) is not None for side in (m.group(1), m.group(3)) for t in side.split(" + ")
    )
    if m is None or not terms_ok or check.rule == "text_vs_table":
        return _other_check(check, cells, fmt, name)
    lhs, op, rhs = m.group(1).split(" + "), m.group(2), m.group(3).split(" + ")
    labels = {t: cell_label(fmt, t) for t in lhs + rhs}
    same_column = len({(lab.column, lab.column_group) for lab in labels.values() if lab}) == 1
    same_row = len({lab.row for lab in labels.values() if lab}) == 1
    first = labels[lhs[0]]
    assert first is not None

    def term(t: str, n: int) -> str:
        lab = labels[t]
        assert lab is not None
        if same_column:
            return lab.short if n <= _SIDE_TERMS_WITH_WORDS else lab.number
        if same_row:
            return lab.column
        return lab.text

    where = first.column if same_column else first.row if same_row else first.table
    if same_column and first.column_group:
        where = f"{first.column_group}·{first.column}"
    left = " + ".join(term(t, len(lhs)) for t in lhs)
    right = " + ".join(term(t, len(rhs)) for t in rhs)
    nums_l = " + ".join(_cell_number(cells.get(t)) for t in lhs)
    nums_r = " + ".join(_cell_number(cells.get(t)) for t in rhs)
    if check.status == "not_assessable":
        verdict = "无法校验（有单元格缺值）"
        return f"{name}｜{where}：{left} {_OPS[op]} {right}：{verdict}"
    rel = _OPS[op] if check.status == "pass" else _NOT[op]
    sums = ""
    if len(lhs) > 1 or len(rhs) > 1:
        sums = f"（{_sum_text(check.lhs)} {rel} {_sum_text(check.rhs)}）"
    return f"{name}｜{where}：{left} {_OPS[op]} {right}：{nums_l} {rel} {nums_r}{sums}"


def _other_check(check: Check, cells: Mapping[str, CellValue], fmt: str, name: str) -> str:
    """A rule that is no equation of cells: a domain rule (which cells break it), the text against the table."""
    labels = [lab.text for c in check.cells if (lab := cell_label(fmt, c)) is not None]
    if check.rule == "text_vs_table":
        table = "、".join(labels) or check.instance
        stated = _sum_text(check.lhs)
        if check.status == "not_assessable":
            return f"{name}｜正文所述 {stated}；表格 {table}：无法校验"
        rel = "=" if check.status == "pass" else "≠"
        return f"{name}｜正文所述 {stated} {rel} 表格 {table} {_sum_text(check.rhs)}"
    if check.status == "pass":
        return f"{name}：通过"
    if check.status == "not_assessable":
        return f"{name}：无法校验"
    values = "；".join(f"{t} = {_cell_number(cells.get(c))}" for t, c in zip(labels, check.cells))
    return f"{name}：不满足（{values}）"
