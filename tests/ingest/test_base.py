"""Pages of a long scan read one at a time elsewhere (a cluster's actors, each page on its own) and joined: the same
document as the pages read one after another — a page that followed a page leaving a table printed without rulings
open is read again at the join, with the columns carried in."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from service.ingest import IngestError, load_document, read_one_page
from service.ingest.base import backend_for
from service.options import load_options
from service.pages.recognize import recognize_pages
from tests.conftest import DEV, ROOT

OPTIONS = load_options(environ={})


def _without_timings(doc) -> dict:
    data = doc.model_dump(mode="json")
    for page in data["pages"]:
        page.pop("timings", None)
    return data


@pytest.fixture(scope="module")
def unruled_scan(tmp_path_factory) -> Path:
    """r001 scanned with its tables printed without inner rulings: table 3 goes on from page 2 to page 3."""
    out = tmp_path_factory.mktemp("unruled")
    subprocess.run(
        [sys.executable, "-m", "datasets.scansim", "--preset", "unruled", "-o", str(out), str(DEV / "r001/source.pdf")],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (pdf,) = out.glob("*.pdf")
    return pdf


def test_pages_read_on_their_own_and_joined_make_the_document_read_page_after_page(unruled_scan: Path):
    data = unruled_scan.read_bytes()
    pages, _ = backend_for(unruled_scan, data).read_pages(unruled_scan, data, OPTIONS)
    in_order = recognize_pages(pages, OPTIONS)
    assert [p.columns_in is not None for p in in_order] == [False, False, True]  # page 2 leaves table 3 open

    alone = {n: read_one_page(unruled_scan, n, OPTIONS) for n in (1, 2, 3)}
    known = {n: pickle.loads(pickle.dumps(p)) for n, p in alone.items() if p is not None}  # as an actor stores it
    assert sorted(known) == [1, 2, 3] and known[3].columns_in is None
    sequential = _without_timings(load_document(unruled_scan, OPTIONS))
    assert _without_timings(load_document(unruled_scan, OPTIONS, known=known)) == sequential

    # page 3, read alone, had no columns carried in: the join reads it again (whatever it holds is not used) ...
    blank3 = {**known, 3: pickle.loads(pickle.dumps(known[3]))}
    blank3[3].words, blank3[3].tables = [], []
    assert _without_timings(load_document(unruled_scan, OPTIONS, known=blank3)) == sequential
    # ... while pages 1 and 2 are taken as they were read elsewhere, not read again
    blank1 = {**known, 1: pickle.loads(pickle.dumps(known[1]))}
    blank1[1].words, blank1[1].tables = [], []
    assert _without_timings(load_document(unruled_scan, OPTIONS, known=blank1)) != sequential


def test_a_page_with_a_text_layer_has_nothing_to_read_and_a_text_file_no_pages(tmp_path: Path):
    assert read_one_page(DEV / "r001" / "source.pdf", 1, OPTIONS) is None
    with pytest.raises(IngestError, match="not a file of pages"):
        read_one_page(DEV / "seed" / "source.txt", 1, OPTIONS)
    with pytest.raises(IngestError, match="no page 9"):
        read_one_page(ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf", 9, OPTIONS)
