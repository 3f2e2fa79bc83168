"""The official formats (service/schema.py over configs/schema/*.yaml): tables, cell ids, value types, rules, and the
choice between the 2019 and the 2021 format."""

from __future__ import annotations

import re

import pytest

from service.schema import FORMATS, detect_format, load_format
from tests.conftest import DEV, extracted

CELL_ID = re.compile(r"\bt[234]\.[a-z0-9_]+\.[a-z0-9_]+(?:\.[a-z0-9_]+)?")


@pytest.mark.parametrize("fmt", FORMATS)
def test_cell_ids_are_the_tables_rows_times_columns(fmt):
    s = load_format(fmt)
    ids = s.cell_ids()
    assert len(ids) == len(set(ids))
    t3 = [c for c in ids if c.startswith("t3.")]
    assert t3 == [f"t3.{r.id}.{c}" for r in s.t3_value_rows() for c in s.t3_column_ids()]
    assert s.t3_column_ids()[-1] == "total" and s.t3_row_cells("new_received")[-1] == "t3.new_received.total"
    assert set(s.t3_org_column_ids()) < set(s.t3_column_ids())
    t4 = [c for c in ids if c.startswith("t4.")]
    assert sorted(t4) == sorted(s.t4_cell_ids()) and len(t4) == 15
    assert set(t4) == {f"t4.{g.id}.{c.id}" for g in s.t4_groups() for c in s.t4_columns()}
    t2 = [c for c in ids if c.startswith("t2.")]
    assert {c.split(".")[1] for c in t2} == {b.id for b in s.t2_blocks()}
    assert set(s.cell_value_types()) == set(ids) and s.value_type("t3.new_received.total") == "count"


def test_the_two_formats_differ_where_the_2021_revision_changed_them():
    old, new = load_format("2019"), load_format("2021")
    assert [b.id for b in old.t2_blocks()] == ["art20_1", "art20_5", "art20_6", "art20_8", "art20_9"]
    assert [b.id for b in new.t2_blocks()] == ["art20_1", "art20_5", "art20_6", "art20_8"]
    assert new.value_type("t2.art20_8.admin_fees.fee_amount") == "amount_wan_yuan"
    assert "signed_count" in set(old.cell_value_types().values())
    assert {r.id for r in new.t3_value_rows()} - {r.id for r in old.t3_value_rows()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_rule_names_cells_of_its_format(fmt):
    s = load_format(fmt)
    ids = set(s.cell_ids())
    defined = {m.group(0) for r in s.rules for e in r.expanded if ":=" in e for m in [CELL_ID.search(e)] if m}
    assert {r.id for r in s.rules} >= {"t3_balance", "t3_row_total", "t3_results_total"}
    for rule in s.rules:
        assert rule.table in ("t2", "t3", "t4") and rule.status
        for expr in rule.expanded:
            named = set(CELL_ID.findall(expr))
            assert named and named <= ids | defined, (rule.id, named - ids - defined)


@pytest.mark.parametrize(("rid", "fmt"), [("r003", "2019"), ("seed", "2021")])
def test_an_extraction_has_exactly_the_cells_of_its_format(rid, fmt):
    source = next(p for p in sorted((DEV / rid).glob("source.*")))
    result = extracted(str(source))
    assert result.format == fmt and set(result.cells) == set(load_format(fmt).cell_ids())


def test_the_format_is_chosen_by_its_markers_then_by_the_year():
    old, new = load_format("2019").detection_markers, load_format("2021").detection_markers
    text_2019 = "表格：" + "、".join(m for m in old if m not in new)
    text_2021 = "表格：" + "、".join(m for m in new if m not in old)
    assert detect_format(text_2019, 2022).format == "2019"
    assert detect_format(text_2021, 2019).format == "2021"
    assert detect_format("没有表格", 2019).format == "2019" and "year 2019" in detect_format("没有表格", 2019).reason
    assert detect_format("没有表格", 2022).format == "2021"
    assert detect_format("没有表格", None).format == "2021"
    with pytest.raises(ValueError, match="unknown format"):
        load_format("2030")


# ---- printed labels (issue 18: every cell as the reviewer finds it on the page)


@pytest.mark.parametrize("fmt", ["2019", "2021"])
def test_every_cell_of_the_format_has_its_printed_row_and_column(fmt):
    from service.schema import cell_label, printed_labels

    schema = load_format(fmt)
    labels = printed_labels(fmt)
    for cid in schema.cell_ids():
        lab = labels[cid]
        assert lab.row and lab.column and lab.table in ("表二", "表三", "表四"), cid
    rows = {r.id: r for r in schema.t3_rows()}
    for r in schema.t3_value_rows():  # the row label ends with the format's own label, numbered from the top
        lab = labels[f"t3.{r.id}.total"]
        assert lab.row.endswith(r.label) and lab.column == "总计"
        if r.parent:  # 三（三）2.…: the results row's number, the parent's, the row's own
            assert lab.row.startswith("三") and (rows[r.parent].number or "") in lab.row
        else:
            assert lab.row == r.label
    other = cell_label(fmt, "t3.denied_other_laws.commercial_enterprise")
    assert other is not None and other.text == "三（三）2.其他法律行政法规禁止公开 × 商业企业"
    assert other.column_group == "法人或其他组织" and other.number == "三（三）2"
    total = labels["t3.results_total.natural_person"]
    assert (total.row, total.short, total.number) == ("三（七）总计", "三（七）总计", "三（七）")
    assert labels["t3.new_received.natural_person"].short == "一"
    assert labels["t4.litigation_after_review.total"].text == "行政诉讼 复议后起诉 × 总计"
    assert labels["t4.review.upheld"].text == "行政复议 × 结果维持"
    assert labels["t2.art20_6.admin_penalty.decision_count"].row == "第二十条第（六）项 行政处罚"
    assert cell_label(fmt, "t9.nothing") is None


def test_printed_labels_follow_each_format():
    from service.schema import printed_labels

    assert printed_labels("2021")["t2.art20_1.regulations.in_force"].column == "现行有效件数"
    assert printed_labels("2019")["t2.art20_1.regulations.published_total"].column == "对外公开总数量"
    three = printed_labels("2021")["t3.other_processing_fee_unpaid.total"]
    assert three.row.startswith("三（六）2.申请人逾期未按收费通知要求缴纳费用")
    assert "t3.other_processing_fee_unpaid.total" not in printed_labels("2019")
    assert printed_labels("2019")["t3.other_processing.total"].row == "三（六）其他处理"
