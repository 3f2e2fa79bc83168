"""The fuzzing campaign of ``make fuzz``: every backend fuzzed coverage-guided (atheris, ``tests.fuzz.atheris_target``)
and with hypothesis mutants (``tests/fuzz/test_inputs.py``), then the API from its OpenAPI schema
(``tests/fuzz/test_api_schema.py``). Each backend's fuzzer runs in a process of its own, started by a small
interpreter that measures its peak resident memory (``wait4``), so the figure is that backend's and a crash of one
backend does not stop the others. Printed per backend and fuzzer: inputs run, crashes, peak RSS; the run fails on
any crash, hang (an input past ``limits.job_seconds``), out-of-memory, a process whose peak passes
``limits.max_job_memory_mb``, or fewer inputs than asked for.

``python -m tests.fuzz.campaign [--atheris-runs N] [--hypothesis-inputs N] [--api-examples N] [--jobs J]
[--instrument MODE] [--out DIR] [--min-inputs N]``. ``make fuzz``: ``--atheris-runs 600 --hypothesis-inputs 1150
--api-examples 200 --min-inputs 10000``."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from service.options import load_options

ROOT = Path(__file__).resolve().parents[2]
# backend -> its share of the atheris runs asked for: an input of an image or a PDF costs 5-20 times a text's
# (OCR of a scan crop ~1.5 s, the 5-page digital PDF ~0.4 s, a text ~0.1 s, all before instrumentation)
ATHERIS_SHARE = {"pdf": 0.4, "docx": 1.5, "html": 1.0, "txt": 1.0, "md": 1.0, "png": 0.2, "tiff": 0.1}
CHUNK = 100  # atheris runs a process
# seconds an input, about (instrumented atheris; hypothesis' mutants are cheaper, most refused early): the order
SECONDS = {"pdf": 2.0, "docx": 0.1, "html": 0.5, "txt": 0.5, "md": 0.6, "png": 2.5, "tiff": 5.0}
HYPOTHESIS_BACKENDS = ("pdf", "docx", "html", "txt", "md", "png")  # the parameters of test_inputs.py
TEST_INPUTS = "tests/fuzz/test_inputs.py::test_a_mutant_of_a_report_is_read_or_refused_clearly"
TEST_API = "tests/fuzz/test_api_schema.py"
MEASURE = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[2:]); _, st, ru = os.wait4(p.pid, 0); "
    "open(sys.argv[1], 'w').write(f'{os.waitstatus_to_exitcode(st)} {ru.ru_maxrss}')"
)


def atheris_runs(backend: str, runs: int) -> int:
    """The runs of one backend when ``runs`` are asked for a text backend (at least 8: the seeds and a few)."""
    return max(8, round(runs * ATHERIS_SHARE[backend]))


@dataclass
class Outcome:
    """One fuzzing process: what it ran and how it ended."""

    fuzzer: str  # atheris, hypothesis, schemathesis
    backend: str  # "api" for schemathesis
    asked: int  # inputs asked for
    inputs: int = 0  # inputs run
    read: int | None = None  # of them read to a result (the others refused with an IngestError); atheris: about
    crashes: list[Path] = field(default_factory=list)  # the crashing inputs (crash, timeout, oom), saved
    slow: list[Path] = field(default_factory=list)  # inputs past libFuzzer's -report_slow_units (10 s), saved
    problems: list[str] = field(default_factory=list)  # crash / timeout / out-of-memory / memory over the limit …
    peak_rss_mb: int = 0
    replay_rss_mb: int | None = None  # atheris: its corpus read again in one plain process (tests.fuzz.replay)
    seconds: float = 0.0
    log: Path | None = None
    detail: str = ""  # the crash's message and traceback, short

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        what = f"{self.fuzzer} {self.backend}: {self.inputs}/{self.asked} inputs, peak {self.peak_rss_mb} MB"
        if self.ok:
            return what
        saved = ", ".join(str(p) for p in self.crashes) or "none saved"
        return f"{what}: {'; '.join(self.problems)} (input: {saved}; log: {self.log})\n{self.detail}"


def measured(
    cmd: list[str], log: Path, env: dict[str, str] | None = None, timeout: float | None = None
) -> tuple[int | None, int, float]:
    """Run ``cmd`` (stdout and stderr to ``log``) under a small measuring interpreter: (exit code, peak MB, s);
    the exit code None when it ran past ``timeout`` (then killed)."""
    box = log.with_suffix(".rss")
    start = time.monotonic()
    with log.open("w") as out:
        try:
            subprocess.run(
                [sys.executable, "-c", MEASURE, str(box), *cmd],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return None, 0, time.monotonic() - start
    code, rss_kb = box.read_text().split()
    return int(code), int(rss_kb) // 1024, time.monotonic() - start


def _tail_from(text: str, mark: str, lines: int = 30) -> str:
    at = text.find(mark)
    return "" if at < 0 else "\n".join(text[at:].splitlines()[:lines])


def run_atheris(
    backend: str,
    runs: int,
    out: Path,
    instrument: str = "deps",
    timeout: float | None = None,
    flags: tuple[str, ...] = (),
    chunk: int = CHUNK,
    replay: bool = True,
) -> Outcome:
    """``runs`` inputs of ``backend`` coverage-guided, in processes of their own of ``chunk`` runs each (the corpus
    found so far carried from one to the next; the instrumented process grows a few MB an input on its own, so a
    process's peak stays the figure of the inputs, not of the run's length); crashing inputs copied to
    ``out/crashes``. The per-input limits are the target's defaults (``limits.job_seconds``, ``max_job_memory_mb``)
    unless ``flags`` (libFuzzer's) say otherwise. ``timeout``: for each process. ``replay``: then the corpus found
    read again in one plain process, its peak the inputs' own (``replay_rss_mb``)."""
    work = out / f"atheris-{backend}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = out / f"atheris-{backend}.log"
    result = Outcome("atheris", backend, runs, log=log)
    cmd = [sys.executable, "-m", "tests.fuzz.atheris_target", backend, f"--instrument={instrument}", f"--work={work}"]
    texts: list[str] = []
    part = log.with_suffix(".part.log")
    while result.ok and result.inputs < runs:
        n = min(chunk, runs - result.inputs)
        code, peak, seconds = measured([*cmd, f"-runs={n}", *flags], part, timeout=timeout)
        text = part.read_text(errors="replace")
        part.unlink()
        texts.append(text)
        result.peak_rss_mb = max(result.peak_rss_mb, peak)
        result.seconds += seconds
        executed = re.findall(r"stat::number_of_executed_units: (\d+)", text) or re.findall(r"^#(\d+)\s", text, re.M)
        result.inputs += int(executed[-1]) if executed else 0
        tallies = re.findall(r"inputs so far: (\d+) read", text)
        result.read = (result.read or 0) + (int(tallies[-1]) if tallies else 0)
        _problems(result, code, text, timeout)
        if not executed:
            break
    corpus = work / "corpus"
    if replay and corpus.is_dir():  # the inputs' own memory, without the instrumented process's growth
        code, peak, seconds = measured([sys.executable, "-m", "tests.fuzz.replay", backend, str(corpus)], part)
        texts.append(part.read_text(errors="replace"))
        part.unlink()
        result.replay_rss_mb, result.seconds = peak, result.seconds + seconds
        if code != 0 and result.ok:
            result.problems.append("crash (replay)")
            result.detail = "\n".join(texts[-1].splitlines()[-30:])
    log.write_text("".join(texts))
    saved = out / "crashes"
    for written in re.findall(r"Test unit written to (\S+)", "".join(texts)):
        saved.mkdir(exist_ok=True)
        target = saved / f"{backend}-{Path(written).name}"
        shutil.copyfile(written, target)
        (result.slow if target.name.startswith(f"{backend}-slow-unit-") else result.crashes).append(target)
    shutil.rmtree(work, ignore_errors=True)
    return result


def _problems(result: Outcome, code: int | None, text: str, timeout: float | None) -> None:
    if code is None:
        result.problems.append(f"no end after {timeout or 0:.0f} s")
    for mark, problem in (
        ("ERROR: libFuzzer: timeout", "timeout"),
        ("ERROR: libFuzzer: out-of-memory", "out-of-memory"),
        ("ERROR: libFuzzer: deadly signal", "crash (signal)"),
        ("=== Uncaught Python exception", "crash"),
    ):
        if mark in text:
            result.problems.append(problem)
            crash = _tail_from(text, f"xxgk-fuzz: backend {result.backend} crashed")
            result.detail = crash or _tail_from(text, mark)
    if code not in (0, None) and not result.problems:
        result.problems.append(f"exit code {code}")
        result.detail = "\n".join(text.splitlines()[-30:])


def run_pytest(fuzzer: str, backend: str, node: str, asked: int, env: dict[str, str], out: Path) -> Outcome:
    """One pytest node in a measured process; the test writes what it ran to ``XXGK_FUZZ_TALLY``."""
    log = out / f"{fuzzer}-{backend}.log"
    tally = out / f"{fuzzer}-{backend}.json"
    tally.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-q", "-x", node]
    crashes = out / "crashes"
    code, peak, seconds = measured(
        cmd, log, env={**env, "XXGK_FUZZ_TALLY": str(tally), "XXGK_FUZZ_CRASHES": str(crashes)}
    )
    result = Outcome(fuzzer, backend, asked, peak_rss_mb=peak, seconds=seconds, log=log)
    result.crashes = sorted(crashes.glob(f"{backend}-{fuzzer}-*"), key=lambda p: p.stat().st_size)  # smallest first
    if tally.exists():
        counts = json.loads(tally.read_text())
        result.inputs, result.read = counts["inputs"], counts.get("read")
    if code != 0:
        text = log.read_text(errors="replace")
        result.problems.append("failed" if code == 1 else f"exit code {code}")
        result.detail = "\n".join(text.splitlines()[-40:])
    return result


def check_memory(outcomes: list[Outcome], limit_mb: int) -> None:
    for o in outcomes:
        peak = max(o.peak_rss_mb, o.replay_rss_mb or 0)
        if peak > limit_mb:
            o.problems.append(f"peak memory {peak} MB over limits.max_job_memory_mb = {limit_mb}")


def table(outcomes: list[Outcome]) -> str:
    head = ("fuzzer", "backend", "inputs", "read", "crashes", "slow", "peak RSS", "replayed", "time")
    rows = ["{:<13}{:<9}{:>8}{:>7}{:>9}{:>6}{:>10}{:>10}{:>8}  result".format(*head)]
    for o in outcomes:
        crashes = len(o.crashes) or len([p for p in o.problems if p.startswith(("crash", "timeout", "out-of"))])
        rows.append(
            f"{o.fuzzer:<13}{o.backend:<9}{o.inputs:>8}{'-' if o.read is None else o.read:>7}"
            f"{crashes:>9}{len(o.slow):>6}"
            f"{o.peak_rss_mb:>7} MB{'-' if o.replay_rss_mb is None else f'{o.replay_rss_mb} MB':>10}"
            f"{o.seconds:>7.0f}s  {'ok' if o.ok else '; '.join(o.problems)}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.campaign", description=__doc__.split("\n\n")[0])
    parser.add_argument("--atheris-runs", type=int, default=1500, help="a text backend's runs (others: a share)")
    parser.add_argument("--hypothesis-inputs", type=int, default=500, help="mutants per backend (test_inputs.py)")
    parser.add_argument("--api-examples", type=int, default=200, help="schemathesis cases per operation; 0: none")
    parser.add_argument("--jobs", type=int, default=2, help="fuzzing processes at once")
    parser.add_argument("--instrument", default="deps", help="atheris instrumentation (atheris_target.py)")
    parser.add_argument("--min-inputs", type=int, default=0, help="fail with fewer document inputs than this")
    parser.add_argument("--out", type=Path, help="logs and crashing inputs (default: a new temporary folder)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="xxgk-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    limit = load_options().limits.max_job_memory_mb
    start = time.monotonic()

    jobs: list[tuple[str, str, int]] = []
    if args.atheris_runs > 0:
        jobs += [("atheris", b, atheris_runs(b, args.atheris_runs)) for b in ATHERIS_SHARE]
    if args.hypothesis_inputs > 0:
        jobs += [("hypothesis", b, args.hypothesis_inputs) for b in HYPOTHESIS_BACKENDS]

    def one(job: tuple[str, str, int]) -> Outcome:
        fuzzer, backend, n = job
        if fuzzer == "atheris":
            o = run_atheris(backend, n, out, args.instrument)
        else:
            env = {"XXGK_FUZZ_INPUTS": str(n)}
            o = run_pytest("hypothesis", backend, f"{TEST_INPUTS}[{backend}]", n, env, out)
        print(("ok     " if o.ok else "FAILED ") + o.describe().splitlines()[0], flush=True)
        return o

    # the costliest first, so that the processes end at about the same time
    order = sorted(jobs, key=lambda j: -j[2] * SECONDS[j[1]] * (1.0 if j[0] == "atheris" else 0.4))
    print(f"xxgk fuzz: {len(order)} processes, {args.jobs} at once; logs and crashing inputs in {out}", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(one, order))
    if args.api_examples > 0:
        env = {"XXGK_FUZZ_API_EXAMPLES": str(args.api_examples)}
        outcomes.append(one_api := run_pytest("schemathesis", "api", TEST_API, args.api_examples, env, out))
        print(("ok     " if one_api.ok else "FAILED ") + one_api.describe().splitlines()[0], flush=True)
    check_memory(outcomes, limit)
    for o in outcomes:
        if o.ok and o.inputs < o.asked and o.fuzzer != "schemathesis":
            o.problems.append(f"ran {o.inputs} of {o.asked} inputs")

    documents = sum(o.inputs for o in outcomes if o.fuzzer != "schemathesis")
    by_fuzzer = {f: sum(o.inputs for o in outcomes if o.fuzzer == f) for f in ("atheris", "hypothesis")}
    print("\n" + table(outcomes))
    print(
        f"\ndocument inputs: {documents} (atheris {by_fuzzer['atheris']}, hypothesis {by_fuzzer['hypothesis']}); "
        f"peak RSS of a fuzzing process: {max((o.peak_rss_mb for o in outcomes), default=0)} MB "
        f"(limit {limit} MB); {time.monotonic() - start:.0f} s; logs in {out}"
    )
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print("\nFAILED " + o.describe())
    if documents < args.min_inputs:
        print(f"\nFAILED: {documents} document inputs, fewer than {args.min_inputs}")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
