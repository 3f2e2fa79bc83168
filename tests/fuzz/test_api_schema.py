"""Every endpoint of the API fuzzed from its own OpenAPI schema (schemathesis) against a real server on the
loopback, tokens on, with an admin token: no input makes it answer a server error (5xx)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Err

from tests.api.server import create_token, free_port, kill, start

EXAMPLES = int(os.environ.get("XXGK_FUZZ_API_EXAMPLES", "20"))  # per operation; make fuzz raises it
TALLY = os.environ.get("XXGK_FUZZ_TALLY")  # a file for what was run (tests.fuzz.campaign reads it)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("fuzz-api")
    token = create_token(data, "admin", "fuzz")
    port = free_port()
    proc = start(data, port, local=False)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        kill(proc)


def test_no_input_makes_an_endpoint_fail_with_a_server_error(server: tuple[str, str]) -> None:
    base, token = server
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[tuple[str, str, int, str]] = []
    operations = 0
    seen: dict[int, int] = {}
    for result in schema.get_all_operations():
        assert not isinstance(result, Err), result.err()  # every operation of the schema can be fuzzed
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=60)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, repr(case.query)[:300]))

        call()
    if TALLY:
        with open(TALLY, "w") as out:
            json.dump({"inputs": sum(seen.values()), "operations": operations, "statuses": seen}, out)
    assert operations >= 15

    assert failures == []
    assert sum(seen.values()) >= operations * 3 and any(200 <= c < 300 for c in seen)  # real calls, some answered
