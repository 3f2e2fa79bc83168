"""The objects a service holds: the token cache and the cache of result JSON."""

from __future__ import annotations

import time

from service.api.core import Caller, ResultCache, TokenCache


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
