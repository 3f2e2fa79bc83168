"""The façade: one call from a file to the output contract. Nothing else calls the stages directly."""

from __future__ import annotations

from pathlib import Path

from service.assemble import assemble
from service.coverage import coverage, explained_cells, flag_unread
from service.document import Document
from service.ingest import load_document
from service.messages import add_reason
from service.ocr.base import OcrUnavailable, get_engine, loaded_engines
from service.options import PipelineOptions, load_options
from service.pages.layout_model import load_model
from service.reconcile.memory import let_off_confirmed
from service.reconcile.repair import reconcile_cells
from service.reconcile.start import row_readings
from service.reconcile.text_checks import text_vs_table
from service.result import DocumentInfo, Result
from service.rules import equations, run_checks
from service.schema import load_format
from service.understand.classifier import Tagging, get_tagger, pipeline_version
from service.understand.facts import extract_facts


def extract(path: str | Path, options: PipelineOptions | None = None) -> Result:
    """Read a report (PDF, DOCX, HTML, Markdown, text, scans) and return every cell, check and finding.

    ``options``: the pipeline's options (``load_options()`` when not given: configs/pipeline.yaml + environment)."""
    options = options or load_options()
    return extract_document(load_document(path, options), options)


def warm_up(options: PipelineOptions) -> int:
    """Load now the models a run with ``options`` uses (OCR engine, layout model, classifier), once per process: a
    pool's worker or a cluster's actor does it when it starts, not in its first document. Returns
    :func:`models_loaded`."""
    try:
        get_engine(options.ocr.engine, threads=options.ocr.threads)
    except OcrUnavailable:  # a text-only installation: scans fail with that reason when they come
        pass
    if options.layout.model != "off":
        load_model(options.layout.model_path, options.layout.threads)
    cfg = options.classifier
    if cfg.enabled:
        get_tagger(str(cfg.model_path), cfg.engine, cfg.threads)
    return models_loaded()


def models_loaded() -> int:
    """How many times this process has loaded a model (OCR engines, layout model, classifier): after
    :func:`warm_up` it stays put however many documents are read."""
    return loaded_engines() + load_model.cache_info().misses + get_tagger.cache_info().misses


def understand(doc: Document, options: PipelineOptions) -> Tagging | None:
    """The classifier's reading of a document (None when the options turn it off)."""
    cfg = options.classifier
    if not cfg.enabled:
        return None
    return get_tagger(str(cfg.model_path), cfg.engine, cfg.threads).tag(doc)


def extract_document(doc: Document, options: PipelineOptions | None = None) -> Result:
    """The output contract of a document already read into the document model."""
    options = options or load_options()
    tagging = understand(doc, options)
    asm = assemble(doc, tagging)
    schema = load_format(asm.format.format)
    cfg = options.classifier
    facts = (
        extract_facts(doc, tagging, asm.format.format, cfg.min_fact_confidence)
        if tagging is not None and cfg.facts
        else []
    )
    rec_cfg = options.reconcile
    if rec_cfg.enabled:
        reconcile_cells(asm.cells, schema, rec_cfg, single_other_processing=asm.single_other_processing)
    checks = run_checks(asm.cells, schema, single_other_processing=asm.single_other_processing)
    checks += text_vs_table(facts, asm.cells)
    for dev in asm.deviations:
        for cid in dev.cells:
            cell = asm.cells.get(cid)
            if cell is not None and cell.status in ("absent", "inferred") and not cell.needs_review:
                cell.needs_review = True
                add_reason(cell, "deviation", unique=False, id=dev.id)
    explained = explained_cells(asm.deviations, asm.explained)
    flag_unread(asm.cells, schema.cell_ids(), explained)
    let_off_confirmed(asm.cells, asm.agency, asm.deviations, options.classifier)  # reviewed layouts
    readings = row_readings(
        asm.readings, asm.cells, equations(schema, single_other_processing=asm.single_other_processing)
    )
    return Result(
        pipeline_version=pipeline_version(options.classifier),  # the model's id too where it is not the shipped one
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
        row_readings=readings,
    )
