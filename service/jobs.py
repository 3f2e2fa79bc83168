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

import contextlib
import ctypes
import logging
import multiprocessing
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from service.ingest import IngestError, load_document
from service.options import PipelineOptions
from service.pages import PageContent
from service.pipeline import extract_document
from service.result import Result
from service.store import crud
from service.store.blobs import Blobs, open_blobs, s3_settings

log = logging.getLogger("xxgk.jobs")

WORKER_DIED = "the worker process died (killed or out of memory)"

# (job, result, error): a job's final outcome, a result or the error it failed with
Outcome = Callable[[crud.Claimed, Result | None, str | None], None]

_worker_options: PipelineOptions | None = None  # in a worker process: the options init_worker received
_worker_cgroup: MemoryCgroup | None = None  # in a worker process: its memory cgroup, where Linux gave one


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
    global _worker_cgroup
    ceiling = int(options.limits.max_job_memory_mb * CGROUP_HEADROOM) * 1024 * 1024
    _worker_cgroup = MemoryCgroup.create(f"{CGROUP_PREFIX}{os.getpid()}", ceiling)


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


def extract_file(
    blob: str | Path,
    filename: str,
    options: PipelineOptions,
    on_pages: Callable[[int], None] | None = None,
    known: Mapping[int, PageContent] | None = None,
) -> Result:
    """Extract the stored file ``blob`` as if it were named ``filename`` (backends look at the extension); the
    result names ``filename`` as its document. Raises IngestError for files that cannot be read. ``on_pages``
    hears the number of pages once the file is read (the job's watchdog gives it time by them); ``known``: pages
    the OCR stage read elsewhere (a cluster's actors, a page each)."""
    with named_as(blob, filename) as link:
        doc = load_document(link, options, known=known)
        if on_pages is not None:
            on_pages(len(doc.pages))
        result = extract_document(doc, options)
    result.document.path = filename
    for cell in result.cells.values():
        cell.ocr = None  # in-process only (not in the output): it does not travel back to the pool
    return result


@contextlib.contextmanager
def named_as(blob: str | Path, filename: str) -> Iterator[Path]:
    """The stored file ``blob`` under the name it was uploaded with (a link in a folder of its own, for the block)."""
    with tempfile.TemporaryDirectory(prefix="xxgk-job-") as tmp:
        link = Path(tmp) / safe_name(filename)
        os.symlink(blob, link)
        yield link


def run_job(
    blob_url: str, blob_env: Mapping[str, str], sha256: str, filename: str, verdict: str | None = None
) -> Result:
    """What a worker process runs for a job: :func:`extract_file` of the blob ``sha256`` of the store at
    ``blob_url`` (a local file of it: the store's own, or a copy fetched from S3 for the job) with the options
    :func:`init_worker` kept, under the job's watchdog (``verdict``: where it writes why it ended the job)."""
    if _worker_options is None:
        raise RuntimeError("run_job runs in a worker process that init_worker set up")
    limits = _worker_options.limits
    guard = JobGuard.running()
    guard.arm(verdict, limits.job_seconds, limits.max_job_memory_mb)
    if verdict and _worker_cgroup is not None:  # where the pool looks when the kernel kills this worker
        Path(verdict + CGROUP_NOTE).write_text(f"{_worker_cgroup.version} {_worker_cgroup.path}", encoding="utf-8")
    try:
        with open_blobs(blob_url, blob_env, s3_settings(_worker_options.blobs)).local_file(sha256) as blob:
            return extract_file(
                blob, filename, _worker_options, on_pages=lambda n: guard.extend(n * limits.job_seconds_per_page)
            )
    finally:
        guard.disarm()


GUARD_EVERY = 0.25  # seconds between the watchdog's looks at the job
GUARD_EXIT = 70  # a worker the watchdog ended exits with this code (EX_SOFTWARE)


