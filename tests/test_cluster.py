"""Reports read on a Ray cluster (service/cluster.py): a head and two one-CPU nodes simulated on this machine
(``ray.cluster_utils.Cluster``, auth off, loopback), files in a real S3 server (SeaweedFS on the loopback), results
in PostgreSQL where the tests have one (CI), else SQLite. No part is mocked.

- ``xxgk batch --ray`` over the dev reports and their scans stores exactly what the single-machine batch stores;
  a second run reads nothing; the models load once per actor;
- a node killed hard mid-run: every document ends done or failed with a reason, one machine result per document,
  at most one attempt more than needed per actor of the lost node;
- the driver killed mid-run and started again finishes, re-reading nothing already stored;
- the service's runner on the cluster: an actor killed mid-job has its job queued again and done."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pypdfium2
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from service import PIPELINE_VERSION
from service.batch import run_batch
from service.cluster import ClusterSummary, RayJobRunner, run_ray_batch
from service.options import load_options
from service.store import crud, opened
from service.store.blobs import open_blobs
from service.store.db import make_engine, session_factory
from service.store.orm import Extraction, Job, Report, ResultVersion
from tests.api.server import free_port, kill, start
from tests.conftest import DEV, ROOT
from tests.s3server import S3Server
from tests.store.helpers import PG_URL, fresh_database

ray = pytest.importorskip("ray", reason="the cluster extra (pip install -e '.[cluster]') is not installed")

SCANS = ROOT / "datasets" / "scans"
OPTIONS = load_options(environ={})
# the dev scans read on the cluster: two in the suite (its Ray tests stay within a few minutes), all seven with
# XXGK_RAY_FULL=1 (benchmarks/bench_ray.py --compare reads them all too)
FULL = os.environ.get("XXGK_RAY_FULL") == "1"
SOME_SCANS = [SCANS / "seed-moderate-200dpi.pdf", SCANS / "r005-moderate-200dpi.pdf"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """A head (one CPU, for the driver's own work) and two one-CPU worker nodes, each a set of real Ray processes;
    a lost node is noticed within about three seconds."""
    from ray.cluster_utils import Cluster

    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    logging.getLogger("ray.data._internal.usage").setLevel(logging.INFO)  # its Prometheus probes, not ours
    head = Cluster(
        initialize_head=True,
        connect=True,  # the driver on the head's raylet (a worker node can then be killed without breaking it)
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 3},
        },
    )
    for _ in range(2):
        head.add_node(num_cpus=1)
    head.wait_for_nodes()
    try:
        yield head
    finally:
        ray.shutdown()
        head.shutdown()


def _scan_files(scans: list[str]) -> list[Path]:
    return [p for s in scans for p in (sorted(Path(s).glob("*.pdf")) if Path(s).is_dir() else [Path(s)])]


def _database(tmp_path: Path) -> str:
    """PostgreSQL where the tests have one (CI), else a SQLite file (every simulated node is this machine)."""
    return fresh_database("postgresql" if PG_URL else "sqlite", tmp_path)


def _stored(url: str) -> dict[str, dict]:
    """sha256 -> the parts of its newest result that extraction decides (not timings)."""
    out = {}
    with opened(url) as sessions, sessions() as s:
        for report, result in crud.newest_results(s):
            data = result.model_dump(mode="json")
            out[report.sha256] = {
                k: data[k] for k in ("format", "agency", "year", "cells", "checks", "deviations", "facts", "coverage")
            }
    return out


def _machine_results_per_report(url: str) -> dict[str, int]:
    with opened(url) as sessions, sessions() as s:
        rows = s.execute(
            select(ResultVersion.report_id, func.count())
            .where(ResultVersion.kind == "machine")
            .group_by(ResultVersion.report_id)
        ).all()
    return {report_id: count for report_id, count in rows}


def test_the_dev_reports_and_their_scans_read_on_three_nodes_as_on_one_machine(
    cluster,
    s3_server: S3Server,
    tmp_path: Path,
):
    """Read on the cluster with every scan of 3 pages or more fanned out a page per task and joined (among them a
    scan whose table printed without rulings goes on over a page: its page read again at the join), and on one
    machine page after page: the same results."""
    unruled = tmp_path / "unruled"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "datasets.scansim",
            "--preset",
            "unruled",
            "-o",
            str(unruled),
            str(DEV / "r001/source.pdf"),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    scans = [str(SCANS)] if FULL else [str(p) for p in SOME_SCANS]
    inputs = [str(DEV), *scans, str(unruled)]
    local_url = f"sqlite:///{tmp_path / 'local.db'}"
    local = run_batch(inputs, local_url, tmp_path / "local-files", OPTIONS, workers=2)
    assert local.failed == 0 and local.done == local.files >= 11

    url, blobs = _database(tmp_path), open_blobs(s3_server.url("same"), s3_server.env)
    fanning = OPTIONS.with_changes(cluster={"fan_out_pages": 3})
    pages_seen: list[tuple[str, int]] = []
    summary = run_ray_batch(
        inputs,
        url,
        blobs,
        s3_server.env,
        fanning,
        address=cluster.address,
        on_row=lambda row: pages_seen.append((str(row["sha256"]), int(row["page"]))) if row["kind"] == "page" else None,
    )
    assert (summary.files, summary.done, summary.failed, summary.pages) == (
        local.files,
        local.done,
        0,
        local.pages,
    ), summary.errors
    assert _stored(url) == _stored(local_url)  # same cells, same checks, same findings
    assert all(blobs.exists(sha) for sha in _stored(url))  # every file staged as blobs/<sha256>
    scanned_pages = sum(len(pypdfium2.PdfDocument(p)) for p in _scan_files(scans) + list(unruled.glob("*.pdf")))
    assert summary.page_tasks == len(pages_seen) == len(set(pages_seen)) == scanned_pages  # a task per scanned page

    # the models load once per actor: every document's actor reports the loads of its start, no more
    warm = 1 + (OPTIONS.layout.model != "off") + OPTIONS.classifier.enabled  # OCR engine, layout model, classifier
    assert 1 <= summary.actors <= 2 and set(summary.pids.values()) == {warm}

    again = run_ray_batch(inputs, url, blobs, s3_server.env, fanning, address=cluster.address)
    assert (again.done, again.skipped, again.failed) == (0, local.files, 0)  # a second run reads nothing
    assert set(_machine_results_per_report(url).values()) == {1}


def _wait(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"waited {seconds:.0f} s for {what}"
        time.sleep(0.2)


def _count(url: str, query) -> int:
    """A count, looked at while a run goes on (no migration: Alembic's migrate is not for two threads at once)."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return int(s.scalar(query) or 0)
    except DBAPIError:  # not made yet: the run migrates it first
        return 0
    finally:
        engine.dispose()


def _running(url: str) -> int:
    return _count(url, select(func.count()).select_from(Job).where(Job.status == "running"))


def _workers(url: str) -> list[str]:
    """Where the running jobs run (node:pid)."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return [w for w in s.scalars(select(Job.worker).where(Job.status == "running")) if w]
    finally:
        engine.dispose()


def _done(url: str) -> int:
    return _count(url, select(func.count()).select_from(Report).where(Report.status == "done"))


def test_a_node_killed_hard_mid_run_loses_nothing_and_duplicates_nothing(
    cluster,
    s3_server: S3Server,
    tmp_path: Path,
):
    url, blobs = _database(tmp_path), open_blobs(s3_server.url("killed-node"), s3_server.env)
    inputs = [str(SCANS / f"{name}-moderate-200dpi.pdf") for name in ("r001", "r005", "r013", "seed")]
    outcome: list[ClusterSummary | BaseException] = []

    def drive() -> None:
        try:
            outcome.append(run_ray_batch(inputs, url, blobs, s3_server.env, OPTIONS, address=cluster.address))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            outcome.append(exc)

    driver = threading.Thread(target=drive)
    driver.start()
    _wait(lambda: _running(url) >= 2, 180, "both actors reading a document")
    time.sleep(1.0)  # well into them
    busy = {w.split(":")[0] for w in _workers(url)}  # the nodes reading a document now
    victim = next(node for node in cluster.worker_nodes if node.node_id in busy)  # type: ignore[attr-defined]
    cluster.remove_node(victim, allow_graceful=False)  # its raylet and workers killed at once
    try:
        driver.join(timeout=400)
        assert not driver.is_alive(), "the run did not finish after the node was lost"
    finally:
        cluster.add_node(num_cpus=1)  # the next tests have their two nodes again
        cluster.wait_for_nodes()
    (summary,) = outcome
    assert isinstance(summary, ClusterSummary), summary
    with opened(url) as sessions, sessions() as s:
        reports = s.scalars(select(Report)).all()
        assert len(reports) == len(inputs)
        assert all(r.status == "done" or (r.status == "failed" and r.error) for r in reports)
        extractions = s.execute(select(Extraction.sha256, Extraction.pipeline_version)).all()
        jobs = s.scalars(select(Job)).all()
    assert sorted(extractions) == sorted((r.sha256, PIPELINE_VERSION) for r in reports if r.status == "done")
    assert set(_machine_results_per_report(url).values()) == {1}  # exactly one machine result per document
    redundant = sum(j.attempts - 1 for j in jobs)
    assert redundant == summary.retried == 1  # the lost node's one actor was reading one document: read again
    assert [j.worker.split(":")[0] != victim.node_id for j in jobs if j.attempts == 2] == [True]  # elsewhere
    assert summary.done == sum(r.status == "done" for r in reports)
    # models loaded once per actor process: the two actors and the one Ray started again for the lost node
    assert summary.actors <= 3 and len(set(summary.pids.values())) == 1


def test_a_driver_killed_mid_run_is_started_again_and_rereads_nothing(
    cluster,
    s3_server: S3Server,
    tmp_path: Path,
):
    url = _database(tmp_path)
    blob_url = s3_server.url("driver")
    inputs = [str(p) for p in SOME_SCANS] + [
        str(DEV / name) for name in ("r003/source.html", "r013/source.md", "seed/source.txt", "r001/source.pdf")
    ]
    env = {
        **os.environ,
        **s3_server.env,
        "XXGK_BLOB_URL": blob_url,
        "RAY_ADDRESS": cluster.address,
    }
    command = [sys.executable, "-m", "service.cli", "batch", "--ray", "--db", url, *inputs]
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _done(url) >= 2, 240, "two documents done")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    with opened(url) as sessions, sessions() as s:
        before = {r.sha256: r.version for r in s.scalars(select(Report).where(Report.status == "done"))}
    assert 2 <= len(before) < len(inputs)

    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{len(inputs) - len(before)} extracted, {len(before)} skipped" in second.stdout, second.stdout
    with opened(url) as sessions, sessions() as s:
        after = {r.sha256: (r.status, r.version) for r in s.scalars(select(Report))}
    assert all(status == "done" for status, _ in after.values())
    assert all(after[sha][1] == version for sha, version in before.items())  # nothing stored was read again
    assert set(_machine_results_per_report(url).values()) == {1}

    third = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=200)
    assert third.returncode == 0 and f"0 extracted, {len(inputs)} skipped" in third.stdout, third.stdout


def test_the_services_jobs_on_the_cluster_survive_an_actor_lost_mid_job(
    cluster,
    s3_server: S3Server,
    tmp_path: Path,
):
    url = _database(tmp_path)
    blobs = open_blobs(s3_server.url("service"), s3_server.env)
    scan = (SCANS / "seed-moderate-200dpi.pdf").read_bytes()
    text = (DEV / "seed" / "source.txt").read_bytes()
    heard: list[tuple[str, str | None]] = []
    with opened(url) as sessions:
        with sessions() as s:
            scan_id = crud.register(s, blobs.put(scan), "scan.pdf", len(scan), actor="t", role="admin")[0].id
            text_id = crud.register(s, blobs.put(text), "seed.txt", len(text), actor="t", role="admin")[0].id
        runner = RayJobRunner(
            sessions,
            url,
            blobs,
            s3_server.env,
            OPTIONS.with_changes(cluster={"actors": 2}),
            on_outcome=lambda job, error: heard.append((job.report_id, error)),
        )
        runner.start()
        try:

            def scan_in_flight() -> list:
                with runner._lock:
                    return [v for v in runner._inflight.values() if v[0].report_id == scan_id]

            _wait(lambda: bool(scan_in_flight()), 120, "the scan's job on an actor")
            time.sleep(2.0)  # reading it
            ((job, actor),) = scan_in_flight()
            ray.kill(actor, no_restart=False)  # the actor's process dies mid-job; Ray starts it again
            _wait(lambda: len(heard) >= 2, 300, "both jobs' outcomes")
        finally:
            runner.stop()
        with sessions() as s:
            killed = crud.get_report(s, scan_id)
            attempts = [(j.status, j.attempts, j.error) for j in killed.jobs]
            assert killed.status == "done" and attempts == [("done", 2, None)], (attempts, heard)  # queued again
            assert crud.get_report(s, text_id).status == "done"
    assert sorted(heard) == sorted([(scan_id, None), (text_id, None)])


def test_the_service_with_xxgk_engine_ray_and_a_batch_share_one_archive(
    cluster,
    s3_server: S3Server,
    tmp_path: Path,
):
    """``xxgk serve`` with XXGK_ENGINE=ray: an upload is read by the cluster's actors and kept in the S3 store; the
    same file in a ``xxgk batch --ray`` of the same store is skipped (one archive, by content), another is read."""
    url = _database(tmp_path)
    env = {
        **s3_server.env,
        "XXGK_DATABASE_URL": url,
        "XXGK_BLOB_URL": s3_server.url("archive"),
        "XXGK_ENGINE": "ray",
        "RAY_ADDRESS": cluster.address,
    }
    port = free_port()
    server = start(tmp_path / "data", port, local=True, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        source = DEV / "r013" / "source.md"
        with source.open("rb") as f:
            posted = httpx.post(f"{base}/v1/reports", files={"file": (source.name, f)}, timeout=30)
        assert posted.status_code == 202, posted.text
        rid = posted.json()["id"]

        def report() -> dict:
            return httpx.get(f"{base}/v1/reports/{rid}", timeout=10).json()

        _wait(lambda: report()["status"] in ("done", "failed"), 180, "the upload read on the cluster")
        body = report()
        assert body["status"] == "done" and body["result"]["cells"], body.get("error")
    finally:
        kill(server)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    assert open_blobs(s3_server.url("archive"), s3_server.env).exists(sha)
    batch = subprocess.run(
        [sys.executable, "-m", "service.cli", "batch", "--ray", "--db", url, str(source), str(DEV / "seed/source.txt")],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert batch.returncode == 0 and "1 extracted, 1 skipped" in batch.stdout, batch.stdout + batch.stderr
