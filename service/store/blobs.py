"""Blobs: the report files the service and the batch hold, content-addressed by sha256 (written once, never changed).

Two engines behind one interface, :class:`Blobs`, opened from a URL by :func:`open_blobs`:

- a local directory (the default, the single-machine layout): ``<data dir>/blobs/<sha[:2]>/<sha>``; URL
  ``file:///data/dir`` or the plain path;
- an S3-compatible object store: ``s3://bucket/prefix`` holds ``<prefix>/blobs/<sha256>`` in ``bucket``, through
  ``pyarrow.fs.S3FileSystem`` (already a dependency for Ray Data; s3fs would add aiobotocore and botocore for the
  same calls). Endpoint, credentials and region come from the usual AWS variables in the ``env`` mapping the caller
  passes (:func:`blob_env` picks them out of ``os.environ``; nothing here reads the environment itself).

A blob is never seen half written: the local engine writes a temporary file and renames it; on S3 an object appears
only when its upload completes (a single PUT, or a multipart upload completed at close), and a file streamed by
:meth:`Blobs.put_file` goes to a temporary key first and is copied under its hash only once the hash is checked. Two
writers of the same blob write the same bytes: one object either way. ``url`` reopens the same store in another
process (a worker, a Ray actor) with :func:`open_blobs`; :meth:`Blobs.fetch` gives a worker a local file.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import pyarrow as pa
from pyarrow import fs as pafs

from service.options import BlobsOptions

CHUNK = 1024 * 1024  # bytes read and written per step when a file is streamed (never a whole file in memory)


@dataclass(frozen=True)
class S3Settings:
    """How long the S3 engine waits: an unreachable or stalled endpoint is an error after at most about
    ``attempts * (connect_timeout_s or request_timeout_s)`` plus the retries' backoff (defaults: 30 s for a server
    that accepts and never answers; ~1 s for a refused connection). TODO option: the caller's options."""

    connect_timeout_s: float = 3.0  # to open a connection to the endpoint
    # a request that receives less than 1 byte/s for this long ends (libcurl's low-speed limit, which is how pyarrow
    # applies its request_timeout on Linux); long enough for a server-side copy that sends nothing until done
    request_timeout_s: float = 10.0
    attempts: int = 3  # tries per request (the AWS standard retry strategy, with backoff)


def s3_settings(options: BlobsOptions) -> S3Settings:
    """The S3 engine's waits as the pipeline's options state them (``blobs:`` in configs/pipeline.yaml)."""
    return S3Settings(options.connect_timeout_s, options.request_timeout_s, options.attempts)


DEFAULT_REGION = "us-east-1"  # where AWS_REGION is not set (S3-compatible servers accept any region)

