"""xxgk batch over folders, globs and zip archives (resumable, errors recorded) and xxgk export in every format."""
from __future__ import annotations

import csv
import json
import shutil
import zipfile

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.store import crud, open_store, sqlite_url
from tests.conftest import DEV
from tests.service.conftest import without_table4

runner = CliRunner()


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    inbox = root / "inbox"
    (inbox / "2021").mkdir(parents=True)
    shutil.copy(DEV / "seed" / "source.txt", inbox / "2021" / "seed.txt")
    shutil.copy(DEV / "r003" / "source.html", inbox / "r003.html")
    (inbox / "notes.json").write_text("{}")  # not a report file: a folder search leaves it out
    with zipfile.ZipFile(root / "archive.zip", "w") as zf:
        zf.write(DEV / "r005" / "page.html", "2020/r005.html")
        zf.writestr("2020/broken.pdf", b"%PDF-1.4 this is not a PDF")
    shutil.copy(DEV / "r013" / "source.md", root / "r013.md")
    return root


def test_batch_then_resume_then_export(batch_dir, tmp_path):
    db = tmp_path / "results.db"
    inputs = [str(batch_dir / "inbox"), str(batch_dir / "archive.zip"), str(batch_dir / "*.md")]
    first = runner.invoke(app, ["batch", *inputs, "--db", str(db), "--workers", "1"])
    assert first.exit_code == 1, first.output  # one file fails: exit 1, listed
    assert "5 files: 4 extracted, 0 skipped (done before), 1 failed, 0 incomplete" in first.output
    assert "archive.zip!2020/broken.pdf" in first.output.replace("\n", "")
    assert "checks across years of one agency: 0 pass, 0 fail (no agency with two consecutive years)" in \
        " ".join(first.output.split())
    engine, sessions = open_store(sqlite_url(db))
    with sessions() as s:
        reports, total = crud.list_reports(s)
        assert total == 5
        by_name = {r.filename: r for r in reports}
        assert by_name["broken.pdf"].status == "failed" and "unreadable input" in by_name["broken.pdf"].error
        assert {r.status for n, r in by_name.items() if n != "broken.pdf"} == {"done"}
        assert by_name["seed.txt"].source == "batch" and by_name["seed.txt"].year == 2021
    engine.dispose()
    assert (tmp_path / "results.files" / "blobs").is_dir()

    again = runner.invoke(app, ["batch", *inputs, "--db", str(db), "--workers", "2"])
    assert "5 files: 0 extracted, 5 skipped (done before), 1 failed, 0 incomplete" in again.output, again.output

    for shape in ("long", "wide"):
        for fmt in ("csv", "xlsx", "jsonl", "parquet"):
            out = tmp_path / f"{shape}.{fmt}"
            r = runner.invoke(app, ["export", "--db", str(db), "-o", str(out), "--shape", shape])
            assert r.exit_code == 0, r.output
            rows = _read(out, fmt)
            if shape == "wide":
                assert len(rows) == 4 and {"t3.new_received.total", "agency", "year"} <= set(rows[0])
            else:
                assert len(rows) > 4 * 100 and {"cell_id", "value", "status", "confidence"} <= set(rows[0])
            assert {r["coverage"] for r in rows} == {"complete"}
    seed = [r for r in _read(tmp_path / "wide.jsonl", "jsonl") if r["filename"] == "seed.txt"][0]
    truth = json.loads((DEV / "seed" / "cells.json").read_text(encoding="utf-8"))
    want = truth["cells"]["t3.new_received.total"] if "cells" in truth else truth["t3.new_received.total"]
    want = want["value"] if isinstance(want, dict) else want
    assert seed["t3.new_received.total"] == want

    bad = runner.invoke(app, ["export", "--db", str(tmp_path / "none.db"), "-o", str(tmp_path / "x.csv")])
    assert bad.exit_code == 2 and "no such database" in " ".join(bad.output.split())  # rich wraps long paths


def test_batch_lists_a_partial_file_and_exits_0(tmp_path):
    """A file read in part is listed with its reasons and counted, the exit code stays 0 (only failed files make
    it 1), also when it is skipped as done the second time; the export carries its coverage."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    without_table4(inbox / "seed-no-t4.txt")
    db = tmp_path / "partial.db"
    for run in ("1 extracted, 0 skipped", "0 extracted, 1 skipped"):
        r = runner.invoke(app, ["batch", str(inbox), "--db", str(db), "--workers", "1"])
        out = " ".join(r.output.split())
        assert r.exit_code == 0, r.output
        assert f"1 files: {run} (done before), 0 failed, 1 incomplete" in out
        flat = "".join(r.output.split())  # rich wraps long paths anywhere
        assert "".join(f"coverage partial {inbox / 'seed-no-t4.txt'}: t4: table not located".split()) in flat
    for shape in ("long", "wide"):
        out = tmp_path / f"{shape}.jsonl"
        assert runner.invoke(app, ["export", "--db", str(db), "-o", str(out), "--shape", shape]).exit_code == 0
        assert {r["coverage"] for r in _read(out, "jsonl")} == {"partial"}


def test_batch_reports_inputs_that_match_nothing(tmp_path):
    r = runner.invoke(app, ["batch", str(tmp_path / "missing" / "*.pdf"), "--db", str(tmp_path / "r.db")])
    assert r.exit_code == 2 and "no such file, folder or matching pattern" in " ".join(r.output.split())


def _read(path, fmt):
    if fmt == "csv":
        with path.open(encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "xlsx":
        from openpyxl import load_workbook

        ws = load_workbook(path)["cells"]
        values = list(ws.values)
        return [dict(zip(values[0], row)) for row in values[1:]]
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()
