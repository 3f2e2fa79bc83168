"""The façade: one call from a file to the output contract. Nothing else calls the stages directly."""
from __future__ import annotations

from pathlib import Path

from service import PIPELINE_VERSION
from service.assemble import assemble
from service.document import Document
from service.ingest import load_document
from service.reconcile.rules import run_checks
from service.result import DocumentInfo, Result
from service.schema import load_format


def extract(path: str | Path) -> Result:
    """Read a report (PDF, DOCX, HTML, Markdown, text) and return every cell, check and finding."""
    return extract_document(load_document(path))


def extract_document(doc: Document) -> Result:
    asm = assemble(doc)
    schema = load_format(asm.format.format)
    checks = run_checks(asm.cells, schema, single_other_processing=asm.single_other_processing)
    for dev in asm.deviations:
        for cid in dev.cells:
            cell = asm.cells.get(cid)
            if cell is not None and cell.status in ("absent", "inferred") and not cell.needs_review:
                cell.needs_review = True
                cell.review_reasons.append(dev.id)
    return Result(
        pipeline_version=PIPELINE_VERSION,
        document=DocumentInfo(path=doc.path, sha256=doc.sha256, kind=doc.kind, pages=len(doc.pages)),
        format=asm.format.format,
        format_reason=asm.format.reason,
        agency=asm.agency,
        year=asm.year,
        cells=asm.cells,
        checks=checks,
        deviations=asm.deviations,
        sections=asm.sections,
    )
