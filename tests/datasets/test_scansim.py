"""The scan simulator (datasets/scansim.py) and its committed fixtures (datasets/scans/).

No OCR here. Rendering non-PDF sources needs WeasyPrint and the Noto CJK fonts (the ``scan`` extra and
fonts-noto-cjk); those tests skip, saying so, where they are missing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import cv2
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
    blocks = [
        b.model_copy(update={"table": scansim.printed_grid(b.table)}) if b.table is not None else b for b in doc.blocks
    ]
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
    short = [
        row[-1]
        for row in printed.rows()
        if row[-1].col + row[-1].colspan == printed.n_cols and row[-1].colspan > 1 and row[-1].text
    ]
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
    return [
        (int(td.get("rowspan", 1)), int(td.get("colspan", 1)), clean(td.get_text()).replace(" ", ""))
        for td in table.find_all("td")
    ]


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
    scansim.main(
        [
            str(DEV / "r001" / "source.pdf"),
            "--preset",
            "clean",
            "--dpi",
            "100",
            "--pages",
            "3-4",
            "--lose-ruling",
            "table=1,rows=3",
            "--seed",
            "2",
            "-o",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    path = tmp_path / "r001-pdf-clean-100dpi.pdf"
    with pdfplumber.open(path) as pdf:
        assert len(pdf.pages) == 2
    assert "lost ruling: table 1, boundary" in out and "rows" in out


# --- the real-world families (issue 15) ------------------------------------------------------------


NEW_FAMILIES = [f for f in scansim.FAMILIES if f != "unruled"]  # unruled differs in printing, not in degrade


@pytest.fixture(scope="module")
def r001_pages_100() -> list[Image.Image]:
    return scansim.rasterise((DEV / "r001" / "source.pdf").read_bytes(), 100)


@pytest.mark.parametrize("preset", NEW_FAMILIES)
def test_a_family_is_seeded_per_seed_and_page(r001_page: Image.Image, preset: str) -> None:
    p = scansim.PRESETS[preset]
    first = scansim.degrade(r001_page, p, scansim.page_rng(0, 2)).tobytes()
    assert first == scansim.degrade(r001_page, p, scansim.page_rng(0, 2)).tobytes()
    assert first != scansim.degrade(r001_page, p, scansim.page_rng(1, 2)).tobytes()
    assert first != scansim.degrade(r001_page, p, scansim.page_rng(0, 3)).tobytes()


def test_moderate_is_still_the_sequence_it_always_was(r001_page: Image.Image) -> None:
    """The new steps draw nothing when off: the committed fixtures' presets give the bytes they gave before."""
    p = scansim.PRESETS["moderate"]
    rng = scansim.page_rng(0, 2)
    img = scansim.rotate(np.asarray(r001_page), float(rng.uniform(-p.skew, p.skew)))
    img = scansim.levels(scansim.gaussian_noise(scansim.gaussian_blur(img, p.blur), p.noise, rng), p.white)
    expected = scansim.jpeg(img, p.jpeg)
    assert scansim.degrade(r001_page, p, scansim.page_rng(0, 2)).tobytes() == expected.tobytes()


