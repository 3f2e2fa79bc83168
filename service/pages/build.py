"""A paged source's Document: its pages as the backend read them -> the OCR stage -> layout -> compose."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from service.document import Document, Page
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
) -> Document:
    """Read every page (OCR where only a bitmap is there), lay it out and compose the document's blocks.

    ``metadata`` gains ``turned_pages`` ("2,3": pages found lying on their side or upside down)."""
    recognize_pages(pages, options)
    blocks = compose([layout_page(p) for p in pages])
    turned = [str(p.number) for p in pages if p.turns]
    if turned:
        metadata = {**metadata, "turned_pages": ",".join(turned)}
    return Document(
        path=str(path),
        sha256=sha256,
        kind=kind,
        pages=[Page(number=p.number, width=p.width, height=p.height, origin=p.origin) for p in pages],
        blocks=blocks,
        metadata=metadata,
    )
