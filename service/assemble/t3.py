"""Table 3 (收到和处理政府信息公开申请情况): rows and applicant columns to cell ids."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations

from service.assemble.common import (
    RowRead,
    Target,
    absent_cell,
    align,
    cell_from_value,
    deviation,
    inferred_cell,
    joined_row,
    label_score,
    mark_disagreement,
    runs_apart,
    unexpected_count,
    unmapped_row,
)
from service.assemble.place import header_columns as header_positions
from service.assemble.place import place, placed_cells, placed_deviation, row_columns, value_in_label
from service.assemble.rows import Row, Value, trim_values
from service.assemble.splits import Candidates, choose, make_candidates
from service.messages import add_code, add_reason, english, reason, set_reasons
from service.normalize import clean, label_key
from service.result import CellValue, Deviation
from service.rules import Equation, equations, hold_all, implied_by, infer_absent, within
from service.schema import FormatSchema, load_labels
from service.understand.matcher import MIN_SCORE

OTHER = "other_org"  # the column (其他) some reports do not print


@dataclass
class T3Result:
    cells: dict[str, CellValue] = field(default_factory=dict)
    deviations: list[Deviation] = field(default_factory=list)
    single_other_processing: bool = False  # 2021 report printing （六）其他处理 as one row
    explained: set[str] = field(default_factory=set)  # absent cells the report's own layout explains
    readings: list[RowRead] = field(default_factory=list)  # what was read, for the reviewer's start


@dataclass
class _Table:
    """Table 3 of the format as a report prints it: the applicant columns (自然人 first, 总计 last, the
    organisations between) and the report's rules."""

    columns: list[str]
    orgs: list[str]  # the organisation columns (法人或其他组织)
    rules: list[Equation]

    @classmethod
    def of(cls, schema: FormatSchema, single_other_processing: bool) -> _Table:
        rules = equations(schema, single_other_processing=single_other_processing)
        return cls(schema.t3_column_ids(), schema.t3_org_column_ids(), rules)

    def cells(self, *rows: str) -> list[str]:
        """The cell ids of these rows, row by row in column order."""
        return [f"t3.{r}.{c}" for r in rows for c in self.columns]

    def row_rules(self, *rows: str) -> list[Equation]:
        """The rules within these rows (each row's total)."""
        return within(self.rules, self.cells(*rows))


def _targets(schema: FormatSchema) -> list[Target]:
    targets: list[Target] = []
    rows = schema.t3_rows()
    for r in rows:
        if not r.has_values and r.parent is not None:
            # a group of result rows: only where a report prints its subtotal (or, 2021's （六）其他处理, prints the
            # group as one row)
            targets.append(Target(r.id, r.labels(), optional=True))
        elif r.has_values:
            labels = r.labels()
            if r.id == "results_total":
                labels = labels + ["（七）" + s for s in load_labels()["total_synonyms"]]
            targets.append(Target(r.id, labels))
    return targets


_LABEL_START = re.compile(
    r"^\s*(?:[（(]\s*[一二三四五六七八九十]{1,3}\s*[)）]|\d{1,2}\s*[.．、]|[一二三四五六七八九十]{1,3}\s*[、.．])"
)


