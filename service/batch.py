"""Bulk digitization: many files into one store, resumable, in worker processes (``xxgk batch``).

Inputs are files, folders (searched recursively for report files), glob patterns and zip archives (their
report files). Every file is registered by content (sha256); a file already done is skipped, so a second run over
the same inputs does nothing and an interrupted run picks up where it stopped. A file done by another pipeline
version or classifier model (``pipeline_version`` 2.3, or 2.4+tagger.<id>) keeps its stored result unless
``--reprocess-older`` asks for it to be read again.
Per-file errors are recorded in the store (the report's status ``failed`` and its error) and summarised, and so
are the files read only in part (coverage ``partial`` or ``failed``: cells not read, flagged for review).
"""

from __future__ import annotations

import glob
import hashlib
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from service import PIPELINE_VERSION
from service.jobs import WorkerPool
from service.options import PipelineOptions
from service.reconcile.cross import SeriesCheck
from service.result import Result
from service.store import crud, opened
from service.store.blobs import Blobs, LocalBlobs, file_sha256
from service.understand.classifier import pipeline_version

Progress = Callable[[int, int, int, float], None]  # (files done, files in all, pages, seconds)

REPORT_SUFFIXES = frozenset(
    {".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}
)


@dataclass
class Item:
    """A report file to read: a file on disk or a member of a zip archive (read when it is registered, one at
    a time, so an archive of any size passes through in bounded memory)."""

    name: str  # what the summary shows: the path, or archive.zip!member
    size: int
    path: Path
    member: str | None = None

    def read(self, limit: int) -> bytes | None:
        """The file's bytes, or None when it has more than ``limit`` (a member of a zip bomb is never inflated
        past it, whatever size its archive declares)."""
        if self.member is None:
            if self.path.stat().st_size > limit:
                return None
            return self.path.read_bytes()
        with zipfile.ZipFile(self.path) as zf, zf.open(self.member) as member:
            data = member.read(limit + 1)
        return None if len(data) > limit else data


@dataclass
class BatchSummary:
    files: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    pages: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file, error)
    incomplete: list[tuple[str, str, str]] = field(default_factory=list)  # (file, coverage partial|failed, reasons)
    not_found: list[str] = field(default_factory=list)
    series: list[SeriesCheck] = field(default_factory=list)  # checks across the years of each agency in the store

    def note_coverage(self, name: str, coverage: str | None, reasons: str | None) -> None:
        """Keep a file whose stored result is not complete (the report's ``coverage`` and its reasons)."""
        if coverage in ("partial", "failed"):
            self.incomplete.append((name, coverage, reasons or ""))


