"""The message catalogue (configs/messages/reasons.yaml, service/messages.py): every review reason the pipeline
writes on the real reports (every dev report, every source; the scans; a fax-quality scan) has a code with English
and Chinese templates; the English renders exactly the text review_reasons has; the Chinese has no English words;
the text reads back to its code (the store keeps only the text); rules as equations in printed labels."""

from __future__ import annotations

import os
import re
import string
from pathlib import Path

import pytest

from service import messages
from service.messages import check_text, codes_of, parse, reason, render, split_joined
from service.result import CellValue, Check, ReasonCode, Result
from service.schema import load_format
from tests.conftest import DEV, REPORT_IDS, ROOT, extracted, load_scansim, source_of

# two of the seven dev scans in the suite (the reasons of a scan are the same few kinds; ~30 s each on two cores), all
# with XXGK_MESSAGES_ALL_SCANS=1
SCANS = sorted((ROOT / "datasets" / "scans").glob("*.pdf"))
if os.environ.get("XXGK_MESSAGES_ALL_SCANS") != "1":
    SCANS = [p for p in SCANS if p.name in ("seed-moderate-200dpi.pdf", "r001-moderate-200dpi.pdf")]
# words a Chinese reason may still hold: a reviewer's name in the tests, "OCR"
ALLOWED = {"reviewer"}
ENGLISH = re.compile(r"[A-Za-z]{4,}")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _sample(name: str) -> str | int | float:
    return {
        "confidence": 0.42,
        "n": 6,
        "expected": 7,
        "loose": 3,
        "slots": 4,
        "value": 12,
        "col": "other_org",
        "id": "dev_missing_other_column",
        "rules": "t3_row_total, t3_balance",
        "how": "character alternative",
        "read": "blank",
        "says": "0",
        "classifier": "t3.granted",
        "matcher": "t3.denied_other_laws",
        "table": "t4",
    }.get(name, "12")


def test_every_template_has_both_languages_with_the_same_placeholders_and_renders():
    cat = messages.catalogue()
    for section in ("reasons", "coverage", "deviations", "rules"):
        for code, entry in cat[section].items():
            assert set(entry) >= {"en", "zh"}, (section, code)
            assert _fields(entry["en"]) == _fields(entry["zh"]), (section, code)
    for code, entry in cat["reasons"].items():
        params = {k: _sample(k) for k in _fields(entry["en"])}
        if code == messages.NOT_READ:
            continue
        rc = reason(code, **params)
        en, zh = render(rc), render(rc, "zh")
        assert en and zh and "{" not in zh, code
        assert not [w for w in ENGLISH.findall(zh) if w not in ALLOWED], (code, zh)
        assert parse(en) == rc or parse(en).code == code, (code, en)  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        reason("no_such_reason")


def test_converters_put_ids_into_the_reviewers_words():
    rc = reason("label_read_differently_both", classifier="t3.granted", confidence=0.61, matcher="t3.denied_other_laws")
    assert render(rc) == (
        "row label read differently: classifier reads t3.granted (0.61); matcher reads t3.denied_other_laws"
    )
    assert render(rc, "zh") == (
        "行标签的两种读法不一致：分类模型读作“三（一）予以公开”（置信度 0.61），"
        "标签匹配读作“三（三）2.其他法律行政法规禁止公开”"
    )
    assert render(reason("column_not_printed_in_row", col="other_org"), "zh") == "此行未印出“其他”列"
    assert render(reason("source_rule_failure", rules="t3_row_total, t4_group_total"), "zh").startswith(
        "原文不满足规则：行合计"
    )
    not_read = messages.not_read(reason("t4_not_found"))
    assert render(not_read) == "not read: table 4 not found or not readable"
    assert render(not_read, "zh") == "未读出：未找到表四或表四无法读取"
    assert parse("not read: table 4 not found or not readable") == not_read
    assert messages.coverage_text("t3: 14 of 175 cells not read") == "表三：175 个单元格中有 14 个未读出"
    assert parse("something no stage writes") is None


def test_the_stores_joined_reasons_split_where_a_reason_holds_a_semicolon():
    both = render(reason("label_read_differently_both", classifier="t3.granted", confidence=0.5, matcher="t3.denied"))
    joined = "; ".join(["low reading confidence", both, "dev_missing_other_column"])
    assert split_joined(joined) == ["low reading confidence", both, "dev_missing_other_column"]
    assert split_joined("") == []


