"""Narrative facts, metadata and text-vs-table checks with the shipped classifier."""
from __future__ import annotations

from service.ingest import load_document
from service.options import load_options
from service.pipeline import extract, extract_document
from service.understand.facts import sentence_around
from tests.conftest import DEV


def _facts(result):
    return {(f.id, f.value) for f in result.facts}


def test_facts_of_a_real_report_are_tied_to_cells_and_checked():
    result = extract(DEV / "r005" / "source.txt")
    facts = _facts(result)
    assert ("t3.new_received.total", 70) in facts
    assert ("t3.results_total.total", 69) in facts
    assert ("x.proactive_items", 2645) in facts
    fact = next(f for f in result.facts if f.id == "t3.new_received.total")
    assert fact.sentence.startswith("本年度全区共收到70件申请")
    assert fact.origin.value == "text" and fact.text == "70"
    checks = {c.instance: c for c in result.checks if c.rule == "text_vs_table"}
    assert checks["t3.new_received.total"].status == "pass"
    assert checks["t3.new_received.total"].rhs == 70
    assert (fact.cue, fact.evidence) == ("共收到", "cue") and fact.confidence >= 0.9


def test_a_group_count_whose_cells_are_all_blank_is_not_assessable():
    # r003 prints no 总计 for the application outcomes: the text's 258 has nothing to be compared with
    result = extract(DEV / "r003" / "source.html")
    check = next(c for c in result.checks if c.rule == "text_vs_table" and c.instance == "x.granted_or_partial")
    assert (check.status, check.lhs, check.rhs) == ("not_assessable", 258, None)
    assert not [c for c in result.checks if c.rule == "text_vs_table" and c.status == "fail"]


def test_a_text_that_contradicts_its_table_is_a_fail_finding():
    doc = load_document(DEV / "r005" / "source.txt")
    doc = doc.model_copy(deep=True)
    for block in doc.blocks:
        block.text = block.text.replace("本年度全区共收到70件申请", "本年度全区共收到17件申请")
    result = extract_document(doc)
    check = next(c for c in result.checks if c.rule == "text_vs_table" and c.instance == "t3.new_received.total")
    assert check.status == "fail"
    assert (check.lhs, check.rhs) == (17, 70)
    assert "17" in check.message
    # the table value itself is never touched
    assert result.cells["t3.new_received.total"].value == 70


def test_facts_can_be_switched_off():
    options = load_options(environ={"XXGK_CLASSIFIER_FACTS": "false"})
    result = extract(DEV / "r005" / "source.txt", options)
    assert result.facts == [] and not [c for c in result.checks if c.rule == "text_vs_table"]
    assert extract(DEV / "r005" / "source.txt", options.with_changes(classifier={"facts": True})).facts


def test_metadata_from_the_title_and_publication_line():
    result = extract(DEV / "r003" / "source.html")
    assert (result.agency, result.year) == ("上海市人民政府办公厅", 2019)
    assert result.metadata_source == {"agency": "title", "year": "title", "published": "classifier"}
    assert result.published == "2020-01-31"  # its 发布日期 line


def test_sentence_around_a_number():
    text = "第一句。全年共收到申请95件，办结93件；第三句"
    assert sentence_around(text, text.index("95"), text.index("95") + 2) == "全年共收到申请95件，办结93件；"
