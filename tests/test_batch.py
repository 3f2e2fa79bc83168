"""xxgk batch (service/batch.py) over folders, globs and zip archives: resumable, errors recorded, files read in
part listed; then xxgk export in every format. Messages are whole lines whatever the terminal's width."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile

import jsonschema
import pytest
from openpyxl import load_workbook
from pyarrow import parquet
from sqlalchemy import update
from typer.testing import CliRunner

from service.batch import expand, run_batch
from service.cli import app
from service.options import load_options
from service.store import crud, opened, sqlite_url
from service.store.orm import Extraction
from tests.conftest import DEV, ROOT
from tests.store.helpers import without_table4
from tests.test_export import LS_SCHEMA  # derived from Label Studio's documented examples

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


def test_inputs_are_files_folders_globs_and_archives(batch_dir):
    items, missing = expand(
        [str(batch_dir / "inbox"), str(batch_dir / "archive.zip"), str(batch_dir / "*.md"), str(batch_dir / "no")]
    )
    names = sorted(i.name.replace(str(batch_dir), "") for i in items)
    assert names == [
        "/archive.zip!2020/broken.pdf",
        "/archive.zip!2020/r005.html",
        "/inbox/2021/seed.txt",
        "/inbox/r003.html",
        "/r013.md",
    ]
    assert missing == [str(batch_dir / "no")]
    member = next(i for i in items if i.member == "2020/r005.html")
    assert member.read(10**7) == (DEV / "r005" / "page.html").read_bytes()
    assert member.read(100) is None  # past the limit: not read


def test_batch_then_resume_then_export(batch_dir, tmp_path):
    db = tmp_path / "results.db"
    inputs = [str(batch_dir / "inbox"), str(batch_dir / "archive.zip"), str(batch_dir / "*.md")]
    first = runner.invoke(app, ["batch", *inputs, "--db", str(db), "--workers", "1"])
    assert first.exit_code == 1, first.output  # one file fails: exit 1, listed
    assert "5 files: 4 extracted, 0 skipped (done before), 1 failed, 0 incomplete" in first.output
    assert f"failed {batch_dir / 'archive.zip'}!2020/broken.pdf: unreadable input" in first.output
    assert "checks across years of one agency: 0 pass, 0 fail (no agency with two consecutive years)" in first.output
    with opened(sqlite_url(db)) as sessions, sessions() as s:
        reports, total = crud.list_reports(s)
        assert total == 5
        by_name = {r.filename: r for r in reports}
        assert by_name["broken.pdf"].status == "failed" and "unreadable input" in by_name["broken.pdf"].error
        assert {r.status for n, r in by_name.items() if n != "broken.pdf"} == {"done"}
        assert by_name["seed.txt"].source == "batch" and by_name["seed.txt"].year == 2021
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

    approved = runner.invoke(app, ["export", "--db", str(db), "-o", str(tmp_path / "a.csv"), "--approved-only"])
    assert approved.exit_code == 0 and "wrote 0 rows (0 reports, long)" in approved.output
    none = tmp_path / "none.db"
    bad = runner.invoke(app, ["export", "--db", str(none), "-o", str(tmp_path / "x.csv")])
    assert bad.exit_code == 2 and f"error: {none}: no such database" in bad.output  # one line, however long
    bad = runner.invoke(app, ["export", "--db", str(db), "-o", str(tmp_path / "x.pdf")])
    assert bad.exit_code == 2 and "--format one of csv, xlsx, jsonl, parquet (got 'pdf')" in bad.output


def test_batch_lists_a_partial_file_and_exits_0(tmp_path):
    """A file read in part is listed with its reasons and counted, the exit code stays 0 (only failed files make
    it 1), also when it is skipped as done the second time; the export carries its coverage."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    without_table4(inbox / "seed-no-t4.txt")
    db = tmp_path / "partial.db"
    for run in ("1 extracted, 0 skipped", "0 extracted, 1 skipped"):
        r = runner.invoke(app, ["batch", str(inbox), "--db", str(db), "--workers", "1"])
        assert r.exit_code == 0, r.output
        assert f"1 files: {run} (done before), 0 failed, 1 incomplete" in r.output
        assert f"coverage partial {inbox / 'seed-no-t4.txt'}: t4: table not located" in r.output
    for shape in ("long", "wide"):
        out = tmp_path / f"{shape}.jsonl"
        assert runner.invoke(app, ["export", "--db", str(db), "-o", str(out), "--shape", shape]).exit_code == 0
        assert {r["coverage"] for r in _read(out, "jsonl")} == {"partial"}


def test_a_file_failed_before_runs_again_with_retry_failed(batch_dir, tmp_path):
    url = sqlite_url(tmp_path / "r.db")
    broken = [str(batch_dir / "archive.zip")]
    calls: list[tuple[int, int]] = []
    first = run_batch(broken, url, tmp_path / "files", load_options(), progress=lambda d, t, p, s: calls.append((d, t)))
    assert (first.done, first.failed, first.skipped) == (1, 1, 0) and calls[0] == (0, 2) and calls[-1] == (2, 2)
    second = run_batch(broken, url, tmp_path / "files", load_options())
    assert (second.done, second.failed, second.skipped) == (0, 1, 2)
    third = run_batch(broken, url, tmp_path / "files", load_options(), retry_failed=True)
    assert (third.done, third.failed, third.skipped) == (0, 1, 1) and third.errors[0][1].startswith("unreadable")


def test_batch_reports_inputs_that_match_nothing(tmp_path):
    r = runner.invoke(app, ["batch", str(tmp_path / "missing" / "*.pdf"), "--db", str(tmp_path / "r.db")])
    assert (
        r.exit_code == 2 and f"{tmp_path / 'missing' / '*.pdf'}: no such file, folder or matching pattern" in r.output
    )