def _assert_every_reason_catalogued(result: Result, where: str) -> int:
    n = 0
    for cid, cell in result.cells.items():
        assert len(cell.review_codes) == len(cell.review_reasons), (where, cid, cell.review_reasons)
        for text, rc in zip(cell.review_reasons, cell.review_codes):
            assert render(rc) == text, (where, cid)  # the English unchanged, from the code
            zh = render(rc, "zh", result.format)
            assert zh and not [w for w in ENGLISH.findall(zh) if w not in ALLOWED], (where, cid, zh)
            back = parse(text)
            assert back is not None and back.code == rc.code, (where, cid, text)  # the queue reads it back
            n += 1
        assert codes_of(cell) == cell.review_codes
    return n


def _sources() -> list[Path]:
    out = [source_of(r) for r in REPORT_IDS]
    out += sorted(p for p in DEV.glob("*/page.html"))
    return out


@pytest.mark.parametrize("path", _sources() + SCANS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_review_reason_on_the_real_reports_has_a_catalogued_code(path):
    result = extracted(str(path))
    _assert_every_reason_catalogued(result, str(path))
    for check in result.checks:  # the rule results in printed words, every one
        text = check_text(check, result.cells, result.format)
        assert text and not ENGLISH.search(text), (check.rule, text)


def test_a_fax_quality_scan_with_a_lost_ruling_gives_catalogued_reasons(tmp_path):
    """r001 through the fax simulator with a vertical ruling lost over a block of table-3 rows: many flags, all
    catalogued, and a failing rule written as the equation with its numbers."""
    scansim = load_scansim()
    out = tmp_path / "fax"
    scansim.main(
        [
            str(DEV / "r001" / "source.pdf"),
            "--preset",
            "fax",
            "--lose-ruling",
            "table=1,boundary=6,rows=5",
            "--seed",
            "0",
            "-o",
            str(out),
        ]
    )
    (pdf,) = sorted(out.glob("*.pdf"))
    result = extracted(str(pdf))
    assert _assert_every_reason_catalogued(result, pdf.name) >= 10
    failing = [c for c in result.checks if c.status == "fail" and c.rule == "t4_group_total"]
    assert failing
    text = check_text(failing[0], result.cells, result.format)
    assert text.startswith("表四各组合计｜行政复议：总计 = 结果维持 + 结果纠正 + 其他结果 + 尚未审结：")
    assert "≠" in text


def test_a_rule_result_as_the_equation_in_printed_labels_with_its_numbers():
    fmt = "2021"
    schema = load_format(fmt)
    cells = {cid: CellValue(value=0, status="read") for cid in schema.cell_ids()}
    for row, v in (("new_received", 12), ("carried_over", 1), ("results_total", 12), ("carried_forward", 0)):
        cells[f"t3.{row}.natural_person"] = CellValue(value=v, status="read")
    check = Check(
        rule="t3_balance",
        instance="natural_person",
        status="fail",
        expr="t3.new_received.natural_person + t3.carried_over.natural_person == "
        "t3.results_total.natural_person + t3.carried_forward.natural_person",
        lhs=13,
        rhs=12,
        delta=1,
    )
    assert check_text(check, cells, fmt) == (
        "收支平衡（第一项加第二项等于第三项加第四项）｜自然人：一 + 二 = 三（七）总计 + 四：12 + 1 ≠ 12 + 0（13 ≠ 12）"
    )
    assert check_text(check, cells, fmt, "en").startswith("t3.new_received.natural_person + ")
    row = Check(
        rule="t3_row_total",
        instance="granted",
        status="pass",
        expr="t3.granted.total == t3.granted.natural_person + t3.granted.commercial_enterprise",
        lhs=0,
        rhs=0,
    )
    assert check_text(row, cells, fmt).endswith("三（一）予以公开：总计 = 自然人 + 商业企业：0 = 0 + 0（0 = 0）")
    absent = dict(cells)
    absent["t3.granted.total"] = CellValue(status="absent", confidence=0.0, inferred_value=5)
    assert check_text(row, absent, fmt).endswith("：5 = 0 + 0（0 = 0）")


def test_a_stored_result_without_codes_reads_its_codes_back_from_the_text():
    cell = CellValue(status="absent", confidence=0.0, review_reasons=["not found in the scan", "xxgk_t4_unreadable"])
    assert codes_of(cell) == [
        ReasonCode(code="not_found_in_scan"),
        ReasonCode(code="deviation", params={"id": "xxgk_t4_unreadable"}),
    ]
