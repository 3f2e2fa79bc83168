"""Extraction jobs: the worker pool shared by the service (``xxgk serve``) and ``xxgk batch``.

The job queue lives in the database (``jobs``): a job is ``queued`` until the pool claims it (``running``), then
``done`` (result version stored) or ``failed`` (with the error). A restart finds jobs left ``running`` — the
server stopped while they ran — and queues them again, so nothing uploaded is lost; a job whose worker process
died is queued again too, and fails after ``crud.MAX_ATTEMPTS`` tries. Extraction is CPU-bound Python: jobs run
in worker processes (spawned, one model load each) that receive the pipeline's options pickled when they start.

The service runs the pool in a background thread for as long as it serves (:meth:`WorkerPool.start`); ``xxgk
batch`` runs it in its own thread until the queue is empty (:meth:`WorkerPool.drain`).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import queue
import re
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from service.ingest import IngestError
from service.options import PipelineOptions
from service.pipeline import extract
from service.result import Result
from service.store import crud
from service.store.blobs import BlobStore

log = logging.getLogger("xxgk.jobs")

WORKER_DIED = "the worker process died (killed or out of memory)"

# (job, result, error): a job's final outcome, a result or the error it failed with
Outcome = Callable[[crud.Claimed, Result | None, str | None], None]

_worker_options: PipelineOptions | None = None  # in a worker process: the options init_worker received


def threads_per_worker(workers: int) -> int:
    """The service's share of the cores for each worker (the latency of one upload)."""
    return max(1, (os.cpu_count() or 1) // max(workers, 1))


def worker_options(options: PipelineOptions, threads: int) -> PipelineOptions:
    """The options a worker process runs with: ``threads`` OCR threads, one classifier thread."""
    return options.with_changes(ocr={"threads": threads}, classifier={"threads": 1})


def init_worker(options: PipelineOptions) -> None:
    """Worker process set-up: keep the pipeline's options (pickled by the pool) and hold the numeric libraries that
    read their thread counts from the environment to the OCR's share of the cores; load nothing yet."""
    global _worker_options
    _worker_options = options
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(options.ocr.threads)
    die_with_parent()


PR_SET_PDEATHSIG = 1  # prctl(2)


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when the process that started it dies (kill -9 of the server or the batch
    included), so no worker is left orphaned, waiting forever on the pool's pipe. Elsewhere: nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl (a libc without it): the pool's own shutdown still applies
        return
    if os.getppid() == 1:  # the parent died before the call took effect
        os._exit(1)


def safe_name(filename: str) -> str:
    name = Path(filename).name or "upload"
    return re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", name)[-120:] or "upload"


def extract_file(blob: str | Path, filename: str, options: PipelineOptions) -> Result:
    """Extract the stored file ``blob`` as if it were named ``filename`` (backends look at the extension); the
    result names ``filename`` as its document. Raises IngestError for files that cannot be read."""
    with tempfile.TemporaryDirectory(prefix="xxgk-job-") as tmp:
        link = Path(tmp) / safe_name(filename)
        os.symlink(blob, link)
        result = extract(link, options)
    result.document.path = filename
    for cell in result.cells.values():
        cell.ocr = None  # in-process only (not in the output): it does not travel back to the pool
    return result


def run_job(blob: str, filename: str) -> Result:
    """What a worker process runs for a job: :func:`extract_file` with the options :func:`init_worker` kept."""
    if _worker_options is None:
        raise RuntimeError("run_job runs in a worker process that init_worker set up")
    return extract_file(blob, filename, _worker_options)


MAX_ERROR = 2000  # characters of an error kept with a report (the whole traceback goes to the log, once)


def describe(exc: BaseException) -> str:
    """A failed job's reason as stored and shown: short (MAX_ERROR characters at most)."""
    text = f"unreadable input: {exc.reason}" if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"
    return cap(text)


def cap(text: str, limit: int = MAX_ERROR) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} … ({len(text) - limit} more characters cut; the log has the whole error)"


