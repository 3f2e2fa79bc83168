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
