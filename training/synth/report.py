"""Whole synthetic reports with every label known: title, headings, narrative, tables 2/3/4.

A report is a ``service.document.Document`` as the HTML backend would make it (kind "html",
``Origin.HTML`` provenance, texts cleaned by ``service.normalize.clean``) but with pages, so a table
can be split across two pages (two grids). Each table cell is labelled: label cells with their
structural id (``t3.denied``, ``t3.col.total``, ``t2.art20_1.regulations``, ``t4.col.upheld`` …),
value cells ``val``. Narrative paragraphs come from ``training.synth.narrative`` with their fact spans.

Layout and wording vary the way real reports do (see datasets/synthetic/README.md): header rows 1-3,
label columns 1-3, numbering styles, missing 其他 / 总计 columns, group subtotals, a 法人或其他组织
subtotal column, t4 with 2- or 3-row headers or transposed, t2 as one table or one per block, the 2019
and 2021 wordings. Values satisfy the table rules except in about 10% of documents, which break one
rule on purpose (``SynthDoc.meta["broken"]``).

Entry points: ``generate(seed, n, fmt)`` and ``synth_doc(rng, fmt)``.
"""
from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from service.document import Block, Document, Origin, Page, Provenance, TableCell, TableGrid
from service.normalize import clean, parse_number
from service.schema import FormatSchema, load_format
from training.synth.agencies import random_agency
from training.synth.narrative import narrative_paragraphs
from training.synth.types import Fact, LabelKey, LabelValue, Span, SynthDoc

VAL = "val"
OUTSIDE = "O"  # a cell that is neither structure nor value (the empty corner of a transposed table 4)
T3_COLS = ["natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
           "legal_service_org", "other_org", "total"]
ORG_COLS = T3_COLS[1:6]
T4_GROUPS = ["review", "litigation_direct", "litigation_after_review"]
T4_COLS = ["upheld", "corrected", "other_result", "pending", "total"]
T3_NOTE = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
BROKEN_SHARE = 0.10
CN = "一二三四五六七八九十"

# ------------------------------------------------------------------ small helpers


CRAWLED_SHARE = 0.08  # reports saved by a crawler as one run of text (cells run together, like dev r005/r010)
SCATTERED_SHARE = 0.15  # tables read off a PDF text layer line by line (spanning labels cut up, like dev r013)
T4_NOTES = ["注：行政复议、行政诉讼数量含上年度结转数量。", "注：本表数据含上年度结转案件。", "备注：无"]


def _pick(rng: random.Random, table: dict[Any, float]) -> Any:
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


@dataclass
class _Cell:
    row: int
    col: int
    text: str
    label: str
    rowspan: int = 1
    colspan: int = 1


