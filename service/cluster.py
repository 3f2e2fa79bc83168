"""Past one machine: reports read by the actors of a Ray cluster, files in a blob store every node reaches (S3), results
in one database (PostgreSQL) — ``xxgk batch --ray`` and the service's jobs with ``XXGK_ENGINE=ray``. One machine stays
the default (``service.batch``, ``service.jobs``: worker processes, SQLite, a local folder).

The actors run the pipeline of one machine (``service.jobs.extract_file``, the same options): the same file gives the
same result, whichever runs it. Each actor loads the OCR engine, the layout model and the classifier once, when it
starts (``warm_up``), reads one document at a time, fetches its file from the blob store, and **commits the result to
the database itself** (``crud.complete``: one machine result per content hash and pipeline version, whatever runs it
twice); it returns a status row only — never the result, which would fill Ray's object store. Whatever breaks on a
document is caught in the actor and stored as the job's failure with its reason; a document past its time or memory
is failed by the actor's watchdog before the actor ends (Ray restarts the actor; the retried task finds the job
failed and skips it).

A batch (:func:`run_ray_batch`): the driver registers every input by content (``blobs/<sha256>`` in the blob store, a
report and a queued job in the database), drops what this pipeline version has done (by content hash, never by
file name), and streams the queued jobs through Ray Data: one row per document, ``map_batches`` on an actor pool
(``ActorPoolStrategy``), a batch of one document. A long scan (``cluster.fan_out_pages`` pages or more to read by OCR)
is fanned out: a row per page first (any actor reads it on its own and keeps it: a blob, a ``page_readings`` row),
then its document's row joins them (``load_document(..., known=…)``: a page that needed the columns of a table the
page before it left open is read again there), so a long scan is read by all actors at once and progress is per
page. A node that dies takes its actors' documents with it: Ray starts
the actors again elsewhere and retries their documents (each such retry is one more attempt of the job; past
``crud.MAX_ATTEMPTS`` it is failed). A driver killed mid-run leaves jobs ``running``: the next run queues them again
and reads nothing already stored.

The service (:class:`RayJobRunner`): the jobs table stays the source of truth; the runner claims queued jobs as the
local pool does and hands each to a free actor; an actor that dies mid-job (its node lost) has its job queued again
(three tries, then failed with the reason) — never left ``running``.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from service.batch import BatchSummary, Progress, expand, register_all
from service.ingest import IngestError, pages_to_read, read_one_page
from service.jobs import JobGuard, describe, extract_file, named_as, worker_options
from service.options import ClusterOptions, PipelineOptions
from service.pages import PageContent
from service.pipeline import models_loaded, warm_up
from service.store import crud, opened
from service.store.blobs import Blobs, open_blobs, s3_settings
from service.store.db import make_engine, session_factory
from service.understand.classifier import pipeline_version

log = logging.getLogger("xxgk.cluster")

STATUS = (
    "job_id",
    "report_id",
    "sha256",
    "kind",
    "page",
    "status",
    "pages",
    "seconds",
    "error",
    "pid",
    "node",
    "loads",
    "rss_mb",
)


def ray_init(address: str | None) -> None:
    """Join the cluster at ``address`` (``HOST:PORT``; None or empty: ``RAY_ADDRESS``, else a Ray started for this
    process), once per process."""
    import ray

    if ray.is_initialized():
        return
    ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, logging_level=logging.WARNING)


def actor_count(cfg: ClusterOptions) -> int:
    """Actors of the pool: ``cfg.actors``, else as many as the cluster's CPUs allow with ``spare_cpus`` left free."""
    if cfg.actors > 0:
        return cfg.actors
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    return max(1, int((cpus - cfg.spare_cpus) // cfg.cpus_per_actor))


def actor_options(options: PipelineOptions) -> PipelineOptions:
    """An actor's pipeline options: the OCR with the actor's CPUs as threads, one classifier thread."""
    return worker_options(options, max(1, int(options.cluster.cpus_per_actor)))


def _rss_bytes() -> int:
    try:
        return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


class ExtractActor:
    """One actor of the pool: models loaded once in ``__init__``; :meth:`process` reads one job's document and stores
    its outcome; ``__call__`` is Ray Data's ``map_batches`` entry (a batch of jobs → their status rows)."""

    def __init__(
        self, options: PipelineOptions, db_url: str, blob_url: str, blob_env: Mapping[str, str], actor: str = "batch"
    ) -> None:
        import ray

        self.options = options
        self.actor = actor
        self.engine = make_engine(db_url)  # the driver migrated it
        self.sessions = session_factory(self.engine)
        self.blobs = open_blobs(blob_url, blob_env, s3_settings(options.blobs))
        self.loads = warm_up(options)
        self.pid = os.getpid()
        self.node = ray.get_runtime_context().get_node_id()
        self.documents = 0

    def ping(self) -> int:
        """Answers once the actor is up (its models loaded): its process id."""
        return self.pid

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        self._recycle_if_grown()
        rows = []
        for job, report, sha, name, kind, page in zip(
            batch["job_id"],
            batch["report_id"],
            batch["sha256"],
            batch["filename"],
            batch["kind"],
            batch["page"],
            strict=True,
        ):
            if kind == "page":
                rows.append(self.read_page(str(job), str(report), str(sha), str(name), int(page)))
            else:
                rows.append(self.process(str(job), str(report), str(sha), str(name)))
        return {key: [row[key] for row in rows] for key in STATUS}

    def _row(self, job_id: str, report_id: str, sha256: str, kind: str = "document", page: int = 0) -> dict[str, Any]:
        return {
            "job_id": job_id,
            "report_id": report_id,
            "sha256": sha256,
            "kind": kind,
            "page": page,
            "status": "skipped",
            "pages": 0,
            "seconds": 0.0,
            "error": "",
            "pid": self.pid,
            "node": self.node,
            "loads": self.loads,
            "rss_mb": 0,
        }

    def read_page(self, job_id: str, report_id: str, sha256: str, filename: str, page: int) -> dict[str, Any]:
        """Read one page of a long scan by OCR and keep it (a blob, recorded in ``page_readings``) for the actor that
        will read the document; nothing when the job has ended or the page was read before (a retried task). A page
        that cannot be read here (an error, its time or memory) is recorded as such: the document's reading reads it
        itself and says what is wrong."""
        row = self._row(job_id, report_id, sha256, "page", page)
        start = time.perf_counter()
        try:
            with self.sessions() as s:
                if crud.job_status(s, job_id) not in ("queued", "running") or page in crud.pages_read(s, sha256):
                    return row
            limits = self.options.limits
            guard = JobGuard.running()

            def not_here(reason: str) -> None:
                with self.sessions() as s:
                    crud.record_page(s, sha256, page, None, reason)

            guard.arm(None, limits.job_seconds_per_page + limits.job_seconds, limits.max_job_memory_mb, not_here)
            try:
                with self.blobs.local_file(sha256) as path, named_as(path, filename) as link:
                    read = read_one_page(link, page, self.options)
                blob = self.blobs.put(pickle.dumps(read)) if read is not None else None
                with self.sessions() as s:
                    crud.record_page(s, sha256, page, blob, None if read is not None else "nothing to read")
                row.update(status="page", pages=1)
            except IngestError as exc:
                not_here(describe(exc))
                row.update(status="page-failed", error=describe(exc))
            finally:
                guard.disarm()
        except Exception as exc:  # the database or the blob store failed us: the document's reading reads the page
            log.error("job %s page %d: %s", job_id, page, traceback.format_exc())
            row.update(status="error", error=describe(exc))
        row.update(seconds=time.perf_counter() - start, loads=models_loaded(), rss_mb=_rss_bytes() // 2**20)
        return row

    def _known_pages(self, sha256: str) -> dict[int, PageContent]:
        """The pages of this file read on their own (a long scan fanned out): what the join takes as read."""
        with self.sessions() as s:
            stored = crud.pages_read(s, sha256)
        known = {}
        for page, blob in stored.items():
            if blob:
                known[page] = pickle.loads(self.blobs.get(blob))  # our own, content-checked by its hash
        return known

    def _recycle_if_grown(self) -> None:
        """An actor that holds more than ``recycle_rss_mb`` after a document (memory creep over a long run: a leak,
        a fragmented heap) ends before its next document, nothing of it started: Ray starts a fresh actor (models
        loaded again) and hands it the document."""
        ceiling = self.options.cluster.recycle_rss_mb * 2**20
        if self.documents and ceiling > 0 and _rss_bytes() > ceiling:
            log.warning(
                "actor %d holds %d MB after %d documents: restarting it",
                self.pid,
                _rss_bytes() // 2**20,
                self.documents,
            )
            os._exit(1)

    def process(self, job_id: str, report_id: str, sha256: str, filename: str, claimed: bool = False) -> dict[str, Any]:
        """Read the job's document and store its outcome (``claimed``: the caller already marked the job running).
        A job done or failed by an earlier attempt is skipped."""
        row = self._row(job_id, report_id, sha256)
        start = time.perf_counter()
        try:
            if not claimed:
                with self.sessions() as s:
                    if not crud.start(s, job_id, worker=f"{self.node}:{self.pid}"):
                        return row
            self.documents += 1
            result, error = self._extract(job_id, sha256, filename)
            with self.sessions() as s:
                if result is not None:
                    crud.complete(s, job_id, result, actor=self.actor)
                    row.update(status="done", pages=result.document.pages)
                else:
                    crud.fail(s, job_id, error)
                    row.update(status="failed", error=error)
        except Exception as exc:  # the database or the blob store failed us: the job stays running (re-queued later)
            log.error("job %s: %s", job_id, traceback.format_exc())
            row.update(status="error", error=describe(exc))
        row.update(seconds=time.perf_counter() - start, loads=models_loaded(), rss_mb=_rss_bytes() // 2**20)
        return row

    def _extract(self, job_id: str, sha256: str, filename: str) -> tuple[Any, str]:
        """(result, "") or (None, the reason it failed), under the job's watchdog."""
        limits = self.options.limits
        guard = JobGuard.running()

        def failed_by_guard(reason: str) -> None:
            with self.sessions() as s:
                crud.fail(s, job_id, reason)

        guard.arm(None, limits.job_seconds, limits.max_job_memory_mb, on_verdict=failed_by_guard)
        try:
            known = self._known_pages(sha256)
            with self.blobs.local_file(sha256) as path:
                result = extract_file(
                    path,
                    filename,
                    self.options,
                    on_pages=lambda n: guard.extend(n * limits.job_seconds_per_page),
                    known=known,
                )
            return result, ""
        except Exception as exc:
            log.warning("job %s (%s) failed: %s", job_id, filename, describe(exc))
            return None, describe(exc)
        finally:
            guard.disarm()


@dataclass
class ClusterSummary(BatchSummary):
    """A batch's summary with what the cluster did: actors that read documents, the models they loaded, attempts
    beyond the first."""

    actors: int = 0  # actor processes that read at least one document
    loads: int = 0  # model loads of those actors together (each loads its models once)
    retried: int = 0  # attempts beyond the first of this run's jobs (documents a dead node took with it)
    page_tasks: int = 0  # pages of long scans read a page per task (then joined into their documents)
    pids: dict[int, int] = field(default_factory=dict)  # actor process -> its model loads


def run_ray_batch(
    inputs: list[str],
    url: str,
    blobs: Blobs,
    blob_env: Mapping[str, str],
    options: PipelineOptions,
    *,
    address: str | None = None,
    retry_failed: bool = False,
    reprocess_older: bool = False,
    progress: Progress | None = None,
    on_row: Callable[[Mapping[str, Any]], None] | None = None,
) -> ClusterSummary:
    """``xxgk batch --ray``: every report file of ``inputs`` into the database at ``url`` by the actors of the Ray
    cluster at ``address`` (see the module's docstring). ``blobs`` must be a store every node reaches.
    ``progress(done, total, pages, seconds)`` after each document; ``on_row`` hears each document's status row (its
    actor's process, node, model loads and memory: what the benchmark follows)."""
    import ray
    import ray.data

    items, missing = expand(inputs)
    summary = ClusterSummary(files=len(items), not_found=missing)
    names: dict[str, str] = {}
    with opened(url) as sessions:
        with sessions() as s:
            crud.recover(s)  # jobs an interrupted run left running
            version = pipeline_version(options.classifier)
            register_all(s, items, blobs, names, summary, options, retry_failed, reprocess_older, version)
            work = crud.queued_jobs(s)
        fanned = _fan_out(work, blobs, options, sessions)
        total = len(work) + sum(len(pages) for pages in fanned.values())
        start = time.perf_counter()
        if progress:
            progress(0, total, 0, 0.0)
        if work:
            ray_init(address or options.cluster.address)
            context = ray.data.DataContext.get_current()
            context.max_errored_blocks = 0  # errors are caught in the actor: a block that fails is a bug, stop
            context.enable_progress_bars = False  # the driver shows its own
            cfg = options.cluster
            actors = min(actor_count(cfg), len(work))
            rows = _rows(work, fanned)
            dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
            statuses = dataset.map_batches(
                ExtractActor,
                fn_constructor_kwargs={
                    "options": actor_options(options),
                    "db_url": url,
                    "blob_url": blobs.url,
                    "blob_env": dict(blob_env),
                },
                batch_size=1,
                # a fixed pool, one document at a time per actor (no document waits behind another in an actor);
                # Ray Data's defaults start an actor lost with its node again elsewhere and give it its document
                compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1),
                num_cpus=cfg.cpus_per_actor,
                memory=cfg.memory_per_actor_mb * 2**20,
            )
            finished, pages = 0, 0
            for row in statuses.iter_rows():
                finished += 1
                _count(summary, row, names)
                # pages as they are read: a page task's page, else a document's pages unless read a page per task
                pages += int(row["pages"]) if row["kind"] == "page" or row["job_id"] not in fanned else 0
                if on_row is not None:
                    on_row(row)
                if progress:
                    progress(finished, total, pages, time.perf_counter() - start)
            with sessions() as s:
                summary.retried = crud.extra_attempts(s, [j.job_id for j in work])
        summary.seconds = time.perf_counter() - start
        with sessions() as s:
            summary.series = crud.series(s)
    summary.actors, summary.loads = len(summary.pids), sum(summary.pids.values())
    return summary


def _fan_out(
    work: list[crud.Claimed], blobs: Blobs, options: PipelineOptions, sessions: sessionmaker[Session]
) -> dict[str, list[int]]:
    """job -> the pages to read a page per task: a file with at least ``cluster.fan_out_pages`` pages to read by OCR
    (a long scan), less those read before by this pipeline version (a run started again)."""
    least = options.cluster.fan_out_pages
    if least <= 0:
        return {}
    fanned = {}
    for job in work:
        if blobs.size(job.sha256) < least * 10_000:  # no scan of that many pages is this small: not opened
            continue
        with blobs.local_file(job.sha256) as path, named_as(path, job.filename) as link:
            pages = pages_to_read(link, options)
        if len(pages) >= least:
            with sessions() as s:
                done = crud.pages_read(s, job.sha256)
            fanned[job.job_id] = [p for p in pages if p not in done]
    return fanned


def _rows(work: list[crud.Claimed], fanned: Mapping[str, list[int]]) -> list[dict[str, Any]]:
    """The dataset: the pages of the long scans first (every actor reads them at once), then the documents, the long
    scans' last (their pages are read by then; a page still being read when its document starts is read again
    there: the result is the same)."""

    def row(job: crud.Claimed, kind: str, page: int) -> dict[str, Any]:
        return {
            "job_id": job.job_id,
            "report_id": job.report_id,
            "sha256": job.sha256,
            "filename": job.filename,
            "kind": kind,
            "page": page,
        }

    pages = [row(job, "page", n) for job in work for n in fanned.get(job.job_id, [])]
    documents = sorted(work, key=lambda job: job.job_id in fanned)
    return pages + [row(job, "document", 0) for job in documents]


def _count(summary: ClusterSummary, row: Mapping[str, Any], names: Mapping[str, str]) -> None:
    if row["kind"] == "page":
        summary.page_tasks += 1
        if row["status"] in ("page", "page-failed"):
            summary.pids.setdefault(int(row["pid"]), int(row["loads"]))
        return
    name = names.get(str(row["sha256"]), str(row["sha256"]))
    status = row["status"]
    if status == "done":
        summary.done += 1
        summary.pages += int(row["pages"])
    elif status in ("failed", "error"):
        summary.failed += 1
        summary.errors.append((name, str(row["error"]) or "failed"))
    else:
        summary.skipped += 1
    pid = int(row["pid"])
    if status != "skipped" or pid in summary.pids:
        summary.pids[pid] = max(summary.pids.get(pid, 0), int(row["loads"]))


Outcome = Callable[[crud.Claimed, str | None], None]  # (job, error or None)


class RayJobRunner:
    """The service's job runner on a Ray cluster (``XXGK_ENGINE=ray``), in place of the local ``WorkerPool``: the
    same life cycle (``start``, ``notify``, ``stop``, ``busy``). Queued jobs are claimed from the store (atomically,
    as the local pool does) and run by long-lived actors that store the outcome themselves; an actor lost mid-job
    has its job queued again (``crud.recover_one``: three tries, then failed with the reason)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        db_url: str,
        blobs: Blobs,
        blob_env: Mapping[str, str],
        options: PipelineOptions,
        *,
        on_outcome: Outcome | None = None,
        poll: float = 0.5,
    ) -> None:
        self.sessions, self.db_url, self.blobs, self.blob_env = sessions, db_url, blobs, dict(blob_env)
        self.options = options
        self.on_outcome = on_outcome
        self.poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[Any, tuple[crud.Claimed, Any]] = {}  # object ref -> (job, actor)
        self._idle: list[Any] = []
        self._waking: dict[Any, Any] = {}  # ping ref -> an actor that failed a job, idle again once it answers
        self._thread: threading.Thread | None = None

    def recover(self) -> int:
        with self.sessions() as s:
            return crud.recover(s)

    def start(self) -> int:
        import ray

        recovered = self.recover()
        cfg = self.options.cluster
        ray_init(cfg.address)
        remote = ray.remote(ExtractActor).options(
            num_cpus=cfg.cpus_per_actor,
            memory=cfg.memory_per_actor_mb * 2**20,
            max_restarts=-1,  # an actor lost with its node is started again elsewhere ...
            max_task_retries=0,  # ... but its job goes back to the queue here, counted as an attempt
        )
        actors: list[Any] = [
            remote.remote(actor_options(self.options), self.db_url, self.blobs.url, self.blob_env, "machine")
            for _ in range(actor_count(cfg))
        ]
        with self._lock:  # each takes jobs once it answers (its models loaded): no job waits in a starting actor
            self._waking = {actor.ping.remote(): actor for actor in actors}
        self._thread = threading.Thread(target=self._loop, name="xxgk-ray-dispatcher", daemon=True)
        self._thread.start()
        return recovered

    def notify(self) -> None:
        self._wake.set()

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._inflight)

    def stop(self, wait: bool = False) -> None:
        """Stop taking jobs; jobs in flight stay ``running`` in the store unless ``wait`` (the next start queues them
        again)."""
        import ray

        if wait:
            while self.busy and self._thread is not None and self._thread.is_alive():
                time.sleep(0.1)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            actors = self._idle + [actor for _, actor in self._inflight.values()] + list(self._waking.values())
            self._idle, self._inflight, self._waking = [], {}, {}
        for actor in actors:
            ray.kill(actor, no_restart=True)

    def _loop(self) -> None:
        import ray

        while not self._stop.is_set():
            self._fill()
            with self._lock:
                refs = list(self._inflight) + list(self._waking)
            if not refs:
                self._wake.wait(self.poll)
                self._wake.clear()
                continue
            ready, _ = ray.wait(refs, num_returns=1, timeout=self.poll)
            for ref in ready:
                if ref in self._waking:
                    self._woken(ref)
                else:
                    self._finish(ref)

    def _woken(self, ref: Any) -> None:
        """An actor that failed a job answered its ping (started again) or failed it too (ping it again)."""
        import ray
        from ray.exceptions import RayActorError

        with self._lock:
            actor = self._waking.pop(ref)
        try:
            ray.get(ref)
        except RayActorError:
            with self._lock:
                self._waking[actor.ping.remote()] = actor
            return
        with self._lock:
            self._idle.append(actor)

    def _fill(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._idle:
                    return
            try:
                with self.sessions() as s:
                    job = crud.claim(s)
            except Exception:
                log.exception("claiming a job failed")
                return
            if job is None:
                return
            with self._lock:
                actor = self._idle.pop()
                ref = actor.process.remote(job.job_id, job.report_id, job.sha256, job.filename, True)
                self._inflight[ref] = (job, actor)

    def _finish(self, ref: Any) -> None:
        import ray
        from ray.exceptions import RayActorError

        with self._lock:
            job, actor = self._inflight.pop(ref)
        error: str | None = None
        try:
            row = ray.get(ref)
            with self._lock:
                self._idle.append(actor)
            if row["status"] == "error":  # not stored (the database or blob store failed the actor): try again
                error = self._requeue(job, str(row["error"]))
                if error is None:
                    return
            elif row["status"] == "failed":
                error = str(row["error"])
        except RayActorError as exc:  # the actor died mid-job (its node lost, killed): the job goes back
            with self._lock:  # the actor takes jobs again once Ray has started it again and it answers
                self._waking[actor.ping.remote()] = actor
            error = self._requeue(job, f"the actor running it died ({type(exc).__name__})")
            if error is None:
                return
        if self.on_outcome is not None:
            self.on_outcome(job, error)

    def _requeue(self, job: crud.Claimed, why: str) -> str | None:
        try:
            with self.sessions() as s:
                return crud.recover_one(s, job.job_id, why)
        except Exception:
            log.error("re-queueing job %s failed:\n%s", job.job_id, traceback.format_exc())
            return why
