"""The objects a service holds: the token cache, the cache of result JSON, the way reads reach the store."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.core import Caller, ResultCache, ServiceConfig, TokenCache, read_path


def test_tokens_are_cached_for_their_time():
    cache = TokenCache(ttl=0.2, size=2)
    who = Caller("bob", "reviewer")
    cache.put("t1", who)
    assert cache.get("t1") == who and cache.get("t2") is None
    time.sleep(0.25)
    assert cache.get("t1") is None  # a revocation takes effect within the ttl
    for i in range(3):
        cache.put(f"t{i}", who)
    assert sum(cache.get(f"t{i}") is not None for i in range(3)) <= 2  # bounded


def test_result_json_is_kept_newest_used_within_its_bytes():
    cache = ResultCache(max_bytes=10)
    cache.put(("a", 1), b"aaaa")
    cache.put(("b", 1), b"bbbb")
    assert cache.get(("a", 1)) == b"aaaa"  # a is now the newest used
    cache.put(("c", 1), b"cccc")  # over 10 bytes: the least recently used (b) goes
    assert cache.get(("b", 1)) is None and cache.get(("a", 1)) == b"aaaa" and cache.get(("c", 1)) == b"cccc"
    cache.put(("a", 1), b"other")  # a version never changes: the first body stays
    assert cache.get(("a", 1)) == b"aaaa"


def test_reads_leave_the_loop_the_faster_way_for_each_database():
    assert read_path("auto", "sqlite:////tmp/x.db") == "threads"
    assert read_path("auto", "postgresql+psycopg://u@h/db") == "asyncio"
    assert read_path("asyncio", "sqlite:////tmp/x.db") == "asyncio"
    with pytest.raises(ValueError, match="XXGK_READS='sync'"):
        read_path("sync", "sqlite:////tmp/x.db")


@pytest.mark.parametrize("reads", ["asyncio", "threads"])
def test_both_read_paths_answer_the_same(api, seed_report, reads):
    """A second service on the same store, its reads on the other path: the same report, list and audit log."""
    client, tokens = api
    svc = client.app.state.service
    cfg = ServiceConfig(data_dir=svc.cfg.data_dir, database_url=svc.url, local=False, start_workers=False, reads=reads)
    headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
    rid = seed_report["id"]
    with TestClient(create_app(cfg)) as other:
        assert other.app.state.service.reads == reads
        for path in (f"/v1/reports/{rid}", "/v1/reports", f"/v1/reports/{rid}/audit", f"/v1/reports/{rid}/versions"):
            mine, theirs = client.get(path, headers=headers), other.get(path, headers=headers)
            assert mine.status_code == theirs.status_code == 200, path
            assert mine.json() == theirs.json(), path
        assert other.get("/v1/reports/nope", headers=headers).status_code == 404
