"""The one CP-SAT model of the rules (service.rules.model): a split of run-together digits and a repair of an OCR
reading, each decided by the same builder under the schema's equations."""

import math

from service.rules import Option, equations, parse_equation, solve, within
from service.schema import load_format

SCHEMA = load_format("2021")
EQS = equations(SCHEMA)
RULE_COST = 7.0


def _cost(eq):
    return 3.5 if eq.status == "heuristic" else RULE_COST


def test_a_split_choice_one_option_sets_a_whole_row():
    # "270020130" in （一）予以公开 splits two ways that keep the row total; the column rule t3_results_total
    # (results_total = the sum of the result rows) decides
    granted = SCHEMA.t3_row_cells("granted")
    splits = [[2, 7, 0, 0, 20, 1, 30], [27, 0, 0, 2, 0, 1, 30]]
    options = [Option(dict(zip(granted, s)), cost) for s, cost in zip(splits, [10.0, 11.0])]
    constants = dict(zip(SCHEMA.t3_row_cells("results_total"), [27, 0, 0, 2, 0, 1, 30]))  # other rows: 0
    columns = [eq for eq in EQS if eq.scope == "per_column"]
    solution = solve(options, columns, constants=constants, free=(), rule_cost=lambda _: 50.0, seconds=5.0)
    assert solution.status == "optimal" and solution.chosen == [1]  # the dearer split, the one the rules keep
    assert solution.broken == 0
    # a rule over no option's cell is not in the model; every other is, and holds
    in_model = [k for k, eq in zip(solution.kept, columns) if k is not None]
    assert len(in_model) == 7 and all(in_model)  # t3_results_total reads the row; t3_balance does not


def test_a_repair_changes_a_reading_where_a_rule_is_worth_more_than_the_doubt():
    # t3.new_received.total read 7 (p 0.7) with 2 second (p 0.25); 1 natural person + 1 company printed
    row = SCHEMA.t3_row_cells("new_received")
    total = row[-1]
    readings = [(7, 0.7), (2, 0.25)]
    base = -math.log(0.7)
    options = [Option({total: v}, -math.log(p) - base) for v, p in readings]
    constants = dict(zip(row[:-1], [1, 1, 0, 0, 0, 0]))
    rules = within(EQS, row)
    solution = solve(options, rules, constants=constants, free=(), rule_cost=_cost, seconds=1.0)
    assert solution.status == "optimal" and [options[k].values[total] for k in solution.chosen] == [2]
    assert solution.kept == [True]
    # an alternative dearer than breaking the rule: the reading stays, the rule is broken (a finding)
    options = [Option({total: 7}, 0.0), Option({total: 2}, RULE_COST + 1.0)]
    solution = solve(options, rules, constants=constants, free=(), rule_cost=_cost, seconds=1.0)
    assert solution.chosen == [0] and solution.kept == [False] and solution.broken == 1


def test_a_digit_read_in_the_neighbouring_cell_is_one_option_over_both_cells():
    row = SCHEMA.t3_row_cells("new_received")
    a, b = row[0], row[1]  # 自然人 read blank, 商业企业 read 11: the 1 of 自然人 drifted right
    options = [
        Option({a: None}, 0.0),
        Option({b: 11}, 0.0),
        Option({a: 1, b: 1}, -math.log(0.002)),  # the move, one choice reading both cells: 6.2 nats < 7
    ]
    constants = dict(zip(row[2:], [0, 0, 0, 0, 2]))
    solution = solve(options, within(EQS, row), constants=constants, free=(), rule_cost=_cost, seconds=1.0)
    assert solution.chosen == [2] and solution.kept == [True]


def test_an_absent_cell_is_free_and_the_model_says_what_the_readings_imply():
    row = SCHEMA.t3_row_cells("new_received")
    other = "t3.new_received.other_org"
    options = [Option({row[0]: 4}, 0.0), Option({row[0]: 1}, 2.0)]
    constants = {row[1]: 1, row[-1]: 5}
    eqs = [eq for eq in within(EQS, row)]
    solution = solve(options, eqs, constants=constants, free={other}, rule_cost=_cost, seconds=1.0)
    # 4 + 1 + 其他 == 5: the reading as read holds with 其他 = 0 (a count: never negative)
    assert solution.chosen == [0] and solution.free == {other: 0}
    constants[row[-1]] = 3  # now 4 + 1 > 3: only the cheaper-to-doubt 1 keeps the rule, 其他 = 1
    solution = solve(options, eqs, constants=constants, free={other}, rule_cost=_cost, seconds=1.0)
    assert solution.chosen == [1] and solution.free == {other: 1}


def test_inequalities_and_decimal_values():
    eq = parse_equation("t.published <= t.total")
    options = [Option({"t.published": 2.5}, 0.0), Option({"t.published": 1.5}, 1.0)]
    solution = solve(options, [eq], constants={"t.total": 2}, free=(), rule_cost=lambda _: 3.5, seconds=1.0)
    assert solution.chosen == [1] and solution.kept == [True]


def test_numbers_no_report_prints_are_no_model_not_a_crash():
    """A run of 30 or 309 digits (a text that is one report twice, a fuzzed file) read as one number, or a NaN:
    the solver is not asked (its integers would overflow: once a TypeError that failed the whole report)."""
    granted = SCHEMA.t3_row_cells("granted")
    columns = [eq for eq in EQS if eq.scope == "per_column"]
    for huge in (10**30, 10**309, float("inf"), float("nan")):
        options = [Option(dict(zip(granted, [huge, 0, 0, 0, 0, 0, huge])), 1.0), Option(dict.fromkeys(granted, 0), 2.0)]
        solution = solve(options, columns, constants={}, free=(), rule_cost=_cost, seconds=1.0)
        assert not solution.solved and solution.status == "overflow" and solution.chosen == []
