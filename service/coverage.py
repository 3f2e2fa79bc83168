"""How complete a result is, and the rule that nothing expected is missing quietly.

``flag_unread`` puts every expected cell that was not read up for review with the reason it was not read,
unless the document's own layout explains it (a ``dev_*`` deviation of the spec: the lost 其他 column, a
2021 report printing （六）其他处理 as one row, the missing last 总计 of table 4). ``coverage`` counts what
was located and read, per table and in all, and says ``complete | partial | failed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from service.messages import codes_of, not_read, reason, set_reasons
from service.result import CellValue, Coverage, Deviation, TableCoverage
from service.schema import FormatSchema

TABLES = ("t2", "t3", "t4")
NOT_READ = "not read"  # prefix of the review reason of an expected cell that was not read
_READ = frozenset({"read", "repaired", "inferred", "corrected"})
_BLANK = frozenset({"blank", "not_applicable"})


def explained_cells(deviations: Iterable[Deviation], explained: Iterable[str] = ()) -> set[str]:
    """Cells whose absence the source's own layout explains: listed by a ``dev_*`` deviation, or named by
    the assembler (``explained``: e.g. the sub-items of a （六）其他处理 printed as one row)."""
    out = set(explained)
    for dev in deviations:
        if dev.id.startswith("dev_"):
            out.update(dev.cells)
    return out


def flag_unread(cells: Mapping[str, CellValue], expected: Iterable[str], explained: set[str]) -> int:
    """Flag every expected cell that was not read and is not explained, the reason first; returns how many
    were not flagged before."""
    n = 0
    for cid in expected:
        cell = cells.get(cid)
        if cell is None or cell.status != "absent" or cid in explained:
            continue
        codes = codes_of(cell)
        first = codes[0] if codes else reason("not_found_in_document")
        n += not cell.needs_review
        cell.needs_review = True
        if first is None or None in codes:  # a reason outside the catalogue (tests/test_messages.py: none is)
            text = cell.review_reasons[0]
            cell.review_reasons = [
                text if text.startswith(NOT_READ) else f"{NOT_READ}: {text}",
                *cell.review_reasons[1:],
            ]
            cell.review_codes = []
            continue
        set_reasons(cell, [not_read(first), *[c for c in codes[1:] if c is not None]])
    return n


def _count(cov: TableCoverage | Coverage, cell: CellValue, explained: bool) -> None:
    cov.cells_expected += 1
    if cell.status in _READ:
        cov.cells_read += 1
    elif cell.status in _BLANK:
        cov.cells_blank += 1
    elif cell.status == "unparseable":
        cov.cells_unparseable += 1
    else:
        cov.cells_absent += 1
        cov.cells_absent_explained += explained
    cov.cells_flagged += cell.needs_review


def coverage(
    cells: Mapping[str, CellValue], schema: FormatSchema, explained: set[str], located_by: Mapping[str, list[str]]
) -> Coverage:
    """The coverage block of a result; ``located_by``: per table, what found it. A row (t4: a group) is
    mapped when any of its cells was read or printed blank."""
    tables = {t: TableCoverage(located_by=list(located_by.get(t, []))) for t in TABLES}
    total = Coverage(status="complete", tables=tables)
    rows: dict[str, bool] = {}
    for cid in schema.cell_ids():
        cell = cells.get(cid) or CellValue(status="absent", confidence=0.0)
        table = tables[cid.split(".", 1)[0]]
        for cov in (table, total):
            _count(cov, cell, cid in explained)
        row = cid.rsplit(".", 1)[0]
        rows[row] = rows.get(row, False) or cell.status in _READ or cell.status in _BLANK
    for row, mapped in rows.items():
        table = tables[row.split(".", 1)[0]]
        table.rows_expected += 1
        table.rows_mapped += mapped
    reasons = []
    for t, cov in tables.items():
        cov.located = cov.cells_read + cov.cells_blank > 0
        unread = cov.cells_absent - cov.cells_absent_explained + cov.cells_unparseable
        if not cov.located:
            reasons.append(f"{t}: table not located")
        elif unread:
            reasons.append(f"{t}: {unread} of {cov.cells_expected} cells not read")
    total.reasons = reasons
    if not any(cov.located for cov in tables.values()):
        total.status = "failed"
    elif reasons:
        total.status = "partial"
    return total
