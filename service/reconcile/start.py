"""Start from what was read (issue 18): for a row of the format with a cell the reviewer must look at, the row as
it was read (its values with their boxes, the text-layer line) and one-click candidates for the whole row.

A candidate is a value for every cell of the row, taken from what was read:

- ``row``: as many values read as the row has cells (a ruled grid's slots, a row read without its label where
  the row belongs) — in order, a blank slot left to the rules;
- ``gap``: fewer values read than cells: the values in order with one or two lost where nothing was read, each
  lost value what the rules then require (a row total, a column rule whose other cells are read);
- ``split``: fewer values than cells and digits that may have run together: the digits cut into the columns.

Each candidate is checked against every rule of the format that touches the row (the row's own and the column
rules whose other cells are known); ``proposed`` marks the one the rules single out: every row rule holds, no
value left open, and no rival keeps as many rules. Nothing here changes a cell: the reviewer accepts a candidate
(``PATCH /v1/reports/{id}/cells``), which is then audited as any correction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import Literal

from service.assemble import RowRead
from service.assemble.rows import Row, Value
from service.assemble.splits import split_tokens
from service.result import CellValue, ReadToken, RowCandidate, RowReading
from service.rules import Equation
from service.rules.equations import Number, compare

How = Literal["split", "gap", "row"]
MAX_GAPS = 2  # lost values a ``gap`` candidate may assume (C(15, 2) = 105 placements for table 4)
MAX_SPLITS = 2000  # digit splits tried per row
MAX_CANDIDATES = 6  # candidates kept per row, best first
# codes that say a cell's place in its row is in doubt although it holds a value
PLACE_CODES = frozenset(
    {
        "placed_by_position",
        "placed_split_cell",
        "placed_nothing",
        "row_placed_by_order",
        "ambiguous_split",
        "split_breaks_rule",
        "split_by_plausibility",
        "two_rows_run_together",
        "column_uncertain",
        "detached_by_order",
        "blank_in_scan",
    }
)
UNREAD_STATUSES = ("absent", "blank", "inferred", "unparseable")


def wants_start(cell: CellValue) -> bool:
    """A cell the reviewer must fill or place: flagged and not read as printed, or read but placed in doubt."""
    if not cell.needs_review:
        return False
    return cell.status in UNREAD_STATUSES or any(rc.code in PLACE_CODES for rc in cell.review_codes)


def row_readings(readings: Iterable[RowRead], cells: Mapping[str, CellValue], eqs: list[Equation]) -> list[RowReading]:
    """The raw reading and candidates of every row with a cell that :func:`wants_start`."""
    out: list[RowReading] = []
    for rr in readings:
        if not any((c := cells.get(cid)) is not None and wants_start(c) for cid in rr.cells):
            continue
        values = [v for row in rr.rows for v in row.values]
        reading = RowReading(
            row=rr.key,
            cells=list(rr.cells),
            matched=rr.matched,
            label=rr.rows[0].text if rr.matched and rr.rows else None,
            text="　".join(_line(row) for row in rr.rows),
            page=rr.rows[0].provenance.page if rr.rows else None,
            line=rr.rows[0].provenance.line if rr.rows else None,
            origin=rr.rows[0].provenance.origin if rr.rows else None,
            tokens=[_token(v) for v in values],
        )
        reading.candidates = candidates(rr, values, cells, eqs)
        out.append(reading)
    return out


def _line(row: Row) -> str:
    return " ".join([row.text, *(v.raw for v in row.values if v.raw)]).strip()


def _token(v: Value) -> ReadToken:
    p = v.provenance
    return ReadToken(
        raw=v.raw,
        value=v.parsed.value if v.parsed.status not in ("blank",) else None,
        page=p.page,
        bbox=p.bbox,
        confidence=round(p.confidence, 4),
    )


def _known(cells: Mapping[str, CellValue], exclude: set[str]) -> dict[str, Number]:
    """The numbers of the cells outside the row that a rule may use (a blank counts 0, as the checks count it)."""
    out: dict[str, Number] = {}
    for cid, c in cells.items():
        if cid in exclude:
            continue
        if c.value is not None and c.status != "absent":
            out[cid] = c.value
        elif c.status in ("blank", "not_applicable"):
            out[cid] = 0
    return out


def candidates(
    rr: RowRead, values: list[Value], cells: Mapping[str, CellValue], eqs: list[Equation]
) -> list[RowCandidate]:
    """Candidates for one row, best first (see the module's docstring)."""
    ids = list(rr.cells)
    k = len(ids)
    mine = set(ids)
    touching = [eq for eq in eqs if not mine.isdisjoint(eq.cells)]
    if not touching and not values:
        return []
    known = _known(cells, mine)
    slots: list[tuple[str, Number | None]] = [
        (v.raw, v.parsed.value if v.parsed.status != "blank" else None) for v in values
    ]
    filled = [(raw, num) for raw, num in slots if num is not None]
    options: list[tuple[list[str | None], list[Number | None], How]] = []
    if len(slots) == k:  # a slot per cell (a ruled grid): in order, a blank slot left to the rules
        raw_slots: list[str | None] = [r if n is not None else None for r, n in slots]
        options.append((raw_slots, [n for _, n in slots], "gap" if len(filled) < k else "row"))
    if len(filled) == k and len(slots) != k:
        options.append(([r for r, _ in filled], [n for _, n in filled], "row"))
    if len(filled) < k and k - len(filled) <= MAX_GAPS:
        for gaps in combinations(range(k), k - len(filled)):
            it = iter(filled)
            raw: list[str | None] = []
            nums: list[Number | None] = []
            for pos in range(k):
                if pos in gaps:
                    raw.append(None)
                    nums.append(None)
                else:
                    r, n = next(it)
                    raw.append(r)
                    nums.append(n)
            options.append((raw, nums, "gap"))
    digits = [r.replace(",", "") for r, _ in filled]
    if len(filled) < k and digits and all(d.isdigit() for d in digits) and any(len(d) > 1 for d in digits):
        for parts in split_tokens(digits, k, limit=MAX_SPLITS):
            options.append((list(parts), [int(p) for p in parts], "split"))
    # a lost value where the reading found none is likelier than one where it read a value
    read_here = {c for c in ids if (cell := cells.get(c)) is not None and cell.status not in UNREAD_STATUSES}
    scored: list[tuple[tuple[int, int, int, int, int], RowCandidate]] = []
    for raw, nums, how in options:
        solved = _fill(ids, nums, known, touching)
        if any(v is not None and v < 0 for v in solved):
            continue
        values_of = dict(zip(ids, solved))
        row_rules = [eq for eq in touching if mine.issuperset(eq.cells)]
        hold, broken = _judge(touching, {**known, **{c: v for c, v in values_of.items() if v is not None}})
        row_broken = sum(1 for eq in row_rules if eq.text in broken)
        open_cells = sum(1 for v in solved if v is None)
        assumed = sum(1 for r in raw if r is None)
        against = sum(1 for c, r in zip(ids, raw) if r is None and c in read_here)
        scored.append(
            (
                (row_broken, len(broken), open_cells, assumed, against),
                RowCandidate(
                    values=values_of,
                    raw=dict(zip(ids, raw)),
                    how=how,
                    rules_hold=hold,
                    rules_broken=broken,
                ),
            )
        )
    scored.sort(key=lambda s: s[0])
    seen: set[tuple[Number | None, ...]] = set()
    unique = []
    for score, cand in scored:  # the same values by another way: the better way only
        key = tuple(cand.values.values())
        if key not in seen:
            seen.add(key)
            unique.append((score, cand))
    scored = unique
    best = [c for _, c in scored[:MAX_CANDIDATES]]
    if scored:
        top = scored[0][0]
        rival = scored[1][0][:3] if len(scored) > 1 else None
        if top[0] == 0 and top[2] == 0 and (rival is None or rival > top[:3]):
            best[0].proposed = True
    return best


def _fill(
    ids: list[str], nums: list[Number | None], known: Mapping[str, Number], eqs: list[Equation]
) -> list[Number | None]:
    """The lost values (None) a rule equation fixes: one with every other cell known, again until none does."""
    values: dict[str, Number] = dict(known)
    values.update({c: v for c, v in zip(ids, nums) if v is not None})
    open_ids = {c for c, v in zip(ids, nums) if v is None}
    progress = True
    while open_ids and progress:
        progress = False
        for eq in eqs:
            if eq.op != "==":
                continue
            unknown = [c for c in eq.cells if c not in values]
            if len(unknown) != 1 or unknown[0] not in open_ids:
                continue
            u = unknown[0]
            lhs = sum(values[c] for c in eq.lhs if c != u)
            rhs = sum(values[c] for c in eq.rhs if c != u)
            value = rhs - lhs if u in eq.lhs else lhs - rhs
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            values[u] = value
            open_ids.discard(u)
            progress = True
    return [values.get(c) if c in open_ids or v is None else v for c, v in zip(ids, nums)]


def _judge(eqs: list[Equation], values: Mapping[str, Number]) -> tuple[list[str], list[str]]:
    """The equations (their text) that hold and that break on these numbers; one with a cell without a number
    is neither."""
    hold: list[str] = []
    broken: list[str] = []
    for eq in eqs:
        if any(c not in values for c in eq.cells):
            continue
        lhs = sum(values[c] for c in eq.lhs)
        rhs = sum(values[c] for c in eq.rhs)
        (hold if compare(lhs, eq.op, rhs) else broken).append(eq.text)
    return hold, broken
