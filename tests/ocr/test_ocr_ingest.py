"""Scanned reports through the whole pipeline: r001 rendered at 200 dpi and saved as a multi-page TIFF, as
one PNG per page, as an image-only PDF and as a mixed PDF (text pages 1-2, scanned pages 3-5).

Every file is read once per module (``load_document``) and its Document put through
``extract_document``: the two halves of ``service.pipeline.extract``."""
from __future__ import annotations

import json
from difflib import SequenceMatcher
from pathlib import Path

import cv2
import numpy as np
import pypdfium2
import pytest
from PIL import Image

from service.document import Block, Document, Origin
from service.evaluate import score
from service.ingest import load_document
from service.ingest.base import IngestError
from service.ingest.image import ImageBackend
from service.normalize import parse_number
from service.options import load_options
from service.pipeline import extract_document
from service.result import Result

ROOT = Path(__file__).resolve().parents[2]
R001 = ROOT / "datasets/dev-reports/r001"
TRUTH = json.loads((R001 / "cells.json").read_text(encoding="utf-8"))
PAGE_SIZE = (1653, 2339)  # A4 at 200 dpi, pixels (as PDFium renders r001)


def images(pages: dict[int, np.ndarray]) -> list[Image.Image]:
    return [Image.fromarray(pages[n]) for n in sorted(pages)]


@pytest.fixture(scope="module")
def files(tmp_path_factory, r001_pages) -> dict[str, Path | list[Path]]:
    folder = tmp_path_factory.mktemp("scans")
    first, *rest = images(r001_pages)
    tiff = folder / "r001.tiff"
    first.save(tiff, save_all=True, append_images=rest, compression="tiff_deflate", dpi=(200, 200))
    pngs = []
    for number, image in enumerate([first, *rest], 1):
        pngs.append(folder / f"r001-page{number}.png")
        image.save(pngs[-1])  # no resolution recorded: taken as A4 wide
    scanned = folder / "r001-scanned.pdf"
    first.save(scanned, save_all=True, append_images=rest, resolution=200)  # JPEG pages
    mixed = pypdfium2.PdfDocument.new()
    mixed.import_pages(pypdfium2.PdfDocument(str(R001 / "source.pdf")), [0, 1])
    mixed.import_pages(pypdfium2.PdfDocument(str(scanned)), [2, 3, 4])
    mixed.save(folder / "r001-mixed.pdf")
    return {"tiff": tiff, "pngs": pngs, "scanned": scanned, "mixed": folder / "r001-mixed.pdf"}


@pytest.fixture(scope="module")
def tiff_doc(files) -> Document:
    return load_document(files["tiff"])


@pytest.fixture(scope="module")
def png_docs(files) -> list[Document]:
    return [load_document(path) for path in files["pngs"]]


@pytest.fixture(scope="module")
def scanned_doc(files) -> Document:
    return load_document(files["scanned"])


@pytest.fixture(scope="module")
def mixed_doc(files) -> Document:
    return load_document(files["mixed"])


def assert_all_cells_right(result: Result) -> None:
    s = score(result, TRUTH, "r001", Path(result.document.path).name)
    assert (s.right, s.total, s.wrong) == (186, 186, [])
    assert result.format == "2021"


def ocr_cells(doc: Document, pages: set[int]) -> list:
    return [c for b in doc.tables() for c in b.table.cells if c.provenance.page in pages]


def assert_ocr_provenance(cells) -> None:
    assert cells
    for cell in cells:
        p = cell.provenance
        assert p.origin == Origin.OCR and p.page is not None and p.bbox is not None
        assert 0.0 < p.confidence <= 1.0
        assert cell.ocr is not None and (cell.ocr.text == "") == (cell.text == "")
        if cell.text:
            assert all(ch.alternatives for ch in cell.ocr.chars)


# ---------------------------------------------------------------- images


