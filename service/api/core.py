"""Service settings and the objects one app holds: store, blobs, worker pool, metrics."""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from service.cluster import RayJobRunner
from service.jobs import WorkerPool, die_with_parent, threads_per_worker
from service.options import PipelineOptions, load_options
from service.pages import NoPage, render_page
from service.store import crud, data_dir, database_url, open_store
from service.store.blobs import S3Settings, blob_env, open_blobs, s3_settings
from service.store.db import make_async_engine

LOOPBACK = ("127.0.0.1", "::1", "localhost")
READ_PATHS = ("auto", "asyncio", "threads")
P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class ServiceConfig:
    data_dir: Path | None = None  # --data-dir, else XXGK_DATA_DIR, else ~/.local/share/xxgk
    database_url: str | None = None  # else XXGK_DATABASE_URL, else SQLite in the data directory
    workers: int = field(default_factory=lambda: int(os.environ.get("XXGK_WORKERS", "1")))
    # no tokens: every request acts as admin "local"
    local: bool = field(default_factory=lambda: os.environ.get("XXGK_AUTH", "") == "local")
    max_upload_mb: int = field(default_factory=lambda: int(os.environ.get("XXGK_MAX_UPLOAD_MB", "200")))
    # how the read endpoints reach the store without blocking the event loop: "asyncio" (the asyncio engine:
    # asyncpg, aiosqlite), "threads" (the plain engine on a small thread pool of its own, read_threads) or "auto":
    # threads for SQLite, asyncio for any other database (the faster of the two on each: bench_service, README)
    reads: str = field(default_factory=lambda: os.environ.get("XXGK_READS", "auto"))
    read_threads: int = field(default_factory=lambda: int(os.environ.get("XXGK_READ_THREADS", "2")))
    start_workers: bool = True
    options: PipelineOptions | None = None  # the pipeline's options; None: configs/pipeline.yaml + environment
    # where uploads are kept: s3://bucket/prefix (the AWS variables configure it) or a folder; None: the data dir
    blob_url: str | None = field(default_factory=lambda: os.environ.get("XXGK_BLOB_URL") or None)
    blob_env: dict[str, str] = field(default_factory=lambda: blob_env(os.environ))
    # who runs the jobs: "local" (worker processes), "ray" (the actors of the Ray cluster at RAY_ADDRESS or
    # cluster.address); empty: the options' cluster.engine
    engine: str = field(default_factory=lambda: os.environ.get("XXGK_ENGINE", ""))


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("xxgk_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "xxgk_http_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.uploads = Counter("xxgk_uploads", "uploads by outcome (new, duplicate, rejected)", ["outcome"], registry=r)
        self.corrections = Counter(
            "xxgk_corrections", "cell corrections by outcome (applied, stale)", ["outcome"], registry=r
        )


@dataclass(frozen=True)
class Caller:
    """Who calls: a token's holder and role, and the agencies it is bound to (None: unbound, every report)."""

    name: str
    role: str
    agencies: tuple[str, ...] | None = None
    scope: crud.Scope = field(init=False)  # the agencies as reports are matched on them (crud.scope_of)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", crud.scope_of(self.agencies))


RENDER_WAIT = 60.0  # seconds a page image may take to render
TOKEN_WATCH = 1.0  # seconds between looks at the store's revocations (one small query; the cache is cleared on one)


class TokenCache:
    """Tokens seen in the last ``ttl`` seconds; cleared whenever a token is revoked (``Service.watch_tokens``), so a
    revocation takes effect within TOKEN_WATCH seconds, from this process or another (``xxgk token revoke``)."""

    def __init__(self, ttl: float = 30.0, size: int = 1024) -> None:
        self.ttl, self.size = ttl, size
        self._items: dict[str, tuple[float, Caller]] = {}

    def get(self, token: str) -> Caller | None:
        hit = self._items.get(token)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, token: str, who: Caller, ttl: float | None = None) -> None:
        """Remember ``who`` for ``ttl`` seconds (at most the cache's own)."""
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[token] = (time.monotonic() + min(self.ttl, self.ttl if ttl is None else ttl), who)

    def clear(self) -> None:
        self._items.clear()