def test_phone_is_a_warm_colour_photo_with_moved_corners_and_falling_light(r001_page: Image.Image) -> None:
    p = scansim.PRESETS["phone"]
    record: dict[str, object] = {}
    photo = scansim.degrade(r001_page, p, scansim.page_rng(0, 2), record)
    w, h = r001_page.size
    assert photo.mode == "RGB"
    assert photo.size == (w + 2 * round(p.margin * w), h + 2 * round(p.margin * h))  # the desk around the page
    assert p.jpeg is not None and p.jpeg_max is not None and p.jpeg <= int(record["jpeg"]) <= p.jpeg_max  # type: ignore[call-overload]
    corners = np.array(record["corners"])
    unmoved = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]) + [round(p.margin * w), round(p.margin * h)]
    moved = np.abs(corners - unmoved) / [w, h]
    assert moved.max() <= p.perspective + 1e-6 and moved.max() > 0.01  # up to 4 % of the page size
    rgb = np.asarray(photo).astype(int)
    # the page is found where the pixels say it is: the bright quadrilateral on the dark desk
    mask = (rgb.mean(axis=2) > 110).astype(np.uint8)
    contour = max(cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0], key=cv2.contourArea)
    quad = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True).reshape(-1, 2)
    assert len(quad) == 4
    for corner in corners:
        assert np.hypot(*(quad - corner).T).min() < 0.02 * w
    inside = cv2.fillConvexPoly(np.zeros(mask.shape, np.uint8), corners.astype(np.int32), 1).astype(bool)
    inside = cv2.erode(inside.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    r, g, b = (rgb[..., k] for k in range(3))
    paper = inside & (rgb.min(axis=2) > 80)  # paper, not print
    assert np.median(r[paper] - b[paper]) > 10  # warm: the blue channel lost most
    tiles = [
        np.percentile(g[y : y + 60, x : x + 60][paper[y : y + 60, x : x + 60]], 90)
        for y in range(0, rgb.shape[0] - 60, 60)
        for x in range(0, rgb.shape[1] - 60, 60)
        if paper[y : y + 60, x : x + 60].mean() > 0.5
    ]
    assert 0.4 < min(tiles) / max(tiles) < 0.8  # light falls off (to 65 %) and a shadow band takes more


def test_photocopy_is_gray_turned_about_a_degree_on_gray_paper(r001_page: Image.Image) -> None:
    record: dict[str, object] = {}
    out = scansim.degrade(r001_page, scansim.PRESETS["photocopy"], scansim.page_rng(0, 2), record)
    assert out.mode == "L"
    assert 0.7 <= abs(float(record["angle"])) <= 1.2  # type: ignore[arg-type]
    gray = np.asarray(out).astype(int)
    paper = gray[np.asarray(r001_page) > 250]
    assert 200 < np.median(paper) < 235  # the copier's gray, not white
    assert paper.std() > 4  # mottled, grainy


def test_toner_streaks_are_long_thin_dark_lines() -> None:
    white = np.full((400, 300), 255, np.uint8)
    out = scansim.toner_streaks(white, 4, np.random.default_rng(3)).astype(int)
    dark = out < 215
    cols, rows = dark.sum(axis=0), dark.sum(axis=1)
    long_cols, long_rows = (cols >= 100).sum(), (rows >= 75).sum()  # at least a quarter of the page long
    assert 1 <= long_cols + long_rows <= 4 * 4  # 1-4 streaks, each 1-4 px wide
    assert dark.sum() == dark[:, cols >= 100].sum() + dark[rows >= 75, :][:, cols < 100].sum()  # nothing else


def test_seals_are_red_over_table_3_keep_the_black_print_and_say_what_they_cover(
    r001_pages_100: list[Image.Image],
) -> None:
    pages, seals = scansim.stamp_seals(r001_pages_100, 1, seed=0, dpi=100)
    again, _ = scansim.stamp_seals(r001_pages_100, 1, seed=0, dpi=100)
    assert [p.tobytes() for p in pages] == [p.tobytes() for p in again]
    assert len(seals) == 1 + len(pages) and all(p.mode == "RGB" for p in pages)
    assert {s.diameter_mm for s in seals} <= set(scansim.SEAL_MM) and len({s.diameter_mm for s in seals}) > 1
    on_t3 = [s for s in seals if s.over == "table3"]
    assert len(on_t3) == 1
    tables = [b.table for b in load_document(DEV / "r001" / "source.pdf").tables() if b.table is not None]
    t3 = max(range(len(tables)), key=lambda t: tables[t].n_rows * tables[t].n_cols)
    covered = {(r, c) for t, r, c in on_t3[0].cells if t == t3}
    numbers = {(c.row, c.col) for c in tables[t3].cells if scansim.NUMBER_TEXT.match(c.text.replace(" ", ""))}
    assert covered & numbers, "the table-3 seal covers no number cell"
    for seal in seals:
        rgb = np.asarray(pages[seal.page - 1]).astype(int)
        gray = np.asarray(r001_pages_100[seal.page - 1]).astype(int)
        yy, xx = np.mgrid[0 : rgb.shape[0], 0 : rgb.shape[1]]
        disc = (xx - seal.x) ** 2 + (yy - seal.y) ** 2 <= seal.radius**2
        red = (rgb[..., 0] - rgb[..., 1] > 60) & (rgb[..., 0] > 150)
        assert red[disc].mean() > 0.08  # ring, name, star: red ink
        black = disc & (gray < 60)
        assert np.percentile(rgb[black].max(axis=1), 90) < 110  # print under the seal stays dark
    rgb = np.asarray(pages[0]).astype(int)
    yy, xx = np.mgrid[0 : rgb.shape[0], 0 : rgb.shape[1]]
    outside = np.ones(yy.shape, bool)
    for seal in (s for s in seals if s.page == 1):
        outside &= (xx - seal.x) ** 2 + (yy - seal.y) ** 2 > (seal.radius + 2) ** 2
    assert (np.abs(rgb[..., 0] - rgb[..., 2])[outside] == 0).all()  # no colour away from the seals


def test_seal_pages_are_written_as_colour(tmp_path: Path, r001_pages_100: list[Image.Image]) -> None:
    stamped, _ = scansim.stamp_seals(r001_pages_100[:3], 1, seed=0, dpi=100)
    p = scansim.PRESETS["seal"]
    pages = [scansim.degrade(im, p, scansim.page_rng(0, n)) for n, im in enumerate(stamped, 1)]
    assert all(im.mode == "RGB" for im in pages)
    path = scansim.write_image_pdf(pages, tmp_path / "seal.pdf", dpi=100, jpeg_quality=p.pdf_quality)
    data = path.read_bytes()
    assert b"/DeviceRGB" in data and b"/DCTDecode" in data
    files = scansim.write_image_files(pages, tmp_path / "jpg", "seal", dpi=100)
    assert [f.name for f in files] == ["seal-p1.jpg", "seal-p2.jpg", "seal-p3.jpg"]
    with Image.open(files[0]) as im:
        assert im.mode == "RGB" and im.size == pages[0].size and round(im.info["dpi"][0]) == 100
    again = scansim.write_image_files(pages, tmp_path / "again", "seal", dpi=100)
    assert again[1].read_bytes() == files[1].read_bytes()


def _line_rows(img: np.ndarray) -> np.ndarray:
    """Per column, the row of the one line in the image (the darkness-weighted mean row)."""
    ink = 255.0 - img.astype(float)
    ys = np.arange(img.shape[0])[:, None]
    return (ink * ys).sum(axis=0) / np.maximum(ink.sum(axis=0), 1e-9)


def test_curl_bows_a_straight_line_by_up_to_one_percent_of_the_height() -> None:
    h, w = 1000, 700
    bows = []
    for seed in range(4):
        page = np.full((h, w), 255, np.uint8)
        page[150:153, :] = 0  # a horizontal ruling across the page, near its top
        out, peak = scansim.curl_page(page, 0.01, np.random.default_rng(seed))
        rows = _line_rows(out)[10:690]
        assert (out[:, 10:690] < 128).any(axis=0).all()  # the line stays unbroken
        assert np.abs(np.diff(rows)).max() < 1.0  # and smooth
        bows.append(rows.max() - rows.min())
        assert bows[-1] <= 0.01 * h * 1.05 and 0.007 * h <= peak <= 0.01 * h + 1e-6
    assert min(bows) > 0.005 * h  # a visible bow, every seed


def test_curl_preset_displaces_the_printed_lines(r001_page: Image.Image) -> None:
    p = scansim.PRESETS["curl"]
    flat = scansim.degrade(r001_page, replace(p, curl=0.0), scansim.page_rng(0, 2))
    record: dict[str, object] = {}
    curled = scansim.degrade(r001_page, p, scansim.page_rng(0, 2), record)
    assert curled.mode == "L" and 0 < float(record["curl_px"]) <= 0.01 * r001_page.height  # type: ignore[arg-type]
    diff = np.abs(np.asarray(curled).astype(int) - np.asarray(flat).astype(int))
    assert (diff > 100).mean() > 0.005  # print moved, not just noise


def _vertical_rules(img: np.ndarray, dpi: int) -> int:
    """Pixels on dark vertical runs at least 0.3 inch long."""
    dark = (img < 128).astype(np.uint8)
    return int(cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((int(0.3 * dpi), 1), np.uint8)).sum())


