"""Narrative facts as a spaCy component on spacy.blank("zh")."""
from __future__ import annotations

import spacy

from service.understand.spacy_facts import facts_nlp, render_facts


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
