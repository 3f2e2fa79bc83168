"""Start from what was read (issue 18, item 2) through the API, on SQLite and PostgreSQL: a row's raw reading and its
proposed candidate accepted as a whole row in one request (all or nothing, audited per cell), and the batch
approval of reports whose only flags are layout deviations they explain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import running_service
from tests.api.helpers import auth, upload, wait_done
from tests.conftest import DEV
from tests.store.helpers import SEED, backends

ROW = "t3.new_received"


@pytest.fixture(scope="module", params=backends())
def api(request: pytest.FixtureRequest, tmp_path_factory):
    """A service of this module's own (its reports and approvals stay out of the package's shared one)."""
    yield from running_service(request.param, tmp_path_factory)


def copy_of(src: Path, dst: Path, extra: bytes) -> Path:
    """The same report as another file (a trailing newline more: another content hash, another report)."""
    dst.write_bytes(src.read_bytes() + extra)
    return dst


def uploaded(client, tokens, path: Path) -> str:
    r = upload(client, tokens, path)
    assert r.status_code in (200, 202), r.text
    return wait_done(client, tokens, r.json()["id"])["id"]


def test_a_row_accepted_at_once_from_its_proposed_candidate(api, tmp_path):
    """The seed prints table 3's 本年新收 row without its 其他 column: the row's start shows the six numbers read and
    proposes the row with 其他 as the row rule requires; one PATCH saves the seven cells as one new version with an
    audit entry each. A stale version, a bad value or a cell named twice: refused, nothing stored."""
    client, tokens = api
    rid = uploaded(client, tokens, copy_of(SEED, tmp_path / "seed-row.txt", b"\n"))
    body = client.get(f"/v1/reports/{rid}", headers=auth(tokens, "reviewer")).json()
    version = body["version"]
    start = body["view"]["cells"][f"{ROW}.other_org"]["start_from"]
    assert start["read"]["tokens"] and [t["raw"] for t in start["read"]["tokens"]] == ["1", "1", "0", "0", "0", "2"]
    assert start["column_labels"] == ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
    (proposed,) = [c for c in start["candidates"] if c["proposed"]]
    assert proposed["text"] == "按读出的顺序填入，未读出的值按规则推算" and "条规则成立" in proposed["summary"]
    changes = [
        {"cell_id": cid, "value": proposed["values"][cid], "expected_version": start["versions"][cid]}
        for cid in start["cells"]
    ]
    reviewer = auth(tokens, "reviewer")

    bad = [dict(c, value=-1) if c["cell_id"].endswith("natural_person") else c for c in changes]
    assert client.patch(f"/v1/reports/{rid}/cells", json={"changes": bad}, headers=reviewer).status_code == 422
    twice = client.patch(f"/v1/reports/{rid}/cells", json={"changes": changes + changes[:1]}, headers=reviewer)
    assert twice.status_code == 409
    stale = [
        dict(c, expected_version=c["expected_version"] + 1) if c["cell_id"].endswith("total") else c for c in changes
    ]
    refused = client.patch(f"/v1/reports/{rid}/cells", json={"changes": stale}, headers=reviewer)
    assert refused.status_code == 409 and refused.json()["detail"]["cell_id"] == f"{ROW}.total"
    assert client.get(f"/v1/reports/{rid}", headers=reviewer).json()["version"] == version  # nothing stored
    assert (
        client.patch(
            f"/v1/reports/{rid}/cells", json={"changes": changes}, headers=auth(tokens, "uploader")
        ).status_code
        == 403
    )

    saved = client.patch(f"/v1/reports/{rid}/cells", json={"changes": changes, "reason": "整行确认"}, headers=reviewer)
    assert saved.status_code == 200, saved.text
    out = saved.json()
    assert out["result_version"] == version + 1  # one version for the whole row
    assert {cid: c["value"] for cid, c in out["cells"].items()} == {c["cell_id"]: c["value"] for c in changes}
    assert {c["status"] for c in out["cells"].values()} == {"corrected"}
    row_total = [c for c in out["checks"] if c["rule"] == "t3_row_total" and f"{ROW}.total" in c["cells"]]
    assert row_total and all(c["status"] == "pass" for c in row_total)
    after = client.get(f"/v1/reports/{rid}", headers=reviewer).json()
    assert all(after["result"]["cells"][c["cell_id"]]["value"] == c["value"] for c in changes)
    assert after["result"]["cells"][f"{ROW}.other_org"]["original_value"] is None  # the machine read none
    audit = [a for a in client.get(f"/v1/reports/{rid}/audit", headers=reviewer).json() if a["action"] == "correct"]
    assert sorted(a["cell_id"] for a in audit) == sorted(c["cell_id"] for c in changes)
    assert all(a["new"]["with"] == 7 and a["reason"] == "整行确认" for a in audit)
    again = client.patch(f"/v1/reports/{rid}/cells", json={"changes": changes}, headers=reviewer)
    assert again.status_code == 409  # the versions it names are gone


def test_reports_whose_only_flags_are_explained_deviations_approved_in_one_batch(api, tmp_path):
    """The seed's flags are all layout it explains (no 其他 column in two rows, table 4's last 总计 not printed):
    ``only_explained``; r013's are numbers placed by their notes (not explained). A batch approval approves the
    first, names why not the second; an uploader may not."""
    client, tokens = api
    seed = uploaded(client, tokens, copy_of(SEED, tmp_path / "seed-batch.txt", b"\n\n"))
    other = uploaded(client, tokens, next((DEV / "r013").glob("source.*")))
    listed = {r["id"]: r for r in client.get("/v1/reports", headers=auth(tokens, "reviewer")).json()["items"]}
    assert listed[seed]["only_explained"] and listed[seed]["needs_review"] == 3
    assert not listed[other]["only_explained"] and listed[other]["needs_review"] > 0
    url = "/v1/review/approve-explained"
    assert client.post(url, json={"report_ids": [seed]}, headers=auth(tokens, "uploader")).status_code == 403
    done = client.post(url, json={"report_ids": [seed, other, "nope"]}, headers=auth(tokens, "reviewer")).json()
    assert done["approved"] == [seed]
    assert {s["id"]: s["why"] for s in done["skipped"]} == {
        other: "has flags that are not explained deviations",
        "nope": "not found",
    }
    reviewer = auth(tokens, "reviewer")
    assert client.get(f"/v1/reports/{seed}", headers=reviewer).json()["approved"]
    assert not client.get(f"/v1/reports/{other}", headers=reviewer).json()["approved"]
    (entry,) = [a for a in client.get(f"/v1/reports/{seed}/audit", headers=reviewer).json() if a["action"] == "approve"]
    assert entry["new"]["batch"] is True and entry["reason"] == "batch: only explained deviations"
    # every such report the caller sees: none is left
    rest = client.post(url, headers=reviewer).json()
    assert seed not in rest["approved"]
    for rid in rest["approved"]:
        assert listed.get(rid, {"only_explained": True})["only_explained"]
    queue = client.get("/v1/review/queue", params={"limit": 500}, headers=reviewer).json()["items"]
    assert not any(i["report_id"] == seed for i in queue)
    # r013's flags as the store keeps them: a reason whose text holds "; " is one reason, its code stored beside it
    placed = [i for i in queue if i["report_id"] == other]
    assert placed and all(i["reasons"][0] == "value printed apart from its row; placed by its note" for i in placed)
    assert all([x["reason_code"] for x in i["reason_items"]] == ["detached_by_note", "inferred"] for i in placed)


def test_readings_saved_as_they_are_count_as_confirmed(api):
    """r005's flagged cells hold numbers (digits run together, split by plausibility): the reviewer accepts the
    row as read (the same values saved, each cell's status becomes corrected) and approves: the statistics count
    those cells confirmed (the machine was right), none corrected."""
    client, tokens = api
    reviewer = auth(tokens, "reviewer")
    rid = uploaded(client, tokens, next((DEV / "r005").glob("source.*")))
    cells = client.get(f"/v1/reports/{rid}", headers=reviewer).json()["result"]["cells"]
    flagged = {cid: c for cid, c in cells.items() if c["needs_review"]}
    assert flagged and all(c["value"] is not None for c in flagged.values())
    changes = [{"cell_id": cid, "value": c["value"], "expected_version": c["version"]} for cid, c in flagged.items()]
    assert client.patch(f"/v1/reports/{rid}/cells", json={"changes": changes}, headers=reviewer).status_code == 200
    assert client.post(f"/v1/reports/{rid}/approve", headers=reviewer).status_code == 200
    stats = client.get("/v1/review/stats", headers=reviewer).json()
    mine = next(r for r in stats["reports"] if r["report_id"] == rid)
    assert (mine["flagged"], mine["confirmed"], mine["corrected"], mine["missed"]) == (len(flagged), len(flagged), 0, 0)