@dataclass
class _Grid:
    """A table under construction: cells at explicit positions, each with its label."""

    n_cols: int
    cells: list[_Cell] = field(default_factory=list)
    n_rows: int = 0

    def add(self, row: int, col: int, text: str, label: str, rowspan: int = 1, colspan: int = 1) -> None:
        self.cells.append(_Cell(row, col, text, label, rowspan, colspan))
        self.n_rows = max(self.n_rows, row + rowspan)

    def split(self, at: int, repeat: bool = True) -> tuple["_Grid", "_Grid"]:
        """Two grids: rows [0, at) and [at, n).

        A label cell spanning the cut is printed in both parts: with its text in both (``repeat``, as a
        report that repeats the group label on the next page) or only in the part holding more of its rows.
        """
        top, bottom = _Grid(self.n_cols), _Grid(self.n_cols)
        for c in self.cells:
            end = c.row + c.rowspan
            crossing = c.row < at < end
            keep_top = not crossing or repeat or at - c.row >= end - at
            if c.row < at:
                top.add(c.row, c.col, c.text if keep_top else "", c.label, min(end, at) - c.row, c.colspan)
            if end > at:
                start = max(c.row, at)
                text = c.text if not crossing or repeat or not keep_top else ""
                bottom.add(start - at, c.col, text, c.label, end - start, c.colspan)
        top.n_rows, bottom.n_rows = at, self.n_rows - at
        return top, bottom

    def safe_cuts(self, first: int) -> list[int]:
        """Row indexes >= first where a cut crosses no value cell (label cells may be repeated)."""
        out = []
        for at in range(first, self.n_rows):
            if all(not (c.row < at < c.row + c.rowspan) or c.label != VAL for c in self.cells):
                out.append(at)
        return out

    def scattered(self, rng: random.Random) -> "_Grid":
        """The grid as a PDF text layer gives it line by line (dev r013): a label spanning rows is cut into
        fragments on the rows it covers (（三）不 | 予公开), a long label wraps onto the next line, a narrow table-3
        column header wraps every two characters (科研 | 机构), blank cells
        vanish and each line's pieces are numbered left to right with no spans. Fragments keep their label."""
        pieces: list[tuple[int, float, str, str]] = []  # (row, col order, text, label)
        for c in self.cells:
            text = c.text.strip()
            if not text:
                continue
            k = min(c.rowspan, rng.choice([2, 2, 3]), len(text) // 2)
            if c.label != VAL and c.rowspan >= 2 and k >= 2:
                size = -(-len(text) // k)
                first = c.row + (c.rowspan - k) // 2
                for j in range(k):
                    part = text[j * size:(j + 1) * size]
                    if part:
                        pieces.append((first + j, c.col, part, c.label))
            elif c.label.startswith("t3.col.") and c.rowspan == 1 and len(text) >= 4 and rng.random() < 0.6:
                for j in range(0, len(text), 2):  # a narrow header column wraps every two characters (科研 | 机构)
                    pieces.append((c.row + j // 2, c.col, text[j:j + 2], c.label))
            elif c.label not in (VAL, OUTSIDE) and len(text) >= 14 and rng.random() < 0.4:
                cut = rng.randint(len(text) // 2, len(text) - 3)
                pieces.append((c.row, c.col, text[:cut], c.label))
                pieces.append((c.row + 1, c.col - 0.5, text[cut:], c.label))  # before the next line's own cells
            else:
                pieces.append((c.row, c.col, text, c.label))
        g = _Grid(1)
        for row in sorted({p[0] for p in pieces}):
            line = sorted((p for p in pieces if p[0] == row), key=lambda p: p[1])
            for k, (_, _, text, label) in enumerate(line):
                g.add(row, k, text, label)
        g.n_cols = max((c.col + 1 for c in g.cells), default=1)
        taken = {(c.row, c.col) for c in g.cells}
        for r in range(g.n_rows):  # the document model's grids are rectangles: pad the short lines
            for k in range(g.n_cols):
                if (r, k) not in taken:
                    g.add(r, k, "", VAL)
        return g


# ------------------------------------------------------------------ numbers


@dataclass
class _Style:
    """How a document prints its numbers."""

    zero: str = "0"  # how a zero is printed: "0", "", "—", "/", "-"
    blank_totals: bool = False  # row totals of table 3 left blank (a real-world defect)

    def count(self, v: int | None) -> str:
        if v is None:
            return ""
        return self.zero if v == 0 else str(v)


def _scale_draw(rng: random.Random, scale: str) -> int:
    if scale == "none":
        return 0
    lo, hi = {"tiny": (0, 3), "small": (1, 15), "medium": (10, 120), "large": (100, 3000)}[scale]
    if scale == "large":
        return int(rng.lognormvariate(6.0, 0.9)) + lo
    return rng.randint(lo, hi)


RESULT_WEIGHTS = {
    "granted": 40, "partially_granted": 8,
    "denied_state_secret": 0.3, "denied_other_laws": 1, "denied_three_security_one_stability": 0.3,
    "denied_third_party_rights": 2, "denied_internal_affairs": 1.5, "denied_process_info": 2,
    "denied_enforcement_files": 0.5, "denied_admin_query": 1.5,
    "unable_not_held": 25, "unable_needs_creation": 3, "unable_unclear": 3,
    "not_processed_petition_complaint": 4, "not_processed_duplicate": 3, "not_processed_publication": 1,
    "not_processed_excessive_repeat": 1, "not_processed_confirm_reissue": 2,
    "other_processing": 4, "other_processing_no_correction": 3, "other_processing_fee_unpaid": 0.3,
    "other_processing_other": 3,
}


def _t3_values(rng: random.Random, schema: FormatSchema, with_other: bool) -> dict[str, dict[str, int]]:
    """Row id -> column id -> count, satisfying t3_balance, t3_row_total and t3_results_total."""
    leaves = [r.id for r in schema.t3_value_rows()
              if r.id not in ("new_received", "carried_over", "results_total", "carried_forward")]
    weights = [RESULT_WEIGHTS[r] * rng.lognormvariate(0, 0.8) for r in leaves]
    rows = [r.id for r in schema.t3_value_rows()]
    vals: dict[str, dict[str, int]] = {r: {} for r in rows}
    np_scale = _pick(rng, {"none": 6, "tiny": 28, "small": 34, "medium": 22, "large": 10})
    zero_p = {"natural_person": 0.0, "commercial_enterprise": 0.55, "research_institution": 0.88,
              "social_welfare_org": 0.88, "legal_service_org": 0.8, "other_org": 0.7}
    for col in T3_COLS[:6]:
        if col == "other_org" and not with_other:
            new = 0
        elif col == "natural_person":
            new = _scale_draw(rng, np_scale)
        elif np_scale == "none" or rng.random() < zero_p[col]:
            new = 0
        else:
            new = _scale_draw(rng, _pick(rng, {"tiny": 5, "small": 3, "medium": 1 if np_scale in ("medium", "large") else 0.1}))
        over = 0 if rng.random() < 0.65 or (new == 0 and rng.random() < 0.7) else rng.randint(1, max(1, new // 8 + 1))
        if col == "other_org" and not with_other:
            over = 0
        total_in = new + over
        fwd = 0 if rng.random() < 0.6 or total_in == 0 else rng.randint(0, max(1, total_in // 8))
        done = total_in - fwd
        counts = dict.fromkeys(leaves, 0)
        for leaf in rng.choices(leaves, weights=weights, k=done):
            counts[leaf] += 1
        vals["new_received"][col] = new
        vals["carried_over"][col] = over
        vals["carried_forward"][col] = fwd
        vals["results_total"][col] = done
        for leaf in leaves:
            vals[leaf][col] = counts[leaf]
    for r in rows:
        vals[r]["total"] = sum(vals[r][c] for c in T3_COLS[:6])
    return vals


def _t4_values(rng: random.Random) -> dict[str, dict[str, int]]:
    out = {}
    busy = rng.random() < 0.35
    for g in T4_GROUPS:
        row = dict.fromkeys(T4_COLS[:4], 0)
        if busy and rng.random() < 0.6:
            for c in T4_COLS[:4]:
                if rng.random() < 0.5:
                    row[c] = rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 8, 12, 20])
        row["total"] = sum(row.values())
        out[g] = row
    return out


def _fee(rng: random.Random) -> tuple[float, str]:
    """A fee amount in 万元 and how it is printed."""
    if rng.random() < 0.5:
        return 0.0, rng.choice(["0", "0", "0.00", "0.0000"])
    decimals = rng.choice([0, 1, 2, 2, 4, 4, 4, 6])
    v = round(rng.lognormvariate(2, 2.5), decimals)
    return v, f"{v:.{decimals}f}"


def _t2_values(rng: random.Random, schema: FormatSchema, gov: bool) -> dict[str, tuple[Any, str]]:
    """Cell id -> (value, printed text) for every t2 cell."""
    out: dict[str, tuple[Any, str]] = {}
    def small(hi: int) -> int:
        return rng.choice([0, 0, 0, rng.randint(0, hi)])

    def count(v: int) -> tuple[int, str]:
        return v, str(v)

    for block in schema.t2_blocks():
        for row in block.rows:
            p = f"t2.{block.id}.{row.id}"
            if block.id == "art20_1":
                issued = small(3 if row.id == "regulations" and gov else 0) if row.id == "regulations" else small(40)
                repealed = small(10)
                in_force = issued + rng.randint(0, 300) if rng.random() < 0.8 else small(20)
                if schema.format == "2021":
                    out[f"{p}.issued_this_year"] = count(issued)
                    out[f"{p}.repealed_this_year"] = count(repealed)
                    out[f"{p}.in_force"] = count(in_force)
                else:
                    published = min(issued, rng.randint(0, issued)) if rng.random() < 0.3 else issued
                    out[f"{p}.made_this_year"] = count(issued)
                    out[f"{p}.published_this_year"] = count(published)
                    out[f"{p}.published_total"] = count(in_force)
            elif block.id in ("art20_5", "art20_6"):
                big = {"admin_licensing": 20000, "other_external_services": 3000, "admin_penalty": 3000,
                       "admin_coercion": 200}[row.id]
                decision = 0 if rng.random() < 0.3 else int(rng.lognormvariate(3, 2)) % big
                if schema.format == "2021":
                    out[f"{p}.decision_count"] = count(decision)
                else:
                    prev = 0 if rng.random() < 0.3 else rng.randint(1, 400)
                    change = rng.choice([0, 0, rng.randint(-prev, 40)]) if prev else rng.randint(0, 20)
                    sign = "+" if change > 0 and rng.random() < 0.2 else ""
                    out[f"{p}.prev_year_item_count"] = count(prev)
                    out[f"{p}.item_change"] = (change, f"{sign}{change}")
                    out[f"{p}.decision_count"] = count(decision)
            elif block.id == "art20_8":
                if schema.format == "2021":
                    out[f"{p}.fee_amount"] = _fee(rng)
                else:
                    prev = small(30)
                    change = rng.choice([0, 0, rng.randint(-prev, 5)])
                    out[f"{p}.prev_year_item_count"] = count(prev)
                    out[f"{p}.item_change"] = (change, str(change))
            elif block.id == "art20_9":
                n = small(200)
                out[f"{p}.project_count"] = count(n)
                if n == 0:
                    out[f"{p}.total_amount"] = (0, "0")
                else:
                    amount = round(rng.lognormvariate(13, 2), 2)
                    unit = rng.choice(["", "元", "元", "万元"])
                    if unit == "万元":
                        amount = round(amount / 10000, 4)
                    text = f"{amount:.2f}" if unit != "万元" else f"{amount}"
                    out[f"{p}.total_amount"] = (float(text), text + unit)
    return out


def _break_rule(rng: random.Random, t3: dict[str, dict[str, int]], t4: dict[str, dict[str, int]]) -> str:
    """Break one table rule on purpose; returns the rule id."""
    rule = rng.choice(["t3_balance", "t3_row_total", "t3_results_total", "t4_group_total"])
    d = rng.choice([1, 1, 2, 3, 10])
    if rule == "t3_balance":
        t3["carried_forward"]["natural_person"] += d
        t3["carried_forward"]["total"] += d
    elif rule == "t3_row_total":
        row = rng.choice(list(t3))
        t3[row]["total"] += d
    elif rule == "t3_results_total":
        t3["results_total"]["natural_person"] += d
        t3["results_total"]["total"] += d
    else:
        t4[rng.choice(T4_GROUPS)]["total"] += d
    return rule


# ------------------------------------------------------------------ labels and wording

_NUM_PREFIX = re.compile(r"^\s*(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[）)]|\d+[.、．]|[（(]\d+[）)])\s*")


def _strip_number(label: str) -> str:
    return _NUM_PREFIX.sub("", label)


@dataclass
class _Numbering:
    level0: str  # "一、" style
    level1: str  # "（一）" style
    level2: str  # "1." style

    def format(self, level: int, number: int) -> str:
        if level == 0:
            return {"、": f"{CN[number - 1]}、", ".": f"{CN[number - 1]}.", "none": ""}[self.level0]
        if level == 1:
            return {"（）": f"（{CN[number - 1]}）", "()": f"({CN[number - 1]})", "()sp": f"({CN[number - 1]}) ",
                    "none": ""}[self.level1]
        return {"1.": f"{number}.", "1. ": f"{number}. ", "1、": f"{number}、", "（1）": f"（{number}）",
                "(1)": f"({number})", "none": ""}[self.level2]


def _numbering(rng: random.Random) -> _Numbering:
    return _Numbering(
        level0=_pick(rng, {"、": 0.92, ".": 0.06, "none": 0.02}),
        level1=_pick(rng, {"（）": 0.82, "()": 0.08, "()sp": 0.06, "none": 0.04}),
        level2=_pick(rng, {"1.": 0.62, "1. ": 0.08, "1、": 0.14, "（1）": 0.08, "(1)": 0.04, "none": 0.04}),
    )


def _number_of(row) -> int:
    n = row.number or ""
    digits = re.sub(r"[（()）]", "", n)
    if digits.isdigit():
        return int(digits)
    return CN.index(digits) + 1 if digits and digits in CN else 1


def _t3_label(rng: random.Random, row, numbering: _Numbering, wording: dict[str, str]) -> str:
    """The printed label of a t3 row (number in the document's style + a wording variant)."""
    if row.id in wording:
        body = wording[row.id]
    else:
        variants = [v for v in row.labels() if "/" not in v]
        body = _strip_number(variants[0] if rng.random() < 0.85 else rng.choice(variants))
    return numbering.format(row.level, _number_of(row)) + body


def _t3_wording(rng: random.Random) -> dict[str, str]:
    """Per-document wording choices for a few t3 labels."""
    w: dict[str, str] = {}
    r = rng.random()
    if r < 0.25:
        w["partially_granted"] = "部分公开"
    elif r < 0.32:
        w["partially_granted"] = "部分公开(区分处理的,只计这一情形,不计其他情形)"
    if rng.random() < 0.1:
        w["results_total"] = "合计"
    if rng.random() < 0.15:
        w["not_processed_confirm_reissue"] = "要求行政机关确认或重新出具已获取信息"
    if rng.random() < 0.3:
        w["denied_three_security_one_stability"] = rng.choice(['危及"三安全一稳定"', "危及三安全一稳定"])
    return w


COL_SYNONYMS = {
    "natural_person": ["自然人"], "commercial_enterprise": ["商业企业", "商业企业", "商业企业", "商业"],
    "research_institution": ["科研机构", "科研机构", "科研机构", "科研"],
    "social_welfare_org": ["社会公益组织", "社会公益组织", "社会公益组织", "社会公益"],
    "legal_service_org": ["法律服务机构", "法律服务机构", "法律服务机构", "法律服务"],
    "other_org": ["其他"], "total": ["总计", "总计", "总计", "总计", "合计"],
}


# ------------------------------------------------------------------ table 3


def _t3_grid(rng: random.Random, schema: FormatSchema, vals: dict[str, dict[str, int]], style: _Style,
             meta: dict[str, Any]) -> _Grid:
    v = meta["t3"] = {}
    cols = list(T3_COLS)
    if not meta["t3_with_other"]:
        cols.remove("other_org")
    if meta["t3_missing_total"]:
        cols.remove("total")
    subtotal_col = rng.random() < 0.04 and meta["t3_with_other"] and not meta["t3_missing_total"]
    header_rows = _pick(rng, {3: 0.62, 2: 0.28, 1: 0.10})
    label_cols = _pick(rng, {3: 0.6, 2: 0.22, 1: 0.18})
    numbering = _numbering(rng)
    wording = _t3_wording(rng)
    col_text = {c: (COL_SYNONYMS[c][0] if rng.random() < 0.85 else rng.choice(COL_SYNONYMS[c])) for c in cols}
    v.update(header_rows=header_rows, label_cols=label_cols, subtotal_col=subtotal_col,
             numbering=[numbering.level0, numbering.level1, numbering.level2])

    value_cols: list[str] = []  # printed value columns, in order ("legal_or_other_org" = a subtotal column)
    for c in cols:
        if c == "commercial_enterprise" and subtotal_col:
            value_cols.append("legal_or_other_org")
        value_cols.append(c)
    L = label_cols
    g = _Grid(L + len(value_cols))
    orgs = [c for c in value_cols if c in ORG_COLS or c == "legal_or_other_org"]

    # ---- header
    corner = T3_NOTE if rng.random() < 0.6 else ""
    if header_rows >= 2:
        top = 0
        if header_rows == 3:
            g.add(0, 0, corner, "O", rowspan=3, colspan=L)
            g.add(0, L, rng.choice(["申请人情况", "申请人情况", "申请人情况", "申请人类型"]), "t3.header",
                  colspan=len(value_cols))
            top = 1
        else:
            g.add(0, 0, corner, "O", rowspan=2, colspan=L)
        col = L
        for c in value_cols:
            if c in orgs:
                if c == orgs[0]:
                    g.add(top, col, "法人或其他组织", "t3.col.legal_or_other_org", colspan=len(orgs))
                text = "小计" if c == "legal_or_other_org" else col_text[c]
                g.add(top + 1, col, text, f"t3.col.{c}")
            else:
                g.add(top, col, col_text[c], f"t3.col.{c}", rowspan=2)
            col += 1
    else:
        g.add(0, 0, corner, "O", colspan=L)
        for k, c in enumerate(value_cols):
            text = "法人或其他组织小计" if c == "legal_or_other_org" else col_text[c]
            g.add(0, L + k, text, f"t3.col.{c}")
    r = g.n_rows

    def values(row_id: str, blank: bool = False) -> None:
        for k, c in enumerate(value_cols):
            if blank:
                text, printed = "", None
            elif c == "legal_or_other_org":
                sub = sum(vals[row_id][o] for o in ORG_COLS)
                text, printed = style.count(sub), None
            else:
                x = vals[row_id][c]
                text = "" if (c == "total" and style.blank_totals) else style.count(x)
                printed = parse_number(text).value
                meta["truth"][f"t3.{row_id}.{c}"] = printed
            g.add(r, L + k, text, VAL)

    def group_values(group: str) -> None:
        """Values of a printed group subtotal row (sums of its sub-items)."""
        subs = [x.id for x in schema.t3_value_rows() if x.parent == group]
        for k, c in enumerate(value_cols):
            if c == "legal_or_other_org":
                total = sum(vals[s][o] for s in subs for o in ORG_COLS)
            else:
                total = sum(vals[s][c] for s in subs)
            g.add(r, L + k, style.count(total), VAL)

    rows = schema.t3_rows()
    label = {row.id: _t3_label(rng, row, numbering, wording) for row in rows}
    children: dict[str, list[str]] = {}
    for row in rows:
        if row.parent:
            children.setdefault(row.parent, []).append(row.id)
    groups = {rid for rid, kids in children.items() if rid != "results"}
    result_items = children["results"]
    group_mode = _pick(rng, {"span": 0.45, "blank": 0.3, "subtotal": 0.25})  # a group printed as its own row
    prefixed = rng.random() < 0.4  # flattened sub-item labels carry the group label: （三）不予公开 1.属于国家秘密
    sep = rng.choice(["", " ", " "])
    results_as_row = L < 3 and rng.random() < 0.6
    c0 = 1 if L == 3 or (L == 2 and not results_as_row) else 0  # first label column of the result items
    width = L - c0  # label columns left for the result items
    prefixed = prefixed and width == 1
    extra_subtotal_rows = width >= 2 and rng.random() < 0.05
    per_group = 1 if extra_subtotal_rows or (width == 1 and not prefixed) else 0
    n_result_rows = sum(len(children[i]) + per_group if i in groups else 1 for i in result_items)
    v.update(group_mode=group_mode if width == 1 and not prefixed else None, prefixed=prefixed,
             results_as_row=c0 == 0, subtotal_rows=extra_subtotal_rows)

    for top_row in ("new_received", "carried_over"):
        g.add(r, 0, label[top_row], f"t3.{top_row}", colspan=L)
        values(top_row)
        r += 1
    # 三、本年度办理结果: a label spanning the result rows, or a row of its own
    if c0 == 1:
        g.add(r, 0, label["results"], "t3.results", rowspan=n_result_rows)
    else:
        if group_mode == "span" or rng.random() < 0.5:
            g.add(r, 0, label["results"], "t3.results", colspan=g.n_cols)
        else:
            g.add(r, 0, label["results"], "t3.results", colspan=L)
            values("results", blank=True)
        r += 1
    for item in result_items:
        if item not in groups:
            g.add(r, c0, label[item], f"t3.{item}", colspan=width)
            values(item)
            r += 1
            continue
        kids = children[item]
        if width >= 2:
            span = len(kids) + (1 if extra_subtotal_rows else 0)
            g.add(r, c0, label[item], f"t3.{item}", rowspan=span, colspan=1)
            for kid in kids:
                g.add(r, c0 + 1, label[kid], f"t3.{kid}", colspan=width - 1)
                values(kid)
                r += 1
            if extra_subtotal_rows:
                g.add(r, c0 + 1, "小计", f"t3.{item}", colspan=width - 1)
                group_values(item)
                r += 1
            continue
        # one label column left: the group is a row of its own, or its label prefixes each sub-item
        if not prefixed:
            if group_mode == "span":
                g.add(r, c0, label[item], f"t3.{item}", colspan=g.n_cols - c0)
            else:
                g.add(r, c0, label[item], f"t3.{item}", colspan=width)
                if group_mode == "subtotal":
                    group_values(item)
                else:
                    values(item, blank=True)
            r += 1
        for kid in kids:
            text = f"{label[item]}{sep}{label[kid]}" if prefixed else label[kid]
            g.add(r, c0, text, f"t3.{kid}", colspan=width)
            values(kid)
            r += 1
    g.add(r, 0, label["carried_forward"], "t3.carried_forward", colspan=L)
    values("carried_forward")
    # cells the document does not print
    for row in schema.t3_value_rows():
        for c in T3_COLS:
            if c not in value_cols:
                meta["truth"][f"t3.{row.id}.{c}"] = "absent"
    return g


# ------------------------------------------------------------------ table 4


def _t4_grid(rng: random.Random, vals: dict[str, dict[str, int]], style: _Style, meta: dict[str, Any]) -> _Grid:
    layout = _pick(rng, {"3row": 0.62, "2row": 0.2, "transposed": 0.1, "2row_merged": 0.08})
    missing_last = layout in ("3row", "2row") and rng.random() < 0.03
    meta["t4"] = {"layout": layout, "missing_last_total": missing_last}
    leaf = {c: lab for c, lab in zip(T4_COLS, ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"])}
    if rng.random() < 0.08:
        leaf = {**leaf, "upheld": "维持", "corrected": "纠正", "other_result": "其他", "pending": "尚未审结"}
    if rng.random() < 0.05:
        leaf["total"] = "合计"
    group_text = {"review": "行政复议", "litigation_direct": "未经复议直接起诉", "litigation_after_review": "复议后起诉"}
    positions = [(gr, c) for gr in T4_GROUPS for c in T4_COLS]
    if missing_last:
        positions = positions[:-1]
        meta["truth"]["t4.litigation_after_review.total"] = "absent"

    if layout == "transposed":
        two = rng.random() < 0.6
        L = 2 if two else 1
        g = _Grid(L + 5)
        g.add(0, 0, rng.choice(["", "", "项目"]), OUTSIDE, colspan=L)
        for k, c in enumerate(T4_COLS):
            g.add(0, L + k, leaf[c], f"t4.col.{c}")
        for i, gr in enumerate(T4_GROUPS):
            r = i + 1
            if two:
                if gr == "review":
                    g.add(r, 0, group_text[gr], f"t4.{gr}", colspan=2)
                else:
                    if gr == "litigation_direct":
                        g.add(r, 0, "行政诉讼", "t4.litigation", rowspan=2)
                    g.add(r, 1, group_text[gr], f"t4.{gr}")
            else:
                text = group_text[gr] if gr == "review" else f"行政诉讼（{group_text[gr]}）"
                g.add(r, 0, text, f"t4.{gr}")
            for k, c in enumerate(T4_COLS):
                x = vals[gr][c]
                g.add(r, L + k, style.count(x), VAL)
                meta["truth"][f"t4.{gr}.{c}"] = parse_number(style.count(x)).value
        return g

    n = len(positions)
    g = _Grid(n)
    if layout == "3row":
        g.add(0, 0, "行政复议", "t4.review", colspan=5)
        g.add(0, 5, "行政诉讼", "t4.litigation", colspan=n - 5)
        for k, c in enumerate(T4_COLS):
            g.add(1, k, leaf[c], f"t4.col.{c}", rowspan=2)
        g.add(1, 5, group_text["litigation_direct"], "t4.litigation_direct", colspan=5)
        g.add(1, 10, group_text["litigation_after_review"], "t4.litigation_after_review", colspan=n - 10)
        for k, (gr, c) in enumerate(positions[5:], start=5):
            g.add(2, k, leaf[c], f"t4.col.{c}")
        r = 3
    else:
        merged = layout == "2row_merged"
        for i, gr in enumerate(T4_GROUPS):
            text = group_text[gr] if gr == "review" or not merged else f"行政诉讼（{group_text[gr]}）"
            width = 5 if i < 2 else n - 10
            g.add(0, 5 * i, text, f"t4.{gr}", colspan=width)
        for k, (gr, c) in enumerate(positions):
            g.add(1, k, leaf[c], f"t4.col.{c}")
        r = 2
    for k, (gr, c) in enumerate(positions):
        x = vals[gr][c]
        g.add(r, k, style.count(x), VAL)
        meta["truth"][f"t4.{gr}.{c}"] = parse_number(style.count(x)).value
    if rng.random() < 0.06:  # a note row under the table, part of the grid (dev r013)
        g.add(r + 1, 0, rng.choice(T4_NOTES), OUTSIDE, colspan=n)
    return g


# ------------------------------------------------------------------ table 2

_T2_HEADER = ["信息内容", "信息内容", "信息内容", "内容"]


def _t2_col_text(rng: random.Random, fmt: str, block_id: str, col) -> str:
    labels = col.labels()
    text = labels[0] if rng.random() < 0.8 else rng.choice(labels)
    if col.id == "fee_amount" and rng.random() < 0.15:
        text = rng.choice(["本年收费金额（万元）", "本年收费金额(单位:万元)", "本年收费金额"])
    if col.id == "total_amount" and rng.random() < 0.3:
        text = rng.choice(["采购总金额（元）", "采购总金额(万元)"])
    return text


def _t2_grids(rng: random.Random, schema: FormatSchema, values: dict[str, tuple[Any, str]], style: _Style,
              meta: dict[str, Any]) -> list[_Grid]:
    """Table 2 as one grid (or one grid per block)."""
    per_block = rng.random() < 0.15
    caption_style = _pick(rng, {"full": 0.85, "half": 0.1, "plain": 0.05})
    spread_single = rng.random() < 0.75  # a one-column block prints its value across the 3 value columns
    meta["t2"] = {"per_block": per_block, "caption": caption_style, "spread_single": spread_single}
    grids: list[_Grid] = []
    g = _Grid(4)
    for block in schema.t2_blocks():
        if per_block and g.cells:
            grids.append(g)
            g = _Grid(4)
        r = g.n_rows
        caption = block.label
        if caption_style == "half":
            caption = caption.replace("（", "(").replace("）", ")")
        elif caption_style == "plain":
            caption = re.sub(r"[（(](.)[)）]", r"\1", caption)
        g.add(r, 0, caption, f"t2.{block.id}", colspan=4)
        r += 1
        ncols = len(block.columns)
        widths = [1] * ncols
        if ncols < 3:
            if spread_single or ncols == 2:
                widths[-1] = 4 - ncols
        g.add(r, 0, rng.choice(_T2_HEADER), "t2.header")
        col = 1
        for c, w in zip(block.columns, widths):
            g.add(r, col, _t2_col_text(rng, schema.format, block.id, c), f"t2.col.{c.id}", colspan=w)
            col += w
        pad_header = col < 4
        if pad_header:
            for k in range(col, 4):
                g.add(r, k, "", "t2.header")
        r += 1
        for row in block.rows:
            labels = row.labels()
            text = labels[0] if rng.random() < 0.9 else rng.choice(labels)
            g.add(r, 0, text, f"t2.{block.id}.{row.id}")
            col = 1
            for c, w in zip(block.columns, widths):
                cid = f"t2.{block.id}.{row.id}.{c.id}"
                value, printed = values[cid]
                if value == 0 and c.value_type == "count":
                    printed = style.count(0)
                g.add(r, col, printed, VAL, colspan=w)
                meta["truth"][cid] = parse_number(printed).value
                col += w
            for k in range(col, 4):
                g.add(r, k, "", VAL)
            r += 1
    grids.append(g)
    return grids


# ------------------------------------------------------------------ text


def _headings(rng: random.Random, schema: FormatSchema, meta: dict[str, Any]) -> dict[str, str]:
    """Heading text per section (a template, instruction-style or observed variant; numbering varies)."""
    extra = {
        "s2": ["行政机关主动公开政府信息情况"],
        "s3": ["行政机关收到和处理政府信息公开申请情况"],
        "s4": ["因政府信息公开工作被申请行政复议、提起行政诉讼情况"],
        "s5": ["政府信息公开工作存在的主要问题及改进情况", "存在的主要问题及改进措施", "存在问题及改进情况"],
        "s6": ["其他事项", "其他需要报告的事项"],
    }
    punct = _pick(rng, {"、": 0.88, ".": 0.04, "．": 0.03, " ": 0.03, "paren": 0.02})
    wrong = rng.random() < 0.03
    wrong_at = rng.randrange(1, 6) if wrong else -1
    meta["headings"] = {"punct": punct, "wrong_number": wrong}
    out = {}
    for i, sec in enumerate(schema.sections):
        titles = [sec.title] * 6 + extra.get(sec.id, [])
        for v in sec.heading_variants:
            body = _strip_number(v.label)
            if " (" not in body and "（" not in body[:1] and len(body) <= 30:
                titles.append(body)
        title = rng.choice(titles)
        num = i + 1 if i != wrong_at else (i if rng.random() < 0.5 else i + 2)
        numeral = CN[max(num, 1) - 1]
        out[sec.id] = f"（{numeral}）{title}" if punct == "paren" else f"{numeral}{punct}{title}"
    return out


def _title(rng: random.Random, agency: str, year: int) -> tuple[list[str], list[list[Span]]]:
    """Title line(s) and their meta.agency / meta.year spans."""
    form = _pick(rng, {"std": 0.55, "nian_du": 0.15, "no_gongzuo": 0.1, "year_first": 0.15, "year_first_du": 0.05})
    ys = str(year)
    if form.startswith("year_first"):
        head = ys + ("年度" if form == "year_first_du" else "年")
        text = head + agency + "政府信息公开工作年度报告"
        spans = [(0, 4, "meta.year"), (len(head), len(head) + len(agency), "meta.agency")]
        return [text], [spans]
    tail = {"std": "年政府信息公开工作年度报告", "nian_du": "年度政府信息公开工作年度报告",
            "no_gongzuo": "年政府信息公开年度报告"}[form]
    if rng.random() < 0.1:  # agency on a line of its own
        return [agency, ys + tail], [[(0, len(agency), "meta.agency")], [(0, 4, "meta.year")]]
    text = agency + ys + tail
    return [text], [[(0, len(agency), "meta.agency"), (len(agency), len(agency) + 4, "meta.year")]]


def _date(rng: random.Random, year: int) -> str:
    y, m, d = year + 1, rng.randint(1, 3), rng.randint(1, 28)
    return _pick(rng, {f"{y}年{m}月{d}日": 0.5, f"{y}-{m:02d}-{d:02d}": 0.35, f"{y}/{m}/{d}": 0.05,
                       f"{y}.{m:02d}.{d:02d}": 0.05, f"{y}年{m:02d}月{d:02d}日": 0.05})


def _pub_line(rng: random.Random, agency: str, year: int) -> tuple[str, list[Span]]:
    date = _date(rng, year)
    form = rng.randrange(5)
    if form == 0:
        pre = "发布日期："
    elif form == 1:
        pre = "发布时间：" if rng.random() < 0.5 else "发布时间: "
    elif form == 2:
        pre = "（"
    elif form == 3:
        pre = f"来源：{agency} 发布日期："
    else:
        pre = "信息来源：本机关 发布时间："
    text = clean(pre + date + ("）" if form == 2 else ""))
    start = text.index(clean(date))
    spans: list[Span] = [(start, start + len(clean(date)), "meta.date")]
    if form == 3:
        a = text.index(agency)
        spans.insert(0, (a, a + len(agency), "meta.agency"))
    return text, spans


def _preamble(rng: random.Random, fmt: str, agency: str, year: int) -> str:
    basis = {"2019": "国办公开办函〔2019〕60号", "2021": "国办公开办函〔2021〕30号"}[fmt]
    parts = [
        rng.choice([
            f"本年度报告依据《中华人民共和国政府信息公开条例》（以下简称《条例》）和{basis}文件要求编制。",
            f"根据《中华人民共和国政府信息公开条例》规定，{agency}编制本年度报告。",
            f"按照《中华人民共和国政府信息公开条例》和上级有关通知要求，现公布{agency}{year}年政府信息公开工作年度报告。",
        ]),
        rng.choice([
            "报告包括总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况、政府信息公开行政复议和行政诉讼情况、"
            "存在的主要问题及改进情况、其他需要报告的事项。",
            "全文由六部分组成。",
            "",
        ]),
        rng.choice([
            f"报告中所列数据统计期限为{year}年1月1日至{year}年12月31日。",
            f"本报告所列数据的统计时限自{year}年1月1日起至12月31日止。",
            "",
        ]),
        rng.choice([
            f"报告电子版可在{agency}门户网站政府信息公开专栏查阅和下载。",
            "如对报告内容有疑问，请与本机关办公室联系。",
            "",
        ]),
    ]
    return clean("".join(parts))


def _narrative(rng: random.Random, fmt: str, cells: dict[str, Any], agency: str, year: int) -> dict[str, list]:
    """Preamble and section 一/五/六 paragraphs with fact spans (training.synth.narrative)."""
    return narrative_paragraphs(rng, fmt, cells, agency, year)


def _clean_spans(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, list[tuple[int, int, str]]]:
    """Clean a paragraph and move its spans along (clean may collapse spaces or widen characters)."""
    out = clean(text)
    if out == text:
        return out, list(spans)
    moved = []
    for s, e, lab in spans:
        ns = len(clean(text[:s] + "\x01")) - 1
        ne = len(clean(text[:e] + "\x01")) - 1
        if 0 <= ns < ne <= len(out) and out[ns:ne] == clean(text[s:e]):
            moved.append((ns, ne, lab))
    return out, moved


# ------------------------------------------------------------------ document assembly


@dataclass
class _Builder:
    blocks: list[Block] = field(default_factory=list)
    labels: dict[LabelKey, LabelValue] = field(default_factory=dict)
    facts: list[Fact] = field(default_factory=list)
    page: int = 1
    used: float = 0.0  # lines used on the current page
    page_lines: float = 46.0
    scatter_rng: random.Random | None = None  # set: tables are scattered like a PDF text layer's (dev r013)

    def _advance(self, lines: float) -> None:
        if self.used + lines > self.page_lines and self.used > 0:
            self.page += 1
            self.used = 0.0
        self.used += lines

    def text(self, kind: str, text: str, label: LabelValue) -> int:
        self._advance(1 + len(text) / 38)
        self.blocks.append(Block(kind=kind, text=text, raw=text, provenance=_prov(self.page)))
        self.labels[(len(self.blocks) - 1,)] = label
        return len(self.blocks) - 1

    def table(self, rng: random.Random, grid: _Grid, meta: dict[str, Any]) -> None:
        rows = grid.n_rows * 1.6
        room = self.page_lines - self.used
        cuts = grid.safe_cuts(2)
        if rows > room and room > 6 and cuts and rng.random() < 0.6:
            fit = [c for c in cuts if c * 1.6 <= room]
            if fit:
                top, bottom = grid.split(fit[-1], repeat=rng.random() < 0.5)
                self._put(top)
                self.page += 1
                self.used = 0.0
                self._put(bottom)
                meta.setdefault("split_tables", 0)
                meta["split_tables"] += 1
                return
        self._put(grid)

    def _put(self, grid: _Grid) -> None:
        if self.scatter_rng is not None:
            grid = grid.scattered(self.scatter_rng)
        self._advance(grid.n_rows * 1.6)
        index = len(self.blocks)
        prov = _prov(self.page)
        cells = []
        for c in sorted(grid.cells, key=lambda c: (c.row, c.col)):
            text = clean(c.text)
            cells.append(TableCell(row=c.row, col=c.col, rowspan=c.rowspan, colspan=c.colspan, text=text,
                                   raw=c.text, provenance=prov))
            self.labels[(index, c.row, c.col)] = c.label
        n_cols = max((c.col + c.colspan for c in grid.cells), default=0)
        table = TableGrid(n_rows=grid.n_rows, n_cols=n_cols, cells=cells, method="html")
        text = " ".join(c.text for c in cells if c.text)
        self.blocks.append(Block(kind="table", text=text, raw="", provenance=prov, table=table))


def _prov(page: int) -> Provenance:
    return Provenance(page=page, origin=Origin.HTML)


def synth_doc(rng: random.Random, fmt: str | None = None) -> SynthDoc:
    """One synthetic report with all labels; ``fmt`` "2019" | "2021" | None (either, 50/50)."""
    fmt = fmt or rng.choice(["2019", "2021"])
    schema = load_format(fmt)
    year = rng.choice([2019, 2020]) if fmt == "2019" else rng.choice([2021, 2022, 2022, 2023, 2023, 2024])
    agency = random_agency(rng)
    meta: dict[str, Any] = {"format": fmt, "year": year, "agency": agency.name, "level": agency.level,
                            "broken": None, "truth": {}}
    style = _Style(zero=_pick(rng, {"0": 0.86, "": 0.06, "—": 0.03, "/": 0.03, "-": 0.02}),
                   blank_totals=rng.random() < 0.02)
    meta["zero"], meta["blank_totals"] = style.zero, style.blank_totals
    meta["t3_with_other"] = rng.random() >= 0.05
    meta["t3_missing_total"] = rng.random() < 0.03

    t3 = _t3_values(rng, schema, meta["t3_with_other"])
    t4 = _t4_values(rng)
    if rng.random() < BROKEN_SHARE:
        meta["broken"] = _break_rule(rng, t3, t4)
    t2 = _t2_values(rng, schema, agency.government)
    cells: dict[str, Any] = {cid: v for cid, (v, _) in t2.items()}
    cells.update({f"t3.{r}.{c}": x for r, row in t3.items() for c, x in row.items()})
    cells.update({f"t4.{g}.{c}": x for g, row in t4.items() for c, x in row.items()})
    meta["values"] = cells

    heads = _headings(rng, schema, meta)
    t2_grids = _t2_grids(rng, schema, t2, style, meta)
    t3_grid = _t3_grid(rng, schema, t3, style, meta)
    t4_grid = _t4_grid(rng, t4, style, meta)
    tables = {"s2": t2_grids, "s3": [t3_grid], "s4": [t4_grid]}
    printed = {cid: v for cid, v in meta["truth"].items() if v != "absent"}
    narrative = _narrative(rng, fmt, printed, agency.name, year)

    b = _Builder(page_lines=rng.choice([40.0, 46.0, 52.0]))
    meta["scattered_tables"] = rng.random() < SCATTERED_SHARE
    if meta["scattered_tables"]:
        b.scatter_rng = random.Random(rng.random())
    lines, spans = _title(rng, agency.name, year)
    for line, sp in zip(lines, spans):
        b.text("paragraph", line, sp)
    if rng.random() < 0.45:
        text, sp = _pub_line(rng, agency.name, year)
        b.text("paragraph", text, sp)
    if "preamble" in narrative:
        for text, sp in narrative["preamble"]:
            _add_paragraph(b, text, sp)
    elif rng.random() < 0.9:
        b.text("paragraph", _preamble(rng, fmt, agency.name, year), [])
    for sec in schema.sections:
        b.text("heading", heads[sec.id], f"sec.{sec.id}")
        for text, sp in narrative.get(sec.id, []):
            _add_paragraph(b, text, sp)
        for grid in tables.get(sec.id, []):
            b.table(rng, grid, meta)
    if rng.random() < 0.3:
        date = _date(rng, year)
        b.text("paragraph", agency.name, [(0, len(agency.name), "meta.agency")])
        b.text("paragraph", clean(date), [(0, len(clean(date)), "meta.date")])

    meta["crawled_text"] = rng.random() < CRAWLED_SHARE
    if meta["crawled_text"]:
        _flatten(b, rng.choice(["", " "]))

    truth = meta.pop("truth")
    digest = hashlib.sha256(repr((agency.name, year, sorted(cells.items()))).encode()).hexdigest()
    doc = Document(path=f"synthetic://{digest[:16]}.html", sha256=digest, kind="html",
                   pages=[Page(number=p, origin=Origin.HTML) for p in range(1, b.page + 1)],
                   blocks=b.blocks, metadata={"synthetic": "1"})
    return SynthDoc(document=doc, labels=b.labels, facts=b.facts, truth=truth, meta=meta)


def _flatten(b: _Builder, sep: str) -> None:
    """The whole report as one run of text, as web crawlers save it (page.txt): headings, paragraphs and the
    table cells in reading order, cells run together; every label becomes a span of that text."""
    text = ""
    spans: list[tuple[int, int, str]] = []
    moved: dict[int, int] = {}
    for i, block in enumerate(b.blocks):
        pieces: list[tuple[str, Any]] = []
        if block.kind == "table" and block.table is not None:
            for cell in sorted(block.table.cells, key=lambda c: (c.row, c.col)):
                if cell.text:
                    pieces.append((cell.text, b.labels.get((i, cell.row, cell.col))))
        else:
            pieces.append((block.text, b.labels.get((i,))))
            moved[i] = len(text) + (len(sep) if text else 0)
        for piece, label in pieces:
            if text:
                text += sep
            start = len(text)
            text += piece
            if isinstance(label, str) and label != "O":
                spans.append((start, len(text), label))
            elif isinstance(label, list):
                spans.extend((start + a, start + e, lab) for a, e, lab in label)
    prov = b.blocks[0].provenance if b.blocks else _prov(1)
    b.blocks = [Block(kind="paragraph", text=text, raw=text, provenance=prov)]
    b.labels = {(0,): spans}
    b.facts = [Fact(id=f.id, value=f.value, block_index=0, start=moved[f.block_index] + f.start,
                    end=moved[f.block_index] + f.end) for f in b.facts]


def _add_paragraph(b: _Builder, text: str, spans: list[tuple[int, int, str]]) -> None:
    text, spans = _clean_spans(text, spans)
    if not text:
        return
    index = b.text("paragraph", text, [(s, e, lab) for s, e, lab in spans])
    for s, e, lab in spans:
        b.facts.append(Fact(id=lab, value=_stated_number(text[s:e]), block_index=index, start=s, end=e))


def _stated_number(text: str) -> int | float | None:
    """The number a fact span states (thousands separators and PDF-style spaces ignored)."""
    return parse_number(re.sub(r"[\s,]", "", text)).value


def generate(seed: int, n: int, fmt: str | None = None) -> Iterator[SynthDoc]:
    """``n`` reports from one seed (the same seed gives the same documents)."""
    for i in range(n):
        yield synth_doc(random.Random(f"{seed}:{i}"), fmt)
