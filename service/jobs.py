"""Extraction jobs: the function a worker process runs, and the in-process pool that feeds it from the store.

The job queue lives in the database (``jobs``): a job is ``queued`` until a worker claims it (``running``), then
``done`` (result version stored) or ``failed`` (with the error). A restart finds jobs left ``running`` — the
server stopped while they ran — and queues them again, so nothing uploaded is lost. Extraction is CPU-bound
Python: jobs run in worker processes (spawned, one model load each), with the machine's cores shared among them.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import re
import tempfile
import threading
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from service.store import crud
from service.store.blobs import BlobStore

log = logging.getLogger("xxgk.jobs")


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(workers, 1))


def init_worker(threads: int) -> None:
    """Worker process set-up: share the cores (OCR, classifier and BLAS threads), load nothing yet."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["XXGK_OCR_THREADS"] = str(threads)
    os.environ["XXGK_CLASSIFIER_THREADS"] = "1"


def safe_name(filename: str) -> str:
    name = Path(filename).name or "upload"
    return re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", name)[-120:] or "upload"


def run_extraction(blob: str, filename: str) -> dict:
    """Extract the stored file ``blob`` as if it were named ``filename`` (backends look at the extension).
    Returns the output contract as JSON-ready data; raises IngestError for files that cannot be read."""
    from service.pipeline import extract

    with tempfile.TemporaryDirectory(prefix="xxgk-job-") as tmp:
        link = Path(tmp) / safe_name(filename)
        os.symlink(blob, link)
        result = extract(link).model_dump(mode="json")
    result["document"]["path"] = filename
    return result


def describe(exc: BaseException) -> str:
    from service.ingest import IngestError

    if isinstance(exc, IngestError):
        return f"unreadable input: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


class WorkerPool:
    """Claims queued jobs from the store and runs them in ``workers`` processes; stores results and failures."""

    def __init__(self, sessions: sessionmaker[Session], blobs: BlobStore, workers: int = 1, poll: float = 0.5):
        self.sessions = sessions
        self.blobs = blobs
        self.workers = max(1, workers)
        self.poll = poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[str, Future] = {}
        self._executor: ProcessPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle
    def start(self) -> int:
        with self.sessions() as s:
            recovered = crud.recover(s)
        if recovered:
            log.info("re-queued %d interrupted job(s)", recovered)
        self._executor = self._new_executor()
        self._thread = threading.Thread(target=self._loop, name="xxgk-dispatcher", daemon=True)
        self._thread.start()
        return recovered

    def stop(self, wait: bool = False) -> None:
        """Stop taking jobs. Jobs in flight are abandoned unless ``wait``; they stay ``running`` in the store and
        the next start queues them again."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=not wait)

    def notify(self) -> None:
        """A job was queued: look now instead of at the next poll."""
        self._wake.set()

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._inflight)

    # -- internals
    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init_worker, initargs=(threads_per_worker(self.workers),))

    def _loop(self) -> None:
        while not self._stop.is_set():
            claimed = None
            if self.busy < self.workers:
                try:
                    with self.sessions() as s:
                        claimed = crud.claim(s)
                except Exception:  # the database is busy or gone for a moment: try again at the next poll
                    log.exception("claiming a job failed")
            if claimed is None:
                self._wake.wait(self.poll)
                self._wake.clear()
                continue
            try:
                self._submit(claimed)
            except Exception as exc:  # the pool cannot take it now: back to the queue (or failed after retries)
                log.exception("submitting job %s failed", claimed.job_id)
                with self.sessions() as s:
                    crud.recover_one(s, claimed.job_id, describe(exc))
                self._wake.wait(self.poll)

    def _submit(self, job: crud.Claimed) -> None:
        try:
            future = self._executor.submit(run_extraction, str(self.blobs.path(job.sha256)), job.filename)
        except (BrokenProcessPool, RuntimeError):
            self._executor = self._new_executor()
            future = self._executor.submit(run_extraction, str(self.blobs.path(job.sha256)), job.filename)
        with self._lock:
            self._inflight[job.job_id] = future
        future.add_done_callback(lambda f, job=job: self._done(job, f))

    def _done(self, job: crud.Claimed, future: Future) -> None:
        with self._lock:
            self._inflight.pop(job.job_id, None)
        if future.cancelled() or self._stop.is_set():
            return  # stopping: the job stays running in the store and is queued again at the next start
        try:
            exc = future.exception()
            with self.sessions() as s:
                if exc is None:
                    crud.complete(s, job.job_id, future.result())
                elif isinstance(exc, BrokenProcessPool):
                    crud.recover_one(s, job.job_id, "the worker process died")
                else:
                    crud.fail(s, job.job_id, describe(exc))
                    log.warning("job %s (%s) failed: %s", job.job_id, job.filename, describe(exc))
        except Exception:
            log.error("storing the outcome of job %s failed:\n%s", job.job_id, traceback.format_exc())
        self._wake.set()
