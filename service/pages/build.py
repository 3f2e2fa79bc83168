"""A paged source's Document: its pages as the backend read them -> the OCR stage -> layout -> compose."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from service.document import BBox, Block, Document, Page, TableCell
from service.options import PipelineOptions
from service.pages.compose import compose
from service.pages.layout import layout_page
from service.pages.model import PageContent
from service.pages.recognize import recognize_pages


def build_document(
    path: Path,
    sha256: str,
    kind: str,
    pages: Sequence[PageContent],
    metadata: dict[str, str],
    options: PipelineOptions,
    known: Mapping[int, PageContent] | None = None,
) -> Document:
    """Read every page (OCR where only a bitmap is there), lay it out and compose the document's blocks.

    Table cells read by OCR whose box overlaps a red seal or stamp of their page get ``provenance.sealed``; those
    of a table the layout model found (no ruled grid there) get ``provenance.layout_model``; those a toner streak ran
    through ``provenance.streak``; those of a table printed without inner rulings (its rows and columns found from
    the whitespace) ``provenance.unruled``.
    ``metadata`` gains ``turned_pages`` ("2,3": pages found lying on their side or upside down). ``known``: pages
    the OCR stage read elsewhere (``recognize_pages``)."""
    pages = recognize_pages(pages, options, known)
    blocks = compose([layout_page(p) for p in pages])
    blocks = mark_cells(blocks, {p.number: p.seals for p in pages if p.seals}, "sealed")
    blocks = mark_cells(blocks, {p.number: p.model_tables for p in pages if p.model_tables}, "layout_model")
    blocks = mark_cells(blocks, {p.number: p.streaked for p in pages if p.streaked}, "streak")
    blocks = mark_cells(blocks, {p.number: p.stream_tables for p in pages if p.stream_tables}, "unruled")
    turned = [str(p.number) for p in pages if p.turns]
    if turned:
        metadata = {**metadata, "turned_pages": ",".join(turned)}
    return Document(
        path=str(path),
        sha256=sha256,
        kind=kind,
        pages=[
            Page(number=p.number, width=p.width, height=p.height, origin=p.origin, timings=p.timings) for p in pages
        ],
        blocks=blocks,
        metadata=metadata,
    )


def mark_cells(blocks: list[Block], regions: dict[int, list[BBox]], flag: str) -> list[Block]:
    """The blocks, with the provenance ``flag`` (``sealed``, ``layout_model``) set on every OCR table cell whose box
    (pixels of its page image, ``cell.ocr.box``) overlaps one of the ``regions`` of its page."""
    if not regions:
        return blocks
    out = []
    for block in blocks:
        if block.table is not None and any(_in_regions(c, regions) for c in block.table.cells):
            cells = [
                c.model_copy(update={"provenance": c.provenance.model_copy(update={flag: True})})
                if _in_regions(c, regions)
                else c
                for c in block.table.cells
            ]
            block = block.model_copy(update={"table": block.table.model_copy(update={"cells": cells})})
        out.append(block)
    return out


def _in_regions(cell: TableCell, regions: dict[int, list[BBox]]) -> bool:
    if cell.ocr is None or cell.provenance.page not in regions:
        return False
    x0, y0, x1, y1 = cell.ocr.box
    return any(x0 < rx1 and rx0 < x1 and y0 < ry1 and ry0 < y1 for rx0, ry0, rx1, ry1 in regions[cell.provenance.page])
