"""/v1/reports end to end on SQLite and PostgreSQL: real uploads extracted by real worker processes, results read
back as the output contract, corrections, the review queue, exports, approval, page images, facts."""

from __future__ import annotations

import csv
import io
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from service.api.app import create_app
from service.api.core import ServiceConfig
from service.result import Result
from service.store import crud
from tests.api.helpers import LOCAL, auth, timed, upload, wait_done
from tests.api.server import create_token, free_port, kill, start
from tests.conftest import DEV, extracted
from tests.store.helpers import SEED, without_table4

PDF = DEV / "r001" / "source.pdf"


def test_upload_extracts_and_the_same_file_is_the_same_report(api, seed_report):
    client, tokens = api
    assert seed_report["status"] == "done" and seed_report["error"] is None
    result = Result.model_validate(seed_report["result"])  # the output contract, as the CLI writes it
    assert result.format == "2021" and result.document.path == "source.txt"
    assert all(c.version == 1 for c in result.cells.values())
    machine = extracted(str(SEED))
    assert result.cells == machine.cells and result.checks == machine.checks  # the worker ran the same pipeline
    again = upload(client, tokens, SEED, name="copy-of-seed.txt")
    assert again.status_code == 200 and again.json()["id"] == seed_report["id"] and again.json()["duplicate"]
    listing = client.get("/v1/reports", params={"year": result.year}, headers=auth(tokens, "uploader")).json()
    assert [r["id"] for r in listing["items"]] == [seed_report["id"]]
    assert client.get("/v1/reports", params={"status": "failed"}, headers=auth(tokens, "uploader")).json()["total"] == 0
    versions = client.get(f"/v1/reports/{seed_report['id']}/versions", headers=auth(tokens, "uploader")).json()
    assert [(v["version"], v["kind"], v["created_by"]) for v in versions[:1]] == [(1, "machine", "machine")]


def test_bad_uploads_get_clear_errors_and_store_nothing(api):
    client, tokens = api
    before = client.get("/v1/reports", headers=auth(tokens, "uploader")).json()["total"]
    r = client.post("/v1/reports", files={"file": ("empty.pdf", b"")}, headers=auth(tokens, "uploader"))
    assert r.status_code == 400 and "empty" in r.json()["detail"]
    r = client.post(
        "/v1/reports", files={"file": ("tool.exe", b"MZ\x90\x00\x03" + bytes(200))}, headers=auth(tokens, "uploader")
    )
    assert r.status_code == 415 and "unsupported file type" in r.json()["detail"]
    assert client.get("/v1/reports", headers=auth(tokens, "uploader")).json()["total"] == before
    assert client.get("/v1/reports/nope", headers=auth(tokens, "uploader")).status_code == 404


