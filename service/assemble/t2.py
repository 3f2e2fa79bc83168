"""Table 2 (主动公开政府信息情况): blocks of article-20 items, rows matched by label."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service.assemble.common import (
    RowRead,
    absent_cell,
    cell_from_value,
    deviation,
    disagreement,
    joined_row,
    label_score,
    mark_disagreement,
    runs_apart,
    source_of,
    unexpected_count,
    unmapped_row,
)
from service.assemble.place import header_columns, place, placed_cells, placed_deviation, row_columns, value_in_label
from service.assemble.rows import Row, Value, trim_values
from service.assemble.splits import make_candidates, plausible
from service.messages import add_reason, english, reason, reasons_list, set_reasons
from service.normalize import clean, label_key, parse_number
from service.result import CellValue, Deviation, ReasonCode
from service.rules import Equation, equations, within
from service.schema import FormatSchema, T2Block, load_labels
from service.understand.matcher import MIN_SCORE, best_similarity

_UNIT = re.compile(r"(万元|元)$")
_PAREN_NOTE = re.compile(r"^[(（].*[)）]$")
_MAX_NOTE = 40  # characters of a note printed under a detached value
# a value printed apart from its row, without a note naming its column, given to the row's next column
DETACHED_BY_ORDER = english("detached_by_order")


@dataclass
class T2Result:
    cells: dict[str, CellValue] = field(default_factory=dict)
    deviations: list[Deviation] = field(default_factory=list)
    readings: list[RowRead] = field(default_factory=list)  # what was read, for the reviewer's start


def _detached_values(rows: list[Row]) -> list[Value]:
    """Values printed apart from their row (an extraction lost the cell), with the note below each."""
    pool: list[Value] = []
    note = ""  # a note wrapped across lines: （其中 / 修订16件）
    for row in rows:
        if not row.labels and row.filled_values():
            pool.extend(row.filled_values())
            note = ""
        elif pool and not row.values and (note or row.text.lstrip().startswith(("(", "（"))):
            note += row.text.replace(" ", "")
            if _PAREN_NOTE.match(note):
                last = pool[-1]
                raw = f"{last.raw}{note}"
                pool[-1] = Value(raw, parse_number(raw), last.provenance)
                note = ""
            elif len(note) > _MAX_NOTE:
                note = ""
        else:
            note = ""
    return pool


def _note_column(value: Value, block: T2Block) -> str | None:
    if not value.parsed.note:
        return None
    for col, words in load_labels()["t2_note_columns"].items():
        if any(w in value.parsed.note for w in words) and col in {c.id for c in block.columns}:
            return col
    return None


def _disagreement_t2(row: Row, label_id: str, blocks: list[T2Block]) -> ReasonCode | None:
    """What the classifier and the matcher each read a matched table-2 row as, when one of them disagrees."""
    best, matcher_best = 0.0, None
    for block in blocks:
        for trow in block.rows:
            s = best_similarity([row.leaf], trow.labels())
            if s > best and s >= MIN_SCORE:
                best, matcher_best = s, f"t2.{block.id}.{trow.id}"
    return disagreement(row, label_id, matcher_best)


def assemble_t2(rows: list[Row], schema: FormatSchema) -> T2Result:
    out = T2Result()
    blocks = schema.t2_blocks()
    eqs = equations(schema)
    _label_variants(rows, blocks, out)
    rows = _rejoin(rows, blocks, out)
    labelled = [r for r in rows if r.labels and r.values]
    detached = _detached_values(rows)
    used: set[int] = set()
    for block in blocks:
        ncols = len(block.columns)
        for trow in block.rows:
            prefix = f"t2.{block.id}.{trow.id}"
            best, arg = 0.0, None
            for i, r in enumerate(labelled):
                if i in used:
                    continue
                s, _, _ = label_score(r, trow.labels(), f"t2.{block.id}.{trow.id}", leaf_only=True)
                if s > best:
                    best, arg = s, i
            if arg is None or best < MIN_SCORE:
                for col in block.columns:
                    out.cells[f"{prefix}.{col.id}"] = absent_cell(reason("row_not_found"))
                continue
            used.add(arg)
            row = labelled[arg]
            out.readings.append(RowRead(prefix, [f"{prefix}.{c.id}" for c in block.columns], [row]))
            said = _disagreement_t2(row, f"t2.{block.id}.{trow.id}", blocks)
            vals = trim_values(row.values, ncols)
            if len(vals) < ncols and row.run_together:
                if _split_row(out, row, vals, block, prefix, eqs):
                    continue
            if len(vals) < ncols and not row.run_together:
                positions = header_columns(
                    [r for r in rows if not r.values], [c.labels() for c in block.columns]
                ) + row_columns([trim_values(r.values, ncols) for r in labelled], ncols)
                if (placement := place(vals, ncols, positions)) is not None:
                    value_in_label(row, placement)
                    ids = [f"{prefix}.{c.id}" for c in block.columns]
                    out.cells.update(placed_cells(placement, ids, [c.value_type for c in block.columns]))
                    out.deviations.append(placed_deviation("table 2 row", row, placement, ids))
                    continue
            if len(vals) < ncols and detached:
                vals = _insert_detached(out, vals, detached, block, prefix, row)
            if len(vals) != ncols:
                ids = [f"{prefix}.{c.id}" for c in block.columns]
                out.deviations.append(unexpected_count(out.cells, "table 2 row", row, ids, len(vals)))
                continue
            for col, val in zip(block.columns, vals):
                cell_id = f"{prefix}.{col.id}"
                if cell_id not in out.cells:
                    out.cells[cell_id] = cell_from_value(val, value_type=col.value_type)
            row_cells = [out.cells[f"{prefix}.{c.id}"] for c in block.columns]
            if any(c.inferred_by == DETACHED_BY_ORDER for c in row_cells):
                for cell in row_cells:  # which printed value stands in which column is then a guess too
                    cell.needs_review = True
                    add_reason(cell, "detached_by_order")
            if said is not None:
                mark_disagreement(
                    [out.cells[f"{prefix}.{c.id}"] for c in block.columns if f"{prefix}.{c.id}" in out.cells],
                    said,
                    best,
                )
    for i, row in enumerate(labelled):
        if i not in used and row.filled_values():
            out.deviations.append(unmapped_row("table 2 row", row, "matches no row of the format"))
    return out


def _label_variants(rows: list[Row], blocks: list[T2Block], out: T2Result) -> None:
    """Header labels printed in a known variant wording (e.g. 保留4位小数 in the fee header)."""
    printed = {label_key(label) for r in rows for label in r.labels}
    for block in blocks:
        for col in block.columns:
            for variant in col.label_variants:
                if label_key(variant.label) in printed:
                    out.deviations.append(
                        deviation(
                            "xxgk_label_variant",
                            f"table 2 header prints {variant.label!r} instead of {col.label!r} ({variant.status})",
                            [f"t2.{block.id}.{r.id}.{col.id}" for r in block.rows],
                            severity="info",
                        )
                    )


def _insert_detached(
    out: T2Result, vals: list[Value], detached: list[Value], block: T2Block, prefix: str, row: Row
) -> list[Value]:
    """Give a row that lost one value the next detached value, in the column its note names."""
    value = detached.pop(0)
    cols = [c.id for c in block.columns]
    col = _note_column(value, block)
    by_note = col is not None
    if col is None:
        col = cols[min(len(vals), len(cols) - 1)]  # no note: the next detached value, in the row's next column
    pos = cols.index(col)
    merged = vals[:pos] + [value] + vals[pos:]
    cell = cell_from_value(value)
    cell.status = "inferred"
    cell.inferred_by = f"detached value placed by its note ({value.parsed.note})" if by_note else DETACHED_BY_ORDER
    cell.confidence = 0.7 if by_note else 0.5
    cell.needs_review = True
    set_reasons(cell, [reason("detached_by_note" if by_note else "detached_by_order")])
    out.cells[f"{prefix}.{col}"] = cell
    out.deviations.append(
        deviation(
            "xxgk_detached_value",
            f"table 2 row {row.text!r}: value {value.raw!r} printed apart from the row; placed in {col} "
            + ("by its note" if by_note else "by order"),
            [f"{prefix}.{col}"],
        )
    )
    return merged


def _split_row(out: T2Result, row: Row, vals: list[Value], block: T2Block, prefix: str, eqs: list[Equation]) -> bool:
    """A row whose digits ran together, split at the most plausible place: no rule of the format decides within
    a table-2 row, only the value priors and the plausibility relations (configs/priors.yaml) with the format's
    heuristic rules over the row."""
    ncols = len(block.columns)
    tokens, unit = [], None
    for v in vals:
        tok = clean(v.raw).replace(" ", "").replace(",", "")
        m = _UNIT.search(tok)
        if m:
            unit, tok = m.group(1), tok[: m.start()]
        if tok:
            tokens.append(tok)
    cells = [f"{prefix}.{c.id}" for c in block.columns]
    cand = make_candidates(prefix, tokens, cells, soft=within(eqs, cells) + plausible(cells))
    if not cand.options:
        return False
    order = sorted(range(len(cand.options)), key=lambda k: cand.costs[k])
    best = order[0]
    # other readings within a small margin of the best are real alternatives
    close = [k for k in order[1:] if cand.costs[k] - cand.costs[best] < 1.0]
    src = source_of(vals[0])
    for k, col in enumerate(block.columns):
        alts = sorted({cand.options[a][k] for a in close} - {cand.options[best][k]})
        ambiguous = len(cand.options) > 1
        out.cells[f"{prefix}.{col.id}"] = CellValue(
            value=cand.options[best][k],
            raw=cand.raw_options[best][k] + (unit or "" if k == ncols - 1 else ""),
            status="inferred" if ambiguous else "read",
            confidence=0.5 if alts else (0.8 if ambiguous else 1.0),
            source=src,
            unit=unit if k == ncols - 1 else None,
            alternatives=alts,
            needs_review=ambiguous,
            **reasons_list(*([reason("split_by_plausibility")] if ambiguous else [])),
            inferred_by="split of run-together digits (plausibility prior)" if ambiguous else None,
        )
    if len(cand.options) > 1:
        out.deviations.append(
            deviation(
                "dev_flattened_text",
                f"table 2 row {row.text!r}: digits {' '.join(tokens)} ran together; "
                f"{len(cand.options)} splits possible, "
                f"chose {cand.raw_options[best]} by plausibility",
                [f"{prefix}.{c.id}" for c in block.columns],
            )
        )
    return True


def _rejoin(rows: list[Row], blocks: list[T2Block], out: T2Result) -> list[Row]:
    """Row labels and value rows printed apart (a PDF-to-text conversion: a run of label lines, then a run of
    value rows without labels) paired again in order, run by run: a label line that names a row of the format
    (a piece of a wrapped label joined to the line before it where together they name it better) takes the
    next value row, when the run has as many value rows as such labels and each value row has as many values as
    its row's block has columns. Anything less certain is left as it is (those rows are then not found, and
    flagged)."""
    width = {f"t2.{b.id}.{r.id}": (len(b.columns), r.labels()) for b in blocks for r in b.rows}

    def name(parts: list[Row]) -> tuple[float, int]:
        probe = joined_row(parts)
        return max((label_score(probe, labels, rid, leaf_only=True)[0], n) for rid, (n, labels) in width.items())

    out_rows: list[Row] = []
    joined = 0
    for lines, loose in runs_apart(rows, lambda r: bool(r.filled_values())):
        named: list[tuple[list[Row], float, int]] = []
        for i, line in enumerate(lines):
            score, n = name([line])
            if named and named[-1][0][-1] is lines[i - 1]:
                merged, m = name([*named[-1][0], line])
                if merged > max(named[-1][1], score):
                    named[-1] = ([*named[-1][0], line], merged, m)
                    continue
            if score >= MIN_SCORE:
                named.append(([line], score, n))
        if (
            not loose
            or len(named) != len(loose)
            or any(len(trim_values(v.values, n)) != n for (_, _, n), v in zip(named, loose))
        ):
            out_rows += lines + loose
            continue
        used = {id(p) for parts, _, _ in named for p in parts}
        out_rows += [line for line in lines if id(line) not in used]
        for (parts, _, _), v in zip(named, loose):
            out_rows.append(joined_row(parts, v))
            joined += 1
    if joined:
        out.deviations.append(
            deviation(
                "xxgk_rejoined_rows",
                f"table 2: {joined} value rows printed apart from their labels, joined in order",
                severity="info",
            )
        )
    return out_rows