def expand(inputs: list[str]) -> tuple[list[Item], list[str]]:
    """The report files named by ``inputs``; returns (items, inputs that matched nothing)."""
    items: list[Item] = []
    missing: list[str] = []
    seen: set[str] = set()

    def add_file(path: Path, explicit: bool) -> None:
        key = str(path.resolve())
        if key in seen:
            return
        seen.add(key)
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                for info in sorted(zf.infolist(), key=lambda i: i.filename):
                    if not info.is_dir() and Path(info.filename).suffix.lower() in REPORT_SUFFIXES:
                        items.append(Item(f"{path}!{info.filename}", info.file_size, path, info.filename))
        elif explicit or path.suffix.lower() in REPORT_SUFFIXES:
            items.append(Item(str(path), path.stat().st_size, path))

    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and (p.suffix.lower() in REPORT_SUFFIXES or p.suffix.lower() == ".zip"):
                    add_file(p, explicit=False)
        elif path.is_file():
            add_file(path, explicit=True)
        else:
            matches = sorted(glob.glob(raw, recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                missing.append(raw)
            for p in files:
                add_file(p, explicit=False)
    return items, missing


def run_batch(
    inputs: list[str],
    url: str,
    files_dir: Path | Blobs,
    options: PipelineOptions,
    *,
    blob_env: Mapping[str, str] | None = None,
    workers: int = 1,
    threads: int = 1,
    retry_failed: bool = False,
    progress: Progress | None = None,
    reprocess_older: bool = False,
) -> BatchSummary:
    """Extract every report file of ``inputs`` into the store at ``url`` with ``workers`` processes of
    ``threads`` inference threads each (bulk runs scale by processes: one single-threaded worker per core
    gets more through than threads inside one worker; the service's workers take cores / workers threads for
    the latency of one upload). The largest files are queued first, so that no long scan is left for the end.

    ``progress(done_files, total_files, pages, seconds)`` is called after each file (for a progress bar).
    ``reprocess_older``: read again the reports done by another pipeline version or classifier model."""
    blobs = files_dir if isinstance(files_dir, Blobs) else LocalBlobs(files_dir)
    version = pipeline_version(options.classifier)
    items, missing = expand(inputs)
    summary = BatchSummary(files=len(items), not_found=missing)
    names: dict[str, str] = {}  # sha256 -> the name the summary shows
    done_files = 0

    def outcome(job: crud.Claimed, result: Result | None, error: str | None) -> None:
        nonlocal done_files
        name = names.get(job.sha256, job.filename)
        if result is not None:
            summary.done += 1
            summary.pages += result.document.pages
            cov = result.coverage
            if cov is not None:
                summary.note_coverage(name, cov.status, "; ".join(cov.reasons))
        else:
            summary.failed += 1
            summary.errors.append((name, error or "failed"))
        done_files += 1
        if progress:
            progress(done_files, total, summary.pages, time.perf_counter() - start)

    with opened(url) as sessions:
        pool = WorkerPool(
            sessions,
            blobs,
            options,
            blob_env=blob_env,
            workers=workers,
            threads=threads,
            queue_ahead=workers,
            actor="batch",
            on_outcome=outcome,
        )
        pool.recover()  # jobs an interrupted run left running
        with sessions() as s:
            register_all(s, items, blobs, names, summary, options, retry_failed, reprocess_older, version)
            total = crud.queued(s)
        start = time.perf_counter()
        if progress:
            progress(0, total, 0, 0.0)
        try:
            pool.drain()
        finally:
            pool.stop(wait=True)
        summary.seconds = time.perf_counter() - start
        with sessions() as s:
            summary.series = crud.series(s)
    return summary


def register_all(
    s: Session,
    items: list[Item],
    blobs: Blobs,
    names: dict[str, str],
    summary: BatchSummary,
    options: PipelineOptions,
    retry_failed: bool,
    reprocess_older: bool,
    version: str,
) -> None:
    """:func:`register_item` for every item, the largest first (so that no long scan is left for the end)."""
    for item in sorted(items, key=lambda i: -i.size):
        register_item(
            s,
            item,
            blobs,
            names,
            summary,
            retry_failed,
            options.limits.max_file_mb,
            reprocess_older=reprocess_older,
            version=version,
        )


def register_item(
    s: Session,
    item: Item,
    blobs: Blobs,
    names: dict[str, str],
    summary: BatchSummary,
    retry_failed: bool,
    max_file_mb: int,
    *,
    reprocess_older: bool = False,
    version: str = PIPELINE_VERSION,
) -> None:
    """Queue a job for ``item`` unless it is done (or failed on: ``retry_failed``); a file past
    ``limits.max_file_mb`` (on disk, or inflated from its archive) is failed without being stored.

    ``version``: the pipeline version this run stamps (``service.understand.classifier.pipeline_version`` of the
    options: ``2.4``, or ``2.4+tagger.<id>`` with a retrained classifier). A report done by another version (an
    older pipeline or another model) is read again only with ``reprocess_older``; otherwise it is skipped and its
    stored result stands."""
    limit = max_file_mb * 1024 * 1024
    data = item.read(limit) if item.member is not None else None  # an archive's member: inflated, bounded
    if (data is None and item.member is not None) or (item.member is None and item.path.stat().st_size > limit):
        summary.failed += 1
        summary.errors.append((item.name, f"over the limit limits.max_file_mb = {max_file_mb}: not read"))
        return
    # a file on disk is hashed and stored streamed (never whole in memory); a member from the bytes read
    sha = hashlib.sha256(data).hexdigest() if data is not None else file_sha256(item.path)
    size = len(data) if data is not None else item.path.stat().st_size
    names[sha] = item.name
    report = crud.report_by_sha(s, sha)
    if (
        report is not None
        and (report.status == "done" or (report.status == "failed" and not retry_failed))
        and (report.pipeline_version == version or not reprocess_older)
    ):
        summary.skipped += 1
        if report.status == "failed":
            summary.errors.append((item.name, report.error or "failed"))
            summary.failed += 1
        summary.note_coverage(item.name, report.coverage, report.coverage_reasons)
        return
    stored = blobs.put(data) if data is not None else blobs.put_file(item.path)
    if stored != sha:  # the file changed between the two reads: register what was stored
        sha, names[stored] = stored, item.name
        report = crud.report_by_sha(s, sha)
    if report is None:
        crud.register(s, sha, Path(item.member or item.path).name, size, actor="batch", role="admin", source="batch")
    elif report.status in ("done", "failed"):  # done by another pipeline (--reprocess-older), or failed and retried
        crud.requeue(s, report)
