"""Rule engine over cell ids: every stated, implied and (within-report) heuristic rule of the spec.

A rule failure is a finding about the source, never corrected here. Blank printed cells
count as 0 in a check (and are listed); absent cells use their inferred value when a rule
gave one (listed too), else the check is not assessable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from service.result import CellValue, Check
from service.schema import FormatSchema, Rule, load_format

_RELATION = re.compile(r"\s*(==|<=|>=)\s*")
EPS = 1e-6


@dataclass(frozen=True)
class Equation:
    lhs: tuple[str, ...]
    op: str
    rhs: tuple[str, ...]
    text: str
    rule: str = ""  # the spec rule id it expands
    status: str = ""  # the rule's spec status: stated | implied | heuristic


def parse_equation(text: str, rule: str = "", status: str = "") -> Equation:
    parts = _RELATION.split(text)
    if len(parts) != 3:
        raise ValueError(f"not an equation: {text!r}")
    lhs, op, rhs = parts
    return Equation(tuple(t.strip() for t in lhs.split("+")), op, tuple(t.strip() for t in rhs.split("+")), text,
                    rule, status)


def _instance(rule: Rule, eq: Equation) -> str:
    first = eq.lhs[0].split(".")
    if rule.scope == "per_column":
        return first[-1]
    if rule.scope in ("per_row", "per_logical_row") or rule.table == "t2":
        return ".".join(first[1:-1])
    return ".".join(first[1:])


def rule_value(cell: CellValue | None) -> float | None:
    """A cell's number in a rule: its value, 0 for blank and n/a (and a cell a reviewer set blank), an absent
    cell's inferred value; None: not assessable."""
    if cell is None:
        return None
    if cell.value is not None:
        return float(cell.value)
    if cell.status in ("blank", "not_applicable", "corrected"):  # corrected to blank by a reviewer
        return 0.0
    if cell.status == "absent" and cell.inferred_value is not None:
        return float(cell.inferred_value)
    return None


def _check_equation(rule: Rule, eq: Equation, cells: dict[str, CellValue]) -> Check:
    blank, inferred, missing = [], [], []

    def value(cell_id: str) -> float:
        cell = cells.get(cell_id)
        number = rule_value(cell)
        if number is None:
            missing.append(cell_id)
            return 0.0
        if cell.value is None:  # counted though not printed as a number: listed with the check
            (blank if cell.status in ("blank", "not_applicable") else inferred).append(cell_id)
        return number

    lhs = sum(value(c) for c in eq.lhs)
    rhs = sum(value(c) for c in eq.rhs)
    involved = list(eq.lhs + eq.rhs)
    base = dict(rule=rule.id, instance=_instance(rule, eq), severity=rule.severity, rule_status=rule.status,
                expr=eq.text, cells=involved, blank_cells=blank, inferred_cells=inferred)
    if missing:
        return Check(status="not_assessable", message="cells not available: " + ", ".join(missing), **base)
    if len(blank) == len(involved):
        return Check(status="not_assessable", message="every cell of the rule is blank", **base)
    ok = {"==": abs(lhs - rhs) <= EPS, "<=": lhs <= rhs + EPS, ">=": lhs >= rhs - EPS}[eq.op]
    msg = "" if ok else f"{lhs:g} {'≠' if eq.op == '==' else 'violates ' + eq.op} {rhs:g}"
    if blank and not ok:
        msg += " (blank cells counted as 0: " + ", ".join(blank) + ")"
    return Check(status="pass" if ok else "fail", lhs=lhs, rhs=rhs, delta=lhs - rhs, message=msg, **base)


def _domain_check(rule: Rule, cells: dict[str, CellValue], schema: FormatSchema) -> Check:
    prefix = rule.table + "."
    negative = [cid for cid, c in cells.items() if cid.startswith(prefix) and c.value is not None and c.value < 0
                and schema.cell_value_types().get(cid, "count") == "count"]
    fractional = [cid for cid, c in cells.items() if cid.startswith(prefix) and isinstance(c.value, float)
                  and schema.cell_value_types().get(cid, "count") in ("count", "signed_count")]
    bad = negative + fractional
    return Check(rule=rule.id, instance=rule.table, status="fail" if bad else "pass", severity=rule.severity,
                 rule_status=rule.status, expr=rule.expr, cells=bad,
                 message=("negative: " + ", ".join(negative) if negative else "")
                 + ("; not an integer: " + ", ".join(fractional) if fractional else ""))


def report_rules(schema: FormatSchema, *, single_other_processing: bool = False) -> list[Rule]:
    """The within-report rules of the format (definitions and cross-report rules left out)."""
    rules = list(schema.rules)
    if single_other_processing and schema.format == "2021":
        # （六）其他处理 printed as one row: the table-3 sums run over it, as in the 2019 format
        old = {r.id: r for r in load_format("2019").rules}
        rules = [old.get(r.id, r) if r.id in ("t3_row_total", "t3_results_total") else r for r in rules]
    return [r for r in rules if r.kind not in ("definition", "cross_report") and r.status != "derived_definition"]


def equations(schema: FormatSchema, *, single_other_processing: bool = False) -> list[Equation]:
    """Every rule equation of the format (domain rules are not equations)."""
    return [parse_equation(text, rule.id, rule.status) for rule in report_rules(schema, single_other_processing=single_other_processing)
            if rule.kind != "domain" for text in rule.expanded]


def run_checks(cells: dict[str, CellValue], schema: FormatSchema, *, single_other_processing: bool = False) -> list[Check]:
    """All within-report rules of the format, one Check per rule instance."""
    checks: list[Check] = []
    for rule in report_rules(schema, single_other_processing=single_other_processing):
        if rule.kind == "domain":
            checks.append(_domain_check(rule, cells, schema))
            continue
        for text in rule.expanded:
            checks.append(_check_equation(rule, parse_equation(text, rule.id), cells))
    return checks
