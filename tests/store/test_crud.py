"""Operations on the store, on SQLite and PostgreSQL: content-addressed reports, the job queue, result versions
(typed results in and out), corrections with optimistic versions, the append-only audit log, approval, the review
queue, tokens, checks across years."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from service.result import Result
from service.store import crud
from service.store.orm import Job, ResultVersion
from tests.conftest import DEV, extracted
from tests.store.helpers import SEED, without_table4


@pytest.fixture(scope="module")
def seed_result() -> Result:
    return extracted(str(SEED))


def _register(s: Session, data: bytes = b"report", name: str = "a.txt"):
    return crud.register(s, hashlib.sha256(data).hexdigest(), name, len(data), actor="alice", role="uploader")


def _done(s: Session, result: Result, data: bytes = b"report", name: str = "a.txt"):
    report, _ = _register(s, data, name)
    crud.complete(s, crud.claim(s).job_id, result)
    return report


def test_a_result_goes_in_and_comes_out_typed_and_json_only_in_the_column(store, seed_result):
    with store() as s:
        report = _done(s, seed_result)
        got = crud.result_of(s, report.id)
        assert isinstance(got, Result) and got == seed_result
        stored = s.scalar(select(ResultVersion.result).where(ResultVersion.report_id == report.id))
        assert stored == seed_result.model_dump(mode="json")  # the column holds the output contract
        assert (report.format, report.agency, report.year) == (seed_result.format, seed_result.agency, seed_result.year)
        assert report.pages == seed_result.document.pages and report.status == "done"
        assert crud.result_of(s, report.id, 2) is None and crud.result_of(s, "nope") is None
        assert [(r.id, res) for r, res in crud.newest_results(s)] == [(report.id, seed_result)]
        assert list(crud.newest_results(s, approved_only=True)) == []


def test_a_partial_report_is_complete_once_every_unread_cell_is_corrected(store, tmp_path):
    """Table 4 left out: coverage partial, its 15 cells unread at the head of the review queue with the reason;
    the coverage is counted again at each correction, complete after the last."""
    partial = extracted(str(without_table4(tmp_path / "no-t4.txt")))
    truth = extracted(str(SEED)).cells
    with store() as s:
        report = _done(s, partial, b"no-t4", "no-t4.txt")
        assert (report.coverage, report.coverage_reasons) == ("partial", "t4: table not located")
        assert [r.id for r in crud.list_reports(s, coverage="partial")[0]] == [report.id]
        assert crud.list_reports(s, coverage="complete")[1] == 0
        rows, _ = crud.review_queue(s, limit=500)
        unread = [c for c, _ in rows if c.reasons.startswith("not read: ")]
        assert sorted(c.cell_id for c in unread) == sorted(c for c in truth if c.startswith("t4."))
        assert all(c.status == "absent" and c.confidence == 0.0 for c in unread)
        assert [c.confidence for c, _ in rows] == sorted(c.confidence for c, _ in rows)  # the unread ones lead
        for i, cell in enumerate(unread):
            crud.correct(
                s, report.id, cell.cell_id, truth[cell.cell_id].value, 1, "抄自原件", actor="bob", role="reviewer"
            )
            if i == 0:
                assert (report.coverage, report.coverage_reasons) == ("partial", "t4: 14 of 15 cells not read")
        assert (report.coverage, report.coverage_reasons) == ("complete", None)
        result = crud.result_of(s, report.id)
        assert result.coverage.status == "complete" and result.coverage.tables["t4"].cells_read == 15
        assert crud.result_of(s, report.id, 1).coverage.status == "partial"  # the machine's version kept
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
        assert crud.report_by_sha(s, hashlib.sha256(b"y").hexdigest()).id == c.id
        assert crud.queued(s) == 2


def test_claim_takes_each_job_once_and_recover_requeues_interrupted(store):
    with store() as s:
        for i in range(3):
            _register(s, f"doc{i}".encode(), f"{i}.txt")
    with store() as s1, store() as s2:
        got = [crud.claim(s1), crud.claim(s2), crud.claim(s1), crud.claim(s2)]
    ids = [g.job_id for g in got if g]
    assert len(ids) == 3 and len(set(ids)) == 3 and got[3] is None
    with store() as s:  # the server stopped with three jobs running: a restart queues them again
        assert crud.queued(s) == 0
        assert crud.recover(s) == 3
        assert crud.queued(s) == 3
        assert crud.claim(s) is not None


def test_a_job_interrupted_too_often_fails_with_the_reason(store):
    with store() as s:
        _register(s)
        for _ in range(crud.MAX_ATTEMPTS):
            assert crud.claim(s) is not None
            crud.recover(s)
        report = crud.list_reports(s)[0][0]
        assert report.status == "failed" and "interrupted 3 times" in report.error


def test_a_job_whose_worker_died_is_queued_again_then_fails(store):
    with store() as s:
        _register(s)
        for attempt in range(1, crud.MAX_ATTEMPTS + 1):
            job = crud.claim(s)
            error = crud.recover_one(s, job.job_id, "the worker process died")
            if attempt < crud.MAX_ATTEMPTS:
                assert error is None and crud.queued(s) == 1
        assert error == "the worker process died (3 attempts)" and crud.queued(s) == 0
        report = crud.list_reports(s)[0][0]
        assert (report.status, report.error) == ("failed", error)
        assert report.pipeline_version  # batch skips it until --retry-failed


def test_results_are_versioned_and_corrections_check_the_version(store, seed_result):
    cid = "t3.new_received.total"
    with store() as s:
        report = _done(s, seed_result)
        v1 = crud.result_of(s, report.id)
        assert v1.cells[cid].version == 1
        value = v1.cells[cid].value

        cell, result = crud.correct(s, report.id, cid, value + 1, 1, "typo", actor="bob", role="reviewer")
        assert cell.status == "corrected" and cell.version == 2 and cell.original_value == value
        assert result.cells[cid] == cell and crud.result_of(s, report.id) == result
        failing = {c.rule for c in result.checks if c.status == "fail" and cid in c.cells}
        assert failing, "a wrong total must break the row and balance rules"
        assert report.failing_checks == sum(c.status == "fail" for c in result.checks)
        with pytest.raises(crud.StaleVersion) as stale:
            crud.correct(s, report.id, cid, value, 1, None, actor="carol", role="reviewer")
        assert stale.value.current == 2
        cell, result = crud.correct(s, report.id, cid, value, 2, "back", actor="bob", role="reviewer")
        assert cell.original_value == value and cell.version == 3
        assert not [c for c in result.checks if c.status == "fail" and cid in c.cells]
        # every version is kept, the machine's first
        versions = crud.versions_of(s, report.id)
        assert [(v.version, v.kind, v.created_by) for v in versions] == [
            (1, "machine", "machine"),
            (2, "correction", "bob"),
            (3, "correction", "bob"),
        ]
        assert crud.result_of(s, report.id, 1).cells[cid].status == "read"
        log = crud.audit_log(s, report.id)
        assert [(a.action, a.actor, a.cell_id) for a in log] == [
            ("upload", "alice", None),
            ("correct", "bob", cid),
            ("correct", "bob", cid),
        ]
        assert log[1].old["value"] == value and log[1].new["value"] == value + 1 and log[1].reason == "typo"

        with pytest.raises(crud.NotFound):
            crud.correct(s, report.id, "t9.nothing", 1, 1, None, actor="bob", role="reviewer")
        crud.approve(s, report.id, actor="bob", role="reviewer")
        with pytest.raises(crud.Conflict):
            crud.correct(s, report.id, cid, 1, 3, None, actor="bob", role="reviewer")
        assert crud.audit_log(s, report.id)[-1].action == "approve"


def test_a_preview_returns_the_checks_and_stores_nothing(store, seed_result):
    cid = "t3.new_received.total"
    with store() as s:
        report = _done(s, seed_result)
        value = seed_result.cells[cid].value
        checks = crud.preview(s, report.id, cid, value + 1)
        assert [c for c in checks if c.status == "fail" and cid in c.cells]
        assert crud.result_of(s, report.id) == seed_result and report.version == 1
        with pytest.raises(crud.NotFound):
            crud.preview(s, report.id, "t9.nothing", 1)


def test_audit_log_and_versions_are_append_only(store, seed_result):
    with store() as s:
        _done(s, seed_result)
    for statement in (
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "UPDATE result_versions SET created_by = 'mallory'",
        "DELETE FROM result_versions",
    ):
        with store() as s:
            with pytest.raises(DBAPIError, match="append-only"):
                s.execute(text(statement))
                s.commit()


def test_review_queue_least_confident_first_and_empty_after_approval(store, seed_result):
    with store() as s:
        report = _done(s, seed_result)
        rows, total = crud.review_queue(s)
        flagged = [c for c in seed_result.cells.values() if c.needs_review]
        assert total == len(flagged) > 0
        conf = [c.confidence for c, _ in rows]
        assert conf == sorted(conf)
        assert crud.list_reports(s, needs_review=True)[1] == 1
        assert crud.states(s) == ({"done": 1}, {"done": 1}, len(flagged))
        crud.approve(s, report.id, actor="bob", role="reviewer")
        assert crud.review_queue(s)[1] == 0 and crud.states(s)[2] == 0
        assert crud.list_reports(s, needs_review=True)[1] == 0
        assert crud.list_reports(s, year=seed_result.year)[1] == 1
        assert crud.list_reports(s, agency=seed_result.agency[:3])[1] == 1
        assert crud.list_reports(s, status="queued")[1] == 0
        assert [r.id for r, _ in crud.newest_results(s, approved_only=True)] == [report.id]


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


def test_series_pairs_consecutive_years_of_one_agency_in_the_store(store):
    r005 = extracted(str(DEV / "r005" / "source.txt"))
    nxt = r005.model_copy(deep=True)
    nxt.year = r005.year + 1
    nxt.cells["t3.carried_over.total"].value = r005.cells["t3.carried_forward.total"].value + 2
    with store() as s:
        for i, result in enumerate((r005, nxt)):
            _done(s, result, f"r005-{i}".encode(), f"r005-{i}.txt")
        checks = crud.series(s, agency=r005.agency[:4])
        total = [c for c in checks if c.rule == "t3_carry_cross_report" and c.instance == "total"]
        assert [(c.status, c.years) for c in total] == [("fail", (r005.year, r005.year + 1))]
        assert crud.series(s, agency="没有这个机关") == []


def test_a_token_stops_working_when_it_expires(store):
    from datetime import timedelta

    with store() as s:
        lasting = crud.create_token(s, "reviewer", "long", expires_in=timedelta(days=30))
        gone = crud.create_token(s, "reviewer", "short", expires_in=timedelta(seconds=-1))
        forever = crud.create_token(s, "reviewer", "ever")
        assert crud.lookup_token(s, lasting) is not None and crud.lookup_token(s, forever) is not None
        assert crud.lookup_token(s, gone) is None


SHANGHAI, PINGTAN = "上海市人民政府办公厅", "平潭综合实验区"  # the agencies extraction reads in r003 and r005


@pytest.fixture(scope="module")
def two_agencies() -> tuple[Result, Result]:
    """Two real reports of two agencies as the pipeline reads them (r003: SHANGHAI, r005: PINGTAN)."""
    shanghai, pingtan = extracted(str(DEV / "r003" / "source.html")), extracted(str(DEV / "r005" / "source.txt"))
    assert (shanghai.agency, pingtan.agency) == (SHANGHAI, PINGTAN)
    return shanghai, pingtan


def test_agency_names_match_whatever_their_spacing_and_width():
    assert crud.agency_key("上海市 人民政府\u3000办公厅") == crud.agency_key(SHANGHAI)
    assert crud.agency_key("ＸＸ市（试点）Ａ") == crud.agency_key("XX市(试点)a")  # NFKC, casefolded
    assert crud.agency_key("上海市人民政府") != crud.agency_key(SHANGHAI)  # a part of a name is another agency
    assert crud.scope_of(None) is None and crud.scope_of([PINGTAN, " 平潭综合实验区 "]) == (PINGTAN,)


def test_a_bound_scope_sees_its_agencies_reports_and_its_uploads_only(store, two_agencies):
    shanghai_result, pingtan_result = two_agencies
    sh, pt, both = crud.scope_of([SHANGHAI]), crud.scope_of(["平潭 综合实验区"]), crud.scope_of([SHANGHAI, PINGTAN])
    with store() as s:
        # uploaded by a token bound to Shanghai: Shanghai sees it before it is read, Pingtan does not
        mine, new = crud.register(s, "a" * 64, "r003.html", 10, actor="sh-up", role="uploader", scope=sh)
        assert new and crud.get_report(s, mine.id, sh).id == mine.id
        with pytest.raises(crud.NotFound, match=f"^no report {mine.id}$"):  # as a report that does not exist
            crud.get_report(s, mine.id, pt)
        assert [r.id for r in crud.list_reports(s, scope=sh)[0]] == [mine.id] and crud.list_reports(s, scope=pt)[1] == 0
        crud.complete(s, crud.claim(s).job_id, shanghai_result)
        # uploaded by an unbound token, read as Pingtan's: Pingtan (bound with a space in the name) sees it
        theirs, _ = crud.register(s, "b" * 64, "r005.txt", 10, actor="admin", role="admin")
        crud.complete(s, crud.claim(s).job_id, pingtan_result)
        assert theirs.agency_key == crud.agency_key(PINGTAN)
        # uploaded by a token bound to Shanghai, read as Pingtan's: both see it (the uploader brought the bytes)
        brought, _ = crud.register(s, "c" * 64, "pt-copy.txt", 10, actor="sh-up", role="uploader", scope=sh)
        crud.complete(s, crud.claim(s).job_id, pingtan_result)

        def ids(scope):
            return sorted(r.id for r in crud.list_reports(s, scope=scope)[0])

        assert ids(sh) == sorted([mine.id, brought.id]) and ids(pt) == sorted([theirs.id, brought.id])
        assert ids(both) == ids(None) == sorted([mine.id, theirs.id, brought.id])
        assert crud.list_reports(s, scope=pt)[1] == 2 and crud.list_reports(s, scope=())[1] == 0
        assert {r.id for _, r in crud.review_queue(s, limit=500, scope=sh)[0]} <= {mine.id, brought.id}
        assert {r.id for _, r in crud.review_queue(s, limit=500, scope=pt)[0]} == {theirs.id, brought.id}
        nxt = pingtan_result.model_copy(deep=True)  # Pingtan's next year: a pair of years for the series checks
        nxt.year = pingtan_result.year + 1
        crud.register(s, "d" * 64, "r005-next.txt", 10, actor="admin", role="admin")
        crud.complete(s, crud.claim(s).job_id, nxt)
        pairs = {c.years for c in crud.series(s, scope=pt)}
        assert pairs == {(pingtan_result.year, nxt.year)} and {c.years for c in crud.series(s)} == pairs
        assert crud.series(s, scope=sh) == crud.series(s, scope=()) == []  # Shanghai sees one Pingtan year only

        # every operation on a report names it within the scope: another agency's is NotFound, nothing written
        cid = "t3.new_received.natural_person"
        cell = pingtan_result.cells[cid]
        with pytest.raises(crud.NotFound):
            crud.correct(s, theirs.id, cid, 1, cell.version, None, actor="sh", role="reviewer", scope=sh)
        with pytest.raises(crud.NotFound):
            crud.preview(s, theirs.id, cid, 1, sh)
        with pytest.raises(crud.NotFound):
            crud.approve(s, theirs.id, actor="sh", role="reviewer", scope=sh)
        with pytest.raises(crud.NotFound):
            crud.retry(s, theirs.id, actor="sh", role="reviewer", scope=sh)
        assert theirs.version == 1 and theirs.approved_at is None
        assert [a.action for a in crud.audit_log(s, theirs.id)] == ["upload"]
        crud.correct(s, theirs.id, cid, cell.value + 1, cell.version, None, actor="pt", role="reviewer", scope=pt)
        assert crud.approve(s, theirs.id, actor="pt", role="reviewer", scope=pt).approved_at is not None

        # the same bytes again: a duplicate for whoever sees the report; a bound token that does not is refused
        # without being told which report it is
        assert crud.register(s, "b" * 64, "again.txt", 10, actor="pt", role="uploader", scope=pt) == (theirs, False)
        assert crud.register(s, "b" * 64, "again.txt", 10, actor="a", role="admin") == (theirs, False)
        with pytest.raises(crud.Unavailable):
            crud.register(s, "b" * 64, "again.txt", 10, actor="sh", role="uploader", scope=sh)
        assert crud.list_reports(s)[1] == 4 and crud.audit_log(s, theirs.id)[-1].actor == "pt"


def test_a_token_bound_to_agencies_keeps_them(store):
    with store() as s:
        bound = crud.create_token(s, "reviewer", "sh", agencies=[SHANGHAI, f" {SHANGHAI} ", PINGTAN])
        free = crud.create_token(s, "reviewer", "all")
        assert crud.lookup_token(s, bound).agencies == [SHANGHAI, PINGTAN]
        assert crud.lookup_token(s, free).agencies is None
        for empty in ([], [" "]):
            with pytest.raises(ValueError, match="agency's name is empty"):
                crud.create_token(s, "reviewer", "nobody", agencies=empty)
        assert [(t.name, t.agencies) for t in crud.list_tokens(s)] == [("sh", [SHANGHAI, PINGTAN]), ("all", None)]


def test_a_document_read_twice_is_stored_once(store):
    """Two attempts at one job (a cluster's actor lost with its node after it stored, then the job retried): the
    second finds the (content, pipeline version) extraction and stores nothing; the job is done, one machine result."""
    result = extracted(str(DEV / "seed" / "source.txt"))
    with store() as s:
        report, _ = crud.register(s, "c" * 64, "seed.txt", 10, actor="t", role="admin")
        job_id = report.jobs[-1].id
        assert crud.start(s, job_id, worker="node-a:1")
        assert crud.complete(s, job_id, result) is not None
        assert crud.start(s, job_id, worker="node-b:2") is False  # done: nothing to run
        s.execute(update(Job).where(Job.id == job_id).values(status="running"))  # as if the retry had begun
        s.commit()
        assert crud.complete(s, job_id, result) is None  # stored before: nothing stored again
        versions = crud.versions_of(s, report.id)
        assert [(v.version, v.kind) for v in versions] == [(1, "machine")]
        assert crud.get_report(s, report.id).status == "done"
        assert s.get_one(Job, job_id).status == "done"


def test_a_job_started_past_its_attempts_fails_with_the_reason(store):
    with store() as s:
        report, _ = crud.register(s, "d" * 64, "scan.pdf", 10, actor="t", role="admin")
        job_id = report.jobs[-1].id
        assert [crud.start(s, job_id, worker=f"n:{k}") for k in range(crud.MAX_ATTEMPTS + 1)] == [True] * 3 + [False]
        job = s.get_one(Job, job_id)
        s.refresh(job)
        assert job.status == "failed" and "interrupted 3 times" in (job.error or "") and job.worker == "n:3"
        assert crud.queued_jobs(s) == [] and crud.extra_attempts(s, [job_id]) == 3
