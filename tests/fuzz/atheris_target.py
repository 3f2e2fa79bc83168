"""Coverage-guided fuzzing (atheris, libFuzzer) of one backend: ``python -m tests.fuzz.atheris_target BACKEND
[--instrument=deps|service|all|none] [--work=DIR] [--known=REGEX] [libFuzzer flags] [CORPUS_DIR ...]``.

Each input is written to a file with the backend's suffix and read as the service reads a document:
``load_document`` then ``extract_document`` (the configured options, facts off). An ``IngestError`` (a limit
included) is a clean end; any other exception is a crash: the harness prints ``xxgk-fuzz: backend B crashed``
with the exception, libFuzzer writes the input (``crash-…`` under ``-artifact_prefix``) and the process exits
non-zero. The seed corpus comes from the real reports (``tests.fuzz.seeds``); corpus folders given on the
command line are copied into the work folder first (``--work``, else a new temporary folder), so libFuzzer never
writes into the repository. ``--known``: exceptions whose repr matches the pattern are counted and passed over — for
looking past a crash already reported until it is fixed; ``make fuzz`` never uses it.

Defaults added unless given: ``-rss_limit_mb`` = ``limits.max_job_memory_mb`` (libFuzzer stops with
``out-of-memory`` past it: one backend, one process, so the figure is the reading's own), ``-timeout`` =
``limits.job_seconds`` (a job's time before its pages; past it: ``timeout``), ``-max_len`` = twice the largest seed,
``-artifact_prefix`` = the work folder's ``artifacts/``, ``-print_final_stats=1``.

Instrumentation (``--instrument``): ``deps`` (default) instruments the project's package and the pure-Python
library a backend parses with (pdfplumber/pdfminer, python-docx, Pillow: ``PARSERS``) as they are imported, through an
import hook kept for the whole run (the pipeline imports some stages when it first needs them); ``service`` the
project's package only; ``all`` also every Python function already loaded (numpy's, …: ~25,000 functions, 2.5 min to
start on this machine for the same inputs a second: measured, not affordable per backend); ``none`` runs
uninstrumented (libFuzzer sees no coverage and shrinks the corpus to nothing useful). The project's modules are
imported inside ``main`` on purpose: they must be imported after the hook is in place."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

CRASH_MARK = "xxgk-fuzz: backend"
TALLY_MARK = "xxgk-fuzz: inputs so far:"
TALLY_EVERY = 25
MODES = ("deps", "service", "all", "none")
# the pure-Python libraries a backend parses its files with (instrumented in the mode "deps")
PARSERS = {"pdf": ["pdfplumber", "pdfminer"], "docx": ["docx"], "png": ["PIL"], "tiff": ["PIL"]}


def _split(argv: list[str]) -> tuple[str, str | None, str | None, list[str], list[str]]:
    """(instrument mode, work folder, known crashes, libFuzzer flags, corpus folders) of the command line after the
    backend."""
    mode, work, known, flags, dirs = "deps", None, None, [], []
    for arg in argv:
        if arg.startswith("--instrument="):
            mode = arg.split("=", 1)[1]
        elif arg.startswith("--work="):
            work = arg.split("=", 1)[1]
        elif arg.startswith("--known="):
            known = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            flags.append(arg)
        else:
            dirs.append(arg)
    if mode not in MODES:
        raise SystemExit(f"--instrument: one of {', '.join(MODES)}, not {mode!r}")
    return mode, work, known, flags, dirs


def _with_defaults(flags: list[str], defaults: dict[str, str]) -> list[str]:
    given = {f.split("=", 1)[0].lstrip("-") for f in flags}
    return flags + [f"-{k}={v}" for k, v in defaults.items() if k not in given]


def target(
    backend: str, folder: Path, read: Callable[[Path], bool], known: str | None = None
) -> Callable[[bytes], None]:
    """The function libFuzzer calls with each input (``read``: ``tests.fuzz.seeds.read``; ``known``: a pattern of
    exceptions already reported, counted and passed over)."""
    path = folder / f"input.{backend}"
    tally = {"read": 0, "refused": 0, "known": 0}
    skip = re.compile(known) if known else None

    def test_one_input(data: bytes) -> None:
        path.write_bytes(data)
        try:
            tally["read" if read(path) else "refused"] += 1
        except Exception as exc:
            if skip is None or not skip.search(repr(exc)):
                print(
                    f"\n{CRASH_MARK} {backend} crashed on an input of {len(data)} bytes: {exc!r:.500}", file=sys.stderr
                )
                raise
            tally["known"] += 1  # a crash already reported (--known): passed over
        except BaseException as exc:  # the input is a crash: say which backend before libFuzzer reports it
            print(f"\n{CRASH_MARK} {backend} crashed on an input of {len(data)} bytes: {exc!r:.500}", file=sys.stderr)
            raise
        if sum(tally.values()) % TALLY_EVERY == 0:  # libFuzzer ends the process itself: no last word at exit
            counts = f"{tally['read']} read, {tally['refused']} refused, {tally['known']} known crashes"
            print(f"{TALLY_MARK} {counts}", file=sys.stderr, flush=True)

    return test_one_input


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1].startswith("-"):
        raise SystemExit(__doc__)
    backend = argv[1]
    mode, work_dir, known, flags, dirs = _split(argv[2:])
    packages = ["service", *PARSERS.get(backend, [])] if mode == "deps" else ["service"]
    hook = atheris.instrument_imports(include=packages) if mode != "none" else None
    if hook is not None:
        hook.__enter__()  # kept for the whole run: the pipeline imports some stages when it first needs them
    import service.ingest.base as base  # noqa: I001 - after the hook
    from service.pipeline import extract_document  # noqa: F401 - every stage imported, instrumented
    from tests.fuzz.mutators import mutator
    from tests.fuzz.seeds import BACKENDS, OPTIONS, corpus, read

    if backend not in BACKENDS:
        raise SystemExit(f"no such backend: {backend} (one of {', '.join(BACKENDS)})")
    for spec in base.REGISTRY:
        base._load(spec)  # the backends, imported under the hook
    if mode == "all":
        atheris.instrument_all()

    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix=f"xxgk-fuzz-{backend}-"))
    seeds = corpus(backend)
    folder = work / "corpus"
    folder.mkdir(parents=True, exist_ok=True)  # a later process of the same run goes on from the corpus found
    for name, data in seeds.items():
        (folder / name).write_bytes(data)
    for k, given in enumerate(dirs):  # copied: libFuzzer adds the inputs it finds to its first corpus folder
        shutil.copytree(given, folder / f"given-{k}", dirs_exist_ok=True)
    limits = OPTIONS.limits
    artifacts = work / "artifacts"
    artifacts.mkdir(exist_ok=True)
    flags = _with_defaults(
        flags,
        {
            "rss_limit_mb": str(limits.max_job_memory_mb),
            "timeout": str(limits.job_seconds),
            "max_len": str(max(4096, 2 * max(len(d) for d in seeds.values()))),
            "artifact_prefix": f"{artifacts}/",
            "print_final_stats": "1",
        },
    )
    print(f"xxgk-fuzz: backend {backend}, instrument {mode}, work folder {work}, flags {' '.join(flags)}", flush=True)
    mutate = mutator(backend)  # a DOCX's XML, a PNG with its CRCs right (tests.fuzz.mutators)
    extra = {"custom_mutator": mutate} if mutate else {}
    atheris.Setup([argv[0], *flags, str(folder)], target(backend, work, read, known), **extra)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
