"""Splitting run-together digits: the splits a run admits, the row rule that prunes them, the rules across rows
(from the schema, through the rules' CP-SAT model) that choose among them."""

from service.assemble.splits import Candidates, choose, make_candidates, plausible, split_token, split_tokens
from service.rules import equations, parse_equation, within
from service.schema import load_format

SCHEMA = load_format("2021")
GRANTED = SCHEMA.t3_row_cells("granted")
RESULTS_TOTAL = SCHEMA.t3_row_cells("results_total")


def test_split_token_respects_leading_zeros():
    assert split_token("100", 2) == (("10", "0"),)
    assert split_token("05", 2) == (("0", "5"),)


def test_whitespace_is_a_real_separator():
    assert split_tokens(["500000", "5"], 7) == [["5", "0", "0", "0", "0", "0", "5"]]


def test_row_rule_from_the_schema_prunes_candidates():
    cand = make_candidates("granted", ["270020130"], GRANTED, rules=within(equations(SCHEMA), GRANTED))
    assert [27, 0, 0, 2, 0, 1, 30] in cand.options
    assert all(o[6] == sum(o[:6]) for o in cand.options)
    assert len(cand.options) == 2  # 27|0|0|2|0|1|30 and 2|7|0|0|20|1|30
    assert not cand.row_rule_broken


def test_a_run_no_split_of_which_keeps_the_row_rule_keeps_every_split_and_says_so():
    cand = make_candidates("granted", ["1111111"], GRANTED, rules=within(equations(SCHEMA), GRANTED))
    assert cand.options == [[1] * 7] and cand.row_rule_broken


def test_column_rule_chooses_between_row_candidates():
    # two readings of a row fit its row total; the column rule (results total) picks one
    cand = make_candidates("granted", ["270020130"], GRANTED, rules=within(equations(SCHEMA), GRANTED))
    constants = dict(zip(RESULTS_TOTAL, [27, 0, 0, 2, 0, 1, 30]))
    eqs = [eq for eq in equations(SCHEMA) if eq.rule == "t3_results_total"]
    choice = choose({"granted": cand}, constants, eqs)["granted"]
    assert cand.options[choice.option] == [27, 0, 0, 2, 0, 1, 30]
    assert choice.alternatives == []


def test_equal_fits_are_reported_as_alternatives():
    cand = Candidates("r", ["r.a", "r.b"], [[1, 2], [2, 1]], [1.0, 1.0])
    eqs = [parse_equation("r.a + r.b == t.sum")]
    choice = choose({"r": cand}, {"t.sum": 3}, eqs)["r"]
    assert choice.alternatives == [1 - choice.option]


def test_table_2_plausibility_relations_and_heuristic_rules_weigh_a_split():
    # 2019 art20_1 (本年新制作 | 本年新公开 | 对外公开总数量): "5105" read as 5 | 10 | 5 breaks both the
    # plausibility relation (published <= made) and the format's heuristic rule (published <= total)
    cells = [f"t2.art20_1.regulations.{c}" for c in ("made_this_year", "published_this_year", "published_total")]
    soft = within(equations(load_format("2019")), cells) + plausible(cells)
    assert sorted(eq.rule for eq in soft) == ["plausibility", "t2_2019_published_le_total"]
    cand = make_candidates("regulations", ["5105"], cells, soft=soft)
    plain = make_candidates("regulations", ["5105"], cells)
    costs = {tuple(o): c for o, c in zip(cand.options, cand.costs)}
    plain_costs = {tuple(o): c for o, c in zip(plain.options, plain.costs)}
    assert costs[(5, 10, 5)] - plain_costs[(5, 10, 5)] == 6.0  # two relations broken, 3 nats each
    assert costs[(51, 0, 5)] - plain_costs[(51, 0, 5)] == 0.0
