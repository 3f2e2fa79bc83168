"""Service settings and the objects one app holds: store, blobs, worker pool, metrics."""
from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.jobs import WorkerPool
from service.store import BlobStore, data_dir, database_url, open_store

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class ServiceConfig:
    data_dir: Path | None = None  # --data-dir, else XXGK_DATA_DIR, else ~/.local/share/xxgk
    database_url: str | None = None  # else XXGK_DATABASE_URL, else SQLite in the data directory
    workers: int = field(default_factory=lambda: int(os.environ.get("XXGK_WORKERS", "1")))
    # no tokens: every request acts as admin "local"
    local: bool = field(default_factory=lambda: os.environ.get("XXGK_AUTH", "") == "local")
    max_upload_mb: int = field(default_factory=lambda: int(os.environ.get("XXGK_MAX_UPLOAD_MB", "200")))
    start_workers: bool = True


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("xxgk_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram("xxgk_http_request_seconds", "HTTP request latency", ["route"], registry=r,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.uploads = Counter("xxgk_uploads", "uploads by outcome (new, duplicate, rejected)", ["outcome"],
                               registry=r)
        self.corrections = Counter("xxgk_corrections", "cell corrections by outcome (applied, stale)", ["outcome"],
                                   registry=r)


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


class TokenCache:
    """Tokens seen in the last ``ttl`` seconds (a revocation takes effect within that time)."""

    def __init__(self, ttl: float = 30.0, size: int = 1024):
        self.ttl, self.size = ttl, size
        self._items: dict[str, tuple[float, Caller]] = {}

    def get(self, token: str) -> Caller | None:
        hit = self._items.get(token)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, token: str, who: Caller) -> None:
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[token] = (time.monotonic() + self.ttl, who)


class ResultCache:
    """The JSON of result versions (immutable once written), newest used kept: bounded by bytes."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024):
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


class Service:
    def __init__(self, cfg: ServiceConfig):
        self.cfg = cfg
        self.data = data_dir(cfg.data_dir)
        self.url = database_url(self.data, cfg.database_url)
        self.engine: Engine
        self.sessions: sessionmaker[Session]
        self.engine, self.sessions = open_store(self.url)
        self.blobs = BlobStore(self.data)
        self.pages_dir = self.data / "pages"
        self.metrics = Metrics()
        self.results = ResultCache()
        self.tokens = TokenCache()
        self.pool = WorkerPool(self.sessions, self.blobs, cfg.workers)

    def start(self) -> None:
        if self.cfg.start_workers:
            self.pool.start()

    def stop(self) -> None:
        if self.cfg.start_workers:
            self.pool.stop()
        self.engine.dispose()
