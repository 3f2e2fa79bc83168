"""Many reviewers saving at the same moment (a property test, on SQLite and on PostgreSQL): whatever their number and
whether they save one cell or different cells of one report, every answer is 200 or 409 — never a server error —,
exactly one save wins per version of a cell, and what the winners saved is what the report holds (no lost update)."""

from __future__ import annotations

import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.helpers import auth, upload, wait_done
from tests.store.helpers import SEED

CELLS = [
    "t3.denied_state_secret.legal_service_org",
    "t3.denied_state_secret.research_institution",
    "t3.denied_state_secret.commercial_enterprise",
    "t3.denied_state_secret.social_welfare_org",
    "t3.denied_state_secret.other_org",
    "t3.denied_law_prohibited.natural_person",
    "t3.denied_law_prohibited.commercial_enterprise",
    "t3.denied_law_prohibited.research_institution",
]
_made: dict[int, str] = {}


def _report(api, tmp_path_factory) -> str:
    """One report of its own for these tests, uploaded once per database: the seed dated 2099 (the package's other
    tests list the seed's year and expect only theirs)."""
    client, tokens = api
    if id(client) not in _made:
        path = tmp_path_factory.mktemp("many") / "seed-many-reviewers.txt"
        path.write_text(SEED.read_text(encoding="utf-8").replace("2021年", "2099年"), encoding="utf-8")
        r = upload(client, tokens, path)
        assert r.status_code == 202, r.text
        _made[id(client)] = wait_done(client, tokens, r.json()["id"])["id"]
    return _made[id(client)]


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(reviewers=st.integers(2, 8), one_cell=st.booleans(), base=st.integers(0, 10_000))
def test_many_reviewers_at_once_get_200_or_409_and_no_save_is_lost(api, tmp_path_factory, reviewers, one_cell, base):
    client, tokens = api
    rid = _report(api, tmp_path_factory)
    cells = [CELLS[0]] * reviewers if one_cell else CELLS[:reviewers]
    now = client.get(f"/v1/reports/{rid}", headers=auth(tokens, "uploader")).json()["result"]["cells"]
    start = threading.Barrier(reviewers)
    answers: list[tuple[str, int, int]] = []

    def save(cell: str, value: int) -> None:
        start.wait()
        r = client.patch(
            f"/v1/reports/{rid}/cells/{cell}",
            json={"value": value, "expected_version": now[cell]["version"]},
            headers=auth(tokens, "reviewer"),
        )
        answers.append((cell, value, r.status_code))

    threads = [threading.Thread(target=save, args=(cell, base + k)) for k, cell in enumerate(cells)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {code for _, _, code in answers} <= {200, 409}, answers
    won = [(cell, value) for cell, value, code in answers if code == 200]
    assert won, answers  # someone always wins
    if one_cell:
        assert len(won) == 1, answers  # one winner per version of the cell
    after = client.get(f"/v1/reports/{rid}", headers=auth(tokens, "uploader")).json()["result"]["cells"]
    for cell, value in won:
        assert after[cell]["value"] == value and after[cell]["version"] > now[cell]["version"]
    for cell, _, code in answers:
        if code == 409 and cell not in dict(won):
            assert after[cell]["value"] == now[cell]["value"]  # a refused save changed nothing
