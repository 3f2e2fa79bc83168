"""Table 4 (行政复议、行政诉讼): 15 values in one printed row, or three rows of five."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.assemble.common import (
    RowRead,
    absent_cell,
    cell_from_value,
    deviation,
    label_score,
    unmapped_row,
)
from service.assemble.place import (
    Columns,
    header_columns,
    mark_apart,
    place,
    placed_cells,
    placed_deviation,
    split_apart,
)
from service.assemble.rows import Row, Value, trim_values
from service.assemble.splits import choose, make_candidates
from service.messages import add_reason, reason, reasons_list
from service.normalize import clean
from service.result import CellValue, Deviation
from service.rules import Equation, equations, infer_absent, within
from service.schema import FormatSchema, load_labels


@dataclass
class T4Result:
    cells: dict[str, CellValue] = field(default_factory=dict)
    deviations: list[Deviation] = field(default_factory=list)
    readings: list[RowRead] = field(default_factory=list)  # what was read, for the reviewer's start


@dataclass
class _Table:
    """Table 4 of the format: its cells in printed order, by logical row (group), and its rules."""

    cells: list[str]  # the 15 cell ids in printed order
    groups: dict[str, list[str]]  # group id -> its five cell ids in printed order
    rules: list[Equation]

    @classmethod
    def of(cls, schema: FormatSchema) -> _Table:
        cells = schema.t4_cell_ids()
        groups = {g.id: [c for c in cells if c.split(".")[1] == g.id] for g in schema.t4_groups()}
        return cls(cells, groups, [eq for eq in equations(schema) if set(eq.cells) <= set(cells)])


def _group_of(row: Row, table: _Table) -> str | None:
    synonyms = load_labels()["t4_groups"]
    best, arg = 0.0, None
    for g in table.groups:
        s = label_score(row, synonyms[g], f"t4.{g}")[0] if row.labels else 0.0
        if s > best:
            best, arg = s, g
    return arg if best >= 0.8 else None


def assemble_t4(rows: list[Row], schema: FormatSchema) -> T4Result:
    out = T4Result()
    table = _Table.of(schema)
    width = len(schema.t4_columns())
    data = [r for r in rows if r.filled_values()]
    # three logical rows printed as three rows of five, each with its group label
    by_group = {
        g: r for r in data if (g := _group_of(r, table)) is not None and len(trim_values(r.values, width)) == width
    }
    if len(by_group) == len(table.groups):
        for g, cells in table.groups.items():
            for cid, v in zip(cells, trim_values(by_group[g].values, width)):
                out.cells[cid] = cell_from_value(v)
        out.deviations.append(deviation("dev_transposed_t4", "table 4 printed as three rows of five", severity="info"))
        return out

    # the table's values are those of its first rows; rows after them (a fee table or a sentence with numbers
    # the agency printed under table 4) are reported, not mapped. 15 values printed beat a split of digits that
    # ran together, which beats 14 values (the last 总计 missing).
    # a row of fewer values whose boxes say under which columns they stand is placed by them ("placed"); a cell
    # that read two numbers apart in a row one value short is read as two ("apart"); else the last total is
    # taken as not printed ("short")
    synonyms = load_labels()["t4_columns"]
    columns = header_columns(
        [r for r in rows if not r.filled_values()], [synonyms[c.split(".")[2]] for c in table.cells]
    )
    ways = ("printed", "split", "placed", "apart", "short", "split-short")
    for way, k in ((way, k) for way in ways for k in range(1, len(data) + 1)):
        if way in ("placed", "apart") and k > 1:
            continue
        if _read_values(out, data[:k], way, table, columns):
            out.readings.append(RowRead("t4", list(table.cells), data[:k]))
            for row in data[k:]:
                out.deviations.append(unmapped_row("table 4: row", row, "follows the table's 15 values"))
            return out
    n = len(trim_values([v for r in data for v in r.values], len(table.cells)))
    if data:
        out.readings.append(RowRead("t4", list(table.cells), data[:1]))
    for cid in table.cells:
        out.cells[cid] = absent_cell(reason("t4_not_found"))
    out.deviations.append(
        deviation(
            "xxgk_t4_unreadable",
            f"table 4: found {n} values where {len(table.cells)} are expected; not mapped",
            list(table.cells),
            severity="error",
        )
    )
    return out


def _read_values(out: T4Result, rows: list[Row], way: str, table: _Table, columns: list[Columns]) -> bool:
    """Map the values of these rows to the 15 cells, the ``way`` given: ``printed`` (15 values), ``split``
    (fewer runs of digits that ran together, split under the group rules), ``placed`` (fewer, placed under the
    header's columns by their x-positions), ``apart`` (14, one cell reading two numbers apart), ``short`` (14:
    the last 总计 missing), ``split-short`` (digits that ran together, split into 14); False when they do not
    make table 4 that way."""
    full = len(table.cells)
    values: list[Value] = trim_values([v for r in rows for v in r.values], full)
    n = len(values)
    if way == "placed" and not any(r.run_together for r in rows):
        placement = place(values, full, columns)
        # the last 总计 alone not printed: the ``short`` reading says so and infers it by the group rule
        if placement is None or [k for k, v in enumerate(placement.slots) if v is None] == [full - 1]:
            return False
        out.cells.update(placed_cells(placement, table.cells))
        out.deviations.append(placed_deviation("table 4 row", rows[0], placement, table.cells))
        return True
    if way == "apart" and not any(r.run_together for r in rows):
        apart = split_apart(values, full)
        if apart is None:
            return False
        parts, first = apart
        for cid, v in zip(table.cells, parts):
            out.cells[cid] = cell_from_value(v)
        mark_apart([out.cells[cid] for cid in table.cells[first:]])
        out.deviations.append(
            deviation(
                "xxgk_cell_read_apart",
                f"table 4: the cell {values[first].raw!r} read as two values {parts[first].raw} and "
                f"{parts[first + 1].raw} (the row prints {n} values where {full} are expected)",
                table.cells[first:],
            )
        )
        return True
    if way in ("split", "split-short") and any(r.run_together for r in rows):
        count = full if way == "split" else full - 1
        if n < count and _split(out, values, table.cells[:count], table):
            if count < full:
                _missing_last_total(out, table)
            return True
    if (way == "printed" and n == full) or (way == "short" and n == full - 1):
        for cid, v in zip(table.cells, values):
            out.cells[cid] = cell_from_value(v)
        if n < full:
            _missing_last_total(out, table)
        return True
    return False


def _split(out: T4Result, values: list[Value], cells: list[str], table: _Table) -> bool:
    """These cells from runs of digits that ran together, split under the rules of the groups printed whole;
    False when no split makes that many numbers."""
    tokens = [clean(v.raw).replace(" ", "") for v in values if v.raw.strip()]
    rules = within(table.rules, cells)
    cand = make_candidates("t4", tokens, cells, rules=rules)
    if not cand.options:
        return False
    choice = choose({"t4": cand}, {}, rules)["t4"]
    option, raws = cand.options[choice.option], cand.raw_options[choice.option]
    src = cell_from_value(values[0]).source
    for k, cid in enumerate(cells):
        alts = sorted({cand.options[a][k] for a in choice.alternatives} - {option[k]})
        cell = CellValue(
            value=option[k],
            raw=raws[k],
            status="inferred" if alts else "read",
            confidence=0.5 if alts else 1.0,
            source=src,
            alternatives=alts,
            needs_review=bool(alts),
            **reasons_list(*([reason("ambiguous_split")] if alts else [])),
            inferred_by="split of run-together digits: several splits fit the rules" if alts else None,
        )
        if cand.row_rule_broken:
            cell.needs_review = True
            add_reason(cell, "split_breaks_rule")
        out.cells[cid] = cell
    return True


def _missing_last_total(out: T4Result, table: _Table) -> None:
    """Table 4 printed 14 values: the 总计 of 复议后起诉 is absent, its value inferred by the group rule."""
    last = table.cells[-1]
    out.cells[last] = absent_cell(reason("t4_last_total_missing"))
    infer_absent(out.cells, last, table.rules)
    out.deviations.append(
        deviation(
            "dev_missing_t4_total",
            "table 4 prints 14 values: the 总计 of 复议后起诉 is missing (inferred from the group total rule)",
            [last],
        )
    )