def _rejoin(rows: list[Row], targets: list[Target], schema: FormatSchema) -> tuple[list[Row], list[str]]:
    """Label lines and value rows printed apart (a PDF-to-text conversion: a run of label lines, then a run of
    value rows without labels) joined again in order. The label lines are cut into labels where a numbering
    starts (1. / （三） / 三、; other lines continue a wrapped label), each label is mapped to its row of the
    format (the matcher and the classifier, as everywhere), a group label followed by one of its own items
    shares that item's row, and the value rows take the labels in order — only where there are exactly as
    many of them as labels that need one. Returns the rows and the joined rows' labels (for a deviation)."""
    parent = {r.id: r.parent for r in schema.t3_rows()}
    out: list[Row] = []
    joined: list[str] = []
    # value rows without labels, printed blank ones included (they hold a row's place)
    for lines, loose in runs_apart(rows, lambda r: bool(r.values)):
        if not lines or not loose:
            out += lines + loose
            continue
        labels: list[list[Row]] = []
        for line in lines:
            if labels and not _LABEL_START.match(line.text):
                labels[-1].append(line)  # a wrapped label continues
            else:
                labels.append([line])
        named = []
        for parts in labels:
            probe = joined_row(parts)
            best = max(((label_score(probe, t.labels, "t3." + t.id)[0], t.id) for t in targets), default=(0.0, ""))
            if best[0] >= MIN_SCORE:
                named.append((parts, best[1]))
        need: list[list[Row]] = []
        carry: list[Row] = []
        for i, (parts, tid) in enumerate(named):
            nxt = named[i + 1][1] if i + 1 < len(named) else None
            if nxt is not None and parent.get(nxt) == tid:
                carry += parts  # a group label printed before its first item: one row
                continue
            need.append(carry + parts)
            carry = []
        if len(need) != len(loose):
            out += lines + loose
            continue
        kept = [line for line in lines if not any(line is p for parts, _ in named for p in parts)]
        out += kept
        for parts, value_row in zip(need, loose):
            out.append(joined_row(parts, value_row))
            joined.append(out[-1].text)
    return out, joined


def _merge_displaced_labels(rows: list[Row]) -> tuple[list[Row], set[int], list[Row]]:
    """Value rows with their labels; a value row without label takes the loose label lines just above it."""
    data: list[Row] = []
    headers: list[Row] = []
    displaced: set[int] = set()
    pending: list[Row] = []
    seen_data = False
    for row in rows:
        has_values = bool(row.filled_values()) or (row.values and row.labels)
        if not has_values:
            if row.labels:
                pending.append(row)
                if not seen_data:
                    headers.append(row)
            continue
        if not row.labels and pending and seen_data:
            row = Row(
                labels=["".join(p.text for p in pending)],
                values=row.values,
                provenance=row.provenance,
                run_together=row.run_together,
                block_index=row.block_index,
            )
            displaced.add(id(row))
        data.append(row)
        seen_data = True
        pending = []
    return data, displaced, headers


def _header_has(headers: list[Row], word: str, label_id: str) -> bool:
    """A header prints this column: its exact word, or a header cell the classifier reads as ``label_id``."""
    if any(label_key(label) == word for h in headers for label in h.labels):
        return True
    return any(t is not None and t.label == label_id and t.confidence >= 0.5 for h in headers for t in h.label_tags)


def _digit_tokens(row: Row) -> list[str]:
    return [clean(v.raw).replace(" ", "").replace(",", "") for v in row.values if v.raw.strip()]


