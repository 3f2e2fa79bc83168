"""The table rules of a format as equations over cell ids, instantiated from ``configs/schema/*.yaml``.

Every stage that reasons with the rules (assembly and its split of run-together digits, reconciliation, the
checks, review re-checks, absent-cell inference) takes them from :func:`equations`; no rule is written in code.
A rule of the schema lists its instances (``expanded``: one equation per row, column or logical row); a 2021
report printing （六）其他处理 as one row is checked by the 2019 sums over that row (``single_other_processing``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cache

from service.result import CellValue
from service.schema import FormatSchema, Rule, load_format

Number = int | float

_RELATION = re.compile(r"\s*(==|<=|>=)\s*")
EPS = 1e-6
# rules a 2021 report that prints （六）其他处理 as one row takes from the 2019 format (their sums run over that row)
_SINGLE_OTHER_PROCESSING_RULES = ("t3_row_total", "t3_results_total")


@dataclass(frozen=True)
class Equation:
    lhs: tuple[str, ...]
    op: str
    rhs: tuple[str, ...]
    text: str
    rule: str = ""  # the spec rule id it expands
    status: str = ""  # the rule's spec status: stated | implied | heuristic
    scope: str = ""  # the rule's scope: per_row | per_column | per_logical_row ("" where the spec gives none)
    cells: tuple[str, ...] = field(init=False, repr=False, compare=False)  # lhs + rhs, in that order

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", self.lhs + self.rhs)


def parse_equation(text: str, rule: str = "", status: str = "", scope: str = "") -> Equation:
    parts = _RELATION.split(text)
    if len(parts) != 3:
        raise ValueError(f"not an equation: {text!r}")
    lhs, op, rhs = parts
    return Equation(
        tuple(t.strip() for t in lhs.split("+")),
        op,
        tuple(t.strip() for t in rhs.split("+")),
        text,
        rule,
        status,
        scope,
    )


def report_rules(schema: FormatSchema, *, single_other_processing: bool = False) -> list[Rule]:
    """The within-report rules of the format (definitions and cross-report rules left out)."""
    rules = list(schema.rules)
    if single_other_processing and schema.format == "2021":
        # （六）其他处理 printed as one row: the table-3 sums run over it, as in the 2019 format
        old = {r.id: r for r in load_format("2019").rules}
        rules = [old.get(r.id, r) if r.id in _SINGLE_OTHER_PROCESSING_RULES else r for r in rules]
    return [r for r in rules if r.kind not in ("definition", "cross_report") and r.status != "derived_definition"]


def rule_equations(rule: Rule) -> list[Equation]:
    """The instances of one rule (none for a domain rule)."""
    return [parse_equation(text, rule.id, rule.status, rule.scope or "") for text in rule.expanded]


def equations(schema: FormatSchema, *, single_other_processing: bool = False) -> list[Equation]:
    """Every rule equation of the format (domain rules are not equations)."""
    if schema is load_format(schema.format):  # the shipped schema: its equations are parsed once
        return list(_shipped_equations(schema.format, single_other_processing))
    return _equations(schema, single_other_processing)


@cache
def _shipped_equations(fmt: str, single_other_processing: bool) -> tuple[Equation, ...]:
    return tuple(_equations(load_format(fmt), single_other_processing))


def _equations(schema: FormatSchema, single_other_processing: bool) -> list[Equation]:
    return [
        eq
        for rule in report_rules(schema, single_other_processing=single_other_processing)
        if rule.kind != "domain"
        for eq in rule_equations(rule)
    ]


def within(eqs: list[Equation], cells: Collection[str]) -> list[Equation]:
    """The equations over these cells only (a row's own rules, given the row's cells)."""
    inside = set(cells)
    return [eq for eq in eqs if set(eq.cells) <= inside]


def compare(lhs: float, op: str, rhs: float) -> bool:
    """``lhs op rhs`` within the checks' tolerance."""
    if op == "==":
        return abs(lhs - rhs) <= EPS
    if op == "<=":
        return lhs <= rhs + EPS
    return lhs >= rhs - EPS


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


def holds_on(eq: Equation, value: Callable[[str], float | None]) -> bool | None:
    """Whether the equation holds on the numbers ``value`` gives its cells; None when one has none."""
    numbers = [value(c) for c in eq.cells]
    if any(v is None for v in numbers):
        return None
    lhs = sum(v for v in numbers[: len(eq.lhs)] if v is not None)
    rhs = sum(v for v in numbers[len(eq.lhs) :] if v is not None)
    return compare(lhs, eq.op, rhs)


def holds(eq: Equation, cells: Mapping[str, CellValue]) -> bool:
    """Whether the equation holds on the cells' current values (True when not assessable)."""
    return holds_on(eq, lambda c: rule_value(cells.get(c))) is not False


def hold_all(eqs: list[Equation], values: Mapping[str, Number]) -> bool:
    """Whether every equation holds on these numbers (a cell without one counts 0)."""
    return all(holds_on(eq, lambda c: values.get(c, 0)) for eq in eqs)


def count_broken(eqs: list[Equation], values: Mapping[str, Number]) -> int:
    """How many of the equations these numbers break (a cell without one counts 0)."""
    return sum(1 for eq in eqs if not holds_on(eq, lambda c: values.get(c, 0)))


def blank_side(eq: Equation, cells: Mapping[str, CellValue]) -> bool:
    """Whether one side of the equation is printed all blank (a 总计 left empty: counted as 0 by the checks, but
    the author stated nothing there)."""

    def blank(ids: tuple[str, ...]) -> bool:
        return all((c := cells.get(cid)) is not None and c.status == "blank" for cid in ids)

    return blank(eq.lhs) or blank(eq.rhs)
