from service.assemble.splits import Candidates, Equation, choose, make_candidates, split_token, split_tokens


def test_split_token_respects_leading_zeros():
    assert split_token("100", 2) == (("10", "0"),)
    assert split_token("05", 2) == (("0", "5"),)


def test_whitespace_is_a_real_separator():
    assert split_tokens(["500000", "5"], 7) == [["5", "0", "0", "0", "0", "0", "5"]]


def test_row_rule_prunes_candidates():
    cand = make_candidates("granted", ["270020130"], 7, row_ok=lambda o: o[6] == sum(o[:6]))
    assert [27, 0, 0, 2, 0, 1, 30] in cand.options
    assert all(o[6] == sum(o[:6]) for o in cand.options)
    assert len(cand.options) == 2  # 27|0|0|2|0|1|30 and 2|7|0|0|20|1|30


def test_column_rule_chooses_between_row_candidates():
    # two readings of a row fit its row total; the column rule (results total) picks one
    cand = make_candidates("granted", ["270020130"], 7, row_ok=lambda o: o[6] == sum(o[:6]))
    fixed = {("results_total", c): v for c, v in enumerate([27, 0, 0, 2, 0, 1, 30])}
    eqs = [Equation(f"c{c}", [("results_total", c)], [("granted", c)]) for c in range(7)]
    choice = choose({"granted": cand}, fixed, eqs)["granted"]
    assert cand.options[choice.option] == [27, 0, 0, 2, 0, 1, 30]
    assert choice.alternatives == []


def test_equal_fits_are_reported_as_alternatives():
    cand = Candidates("r", [[1, 2], [2, 1]], [1.0, 1.0])
    eqs = [Equation("sum", [("r", 0), ("r", 1)], [("t", 0)])]
    choice = choose({"r": cand}, {("t", 0): 3}, eqs)["r"]
    assert choice.alternatives == [1 - choice.option]