def assemble_t3(rows: list[Row], schema: FormatSchema) -> T3Result:
    out = T3Result()
    targets = _targets(schema)
    rows, joined = _rejoin(rows, targets, schema)
    if joined:
        out.deviations.append(
            deviation(
                "xxgk_rejoined_rows",
                f"table 3: {len(joined)} value rows printed apart from their labels, joined in "
                "order: " + "; ".join(joined),
                severity="info",
            )
        )
    data, displaced, headers = _merge_displaced_labels(rows)
    al = align(data, targets, displaced, prefix="t3.")
    value_rows = [r.id for r in schema.t3_value_rows()]
    other_label = next(c.label for c in schema.t3_columns() if c.id == OTHER)
    has_other_header = _header_has(headers, other_label, f"t3.col.{OTHER}")
    groups = [r.id for r in schema.t3_rows() if not r.has_values and r.parent is not None]

    # (六)其他处理 printed as one row in a 2021 report
    if schema.format == "2021" and "other_processing" in al.matched:
        subs = [r.id for r in schema.t3_rows() if r.parent == "other_processing"]
        if not any(s in al.matched for s in subs):
            out.single_other_processing = True
            value_rows = [r for r in value_rows if r not in subs]
            for cid in [c for rid in subs for c in schema.t3_row_cells(rid)]:
                out.cells[cid] = absent_cell(reason("single_other_processing"))
                out.explained.add(cid)
            value_rows.insert(value_rows.index("results_total"), "other_processing")
            out.deviations.append(
                deviation(
                    "dev_2021_single_other_processing",
                    "2021-format table 3 prints （六）其他处理 as a single row without its three sub-items; "
                    "values reported under t3.other_processing.*",
                    schema.t3_row_cells("other_processing"),
                )
            )
    table = _Table.of(schema, out.single_other_processing)
    ncols = len(table.columns)
    for group in groups:
        if group in al.matched and group not in value_rows:
            sub = al.matched[group]
            out.deviations.append(
                deviation(
                    "dev_group_subtotal_rows",
                    f"table 3 prints a subtotal row for {group} ({sub.text}: {' '.join(v.raw for v in sub.values)}); "
                    "checked, never added into （七）总计",
                    severity="info",
                )
            )

    candidates: dict[str, Candidates] = {}
    header_columns = _header_columns(headers, table)
    header_mapped: list[str] = []
    width = _table_width(
        [r for rid in value_rows if (r := al.matched.get(rid)) is not None and not r.run_together], ncols
    )
    by_rules = _mappings_by_rules(
        {
            rid: trim_values(r.values, width)
            for rid in value_rows
            if (r := al.matched.get(rid)) is not None and not r.run_together
        },
        table,
        _subtotal_side(rows[: next((i for i, r in enumerate(rows) if r.filled_values()), len(rows))], table),
    )
    # the columns' x-positions, for rows printing fewer values than columns: the header's, the full rows'
    words = load_labels()["t3_columns"]
    positions = header_positions(headers, [words[c] for c in table.columns]) + row_columns(
        [
            trim_values(r.values, ncols)
            for rid in value_rows
            if (r := al.matched.get(rid)) is not None and not r.run_together
        ],
        ncols,
    )
    for i, rid in enumerate(value_rows):
        row = al.matched.get(rid)
        if row is None:
            if table.cells(rid)[-1] not in out.cells:  # (a row whose digits ran into the row before it is read there)
                for cid in table.cells(rid):
                    out.cells[cid] = absent_cell(reason("row_not_found"))
            continue
        vals = trim_values(row.values, ncols if row.run_together else width)
        if row.run_together and len(vals) < ncols:
            tokens = _digit_tokens(row)
            cand = make_candidates(rid, tokens, table.cells(rid), rules=table.row_rules(rid))
            if not cand.options and not has_other_header:
                cand = _lost_other_candidates(rid, tokens, table)  # the report lost its 其他 column (no header for it)
            nxt = value_rows[i + 1] if i + 1 < len(value_rows) else None
            if (
                (not cand.options or cand.row_rule_broken)
                and nxt is not None
                and nxt not in al.matched
                and _two_rows(out, row, rid, nxt, tokens, table)
            ):
                continue
            if cand.options:
                candidates[rid] = cand
                continue
        mapping, unsure = by_rules.get(len(vals), (None, set()))
        if mapping is None:
            mapping = _column_mapping(len(vals), has_other_header, table)
        if mapping is None and header_columns is not None and len(header_columns) == len(vals):
            mapping = header_columns  # a layout the count rules do not know (e.g. no 总计 column), read off the header
            header_mapped.append(rid)
        if mapping is None and _all_zero(row, vals, ncols):
            _zero_row(out, row, rid, vals, table)
            continue
        if mapping is None and not row.run_together and (placement := place(vals, ncols, positions)) is not None:
            value_in_label(row, placement)
            out.cells.update(placed_cells(placement, table.cells(rid)))
            out.deviations.append(placed_deviation("table 3 row", row, placement, table.cells(rid)))
            continue
        if mapping is None:
            out.deviations.append(unexpected_count(out.cells, "table 3 row", row, table.cells(rid), len(vals)))
            continue
        for k, (col, val) in enumerate(zip(mapping, vals)):
            if col is None:
                continue
            out.cells[f"t3.{rid}.{col}"] = cell_from_value(val)
            if (rid, k) in unsure:
                out.cells[f"t3.{rid}.{col}"].needs_review = True
                add_reason(out.cells[f"t3.{rid}.{col}"], "column_uncertain", unique=False, n=len(vals))
        for col in table.columns:
            if col not in mapping:
                out.cells[f"t3.{rid}.{col}"] = absent_cell(reason("column_not_printed_in_row", col=col))
        if len(vals) == 8:
            out.deviations.append(
                deviation(
                    "dev_group_subtotal_rows",
                    f"table 3 row {row.text!r} prints an extra 法人或其他组织 subtotal column; it is not a schema cell",
                    severity="info",
                )
            )

    for row in al.unmatched:
        if row.filled_values():
            out.deviations.append(unmapped_row("table 3 row", row, "matches no row of the format"))
    if header_mapped and header_columns is not None:
        out.deviations.append(
            deviation(
                "xxgk_columns_from_header",
                f"table 3 rows {', '.join(header_mapped)} print {len(header_columns)} values; mapped to the columns "
                "the classifier reads in the header: " + " ".join(c or "(subtotal)" for c in header_columns),
                severity="warning",
            )
        )
        for col in table.columns:
            if col not in header_columns:
                for rid in header_mapped:
                    set_reasons(out.cells[f"t3.{rid}.{col}"], [reason("column_not_printed_in_table", col=col)])
    if candidates:
        _resolve_splits(out, candidates, table, al.matched)
    for rid, why in al.by_position.items():
        for k, c in enumerate(table.columns):
            cell = out.cells.get(f"t3.{rid}.{c}")
            if cell is not None and cell.status != "absent" and add_code(cell, why):
                cell.needs_review = True
                if cell.status == "read":  # which row it is, is inferred from the order, not printed
                    cell.status, cell.inferred_by = "inferred", english(why.code, **why.params)
                    # what the cell would read had the rows of the gap been placed otherwise
                    cell.alternatives = sorted(
                        {
                            v
                            for r in al.rivals.get(rid, [])
                            if len(vals := trim_values(r.values, ncols)) == ncols
                            and (v := vals[k].parsed.value) is not None
                        }
                        - {cell.value}
                    )
    for rid, message in al.disagreements.items():
        mark_disagreement([out.cells[c] for c in table.cells(rid) if c in out.cells], message, al.scores[rid])
    _missing_other(out, value_rows, table)
    for rid in value_rows:
        if (row := al.matched.get(rid)) is not None:
            out.readings.append(RowRead(f"t3.{rid}", table.cells(rid), [row]))
        elif rid in al.orphans:
            out.readings.append(RowRead(f"t3.{rid}", table.cells(rid), al.orphans[rid], matched=False))
    return out


