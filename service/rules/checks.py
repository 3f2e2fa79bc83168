"""The checks: every within-report rule of the format (stated, implied, heuristic) over the cells, one Check per
rule instance.

A rule failure is a finding about the source, never corrected here. Blank printed cells count as 0 in a check
(and are listed); absent cells use their inferred value when a rule gave one (listed too), else the check is not
assessable.
"""

from __future__ import annotations

from service.result import CellValue, Check
from service.rules.equations import Equation, compare, report_rules, rule_equations, rule_value
from service.schema import FormatSchema, Rule


def _instance(rule: Rule, eq: Equation) -> str:
    first = eq.lhs[0].split(".")
    if rule.scope == "per_column":
        return first[-1]
    if rule.scope in ("per_row", "per_logical_row") or rule.table == "t2":
        return ".".join(first[1:-1])
    return ".".join(first[1:])


def _check_equation(rule: Rule, eq: Equation, cells: dict[str, CellValue]) -> Check:
    blank: list[str] = []
    inferred: list[str] = []
    missing: list[str] = []

    def value(cell_id: str) -> float:
        cell = cells.get(cell_id)
        number = rule_value(cell)
        if cell is None or number is None:
            missing.append(cell_id)
            return 0.0
        if cell.value is None:  # counted though not printed as a number: listed with the check
            (blank if cell.status in ("blank", "not_applicable") else inferred).append(cell_id)
        return number

    lhs = sum(value(c) for c in eq.lhs)
    rhs = sum(value(c) for c in eq.rhs)
    involved = list(eq.cells)
    base = dict(
        rule=rule.id,
        instance=_instance(rule, eq),
        severity=rule.severity,
        rule_status=rule.status,
        expr=eq.text,
        cells=involved,
        blank_cells=blank,
        inferred_cells=inferred,
    )
    if missing:
        return Check(status="not_assessable", message="cells not available: " + ", ".join(missing), **base)
    if len(blank) == len(involved):
        return Check(status="not_assessable", message="every cell of the rule is blank", **base)
    ok = compare(lhs, eq.op, rhs)
    msg = "" if ok else f"{lhs:g} {'≠' if eq.op == '==' else 'violates ' + eq.op} {rhs:g}"
    if blank and not ok:
        msg += " (blank cells counted as 0: " + ", ".join(blank) + ")"
    return Check(status="pass" if ok else "fail", lhs=lhs, rhs=rhs, delta=lhs - rhs, message=msg, **base)


def _domain_check(rule: Rule, cells: dict[str, CellValue], schema: FormatSchema) -> Check:
    prefix = rule.table + "."
    types = schema.cell_value_types()
    negative = [
        cid
        for cid, c in cells.items()
        if cid.startswith(prefix) and c.value is not None and c.value < 0 and types.get(cid, "count") == "count"
    ]
    fractional = [
        cid
        for cid, c in cells.items()
        if cid.startswith(prefix)
        and isinstance(c.value, float)
        and types.get(cid, "count") in ("count", "signed_count")
    ]
    bad = negative + fractional
    return Check(
        rule=rule.id,
        instance=rule.table,
        status="fail" if bad else "pass",
        severity=rule.severity,
        rule_status=rule.status,
        expr=rule.expr,
        cells=bad,
        message=("negative: " + ", ".join(negative) if negative else "")
        + ("; not an integer: " + ", ".join(fractional) if fractional else ""),
    )


def run_checks(
    cells: dict[str, CellValue], schema: FormatSchema, *, single_other_processing: bool = False
) -> list[Check]:
    """All within-report rules of the format, one Check per rule instance."""
    checks: list[Check] = []
    for rule in report_rules(schema, single_other_processing=single_other_processing):
        if rule.kind == "domain":
            checks.append(_domain_check(rule, cells, schema))
            continue
        checks += [_check_equation(rule, eq, cells) for eq in rule_equations(rule)]
    return checks
