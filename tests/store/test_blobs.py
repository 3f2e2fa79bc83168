"""Blobs, content-addressed, on both engines: a local directory and a real S3 server (SeaweedFS on the loopback)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyarrow import fs as pafs

from service.store.blobs import (
    BlobError,
    BlobMissing,
    Blobs,
    BlobStoreUnreachable,
    LocalBlobs,
    S3Blobs,
    S3Settings,
    blob_env,
    file_sha256,
    open_blobs,
)
from tests.conftest import run_measured, source_of
from tests.s3server import S3Server

ENGINES = ["local", "s3"]
NOWHERE = "0" * 64  # a sha256 no test stores


def _random_file(path: Path, mib: int, seed: int) -> Path:
    """``mib`` MiB of seeded random bytes (incompressible), written a MiB at a time."""
    rng = random.Random(seed)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(1 << 20))
    return path


def _objects(server: S3Server, url: str) -> list[str]:
    """Every object under the S3 URL ``url``, as keys relative to it."""
    top = url.removeprefix("s3://")
    found = server.filesystem().get_file_info(pafs.FileSelector(top, recursive=True, allow_not_found=True))
    return sorted(i.path.removeprefix(top + "/") for i in found if i.type == pafs.FileType.File)


@dataclass
class Engine:
    """A store under test, the variables another process needs to reopen it, and its S3 server (if on S3)."""

    blobs: Blobs
    env: dict[str, str]
    server: S3Server | None = None


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """An empty store of each engine: a local directory, or a fresh prefix in the S3 server's bucket."""
    if request.param == "local":
        return Engine(LocalBlobs(tmp_path / "data"), {})
    server: S3Server = request.getfixturevalue("s3_server")
    return Engine(open_blobs(server.url(f"t-{uuid.uuid4().hex[:12]}"), server.env), server.env, server)


def test_blobs_are_content_addressed(tmp_path):
    blobs = LocalBlobs(tmp_path)
    sha = blobs.put(b"abc")
    assert sha == hashlib.sha256(b"abc").hexdigest()
    assert blobs.path(sha) == tmp_path / "blobs" / sha[:2] / sha
    assert blobs.path(sha).read_bytes() == b"abc" and blobs.put(b"abc") == sha
    assert not list(blobs.root.rglob(".part-*"))  # written to a temporary file and renamed


def test_every_operation(engine: Engine, tmp_path: Path):
    blobs = engine.blobs
    data = b"a report's bytes \x00\xff" * 1000
    sha = hashlib.sha256(data).hexdigest()
    assert not blobs.exists(sha)
    assert blobs.put(data) == sha and blobs.exists(sha)
    assert blobs.get(sha) == data and blobs.size(sha) == len(data)
    assert blobs.put(data) == sha  # already there: the same answer
    other = tmp_path / "other.bin"
    other.write_bytes(b"another file")
    sha2 = blobs.put_file(other)
    assert sha2 == hashlib.sha256(b"another file").hexdigest() and blobs.get(sha2) == b"another file"
    fetched = blobs.fetch(sha2, tmp_path / "work")
    assert fetched.read_bytes() == b"another file"
    assert blobs.fetch(sha2, tmp_path / "work") == fetched  # fetched once
    with blobs.local_file(sha) as path:
        assert path.read_bytes() == data
    assert path.exists() == isinstance(blobs, LocalBlobs)  # a temporary copy is gone after the block
    blobs.check()
    assert open_blobs(blobs.url, engine.env).get(sha) == data


def test_a_dev_report_goes_in_and_comes_out_byte_identical(engine: Engine, tmp_path: Path):
    blobs = engine.blobs
    source = source_of("r001")
    assert source.suffix == ".pdf"
    raw = source.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    assert blobs.put_file(source) == sha and blobs.put(raw) == sha
    assert blobs.size(sha) == len(raw) and blobs.get(sha) == raw
    got = blobs.fetch(sha, tmp_path / "fetched")
    assert got.read_bytes() == raw and file_sha256(got) == sha
    if isinstance(blobs, LocalBlobs):  # the layout of existing data dirs; fetch hands out the store's own file
        assert got == tmp_path / "data" / "blobs" / sha[:2] / sha
        assert not (tmp_path / "fetched").exists() or not any((tmp_path / "fetched").iterdir())
        assert not list(blobs.root.rglob(".part-*"))
    else:  # one object, <prefix>/blobs/<sha256>; no temporary object left
        assert engine.server is not None and _objects(engine.server, blobs.url) == [f"blobs/{sha}"]
        assert got == tmp_path / "fetched" / sha and not list((tmp_path / "fetched").glob(".part-*"))