def _header_columns(headers: list[Row], table: _Table) -> list[str | None] | None:
    """Value columns left to right as the classifier reads the header (the deepest header cell of each grid
    column wins; a 法人或其他组织 subtotal column maps to None). None when the header is not read."""
    deepest: dict[int, tuple[int, str]] = {}
    for h in headers:
        for key, tag in zip(h.label_keys, h.label_tags):
            if tag is None or len(key) != 3 or not tag.label.startswith("t3.col.") or tag.confidence < 0.5:
                continue
            _, row, col = key
            if col not in deepest or row > deepest[col][0]:
                deepest[col] = (row, tag.label[len("t3.col.") :])
    seq = [label for _, (_, label) in sorted(deepest.items())]
    mapping = [c if c in table.columns else None for c in seq]
    named = [c for c in mapping if c is not None]
    if table.columns[0] not in named or len(named) != len(set(named)):
        return None
    return mapping


def _table_width(rows: list[Row], ncols: int) -> int:
    """How many value cells the table's rows print: seven, or more where most rows that end in a printed value
    print more (a 小计 column): then a row's trailing blank (a 总计 printed empty) is a cell of its own, not
    padding to trim."""
    ends = Counter(len(vals) for r in rows if (vals := _from_first_printed(r.values)) and not vals[-1].blank)
    wide = {w: n for w, n in ends.items() if w > ncols}
    if not wide or 2 * sum(wide.values()) < sum(ends.values()):
        return ncols
    return max(wide, key=wide.__getitem__)


