"""Text rules shared by the backends and the page composer (service.text)."""
from __future__ import annotations

import pytest

from service.text import is_section_heading, join_cell_lines, join_wide


@pytest.mark.parametrize(
    "text",
    ["一、总体情况", "三、 收到和处理政府信息公开申请情况", "十一、其他", "五、存在的主要问题及改进情况。"],
)
def test_section_headings(text: str) -> None:
    assert is_section_heading(text)


@pytest.mark.parametrize(
    "text",
    [
        "（一）主动公开方面",  # a sub-item, not a section
        "一、是加强学习。二是完善机制。",  # a full stop inside: heading run into its paragraph
        "二、" + "加强组织领导" * 7,  # longer than 40 characters
        "一、",  # a number and nothing after it
        "2019年一、总体情况",  # not at the start
        "",
    ],
)
def test_not_section_headings(text: str) -> None:
    assert not is_section_heading(text)


def test_join_cell_lines_cleans_and_joins_cjk_without_space() -> None:
    assert join_cell_lines(["1.", "属于国家秘密", "", " 12 ", "34"]) == "1.属于国家秘密12 34"
    assert join_cell_lines(["商业", "企业"]) == "商业企业"
    assert join_cell_lines(["Total", "amount"]) == "Total amount"
    assert join_cell_lines(["⼈⺠", "政府", "“公开”", "2019"]) == "人民政府“公开”2019"  # radicals cleaned
    assert join_cell_lines(["１２", "  ", "５"]) == "12 5"  # full-width digits become ASCII: spaced
    assert join_cell_lines([]) == ""


def test_join_wide_keeps_raw_text() -> None:
    assert join_wide("⼈⺠", "政府") == "⼈⺠政府"
    assert join_wide("10", "3") == "10 3"
    assert join_wide("", "3") == "3" and join_wide("合", "") == "合"
