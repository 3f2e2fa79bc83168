"""The worker pool (service/jobs.py) that the service and `xxgk batch` share: jobs claimed from the store and run in
spawned worker processes with the pipeline's options pickled to them; results and failures stored; a job whose
worker dies is queued again; a killed server loses nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.jobs import CGROUP_NOTE, MemoryCgroup, WorkerPool, extract_file, threads_per_worker, worker_options
from service.options import load_options
from service.result import Result
from service.store import LocalBlobs, crud, opened, sqlite_url
from tests.api.server import free_port, kill, start
from tests.conftest import DEV, ROOT, extracted

R005 = DEV / "r005" / "page.html"


@pytest.fixture
def store(tmp_path):
    with opened(sqlite_url(tmp_path / "jobs.db")) as sessions:
        yield sessions, LocalBlobs(tmp_path)


def queue_file(sessions, blobs: LocalBlobs, data: bytes, name: str) -> str:
    with sessions() as s:
        report, _ = crud.register(s, blobs.put(data), name, len(data), actor="test", role="admin")
        return report.id


def test_the_worker_options_share_the_cores():
    opts = load_options(environ={})
    mine = worker_options(opts, 3)
    assert (mine.ocr.threads, mine.classifier.threads) == (3, 1)
    assert mine.reconcile == opts.reconcile and mine.ocr.engine == opts.ocr.engine
    assert threads_per_worker(1) == max(1, os.cpu_count() or 1) and threads_per_worker(64) == 1


def test_extract_file_names_the_upload_and_keeps_no_ocr_readings(tmp_path):
    blob = tmp_path / "0123abcd"
    blob.write_bytes(R005.read_bytes())
    result = extract_file(blob, "某区 2020 年报.html", load_options())
    assert result.document.path == "某区 2020 年报.html"
    assert result.cells == extracted(str(R005)).cells
    assert all(c.ocr is None for c in result.cells.values())


def test_the_pool_runs_jobs_with_the_options_it_was_given(store):
    """The classifier turned off in the options handed to the pool (not in the environment): the worker
    processes read r005 without narrative facts, which the default options find."""
    sessions, blobs = store
    assert "XXGK_CLASSIFIER_ENABLED" not in os.environ
    assert len(extracted(str(R005)).facts) >= 4
    rid = queue_file(sessions, blobs, R005.read_bytes(), "r005.html")
    broken = queue_file(sessions, blobs, b"%PDF-1.4 not a PDF", "broken.pdf")
    heard: list[tuple[str, Result | None, str | None]] = []
    options = load_options(environ={}).with_changes(classifier={"enabled": False})
    pool = WorkerPool(
        sessions, blobs, options, workers=2, threads=1, on_outcome=lambda j, r, e: heard.append((j.report_id, r, e))
    )
    try:
        pool.drain()
    finally:
        pool.stop(wait=True)
    outcomes = {report_id: (result, error) for report_id, result, error in heard}
    assert set(outcomes) == {rid, broken} and len(heard) == 2
    result, error = outcomes[rid]
    assert error is None and result.facts == [] and result.document.path == "r005.html"
    assert result.cells == extracted(str(R005)).cells  # the tables do not depend on the classifier here
    result, error = outcomes[broken]
    assert result is None and error.startswith("unreadable input: corrupt or unreadable PDF")
    with sessions() as s:
        assert crud.result_of(s, rid) == outcomes[rid][0]
        assert crud.get_report(s, rid).status == "done" and crud.get_report(s, broken).status == "failed"
        assert crud.queued(s) == 0


def test_a_job_whose_worker_dies_is_queued_again_and_done(store):
    sessions, blobs = store
    rid = queue_file(sessions, blobs, R005.read_bytes(), "r005.html")
    pool = WorkerPool(sessions, blobs, load_options(), workers=1, threads=1, poll=0.1)
    pool.start()
    try:
        deadline = time.time() + 60
        while not multiprocessing.active_children():
            assert time.time() < deadline, "no worker process started"
            time.sleep(0.05)
        with sessions() as s:
            assert crud.get_report(s, rid).status == "running"
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)  # killed, as out of memory would
        deadline = time.time() + 120
        while True:
            with sessions() as s:
                report = crud.get_report(s, rid)
                attempts = report.jobs[-1].attempts
            if report.status in ("done", "failed") or time.time() > deadline:
                break
            time.sleep(0.2)
    finally:
        pool.stop()
    assert (report.status, attempts) == ("done", 2)


FILES = [
    ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf",  # OCR: still running when the server dies
    DEV / "seed" / "source.txt",
    DEV / "r003" / "source.html",
    DEV / "r005" / "page.html",
    DEV / "r010" / "page.html",
    DEV / "r013" / "source.md",
    DEV / "r001" / "source.pdf",
]


def test_jobs_survive_a_killed_server(tmp_path):
    """Kill the server (SIGKILL, workers and all) while jobs run; after a restart every job finishes."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(tmp_path, port)
    ids = []
    try:
        for path in FILES:
            with path.open("rb") as f:
                r = httpx.post(f"{base}/v1/reports", files={"file": (path.name, f)}, timeout=30)
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        deadline = time.time() + 60
        while time.time() < deadline:  # wait until the scan is being read
            if httpx.get(f"{base}/v1/reports/{ids[0]}").json()["status"] == "running":
                break
            time.sleep(0.2)
        states = [httpx.get(f"{base}/v1/reports/{i}").json()["status"] for i in ids]
    finally:
        kill(proc)
    assert states[0] == "running" and "queued" in states, states

    proc = start(tmp_path, port)
    try:
        deadline = time.time() + 400
        while time.time() < deadline:
            listing = httpx.get(f"{base}/v1/reports", params={"limit": 100}).json()
            if all(r["status"] in ("done", "failed") for r in listing["items"]):
                break
            time.sleep(1)
        assert listing["total"] == len(FILES)
        assert sorted(r["id"] for r in listing["items"]) == sorted(ids)
        statuses = {r["status"] for r in listing["items"]}
        assert statuses == {"done"}, [(r["filename"], r["error"]) for r in listing["items"]]
        scan = httpx.get(f"{base}/v1/reports/{ids[0]}").json()
        assert scan["result"]["document"]["kind"] in ("pdf", "scan") and scan["result"]["cells"]
        assert len(list((tmp_path / "blobs").rglob("*"))) >= len(FILES)
    finally:
        kill(proc)


