"""Inputs the fuzzers found that crashed a backend (tests/fuzz/found/): each now reads or ends in a clear IngestError,
never another exception. The PDF's metadata string is not valid UTF-16 (an unpaired surrogate): the document reads,
without that metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.ingest import IngestError, load_document
from tests.fuzz.seeds import OPTIONS, read

FOUND = Path(__file__).parent / "found"


@pytest.mark.parametrize("name", ["rels-of-the-wrong-kind.docx", "no-dimensions-1.tiff", "no-dimensions-2.tiff"])
def test_a_crashing_input_found_by_fuzzing_is_refused_clearly(name: str):
    with pytest.raises(IngestError, match="corrupt"):
        load_document(FOUND / name, OPTIONS)


def test_a_pdf_with_metadata_that_is_not_utf16_reads_without_it():
    doc = load_document(FOUND / "metadata-unpaired-surrogate.pdf", OPTIONS)
    assert "pdf_creator" not in doc.metadata
    read(FOUND / "metadata-unpaired-surrogate.pdf")  # the whole pipeline: a result or an IngestError, nothing else
