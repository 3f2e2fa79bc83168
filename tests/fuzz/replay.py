"""Every input of a corpus folder read again, uninstrumented, in one process: ``python -m tests.fuzz.replay BACKEND
DIR``. The coverage-guided fuzzer's process grows with the inputs it has seen (atheris' instrumentation, not the
reading: the same inputs read in a plain process stay flat), so its peak overstates what one input takes; this
process's peak is the memory of the costliest input of the corpus (plus the interpreter and the models). Prints
``xxgk-fuzz replay: N inputs, R read``; an input that raises anything but an ``IngestError`` ends it with the
traceback and the file's name."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from tests.fuzz.seeds import read


def main(backend: str, folder: Path) -> None:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    work = Path(tempfile.mkdtemp(prefix=f"xxgk-replay-{backend}-"))
    target = work / f"input.{backend}"
    done = 0
    try:
        for f in files:
            shutil.copyfile(f, target)
            try:
                done += read(target)
            except Exception as exc:
                exc.add_note(f"xxgk-fuzz replay: backend {backend} crashed on {f}")
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"xxgk-fuzz replay: {len(files)} inputs, {done} read")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