def test_multipage_tiff_gives_every_truth_cell(tiff_doc):
    tiff_result = extract_document(tiff_doc)
    assert_all_cells_right(tiff_result)
    assert (tiff_result.document.kind, tiff_result.document.pages) == ("image", 5)
    assert tiff_result.agency == "洪泽区人民政府" and tiff_result.year == 2023
    for cid in TRUTH["cells"]:
        source = tiff_result.cells[cid].source
        assert source is not None and source.origin == "ocr" and source.page in (2, 3, 4) and source.bbox


def test_tiff_document_pages_blocks_and_provenance(tiff_doc):
    doc = tiff_doc
    assert doc.kind == "image" and doc.metadata["image_dpi"] == "200,200,200,200,200"
    assert [(p.number, p.origin, (p.width, p.height)) for p in doc.pages] == [
        (n, Origin.OCR, PAGE_SIZE) for n in range(1, 6)
    ]
    assert_ocr_provenance(ocr_cells(doc, {1, 2, 3, 4, 5}))
    headings = [b.text for b in doc.blocks if b.kind == "heading"]
    assert headings == [
        "一、总体情况",
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",
        "五、存在的主要问题及改进情况",
        "六、其他需要报告的事项",
    ]
    tables = doc.tables()
    assert [(t.table.n_rows, t.table.n_cols) for t in tables] == [(14, 4), (26, 10), (4, 15)]
    assert [sorted({c.provenance.page for c in t.table.cells}) for t in tables] == [[2, 3], [3, 4], [4]]
    assert all(b.provenance.origin == Origin.OCR for b in doc.blocks)
    assert not any(b.text in ("-1-", "-2-", "- 1 -") for b in doc.blocks)  # page numbers dropped


def test_running_text_reads_as_the_text_layer(tiff_doc):
    def text(doc: Document) -> str:
        return "".join("".join(b.text.split()) for b in doc.blocks if b.kind != "table")

    ocr, layer = text(tiff_doc), text(load_document(R001 / "source.pdf"))
    assert len(layer) > 1200 and SequenceMatcher(None, layer, ocr, autojunk=False).ratio() >= 0.995


def test_png_pages_read_every_value(png_docs, r001_cells_truth):
    """One PNG per page: every page a document of its own; together they hold every value of the truth."""
    values = []
    for doc in png_docs:
        assert doc.kind == "image" and [p.number for p in doc.pages] == [1]
        assert doc.metadata["image_dpi"] == "200"  # from the A4 width
        values += [parse_number(c.text) for c in ocr_cells(doc, {1})]
    numbers = sorted(p.value for p in values if p.status == "value")
    assert numbers == sorted(r001_cells_truth.values())


def test_png_page_with_table_4_gives_its_cells(png_docs):
    result = extract_document(png_docs[3])  # table 4 lies whole on page 4
    t4 = {cid: v for cid, v in TRUTH["cells"].items() if cid.startswith("t4.")}
    assert len(t4) == 15
    assert {cid: result.cells[cid].value for cid in t4} == t4


# ---------------------------------------------------------------- PDFs


def test_image_only_pdf_gives_every_truth_cell(scanned_doc):
    doc = scanned_doc
    assert_all_cells_right(extract_document(doc))
    assert doc.metadata["image_only_pages"] == "1,2,3,4,5"
    assert all(p.origin == Origin.OCR for p in doc.pages)
    assert_ocr_provenance(ocr_cells(doc, {1, 2, 3, 4, 5}))
    # boxes in PDF points: the first table cell is where the text layer has it
    cell = doc.tables()[0].table.cells[0]
    assert cell.provenance.bbox == pytest.approx((75.65, 459.13, 517.15, 495.03), abs=1.5)


