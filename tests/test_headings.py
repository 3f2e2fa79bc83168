"""Section headings by content: numbering variants and titles with typos (service.headings)."""
import pytest

from service.headings import section_of_heading


@pytest.mark.parametrize("line, number", [
    ("一、总体情况", "一"),
    ("二、主动公开政府信息情兄", "二"),  # a look-alike in the title
    ("二、主动公开政府信息况", "二"),  # a dropped character
    ("三、收到和处理政府信息公开申请情况统计", "三"),  # a stray word after it
    ("2、主动公开政府信息情况", "二"),
    ("第四部分 政府信息公开行政复议、行政诉讼情况", "四"),
    ("五、政府信息公开工作存在的主要问题及改进情况", "五"),
    ("五、存在的主要问题及明年工作计划", "五"),  # the keyword carries a varied title
    ("六、其他需要报告的事项", "六"),
    ("主动公开政府信息情况", "二"),  # the title without its number
])
def test_headings_are_recognised_through_variation(line, number):
    assert section_of_heading(line) == number


@pytest.mark.parametrize("line", [
    "三、本年度办理结果",  # table-3 row labels are numbered too
    "四、结转下年度继续办理",
    "（一）主动公开方面",  # a sub-item of section 一 holding section 二's keyword
    "1.属于国家秘密",
    "五、信息处理费收取情况",  # an agency's own section: no title of the format
    "全年主动公开政府信息2645条，其中主动公开政府信息情况良好",
])
def test_other_lines_are_not_headings(line):
    assert section_of_heading(line) is None
