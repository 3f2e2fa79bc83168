"""The rules of both formats as equations over cell ids, instantiated from configs/schema (service.rules.equations)."""

import pytest

from service.result import CellValue
from service.rules import blank_side, equations, holds, parse_equation, rule_value, within
from service.rules.equations import count_broken, hold_all
from service.schema import load_format


def _by_rule(eqs):
    out: dict[str, list] = {}
    for eq in eqs:
        out.setdefault(eq.rule, []).append(eq)
    return out


def test_parse_equation():
    eq = parse_equation("t4.review.total == t4.review.upheld + t4.review.pending", "t4_group_total", "implied")
    assert eq.lhs == ("t4.review.total",) and eq.rhs == ("t4.review.upheld", "t4.review.pending") and eq.op == "=="
    assert eq.cells == ("t4.review.total", "t4.review.upheld", "t4.review.pending") and eq.rule == "t4_group_total"
    assert parse_equation("a <= b").op == "<="
    with pytest.raises(ValueError):
        parse_equation("a + b")


@pytest.mark.parametrize("fmt, value_rows", [("2019", 23), ("2021", 25)])
def test_the_rules_of_each_format_come_from_its_schema(fmt, value_rows):
    schema = load_format(fmt)
    rules = _by_rule(equations(schema))
    # one row total per printed row of table 3, one balance and one results total per applicant column, one group
    # total per logical row of table 4
    assert len(rules["t3_row_total"]) == value_rows == len(schema.t3_value_rows())
    assert len(rules["t3_balance"]) == len(rules["t3_results_total"]) == len(schema.t3_column_ids()) == 7
    assert len(rules["t4_group_total"]) == len(schema.t4_groups()) == 3
    # definitions, domain and cross-report rules are not equations of a report
    assert not {"t3_derive_denied", "t3_nonnegative", "t3_carry_cross_report"} & set(rules)
    balance = rules["t3_balance"][0]
    assert balance.lhs == ("t3.new_received.natural_person", "t3.carried_over.natural_person")
    assert balance.rhs == ("t3.results_total.natural_person", "t3.carried_forward.natural_person")
    assert (balance.status, balance.scope) == ("stated", "per_column")
    assert all(eq.scope == "per_row" for eq in rules["t3_row_total"])
    # every cell a rule names is a cell of the format
    assert {c for eq in equations(schema) for c in eq.cells} <= set(schema.cell_ids())


def test_2019_sums_run_over_other_processing_and_2021_over_its_three_items():
    results_2019 = _by_rule(equations(load_format("2019")))["t3_results_total"][0]
    results_2021 = _by_rule(equations(load_format("2021")))["t3_results_total"][0]
    assert "t3.other_processing.natural_person" in results_2019.rhs
    assert "t3.other_processing.natural_person" not in results_2021.rhs
    assert "t3.other_processing_fee_unpaid.natural_person" in results_2021.rhs
    assert len(results_2021.rhs) == len(results_2019.rhs) + 2
    # the 2019 format has table-2 heuristics the 2021 format does not
    assert "t2_2019_published_le_total" in _by_rule(equations(load_format("2019")))
    assert not [eq for eq in equations(load_format("2021")) if eq.cells[0].startswith("t2.")]


def test_single_other_processing_takes_the_2019_sums_in_a_2021_report():
    schema = load_format("2021")
    rules = _by_rule(equations(schema, single_other_processing=True))
    results = rules["t3_results_total"][0]
    assert "t3.other_processing.natural_person" in results.rhs
    assert not [c for c in results.rhs if c.startswith("t3.other_processing_")]
    rows = {eq.lhs[0].split(".")[1] for eq in rules["t3_row_total"]}
    assert "other_processing" in rows and "other_processing_fee_unpaid" not in rows
    # the other rules stay the 2021 ones
    assert rules["t3_balance"] == _by_rule(equations(schema))["t3_balance"]
    assert rules["t4_group_total"] == _by_rule(equations(schema))["t4_group_total"]


def test_within_gives_a_rows_own_rules():
    schema = load_format("2021")
    eqs = equations(schema)
    row = within(eqs, schema.t3_row_cells("granted"))
    assert [eq.rule for eq in row] == ["t3_row_total"] and row[0].lhs == ("t3.granted.total",)
    two = within(eqs, schema.t3_row_cells("granted") + schema.t3_row_cells("partially_granted"))
    assert len(two) == 2
    t4 = schema.t4_cell_ids()
    assert [eq.lhs[0] for eq in within(eqs, t4[:14])] == ["t4.review.total", "t4.litigation_direct.total"]


def test_holds_on_cells_counts_blanks_and_inferred_values():
    eq = parse_equation("t.total == t.a + t.b")
    cells = {
        "t.total": CellValue(value=3, raw="3", status="read"),
        "t.a": CellValue(status="blank", raw=""),
        "t.b": CellValue(status="absent", inferred_value=3, inferred_by="r"),
    }
    assert rule_value(cells["t.a"]) == 0.0 and rule_value(cells["t.b"]) == 3.0
    assert holds(eq, cells)
    cells["t.b"] = CellValue(value=2, raw="2", status="read")
    assert not holds(eq, cells)
    cells["t.b"] = CellValue(status="absent")  # not assessable: holds as far as anyone can tell
    assert rule_value(cells["t.b"]) is None and holds(eq, cells)


def test_hold_all_and_count_broken_on_numbers():
    eqs = [parse_equation("t.total == t.a + t.b"), parse_equation("t.a <= t.total")]
    assert hold_all(eqs, {"t.total": 3, "t.a": 1, "t.b": 2})
    assert count_broken(eqs, {"t.total": 3, "t.a": 4}) == 2  # t.b counts 0: 3 != 4 and 4 > 3


def test_blank_side():
    eq = parse_equation("t.total == t.a + t.b")
    blank = CellValue(status="blank", raw="")
    one = CellValue(value=1, raw="1", status="read")
    assert blank_side(eq, {"t.total": blank, "t.a": one, "t.b": one})
    assert not blank_side(eq, {"t.total": one, "t.a": blank, "t.b": one})