def test_mixed_pdf_text_and_scanned_pages(mixed_doc):
    doc = mixed_doc
    assert doc.metadata["image_only_pages"] == "3,4,5"
    assert [p.origin for p in doc.pages] == [Origin.TEXT_LAYER] * 2 + [Origin.OCR] * 3
    table2 = doc.tables()[0].table
    # table 2 starts on text page 2 and ends on scanned page 3: one table
    assert (table2.n_rows, table2.n_cols) == (14, 4)
    assert {(c.provenance.page, c.provenance.origin) for c in table2.cells} == {
        (2, Origin.TEXT_LAYER),
        (3, Origin.OCR),
    }
    assert_ocr_provenance(ocr_cells(doc, {3, 4, 5}))
    assert_all_cells_right(extract_document(doc))


# ---------------------------------------------------------------- turned and skewed scans


def same_reading(a: list[Block], b: list[Block]) -> None:
    assert [x.kind for x in a] == [y.kind for y in b]
    for x, y in zip(a, b):
        if x.kind == "table":
            assert [(c.row, c.col, c.rowspan, c.colspan, c.text) for c in x.table.cells] == [
                (c.row, c.col, c.rowspan, c.colspan, c.text) for c in y.table.cells
            ]
        else:
            assert SequenceMatcher(None, x.text, y.text).ratio() >= 0.98, (x.text, y.text)
        assert x.provenance.bbox == pytest.approx(y.provenance.bbox, abs=10)  # pixels: 0.05 inch


def turned(image: np.ndarray, angle: float) -> np.ndarray:
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)


@pytest.mark.parametrize(
    ("page", "how"),
    [(2, "turned 90"), (2, "turned 180"), (2, "skewed 2"), (1, "skewed -2")],
)
def test_turned_and_skewed_pages_read_the_same(page, how, r001_pages, png_docs, tmp_path):
    image = r001_pages[page]
    if how.startswith("turned"):
        image = np.ascontiguousarray(np.rot90(image, int(how.split()[1]) // 90))
    else:
        image = turned(image, float(how.split()[1]))  # page 2 has ruling lines, page 1 only text
    path = tmp_path / f"page{page}.jpg"
    Image.fromarray(image).save(path, quality=92)
    doc = load_document(path)
    assert (doc.pages[0].width, doc.pages[0].height) == PAGE_SIZE  # the upright page
    assert doc.metadata.get("turned_pages") == ("1" if how.startswith("turned") else None)
    same_reading(doc.blocks, png_docs[page - 1].blocks)


# ---------------------------------------------------------------- bad input


def test_corrupt_png_raises_naming_file_and_reason(files, tmp_path):
    data = files["pngs"][0].read_bytes()
    truncated = tmp_path / "truncated-scan.png"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(IngestError) as err:
        load_document(truncated)
    assert err.value.path == str(truncated) and "truncated-scan.png" in str(err.value)
    assert "corrupt or truncated image" in err.value.reason
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x00\x01 not an image at all " * 40)
    with pytest.raises(IngestError, match="not an image"):
        load_document(garbage)


def test_missing_engine_names_what_to_install(files):
    pytest.importorskip("service.ocr.paddleocr_engine")
    try:
        import paddle  # noqa: F401

        pytest.skip("paddle is installed here")
    except ImportError:
        pass
    options = load_options().with_changes(ocr={"engine": "paddleocr"})
    with pytest.raises(IngestError) as err:
        load_document(files["pngs"][4], options)
    assert "pip install" in err.value.reason and "r001-page5.png" in str(err.value)


def test_accepts_images_by_content_then_extension():
    assert ImageBackend.accepts(Path("scan.bin"), b"\x89PNG\r\n\x1a\n....")
    assert ImageBackend.accepts(Path("scan"), b"II*\x00....")
    assert ImageBackend.accepts(Path("photo.JPG"), b"")
    assert not ImageBackend.accepts(Path("report.txt"), "二、主动公开政府信息情况".encode())


def test_transparent_png_is_laid_on_white(r001_pages, tmp_path):
    ink = 255 - r001_pages[5]
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = ink  # black text on a transparent page
    path = tmp_path / "transparent.png"
    Image.fromarray(rgba, "RGBA").save(path)
    doc = load_document(path)
    assert [b.text for b in doc.blocks if b.kind == "heading"] == ["六、其他需要报告的事项"]
