"""The store on SQLite and PostgreSQL: migrations, content-addressed reports, the job queue, result versions,
corrections with optimistic versions, the append-only audit log, approval, the review queue, tokens."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.store import BlobStore, crud, open_store
from tests.conftest import extracted
from tests.service.conftest import SEED, without_table4


@pytest.fixture
def store(db_url):
    engine, sessions = open_store(db_url)
    yield sessions
    engine.dispose()


@pytest.fixture(scope="module")
def seed_result() -> dict:
    return extracted(str(SEED)).model_dump(mode="json")


def _register(s, data: bytes = b"report", name: str = "a.txt"):
    return crud.register(s, hashlib.sha256(data).hexdigest(), name, len(data), actor="alice", role="uploader")


def test_migrations_are_idempotent_and_match_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from service.store.orm import Base

    engine, _ = open_store(db_url)
    engine2, _ = open_store(db_url)  # a second start migrates nothing
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()
    engine2.dispose()


def test_migration_0002_adds_coverage_to_a_store_with_reports(db_url):
    """A store made before coverage keeps its reports (coverage None); 0002 goes down and up again."""
    from alembic import command
    from alembic.config import Config

    from service.store.db import MIGRATIONS, make_engine

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(db_url)

    def to(revision: str, step=command.upgrade) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            step(cfg, revision)

    to("0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO reports (id, sha256, filename, size, status, source, needs_review, "
                          "failing_checks, version, created_at, updated_at) VALUES ('r1', 'abc', 'old.txt', 1, "
                          "'done', 'upload', 0, 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    to("0002")
    to("0001", command.downgrade)
    engine.dispose()
    engine, sessions = open_store(db_url)  # migrates to head at start
    with sessions() as s:
        old = crud.get_report(s, "r1")
        assert old.filename == "old.txt" and old.coverage is None and old.coverage_reasons is None
        assert crud.list_reports(s, coverage="partial")[1] == 0
    engine.dispose()


def test_a_partial_report_is_complete_once_every_unread_cell_is_corrected(store, tmp_path):
    """Table 4 left out: coverage partial, its 15 cells unread at the head of the review queue with the reason;
    the coverage is counted again at each correction, complete after the last."""
    partial = extracted(str(without_table4(tmp_path / "no-t4.txt"))).model_dump(mode="json")
    truth = extracted(str(SEED)).model_dump(mode="json")["cells"]
    with store() as s:
        report, _ = _register(s, b"no-t4", "no-t4.txt")
        crud.complete(s, crud.claim(s).job_id, partial)
        assert (report.coverage, report.coverage_reasons) == ("partial", "t4: table not located")
        assert [r.id for r in crud.list_reports(s, coverage="partial")[0]] == [report.id]
        assert crud.list_reports(s, coverage="complete")[1] == 0
        rows, _ = crud.review_queue(s, limit=500)
        unread = [c for c, _ in rows if c.reasons.startswith("not read: ")]
        assert sorted(c.cell_id for c in unread) == sorted(c for c in truth if c.startswith("t4."))
        assert all(c.status == "absent" and c.confidence == 0.0 for c in unread)
        assert [c.confidence for c, _ in rows] == sorted(c.confidence for c, _ in rows)  # the unread ones lead
        for i, cell in enumerate(unread):
            crud.correct(s, report.id, cell.cell_id, truth[cell.cell_id]["value"], 1, "抄自原件",
                         actor="bob", role="reviewer")
            if i == 0:
                assert (report.coverage, report.coverage_reasons) == ("partial", "t4: 14 of 15 cells not read")
        assert (report.coverage, report.coverage_reasons) == ("complete", None)
        result = crud.result_of(s, report.id)
        assert result["coverage"]["status"] == "complete" and result["coverage"]["tables"]["t4"]["cells_read"] == 15
        assert crud.result_of(s, report.id, 1)["coverage"]["status"] == "partial"  # the machine's version kept
        assert not [c for c, _ in crud.review_queue(s, limit=500)[0] if c.reasons.startswith("not read")]
        assert crud.list_reports(s, coverage="partial")[1] == 0


def test_same_content_is_one_report_with_one_job(store):
    with store() as s:
        a, new_a = _register(s, b"x", "a.txt")
        b, new_b = _register(s, b"x", "renamed.txt")
        c, new_c = _register(s, b"y", "c.txt")
        assert (new_a, new_b, new_c) == (True, False, True)
        assert a.id == b.id != c.id
        assert len(a.jobs) == 1 and a.jobs[0].status == "queued"


def test_claim_takes_each_job_once_and_recover_requeues_interrupted(store):
    with store() as s:
        for i in range(3):
            _register(s, f"doc{i}".encode(), f"{i}.txt")
    with store() as s1, store() as s2:
        got = [crud.claim(s1), crud.claim(s2), crud.claim(s1), crud.claim(s2)]
    ids = [g.job_id for g in got if g]
    assert len(ids) == 3 and len(set(ids)) == 3 and got[3] is None
    with store() as s:  # the server stopped with three jobs running: a restart queues them again
        assert crud.recover(s) == 3
        assert crud.claim(s) is not None


def test_a_job_interrupted_too_often_fails_with_the_reason(store):
    with store() as s:
        _register(s)
        for _ in range(crud.MAX_ATTEMPTS):
            assert crud.claim(s) is not None
            crud.recover(s)
        report = crud.list_reports(s)[0][0]
        assert report.status == "failed" and "interrupted 3 times" in report.error


def test_results_are_versioned_and_corrections_check_the_version(store, seed_result):
    with store() as s:
        report, _ = _register(s)
        job = crud.claim(s)
        crud.complete(s, job.job_id, seed_result)
        v1 = crud.result_of(s, report.id)
        assert v1["cells"]["t3.new_received.total"]["version"] == 1
        value = v1["cells"]["t3.new_received.total"]["value"]

        cell, result = crud.correct(s, report.id, "t3.new_received.total", value + 1, 1, "typo",
                                    actor="bob", role="reviewer")
        assert cell["status"] == "corrected" and cell["version"] == 2 and cell["original_value"] == value
        failing = {c["rule"] for c in result["checks"] if c["status"] == "fail" and "t3.new_received.total" in c["cells"]}
        assert failing, "a wrong total must break the row and balance rules"
        with pytest.raises(crud.StaleVersion) as stale:
            crud.correct(s, report.id, "t3.new_received.total", value, 1, None, actor="carol", role="reviewer")
        assert stale.value.current == 2
        cell, result = crud.correct(s, report.id, "t3.new_received.total", value, 2, "back", actor="bob",
                                    role="reviewer")
        assert cell["original_value"] == value and cell["version"] == 3
        assert not [c for c in result["checks"] if c["status"] == "fail" and "t3.new_received.total" in c["cells"]]
        # every version is kept, the machine's first
        versions = crud.versions_of(s, report.id)
        assert [(v.version, v.kind, v.created_by) for v in versions] == \
               [(1, "machine", "machine"), (2, "correction", "bob"), (3, "correction", "bob")]
        assert crud.result_of(s, report.id, 1)["cells"]["t3.new_received.total"]["status"] == "read"
        log = crud.audit_log(s, report.id)
        assert [(a.action, a.actor, a.cell_id) for a in log] == [
            ("upload", "alice", None), ("correct", "bob", "t3.new_received.total"),
            ("correct", "bob", "t3.new_received.total")]
        assert log[1].old["value"] == value and log[1].new["value"] == value + 1 and log[1].reason == "typo"

        with pytest.raises(crud.NotFound):
            crud.correct(s, report.id, "t9.nothing", 1, 1, None, actor="bob", role="reviewer")
        crud.approve(s, report.id, actor="bob", role="reviewer")
        with pytest.raises(crud.Conflict):
            crud.correct(s, report.id, "t3.new_received.total", 1, 3, None, actor="bob", role="reviewer")
        assert crud.audit_log(s, report.id)[-1].action == "approve"


def test_audit_log_and_versions_are_append_only(store, seed_result):
    with store() as s:
        report, _ = _register(s)
        crud.complete(s, crud.claim(s).job_id, seed_result)
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log",
                      "UPDATE result_versions SET created_by = 'mallory'", "DELETE FROM result_versions"):
        with store() as s:
            with pytest.raises(DBAPIError, match="append-only"):
                s.execute(text(statement))
                s.commit()


def test_review_queue_least_confident_first_and_empty_after_approval(store, seed_result):
    with store() as s:
        report, _ = _register(s)
        crud.complete(s, crud.claim(s).job_id, seed_result)
        rows, total = crud.review_queue(s)
        flagged = [c for c in seed_result["cells"].values() if c.get("needs_review")]
        assert total == len(flagged) > 0
        conf = [c.confidence for c, _ in rows]
        assert conf == sorted(conf)
        assert crud.list_reports(s, needs_review=True)[1] == 1
        crud.approve(s, report.id, actor="bob", role="reviewer")
        assert crud.review_queue(s)[1] == 0
        assert crud.list_reports(s, needs_review=True)[1] == 0
        assert crud.list_reports(s, year=seed_result["year"])[1] == 1
        assert crud.list_reports(s, agency=seed_result["agency"][:3])[1] == 1
        assert crud.list_reports(s, status="queued")[1] == 0


def test_tokens_are_stored_hashed_and_can_be_revoked(store):
    with store() as s:
        token = crud.create_token(s, "reviewer", "bob")
        assert crud.lookup_token(s, token).role == "reviewer"
        assert crud.lookup_token(s, token + "x") is None
        stored = s.execute(text("SELECT token_sha256 FROM tokens")).scalar()
        assert token not in stored
        with pytest.raises(ValueError):
            crud.create_token(s, "root", "eve")
        assert crud.revoke_token(s, "bob") == 1
        assert crud.lookup_token(s, token) is None


def test_blobs_are_content_addressed(tmp_path):
    blobs = BlobStore(tmp_path)
    sha = blobs.put(b"abc")
    assert sha == hashlib.sha256(b"abc").hexdigest()
    assert blobs.path(sha).read_bytes() == b"abc" and blobs.put(b"abc") == sha
    assert not list(blobs.root.rglob(".part-*"))


def test_an_inferred_cell_follows_the_corrected_total():
    """seed prints no 其他 in 一、本年新收: its value is inferred from the row total; correcting the total moves it."""
    from service.review import apply_correction

    data = extracted(str(SEED)).model_dump(mode="json")
    other = data["cells"]["t3.new_received.other_org"]
    assert other["status"] == "absent" and other["inferred_by"] == "t3_row_total"
    before = other["inferred_value"]
    total = data["cells"]["t3.new_received.total"]["value"]
    apply_correction(data, "t3.new_received.total", total + 4, actor="bob")
    assert data["cells"]["t3.new_received.other_org"]["inferred_value"] == before + 4
    assert [c["status"] for c in data["checks"] if c["rule"] == "t3_row_total" and c["instance"] == "new_received"] \
        == ["pass"]


def test_a_cell_corrected_to_blank_counts_as_zero_in_the_rules():
    from service.review import apply_correction

    data = extracted(str(SEED)).model_dump(mode="json")
    cid = "t3.granted.commercial_enterprise"
    value = data["cells"][cid]["value"]
    apply_correction(data, cid, None, actor="bob", reason="the page prints nothing here")
    cell = data["cells"][cid]
    assert cell["value"] is None and cell["status"] == "corrected" and cell["original_value"] == value
    row = [c for c in data["checks"] if c["rule"] == "t3_row_total" and c["instance"] == "granted"][0]
    assert row["status"] == ("pass" if value == 0 else "fail")  # assessed, with the blank as 0


def test_series_pairs_consecutive_years_of_one_agency_in_the_store(store):
    from tests.conftest import DEV

    r005 = extracted(str(DEV / "r005" / "source.txt")).model_dump(mode="json")
    nxt = json_copy(r005)
    nxt["year"] = r005["year"] + 1
    nxt["cells"]["t3.carried_over.total"]["value"] = r005["cells"]["t3.carried_forward.total"]["value"] + 2
    with store() as s:
        for i, result in enumerate((r005, nxt)):
            _register(s, f"r005-{i}".encode(), f"r005-{i}.txt")
            crud.complete(s, crud.claim(s).job_id, result)
        checks = crud.series(s, agency=r005["agency"][:4])
        total = [c for c in checks if c.rule == "t3_carry_cross_report" and c.instance == "total"]
        assert [(c.status, c.years) for c in total] == [("fail", (r005["year"], r005["year"] + 1))]
        assert crud.series(s, agency="没有这个机关") == []


def json_copy(data: dict) -> dict:
    import json

    return json.loads(json.dumps(data))