def test_a_missing_blob_is_a_clear_error(engine: Engine, tmp_path: Path):
    blobs = engine.blobs
    start = time.perf_counter()
    assert not blobs.exists(NOWHERE)
    for call in (blobs.get, blobs.size, lambda sha: blobs.fetch(sha, tmp_path)):
        with pytest.raises(BlobMissing) as e:
            call(NOWHERE)
        assert NOWHERE in str(e.value) and blobs.url in str(e.value)
    assert time.perf_counter() - start < 2
    assert not list(tmp_path.glob("*.part-*")) and not (tmp_path / NOWHERE).exists()
    with pytest.raises(BlobError, match="not a sha256"):  # no other string names a file or an object
        blobs.get("../" + NOWHERE[3:])


def _put_at_once(url: str, env: dict[str, str], path: str, barrier, results) -> None:
    barrier.wait()
    results.put(open_blobs(url, env).put_file(Path(path)))


def test_the_same_blob_from_two_processes_at_once_is_one_object(engine: Engine, tmp_path: Path):
    blobs = engine.blobs
    path = _random_file(tmp_path / "scan.pdf", 12, seed=1)  # several upload parts on S3
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    env = engine.env
    procs = [ctx.Process(target=_put_at_once, args=(blobs.url, env, str(path), barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    sha = file_sha256(path)
    assert [results.get(timeout=5), results.get(timeout=5)] == [sha, sha]
    assert blobs.get(sha) == path.read_bytes()
    if isinstance(blobs, LocalBlobs):
        assert [p.name for p in blobs.root.rglob("*")] == [sha[:2], sha]  # no temporary file left
    else:
        assert engine.server is not None and _objects(engine.server, blobs.url) == [f"blobs/{sha}"]


PUT_FILE = (
    "import json, sys, time; from pathlib import Path; from service.store.blobs import open_blobs; "
    "blobs = open_blobs(sys.argv[1], json.loads(sys.argv[2])); start = time.perf_counter(); "
    "sha = blobs.put_file(Path(sys.argv[3])); print(sha, time.perf_counter() - start, file=sys.stderr)"
)


def test_a_large_file_is_put_with_bounded_memory(engine: Engine, tmp_path: Path):
    """50 MB streamed in: the process's peak grows by a few MB over storing a 1-byte file, never by the file."""
    blobs = engine.blobs
    env = json.dumps(engine.env)
    tiny = tmp_path / "tiny.bin"
    tiny.write_bytes(b"x")
    big = _random_file(tmp_path / "big.pdf", 50, seed=2)
    code, base_rss, err = run_measured(["-c", PUT_FILE, blobs.url, env, str(tiny)])
    assert code == 0, err
    code, rss, err = run_measured(["-c", PUT_FILE, blobs.url, env, str(big)])
    assert code == 0, err
    sha, seconds = err.split()[-2:]
    print(f"{type(blobs).__name__}: put_file 50 MiB in {float(seconds):.2f} s, peak RSS {rss >> 20} MiB "
          f"(a 1-byte file: {base_rss >> 20} MiB)")  # fmt: skip
    assert rss - base_rss < 20 << 20, (rss >> 20, base_rss >> 20)
    assert sha == file_sha256(big) and blobs.size(sha) == 50 << 20


def _read_in_child(url: str, env: dict[str, str], sha: str, folder: str, results) -> None:
    blobs = open_blobs(url, env)
    path = blobs.fetch(sha, Path(folder))
    results.put((str(path), file_sha256(path), hashlib.sha256(blobs.get(sha)).hexdigest()))


def test_the_url_reopens_the_store_in_another_process(engine: Engine, tmp_path: Path):
    blobs = engine.blobs
    sha = blobs.put_file(source_of("r001"))
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    env = engine.env
    child = ctx.Process(target=_read_in_child, args=(blobs.url, env, sha, str(tmp_path / "w"), results))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    path, fetched_sha, got_sha = results.get(timeout=5)
    assert fetched_sha == got_sha == sha
    expected = blobs.fetch(sha, tmp_path / "here") if isinstance(blobs, LocalBlobs) else tmp_path / "w" / sha
    assert Path(path) == expected


def test_a_file_that_changes_while_stored_is_not_stored(s3_server: S3Server, tmp_path: Path):  # noqa: F811
    """The S3 engine hashes a file, then streams it: a file that reads differently the second time (a FIFO fed
    twice) leaves no object under either hash and no temporary object."""
    blobs = open_blobs(s3_server.url(f"t-{uuid.uuid4().hex[:12]}"), s3_server.env)
    fifo = tmp_path / "changing.pdf"
    os.mkfifo(fifo)
    first, second = b"first version " * 1000, b"second version " * 1000

    def opened_here(but: int) -> bool:  # whether this process holds the FIFO open on an fd other than ``but``
        for fd in os.listdir("/proc/self/fd"):  # (a read blocked in open() holds no fd yet)
            try:
                if int(fd) != but and os.readlink(f"/proc/self/fd/{fd}") == str(fifo):
                    return True
            except OSError:  # closed meanwhile
                pass
        return False

    def wait_until(opened: bool, but: int = -1) -> None:
        deadline = time.monotonic() + 30
        while opened_here(but) != opened and time.monotonic() < deadline:
            time.sleep(0.001)

    def feed() -> None:  # the first version for the first read; the second once that read has closed the FIFO
        with open(fifo, "wb") as f:
            f.write(first)
            wait_until(opened=True, but=f.fileno())  # the reader's open() has returned: it reads to the end
        wait_until(opened=False)  # it saw the end and closed: the next open() is the second read's
        with open(fifo, "wb") as f:
            f.write(second)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    with pytest.raises(BlobError, match="changed while it was stored"):
        blobs.put_file(fifo)
    feeder.join(5)
    assert _objects(s3_server, blobs.url) == []
    assert not blobs.exists(hashlib.sha256(first).hexdigest()) and not blobs.exists(hashlib.sha256(second).hexdigest())


def test_wrong_credentials_are_an_error_not_a_missing_blob(s3_server: S3Server):  # noqa: F811
    blobs = open_blobs(s3_server.url("t-denied"), {**s3_server.env, "AWS_SECRET_ACCESS_KEY": "wrong"})
    for call in (blobs.exists, blobs.get):
        with pytest.raises(BlobError) as e:
            call(NOWHERE)
        assert not isinstance(e.value, BlobMissing) and "ACCESS_DENIED" in str(e.value)
    with pytest.raises(BlobError, match="no bucket"):
        open_blobs(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/x", s3_server.env).check()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_an_unreachable_endpoint_is_a_clear_error_soon():
    """Nothing listens (connection refused), or a server accepts and never answers: an error naming the store and
    its endpoint after the configured tries, never a hang (the silent server with shorter settings than the
    defaults' 3 tries of 10 s, to keep the test short)."""
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    refused = open_blobs("s3://bucket/refused", {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}"})
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepted by the kernel, never answered
    endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
    short = S3Settings(connect_timeout_s=1, request_timeout_s=2, attempts=2)
    hung = open_blobs("s3://bucket/silent", {**env, "AWS_ENDPOINT_URL": endpoint}, short)
    try:
        for blobs, bound in ((refused, 10), (hung, 10)):
            start = time.perf_counter()
            with pytest.raises(BlobStoreUnreachable) as e:
                blobs.exists(NOWHERE)
            took = time.perf_counter() - start
            print(f"{blobs.url}: unreachable after {took:.1f} s")
            assert took < bound and blobs.url in str(e.value) and "127.0.0.1" in str(e.value)
    finally:
        silent.close()


def test_store_urls(tmp_path: Path):
    assert isinstance(open_blobs(tmp_path), LocalBlobs)
    local = open_blobs(tmp_path / "d")
    assert local.url == (tmp_path / "d").as_uri() and open_blobs(local.url, {}).url == local.url
    assert (tmp_path / "d" / "blobs").is_dir()
    s3 = open_blobs("s3://bucket/some/prefix/", {"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1", "AWS_REGION": "x"})
    assert isinstance(s3, S3Blobs) and s3.url == "s3://bucket/some/prefix" and s3.endpoint == "http://127.0.0.1:1"
    assert s3.key(NOWHERE) == f"bucket/some/prefix/blobs/{NOWHERE}"
    assert open_blobs("s3://bucket", {}).key(NOWHERE) == f"bucket/blobs/{NOWHERE}"  # type: ignore[attr-defined]
    for bad, env in (
        ("gs://bucket/x", {}),
        ("s3:///no-bucket", {}),
        ("s3://bucket/x", {"AWS_ACCESS_KEY_ID": "only the key"}),
        ("s3://bucket/x", {"AWS_ENDPOINT_URL": "ftp://host"}),
    ):
        with pytest.raises(BlobError):
            open_blobs(bad, env)
    environ = {"AWS_REGION": "r", "AWS_ACCESS_KEY_ID": "k", "HOME": "/root", "AWS_PROFILE": "", "XXGK_X": "1"}
    assert blob_env(environ) == {"AWS_REGION": "r", "AWS_ACCESS_KEY_ID": "k"}