# the variables that configure the S3 engine, in the order they are looked up (the first one set wins)
ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")
BLOB_ENV_VARS = (*ENDPOINT_VARS, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", *REGION_VARS)

_SHA256 = re.compile(r"[0-9a-f]{64}")
T = TypeVar("T")


class BlobError(Exception):
    """A blob store operation failed; the message names the store and what was asked of it."""


class BlobMissing(BlobError):
    """The store holds no blob with this sha256."""


class BlobStoreUnreachable(BlobError):
    """The store's endpoint could not be reached (refused, timed out, no route) after the configured tries."""


def blob_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` that configure the S3 engine (what a caller passes to :func:`open_blobs`, and
    hands on to worker processes)."""
    return {k: environ[k] for k in BLOB_ENV_VARS if environ.get(k)}


def check_sha(sha256: str) -> str:
    """``sha256`` if it is one (64 lowercase hex digits): no other string may name a file or an object key."""
    if not _SHA256.fullmatch(sha256):
        raise BlobError(f"not a sha256: {sha256!r}")
    return sha256


def _copy_hashed(read: Callable[[int], bytes], write: Callable[[bytes], object]) -> str:
    """Copy what ``read(n)`` gives to ``write`` in chunks until it gives nothing; the sha256 of what was copied."""
    digest = hashlib.sha256()
    while chunk := read(CHUNK):
        digest.update(chunk)
        write(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """The sha256 of the file at ``path``, read in chunks."""
    with open(path, "rb") as f:
        return _copy_hashed(f.read, lambda _chunk: None)


class Blobs(ABC):
    """A content-addressed blob store. ``url`` reopens it elsewhere (:func:`open_blobs`)."""

    url: str

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data`` (unless it is there already); its sha256."""

    @abstractmethod
    def put_file(self, path: Path) -> str:
        """Store the file at ``path``, streamed in chunks and hashed while read (unless it is there already); its
        sha256."""

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether the store holds this blob."""

    @abstractmethod
    def get(self, sha256: str) -> bytes:
        """The blob's bytes (checked against its hash); :class:`BlobMissing` if there is none."""

    @abstractmethod
    def size(self, sha256: str) -> int:
        """The blob's size in bytes; :class:`BlobMissing` if there is none."""

    @abstractmethod
    def fetch(self, sha256: str, folder: Path) -> Path:
        """A local file holding the blob: the store's own file where it has one (the local engine: nothing is
        copied, never write to it), else ``folder/<sha256>``, downloaded once (checked against its hash)."""

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`BlobError` (:class:`BlobStoreUnreachable`) unless the store can be used now."""

    @contextmanager
    def local_file(self, sha256: str) -> Iterator[Path]:
        """A local file holding the blob for the ``with`` block: the store's own file, or a temporary copy that is
        removed afterwards."""
        folder = Path(tempfile.mkdtemp(prefix="xxgk-blob-"))
        try:
            yield self.fetch(sha256, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def missing(self, sha256: str) -> BlobMissing:
        return BlobMissing(f"blob {sha256} is not in the store {self.url}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class LocalBlobs(Blobs):
    """Blobs in a directory: ``<root>/blobs/<sha[:2]>/<sha>`` (``root`` is the data dir)."""

    def __init__(self, root: Path):
        self.base = Path(root).absolute()
        self.root = self.base / "blobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = self.base.as_uri()

    def path(self, sha256: str) -> Path:
        """Where the blob is (or would be) kept."""
        check_sha(sha256)
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Written to a temporary file and renamed: a crash leaves no half file."""
        sha = hashlib.sha256(data).hexdigest()
        if self.path(sha).exists():
            return sha
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".part-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return self._settle(Path(tmp), sha)

    def put_file(self, path: Path) -> str:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                sha = _copy_hashed(src.read, out.write)
        except BaseException:
            os.unlink(tmp)
            raise
        return self._settle(Path(tmp), sha)

    def _settle(self, tmp: Path, sha: str) -> str:
        """Move the written temporary file ``tmp`` to its place (synced first), or drop it if the blob is there."""
        try:
            dest = self.path(sha)
            if not dest.exists():
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                dest.parent.mkdir(exist_ok=True)
                os.replace(tmp, dest)  # atomic: a concurrent writer of the same blob renames the same bytes
        finally:
            tmp.unlink(missing_ok=True)
        return sha

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def get(self, sha256: str) -> bytes:
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise self.missing(sha256) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobError(f"blob {sha256} in the store {self.url} does not match its hash")
        return data

    def size(self, sha256: str) -> int:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise self.missing(sha256) from None

    def fetch(self, sha256: str, folder: Path) -> Path:
        path = self.path(sha256)
        if not path.is_file():
            raise self.missing(sha256)
        return path

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise BlobError(f"the blob store {self.url}: {self.root} is not writable")


class S3Blobs(Blobs):
    """Blobs in an S3-compatible object store: ``s3://bucket/prefix`` holds ``<prefix>/blobs/<sha256>``."""

    def __init__(self, url: str, env: Mapping[str, str], settings: S3Settings = S3Settings()):
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise BlobError(f"not an S3 blob store URL (s3://bucket/prefix): {url!r}")
        self.bucket = parts.netloc
        self.prefix = unquote(parts.path).strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        top = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        self._blobs = f"{top}/blobs"
        self._parts = f"{top}/blobs.part"  # files being streamed in (a lifecycle rule may expire strays here)
        endpoint = next((env[k] for k in ENDPOINT_VARS if env.get(k)), None)
        self.endpoint = endpoint or "AWS"
        key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        if bool(key) != bool(secret):
            raise BlobError(f"the blob store {self.url}: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        region = next((env[k] for k in REGION_VARS if env.get(k)), DEFAULT_REGION)
        scheme, host = "https", None
        if endpoint:
            ep = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
            if ep.scheme not in ("http", "https") or not ep.netloc:
                raise BlobError(f"the blob store {self.url}: not an endpoint URL: {endpoint!r}")
            scheme, host = ep.scheme, ep.netloc
        self._client = _Client(host, scheme, region, key, secret, env.get("AWS_SESSION_TOKEN"), settings)

    @property
    def _fs(self) -> pafs.S3FileSystem:
        return _client(self._client)

    def key(self, sha256: str) -> str:
        """The blob's object, as ``bucket/key``."""
        return f"{self._blobs}/{check_sha(sha256)}"

    def _fail(self, what: str, exc: OSError) -> BlobError:
        text = str(exc)
        where = f"the blob store {self.url} (endpoint {self.endpoint})"
        if "NETWORK_CONNECTION" in text or "curlCode" in text:
            return BlobStoreUnreachable(f"{where} cannot be reached ({what}): {text}")
        return BlobError(f"{where}: {what} failed: {text}")

    def _info(self, sha256: str) -> pafs.FileInfo:
        try:
            return self._fs.get_file_info(self.key(sha256))
        except OSError as e:
            raise self._fail(f"looking up blob {sha256}", e) from None

    def exists(self, sha256: str) -> bool:
        return bool(self._info(sha256).type == pafs.FileType.File)

    def size(self, sha256: str) -> int:
        info = self._info(sha256)
        if info.type != pafs.FileType.File:
            raise self.missing(sha256)
        return int(info.size)

    def _call(self, what: str, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)``, an S3 request: its OSError becomes a :class:`BlobError` naming the store and ``what``."""
        try:
            return fn(*args)
        except OSError as e:
            raise self._fail(what, e) from None

    def put(self, data: bytes) -> str:
        """One write of the whole bytes, then close: the object appears complete or not at all."""
        sha = hashlib.sha256(data).hexdigest()
        if self.exists(sha):
            return sha
        what = f"storing blob {sha}"
        out = self._call(what, self._fs.open_output_stream, self.key(sha))
        self._call(what, out.write, data)
        self._call(what, out.close)
        return sha

    def put_file(self, path: Path) -> str:
        """Hashed first (a local read; nothing is sent when the store has it), then streamed to a temporary object
        and hashed again while sent, and copied under its hash only if both agree (the file did not change
        meanwhile; a read error or an interruption leaves no object under a hash). The server-side copy is one
        CopyObject: objects up to 5 GB on AWS."""
        sha = file_sha256(path)
        if self.exists(sha):
            return sha
        what = f"storing {path} as blob {sha}"
        part = f"{self._parts}/{uuid.uuid4().hex}"
        moved = False
        try:
            out = self._call(what, self._fs.open_output_stream, part)
            try:
                with open(path, "rb") as src:
                    sent = _copy_hashed(src.read, lambda chunk: self._call(what, out.write, chunk))
            except BaseException:
                with suppress(OSError):
                    out.close()  # completes the temporary object, removed below
                raise
            self._call(what, out.close)
            if sent != sha:
                raise BlobError(f"{path} changed while it was stored in {self.url}: not stored")
            if not self.exists(sha):
                self._call(what, self._fs.move, part, self.key(sha))  # CopyObject, then DeleteObject
                moved = True
        finally:
            if not moved:
                with suppress(OSError):
                    self._fs.delete_file(part)
        return sha

    def _open(self, sha256: str) -> pa.NativeFile:
        try:
            return self._fs.open_input_stream(self.key(sha256))
        except FileNotFoundError:
            raise self.missing(sha256) from None
        except OSError as e:
            raise self._fail(f"reading blob {sha256}", e) from None

    def get(self, sha256: str) -> bytes:
        with self._open(sha256) as src:
            data = self._call(f"reading blob {sha256}", src.read)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobError(f"blob {sha256} in the store {self.url} does not match its hash")
        return bytes(data)

    def fetch(self, sha256: str, folder: Path) -> Path:
        dest = Path(folder) / check_sha(sha256)
        if dest.is_file():  # fetched before (only a checked download is ever renamed there)
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        what = f"reading blob {sha256}"
        with self._open(sha256) as src:
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as out:
                    got = _copy_hashed(lambda n: self._call(what, src.read, n), out.write)
                if got != sha256:
                    raise BlobError(f"blob {sha256} in the store {self.url} does not match its hash")
                os.replace(tmp, dest)
            finally:
                Path(tmp).unlink(missing_ok=True)
        return dest

    def check(self) -> None:
        try:
            info = self._fs.get_file_info(self.bucket)
        except OSError as e:
            raise self._fail("looking up the bucket", e) from None
        if info.type != pafs.FileType.Directory:
            raise BlobError(f"the blob store {self.url} (endpoint {self.endpoint}): no bucket {self.bucket}")


@dataclass(frozen=True)
class _Client:
    """What an S3 client is made from (stores that share it share one client)."""

    host: str | None  # the endpoint's host:port; None: AWS
    scheme: str
    region: str
    key: str | None
    secret: str | None = field(repr=False)
    token: str | None = field(repr=False)
    settings: S3Settings


_clients: dict[_Client, pafs.S3FileSystem] = {}
_clients_lock = threading.Lock()


def _client(c: _Client) -> pafs.S3FileSystem:
    """The process's S3 client for ``c``, made on first use. This registry holds the only references to the
    clients, so that :func:`_drop_clients` can end them all at exit."""
    with _clients_lock:
        fs = _clients.get(c)
        if fs is None:
            options: dict[str, object] = {
                "region": c.region,
                "connect_timeout": c.settings.connect_timeout_s,
                "request_timeout": c.settings.request_timeout_s,
                "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=c.settings.attempts),
                # parts sent one after the other: with background writes, the parts of a file read faster than they
                # are sent pile up in memory (a 50 MB put_file peaked 46 MB higher; now 2 MB)
                "background_writes": False,
            }
            if c.key:  # the credentials given, else anonymous: never the SDK's own search (files, instance metadata)
                options.update(access_key=c.key, secret_key=c.secret, session_token=c.token)
            else:
                options["anonymous"] = True
            if c.host:
                options.update(endpoint_override=c.host, scheme=c.scheme)
            fs = _clients[c] = pafs.S3FileSystem(**options)
        return fs


@atexit.register  # registered after pyarrow.fs registered its own S3 finalizer: atexit runs this one first
def _drop_clients() -> None:
    """End every S3 client before pyarrow finalizes the AWS SDK at exit: a client that outlives that can deadlock
    the interpreter's exit (apache/arrow#50188; seen here as a pytest that finished and never exited)."""
    with _clients_lock:
        _clients.clear()


def open_blobs(url: str | Path, env: Mapping[str, str] | None = None, s3: S3Settings = S3Settings()) -> Blobs:
    """The blob store at ``url``: ``s3://bucket/prefix`` (configured by the AWS variables of ``env``, see
    :func:`blob_env`, and ``s3``), ``file:///dir`` or a plain directory (the data dir; its blobs are in
    ``dir/blobs``)."""
    text = str(url)
    if text.startswith("s3://"):
        return S3Blobs(text, blob_env(env or {}), s3)
    if text.startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise BlobError(f"not a local blob store URL (file:///dir): {text!r}")
        return LocalBlobs(Path(unquote(parts.path)))
    if "://" in text:
        raise BlobError(f"unknown blob store URL {text!r}: s3://bucket/prefix, file:///dir or a directory")
    return LocalBlobs(Path(text))