class JobGuard:
    """The watchdog of the job a worker process runs: a thread that looks every GUARD_EVERY seconds at the
    process's resident memory and the job's time; past ``limits.max_job_memory_mb`` or its time (``job_seconds`` +
    ``job_seconds_per_page`` x pages) it writes why to the job's verdict file and ends the process at once (a
    runaway decoder holds the interpreter in C code: no exception can stop it). The pool reads the verdict and fails
    the job with it on the first try (no retries of the same bomb) and starts a fresh worker."""

    _instance: JobGuard | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verdict: str | None = None
        self._deadline = 0.0
        self._seconds = 0.0
        self._memory = 0
        self._armed = False
        self._on_verdict: Callable[[str], None] | None = None
        threading.Thread(target=self._watch, name="job-guard", daemon=True).start()

    @classmethod
    def running(cls) -> JobGuard:
        if cls._instance is None:
            cls._instance = JobGuard()
        return cls._instance

    def arm(
        self, verdict: str | None, seconds: float, memory_mb: int, on_verdict: Callable[[str], None] | None = None
    ) -> None:
        """Watch a job from now: ``verdict`` (a file) gets the reason when it ends the job, and ``on_verdict`` hears
        it first (a cluster's actor stores it as the job's failure itself: nobody reads its files)."""
        with self._lock:
            self._verdict, self._seconds, self._memory = verdict, float(seconds), memory_mb * 1024 * 1024
            self._on_verdict = on_verdict
            self._deadline = time.monotonic() + seconds
            self._armed = True

    def extend(self, seconds: float) -> None:
        with self._lock:
            self._deadline += seconds
            self._seconds += seconds

    def disarm(self) -> None:
        with self._lock:
            self._armed = False

    def _watch(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while True:
            time.sleep(GUARD_EVERY)
            with self._lock:
                if not self._armed:
                    continue
                rss = _resident_pages() * page
                reason = None
                if rss > self._memory:
                    reason = (
                        f"over the limit limits.max_job_memory_mb = {self._memory // 1024 // 1024}: "
                        f"the job took {rss / 1024 / 1024:.0f} MB"
                    )
                elif time.monotonic() > self._deadline:
                    reason = f"over the job's time: {self._seconds:.0f} s (limits.job_seconds + job_seconds_per_page)"
                if reason is None:
                    continue
                if self._on_verdict is not None:
                    try:
                        self._on_verdict(reason)
                    except Exception:  # the process ends all the same; the job is retried, then failed
                        log.exception("recording the watchdog's verdict failed")
                if self._verdict:
                    Path(self._verdict).write_text(reason, encoding="utf-8")
            os._exit(GUARD_EXIT)


def _resident_pages() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):  # not Linux: the memory is not watched
        return 0


CGROUP_HEADROOM = 1.25  # the kernel's ceiling over limits.max_job_memory_mb (the watchdog names a slow climb first)
CGROUP_PREFIX = "xxgk-worker-"
CGROUP_NOTE = ".cgroup"  # beside a job's verdict file: the cgroup of the worker that runs it


class MemoryCgroup:
    """A memory cgroup of one worker process, where Linux lets this process make one (root, or a delegated
    hierarchy; cgroup v1 or v2): the kernel's own ceiling on the worker's memory, which also stops a spike between
    two looks of the watchdog (the kernel kills the worker; the pool sees the kill counted here and fails the job
    with the memory limit's name). Elsewhere ``create`` gives None and the watchdog alone guards the memory."""

    def __init__(self, path: Path, version: int) -> None:
        self.path, self.version = path, version

    @classmethod
    def create(cls, name: str, limit_bytes: int) -> MemoryCgroup | None:
        """A new cgroup ``name`` beside this process's own, limited to ``limit_bytes``, with this process in it."""
        found = _own_memory_cgroup()
        if found is None:
            return None
        base, version = found
        path = base / name
        try:
            path.mkdir(exist_ok=True)
            if version == 2:
                (path / "memory.max").write_text(str(limit_bytes))
                (path / "memory.swap.max").write_text("0")
            else:
                (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            (path / "cgroup.procs").write_text(str(os.getpid()))
        except OSError as exc:  # not ours to change (no privilege, no delegation, controller not enabled)
            log.debug("no memory cgroup for the worker (%s): the watchdog alone guards its memory", exc)
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path, version)

    def oom_kills(self) -> int:
        """Processes of this cgroup the kernel killed for passing its ceiling."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            return 0
        return 0

    def limit_mb(self) -> int:
        name = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        try:
            return int((self.path / name).read_text().strip()) // 1024 // 1024
        except (OSError, ValueError):
            return 0

    def remove(self) -> None:
        """Remove it once its process has ended (a cgroup with a process in it stays)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()

    @staticmethod
    def sweep() -> None:
        """Remove the empty cgroups of workers that have ended (this process's siblings named CGROUP_PREFIX…)."""
        found = _own_memory_cgroup()
        if found is None:
            return
        with contextlib.suppress(OSError):
            for path in found[0].glob(CGROUP_PREFIX + "*"):
                with contextlib.suppress(OSError):
                    if not (path / "cgroup.procs").read_text().strip():
                        path.rmdir()


