"""Every backend fuzzed with mutants of a real report (hypothesis): bytes flipped, cut, repeated, spliced with
another report, zeroed. Whatever the mutant, reading it ends in a result or a clear IngestError (a limit
included) — never another exception, never a hang. ``XXGK_FUZZ_INPUTS`` mutants per backend (``make fuzz``: many;
the test suite: a short slice)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from service.ingest import IngestError, load_document
from service.ocr.render import render_pages
from service.options import load_options
from service.pipeline import extract_document
from tests.conftest import DEV, ROOT

INPUTS = int(os.environ.get("XXGK_FUZZ_INPUTS", "12"))
OPTIONS = load_options().with_changes(classifier={"facts": False})


def _scan_crop() -> bytes:
    """A crop of the seed's scan (table 3's first rows, at 100 dpi) as PNG: an image cheap to read by OCR."""
    page = render_pages(ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf", [2], dpi=100)[2]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(page[100:400, 50:780])).save(buf, format="PNG")
    return buf.getvalue()


SEEDS = {
    "pdf": (DEV / "r001" / "source.pdf").read_bytes(),
    "docx": (ROOT / "datasets" / "fixtures" / "r003.docx").read_bytes(),
    "html": (DEV / "r003" / "source.html").read_bytes(),
    "txt": (DEV / "seed" / "source.txt").read_bytes(),
    "md": (DEV / "r013" / "source.md").read_bytes(),
    "png": _scan_crop(),
}
OTHER = (DEV / "r005" / "source.txt").read_bytes()


@st.composite
def mutants(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "repeat", "splice", "zero", "insert"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            for k in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=32)):
                data[k] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:]
        elif op == "repeat":
            span = draw(st.integers(1, min(4096, len(data) - at)))
            data[at:at] = data[at : at + span] * draw(st.integers(2, 50))
        elif op == "splice":
            start = draw(st.integers(0, len(OTHER) - 1))
            data[at:at] = OTHER[start : start + draw(st.integers(1, 20000))]
        elif op == "zero":
            data[at : at + draw(st.integers(1, 4096))] = bytes(min(4096, len(data) - at))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
    return bytes(data)


@pytest.mark.parametrize("suffix", list(SEEDS))
def test_a_mutant_of_a_report_is_read_or_refused_clearly(suffix: str, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp(f"fuzz-{suffix}")

    @given(data=mutants(SEEDS[suffix]))
    @settings(max_examples=INPUTS, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def read(data: bytes) -> None:
        path = folder / f"mutant.{suffix}"
        path.write_bytes(data)
        try:
            doc = load_document(path, OPTIONS)
        except IngestError:
            return
        extract_document(doc, OPTIONS)  # anything it raises is a crash: the test fails with the input

    read()
