"""Every backend fuzzed with mutants of a real report (hypothesis): bytes flipped, cut, repeated, spliced with
another report, zeroed. Whatever the mutant, reading it ends in a result or a clear IngestError (a limit
included) — never another exception, never a hang. ``XXGK_FUZZ_INPUTS`` mutants per backend (``make fuzz``: many;
the test suite: a short slice)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DEV, ROOT
from tests.fuzz.seeds import OPTIONS, read, scan_crop

INPUTS = int(os.environ.get("XXGK_FUZZ_INPUTS", "12"))
TALLY = os.environ.get("XXGK_FUZZ_TALLY")  # a file for what was run (tests.fuzz.campaign reads it)
CRASHES = os.environ.get("XXGK_FUZZ_CRASHES")  # a folder for the crashing inputs (else the test's own)
HANG = timedelta(seconds=OPTIONS.limits.job_seconds)  # an input read no faster than a job's time is a hang

SEEDS = {
    "pdf": (DEV / "r001" / "source.pdf").read_bytes(),
    "docx": (ROOT / "datasets" / "fixtures" / "r003.docx").read_bytes(),
    "html": (DEV / "r003" / "source.html").read_bytes(),
    "txt": (DEV / "seed" / "source.txt").read_bytes(),
    "md": (DEV / "r013" / "source.md").read_bytes(),
    "png": scan_crop(),
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
def test_a_mutant_of_a_report_is_read_or_refused_clearly(suffix: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp(f"fuzz-{suffix}")
    crashes = Path(CRASHES) if CRASHES else folder
    tally = {"inputs": 0, "read": 0, "refused": 0}

    @given(data=mutants(SEEDS[suffix]))
    @settings(max_examples=INPUTS, deadline=HANG, suppress_health_check=list(HealthCheck), database=None)
    def read_mutant(data: bytes) -> None:
        path = folder / f"mutant.{suffix}"
        path.write_bytes(data)
        tally["inputs"] += 1
        try:
            tally["read" if read(path) else "refused"] += 1
        except Exception as exc:  # a crash: the test fails with it; the input is kept (hypothesis' own repr is cut)
            crashes.mkdir(parents=True, exist_ok=True)
            saved = crashes / f"{suffix}-hypothesis-{hashlib.sha1(data).hexdigest()[:16]}.{suffix}"
            saved.write_bytes(data)
            exc.add_note(f"xxgk-fuzz: backend {suffix} crashed on the input saved in {saved} ({len(data)} bytes)")
            raise

    try:
        read_mutant()
    finally:
        if TALLY:
            with open(TALLY, "w") as out:
                json.dump(tally, out)
    assert tally["inputs"] >= INPUTS
