"""Paged sources end to end (``load_document``: backend -> OCR stage -> layout -> compose): the same scan as an
image-only PDF and as a TIFF reads the same, a repeated header row over the page break dropped the same
(fuzzy) way in both."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from service.document import Block, Document, Origin
from service.ingest import load_document
from service.options import load_options
from service.pages import PageContent, Unit
from service.pages.compose import compose
from service.pages.layout import layout_page
from service.pages.recognize import recognize_pages

DPI = 200


def drawn_page(rows: list[tuple[str, str]], top: int, text: str | None = None) -> np.ndarray:
    """A 1200 x 1600 page (200 dpi) with a ruled two-column table whose top is at ``top`` (and a line of text)."""
    page = np.full((1600, 1200), 255, np.uint8)
    xs, ys = (200, 650, 1000), [top + 90 * i for i in range(len(rows) + 1)]
    for y in ys:
        cv2.line(page, (xs[0], y), (xs[-1], y), 0, 3)
    for x in xs:
        cv2.line(page, (x, ys[0]), (x, ys[-1]), 0, 3)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            cv2.putText(page, cell, (xs[c] + 40, ys[r] + 60), cv2.FONT_HERSHEY_SIMPLEX, 1.3, 0, 3)
    if text:
        cv2.putText(page, text, (200, top - 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 0, 3)
    return page


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Document]:
    """A table going on over the page, its header printed again on page 2 with one letter otherwise (as a
    misreading would give it): saved as a TIFF and as an image-only PDF."""
    first = drawn_page([("Fruit name", "Count"), ("Apples", "12"), ("Pears", "7")], 1200, "Fruit sold")
    again = drawn_page([("Fruit nane", "Count"), ("Plums", "5")], 150)
    images = [Image.fromarray(first), Image.fromarray(again)]
    folder = tmp_path_factory.mktemp("repeated-header")
    tiff, pdf = folder / "fruit.tiff", folder / "fruit.pdf"
    images[0].save(tiff, save_all=True, append_images=images[1:], compression="tiff_deflate", dpi=(DPI, DPI))
    images[0].save(pdf, save_all=True, append_images=images[1:], resolution=DPI)
    return {"tiff": load_document(tiff), "pdf": load_document(pdf)}


def cells(doc: Document) -> list[tuple[int, int, str, int]]:
    (table,) = doc.tables()
    assert table.table is not None
    return [(c.row, c.col, c.text, c.provenance.page or 0) for c in table.table.cells]


@pytest.mark.parametrize("kind", ["tiff", "pdf"])
def test_repeated_header_is_dropped_from_a_scan(scans: dict[str, Document], kind: str) -> None:
    doc = scans[kind]
    assert [b.kind for b in doc.blocks] == ["paragraph", "table"]
    grid = doc.tables()[0].table
    assert grid is not None and (grid.n_rows, grid.n_cols) == (4, 2)
    assert [[c.text for c in row][1] for row in grid.rows()] == ["Count", "12", "7", "5"]
    assert [c.provenance.page for c in grid.cells] == [1] * 6 + [2] * 2
    assert all(c.provenance.origin == Origin.OCR for c in grid.cells)


def test_scanned_pdf_and_tiff_read_the_same(scans: dict[str, Document]) -> None:
    tiff, pdf = scans["tiff"], scans["pdf"]
    assert cells(pdf) == cells(tiff)
    assert [b.text for b in pdf.blocks] == [b.text for b in tiff.blocks]
    # the same boxes, in PDF points for the PDF and pixels for the TIFF
    for a, b in zip(pdf.tables()[0].table.cells, tiff.tables()[0].table.cells):  # type: ignore[union-attr]
        assert a.provenance.bbox == pytest.approx([v * 72 / DPI for v in b.provenance.bbox], abs=1.0)
    assert [(p.width, p.height) for p in tiff.pages] == [(1200, 1600)] * 2
    assert [(p.width, p.height) for p in pdf.pages] == [pytest.approx((432, 576))] * 2
    assert pdf.metadata["image_only_pages"] == "1,2" and tiff.metadata["image_dpi"] == "200,200"


# ---------------------------------------------------------------- the page stages on page images


def read_bitmaps(*images: np.ndarray) -> list[Block]:
    """Page images (200 dpi) through the page stages: OCR, layout, composition."""
    pages = [
        PageContent(n, im.shape[1], im.shape[0], Unit.PIXEL, 1.0, has_text_layer=False, bitmap=im, dpi=DPI)
        for n, im in enumerate(images, 1)
    ]
    recognize_pages(pages, load_options())
    return compose([layout_page(p) for p in pages])


def test_table_going_on_over_the_page_is_joined_without_its_repeated_header():
    first = drawn_page([("Item", "Count"), ("Apples", "12"), ("Pears", "7")], 1200, "Fruit sold")
    again = drawn_page([("Item", "Count"), ("Plums", "5")], 150)
    blocks = read_bitmaps(first, again)
    assert [b.kind for b in blocks] == ["paragraph", "table"]
    grid = blocks[1].table
    assert [[c.text for c in row] for row in grid.rows()] == [
        ["Item", "Count"],
        ["Apples", "12"],
        ["Pears", "7"],
        ["Plums", "5"],
    ]
    assert [c.provenance.page for c in grid.cells] == [1, 1, 1, 1, 1, 1, 2, 2]
    # text between the two tables: two tables
    after_text = drawn_page([("Item", "Count"), ("Plums", "5")], 400, "Fruit bought")
    blocks = read_bitmaps(first, after_text)
    assert [b.kind for b in blocks] == ["paragraph", "table", "paragraph", "table"]
    assert blocks[3].table.n_rows == 2
