"""Text-vs-table checks: a number the narrative states against the table cell (or cells) it names.

A report whose text says 17 applications while its table says 95 gets a ``fail``: a finding about the source,
shown to the reviewer, never a correction. Facts without a table counterpart (x.* ids without ``sum_of``)
are not checked. Blank cells count as 0 next to printed ones; where every cell named is blank the table says
nothing and the check is ``not_assessable``.
"""

from __future__ import annotations

from service.result import CellValue, Check, Fact
from service.understand.facts import catalog

EPS = 1e-6
RULE = "text_vs_table"


def _cells_value(cells: dict[str, CellValue], ids: list[str]) -> tuple[float | None, list[str]]:
    total, blanks = 0.0, []
    for cid in ids:
        cell = cells.get(cid)
        if cell is None or cell.status in ("absent", "unparseable", "not_applicable"):
            return None, []
        if cell.value is None:
            blanks.append(cid)
            continue
        total += cell.value
    return total, blanks


def text_vs_table(facts: list[Fact], cells: dict[str, CellValue]) -> list[Check]:
    checks: list[Check] = []
    for fact in facts:
        if fact.kind == "cell":
            ids = [fact.id]
        else:
            ids = list(catalog().get(fact.id, {}).get("sum_of") or [])
            if not ids:
                continue
        table, blanks = _cells_value(cells, ids)
        expr = f"text «{fact.text}» == {' + '.join(ids)}"
        if table is None or fact.value is None or len(blanks) == len(ids):  # every cell blank: the table is silent
            status, delta = "not_assessable", None
        else:
            delta = float(fact.value) - table
            status = "pass" if abs(delta) <= EPS else "fail"
        checks.append(
            Check(
                rule=RULE,
                instance=fact.id,
                status=status,
                severity="warning",
                rule_status="text",
                expr=expr,
                lhs=fact.value,
                rhs=None if status == "not_assessable" else table,
                delta=delta,
                cells=ids,
                blank_cells=blanks,
                message=f"the text says {fact.text}: {fact.sentence}" if status == "fail" else fact.sentence,
            )
        )
    return checks
