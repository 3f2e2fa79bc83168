"""Assemble a whole document: metadata, format, sections, tables 2/3/4."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service import fuzzy
from service.assemble.common import RowRead, absent_cell
from service.assemble.rows import Row, rows_from_blocks
from service.assemble.sections import split_sections
from service.assemble.t2 import assemble_t2
from service.assemble.t3 import assemble_t3
from service.assemble.t4 import assemble_t4
from service.document import UNDECODABLE_KEY, Block, Document
from service.messages import reason
from service.normalize import label_key
from service.result import CellValue, Deviation, Section
from service.schema import FormatDecision, FormatSchema, detect_format, load_format
from service.understand.classifier import Tagging
from service.understand.facts import metadata

_TITLE = re.compile(r"(?P<agency>[^\s，。；：、]{2,40}?)(?P<year>20\d\d)年度?政府信息公开(?:工作)?年度报告")
_TITLE_YEAR_FIRST = re.compile(r"(?P<year>20\d\d)年度?(?P<agency>[^\s，。；：、]{2,40}?)政府信息公开(?:工作)?年度报告")


@dataclass
class Assembly:
    format: FormatDecision
    agency: str | None
    year: int | None
    sections: dict[str, Section]
    cells: dict[str, CellValue]
    deviations: list[Deviation] = field(default_factory=list)
    single_other_processing: bool = False
    published: str | None = None
    metadata_source: dict[str, str] = field(default_factory=dict)
    located_by: dict[str, list[str]] = field(default_factory=dict)  # t2/t3/t4 -> what found the table
    explained: set[str] = field(default_factory=set)  # absent cells the report's own layout explains
    readings: list[RowRead] = field(default_factory=list)  # rows as read, for the reviewer's start


def title_facts(doc: Document) -> tuple[str | None, int | None]:
    """Agency and report year from the title (metadata title first, then the opening text)."""
    candidates = [doc.metadata.get("title", "")]
    head = "".join(b.text for b in doc.blocks[:8] if b.kind != "table")
    candidates.append(head.replace(" ", "")[:400])
    for text in candidates:
        text = text.replace(" ", "")
        for pattern in (_TITLE_YEAR_FIRST, _TITLE):
            m = pattern.search(text)
            if m:
                agency = re.sub(r"^标题[:：]", "", m.group("agency")).strip('《》“”"') or None
                return agency, int(m.group("year"))
    return None, None


def _classify_table(block: Block) -> str | None:
    key = label_key(block.text)
    if "申请人情况" in key or "自然人" in key:
        return "s3"
    if "行政复议" in key and "行政诉讼" in key:
        return "s4"
    if "第二十条" in key or "信息内容" in key:
        return "s2"
    return None


def _table_rows(
    members: dict[str, list[tuple[int, Block]]], tagging: Tagging | None, schema: FormatSchema
) -> tuple[dict[str, list[Row]], dict[str, list[str]]]:
    """Rows of the three table sections, and what located each: its section heading, or (tables outside any
    section) the table's content."""
    placed: dict[str, list[tuple[int, Block]]] = {s: list(members.get(s, [])) for s in ("s2", "s3", "s4")}
    how: dict[str, list[str]] = {s: ["heading"] if placed[s] else [] for s in placed}
    for sid, blocks in members.items():
        if sid in placed:
            continue
        for i, b in blocks:
            if b.kind == "table" and (target := _classify_table(b)) is not None:
                placed[target].append((i, b))
                if "labels" not in how[target]:
                    how[target].append("labels")
    rows = {sid: rows_from_blocks(sorted(blocks, key=lambda x: x[0]), tagging) for sid, blocks in placed.items()}
    # a table whose section heading is missing runs on in the section before it: found by its own labels
    starts = _table_starts(schema)
    for src, dst in (("s2", "s3"), ("s3", "s4"), ("s2", "s4")):
        if rows[dst]:
            continue
        start = next((i for i, row in enumerate(rows[src]) if _starts_table(row, starts[dst])), None)
        if start is not None and start > 0:
            rows[src], rows[dst] = rows[src][:start], rows[src][start:]
            how[dst] = ["labels"]
    return rows, {f"t{sid[1]}": found for sid, found in how.items()}


