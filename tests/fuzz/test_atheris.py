"""A short slice of the coverage-guided fuzzing (atheris) of every backend, as ``make fuzz`` runs it at length: each
backend in a process of its own, seeded with real reports, under the limits (``limits.max_job_memory_mb`` for the
process, ``limits.job_seconds`` an input). No input may crash (an exception other than an ``IngestError``, a
signal), hang or pass the memory limit; a failure names the backend and the file that holds the crashing input.
``XXGK_FUZZ_ATHERIS_RUNS``: a text backend's runs (a PDF's and an image's fewer: ``campaign.ATHERIS_SHARE``)."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from service.options import load_options
from tests.fuzz.campaign import ATHERIS_SHARE, Outcome, atheris_runs, check_memory, run_atheris

RUNS = int(os.environ.get("XXGK_FUZZ_ATHERIS_RUNS", "16"))
# the same mutations each time in the suite (make fuzz: a new seed each run); no replay of the corpus (make fuzz's)
SLICE: dict[str, Any] = {"timeout": 600, "flags": ("-seed=1",), "replay": False}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    out = tmp_path_factory.mktemp("atheris")
    order = sorted(ATHERIS_SHARE, key=lambda b: ATHERIS_SHARE[b])  # the costliest first
    with ThreadPoolExecutor(2) as pool:  # two processes at once: this machine's cores
        done = list(pool.map(lambda b: run_atheris(b, atheris_runs(b, RUNS), out, **SLICE), order))
    check_memory(done, load_options().limits.max_job_memory_mb)
    return {o.backend: o for o in done}


@pytest.mark.parametrize("backend", list(ATHERIS_SHARE))
def test_no_input_crashes_hangs_or_passes_the_memory_limit(backend: str, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[backend]
    assert outcome.ok, outcome.describe()
    assert outcome.inputs >= atheris_runs(backend, RUNS)  # it ran what was asked
    assert outcome.log is not None
    log = outcome.log.read_text(errors="replace")
    assert re.search(r"INITED cov: \d+", log)  # instrumented: libFuzzer sees the coverage of the project's code
    assert outcome.peak_rss_mb > 100  # measured (the interpreter and the pipeline alone take more)


def test_an_input_past_the_memory_limit_is_reported_with_the_backend_and_the_input(tmp_path: Path) -> None:
    """The same harness under a memory limit no reading fits in (150 MB): libFuzzer stops on the first input, the
    outcome says out-of-memory, names the backend and the saved input (a crash or a hang is reported alike)."""
    outcome = run_atheris("txt", 8, tmp_path, timeout=300, flags=("-rss_limit_mb=150",))
    assert outcome.problems == ["out-of-memory"]
    assert len(outcome.crashes) == 1 and outcome.crashes[0].name.startswith("txt-oom-")
    assert outcome.crashes[0].exists()
    message = outcome.describe()
    assert message.startswith("atheris txt:") and str(outcome.crashes[0]) in message


def test_a_long_run_goes_on_in_fresh_processes_from_the_corpus_found(tmp_path: Path) -> None:
    """Runs past ``chunk`` go on in a fresh process that starts from the corpus the first one found (so that the
    instrumented process's own growth does not count as the inputs' memory, and no coverage is lost); the corpus is
    then read again in a plain process, measured."""
    outcome = run_atheris("txt", 16, tmp_path, timeout=300, chunk=8)
    assert outcome.ok, outcome.describe()
    assert outcome.inputs >= 16
    assert outcome.log is not None
    inited = [int(n) for n in re.findall(r"INITED cov: \d+ ft: \d+ corp: (\d+)/", outcome.log.read_text())]
    assert len(inited) == 2 and inited[1] > inited[0]  # the second process read more than the seeds
    assert outcome.replay_rss_mb is not None and 100 < outcome.replay_rss_mb
    replayed = re.search(r"xxgk-fuzz replay: (\d+) inputs, (\d+) read", outcome.log.read_text())
    assert replayed and int(replayed.group(1)) >= 3  # the seeds (three dev reports' texts) and what was found