def _own_memory_cgroup() -> tuple[Path, int] | None:
    """The folder of this process's cgroup in the memory controller's hierarchy, and the cgroup version."""
    try:
        groups = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in groups:
        _, controllers, own = line.split(":", 2)
        version = 2 if controllers == "" else 1
        if version == 1 and "memory" not in controllers.split(","):
            continue
        for mount in mounts:
            fields = mount.split()
            dash = fields.index("-")
            fstype, options = fields[dash + 1], fields[dash + 3].split(",")
            if (version == 1 and fstype == "cgroup" and "memory" in options) or (version == 2 and fstype == "cgroup2"):
                root, point = fields[3], fields[4]
                relative = own[len(root) :] if own.startswith(root) and root != "/" else own
                folder = Path(point) / relative.lstrip("/")
                if version == 2:
                    try:
                        if "memory" not in (folder / "cgroup.controllers").read_text().split():
                            continue
                    except OSError:
                        continue
                if folder.is_dir():
                    return folder, version
    return None


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
        blobs: Blobs,
        options: PipelineOptions,
        *,
        blob_env: Mapping[str, str] | None = None,
        workers: int = 1,
        threads: int,
        queue_ahead: int = 0,
        actor: str = "machine",
        on_outcome: Outcome | None = None,
        poll: float = 0.5,
    ) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self.blob_env = dict(blob_env or {})  # what reopens an S3 store in the workers
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
        self._verdicts = Path(tempfile.mkdtemp(prefix="xxgk-verdicts-"))  # why a watchdog ended a job, per job
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
        shutil.rmtree(self._verdicts, ignore_errors=True)
        MemoryCgroup.sweep()

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
        MemoryCgroup.sweep()  # the cgroups of workers that have ended
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(self.options,),
        )

    def _verdict(self, job: crud.Claimed) -> Path:
        return self._verdicts / f"{job.job_id}.txt"

    def _submit(self, job: crud.Claimed) -> None:
        args = (self.blobs.url, self.blob_env, job.sha256, job.filename, str(self._verdict(job)))
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
        reason = self._ended_by_guard(job, broken=isinstance(exc, BrokenProcessPool))
        if reason is not None:  # its watchdog or the kernel's memory ceiling ended it: failed, not retried
            try:
                with self.sessions() as s:
                    crud.fail(s, job.job_id, reason)
            except Exception:
                log.error("storing the outcome of job %s failed:\n%s", job.job_id, traceback.format_exc())
                return
            log.warning("job %s (%s) failed: %s", job.job_id, job.filename, reason)
            self._tell(job, None, reason)
            return
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

    def _ended_by_guard(self, job: crud.Claimed, broken: bool) -> str | None:
        """Why the worker that died running ``job`` (``broken``) was ended by a guard: its watchdog's verdict, or
        the kernel's memory cgroup (a kill counted there); None for any other death (queued again) and for a job
        that ended normally. The job's verdict and cgroup note are removed."""
        verdict = self._verdict(job)
        note = Path(str(verdict) + CGROUP_NOTE)
        reason = None
        if not broken:
            pass
        elif verdict.exists():
            reason = cap(verdict.read_text(encoding="utf-8"))
        elif note.exists():
            version, _, path = note.read_text(encoding="utf-8").partition(" ")
            group = MemoryCgroup(Path(path), int(version))
            if group.oom_kills():
                limit = self.options.limits.max_job_memory_mb
                reason = (
                    f"over the limit limits.max_job_memory_mb = {limit}: the kernel stopped the job at its "
                    f"memory cgroup's ceiling ({group.limit_mb()} MB)"
                )
                group.remove()
        verdict.unlink(missing_ok=True)
        note.unlink(missing_ok=True)
        return reason

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
