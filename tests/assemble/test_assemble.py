"""Assembly on hand-made reports: layouts and defects the format allows or reports show."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.pipeline import extract
from service.schema import load_format

T3_COLS = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]


def _row(label_cells: list[str], values: list[str]) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in label_cells) + "".join(f"<td>{v}</td>" for v in values) + "</tr>"


def _t3_rows(fmt: str, values: dict[str, list[str]]) -> str:
    rows = []
    for r in load_format(fmt).t3_value_rows():
        vals = values.get(r.id, ["0"] * 7)
        rows.append(_row([r.label], vals))
    return "".join(rows)


def report_html(
    fmt="2021",
    t3_values=None,
    t3_rows_html=None,
    t4_html=None,
    t3_header_cols=T3_COLS,
    title="测试县人民政府2022年政府信息公开工作年度报告",
) -> str:
    schema = load_format(fmt)
    t2 = []
    for block in schema.t2_blocks():
        t2.append(f'<tr><td colspan="4">{block.label}</td></tr>')
        t2.append(_row(["信息内容"], [c.label for c in block.columns]))
        for row in block.rows:
            t2.append(_row([row.label], ["7"] * len(block.columns)))
    header = (
        '<tr><td colspan="3" rowspan="3">（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）</td>'
        f'<td colspan="{len(t3_header_cols)}">申请人情况</td></tr>' + _row([], t3_header_cols)
    )
    t3 = header + (t3_rows_html if t3_rows_html is not None else _t3_rows(fmt, t3_values or {}))
    t4 = t4_html or ("<tr><td colspan=5>行政复议</td><td colspan=10>行政诉讼</td></tr>" + _row([], ["0"] * 15))
    return (
        f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<p>{title}</p><p>一、总体情况</p><p>全年共收到政府信息公开申请3件。</p>"
        f"<p>二、主动公开政府信息情况</p><table>{''.join(t2)}</table>"
        f"<p>三、收到和处理政府信息公开申请情况</p><table>{t3}</table>"
        f"<p>四、政府信息公开行政复议、行政诉讼情况</p><table>{t4}</table>"
        "<p>五、存在的主要问题及改进情况</p><p>无。</p><p>六、其他需要报告的事项</p><p>无。</p></body></html>"
    )


def run(tmp_path: Path, html: str, name="r.html"):
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return extract(path)


def test_balanced_report_reads_every_cell_and_passes(tmp_path):
    vals = {
        "new_received": ["2", "1", "0", "0", "0", "0", "3"],
        "granted": ["2", "1", "0", "0", "0", "0", "3"],
        "results_total": ["2", "1", "0", "0", "0", "0", "3"],
    }
    res = run(tmp_path, report_html(t3_values=vals))
    assert res.format == "2021" and res.year == 2022 and res.agency == "测试县人民政府"
    assert all(c.status == "read" for c in res.cells.values())
    assert res.cells["t3.granted.commercial_enterprise"].value == 1
    assert res.cells["t2.art20_8.admin_fees.fee_amount"].value == 7
    assert not [c for c in res.checks if c.status == "fail"]
    assert all(s.found for s in res.sections.values())
    assert "3件" in res.sections["s1"].text


def test_source_arithmetic_error_is_a_finding_not_a_fix(tmp_path):
    vals = {"new_received": ["2", "1", "0", "0", "0", "0", "4"]}  # 2+1 != 4
    res = run(tmp_path, report_html(t3_values=vals))
    assert res.cells["t3.new_received.total"].value == 4  # as printed
    failing = {(c.rule, c.instance) for c in res.checks if c.status == "fail"}
    assert ("t3_row_total", "new_received") in failing
    assert ("t3_balance", "total") in failing


def test_blank_slash_and_fullwidth_cells(tmp_path):
    vals = {"granted": ["１２", "", "/", "—", "0", "不适用", "12"]}
    res = run(tmp_path, report_html(t3_values=vals))
    c = res.cells
    assert c["t3.granted.natural_person"].value == 12
    assert (c["t3.granted.commercial_enterprise"].status, c["t3.granted.commercial_enterprise"].value) == (
        "blank",
        None,
    )
    assert c["t3.granted.research_institution"].status == "not_applicable"
    assert c["t3.granted.social_welfare_org"].status == "not_applicable"
    assert c["t3.granted.other_org"].status == "not_applicable"


def test_2019_format_detected_from_markers(tmp_path):
    res = run(tmp_path, report_html(fmt="2019", title="测试县人民政府2022年政府信息公开工作年度报告"))
    assert res.format == "2019"  # markers win over the year
    assert "t2.art20_9.gov_centralized_procurement.total_amount" in res.cells
    assert "t3.other_processing.total" in res.cells


def test_2021_report_with_single_other_processing_row(tmp_path):
    rows = []
    for r in load_format("2021").t3_value_rows():
        if r.id == "other_processing_no_correction":
            rows.append(_row(["（六）其他处理"], ["1", "0", "0", "0", "0", "0", "1"]))
        elif r.id.startswith("other_processing_"):
            continue
        else:
            v = ["1", "0", "0", "0", "0", "0", "1"] if r.id in ("new_received", "results_total") else ["0"] * 7
            rows.append(_row([r.label], v))
    res = run(tmp_path, report_html(t3_rows_html="".join(rows)))
    assert res.cells["t3.other_processing.natural_person"].value == 1
    assert res.cells["t3.other_processing_other.total"].status == "absent"
    assert "dev_2021_single_other_processing" in {d.id for d in res.deviations}
    assert not [c for c in res.checks if c.status == "fail" and c.rule != "text_vs_table"]  # text says 3


def test_extra_legal_or_other_org_subtotal_column(tmp_path):
    header = ["自然人", "法人或其他组织", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
    rows = "".join(
        _row([r.label], ["1", "2", "2", "0", "0", "0", "0", "3"]) if r.id == "granted" else _row([r.label], ["0"] * 8)
        for r in load_format("2021").t3_value_rows()
    )
    res = run(tmp_path, report_html(t3_rows_html=rows, t3_header_cols=header))
    assert [res.cells[f"t3.granted.{c}"].value for c in ("natural_person", "commercial_enterprise", "total")] == [
        1,
        2,
        3,
    ]
    assert "dev_group_subtotal_rows" in {d.id for d in res.deviations}


def test_group_subtotal_row_is_reported_not_added(tmp_path):
    rows = []
    for r in load_format("2021").t3_value_rows():
        if r.id == "denied_state_secret":
            rows.append(_row(["（三）不予公开"], ["5"] * 7))  # a printed subtotal row
        rows.append(_row([r.label], ["0"] * 7))
    res = run(tmp_path, report_html(t3_rows_html="".join(rows)))
    assert res.cells["t3.denied_state_secret.total"].value == 0
    assert "dev_group_subtotal_rows" in {d.id for d in res.deviations}
    assert not [c for c in res.checks if c.status == "fail" and c.rule != "text_vs_table"]  # text says 3


def test_table4_as_three_rows_of_five(tmp_path):
    t4 = (
        "<tr><td></td><td>结果维持</td><td>结果纠正</td><td>其他结果</td><td>尚未审结</td><td>总计</td></tr>"
        + _row(["行政复议"], ["1", "0", "0", "1", "2"])
        + _row(["未经复议直接起诉"], ["0", "0", "0", "3", "3"])
        + _row(["复议后起诉"], ["0", "1", "0", "0", "1"])
    )
    res = run(tmp_path, report_html(t4_html=t4))
    assert res.cells["t4.review.total"].value == 2
    assert res.cells["t4.litigation_direct.pending"].value == 3
    assert res.cells["t4.litigation_after_review.corrected"].value == 1
    assert not [c for c in res.checks if c.status == "fail" and c.rule != "text_vs_table"]  # text says 3


def test_missing_table_gives_absent_cells_not_zeros(tmp_path):
    html = report_html().replace("<p>四、政府信息公开行政复议、行政诉讼情况</p>", "")
    html = html[: html.rindex("<table>")] + html[html.rindex("</table>") + len("</table>") :]
    res = run(tmp_path, html)
    assert all(res.cells[f"t4.review.{c}"].status == "absent" for c in ("upheld", "total"))
    assert all(c.status == "not_assessable" for c in res.checks if c.rule == "t4_group_total")


@pytest.mark.parametrize("garbled", ["（一）予以公開", "(一)予以公开", "一 予以公开"])
def test_label_variants_still_map(tmp_path, garbled):
    rows = "".join(
        _row([garbled if r.id == "granted" else r.label], ["9"] * 6 + ["54"] if r.id == "granted" else ["0"] * 7)
        for r in load_format("2021").t3_value_rows()
    )
    res = run(tmp_path, report_html(t3_rows_html=rows))
    assert res.cells["t3.granted.total"].value == 54


def test_row_that_matches_no_format_row_is_reported(tmp_path):
    rows = "".join(_row([r.label], ["0"] * 7) for r in load_format("2021").t3_value_rows())
    rows += _row(["附：本年度群众来信转办情况"], ["4", "0", "0", "0", "0", "0", "4"])
    res = run(tmp_path, report_html(t3_rows_html=rows))
    dev = [d for d in res.deviations if d.id == "xxgk_unmapped_row"]
    assert len(dev) == 1 and "群众来信" in dev[0].message
    assert res.cells["t3.carried_forward.total"].value == 0
