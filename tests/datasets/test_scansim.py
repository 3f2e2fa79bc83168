"""The scan simulator (datasets/scansim.py) and its committed fixtures (datasets/scans/).

No OCR here. Rendering non-PDF sources needs WeasyPrint and the Noto CJK fonts (the ``scan`` extra and
fonts-noto-cjk); those tests skip, saying so, where they are missing.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pdfplumber
import pytest
from bs4 import BeautifulSoup
from PIL import Image

from service.document import Document, TableGrid
from service.evaluate import score
from service.ingest import load_document
from service.normalize import clean
from service.pages.compose import join_pages
from service.pages.layout import find_grids
from service.pipeline import extract_document
from tests.conftest import load_scansim

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "datasets" / "dev-reports"




scansim = load_scansim()
MANIFEST = json.loads(scansim.MANIFEST.read_text(encoding="utf-8"))


def needs_renderer() -> None:
    pytest.importorskip("weasyprint", reason="weasyprint is not installed (the `scan` extra)")
    if not scansim.cjk_font_installed():
        pytest.skip(f"font {scansim.CJK_FONT!r} is not installed (Debian: apt-get install fonts-noto-cjk)")


@pytest.fixture(scope="module")
def r001_page() -> Image.Image:
    """Page 2 of the real r001 PDF at 100 dpi (a table page; rendering a PDF needs no WeasyPrint)."""
    pages = scansim.rasterise((DEV / "r001" / "source.pdf").read_bytes(), 100)
    assert len(pages) == 5
    return pages[1]


# --- degradations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["moderate", "fax"])
def test_degradation_is_deterministic_for_a_seed(r001_page: Image.Image, preset: str) -> None:
    p = scansim.PRESETS[preset]
    first = scansim.degrade(r001_page, p, scansim.page_rng(0, 2)).tobytes()
    again = scansim.degrade(r001_page, p, scansim.page_rng(0, 2)).tobytes()
    other_seed = scansim.degrade(r001_page, p, scansim.page_rng(1, 2)).tobytes()
    other_page = scansim.degrade(r001_page, p, scansim.page_rng(0, 3)).tobytes()
    assert first == again
    assert first != other_seed and first != other_page


def test_clean_changes_nothing(r001_page: Image.Image) -> None:
    out = scansim.degrade(r001_page, scansim.PRESETS["clean"], scansim.page_rng(0, 1))
    assert out.tobytes() == r001_page.tobytes()


def test_moderate_is_a_gray_page_close_to_the_original(r001_page: Image.Image) -> None:
    original = np.asarray(r001_page).astype(int)
    out = np.asarray(scansim.degrade(r001_page, scansim.PRESETS["moderate"], scansim.page_rng(0, 1))).astype(int)
    assert out.shape == original.shape
    assert len(np.unique(out)) > 32  # blur, noise and JPEG: many gray levels
    assert 0 < np.abs(out - original).mean() < 40  # degraded, still the same page
    assert (out >= 250).mean() > 0.7  # the background cleanup keeps the paper white


def test_fax_is_binary_with_specks(r001_page: Image.Image) -> None:
    out = np.asarray(scansim.degrade(r001_page, scansim.PRESETS["fax"], scansim.page_rng(0, 1)))
    assert set(np.unique(out)) == {0, 255}
    clean = scansim.binarise(np.asarray(r001_page), scansim.PRESETS["fax"].threshold)
    margin = (slice(0, 60), slice(None))  # the top margin is blank in the original
    assert (clean[margin] == 255).all()
    assert (out[margin] == 0).sum() > 0  # specks


def test_rotation() -> None:
    img = np.full((40, 30), 255, np.uint8)
    img[0, 0] = 0
    quarter = scansim.rotate(img, 90)
    assert quarter.shape == (30, 40) and quarter[29, 0] == 0  # counter-clockwise: top-left goes bottom-left
    assert scansim.rotate(img, 180)[39, 29] == 0
    skewed = scansim.rotate(np.full((40, 30), 255, np.uint8), 0.5)
    assert skewed.shape == (40, 30) and (skewed == 255).all()  # white fill at the edges


# --- image-only PDF --------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["moderate", "fax"])
def test_write_image_pdf_has_pages_of_the_dpi_and_no_text(tmp_path: Path, r001_page: Image.Image, preset: str) -> None:
    p = scansim.PRESETS[preset]
    pages = [scansim.degrade(r001_page, p, scansim.page_rng(0, n)) for n in (1, 2)]
    path = scansim.write_image_pdf(pages, tmp_path / "scan.pdf", dpi=100, jpeg_quality=p.pdf_quality)
    with pdfplumber.open(path) as pdf:
        assert len(pdf.pages) == 2
        for page, image in zip(pdf.pages, pages):
            assert len(page.chars) == 0
            assert page.width == pytest.approx(image.width / 100 * 72, abs=0.5)
            assert page.height == pytest.approx(image.height / 100 * 72, abs=0.5)
            assert len(page.images) == 1
    data = path.read_bytes()
    assert (b"/CCITTFaxDecode" in data) == (preset == "fax") and (b"/DCTDecode" in data) == (preset != "fax")
    again = scansim.write_image_pdf(pages, tmp_path / "again" / "scan.pdf", dpi=100, jpeg_quality=p.pdf_quality)
    assert again.read_bytes() == data  # fixed dates: same pages, same bytes


# --- the printed grids -----------------------------------------------------------------------------


def _with_printed_grids(doc: Document) -> Document:
    blocks = [b.model_copy(update={"table": scansim.printed_grid(b.table)}) if b.table is not None else b
              for b in doc.blocks]
    return doc.model_copy(update={"blocks": blocks})


@pytest.mark.parametrize("report_id", scansim.FIXTURE_IDS)
def test_printed_grids_are_rectangles_that_read_like_the_source(report_id: str) -> None:
    doc = load_document(scansim.source_for(report_id))
    printed = _with_printed_grids(doc)
    for block in printed.tables():
        assert block.table is not None
        assert all(slot is not None for row in block.table.expanded() for slot in row), "a hole in a printed table"
    truth = json.loads((DEV / report_id / "cells.json").read_text(encoding="utf-8"))
    as_read = score(extract_document(doc), truth, report_id, "source")
    as_printed = score(extract_document(printed), truth, report_id, "printed")
    assert as_printed.wrong == as_read.wrong


def test_short_rows_end_in_a_cell_spanning_to_the_edge() -> None:
    doc = load_document(DEV / "seed" / "source.txt")  # tab-separated: some rows lost their last cells
    source = doc.tables()[1].table
    assert source is not None and any(s is None for row in source.expanded() for s in row)
    printed = scansim.printed_grid(source)
    assert printed.n_cols < source.n_cols  # trailing columns blank throughout are not printed
    short = [row[-1] for row in printed.rows() if row[-1].col + row[-1].colspan == printed.n_cols
             and row[-1].colspan > 1 and row[-1].text]
    assert short, "no short row was extended to the right edge"


def test_html_has_every_table_of_r003_with_its_spans() -> None:
    doc = load_document(DEV / "r003" / "source.html")
    grids = [b.table for b in doc.tables() if b.table is not None]
    assert len(grids) == 3
    soup = BeautifulSoup(scansim.document_html(doc), "html.parser")
    tables = soup.find_all("table")
    assert len(tables) == 3
    assert not soup.find("thead") and not soup.find("th")  # nothing repeats on a new page
    for table, grid in zip(tables, grids):
        assert _html_cells(table) == _grid_cells(scansim.printed_grid(grid))
        assert _html_cells(table) == _grid_cells(grid)  # r003's grids are rectangles already
    headings = [h.get_text() for h in soup.find_all("h2")]
    assert headings[0] == "一、总体情况" and len(headings) == 6


def _html_cells(table) -> list[tuple[int, int, str]]:
    return [(int(td.get("rowspan", 1)), int(td.get("colspan", 1)), clean(td.get_text()).replace(" ", ""))
            for td in table.find_all("td")]


def _grid_cells(grid: TableGrid) -> list[tuple[int, int, str]]:
    return [(c.rowspan, c.colspan, c.text.replace(" ", "")) for row in grid.rows() for c in row]


def test_weasyprint_renders_r003() -> None:
    needs_renderer()
    rendered = scansim.render_source(DEV / "r003" / "source.html", dpi=100)  # about 2 s
    assert len(rendered.images) >= 4
    for image in rendered.images:  # A4 at 100 dpi
        assert image.mode == "L" and abs(image.width - 827) <= 1 and abs(image.height - 1169) <= 1
    assert [g.n_rows for g in rendered.grids] == [18, 26, 4]


# --- the committed fixtures ------------------------------------------------------------------------


@pytest.mark.parametrize("entry", MANIFEST["fixtures"], ids=lambda e: Path(e["file"]).name)
def test_fixture_matches_its_manifest(entry: dict) -> None:
    path = ROOT / entry["file"]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], "stale: rerun datasets/scansim.py --fixtures"
    assert len(data) <= 300_000 * entry["pages"] * (entry["dpi"] / 200) ** 2
    with pdfplumber.open(path) as pdf:
        assert len(pdf.pages) == entry["pages"]
        assert sum(len(p.chars) for p in pdf.pages) == 0
        assert pdf.pages[0].width == pytest.approx(595.3, abs=1.5)  # A4
    assert (ROOT / entry["truth"]).exists()
    doc = load_document(ROOT / entry["source"])
    grids = [b.table for b in doc.tables() if b.table is not None]
    if doc.kind != "pdf":
        grids = [scansim.printed_grid(g) for g in grids]
    assert entry["tables"] == [scansim.grid_lattice(g) for g in grids]


def test_every_dev_report_has_a_moderate_scan() -> None:
    moderate = {e["id"] for e in MANIFEST["fixtures"] if e["preset"] == "moderate"}
    assert moderate == {p.name for p in DEV.iterdir() if (p / "cells.json").exists()}


# --- a lost ruling ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def r001_pages_150() -> list[Image.Image]:
    return scansim.rasterise((DEV / "r001" / "source.pdf").read_bytes(), 150)


def _table_borders(images: list[Image.Image], table: int, boundary: int) -> list[int]:
    tables = join_pages({n: find_grids(np.asarray(im), 150) for n, im in enumerate(images, start=1)}, 150)
    return scansim._bordered_rows(tables[table], boundary)


def test_lost_ruling_spec_parses() -> None:
    spec = scansim.LostRuling.parse("table=1, boundary=6,rows=5,first=8,fade=200,keep=0.1")
    assert spec == scansim.LostRuling(table=1, boundary=6, rows=5, first=8, fade=200, keep=0.1)
    assert scansim.LostRuling.parse("") == scansim.LostRuling()
    with pytest.raises(ValueError, match="key=value"):
        scansim.LostRuling.parse("table=1,colour=red")


def test_a_lost_ruling_parts_no_cells_in_its_rows(r001_pages_150: list[Image.Image]) -> None:
    lost = [scansim.LostRuling(table=1, rows=4)]
    pages, (seg,) = scansim.lose_rulings(r001_pages_150, lost, seed=0, dpi=150)
    assert seg.table == 1 and len(seg.rows) == 4 and seg.rows == tuple(range(seg.rows[0], seg.rows[0] + 4))
    changed = [n for n, (a, b) in enumerate(zip(r001_pages_150, pages), start=1) if a.tobytes() != b.tobytes()]
    assert changed == list(seg.pages)
    before = _table_borders(r001_pages_150, 1, seg.boundary)
    after = _table_borders(pages, 1, seg.boundary)
    assert set(seg.rows) <= set(before)
    assert sorted(set(before) - set(after)) == list(seg.rows)  # lost there, nowhere else
    again, _ = scansim.lose_rulings(r001_pages_150, lost, seed=0, dpi=150)
    assert [p.tobytes() for p in again] == [p.tobytes() for p in pages]  # seeded
    assert r001_pages_150[0].tobytes() == pages[0].tobytes()  # the clean pages are not touched


def test_a_faded_ruling_is_paper_to_the_grid_finder(r001_pages_150: list[Image.Image]) -> None:
    spec = scansim.LostRuling(table=2, boundary=5, rows=1, first=3, fade=200)
    pages, (seg,) = scansim.lose_rulings(r001_pages_150, [spec], seed=0, dpi=150)
    assert (seg.table, seg.boundary, seg.rows) == (2, 5, (3,))
    page = np.asarray(pages[seg.pages[0] - 1]).astype(int)
    original = np.asarray(r001_pages_150[seg.pages[0] - 1]).astype(int)
    diff = page != original
    assert diff.any() and (page[diff] == 200).all()  # faded, not gone
    assert 3 not in _table_borders(pages, 2, 5)
    with pytest.raises(ValueError, match="no ruling to lose"):
        scansim.lose_rulings(r001_pages_150, [scansim.LostRuling(table=7)], seed=0, dpi=150)


def test_cli_loses_a_ruling_and_keeps_some_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scansim.main([str(DEV / "r001" / "source.pdf"), "--preset", "clean", "--dpi", "100", "--pages", "3-4",
                  "--lose-ruling", "table=1,rows=3", "--seed", "2", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    path = tmp_path / "r001-pdf-clean-100dpi.pdf"
    with pdfplumber.open(path) as pdf:
        assert len(pdf.pages) == 2
    assert "lost ruling: table 1, boundary" in out and "rows" in out
