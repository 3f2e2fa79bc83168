import json

from typer.testing import CliRunner

from service.cli import app
from service.store import crud, opened, sqlite_url
from tests.conftest import DEV

runner = CliRunner()


def test_help_everywhere():
    for args in ([], ["--help"], ["extract", "--help"], ["check", "--help"], ["eval", "--help"]):
        r = runner.invoke(app, args)
        assert "Usage" in r.output, args


def test_extract_writes_the_contract(tmp_path):
    out = tmp_path / "r003.json"
    r = runner.invoke(app, ["extract", str(DEV / "r003" / "source.html"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["format"] == "2019" and data["year"] == 2019
    assert data["cells"]["t3.new_received.natural_person"]["value"] == 821


def test_check_exit_code_reflects_source_rule_failures():
    r = runner.invoke(app, ["check", str(DEV / "r003" / "source.html")])
    assert r.exit_code == 1 and "FAIL" in r.output and "t3_row_total" in r.output
    r = runner.invoke(app, ["check", str(DEV / "r005" / "page.html")])
    assert r.exit_code == 0, r.output
    assert "表三" in r.output and "0 fail" in r.output


def test_eval_prints_per_document_and_total():
    r = runner.invoke(app, ["eval", str(DEV / "r003"), str(DEV / "r010")])
    assert r.exit_code == 0, r.output
    assert "r003" in r.output and "r010" in r.output and "total: 396/396" in r.output


def test_bad_input_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7\n garbage")
    r = runner.invoke(app, ["extract", str(bad)])
    assert r.exit_code == 2 and "broken.pdf" in r.output
    missing = tmp_path / ("a-long-folder-name-" * 6) / "missing.html"
    r = runner.invoke(app, ["extract", str(missing)])
    assert r.exit_code == 2 and f"error: {missing}: file not found" in r.output  # one line, however long
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    r = runner.invoke(app, ["check", str(empty)])
    assert r.exit_code == 2 and "empty" in r.output


def test_eval_without_truth_is_an_input_error(tmp_path):
    r = runner.invoke(app, ["eval", str(tmp_path)])
    assert r.exit_code == 2


def test_tokens_are_created_and_revoked_in_the_store(tmp_path):
    made = runner.invoke(
        app, ["token", "create", "--role", "reviewer", "--name", "王审核", "--data-dir", str(tmp_path)]
    )
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    with opened(sqlite_url(tmp_path / "xxgk.db")) as sessions, sessions() as s:
        who = crud.lookup_token(s, token)
        assert (who.name, who.role) == ("王审核", "reviewer")
    bad = runner.invoke(app, ["token", "create", "--role", "root", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "error: --role must be one of uploader, reviewer, admin" in bad.output
    gone = runner.invoke(app, ["token", "revoke", "王审核", "--data-dir", str(tmp_path)])
    assert gone.exit_code == 0 and "revoked 1 token(s) of 王审核" in gone.output
    with opened(sqlite_url(tmp_path / "xxgk.db")) as sessions, sessions() as s:
        assert crud.lookup_token(s, token) is None


def test_serve_refuses_local_mode_off_loopback(tmp_path):
    r = runner.invoke(app, ["serve", "--local", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2 and "--local serves without tokens: only on a loopback address, not 0.0.0.0" in r.output


def test_a_token_is_bound_to_agencies_and_listed_with_them(tmp_path):
    store = ["--data-dir", str(tmp_path)]
    made = runner.invoke(
        app,
        ["token", "create", "--role", "reviewer", "--name", "沪审核", "--agency", "上海市人民政府办公厅"]
        + ["--agency", "平潭综合实验区", *store],
    )
    assert made.exit_code == 0, made.output
    assert "bound to 上海市人民政府办公厅、平潭综合实验区" in made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert runner.invoke(app, ["token", "create", "--role", "admin", "--name", "总管", *store]).exit_code == 0
    with opened(sqlite_url(tmp_path / "xxgk.db")) as sessions, sessions() as s:
        assert crud.lookup_token(s, token).agencies == ["上海市人民政府办公厅", "平潭综合实验区"]
    listing = runner.invoke(app, ["token", "list", *store], env={"COLUMNS": "200"})
    assert listing.exit_code == 0, listing.output
    rows = [line for line in listing.stdout.splitlines() if "沪审核" in line or "总管" in line]
    assert len(rows) == 2 and "reviewer" in rows[0] and "上海市人民政府办公厅、平潭综合实验区" in rows[0]
    assert "admin" in rows[1] and "(every report)" in rows[1]
    empty = runner.invoke(app, ["token", "create", "--role", "reviewer", "--agency", " ", *store])
    assert empty.exit_code == 2 and "--agency needs an agency's name" in empty.output