def _read(path, fmt):
    if fmt == "csv":
        with path.open(encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "xlsx":
        values = list(load_workbook(path)["cells"].values)
        return [dict(zip(values[0], row)) for row in values[1:]]
    return parquet.read_table(path).to_pylist()


def test_a_zip_bomb_in_a_batch_is_failed_unread_and_the_rest_runs(tmp_path):
    """An archive whose member inflates past limits.max_file_mb (a few hundred kB on disk): failed with the limit,
    never inflated whole, never stored; the report beside it is done."""
    options = load_options().with_changes(limits={"max_file_mb": 5})
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("huge.txt", b"0" * (60 * 1024 * 1024))
        zf.write(DEV / "seed" / "source.txt", "seed.txt")
    assert bomb.stat().st_size < 1024 * 1024
    summary = run_batch([str(bomb)], sqlite_url(tmp_path / "b.db"), tmp_path / "files", options)
    assert summary.done == 1 and summary.failed == 1
    assert [(name.split("!")[1], error) for name, error in summary.errors] == [
        ("huge.txt", "over the limit limits.max_file_mb = 5: not read")
    ]
    with opened(sqlite_url(tmp_path / "b.db")) as sessions, sessions() as s:
        assert crud.list_reports(s)[1] == 1


def test_a_report_done_by_another_pipeline_is_read_again_only_with_reprocess_older(tmp_path):
    """A report stored by an older pipeline (or another classifier model: 2.4+tagger.<id>) stands until
    --reprocess-older asks for it; then it is read again and stamped with this run's version."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(DEV / "seed" / "source.txt", inbox / "seed.txt")
    db = tmp_path / "older.db"
    assert runner.invoke(app, ["batch", str(inbox), "--db", str(db), "--workers", "1"]).exit_code == 0
    with opened(sqlite_url(db)) as sessions, sessions() as s:
        report = crud.list_reports(s)[0][0]
        assert report.pipeline_version == "2.4" and report.version == 1
        older = "2.4+tagger.0123456789ab"  # as if read with a retrained model
        report.pipeline_version = older
        s.execute(update(Extraction).where(Extraction.report_id == report.id).values(pipeline_version=older))
        s.commit()
    kept = runner.invoke(app, ["batch", str(inbox), "--db", str(db), "--workers", "1"])
    assert "1 files: 0 extracted, 1 skipped (done before)" in kept.output, kept.output
    again = runner.invoke(app, ["batch", str(inbox), "--db", str(db), "--workers", "1", "--reprocess-older"])
    assert again.exit_code == 0 and "1 files: 1 extracted, 0 skipped (done before)" in again.output, again.output
    with opened(sqlite_url(db)) as sessions, sessions() as s:
        report = crud.list_reports(s)[0][0]
        assert report.pipeline_version == "2.4" and report.version == 2  # a new machine version, this pipeline's
    third = runner.invoke(app, ["batch", str(inbox), "--db", str(db), "--workers", "1", "--reprocess-older"])
    assert "1 files: 0 extracted, 1 skipped (done before)" in third.output  # done by this version: nothing to do


def test_export_training_writes_examples_crops_and_label_studio_tasks_then_train_learns_from_the_store(tmp_path):
    """Two reports into a store (a scan and a web page), only one approved: ``export --training`` writes the
    approved one as an example (with the crops of its OCR'd cells) and a Label Studio task of the documented
    structure; ``train --from`` the store fine-tunes a model folder from it."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf", inbox / "seed-scan.pdf")
    shutil.copy(DEV / "r005" / "page.html", inbox / "r005.html")
    db = tmp_path / "loop.db"
    assert runner.invoke(app, ["batch", str(inbox), "--db", str(db), "--workers", "1"]).exit_code == 0
    with opened(sqlite_url(db)) as sessions, sessions() as s:
        scan = next(r for r in crud.list_reports(s)[0] if r.filename == "seed-scan.pdf")
        crud.approve(s, scan.id, actor="rev", role="reviewer")
    out = tmp_path / "training"
    r = runner.invoke(app, ["export", "--db", str(db), "--training", str(out)])
    assert r.exit_code == 0, r.output
    assert f"wrote 1 approved reports to {out}" in r.output
    listing = [json.loads(line) for line in (out / "examples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["filename"] for x in listing] == ["seed-scan.pdf"]
    example = json.loads((out / listing[0]["example"]).read_text(encoding="utf-8"))
    assert sum(s["label"] == "val" for s in example["segments"]) > 150 and example["crops"]
    crop = out / next(iter(example["crops"].values()))
    assert crop.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tasks = json.loads((out / "labelstudio.json").read_text(encoding="utf-8"))
    jsonschema.validate(tasks, LS_SCHEMA)
    config = (out / "labelstudio.xml").read_text(encoding="utf-8")
    assert '<Labels name="label" toName="text">' in config and '<Text name="text" value="$text"/>' in config
    assert all(
        f'<Label value="{lab}"/>' in config
        for r in tasks[0]["annotations"][0]["result"]
        for lab in r["value"]["labels"]
    )
    model = tmp_path / "tagger-t"
    r = runner.invoke(
        app, ["train", "--from", str(db), "-o", str(model), "--steps", "1", "--synthetic-docs", "1", "--no-eval"]
    )
    assert r.exit_code == 0, r.output
    seen = json.loads((model / "examples.json").read_text(encoding="utf-8"))
    assert [e["filename"] for e in seen] == ["seed-scan.pdf"] and (model / "model.int8.onnx").is_file()