def _from_first_printed(values: list[Value]) -> list[Value]:
    """The values from the first printed one on (blank cells before it are the label columns of a grid)."""
    first = next((i for i, v in enumerate(values) if not v.blank), len(values))
    return values[first:]


def _subtotal_side(headers: list[Row], table: _Table) -> str | None:
    """Where a header row prints a subtotal column among the organisation columns: "before" them (小计 right
    after 自然人) or "after" them (小计 before 总计); None when no header row says. The words are those of
    configs/labels.yaml (subtotal: the 法人或其他组织 group and the total synonyms other than 总计)."""
    words = load_labels()
    subtotal = {label_key(w) for w in words["t3_columns"]["legal_or_other_org"]} | {
        label_key(w) for w in words["total_synonyms"]
    } - {label_key(w) for w in words["t3_columns"]["total"][:1]}
    org_words = {label_key(w) for c in table.orgs for w in words["t3_columns"][c]} - {label_key("其他")}
    for h in headers:
        keys = [label_key(label) for label in h.labels]
        subs = [i for i, k in enumerate(keys) if k in subtotal]
        orgs = [i for i, k in enumerate(keys) if k in org_words]
        if subs and orgs:
            return "before" if subs[0] < orgs[0] else "after"
    return None


def _mappings_by_rules(
    rows: dict[str, list[Value]], table: _Table, side: str | None
) -> dict[int, tuple[list[str | None], set[tuple[str, int]]]]:
    """Column placement of rows printing more values than the seven columns (a 法人或其他组织 小计 column, an
    empty column of the layout), decided by the row rules over all rows of that width: 自然人 first, 总计 last,
    the five organisation columns in order between; every other column is a subtotal (= the organisations'
    sum) or empty (0 or blank) in every row. The placement that holds in the most rows wins; where several do
    equally well, the header's word on where the 小计 column stands (``side``) decides, else the format's own
    printed layout where it is one of them; failing that, a row's cells on which they disagree are returned as
    unsure (row id, value position). Widths of seven or fewer are
    left to the count rules."""
    out: dict[int, tuple[list[str | None], set[tuple[str, int]]]] = {}
    first, last = table.columns[0], table.columns[-1]
    for n in sorted({len(r) for r in rows.values() if len(r) > len(table.columns)}):
        group = [
            (rid, [v.parsed.value if v.parsed.status == "value" and v.parsed.value is not None else 0 for v in r])
            for rid, r in rows.items()
            if len(r) == n
        ]
        scored: list[tuple[int, list[str | None]]] = []
        for orgs in combinations(range(1, n - 1), len(table.orgs)):
            extras = [p for p in range(1, n - 1) if p not in orgs]
            placed = [(0, first), *zip(orgs, table.orgs), (n - 1, last)]
            fits = 0
            for rid, vals in group:
                org_sum = sum(vals[p] for p in orgs)
                numbers = {f"t3.{rid}.{c}": vals[p] for p, c in placed}
                if hold_all(table.row_rules(rid), numbers) and all(vals[p] in (0, org_sum) for p in extras):
                    fits += 1
            kinds_ok = all(
                all(vals[p] == 0 for _, vals in group)
                or all(vals[p] == sum(vals[q] for q in orgs) for _, vals in group)
                for p in extras
            )
            if kinds_ok:
                mapping: list[str | None] = [None] * n
                for p, col in placed:
                    mapping[p] = col
                scored.append((fits, mapping))
        if not scored:
            continue
        best = max(f for f, _ in scored)
        winners = [m for f, m in scored if f == best]
        if len(winners) > 1 and side is not None:  # the header says where the 小计 column stands
            at = 1 if side == "before" else n - 2
            winners = [m for m in winners if m[at] is None] or winners
        elif len(winners) > 1 and (usual := _column_mapping(n, True, table)) in winners:
            winners = [usual]  # the format's printed layout (法人或其他组织 小计 after 自然人), as without the rules
        unsure: set[tuple[str, int]] = set()
        for rid, vals in group:
            readings = {tuple(vals[m.index(c)] for c in table.columns) for m in winners}
            if len(readings) > 1:
                unsure.update((rid, p) for p in range(n))
        # a column printed blank in every row may be the 总计 itself (some reports leave it empty): then the last
        # column (a subtotal?) is not surely the total
        blank_cols = [
            p
            for p in range(1, n - 1)
            if winners[0][p] is None and all(rows[rid][p].parsed.status == "blank" for rid, _ in group)
        ]
        if blank_cols:
            unsure.update((rid, n - 1) for rid, _ in group)
        out[n] = (winners[0], unsure)
    return out