class WorkerPool:
    """Claims queued jobs from the store, runs them in ``workers`` processes and stores results and failures.

    ``threads``: OCR threads per worker (the classifier gets one); ``queue_ahead``: jobs claimed beyond the free
    workers (a batch keeps the workers fed; the service leaves jobs queued in the store until a worker is free);
    ``on_outcome`` hears every job's final outcome, in the pool's thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        blobs: BlobStore,
        options: PipelineOptions,
        *,
        workers: int = 1,
        threads: int,
        queue_ahead: int = 0,
        actor: str = "machine",
        on_outcome: Outcome | None = None,
        poll: float = 0.5,
    ) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self.workers = max(1, workers)
        self.options = worker_options(options, threads)
        self.capacity = self.workers + max(0, queue_ahead)
        self.actor = actor
        self.on_outcome = on_outcome
        self.poll = poll
        self._events: queue.Queue[tuple[crud.Claimed, Future[Result]] | None] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[Result]] = {}
        self._executor: ProcessPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle
    def recover(self) -> int:
        """Queue again the jobs an earlier run left ``running`` (or fail them after MAX_ATTEMPTS)."""
        with self.sessions() as s:
            recovered = crud.recover(s)
        if recovered:
            log.info("re-queued %d interrupted job(s)", recovered)
        return recovered

    def start(self) -> int:
        """Recover interrupted jobs, then run jobs in a background thread until :meth:`stop`."""
        recovered = self.recover()
        self._thread = threading.Thread(target=self._loop, args=(False,), name="xxgk-dispatcher", daemon=True)
        self._thread.start()
        return recovered

    def drain(self) -> None:
        """Run queued jobs in this thread until none is queued or running."""
        self._loop(until_idle=True)

    def stop(self, wait: bool = False) -> None:
        """Stop taking jobs. Jobs in flight are abandoned unless ``wait``; they stay ``running`` in the store and
        the next start queues them again."""
        self._stop.set()
        self._events.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=not wait)

    def notify(self) -> None:
        """A job was queued: look now instead of at the next poll."""
        self._events.put(None)

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._inflight)

    # -- internals
    def _loop(self, until_idle: bool) -> None:
        while not self._stop.is_set():
            self._fill(until_idle)
            if until_idle and not self.busy:
                return
            try:
                event = self._events.get(timeout=self.poll)
            except queue.Empty:
                continue
            if event is not None:
                self._finish(*event)

    def _fill(self, until_idle: bool) -> None:
        """Claim queued jobs while there is room and hand them to the workers (returns when the queue is empty).
        Serving, a database error or a pool that takes no job waits for the next poll; draining, a database error
        ends the run."""
        while self.busy < self.capacity and not self._stop.is_set():
            try:
                with self.sessions() as s:
                    job = crud.claim(s)
            except Exception:  # the database is busy or gone for a moment: try again at the next poll
                if until_idle:
                    raise
                log.exception("claiming a job failed")
                return
            if job is None:
                return
            try:
                self._submit(job)
            except Exception as exc:  # the pool cannot take it now: back to the queue (failed after MAX_ATTEMPTS)
                log.exception("submitting job %s failed", job.job_id)
                self._requeue(job, describe(exc))
                if not until_idle:
                    return

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(self.options,),
        )

    def _submit(self, job: crud.Claimed) -> None:
        args = (str(self.blobs.path(job.sha256)), job.filename)
        if self._executor is None:
            self._executor = self._new_executor()
        try:
            future = self._executor.submit(run_job, *args)
        except (BrokenProcessPool, RuntimeError):  # a worker died (killed, out of memory): go on with new ones
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            future = self._executor.submit(run_job, *args)
        with self._lock:
            self._inflight[job.job_id] = future

        def finished(f: Future[Result]) -> None:  # in the executor's thread: hand it to the pool's thread
            self._events.put((job, f))

        future.add_done_callback(finished)

    def _finish(self, job: crud.Claimed, future: Future[Result]) -> None:
        with self._lock:
            self._inflight.pop(job.job_id, None)
        if future.cancelled() or self._stop.is_set():
            return  # stopping: the job stays running in the store and is queued again at the next start
        exc = future.exception()
        if isinstance(exc, BrokenProcessPool):
            self._requeue(job, WORKER_DIED)
            return
        try:
            with self.sessions() as s:
                if exc is None:
                    result = future.result()
                    crud.complete(s, job.job_id, result, actor=self.actor)
                else:
                    crud.fail(s, job.job_id, describe(exc))
        except Exception:
            log.error("storing the outcome of job %s failed:\n%s", job.job_id, traceback.format_exc())
            return
        if exc is None:
            self._tell(job, result, None)
        else:
            assert exc is not None
            trace = "".join(traceback.format_exception(exc)) if not isinstance(exc, IngestError) else ""
            log.warning(
                "job %s (%s) failed: %s%s", job.job_id, job.filename, describe(exc), "\n" + trace if trace else ""
            )
            self._tell(job, None, describe(exc))

    def _requeue(self, job: crud.Claimed, why: str) -> None:
        """Queue a job whose run broke off again, or fail it after MAX_ATTEMPTS (then it is an outcome)."""
        try:
            with self.sessions() as s:
                error = crud.recover_one(s, job.job_id, why)
        except Exception:
            log.error("re-queueing job %s failed:\n%s", job.job_id, traceback.format_exc())
            return
        if error is not None:
            self._tell(job, None, error)

    def _tell(self, job: crud.Claimed, result: Result | None, error: str | None) -> None:
        if self.on_outcome is not None:
            self.on_outcome(job, result, error)
