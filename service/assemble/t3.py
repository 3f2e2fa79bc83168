"""Table 3 (收到和处理政府信息公开申请情况): rows and applicant columns to cell ids."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations

from service.assemble.common import (Target, absent_cell, align, cell_from_value, deviation, label_score,
                                     mark_disagreement, runs_apart)
from service.assemble.rows import Row, Value, trim_values
from service.assemble.splits import SPLIT_BREAKS_RULE, Candidates, Equation, choose, make_candidates
from service.normalize import clean, label_key
from service.result import CellValue, Deviation
from service.schema import FormatSchema, load_labels
from service.understand.matcher import MIN_SCORE

COLUMNS = ["natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
           "legal_service_org", "other_org", "total"]
ORG_COLUMNS = COLUMNS[1:6]
GROUPS = {"denied": "（三）不予公开", "unable": "（四）无法提供", "not_processed": "（五）不予处理"}


@dataclass
class T3Result:
    cells: dict[str, CellValue] = field(default_factory=dict)
    deviations: list[Deviation] = field(default_factory=list)
    single_other_processing: bool = False  # 2021 report printing （六）其他处理 as one row
    explained: set[str] = field(default_factory=set)  # absent cells the report's own layout explains


def _targets(schema: FormatSchema) -> list[Target]:
    targets: list[Target] = []
    rows = schema.t3_rows()
    for r in rows:
        if r.id in GROUPS:
            targets.append(Target(r.id, r.labels(), optional=True))  # only where a report prints a group subtotal
        elif r.id == "other_processing" and not r.has_values:
            targets.append(Target(r.id, r.labels(), optional=True))  # 2021: only where printed as one row
        elif r.has_values:
            labels = r.labels()
            if r.id == "results_total":
                labels = labels + ["（七）" + s for s in load_labels()["total_synonyms"]]
            targets.append(Target(r.id, labels))
    return targets


_LABEL_START = re.compile(r"^\s*(?:[（(]\s*[一二三四五六七八九十]{1,3}\s*[)）]|\d{1,2}\s*[.．、]|[一二三四五六七八九十]{1,3}\s*[、.．])")


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
            probe = Row(labels=["".join(p.text for p in parts)], values=[], provenance=parts[0].provenance,
                        tag=parts[-1].tag, label_keys=parts[-1].label_keys)
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
            out.append(Row(labels=["".join(p.text for p in parts)], values=value_row.values,
                           provenance=value_row.provenance, run_together=value_row.run_together,
                           block_index=value_row.block_index, label_keys=parts[-1].label_keys, tag=parts[-1].tag,
                           label_tags=parts[-1].label_tags[-1:]))
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
            row = Row(labels=["".join(p.text for p in pending)], values=row.values, provenance=row.provenance,
                      run_together=row.run_together, block_index=row.block_index)
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
        out.deviations.append(deviation(
            "xxgk_rejoined_rows", f"table 3: {len(joined)} value rows printed apart from their labels, joined in "
            "order: " + "; ".join(joined), severity="info"))
    data, displaced, headers = _merge_displaced_labels(rows)
    al = align(data, targets, displaced, prefix="t3.")
    value_rows = [r.id for r in schema.t3_value_rows()]
    has_other_header = _header_has(headers, "其他", "t3.col.other_org")

    # (六)其他处理 printed as one row in a 2021 report
    if schema.format == "2021" and "other_processing" in al.matched:
        subs = [r for r in value_rows if r.startswith("other_processing_")]
        if not any(s in al.matched for s in subs):
            out.single_other_processing = True
            value_rows = [r for r in value_rows if r not in subs]
            for rid in subs:
                for c in COLUMNS:
                    out.cells[f"t3.{rid}.{c}"] = absent_cell("not printed: （六）其他处理 is one row in this report")
                    out.explained.add(f"t3.{rid}.{c}")
            value_rows.insert(value_rows.index("results_total"), "other_processing")
            out.deviations.append(deviation(
                "dev_2021_single_other_processing",
                "2021-format table 3 prints （六）其他处理 as a single row without its three sub-items; "
                "values reported under t3.other_processing.*",
                [f"t3.other_processing.{c}" for c in COLUMNS]))
    for group in (*GROUPS, "other_processing"):
        if group in al.matched and group not in value_rows:
            row = al.matched[group]
            out.deviations.append(deviation(
                "dev_group_subtotal_rows",
                f"table 3 prints a subtotal row for {group} ({row.text}: {' '.join(v.raw for v in row.values)}); "
                "checked, never added into （七）总计", severity="info"))

    fixed: dict[tuple[str, int], float] = {}
    candidates: dict[str, Candidates] = {}
    header_columns = _header_columns(headers)
    header_mapped: list[str] = []
    width = _table_width([r for rid in value_rows if (r := al.matched.get(rid)) is not None and not r.run_together])
    by_rules = _mappings_by_rules({rid: trim_values(r.values, width) for rid in value_rows
                                   if (r := al.matched.get(rid)) is not None and not r.run_together},
                                  _subtotal_side(rows[:next((i for i, r in enumerate(rows) if r.filled_values()),
                                                            len(rows))]))
    for i, rid in enumerate(value_rows):
        row = al.matched.get(rid)
        if row is None:
            if f"t3.{rid}.total" not in out.cells:  # (a row whose digits ran into the row before it is read there)
                for c in COLUMNS:
                    out.cells[f"t3.{rid}.{c}"] = absent_cell("row not found in the document")
            continue
        vals = trim_values(row.values, len(COLUMNS) if row.run_together else width)
        if row.run_together and len(vals) < len(COLUMNS):
            tokens = _digit_tokens(row)
            cand = make_candidates(rid, tokens, len(COLUMNS), row_ok=lambda o: o[6] == sum(o[:6]))
            if not cand.options and not has_other_header:
                cand = _lost_other_candidates(rid, tokens)  # the report lost its 其他 column (no header for it)
            nxt = value_rows[i + 1] if i + 1 < len(value_rows) else None
            if (not cand.options or cand.row_rule_broken) and nxt is not None and nxt not in al.matched \
                    and _two_rows(out, row, rid, nxt, tokens):
                continue
            if cand.options:
                candidates[rid] = cand
                continue
        mapping, unsure = by_rules.get(len(vals), (None, set()))
        if mapping is None:
            mapping = _column_mapping(len(vals), has_other_header)
        if mapping is None and header_columns is not None and len(header_columns) == len(vals):
            mapping = header_columns  # a layout the count rules do not know (e.g. no 总计 column), read off the header
            header_mapped.append(rid)
        if mapping is None and _all_zero(row, vals):
            _zero_row(out, row, rid, vals)
            continue
        if mapping is None:
            for c in COLUMNS:
                out.cells[f"t3.{rid}.{c}"] = absent_cell(f"row prints {len(vals)} values, expected 7")
            out.deviations.append(deviation(
                "xxgk_unexpected_value_count",
                f"table 3 row {row.text!r} prints {len(vals)} values where 7 are expected; not mapped",
                [f"t3.{rid}.{c}" for c in COLUMNS], severity="error"))
            continue
        for k, (col, val) in enumerate(zip(mapping, vals)):
            if col is None:
                continue
            out.cells[f"t3.{rid}.{col}"] = cell_from_value(val)
            if (rid, k) in unsure:
                out.cells[f"t3.{rid}.{col}"].needs_review = True
                out.cells[f"t3.{rid}.{col}"].review_reasons.append(
                    f"column uncertain: the row prints {len(vals)} values and the row rules fit more than one placement")
            if val.parsed.value is not None:
                fixed[(rid, COLUMNS.index(col))] = val.parsed.value
        for col in COLUMNS:
            if col not in mapping:
                out.cells[f"t3.{rid}.{col}"] = absent_cell(f"column {col} not printed in this row")
        if len(vals) == 8:
            out.deviations.append(deviation(
                "dev_group_subtotal_rows",
                f"table 3 row {row.text!r} prints an extra 法人或其他组织 subtotal column; it is not a schema cell",
                severity="info"))

    for row in al.unmatched:
        if row.filled_values():
            out.deviations.append(deviation(
                "xxgk_unmapped_row",
                f"table 3 row {row.text!r} with values {' '.join(v.raw for v in row.filled_values())} "
                "matches no row of the format; not mapped", severity="warning"))
    if header_mapped:
        out.deviations.append(deviation(
            "xxgk_columns_from_header",
            f"table 3 rows {', '.join(header_mapped)} print {len(header_columns)} values; mapped to the columns "
            "the classifier reads in the header: " + " ".join(c or "(subtotal)" for c in header_columns),
            severity="warning"))
        for col in COLUMNS:
            if col not in header_columns:
                for rid in header_mapped:
                    out.cells[f"t3.{rid}.{col}"].review_reasons = [f"column {col} not printed in this table"]
    if candidates:
        _resolve_splits(out, candidates, fixed, value_rows, al.matched)
    for rid, why in al.by_position.items():
        for k, c in enumerate(COLUMNS):
            cell = out.cells.get(f"t3.{rid}.{c}")
            if cell is not None and cell.status != "absent" and why not in cell.review_reasons:
                cell.needs_review = True
                cell.review_reasons.append(why)
                if cell.status == "read":  # which row it is, is inferred from the order, not printed
                    cell.status, cell.inferred_by = "inferred", why
                    # what the cell would read had the rows of the gap been placed otherwise
                    cell.alternatives = sorted({v for r in al.rivals.get(rid, [])
                                                if len(vals := trim_values(r.values, len(COLUMNS))) == len(COLUMNS)
                                                and (v := vals[k].parsed.value) is not None} - {cell.value})
    for rid, message in al.disagreements.items():
        mark_disagreement([out.cells[f"t3.{rid}.{c}"] for c in COLUMNS if f"t3.{rid}.{c}" in out.cells],
                          message, al.scores[rid])
    _missing_other(out, value_rows)
    return out


def _header_columns(headers: list[Row]) -> list[str | None] | None:
    """Value columns left to right as the classifier reads the header (the deepest header cell of each grid
    column wins; a 法人或其他组织 subtotal column maps to None). None when the header is not read."""
    deepest: dict[int, tuple[int, str]] = {}
    for h in headers:
        for key, tag in zip(h.label_keys, h.label_tags):
            if tag is None or len(key) != 3 or not tag.label.startswith("t3.col.") or tag.confidence < 0.5:
                continue
            _, row, col = key
            if col not in deepest or row > deepest[col][0]:
                deepest[col] = (row, tag.label[len("t3.col."):])
    seq = [label for _, (_, label) in sorted(deepest.items())]
    mapping = [c if c in COLUMNS else None for c in seq]
    named = [c for c in mapping if c is not None]
    if "natural_person" not in named or len(named) != len(set(named)):
        return None
    return mapping


def _table_width(rows: list[Row]) -> int:
    """How many value cells the table's rows print: seven, or more where most rows that end in a printed value
    print more (a 小计 column): then a row's trailing blank (a 总计 printed empty) is a cell of its own, not
    padding to trim."""
    ends = Counter(len(vals) for r in rows if (vals := _from_first_printed(r.values)) and not vals[-1].blank)
    wide = {w: n for w, n in ends.items() if w > len(COLUMNS)}
    if not wide or 2 * sum(wide.values()) < sum(ends.values()):
        return len(COLUMNS)
    return max(wide, key=wide.__getitem__)


def _from_first_printed(values: list[Value]) -> list[Value]:
    """The values from the first printed one on (blank cells before it are the label columns of a grid)."""
    first = next((i for i, v in enumerate(values) if not v.blank), len(values))
    return values[first:]


def _subtotal_side(headers: list[Row]) -> str | None:
    """Where a header row prints a subtotal column among the organisation columns: "before" them (小计 right
    after 自然人) or "after" them (小计 before 总计); None when no header row says. The words are those of
    configs/labels.yaml (subtotal: the 法人或其他组织 group and the total synonyms other than 总计)."""
    words = load_labels()
    subtotal = {label_key(w) for w in words["t3_columns"]["legal_or_other_org"]} | {
        label_key(w) for w in words["total_synonyms"]} - {label_key(w) for w in words["t3_columns"]["total"][:1]}
    org_words = {label_key(w) for c in ORG_COLUMNS for w in words["t3_columns"][c]} - {label_key("其他")}
    for h in headers:
        keys = [label_key(label) for label in h.labels]
        subs = [i for i, k in enumerate(keys) if k in subtotal]
        orgs = [i for i, k in enumerate(keys) if k in org_words]
        if subs and orgs:
            return "before" if subs[0] < orgs[0] else "after"
    return None


def _mappings_by_rules(rows: dict[str, list[Value]], side: str | None = None
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
    for n in sorted({len(r) for r in rows.values() if len(r) > len(COLUMNS)}):
        group = [(rid, [v.parsed.value if v.parsed.status == "value" else 0 for v in r])
                 for rid, r in rows.items() if len(r) == n]
        scored: list[tuple[int, list[str | None]]] = []
        for orgs in combinations(range(1, n - 1), len(ORG_COLUMNS)):
            extras = [p for p in range(1, n - 1) if p not in orgs]
            fits = 0
            for _, vals in group:
                org_sum = sum(vals[p] for p in orgs)
                if vals[-1] == vals[0] + org_sum and all(vals[p] in (0, org_sum) for p in extras):
                    fits += 1
            kinds_ok = all(all(vals[p] == 0 for _, vals in group) or all(
                vals[p] == sum(vals[q] for q in orgs) for _, vals in group) for p in extras)
            if kinds_ok:
                mapping: list[str | None] = [None] * n
                mapping[0], mapping[-1] = "natural_person", "total"
                for p, col in zip(orgs, ORG_COLUMNS):
                    mapping[p] = col
                scored.append((fits, mapping))
        if not scored:
            continue
        best = max(f for f, _ in scored)
        winners = [m for f, m in scored if f == best]
        if len(winners) > 1 and side is not None:  # the header says where the 小计 column stands
            at = 1 if side == "before" else n - 2
            winners = [m for m in winners if m[at] is None] or winners
        elif len(winners) > 1 and (usual := _column_mapping(n, True)) in winners:
            winners = [usual]  # the format's printed layout (法人或其他组织 小计 after 自然人), as without the rules
        unsure = set()
        for rid, vals in group:
            readings = {tuple(vals[m.index(c)] for c in COLUMNS) for m in winners}
            if len(readings) > 1:
                unsure.update((rid, p) for p in range(n))
        # a column printed blank in every row may be the 总计 itself (some reports leave it empty): then the last
        # column (a subtotal?) is not surely the total
        blank_cols = [p for p in range(1, n - 1) if winners[0][p] is None
                      and all(rows[rid][p].parsed.status == "blank" for rid, _ in group)]
        if blank_cols:
            unsure.update((rid, n - 1) for rid, _ in group)
        out[n] = (winners[0], unsure)
    return out


def _column_mapping(n: int, has_other_header: bool) -> list[str | None] | None:
    if n == 7:
        return list(COLUMNS)
    if n == 6 and not has_other_header:
        return [c for c in COLUMNS if c != "other_org"]
    if n == 8:
        # 自然人, 法人或其他组织 (subtotal), five org columns, 总计
        return ["natural_person", None, *ORG_COLUMNS, "total"]
    return None


def _missing_other(out: T3Result, value_rows: list[str]) -> None:
    """Rows that lost the 其他 column: infer it from the row total and report the deviation."""
    lost = [r for r in value_rows if out.cells.get(f"t3.{r}.other_org") is not None
            and out.cells[f"t3.{r}.other_org"].status == "absent"
            and out.cells[f"t3.{r}.total"].status != "absent"]
    if not lost:
        return
    for rid in lost:
        cell = out.cells[f"t3.{rid}.other_org"]
        total = out.cells[f"t3.{rid}.total"].value
        parts = [out.cells[f"t3.{rid}.{c}"].value for c in COLUMNS if c not in ("other_org", "total")]
        if total is not None and all(p is not None for p in parts):
            cell.inferred_value = total - sum(parts)
            cell.inferred_by = "t3_row_total"
        cell.review_reasons = ["column 其他 not printed in this row"]
    out.deviations.append(deviation(
        "dev_missing_other_column",
        "table 3: the 其他 column is missing in rows " + ", ".join(lost)
        + " (6 values printed); 其他 is absent there and inferred from the row total",
        [f"t3.{r}.other_org" for r in lost]))


OTHER = COLUMNS.index("other_org")
ZERO_ROW = "row prints fewer values than columns, all 0: whichever column is missing, the row total makes it 0"


def _all_zero(row: Row, vals: list[Value]) -> bool:
    """Every value (or every digit of run-together values) the row prints is 0, fewer than seven of them."""
    if row.run_together:
        digits = "".join(_digit_tokens(row))
        return 0 < len(digits) < len(COLUMNS) and set(digits) == {"0"}
    printed = [v for v in vals if not v.blank]
    return 0 < len(vals) < len(COLUMNS) and len(printed) == len(vals) and all(v.parsed.value == 0 for v in printed)


def _zero_row(out: T3Result, row: Row, rid: str, vals: list[Value]) -> None:
    """A row printing only zeros, one or more columns short: under the row rule (total = the sum of the applicant
    columns, none negative) every cell is 0 wherever the gap is; inferred and reviewed, never read."""
    src = cell_from_value(vals[0]).source if vals else None
    for c in COLUMNS:
        out.cells[f"t3.{rid}.{c}"] = CellValue(value=0, raw="0", status="inferred", confidence=0.7, source=src,
                                               inferred_by=ZERO_ROW, needs_review=True, review_reasons=[ZERO_ROW])
    out.deviations.append(deviation(
        "xxgk_zero_row_short", f"table 3 row {row.text!r} prints {' '.join(v.raw for v in vals)}: fewer values than "
        "the 7 columns, all 0; every cell inferred as 0", [f"t3.{rid}.{c}" for c in COLUMNS], severity="warning"))
TWO_ROWS = "digits of two rows ran together (the second row's label not found); split so both row totals hold"


def _two_rows(out: T3Result, row: Row, rid: str, nxt: str, tokens: list[str]) -> bool:
    """A run of digits too long for its row, where the next row of the format was not found (its label lost):
    the run split into both rows, each keeping its row total, at the most plausible such split; every cell is
    inferred and reviewed. False when no split of the run makes two rows whose totals hold."""
    n = len(COLUMNS)
    two = make_candidates(rid, tokens, 2 * n,
                          row_ok=lambda o: o[n - 1] == sum(o[:n - 1]) and o[2 * n - 1] == sum(o[n:2 * n - 1]))
    if not two.options or two.row_rule_broken:
        return False
    best = min(range(len(two.options)), key=two.costs.__getitem__)
    src = cell_from_value(row.values[0]).source
    for r, half in ((rid, slice(0, n)), (nxt, slice(n, 2 * n))):
        for col, value, raw in zip(COLUMNS, two.options[best][half], two.raw_options[best][half]):
            out.cells[f"t3.{r}.{col}"] = CellValue(value=value, raw=raw, status="inferred", confidence=0.5,
                                                   source=src, inferred_by=TWO_ROWS, needs_review=True,
                                                   review_reasons=[TWO_ROWS])
    out.deviations.append(deviation(
        "xxgk_two_rows_run_together", f"table 3 row {row.text!r}: {''.join(tokens)} holds the digits of {rid} and "
        f"{nxt} (whose label was not found); split as {two.raw_options[best]}", [f"t3.{nxt}.{c}" for c in COLUMNS]))
    return True


def _lost_other_candidates(rid: str, tokens: list[str]) -> Candidates:
    """Splits of a row's digits into the six columns a report that lost its 其他 column prints, as seven-column
    options whose 其他 is what the row total leaves (never negative); the cell itself stays absent."""
    six = make_candidates(rid, tokens, len(COLUMNS) - 1, row_ok=lambda o: o[-1] >= sum(o[:-1]))
    keep = [k for k, o in enumerate(six.options) if o[-1] >= sum(o[:-1])]
    return Candidates(key=rid, options=[[*six.options[k][:-1], six.options[k][-1] - sum(six.options[k][:-1]),
                                         six.options[k][-1]] for k in keep],
                      costs=[six.costs[k] for k in keep],
                      raw_options=[[*six.raw_options[k][:-1], "", six.raw_options[k][-1]] for k in keep],
                      lost_other=True)


def _resolve_splits(out: T3Result, candidates: dict[str, Candidates], fixed, value_rows: list[str], matched) -> None:
    result_rows = [r for r in value_rows if r not in ("new_received", "carried_over", "results_total", "carried_forward")]
    equations = []
    for c in range(len(COLUMNS)):
        equations.append(Equation(f"t3_balance.{COLUMNS[c]}", [("new_received", c), ("carried_over", c)],
                                  [("results_total", c), ("carried_forward", c)]))
        equations.append(Equation(f"t3_results_total.{COLUMNS[c]}", [("results_total", c)],
                                  [(r, c) for r in result_rows]))
    choices = choose(candidates, fixed, equations)
    for rid, choice in choices.items():
        cand = candidates[rid]
        row = matched[rid]
        option = cand.options[choice.option]
        raws = cand.raw_options[choice.option]
        for k, col in enumerate(COLUMNS):
            if cand.lost_other and k == OTHER:
                out.cells[f"t3.{rid}.{col}"] = absent_cell("column 其他 not printed in this row")
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
                cell.review_reasons = ["ambiguous split of run-together digits"]
            if cand.row_rule_broken:
                cell.needs_review = True
                cell.review_reasons.append(SPLIT_BREAKS_RULE)
            out.cells[f"t3.{rid}.{col}"] = cell
        if choice.alternatives:
            out.deviations.append(deviation(
                "dev_flattened_text",
                f"table 3 row {row.text!r}: digits {' '.join(v.raw for v in row.values)} ran together; "
                f"{1 + len(choice.alternatives)} splits fit the rules, chose {raws}",
                [f"t3.{rid}.{c}" for c in COLUMNS]))