def _column_mapping(n: int, has_other_header: bool, table: _Table) -> list[str | None] | None:
    """The columns of a row printing ``n`` values, by their count: all of them; all but 其他 (a report that lost
    it); or one more: the 法人或其他组织 subtotal after 自然人."""
    columns: list[str | None] = list(table.columns)
    if n == len(columns):
        return columns
    if n == len(columns) - 1 and not has_other_header:
        return [c for c in columns if c != OTHER]
    if n == len(columns) + 1:
        # 自然人, 法人或其他组织 (subtotal), the organisation columns, 总计
        return [columns[0], None, *table.orgs, columns[-1]]
    return None


def _missing_other(out: T3Result, value_rows: list[str], table: _Table) -> None:
    """Rows that lost the 其他 column: infer it from the row total and report the deviation."""
    lost = [
        r
        for r in value_rows
        if out.cells.get(f"t3.{r}.{OTHER}") is not None
        and out.cells[f"t3.{r}.{OTHER}"].status == "absent"
        and out.cells[table.cells(r)[-1]].status != "absent"
    ]
    if not lost:
        return
    for rid in lost:
        infer_absent(out.cells, f"t3.{rid}.{OTHER}", table.row_rules(rid))
        set_reasons(out.cells[f"t3.{rid}.{OTHER}"], [reason("column_not_printed_in_row", col="其他")])
    out.deviations.append(
        deviation(
            "dev_missing_other_column",
            "table 3: the 其他 column is missing in rows "
            + ", ".join(lost)
            + f" ({len(table.columns) - 1} values printed); 其他 is absent there and inferred from the row total",
            [f"t3.{r}.{OTHER}" for r in lost],
        )
    )


ZERO_ROW = english("zero_row")


def _all_zero(row: Row, vals: list[Value], ncols: int) -> bool:
    """Every value (or every digit of run-together values) the row prints is 0, fewer than the columns."""
    if row.run_together:
        digits = "".join(_digit_tokens(row))
        return 0 < len(digits) < ncols and set(digits) == {"0"}
    printed = [v for v in vals if not v.blank]
    return 0 < len(vals) < ncols and len(printed) == len(vals) and all(v.parsed.value == 0 for v in printed)


def _zero_row(out: T3Result, row: Row, rid: str, vals: list[Value], table: _Table) -> None:
    """A row printing only zeros, one or more columns short: under the row rule (total = the sum of the applicant
    columns, none negative) every cell is 0 wherever the gap is; inferred and reviewed, never read."""
    src = cell_from_value(vals[0]).source if vals else None
    for cid in table.cells(rid):
        out.cells[cid] = inferred_cell(0, "0", src, reason("zero_row"), 0.7)
    out.deviations.append(
        deviation(
            "xxgk_zero_row_short",
            f"table 3 row {row.text!r} prints {' '.join(v.raw for v in vals)}: fewer values than "
            f"the {len(table.columns)} columns, all 0; every cell inferred as 0",
            table.cells(rid),
            severity="warning",
        )
    )


TWO_ROWS = english("two_rows_run_together")