def test_a_failed_jobs_reason_is_short_however_long_the_error():
    from service.jobs import MAX_ERROR, describe

    huge = ValueError("Linear constraints only accept integer values " + "7 * x + " * 600_000)  # 4.8 MB
    reason = describe(huge)
    assert len(reason) < MAX_ERROR + 100 and reason.startswith("ValueError: Linear constraints")
    assert "more characters cut" in reason
    assert describe(ValueError("short")) == "ValueError: short"


def _children(pid: int) -> set[int]:
    """Every process started by ``pid`` and by its children (Linux /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(kids - found)
            found |= kids
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_die_with_the_server_that_started_them(tmp_path):
    """kill -9 of the server alone (not its process group), mid-job: its worker processes go too, none is left
    orphaned waiting on the pool's pipe."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(tmp_path, port)
    try:
        with FILES[0].open("rb") as f:
            r = httpx.post(f"{base}/v1/reports", files={"file": (FILES[0].name, f)}, timeout=30)
        rid = r.json()["id"]
        deadline = time.time() + 60
        while httpx.get(f"{base}/v1/reports/{rid}").json()["status"] != "running":
            assert time.time() < deadline
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert workers and all(_alive(w) for w in workers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.time() + 10
        while any(_alive(w) for w in workers):
            assert time.time() < deadline, [w for w in workers if _alive(w)]
            time.sleep(0.2)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_job_past_its_memory_or_time_fails_at_once_and_the_queue_moves_on(store):
    """The watchdog of a worker: past limits.max_job_memory_mb (set below what a worker holds once loaded) or past
    the job's time (a scan given 1 s), the job fails on its first try with the limit named; the next job runs."""
    sessions, blobs = store
    scan = (ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf").read_bytes()
    for limits, data, expected in (
        ({"max_job_memory_mb": 60}, R005.read_bytes(), "limits.max_job_memory_mb = 60"),
        ({"job_seconds": 1, "job_seconds_per_page": 0}, scan, "over the job's time: 1 s"),
    ):
        first = queue_file(sessions, blobs, data, f"first-{expected[:12]}")
        heard: list[tuple[str, str | None]] = []
        options = load_options(environ={}).with_changes(limits=limits)
        pool = WorkerPool(
            sessions,
            blobs,
            options,
            workers=1,
            threads=1,
            on_outcome=lambda j, r, e, heard=heard: heard.append((j.report_id, e)),
        )
        try:
            pool.drain()
        finally:
            pool.stop(wait=True)
        assert [rid for rid, e in heard if expected in (e or "")] == [first], heard
        with sessions() as s:
            report = crud.get_report(s, first)
            assert report.status == "failed" and expected in (report.error or "")
            assert report.jobs[-1].attempts == 1  # never retried: the same file would do it again
    then = queue_file(sessions, blobs, (DEV / "seed" / "source.txt").read_bytes(), "seed.txt")
    pool = WorkerPool(sessions, blobs, load_options(environ={}), workers=1, threads=1)
    try:
        pool.drain()
    finally:
        pool.stop(wait=True)
    with sessions() as s:
        assert crud.get_report(s, then).status == "done"


def _cgroups_here() -> bool:
    """Whether this machine lets a process make itself a memory cgroup (root or a delegated hierarchy)."""
    probe = (
        "import os; from service.jobs import MemoryCgroup as M; g = M.create(f'xxgk-probe-{os.getpid()}', 1 << 30); "
        "print(g and g.path, g and g.version)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    path, version = out.stdout.split() if out.returncode == 0 else ("None", "None")
    if path == "None":
        return False
    MemoryCgroup(Path(path), int(version)).remove()
    return True


needs_cgroups = pytest.mark.skipif(not _cgroups_here(), reason="no memory cgroup can be made here")


@needs_cgroups
def test_the_kernel_kills_a_process_past_its_memory_cgroup_and_the_kill_is_counted():
    script = (
        "import os, sys; from service.jobs import MemoryCgroup as M; "
        "g = M.create(f'xxgk-test-{os.getpid()}', 64 << 20); print(g.version, g.path, flush=True); "
        "held = [bytearray(16 << 20) for _ in range(20)]; print('survived', flush=True)"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    version, path = out.stdout.split("\n")[0].split(" ", 1)
    group = MemoryCgroup(Path(path), int(version))
    try:
        assert out.returncode == -signal.SIGKILL and "survived" not in out.stdout
        assert group.oom_kills() == 1 and group.limit_mb() == 64
    finally:
        group.remove()
    assert not group.path.exists()


@needs_cgroups
def test_a_worker_stopped_by_the_kernel_at_its_memory_ceiling_fails_its_job_at_once(store):
    """The kernel's ceiling catches what the watchdog's looks every quarter second can miss: the worker's cgroup
    lowered to just above what it holds while it reads a scan, the kernel kills it; the job fails on its first
    try naming the memory limit, and the next job runs in a fresh worker."""
    sessions, blobs = store
    scan = (ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf").read_bytes()
    first = queue_file(sessions, blobs, scan, "scan.pdf")
    heard: list[tuple[str, str | None]] = []
    pool = WorkerPool(
        sessions,
        blobs,
        load_options(environ={}),
        workers=1,
        threads=1,
        on_outcome=lambda j, r, e: heard.append((j.report_id, e)),
    )
    pool.start()
    try:
        deadline = time.time() + 60
        group = None
        while group is None and time.time() < deadline:
            with sessions() as s:
                running = crud.get_report(s, first).status == "running"
            notes = list(pool._verdicts.glob("*" + CGROUP_NOTE))
            if running and notes:
                version, _, path = notes[0].read_text().partition(" ")
                group = MemoryCgroup(Path(path), int(version))
            time.sleep(0.2)
        assert group is not None, "the worker never reported its cgroup"
        time.sleep(1.0)  # reading the scan
        usage = int((group.path / ("memory.current" if group.version == 2 else "memory.usage_in_bytes")).read_text())
        (group.path / ("memory.max" if group.version == 2 else "memory.limit_in_bytes")).write_text(
            str(usage + (2 << 20))
        )
        while not heard and time.time() < deadline:
            time.sleep(0.2)
        then = queue_file(sessions, blobs, (DEV / "seed" / "source.txt").read_bytes(), "seed.txt")
        pool.notify()
        while len(heard) < 2 and time.time() < deadline + 60:
            time.sleep(0.2)
    finally:
        pool.stop(wait=True)
    assert heard[0][0] == first and "the kernel stopped the job" in (heard[0][1] or ""), heard
    assert "limits.max_job_memory_mb = 3072" in (heard[0][1] or "")
    with sessions() as s:
        report = crud.get_report(s, first)
        assert report.status == "failed" and report.jobs[-1].attempts == 1
        assert crud.get_report(s, then).status == "done"
    assert not group.path.exists()  # removed once its worker was gone