class ResultCache:
    """The JSON of result versions (immutable once written), newest used kept: bounded by bytes."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: tuple[str, int], body: bytes) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = body
            self._size += len(body)
            while self._size > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)


def read_path(choice: str, url: str) -> str:
    """``asyncio`` or ``threads`` for the setting ``choice`` (see ServiceConfig.reads) on the database at ``url``."""
    if choice not in READ_PATHS:
        raise ValueError(f"XXGK_READS={choice!r}: expected one of {', '.join(READ_PATHS)}")
    if choice == "auto":
        return "threads" if make_url(url).get_backend_name() == "sqlite" else "asyncio"
    return choice


def render_blob(
    blob_url: str, env: Mapping[str, str], s3: S3Settings, sha256: str, filename: str, number: int
) -> tuple[bytes, float]:
    """What the render worker runs: a page image of the stored file (a local copy where the store is S3)."""
    with open_blobs(blob_url, env, s3).local_file(sha256) as path:
        return render_page(path, filename, number)


class Service:
    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        self.options = cfg.options or load_options()
        self.data = data_dir(cfg.data_dir)
        self.url = database_url(self.data, cfg.database_url)
        self.engine: Engine
        self.sessions: sessionmaker[Session]
        self.engine, self.sessions = open_store(self.url)
        self.s3 = s3_settings(self.options.blobs)
        self.blobs = open_blobs(cfg.blob_url or self.data, cfg.blob_env, self.s3)
        self.pages_dir = self.data / "pages"
        # page images for review are decoded in a worker process of their own (one; it dies with the server), never
        # in the API process: a huge page cannot take the server's memory
        self._render_pool: ProcessPoolExecutor | None = None
        self.metrics = Metrics()
        self.results = ResultCache()
        self.tokens = TokenCache()
        self.reads = read_path(cfg.reads, self.url)
        # reads on threads: a pool of their own, two threads by default (not the 40 of Starlette's pool: on SQLite,
        # fewer threads contend less for the interpreter; bench_service p95 ~20 ms against ~48 ms)
        self.read_pool = ThreadPoolExecutor(cfg.read_threads, "read") if self.reads == "threads" else None
        # reads on the asyncio engine: the event loop awaits the database (asyncpg, aiosqlite)
        self.async_engine: AsyncEngine | None = make_async_engine(self.url) if self.reads == "asyncio" else None
        self.async_sessions = (
            async_sessionmaker(self.async_engine, expire_on_commit=False) if self.async_engine is not None else None
        )
        engine = cfg.engine or self.options.cluster.engine
        if engine not in ("local", "ray"):
            raise ValueError(f"XXGK_ENGINE={engine!r}: expected local or ray")
        self.pool: WorkerPool | RayJobRunner
        if engine == "ray":  # the jobs table stays the source of truth; the cluster's actors run the jobs
            self.pool = RayJobRunner(self.sessions, self.url, self.blobs, cfg.blob_env, self.options)
        else:
            self.pool = WorkerPool(
                self.sessions,
                self.blobs,
                self.options,
                blob_env=cfg.blob_env,
                workers=cfg.workers,
                threads=threads_per_worker(cfg.workers),
            )

    def start(self) -> None:
        if self.cfg.start_workers:
            self.pool.start()

    def render_page(self, sha256: str, filename: str, number: int) -> tuple[bytes, float]:
        """A page image for review (PNG bytes, scale), rendered in the render worker process; NoPage when there is
        none (raised again here)."""
        if self._render_pool is None:
            self._render_pool = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent
            )
        try:
            job = self._render_pool.submit(
                render_blob, self.blobs.url, self.cfg.blob_env, self.s3, sha256, filename, number
            )
            return job.result(RENDER_WAIT)
        except BrokenProcessPool:  # the renderer died (out of memory): a new one for the next page
            self._render_pool = None
            raise NoPage(f"page {number} could not be rendered") from None

    async def watch_tokens(self) -> None:
        """Clear the token cache whenever the store's revocations change (runs for the server's life)."""
        seen = None
        while True:
            try:
                now = await self.read(crud.revocations)
                if seen is not None and now != seen:
                    self.tokens.clear()
                seen = now
            except Exception:  # the database is busy or gone for a moment: look again at the next turn
                self.tokens.clear()
            await asyncio.sleep(TOKEN_WATCH)

    async def stop(self) -> None:
        if self.cfg.start_workers:
            self.pool.stop()
        self.engine.dispose()
        if self.read_pool is not None:
            self.read_pool.shutdown(wait=True)
        if self._render_pool is not None:
            self._render_pool.shutdown(wait=False, cancel_futures=True)
        if self.async_engine is not None:
            await self.async_engine.dispose()

    def _read_sync(self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self.sessions() as s:
            return work(s, *args, **kwargs)

    async def read(self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(session, *args, **kwargs)`` off the event loop (the read endpoints' way to the store): on the
        asyncio engine its queries are awaited; on the thread pool the loop serves other requests meanwhile."""
        if self.async_sessions is not None:
            async with self.async_sessions() as s:
                return await s.run_sync(work, *args, **kwargs)
        call = functools.partial(self._read_sync, work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.read_pool, call)

    async def token_caller(self, token: str) -> Caller | None:
        """Who holds ``token`` (None: unknown or revoked); looked up in the store once, then cached."""
        known = self.tokens.get(token)
        if known is not None:
            return known
        row = await self.read(crud.lookup_token, token)
        if row is None:
            return None
        who = Caller(row.name, row.role, None if row.agencies is None else tuple(row.agencies))
        left = None if row.expires_at is None else (crud.aware(row.expires_at) - datetime.now(UTC)).total_seconds()
        self.tokens.put(token, who, left)  # an expiring token is not remembered past its expiry
        return who