def test_correction_reruns_the_checks_and_refuses_a_stale_version(api, seed_report):
    client, tokens = api
    rid = seed_report["id"]
    cid = "t3.new_received.natural_person"
    cell = seed_report["result"]["cells"][cid]
    url = f"/v1/reports/{rid}/cells/{cid}"
    r = client.patch(
        url,
        json={"value": cell["value"] + 5, "expected_version": 1, "reason": "试验"},
        headers=auth(tokens, "reviewer"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cell"]["status"] == "corrected" and body["cell"]["version"] == 2
    assert body["cell"]["original_value"] == cell["value"] and "ocr" not in body["cell"]
    broken = [c for c in body["checks"] if c["status"] == "fail" and cid in c["cells"]]
    assert broken and body["failing_checks"] >= len(broken)
    preview = client.post(f"{url}/preview", json={"value": cell["value"]}, headers=auth(tokens, "reviewer"))
    assert preview.status_code == 200
    assert not [c for c in preview.json() if c["status"] == "fail" and cid in c["cells"]]
    assert client.get(f"/v1/reports/{rid}", headers=auth(tokens, "uploader")).json()["version"] == 2  # nothing stored
    stale = client.patch(url, json={"value": cell["value"], "expected_version": 1}, headers=auth(tokens, "reviewer"))
    assert stale.status_code == 409 and stale.json()["detail"]["current_version"] == 2
    r = client.patch(
        url, json={"value": cell["value"], "expected_version": 2, "reason": "原值"}, headers=auth(tokens, "reviewer")
    )
    assert r.status_code == 200
    assert not [c for c in r.json()["checks"] if c["status"] == "fail" and cid in c["cells"]]
    got = client.get(f"/v1/reports/{rid}", headers=auth(tokens, "uploader")).json()
    assert got["version"] == 3 and got["result"]["cells"][cid]["version"] == 3
    first = client.get(f"/v1/reports/{rid}", params={"version": 1}, headers=auth(tokens, "uploader")).json()
    assert first["result"]["cells"][cid]["status"] == cell["status"]
    assert client.get(f"/v1/reports/{rid}", params={"version": 9}, headers=auth(tokens, "uploader")).status_code == 404
    audit = client.get(f"/v1/reports/{rid}/audit", headers=auth(tokens, "reviewer")).json()
    corrections = [a for a in audit if a["action"] == "correct"]
    assert [(a["actor"], a["old"]["value"], a["new"]["value"], a["reason"]) for a in corrections] == [
        ("reviewer-1", cell["value"], cell["value"] + 5, "试验"),
        ("reviewer-1", cell["value"] + 5, cell["value"], "原值"),
    ]
    missing = client.patch(
        f"/v1/reports/{rid}/cells/t9.x", json={"value": 1, "expected_version": 1}, headers=auth(tokens, "reviewer")
    )
    assert missing.status_code == 404


def test_queue_and_report_speak_the_reviewers_language_with_stable_codes(api, seed_report):
    """The seed prints table 3 without its 其他 column: the queue shows those cells by their printed row and column,
    each reason with its code and parameters and in Chinese (English with ?lang=en, as review_reasons has it);
    the report's view labels every cell of the format, names the deviations and writes the rules as equations in
    printed labels with the numbers."""
    from service.schema import load_format

    client, tokens = api
    rid = seed_report["id"]
    queue = client.get("/v1/review/queue", params={"limit": 500}, headers=auth(tokens, "reviewer")).json()["items"]
    item = next(i for i in queue if i["report_id"] == rid and i["cell_id"] == "t3.new_received.other_org")
    assert (item["table_label"], item["row_label"], item["column_label"], item["column_group"]) == (
        "表三",
        "一、本年新收政府信息公开申请数量",
        "其他",
        "法人或其他组织",
    )
    assert [(x["reason_code"], x["params"], x["text"]) for x in item["reason_items"]] == [
        ("column_not_printed_in_row", {"col": "其他"}, "此行未印出“其他”列"),
        ("deviation", {"id": "dev_missing_other_column"}, "表三缺少“其他”列"),
    ]
    assert item["reasons"] == ["column 其他 not printed in this row", "dev_missing_other_column"]  # as before
    # where the reviewer starts: the row as the text prints it (six numbers) and the row with 其他 as the rules
    # require it, proposed; 其他's rule-inferred value
    start = item["start_from"]
    assert start["row"] == "t3.new_received" and start["row_label"] == "一、本年新收政府信息公开申请数量"
    assert start["cells"][-2:] == ["t3.new_received.other_org", "t3.new_received.total"]
    assert [t["raw"] for t in start["read"]["tokens"]] == ["1", "1", "0", "0", "0", "2"]
    assert start["read"]["text"].endswith("1 1 0 0 0 2") and start["inferred"] == 0
    proposed = start["candidates"][0]
    assert proposed["proposed"] and proposed["how"] == "gap" and not proposed["rules_broken"]
    assert list(proposed["values"].values()) == [1, 1, 0, 0, 0, 0, 2]
    assert proposed["raw"]["t3.new_received.other_org"] is None  # not read: what the row rule requires
    assert [c["proposed"] for c in start["candidates"]].count(True) == 1
    en = client.get("/v1/review/queue", params={"limit": 500, "lang": "en"}, headers=auth(tokens, "reviewer")).json()
    for i in en["items"]:
        assert [x["text"] for x in i["reason_items"]] == i["reasons"]
        assert all(x["reason_code"] for x in i["reason_items"]), i
    assert client.get("/v1/review/queue", params={"lang": "fr"}, headers=auth(tokens, "reviewer")).status_code == 422

    body = client.get(f"/v1/reports/{rid}", headers=auth(tokens, "uploader")).json()
    result, view = body["result"], body["view"]
    assert view["lang"] == "zh" and set(view["cells"]) == set(result["cells"])
    assert set(load_format("2021").cell_ids()) <= {cid for cid, v in view["cells"].items() if v["row_label"]}
    for cid, cell in result["cells"].items():  # the codes stand one for one beside the English reasons
        assert len(cell["review_codes"]) == len(cell["review_reasons"]), cid
        assert [x["reason_code"] for x in view["cells"][cid]["reasons"]] == [c["code"] for c in cell["review_codes"]]
    corrected = view["cells"]["t3.new_received.natural_person"]  # corrected by the test before this one
    assert corrected["reasons"][0]["reason_code"] == "corrected_because"
    why = result["cells"]["t3.new_received.natural_person"]["review_reasons"][0].removeprefix(
        "corrected by reviewer-1: "
    )
    assert corrected["reasons"][0]["text"] == f"已由 reviewer-1 更正：{why}" and why in ("试验", "原值")
    devs = {d["id"]: d for d in view["deviations"]}
    assert devs["dev_missing_other_column"]["title"] == "表三缺少“其他”列"
    assert "一、本年新收政府信息公开申请数量 × 其他" in devs["dev_missing_other_column"]["cell_labels"]
    assert [c["index"] for c in view["checks"]] == list(range(len(result["checks"])))
    balance = next(c for c in view["checks"] if c["rule"] == "t3_balance" and c["instance"] == "total")
    cells = result["cells"]
    numbers = [
        cells[f"t3.{r}.total"]["value"] for r in ("new_received", "carried_over", "results_total", "carried_forward")
    ]
    assert f"总计：一 + 二 = 三（七）总计 + 四：{numbers[0]} + {numbers[1]} " in balance["text"]
    assert all(not re.search(r"[A-Za-z]{4,}", c["text"]) for c in view["checks"])
    english = client.get(f"/v1/reports/{rid}", params={"lang": "en"}, headers=auth(tokens, "uploader")).json()
    assert english["result"] == result and english["view"]["lang"] == "en"
    assert [x["text"] for x in english["view"]["cells"]["t3.new_received.other_org"]["reasons"]] == item["reasons"]
    cid = "t3.new_received.natural_person"  # a correction answers with the re-run checks in Chinese too
    fixed = client.patch(
        f"/v1/reports/{rid}/cells/{cid}",
        json={"value": cells[cid]["value"], "expected_version": cells[cid]["version"], "reason": "原值"},
        headers=auth(tokens, "reviewer"),
    ).json()
    assert [c["index"] for c in fixed["check_views"]] == list(range(len(fixed["checks"])))
    assert [c["rule"] for c in fixed["check_views"]] == [c["rule"] for c in fixed["checks"]]
    assert all(c["text"] and not re.search(r"[A-Za-z]{4,}", c["text"]) for c in fixed["check_views"])


def test_review_queue_exports_and_approval(api, seed_report):
    client, tokens = api
    rid = seed_report["id"]
    queue = client.get("/v1/review/queue", headers=auth(tokens, "reviewer")).json()
    mine = [i for i in queue["items"] if i["report_id"] == rid]
    assert mine and [i["confidence"] for i in queue["items"]] == sorted(i["confidence"] for i in queue["items"])
    csv_body = client.get(f"/v1/reports/{rid}/export.csv", headers=auth(tokens, "uploader"))
    rows = list(csv.DictReader(io.StringIO(csv_body.content.decode("utf-8-sig"))))
    assert len(rows) == len(seed_report["result"]["cells"]) and rows[0]["report_id"] == rid
    assert csv_body.headers["content-type"].startswith("text/csv")
    assert "filename*=UTF-8''source.csv" in csv_body.headers["content-disposition"]
    xlsx = client.get(f"/v1/reports/{rid}/export.xlsx", headers=auth(tokens, "uploader")).content
    wb = load_workbook(io.BytesIO(xlsx))
    assert wb.sheetnames == ["cells", "checks", "facts"] and wb["cells"].max_row == len(rows) + 1
    exported = client.get(f"/v1/reports/{rid}/export.json", headers=auth(tokens, "uploader")).json()
    newest = client.get(f"/v1/reports/{rid}", headers=auth(tokens, "uploader")).json()["result"]
    assert exported == newest and exported["format"] == "2021"
    assert client.get(f"/v1/reports/{rid}/export.pdf", headers=auth(tokens, "uploader")).status_code == 404

    r = client.post(f"/v1/reports/{rid}/approve", json={"reason": "核对完毕"}, headers=auth(tokens, "reviewer"))
    assert r.status_code == 200 and r.json()["approved"] and r.json()["approved_by"] == "reviewer-1"
    queue = client.get("/v1/review/queue", headers=auth(tokens, "reviewer")).json()
    assert not [i for i in queue["items"] if i["report_id"] == rid]
    late = client.patch(
        f"/v1/reports/{rid}/cells/t3.new_received.total",
        json={"value": 1, "expected_version": 1},
        headers=auth(tokens, "reviewer"),
    )
    assert late.status_code == 409


def test_a_partial_report_is_listed_queued_and_complete_once_corrected(api, seed_report, tmp_path):
    """The seed without table 4: coverage partial in the list and its filter, the 15 unread cells in the review
    queue with their "not read" reason, the coverage in the export; correcting them all makes it complete."""
    client, tokens = api
    r = upload(client, tokens, without_table4(tmp_path / "seed-no-t4.txt"))
    body = wait_done(client, tokens, r.json()["id"])
    rid = body["id"]
    assert body["status"] == "done" and body["coverage"] == "partial"
    assert body["coverage_reasons"] == ["t4: table not located"] and body["result"]["coverage"]["status"] == "partial"

    def listed(coverage):
        found = client.get("/v1/reports", params={"coverage": coverage}, headers=auth(tokens, "uploader")).json()
        return [i["id"] for i in found["items"]]

    assert listed("partial") == [rid] and seed_report["id"] in listed("complete") and listed("failed") == []
    listing = client.get("/v1/reports", headers=auth(tokens, "uploader")).json()["items"]
    assert {i["id"]: i["coverage"] for i in listing}[rid] == "partial"
    assert client.get("/v1/reports", params={"coverage": "half"}, headers=auth(tokens, "uploader")).status_code == 422

    queue = client.get("/v1/review/queue", params={"limit": 500}, headers=auth(tokens, "reviewer")).json()["items"]
    unread = [i for i in queue if i["report_id"] == rid and i["reasons"][0].startswith("not read: ")]
    t4 = {cid: c for cid, c in seed_report["result"]["cells"].items() if cid.startswith("t4.")}
    assert sorted(i["cell_id"] for i in unread) == sorted(t4)
    assert {(i["status"], i["confidence"]) for i in unread} == {("absent", 0.0)}
    assert [i["confidence"] for i in queue] == sorted(i["confidence"] for i in queue)

    export = client.get(f"/v1/reports/{rid}/export.csv", headers=auth(tokens, "uploader"))
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert {row["coverage"] for row in rows} == {"partial"}

    for i in unread:
        r = client.patch(
            f"/v1/reports/{rid}/cells/{i['cell_id']}",
            headers=auth(tokens, "reviewer"),
            json={"value": t4[i["cell_id"]]["value"], "expected_version": i["version"], "reason": "按原件补录"},
        )
        assert r.status_code == 200, r.text
    got = client.get(f"/v1/reports/{rid}", headers=auth(tokens, "uploader")).json()
    assert (got["coverage"], got["coverage_reasons"]) == ("complete", [])
    assert got["result"]["coverage"]["status"] == "complete" and got["version"] == 1 + len(unread)
    assert listed("partial") == [] and rid in listed("complete")
    queue = client.get("/v1/review/queue", params={"limit": 500}, headers=auth(tokens, "reviewer")).json()["items"]
    assert not [i for i in queue if i["report_id"] == rid and i["cell_id"].startswith("t4.")]


def test_a_request_waiting_on_the_database_holds_up_no_other(api, seed_report):
    """Another connection holds a lock an upload needs: the upload waits on the database while a report, the report
    list and /healthz answer at once (the wait is on the thread pool, not on the event loop); once the lock goes,
    the upload goes through. On PostgreSQL the reads themselves then wait on a table lock, and /healthz still
    answers."""
    client, tokens = api
    rid = seed_report["id"]
    engine = create_engine(client.app.state.service.url)
    postgres = engine.dialect.name == "postgresql"
    answers: dict[str, httpx.Response] = {}

    def in_background(name: str, call, *args, **kwargs) -> threading.Thread:
        thread = threading.Thread(target=lambda: answers.update({name: call(*args, **kwargs)}))
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive(), f"{name} should wait for the lock"
        return thread

    with engine.connect() as conn:
        if postgres:
            conn.execute(text("LOCK TABLE reports IN SHARE MODE"))  # reads go on, writes wait
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock
        files = {"file": ("lock-test.txt", "某单位2021年政府信息公开工作年度报告（锁）".encode())}
        writing = in_background("upload", client.post, "/v1/reports", files=files, headers=auth(tokens, "uploader"))
        for path, role in ((f"/v1/reports/{rid}", "uploader"), ("/v1/reports", "uploader"), ("/healthz", "admin")):
            answer, seconds = timed(client.get, path, headers=auth(tokens, role))
            assert answer.status_code == 200 and seconds < 2, (path, seconds)
        conn.rollback()
    writing.join(30)
    assert answers["upload"].status_code == 202
    if postgres:
        with engine.connect() as conn:
            conn.execute(text("LOCK TABLE reports IN ACCESS EXCLUSIVE MODE"))  # now reads wait too
            reading = in_background("list", client.get, "/v1/reports", headers=auth(tokens, "uploader"))
            answer, seconds = timed(client.get, "/healthz")
            assert answer.status_code == 200 and seconds < 2, seconds
            conn.rollback()
        reading.join(30)
        assert answers["list"].status_code == 200
    engine.dispose()
    wait_done(client, tokens, answers["upload"].json()["id"])


def test_page_images_of_a_pdf(api):
    client, tokens = api
    r = upload(client, tokens, PDF)
    body = wait_done(client, tokens, r.json()["id"])
    assert body["status"] == "done" and body["pages"] >= 1
    page = client.get(f"/v1/reports/{body['id']}/pages/1.png", headers=auth(tokens, "uploader"))
    assert page.status_code == 200 and page.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert float(page.headers["x-page-scale"]) > 1
    cached = client.get(f"/v1/reports/{body['id']}/pages/1.png", headers=auth(tokens, "uploader"))
    assert cached.content == page.content
    assert client.get(f"/v1/reports/{body['id']}/pages/99.png", headers=auth(tokens, "uploader")).status_code == 404


def test_facts_rendered_by_displacy(api):
    """GET …/facts.html: the stored facts of a report as displaCy marks (r005's text states 70 applications …)."""
    client, tokens = api
    r = upload(client, tokens, DEV / "r005" / "source.txt", name="r005.txt")
    body = wait_done(client, tokens, r.json()["id"])
    facts = body["result"]["facts"]
    assert body["status"] == "done" and len(facts) >= 4
    path = f"/v1/reports/{body['id']}/facts.html"
    assert client.get(path).status_code == 401
    page = client.get(path, headers=auth(tokens, "uploader"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.lstrip().lower().startswith("<!doctype html") or "<html" in page.text
    fragment = client.get(path, params={"fragment": True}, headers=auth(tokens, "uploader")).text
    assert "<html" not in fragment and fragment.count('class="entity"') == len(facts)
    assert all(f["id"] in fragment for f in facts) and "本年度全区共收到" in fragment
    assert client.get("/v1/reports/nope/facts.html", headers=auth(tokens, "uploader")).status_code == 404


def test_series_and_schema(api, seed_report):
    client, tokens = api
    assert client.get("/v1/series", headers=auth(tokens, "uploader")).json() == []  # one agency, one year
    schema = client.get("/v1/schema/2021", headers=auth(tokens, "uploader")).json()
    assert len(schema["t3"]["rows"]) >= 25 and schema["t4"]["groups"] and len(schema["t2"]) == 4
    assert client.get("/v1/schema/2030", headers=auth(tokens, "uploader")).status_code == 404


def test_too_large_and_corrupt_uploads(tmp_path):
    cfg = ServiceConfig(data_dir=tmp_path, local=True, workers=1, max_upload_mb=1)
    with TestClient(create_app(cfg), base_url=LOCAL) as client:
        big = client.post("/v1/reports", files={"file": ("big.txt", "一" * 400_000)})
        assert big.status_code == 413 and "larger than 1 MB" in big.json()["detail"]
        r = client.post("/v1/reports", files={"file": ("broken.pdf", b"%PDF-1.4 not really a PDF")})
        assert r.status_code == 202  # looks like a PDF: accepted, and the job says what is wrong with it
        deadline = time.time() + 120
        while (body := client.get(f"/v1/reports/{r.json()['id']}").json())["status"] not in ("done", "failed"):
            assert time.time() < deadline
            time.sleep(0.3)
        assert body["status"] == "failed" and body["error"].startswith("unreadable input: corrupt or unreadable PDF")
        assert client.get("/v1/reports").json()["total"] == 1
        with client.app.state.service.sessions() as s:
            assert crud.result_of(s, r.json()["id"]) is None


def own_report(api, tmp_path, tag: str) -> str:
    """The seed report under another name and one more line (another file: a report of its own, not approved)."""
    client, tokens = api
    path = tmp_path / f"seed-{tag}.txt"
    path.write_text(SEED.read_text(encoding="utf-8") + f"\n{tag}\n", encoding="utf-8")
    r = upload(client, tokens, path)
    assert r.status_code == 202, r.text
    return wait_done(client, tokens, r.json()["id"])["id"]


def test_a_value_the_cell_cannot_hold_is_refused_and_nothing_is_stored(api, tmp_path):
    client, tokens = api
    rid = own_report(api, tmp_path, "values")
    count = "t3.denied_state_secret.research_institution"
    before = client.get(f"/v1/reports/{rid}", headers=auth(tokens, "uploader")).json()
    version = before["result"]["cells"][count]["version"]
    bodies = ["NaN", "Infinity", "-Infinity", "-1", "1.5", "true", '"5"', "1" + "0" * 308, "[1]"]
    for raw in bodies:
        content = f'{{"value": {raw}, "expected_version": {version}}}'
        for url in (f"/v1/reports/{rid}/cells/{count}", f"/v1/reports/{rid}/cells/{count}/preview"):
            r = client.request(
                "PATCH" if url.endswith(count) else "POST",
                url,
                content=content,
                headers={**auth(tokens, "reviewer"), "Content-Type": "application/json"},
            )
            assert r.status_code == 422, (raw, url, r.status_code, r.text)
    after = client.get(f"/v1/reports/{rid}", headers=auth(tokens, "uploader")).json()
    assert after["version"] == before["version"] and after["result"]["cells"][count]["version"] == version
    fee = "t2.art20_8.admin_fees.fee_amount"
    cell = after["result"]["cells"][fee]
    ok = client.post(
        f"/v1/reports/{rid}/cells/{fee}/preview", json={"value": 12.3456}, headers=auth(tokens, "reviewer")
    )
    assert ok.status_code == 200  # an amount in 万元 keeps its decimals
    for bad in (-0.5, 1.1234567, 1e13):
        r = client.post(f"/v1/reports/{rid}/cells/{fee}/preview", json={"value": bad}, headers=auth(tokens, "reviewer"))
        assert r.status_code == 422 and fee in r.text, bad
    assert cell["version"] == after["result"]["cells"][fee]["version"]


def test_two_reviewers_saving_one_cell_at_once_get_one_200_and_one_409(api, tmp_path):
    """20 rounds of two reviewers saving the same cell version at the same moment: exactly one wins each round,
    the other is told the version is stale (409), never a server error."""
    client, tokens = api
    rid = own_report(api, tmp_path, "concurrent")
    cid = "t3.denied_state_secret.legal_service_org"
    outcomes: list[list[int]] = []
    for round_ in range(20):
        version = client.get(f"/v1/reports/{rid}", headers=auth(tokens, "uploader")).json()["result"]["cells"][cid]
        start = threading.Barrier(2)
        codes: list[int] = []

        def save(
            value: int, version: int = version["version"], start: threading.Barrier = start, codes: list[int] = codes
        ) -> None:
            start.wait()
            r = client.patch(
                f"/v1/reports/{rid}/cells/{cid}",
                json={"value": value, "expected_version": version},
                headers=auth(tokens, "reviewer"),
            )
            codes.append(r.status_code)

        both = [threading.Thread(target=save, args=(round_ * 2 + k,)) for k in range(2)]
        for t in both:
            t.start()
        for t in both:
            t.join()
        outcomes.append(sorted(codes))
    assert outcomes == [[200, 409]] * 20


def _raw_request(port: int, head: bytes, body_chunks: Iterator[bytes], wait: float = 10.0) -> tuple[int, float]:
    """Send a request over a plain socket (headers, then the body as it comes) and return the status code and the
    seconds until it arrived; the body stops being sent once an answer is there."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        start = time.perf_counter()
        sock.sendall(head)
        sock.setblocking(False)
        answer = b""
        for chunk in body_chunks:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                sock.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
        sock.setblocking(True)
        sock.settimeout(wait)
        while b"\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
        return int(answer.split(b" ", 2)[1]), time.perf_counter() - start


def test_uploads_are_checked_before_and_while_the_body_streams_in(tmp_path):
    """No token: 401 before a byte of a (claimed) 2 GB body is read. A token but a body past the limit, sent
    chunked with no length: 413 at the limit, and nothing of it left in the server's temporary folder."""
    data, spool = tmp_path / "data", tmp_path / "spool"
    spool.mkdir()
    token = create_token(data, "uploader")
    port = free_port()
    proc = start(data, port, local=False, env={"TMPDIR": str(spool), "XXGK_MAX_UPLOAD_MB": "2"})
    try:
        boundary = b"xxgkboundary"
        part = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'
        head = (
            b"POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary="
            + boundary
            + b"\r\nContent-Length: 2147483648\r\n\r\n"
        )
        code, seconds = _raw_request(port, head, iter([part] + [b"\x00" * 65536] * 16))
        assert code == 401 and seconds < 5
        head = (
            b"POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token.encode()
            + b"\r\nContent-Type: multipart/form-data; boundary=" + boundary
            + b"\r\nContent-Length: 2147483648\r\n\r\n"
        )  # fmt: skip
        code, seconds = _raw_request(port, head, iter([part]))
        assert code == 413 and seconds < 5  # the declared length alone is past the limit
        chunked = (
            b"POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token.encode()
            + b"\r\nContent-Type: multipart/form-data; boundary=" + boundary
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        )  # fmt: skip
        before = set(spool.iterdir())  # what the server's libraries keep there from the start
        piece = b"\x01" * 65536
        chunks = (b"%x\r\n%s\r\n" % (len(c), c) for c in [part] + [piece] * 200)  # 12.5 MB offered, 2 MB allowed
        code, _ = _raw_request(port, chunked, chunks)
        assert code == 413
        time.sleep(0.5)
        assert set(spool.iterdir()) == before  # the part spooled to disk is gone
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        with open(SEED, "rb") as f:  # and an upload within the limit still works
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/reports",
                files={"file": ("seed.txt", f)},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
        assert r.status_code == 202
    finally:
        kill(proc)


def test_a_failed_report_can_be_run_again_by_a_reviewer(api, seed_report, tmp_path):
    client, tokens = api
    broken = tmp_path / "broken-for-retry.pdf"
    broken.write_bytes(b"%PDF-1.4 not really a PDF, retried")
    r = upload(client, tokens, broken)
    assert r.status_code == 202
    failed = wait_done(client, tokens, r.json()["id"])
    assert failed["status"] == "failed" and failed["error"].startswith("unreadable input")
    url = f"/v1/reports/{failed['id']}/retry"
    assert client.post(url, headers=auth(tokens, "uploader")).status_code == 403
    again = client.post(url, headers=auth(tokens, "reviewer"))
    assert again.status_code == 202 and again.json()["status"] == "queued" and again.json()["job"]
    second = wait_done(client, tokens, failed["id"])
    assert second["status"] == "failed" and second["error"] == failed["error"]  # the same bytes fail the same way
    audit = client.get(f"/v1/reports/{failed['id']}/audit", headers=auth(tokens, "reviewer")).json()
    assert [(a["action"], a["actor"]) for a in audit if a["action"] == "retry"] == [("retry", "reviewer-1")]
    assert client.post(f"/v1/reports/{seed_report['id']}/retry", headers=auth(tokens, "reviewer")).status_code == 409
    assert client.post("/v1/reports/nope/retry", headers=auth(tokens, "reviewer")).status_code == 404


def test_page_images_are_bounded_whatever_the_file(api, tmp_path):
    """A 22000 x 22000 PNG (a few kB) and a PDF page of 200 x 200 in: both refused by the job's limits, and their
    page images bounded: the PNG not decoded at all (404, too large), the PDF page rendered at a lower dpi."""
    from PIL import Image

    client, tokens = api
    png = tmp_path / "huge.png"
    Image.new("1", (22000, 22000), 1).save(png, optimize=True)
    pdf = tmp_path / "huge-page.pdf"
    doc = __import__("pypdfium2").PdfDocument.new()
    doc.new_page(14400, 14400)
    doc.save(str(pdf))
    doc.close()
    for path in (png, pdf):
        r = upload(client, tokens, path)
        assert r.status_code == 202, r.text
        body = wait_done(client, tokens, r.json()["id"])
        assert body["status"] == "failed" and "limits.max_page_pixels" in body["error"]
    rid_png = client.get("/v1/reports", params={"limit": 1000}, headers=auth(tokens, "uploader")).json()["items"]
    ids = {item["filename"]: item["id"] for item in rid_png}
    start = time.perf_counter()
    r = client.get(f"/v1/reports/{ids['huge.png']}/pages/1.png", headers=auth(tokens, "uploader"))
    assert r.status_code == 404 and "too large" in r.text and time.perf_counter() - start < 10
    r = client.get(f"/v1/reports/{ids['huge-page.pdf']}/pages/1.png", headers=auth(tokens, "uploader"))
    assert r.status_code == 200
    shown = Image.open(io.BytesIO(r.content))
    assert shown.width * shown.height <= 8_000_000 and float(r.headers["X-Page-Scale"]) < 110 / 72
