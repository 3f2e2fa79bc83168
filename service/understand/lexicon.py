"""Every printed form of the structure labels: the wordings a table label or heading may carry.

One source for the classifier's schema-constrained decoding (:mod:`service.understand.classifier`) and for the
benchmark's matcher and dev-label drafting (:mod:`training.devlabels`): the official labels and label variants
of both formats (configs/schema/), the synonyms of configs/labels.yaml and the headers (信息内容, 申请人情况,
行政诉讼); and for the decoding also the compound forms of known layouts: a table-3 sub-item printed after its
group's label ((三)不予公开 1.属于国家秘密), a group's subtotal row or the organisations' subtotal column (小计),
a table-4 litigation group under its parent (行政诉讼（复议后起诉）). Forms are compared as
``service.normalize.label_key`` (no punctuation or spaces; numbering such as （六） stays as 六).
"""

from __future__ import annotations

from functools import lru_cache

from service.normalize import label_key
from service.schema import FORMATS, load_format, load_labels

TABLES = ("t2", "t3", "t4")


@lru_cache(maxsize=1)
def lexicon() -> dict[str, dict[str, frozenset[str]]]:
    """table (t2, t3, t4) -> label key -> the label ids printed with exactly that wording."""
    lex: dict[str, dict[str, set[str]]] = {t: {} for t in TABLES}

    def add(table: str, text: str, lid: str) -> None:
        if label_key(text):
            lex[table].setdefault(label_key(text), set()).add(lid)

    def add_all(table: str, items, prefix: str) -> None:
        for item in items:
            for text in item.labels():
                add(table, text, prefix + item.id)

    syn = load_labels()
    for fmt in FORMATS:
        s = load_format(fmt)
        add("t2", "信息内容", "t2.header")
        for block in s.t2_blocks():
            add_all("t2", [block], "t2.")
            add_all("t2", block.rows, f"t2.{block.id}.")
            add_all("t2", block.columns, "t2.col.")
        add("t3", "申请人情况", "t3.header")
        add_all("t3", s.t3_rows(), "t3.")
        add_all("t3", s.t3_columns(), "t3.col.")
        add("t4", "行政诉讼", "t4.litigation")
        add_all("t4", s.t4_groups(), "t4.")
        add_all("t4", s.t4_columns(), "t4.col.")
    for table, section in (("t3", "t3_columns"), ("t4", "t4_columns"), ("t4", "t4_groups")):
        prefix = f"{table}.col." if section.endswith("columns") else f"{table}."
        for lid, words in syn[section].items():
            for text in words:
                add(table, text, prefix + lid)
    for text in syn["total_synonyms"]:
        add("t3", "（七）" + text, "t3.results_total")
    return {t: {k: frozenset(v) for k, v in d.items()} for t, d in lex.items()}


@lru_cache(maxsize=1)
def surfaces() -> dict[str, frozenset[tuple[str, str]]]:
    """label id -> its printed forms as label keys ``(prefix, own)``: ``prefix`` is a parent's label printed in
    front of the label's own words (empty for a form of its own); headings are 一总体情况 …"""
    out: dict[str, set[tuple[str, str]]] = {}

    def add(lid: str, prefix: str, text: str) -> None:
        if label_key(text):
            out.setdefault(lid, set()).add((label_key(prefix), label_key(text)))

    for table in lexicon().values():
        for key, ids in table.items():
            for lid in ids:
                out.setdefault(lid, set()).add(("", key))
    syn = load_labels()
    for fmt in FORMATS:
        schema = load_format(fmt)
        for sec in schema.sections:
            add(f"sec.{sec.id}", "", f"{sec.number}、{sec.title}")
        rows = {r.id: r for r in schema.t3_rows()}
        for row in rows.values():
            if row.level == 2 and row.parent in rows:  # （三）不予公开 1.属于国家秘密
                for parent_label in rows[row.parent].labels():
                    for text in row.labels():
                        add(f"t3.{row.id}", parent_label, text)
            if row.level == 1 and any(r.parent == row.id for r in rows.values()):  # a group's subtotal row
                for text in syn["total_synonyms"]:
                    add(f"t3.{row.id}", "", text)
        for group in schema.t4_groups():
            if group.id.startswith("litigation"):  # 行政诉讼（复议后起诉）
                for text in group.labels():
                    add(f"t4.{group.id}", "行政诉讼", text)
    for text in syn["total_synonyms"]:  # the organisations' subtotal column
        for org in ["", *syn["t3_columns"]["legal_or_other_org"]]:
            add("t3.col.legal_or_other_org", org, text)
    return {lid: frozenset(forms) for lid, forms in out.items()}


def can_print(label_id: str, text: str) -> bool:
    """Whether ``text`` can be (a piece of) a printed form of ``label_id``: its label key occurs in one, reaching
    into the label's own words where a parent's label is printed in front (予处理 can be a piece of （五）不予处理
    but not of （五）不予处理4.无正当理由大量反复申请)."""
    key = label_key(text)
    if not key:
        return False
    for prefix, own in surfaces().get(label_id, ()):
        form = prefix + own
        start = form.find(key)
        while start >= 0:
            if start + len(key) > len(prefix):
                return True
            start = form.find(key, start + 1)
    return False
