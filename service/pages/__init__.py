"""Paged sources (PDF pages, scans, page images): one page model (``PageContent``), one OCR stage, one layout and
one composer, whatever the page was read from; page images for the review UI (``render_page``)."""

from service.pages.build import build_document
from service.pages.images import NoPage, render_page
from service.pages.model import PageContent, ReadTable, Unit, Word

__all__ = ["NoPage", "PageContent", "ReadTable", "Unit", "Word", "build_document", "render_page"]
