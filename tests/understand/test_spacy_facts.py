"""Narrative facts as a spaCy component on spacy.blank("zh")."""
from __future__ import annotations

import re

import spacy

from service.ingest import load_document
from service.pipeline import extract_document
from service.understand.spacy_facts import FACT_COLOURS, facts_nlp, render_facts, render_result_facts, result_docs
from tests.conftest import DEV


def test_ents_are_labelled_fact_spans_with_original_offsets():
    nlp = facts_nlp()
    text = "本年度共收到政府信息公开申请９５件，已全部办结。"  # full-width digits: offsets map back to the original
    doc = nlp(text)
    ents = [(e.text, e.label_) for e in doc.ents]
    assert ents == [("９５", "t3.new_received.total")]
    assert 0.5 <= doc.ents[0]._.confidence <= 1.0
    html = render_facts(doc)
    assert "t3.new_received.total" in html and "９５" in html


def test_factory_is_registered_and_a_paragraph_without_facts_has_no_ents():
    nlp = spacy.blank("zh")
    nlp.add_pipe("xxgk_facts")
    assert nlp("本机关高度重视政府信息公开工作。").ents == ()


def test_a_stored_results_facts_render_with_displacy_and_a_contradiction_is_red():
    """The review screen's displaCy view: r005 with its text changed to say 17 applications while the table says
    70 — every fact a labelled span of its sentence, the contradicted one coloured as a failure."""
    doc = load_document(DEV / "r005" / "source.txt").model_copy(deep=True)
    for block in doc.blocks:
        block.text = block.text.replace("本年度全区共收到70件申请", "本年度全区共收到17件申请")
    result = extract_document(doc)
    docs = result_docs(result)
    ents = [(e.text, e.label_) for d in docs for e in d.ents]
    assert ("17", "t3.new_received.total") in ents and ("2645", "x.proactive_items") in ents
    assert len(ents) == len(result.facts)
    html = render_result_facts(result, page=False)
    marks = {m.group(3): (m.group(2), m.group(1)) for m in re.finditer(
        r'<mark class="entity" style="background: (#[0-9a-f]+);[^>]*>\s*(\S+)\s*<span[^>]*>([^<]+)</span>', html)}
    assert marks["t3.new_received.total"] == ("17", FACT_COLOURS["fail"])  # the contradicted number, red
    assert marks["t3.results_total.total"] == ("69", FACT_COLOURS["cell"])
    assert marks["x.proactive_items"] == ("2645", FACT_COLOURS["text"])
    assert "<html" not in html
    assert render_result_facts(result.model_copy(update={"facts": [], "checks": []})).startswith("<p>")
