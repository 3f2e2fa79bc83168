"""Split a document's blocks into the six sections of the format."""

from __future__ import annotations

from service import headings
from service.document import Block, Document
from service.normalize import clean
from service.result import Section
from service.schema import FormatSchema
from service.understand.classifier import Tagging


def section_of_heading(text: str) -> str | None:
    """Section id (s1…s6) of a heading line, by its number and its title matched with edit costs."""
    number = headings.section_of_heading(text)
    return headings.section_id(number) if number is not None else None


HEADING_CONFIDENCE = 0.9  # a line the pattern does not take is a heading when the classifier is this sure


def heading_of(text: str, index: int, tagging: Tagging | None) -> str | None:
    """Section id of a short text block: the numbered-heading pattern, or the classifier where the pattern fails
    (an OCR-garbled number or keyword)."""
    sid = section_of_heading(text)
    if sid is not None or tagging is None or len(clean(text)) > 40:
        return sid
    pred = tagging.label_of((index,))
    if pred is not None and pred.label.startswith("sec.") and pred.confidence >= HEADING_CONFIDENCE:
        return pred.label[4:]
    return None


def split_sections(
    doc: Document, schema: FormatSchema, tagging: Tagging | None = None
) -> tuple[dict[str, Section], dict[str, list[tuple[int, Block]]]]:
    """Sections with their text, and the blocks (with their index) that fall in each section."""
    sections = {s.id: Section(id=s.id, number=s.number, title=s.title) for s in schema.sections}
    members: dict[str, list[tuple[int, Block]]] = {sid: [] for sid in sections}
    members["preamble"] = []
    current = "preamble"
    for i, block in enumerate(doc.blocks):
        if block.kind != "table" and len(block.text) <= 60:
            sid = heading_of(block.text, i, tagging)
            # table-3 row labels such as 三、本年度办理结果 never carry section keywords
            if sid is not None and sid in sections:
                current = sid
                if not sections[sid].found:
                    sections[sid].found = True
                    sections[sid].heading = block.text
                continue
        members[current].append((i, block))
    for sid, sec in sections.items():
        sec.text = "\n".join(b.text for _, b in members[sid] if b.kind != "table")
    return sections, members
