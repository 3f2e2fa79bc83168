"""Table 4 (行政复议、行政诉讼): 15 values in one printed row, or three rows of five."""
from __future__ import annotations

from dataclasses import dataclass, field

from service.assemble.common import absent_cell, cell_from_value, deviation, label_score
from service.assemble.rows import Row, Value, trim_values
from service.assemble.splits import SPLIT_BREAKS_RULE, Equation, choose, make_candidates
from service.normalize import clean
from service.result import CellValue, Deviation
from service.schema import FormatSchema, load_labels

GROUPS = ["review", "litigation_direct", "litigation_after_review"]
COLUMNS = ["upheld", "corrected", "other_result", "pending", "total"]
POSITIONS = [f"{g}.{c}" for g in GROUPS for c in COLUMNS]


@dataclass
class T4Result:
    cells: dict[str, CellValue] = field(default_factory=dict)
    deviations: list[Deviation] = field(default_factory=list)


def _group_of(row: Row) -> str | None:
    synonyms = load_labels()["t4_groups"]
    best, arg = 0.0, None
    for g in GROUPS:
        s = label_score(row, synonyms[g], f"t4.{g}")[0] if row.labels else 0.0
        if s > best:
            best, arg = s, g
    return arg if best >= 0.8 else None


def _groups_ok(values: list[float], groups: int = 3) -> bool:
    return all(values[5 * g + 4] == sum(values[5 * g:5 * g + 4]) for g in range(groups))


def assemble_t4(rows: list[Row], schema: FormatSchema) -> T4Result:
    out = T4Result()
    data = [r for r in rows if r.filled_values()]
    # three logical rows printed as three rows of five, each with its group label
    by_group = {g: r for r in data if (g := _group_of(r)) is not None and len(trim_values(r.values, 5)) == 5}
    if len(by_group) == 3:
        for g in GROUPS:
            for c, v in zip(COLUMNS, trim_values(by_group[g].values, 5)):
                out.cells[f"t4.{g}.{c}"] = cell_from_value(v)
        out.deviations.append(deviation("dev_transposed_t4", "table 4 printed as three rows of five", severity="info"))
        return out

    # the table's values are those of its first rows; rows after them (a fee table or a sentence with numbers
    # the agency printed under table 4) are reported, not mapped. 15 values printed beat a split of digits that
    # ran together, which beats 14 values (the last 总计 missing).
    for way, k in ((way, k) for way in ("printed", "split", "short", "split-short") for k in range(1, len(data) + 1)):
        if _read_values(out, data[:k], way):
            for row in data[k:]:
                out.deviations.append(deviation(
                    "xxgk_unmapped_row",
                    f"table 4: row {row.text!r} with values {' '.join(v.raw for v in row.filled_values())} "
                    "follows the table's 15 values; not mapped", severity="warning"))
            return out
    n = len(trim_values([v for r in data for v in r.values], 15))
    for pos in POSITIONS:
        out.cells[f"t4.{pos}"] = absent_cell("table 4 not found or not readable")
    out.deviations.append(deviation(
        "xxgk_t4_unreadable", f"table 4: found {n} values where 15 are expected; not mapped",
        [f"t4.{p}" for p in POSITIONS], severity="error"))
    return out


def _read_values(out: T4Result, rows: list[Row], way: str) -> bool:
    """Map the values of these rows to the 15 cells, the ``way`` given: ``printed`` (15 values), ``split``
    (fewer runs of digits that ran together, split under the group rules), ``short`` (14: the last 总计
    missing), ``split-short`` (digits that ran together, split into 14); False when they do not make table 4
    that way."""
    values: list[Value] = trim_values([v for r in rows for v in r.values], 15)
    n = len(values)
    if way in ("split", "split-short") and any(r.run_together for r in rows):
        count = 15 if way == "split" else 14
        if n < count and _split(out, values, count):
            if count == 14:
                _missing_last_total(out)
            return True
    if way == "printed" and n == 15:
        for pos, v in zip(POSITIONS, values):
            out.cells[f"t4.{pos}"] = cell_from_value(v)
        return True
    if way == "short" and n == 14:
        for pos, v in zip(POSITIONS, values):
            out.cells[f"t4.{pos}"] = cell_from_value(v)
        _missing_last_total(out)
        return True
    return False


def _split(out: T4Result, values: list[Value], count: int) -> bool:
    """The first ``count`` cells from runs of digits that ran together, split under the group rules of the
    groups printed whole; False when no split makes that many numbers."""
    groups = count // 5
    tokens = [clean(v.raw).replace(" ", "") for v in values if v.raw.strip()]
    cand = make_candidates("t4", tokens, count, row_ok=lambda o: _groups_ok(o, groups))
    if not cand.options:
        return False
    equations = [Equation(f"t4_group_total.{g}", [("t4", 5 * i + 4)], [("t4", 5 * i + k) for k in range(4)])
                 for i, g in enumerate(GROUPS[:groups])]
    choice = choose({"t4": cand}, {}, equations)["t4"]
    option, raws = cand.options[choice.option], cand.raw_options[choice.option]
    src = cell_from_value(values[0]).source
    for k, pos in enumerate(POSITIONS[:count]):
        alts = sorted({cand.options[a][k] for a in choice.alternatives} - {option[k]})
        cell = CellValue(
            value=option[k], raw=raws[k], status="inferred" if alts else "read",
            confidence=0.5 if alts else 1.0, source=src, alternatives=alts,
            needs_review=bool(alts), review_reasons=["ambiguous split of run-together digits"] if alts else [],
            inferred_by="split of run-together digits: several splits fit the rules" if alts else None)
        if cand.row_rule_broken:
            cell.needs_review = True
            cell.review_reasons.append(SPLIT_BREAKS_RULE)
        out.cells[f"t4.{pos}"] = cell
    return True


def _missing_last_total(out: T4Result) -> None:
    """Table 4 printed 14 values: the 总计 of 复议后起诉 is absent, its value inferred by the group rule."""
    last = "t4.litigation_after_review.total"
    cell = absent_cell("the last 总计 (复议后起诉) is not printed")
    parts = [out.cells[f"t4.litigation_after_review.{c}"].value for c in COLUMNS[:4]]
    if all(p is not None for p in parts):
        cell.inferred_value = sum(parts)
        cell.inferred_by = "t4_group_total"
    out.cells[last] = cell
    out.deviations.append(deviation(
        "dev_missing_t4_total",
        "table 4 prints 14 values: the 总计 of 复议后起诉 is missing (inferred from the group total rule)", [last]))
