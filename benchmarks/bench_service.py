"""The service under load, on loopback (issue 6): readers and concurrent uploads against a real `xxgk serve`.

1. Readers: 20 concurrent clients, each reading report results back to back (GET /v1/reports/{id}, the whole
   output contract, and now and then the report list) for --seconds. Target: p95 <= 50 ms.
2. Uploads: 10 different report files uploaded at the same moment by 10 clients: all accepted (202), none lost
   (10 reports, each done), none duplicated (the same 10 again at once: 200 with the same ids).

    .venv/bin/python benchmarks/bench_service.py [--clients 20] [--seconds 20] [--workers 1]
        [--database-url postgresql+psycopg://user@/xxgk_bench?host=/var/run/postgresql]

The store is SQLite in a temporary data directory unless --database-url names another database, which must be
empty (its tables are created at start; the benchmark refuses a database that holds reports).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.api.server import create_token, free_port, kill, start  # noqa: E402

DEV = ROOT / "datasets" / "dev-reports"
UPLOADS = [
    DEV / "seed" / "source.txt",
    DEV / "r001" / "source.pdf",
    DEV / "r003" / "source.html",
    ROOT / "datasets" / "fixtures" / "r003.docx",
    DEV / "r005" / "page.html",
    DEV / "r005" / "source.txt",
    DEV / "r010" / "page.html",
    DEV / "r010" / "source.txt",
    DEV / "r013" / "source.md",
    ROOT / "datasets" / "scans" / "r001-moderate-200dpi.pdf",
]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def upload_all(base: str, headers: dict, files: list[Path]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(files))

    def one(path: Path) -> httpx.Response:
        body = path.read_bytes()
        with httpx.Client(timeout=120) as c:
            barrier.wait()
            return c.post(f"{base}/v1/reports", files={"file": (path.name, body)}, headers=headers)

    with ThreadPoolExecutor(len(files)) as pool:
        return list(pool.map(one, files))


def wait_all_done(base: str, headers: dict, n: int, timeout: float = 900) -> list[dict]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        items = httpx.get(f"{base}/v1/reports", params={"limit": 1000}, headers=headers).json()["items"]
        if len(items) >= n and all(r["status"] in ("done", "failed") for r in items):
            return items
        time.sleep(1)
    raise SystemExit(f"not done after {timeout} s")


def readers(base: str, headers: dict, ids: list[str], clients: int, seconds: float) -> list[float]:
    stop = time.time() + seconds
    lat: list[list[float]] = [[] for _ in range(clients)]

    def client(k: int) -> None:
        with httpx.Client(timeout=30, headers=headers) as c:
            i = k
            while time.time() < stop:
                url = f"{base}/v1/reports" if i % 10 == 9 else f"{base}/v1/reports/{ids[i % len(ids)]}"
                t0 = time.perf_counter()
                r = c.get(url)
                lat[k].append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
                i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for xs in lat for x in xs]


WRK_SCRIPT = """
local paths = {%s}
local token = "%s"
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["Authorization"] = "Bearer " .. token})
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%.3f %%.3f %%.3f %%.3f %%d\\n", summary.requests, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
"""


def wrk(base: str, token: str, ids: list[str], clients: int, seconds: float) -> str | None:
    """The same load from wrk (C, two threads): the clients cost the server's cores almost nothing."""
    if not shutil.which("wrk"):
        return None
    paths = [f'"/v1/reports/{i}"' for i in ids] + ['"/v1/reports"']
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % (", ".join(paths), token))
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{int(seconds)}s", "-s", f.name, base],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    os.unlink(f.name)
    line = next((x for x in out.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        return f"wrk gave no figures:\n{out}"
    n, p50, p95, p99, mx, errors = line.split()[1:]
    return (
        f"  wrk: {n} requests, {int(n) / seconds:.0f}/s, {errors} errors; latency p50 {float(p50):.1f} ms, "
        f"p95 {float(p95):.1f} ms, p99 {float(p99):.1f} ms, max {float(mx):.1f} ms. Target p95 <= 50 ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument(
        "--database-url",
        help="the store's database (default: SQLite in a temporary data directory); "
        "an empty one: its tables are created at start",
    )
    args = ap.parse_args()
    env = {"XXGK_DATABASE_URL": args.database_url} if args.database_url else {}
    with tempfile.TemporaryDirectory(prefix="xxgk-bench-") as tmp:
        data = Path(tmp)
        headers = {"Authorization": f"Bearer {create_token(data, 'admin', env=env)}"}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start(data, port, local=False, workers=args.workers, env=env)
        try:
            health = httpx.get(f"{base}/healthz").json()
            print(f"database: {health['database']}" + (f" ({args.database_url})" if args.database_url else ""))
            held = httpx.get(f"{base}/v1/reports", headers=headers).json()["total"]
            if held:
                raise SystemExit(f"the database holds {held} reports already: the benchmark needs an empty one")
            print(f"2. {len(UPLOADS)} concurrent uploads of different files")
            t0 = time.perf_counter()
            first = upload_all(base, headers, UPLOADS)
            codes = [r.status_code for r in first]
            ids = [r.json()["id"] for r in first]
            print(f"  answers: {sorted(codes)} in {time.perf_counter() - t0:.2f} s; distinct ids {len(set(ids))}")
            again = upload_all(base, headers, UPLOADS)
            same = [r.json()["id"] for r in again] == ids
            print(
                f"  the same {len(UPLOADS)} again at once: answers {sorted(r.status_code for r in again)}, "
                f"same ids: {same}"
            )
            items = wait_all_done(base, headers, len(UPLOADS))
            done = sum(r["status"] == "done" for r in items)
            print(
                f"  in the store: {len(items)} reports, {done} done, "
                f"{len(items) - done} failed; extraction of all took {time.perf_counter() - t0:.0f} s"
            )
            ok = (
                codes == [202] * len(UPLOADS)
                and len(set(ids)) == len(UPLOADS)
                and same
                and len(items) == len(UPLOADS)
                and done == len(UPLOADS)
            )
            print(f"  all accepted, none lost, none duplicated: {'yes' if ok else 'NO'}")

            print(
                f"1. {args.clients} concurrent readers for {args.seconds:.0f} s (results {len(ids)} reports, "
                f"1 request in 10 the report list)"
            )
            readers(base, headers, ids, args.clients, 2)  # warm the server
            size = len(httpx.get(f"{base}/v1/reports/{ids[1]}", headers=headers).content)
            print(f"  (a result is {size / 1024:.0f} KB of JSON; the clients run on the server's two cores)")
            report = wrk(base, headers["Authorization"].split()[1], ids, args.clients, args.seconds)
            if report:
                print(report)
            lat = readers(base, headers, ids, args.clients, args.seconds)
            print(
                f"  Python clients (httpx, {args.clients} threads): {len(lat)} requests, "
                f"{len(lat) / args.seconds:.0f}/s; latency p50 {pct(lat, 0.5):.1f} ms, p95 {pct(lat, 0.95):.1f} ms, "
                f"p99 {pct(lat, 0.99):.1f} ms, max {max(lat):.1f} ms (mean {statistics.mean(lat):.1f})"
            )
        finally:
            kill(proc)


if __name__ == "__main__":
    main()