def _horizontal_rules(img: np.ndarray, dpi: int) -> int:
    """Rows holding a dark horizontal run at least 2 inches long."""
    dark = (img < 128).astype(np.uint8)
    runs = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((1, 2 * dpi), np.uint8))
    rows = np.flatnonzero(runs.any(axis=1))
    return int((np.diff(rows) > 2).sum() + 1) if rows.size else 0


def test_unruled_tables_have_three_rules_and_no_inner_rulings_and_the_same_grids() -> None:
    needs_renderer()
    doc = load_document(DEV / "r003" / "source.html")
    tables_only = doc.model_copy(update={"blocks": [b for b in doc.blocks if b.kind == "table"]})  # fewer pages
    grids = [scansim.printed_grid(b.table) for b in doc.tables() if b.table is not None]
    full = scansim.rasterise(scansim.html_to_pdf(scansim.document_html(tables_only, grids)), 100)
    markup = scansim.document_html(tables_only, grids, ruling="three-line")
    bare = scansim.rasterise(scansim.html_to_pdf(markup), 100)
    assert sum(_vertical_rules(np.asarray(im), 100) for im in full) > 5000
    assert sum(_vertical_rules(np.asarray(im), 100) for im in bare) == 0
    assert sum(_horizontal_rules(np.asarray(im), 100) for im in bare) >= 3 * len(grids)
    assert all(find_grids(np.asarray(im), 100) == [] for im in bare)  # nothing for the ruling finder
    soup = BeautifulSoup(markup, "html.parser")
    assert len(soup.find_all("table")) == len(grids) == 3
    for table, grid in zip(soup.find_all("table"), grids):
        assert "three-line" in table["class"]
        assert _html_cells(table) == _grid_cells(grid)  # every cell printed, at its place: the oracle holds
        head = scansim.header_rows(grid)
        assert 1 <= head < grid.n_rows
        ruled = [td for td in table.find_all("td") if "rule-below" in (td.get("class") or [])]
        assert ruled and len(ruled) <= grid.n_cols