def _two_rows(out: T3Result, row: Row, rid: str, nxt: str, tokens: list[str], table: _Table) -> bool:
    """A run of digits too long for its row, where the next row of the format was not found (its label lost):
    the run split into both rows, each keeping its row total, at the most plausible such split; every cell is
    inferred and reviewed. False when no split of the run makes two rows whose totals hold."""
    cells = table.cells(rid, nxt)
    two = make_candidates(rid, tokens, cells, rules=table.row_rules(rid, nxt))
    if not two.options or two.row_rule_broken:
        return False
    best = min(range(len(two.options)), key=two.costs.__getitem__)
    src = cell_from_value(row.values[0]).source
    for cid, value, raw in zip(cells, two.options[best], two.raw_options[best]):
        out.cells[cid] = inferred_cell(value, raw, src, reason("two_rows_run_together"), 0.5)
    out.deviations.append(
        deviation(
            "xxgk_two_rows_run_together",
            f"table 3 row {row.text!r}: {''.join(tokens)} holds the digits of {rid} and "
            f"{nxt} (whose label was not found); split as {two.raw_options[best]}",
            table.cells(nxt),
        )
    )
    return True


def _lost_other_candidates(rid: str, tokens: list[str], table: _Table) -> Candidates:
    """Splits of a row's digits into the columns a report that lost its 其他 column prints, as options over all
    the row's columns whose 其他 is what the row rule leaves (never negative); the cell itself stays absent."""
    cells = table.cells(rid)
    other = f"t3.{rid}.{OTHER}"
    printed = [c for c in cells if c != other]
    short = make_candidates(rid, tokens, printed)
    rules = table.row_rules(rid)
    out = Candidates(key=rid, cells=cells, options=[], costs=[], lost_other=True)
    for k, option in enumerate(short.options):
        values = dict(zip(printed, option))
        found = implied_by(rules, other, values.get)
        if found is None or found[0] < 0:  # a count: the printed total must leave 其他 something
            continue
        values[other] = found[0]
        raws = dict(zip(printed, short.raw_options[k]))
        out.options.append([values[c] for c in cells])
        out.costs.append(short.costs[k])
        out.raw_options.append([raws.get(c, "") for c in cells])
    return out


def _resolve_splits(out: T3Result, candidates: dict[str, Candidates], table: _Table, matched: dict[str, Row]) -> None:
    """One split per row of run-together digits, chosen jointly under the rules across rows (the column rules),
    the rows printed plainly counting as they read."""
    constants = {cid: c.value for cid, c in out.cells.items() if c.status == "read" and c.value is not None}
    choices = choose(candidates, constants, [eq for eq in table.rules if eq.scope == "per_column"])
    for rid, choice in choices.items():
        cand = candidates[rid]
        row = matched[rid]
        option = cand.options[choice.option]
        raws = cand.raw_options[choice.option]
        for k, cid in enumerate(cand.cells):
            if cand.lost_other and cid == f"t3.{rid}.{OTHER}":
                out.cells[cid] = absent_cell(reason("column_not_printed_in_row", col="其他"))
                continue
            cell = CellValue(
                value=option[k],
                raw=raws[k],
                status="read" if not choice.alternatives else "inferred",
                confidence=1.0 if not choice.alternatives else 0.5,
                source=cell_from_value(row.values[0]).source,
                note=None,
            )
            alts = sorted({cand.options[a][k] for a in choice.alternatives} - {option[k]})
            if alts:
                cell.alternatives = alts
                cell.inferred_by = "split of run-together digits: several splits fit the rules"
                cell.needs_review = True
                set_reasons(cell, [reason("ambiguous_split")])
            if cand.row_rule_broken:
                cell.needs_review = True
                add_reason(cell, "split_breaks_rule")
            out.cells[cid] = cell
        if choice.alternatives:
            out.deviations.append(
                deviation(
                    "dev_flattened_text",
                    f"table 3 row {row.text!r}: digits {' '.join(v.raw for v in row.values)} ran together; "
                    f"{1 + len(choice.alternatives)} splits fit the rules, chose {raws}",
                    cand.cells,
                )
            )
