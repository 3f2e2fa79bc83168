"""Edit distance with look-alike costs and approximate search (service.fuzzy)."""
from service import fuzzy


def test_lookalike_substitution_costs_less_than_any_other_edit():
    assert fuzzy.distance("主动公开", "主动公开") == 0
    assert fuzzy.distance("已获取信息", "己获取信息") == fuzzy.LOOKALIKE
    assert fuzzy.distance("已获取信息", "甲获取信息") == fuzzy.EDIT
    assert fuzzy.distance("收到和处理", "收到处理") == fuzzy.EDIT  # a dropped character
    assert fuzzy.lower_bound("已获取信息", "己获取信息") == 0  # look-alikes read as one character
    assert fuzzy.within("收到和处理", "收到处理", 1.0) and not fuzzy.within("行政复议", "数量", 1.0)


def test_search_finds_a_title_with_typos_inside_run_together_text():
    text = "0000000四政府恳息公开行政复议行政讼情况行政复议行政诉讼结果维持"
    hits = fuzzy.search("政府信息公开行政复议行政诉讼情况", text)
    assert hits and text[hits[0].start:hits[0].end] == "政府恳息公开行政复议行政讼情况"
    assert hits[0].cost == 2 * fuzzy.EDIT


def test_search_prefers_a_substitution_to_a_dropped_first_character():
    hits = fuzzy.search("收到和处理政府信息公开申请情况", "52元三权到和处理政府信息公开申请情况本列")
    assert hits[0].cost == fuzzy.EDIT
    assert "52元三权到和处理政府信息公开申请情况本列"[hits[0].start] == "权"


def test_search_finds_nothing_beyond_the_tolerance():
    assert fuzzy.search("收到和处理政府信息公开申请情况", "本年度办理结果予以公开部分公开不予公开") == []
    assert fuzzy.tolerance("其他") == fuzzy.LOOKALIKE  # short keys: look-alikes only
    assert fuzzy.search("其他", "其也") and not fuzzy.search("其他", "其中")