def test_a_pdf_is_reprinted_for_unruled_tables_with_the_grids_of_its_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    printed: list[str] = []

    def keep(markup: str) -> bytes:  # the markup it prints; WeasyPrint itself is tested above
        printed.append(markup)
        return b"%PDF"

    monkeypatch.setattr(scansim, "html_to_pdf", keep)
    _, grids = scansim.print_source(DEV / "r001" / "source.pdf", ruling="three-line")
    tables = [b.table for b in load_document(DEV / "r001" / "source.pdf").tables() if b.table is not None]
    assert len(printed) == 1 and printed[0].count('<table class="three-line">') == len(tables)
    assert [scansim.grid_lattice(g) for g in grids] == [scansim.grid_lattice(scansim.printed_grid(t)) for t in tables]
    pdf, _ = scansim.print_source(DEV / "r001" / "source.pdf")
    assert pdf == (DEV / "r001" / "source.pdf").read_bytes()  # fully ruled: the PDF as it is


def test_header_rows_end_where_the_numbers_begin() -> None:
    doc = load_document(DEV / "r003" / "source.html")
    grids = [scansim.printed_grid(b.table) for b in doc.tables() if b.table is not None]
    for grid in grids:
        head = scansim.header_rows(grid)
        above = [c for c in grid.cells if c.row < head and c.col > 0]
        assert not any(scansim.NUMBER_TEXT.match(c.text.replace(" ", "")) for c in above)
        assert any(scansim.NUMBER_TEXT.match(c.text.replace(" ", "")) for c in grid.rows()[head] if c.col > 0)


def test_lowres_pages_are_120_dpi(tmp_path: Path) -> None:
    made = scansim.scan(DEV / "r001" / "source.pdf", tmp_path / "low.pdf", scansim.PRESETS["lowres"], pages=[2])
    with pdfplumber.open(made.path) as pdf:
        page = pdf.pages[0]
        assert page.width == pytest.approx(595.3, abs=1.5)  # still A4
        image = page.images[0]
        assert image["srcsize"][0] == pytest.approx(8.27 * 120, abs=2)  # 120 pixels an inch
    assert made.geometry[0]["page"] == 2 and made.seconds > 0


def test_presets_compose() -> None:
    both = scansim.preset_named("photocopy+seal")
    assert both.name == "photocopy+seal" and both.copier == scansim.PRESETS["photocopy"].copier
    assert both.seals == 1 and both.colour and both.streaks == scansim.PRESETS["photocopy"].streaks
    assert scansim.preset_named("phone+unruled").ruling == "three-line"
    assert scansim.preset_named("phone+lowres").dpi == 120 and scansim.preset_named("lowres+phone").dpi == 120
    with pytest.raises(ValueError, match="unknown preset"):
        scansim.preset_named("phone+sepia")


def test_a_faded_cell_turns_to_paper_inside_its_rulings(r001_pages_150: list[Image.Image]) -> None:
    """``--fade-cell``: the print inside one grid cell gone (only there), the rulings around it kept."""
    assert scansim.FadedCell.parse("table=1, row=6,col=4") == scansim.FadedCell(table=1, row=6, col=4)
    with pytest.raises(ValueError, match="required"):
        scansim.FadedCell.parse("table=1,row=6")
    with pytest.raises(ValueError, match="key=value"):
        scansim.FadedCell.parse("table=1,row=6,col=4,colour=red")
    pages = scansim.fade_cells(r001_pages_150, [scansim.FadedCell(table=1, row=6, col=4)], 150)
    changed = [n for n, (a, b) in enumerate(zip(r001_pages_150, pages), start=1) if a.tobytes() != b.tobytes()]
    assert len(changed) == 1
    before = np.asarray(r001_pages_150[changed[0] - 1]).astype(int)
    after = np.asarray(pages[changed[0] - 1]).astype(int)
    diff = before != after
    assert diff.any() and (after[diff] == 255).all()  # print turned to paper
    ys, xs = np.nonzero(diff)
    assert ys.max() - ys.min() < 60 and xs.max() - xs.min() < 150  # one cell, not a row
    tables = join_pages({n: find_grids(np.asarray(im), 150) for n, im in enumerate(pages, start=1)}, 150)
    old = join_pages({n: find_grids(np.asarray(im), 150) for n, im in enumerate(r001_pages_150, start=1)}, 150)
    assert [(t.n_rows, t.n_cols) for t in tables] == [(t.n_rows, t.n_cols) for t in old]  # rulings kept
    with pytest.raises(ValueError, match="no such table"):
        scansim.fade_cells(r001_pages_150, [scansim.FadedCell(table=9, row=0, col=0)], 150)
