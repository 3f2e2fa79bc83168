import json

from typer.testing import CliRunner

from service.cli import app
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
    r = runner.invoke(app, ["extract", str(tmp_path / "missing.html")])
    assert r.exit_code == 2 and "file not found" in " ".join(r.output.split())
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    r = runner.invoke(app, ["check", str(empty)])
    assert r.exit_code == 2 and "empty" in r.output


def test_eval_without_truth_is_an_input_error(tmp_path):
    r = runner.invoke(app, ["eval", str(tmp_path)])
    assert r.exit_code == 2