def _table_starts(schema: FormatSchema) -> dict[str, list[str]]:
    """Label keys that open a table and no other: table 3's column group (申请人情况) and first row, table 4's
    litigation groups (未经复议直接起诉, 复议后起诉) — from the schema."""
    groups = schema.tables["t3"].get("column_groups", [])
    return {
        "s3": [label_key(g["label"]) for g in groups[:1]] + [label_key(schema.t3_rows()[0].label)],
        "s4": [label_key(g.label) for g in schema.t4_groups()[1:]],
    }


def _starts_table(row: Row, starts: list[str]) -> bool:
    """The row opens that table: one of its labels holds one of ``starts`` within edit tolerance
    (``service.fuzzy``)."""
    return any(fuzzy.search(start, label_key(label)) for label in row.labels for start in starts)


def assemble(doc: Document, tagging: Tagging | None = None) -> Assembly:
    """Cells, sections and findings of a document; ``tagging`` (the classifier's reading) is optional."""
    agency, year = title_facts(doc)
    source = {k: "title" for k, v in (("agency", agency), ("year", year)) if v is not None}
    published = None
    if tagging is not None:
        meta = metadata(tagging)
        published = meta_published if isinstance(meta_published := meta["published"], str) else None
        if published is not None:
            source["published"] = "classifier"
        for key in ("agency", "year"):
            if key not in source and meta[key] is not None:
                source[key] = "classifier"
        if agency is None and isinstance(meta_agency := meta["agency"], str):
            agency = meta_agency
        if year is None and isinstance(meta_year := meta["year"], int):
            year = meta_year
    all_text = "\n".join(b.text for b in doc.blocks)
    decision = detect_format(all_text, year)
    schema = load_format(decision.format)
    sections, members = split_sections(doc, schema, tagging)
    rows, located_by = _table_rows(members, tagging, schema)

    t2 = assemble_t2(rows["s2"], schema)
    t3 = assemble_t3(rows["s3"], schema)
    t4 = assemble_t4(rows["s4"], schema)

    cells: dict[str, CellValue] = {}
    found = {**t2.cells, **t3.cells, **t4.cells}
    for cid in schema.cell_ids():
        cells[cid] = found.pop(cid) if cid in found else absent_cell(reason("table_not_found"))
    cells.update(found)  # cells outside the format's list, e.g. t3.other_processing.* of a 2021 report
    deviations = [*t2.deviations, *t3.deviations, *t4.deviations]
    if sum(1 for b in doc.blocks if b.kind == "heading" and b.text.startswith("一")) > 1:
        deviations.append(
            Deviation(id="dev_duplicate_heading", message="a section heading is printed twice", severity="info")
        )
    if undecodable := doc.metadata.get(UNDECODABLE_KEY):
        count, _, encoding = undecodable.partition(" ")
        deviations.append(
            Deviation(
                id="xxgk_undecodable_text",
                message=f"{count} characters of the file could not be decoded {encoding} and were replaced (U+FFFD); "
                "a label or number they hit may be missing",
                severity="warning",
            )
        )
    for sec in sections.values():
        if not sec.found:
            deviations.append(
                Deviation(
                    id="xxgk_section_missing",
                    message=f"section {sec.number}、{sec.title} not found by its heading",
                    severity="info",
                )
            )
    return Assembly(
        format=decision,
        agency=agency,
        year=year,
        sections=sections,
        cells=cells,
        deviations=deviations,
        single_other_processing=t3.single_other_processing,
        published=published,
        metadata_source=source,
        located_by=located_by,
        explained=t3.explained,
        readings=[*t2.readings, *t3.readings, *t4.readings],
    )
