"""Narrative facts as a spaCy component on ``spacy.blank("zh")``: ``nlp(paragraph).ents`` are labelled fact spans.

    import spacy
    import service.understand.spacy_facts  # registers the factory
    nlp = spacy.blank("zh")
    nlp.add_pipe("xxgk_facts")
    doc = nlp("全年共收到政府信息公开申请95件，办结93件。")
    [(e.text, e.label_) for e in doc.ents]      # [('95', 't3.new_received.total'), ('93', 't3.results_total.total')]
    render_facts(doc)                           # displaCy HTML for the review screen

Facts are read like in the pipeline (cue grammar + classifier, :func:`service.understand.facts.extract_facts`)
for the report format ``report_format`` (fact ids differ between 2019 and 2021: 规章 counts). Each entity carries
its confidence in ``ent._.confidence`` and the cue word that decided it in ``ent._.cue``. The paragraph is read as
one text
block (no table context); characters are normalised like every other input, offsets map back to the original.
"""

from __future__ import annotations

import unicodedata

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from service.document import Block, Document, Origin, Provenance
from service.normalize import clean
from service.result import Fact, Result
from service.understand.classifier import get_tagger
from service.understand.facts import extract_facts

for _ext in ("confidence", "cue"):
    if not Span.has_extension(_ext):
        Span.set_extension(_ext, default=None)


def _normalised_with_offsets(text: str) -> tuple[str, list[int]]:
    """clean() applied character by character, with the original offset of every output character."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        c = " " if ch.isspace() else clean(ch) or ""
        if not c and unicodedata.category(ch) != "Cf":
            c = ch
        for piece in c:
            out.append(piece)
            origin.append(i)
    return "".join(out), origin


class FactsComponent:
    def __init__(self, model_dir: str | None, engine: str, min_confidence: float, report_format: str):
        self.tagger = get_tagger(model_dir, engine, 1)
        self.min_confidence = min_confidence
        self.report_format = report_format

    def __call__(self, doc: Doc) -> Doc:
        text, origin = _normalised_with_offsets(doc.text)
        if not text.strip():
            return doc
        block = Block(kind="paragraph", text=text, raw=doc.text, provenance=Provenance(origin=Origin.TEXT))
        document = Document(path="<spacy>", sha256="", kind="text", blocks=[block])
        facts = extract_facts(document, self.tagger.tag(document), self.report_format, self.min_confidence)
        spans = []
        for fact in facts:
            start, end = origin[fact.start], origin[fact.end - 1] + 1
            span = doc.char_span(start, end, label=fact.id, alignment_mode="expand")
            if span is not None:
                span._.confidence = fact.confidence
                span._.cue = fact.cue
                spans.append(span)
        doc.ents = filter_spans(spans)
        return doc


@Language.factory(
    "xxgk_facts", default_config={"model_dir": None, "engine": "onnx", "min_confidence": 0.5, "report_format": "2021"}
)
def make_facts_component(
    nlp: Language, name: str, model_dir: str | None, engine: str, min_confidence: float, report_format: str
):
    return FactsComponent(model_dir, engine, min_confidence, report_format)


def facts_nlp(model_dir: str | None = None, report_format: str = "2021") -> Language:
    import spacy

    nlp = spacy.blank("zh")
    nlp.add_pipe("xxgk_facts", config={"model_dir": model_dir, "report_format": report_format})
    return nlp


def render_facts(doc: Doc) -> str:
    """displaCy entity markup of a paragraph's facts (for the review screen)."""
    from spacy import displacy

    return displacy.render(doc, style="ent", page=False, jupyter=False)


FACT_COLOURS = {"cell": "#bbf7d0", "text": "#bfdbfe", "fail": "#fecaca"}  # as the review screen's marks


def result_docs(result: Result) -> list[Doc]:
    """The narrative facts of a stored result (the output contract's ``facts``) as spaCy docs: one per sentence
    that states a fact, its ents the facts' numbers labelled with their ids. Facts are found in their sentence in
    text order (each at the next occurrence of its printed number); the stored result is what is shown, nothing is
    read again."""
    import spacy

    nlp = spacy.blank("zh")
    by_sentence: dict[str, list[Fact]] = {}
    for fact in sorted(result.facts, key=lambda f: (f.block, f.start)):
        by_sentence.setdefault(fact.sentence, []).append(fact)
    docs = []
    for sentence, facts in by_sentence.items():
        doc = nlp.make_doc(sentence)
        spans, pos = [], 0
        for fact in facts:
            at = sentence.find(fact.text, pos)
            if at < 0:
                continue
            span = doc.char_span(at, at + len(fact.text), label=fact.id, alignment_mode="expand")
            if span is not None:
                span._.confidence = fact.confidence
                span._.cue = fact.cue
                spans.append(span)
            pos = at + len(fact.text)
        doc.ents = filter_spans(spans)
        docs.append(doc)
    return docs


def render_result_facts(result: Result, page: bool = True) -> str:
    """displaCy entity markup of a stored result's narrative facts, one paragraph per sentence: facts naming a
    table cell green, text-only facts blue, facts whose text-vs-table check fails red."""
    from spacy import displacy

    docs = result_docs(result)
    failed = {c.instance for c in result.checks if c.rule == "text_vs_table" and c.status == "fail"}
    colours = {f.id: FACT_COLOURS["fail" if f.id in failed else f.kind] for f in result.facts}
    if not docs:
        return "<p>正文中没有识别到数字事实。</p>"
    return displacy.render(docs, style="ent", page=page, jupyter=False, options={"colors": colours})
