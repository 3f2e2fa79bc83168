"""The façade: one call from a file to the output contract. Nothing else calls the stages directly."""
from __future__ import annotations

from pathlib import Path

from service import PIPELINE_VERSION
from service.assemble import assemble
from service.config import settings
from service.coverage import coverage, explained_cells, flag_unread
from service.document import Document
from service.ingest import load_document
from service.reconcile.repair import reconcile_cells
from service.reconcile.rules import run_checks
from service.reconcile.text_checks import text_vs_table
from service.result import DocumentInfo, Result
from service.schema import CONFIG_DIR, load_format
from service.understand.classifier import Tagging, get_tagger
from service.understand.facts import extract_facts


def extract(path: str | Path) -> Result:
    """Read a report (PDF, DOCX, HTML, Markdown, text) and return every cell, check and finding."""
    return extract_document(load_document(path))


def understand(doc: Document) -> Tagging | None:
    """The classifier's reading of a document (None when configs/pipeline.yaml turns it off)."""
    cfg = settings().classifier
    if not cfg.enabled:
        return None
    model_dir = Path(cfg.model_dir)
    if not model_dir.is_absolute():
        model_dir = CONFIG_DIR.parent / model_dir
    return get_tagger(str(model_dir), cfg.engine, cfg.threads).tag(doc)


def extract_document(doc: Document) -> Result:
    tagging = understand(doc)
    asm = assemble(doc, tagging)
    schema = load_format(asm.format.format)
    cfg = settings().classifier
    facts = extract_facts(doc, tagging, asm.format.format, cfg.min_fact_confidence) \
        if tagging is not None and cfg.facts else []
    rec_cfg = settings().reconcile
    if rec_cfg.enabled:
        reconcile_cells(asm.cells, schema, rec_cfg, single_other_processing=asm.single_other_processing)
    checks = run_checks(asm.cells, schema, single_other_processing=asm.single_other_processing)
    checks += text_vs_table(facts, asm.cells)
    for dev in asm.deviations:
        for cid in dev.cells:
            cell = asm.cells.get(cid)
            if cell is not None and cell.status in ("absent", "inferred") and not cell.needs_review:
                cell.needs_review = True
                cell.review_reasons.append(dev.id)
    explained = explained_cells(asm.deviations, asm.explained)
    flag_unread(asm.cells, schema.cell_ids(), explained)
    return Result(
        pipeline_version=PIPELINE_VERSION,
        document=DocumentInfo(path=doc.path, sha256=doc.sha256, kind=doc.kind, pages=len(doc.pages)),
        format=asm.format.format,
        format_reason=asm.format.reason,
        agency=asm.agency,
        year=asm.year,
        published=asm.published,
        metadata_source=asm.metadata_source,
        cells=asm.cells,
        checks=checks,
        deviations=asm.deviations,
        sections=asm.sections,
        facts=facts,
        coverage=coverage(asm.cells, schema, explained, asm.located_by),
    )
