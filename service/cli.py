"""Command line: xxgk extract | check | series | eval | serve | token | batch | export | train."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.orm import Session

from service.api.app import create_app
from service.api.core import LOOPBACK, ServiceConfig
from service.batch import BatchSummary, run_batch
from service.cluster import ClusterSummary, run_ray_batch
from service.evaluate import discover, evaluate_folder
from service.export import FORMATS, SHAPES, ReportMeta, long_rows, wide_row, write_rows, write_training
from service.ingest import IngestError
from service.jobs import describe
from service.options import PipelineOptions, load_options
from service.pipeline import extract
from service.reconcile.cross import cross_report_checks
from service.report import print_report
from service.result import Result
from service.store import crud, data_dir, database_url, opened, sqlite_url
from service.store.blobs import BlobError, Blobs, blob_env, open_blobs, s3_settings

app = typer.Typer(
    help="xxgk: read 政府信息公开工作年度报告 into schema cells and check the table rules.",
    no_args_is_help=True,
    add_completion=False,
)
# soft_wrap: a message is one line, however narrow the terminal (the terminal wraps it, not rich): paths and
# errors stay whole for whoever reads or greps the output
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2
TRAINING_ROOT = Path(__file__).resolve().parents[1]  # the checkout: training/ beside service/ (xxgk train)


def fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    """Print ``message`` as an error on stderr; returns the exit to raise."""
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


@contextmanager
def store_session(url: str) -> Iterator[Session]:
    """A session on the store at ``url`` for one command: migrated when opened, closed and disposed of after."""
    with opened(url) as sessions, sessions() as s:
        yield s


def _extract(path: Path, options: PipelineOptions) -> Result:
    """The pipeline on one file; unreadable input, or a stage that breaks on it, exits EXIT_INPUT with a short
    message (never a traceback of megabytes)."""
    try:
        return extract(path, options)
    except IngestError as e:
        raise fail(str(e)) from None
    except Exception as e:  # a stage broke on this input: a finding about the input, said briefly
        raise fail(f"{path}: cannot be read: {describe(e)}") from None


@app.command("extract")
def extract_cmd(
    file: Path = typer.Argument(..., help="report file: PDF, DOCX, HTML, Markdown or text"),
    output: Path | None = typer.Option(None, "-o", "--output", help="write the JSON here (default: stdout)"),
) -> None:
    """Extract every cell, check and finding of one report as JSON (the output contract).

    Exit code 0 when the result is complete, 1 when coverage is partial or failed (why is printed on stderr;
    the JSON is written all the same, unread cells flagged), 2 for unreadable input.
    """
    result = _extract(file, load_options())
    text = result.to_json()
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {escape(str(output))}")
    cov = result.coverage
    if cov is not None and cov.status != "complete":
        err.print(
            f"[yellow]coverage {cov.status}:[/yellow] {escape('; '.join(cov.reasons))} "
            f"({cov.cells_flagged} cells flagged for review)"
        )
        raise typer.Exit(EXIT_FINDINGS)


@app.command("check")
def check_cmd(file: Path = typer.Argument(..., help="report file")) -> None:
    """Print the tables as the report prints them, the rule results and the deviations.

    Exit code 0 when every rule holds, 1 when the source breaks a rule, 2 for unreadable input.
    """
    result = _extract(file, load_options())
    failed = print_report(result, console)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


@app.command("series")
def series_cmd(files: list[Path] = typer.Argument(..., help="reports of one or more agencies, several years")) -> None:
    """Checks across the years of one agency: 上年结转 = last year's 结转下年度, table 2's 现行有效件数 carry.

    Heuristic findings (never changes). Exit code 0 when every assessable check passes, 1 otherwise.
    """
    options = load_options()
    checks = cross_report_checks([_extract(f, options) for f in files])
    table = Table(title="checks across reports")
    for col in ("agency", "years", "rule", "instance", "status", "detail"):
        table.add_column(col)
    for c in checks:
        style = {"pass": "green", "fail": "red"}.get(c.status, "dim")
        table.add_row(
            c.agency, f"{c.years[0]}→{c.years[1]}", c.rule, c.instance, f"[{style}]{c.status}[/{style}]", c.message
        )
    console.print(table)
    if not checks:
        console.print("no two consecutive years of one agency among these reports")
    raise typer.Exit(EXIT_FINDINGS if any(c.status == "fail" for c in checks) else EXIT_OK)


@app.command("eval")
def eval_cmd(
    dirs: list[Path] = typer.Argument(..., help="report folders (<id>/source.* + cells.json) or their parent"),
    all_sources: bool = typer.Option(False, "--all-sources", help="also score page.html beside a crawled text"),
    show_wrong: int = typer.Option(10, help="list at most this many wrong cells per document"),
) -> None:
    """Score extraction against hand-checked truth: per document and total cell accuracy.

    Exit code 0 when every truth cell and every format is right, 1 otherwise.
    """
    folders = discover(dirs)
    if not folders:
        raise fail("no report folders with cells.json found")
    options = load_options()
    table = Table(title="extraction accuracy")
    for col in ("report", "source", "format", "cells right", "accuracy"):
        table.add_column(col)
    right = total = 0
    formats_ok = True
    wrong_lines = []
    for folder in folders:
        try:
            scores = evaluate_folder(folder, options, all_sources=all_sources)
        except (IngestError, FileNotFoundError) as e:
            raise fail(str(e)) from None
        for k, s in enumerate(scores):
            fmt = s.format_found + ("" if s.format_ok else f" (expected {s.format_expected})")
            table.add_row(s.id, s.source, fmt, f"{s.right}/{s.total}", f"{100 * s.accuracy:.2f}%")
            if k == 0:  # the folder's primary source counts in the total
                right, total = right + s.right, total + s.total
                formats_ok &= s.format_ok
            for cid, exp, got in s.wrong[:show_wrong]:
                wrong_lines.append(f"  {s.id} {s.source} {cid}: truth {exp!r}, extracted {got!r}")
    console.print(table)
    for line in wrong_lines:
        console.print(line)
    acc = right / total if total else 1.0
    console.print(
        f"total: {right}/{total} cells right ({100 * acc:.2f}%), formats {'right' if formats_ok else 'WRONG'}"
    )
    raise typer.Exit(EXIT_OK if right == total and formats_ok else EXIT_FINDINGS)


# ------------------------------------------------------------------ the service


@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port"),
    store_dir: Path | None = typer.Option(
        None, "--data-dir", help="store (default: $XXGK_DATA_DIR or ~/.local/share/xxgk)"
    ),
    workers: int | None = typer.Option(None, help="extraction worker processes (default: $XXGK_WORKERS or 1)"),
    local: bool = typer.Option(
        False, "--local", help="no tokens: every request acts as admin (loopback only; for a demo on one's own machine)"
    ),
    load: list[Path] = typer.Option([], "--load", help="register these report files at start (e.g. the sample)"),
) -> None:
    """Run the HTTP service: API under /v1 (docs at /docs), review UI at /ui, /healthz, /metrics."""
    local = local or os.environ.get("XXGK_AUTH", "") == "local"
    if local and host not in LOOPBACK:
        raise fail(f"--local serves without tokens: only on a loopback address, not {host}")
    cfg = ServiceConfig(data_dir=store_dir, local=local, options=load_options())
    if workers:
        cfg.workers = workers
    if load:
        _preload(cfg, load)
    err.print(
        f"xxgk on http://{host}:{port}/ui/ (API docs http://{host}:{port}/docs)"
        + (" — local mode, no tokens" if local else "")
    )
    uvicorn.run(create_app(cfg), host=host, port=port, log_level="warning")


def _preload(cfg: ServiceConfig, files: list[Path]) -> None:
    data = data_dir(cfg.data_dir)
    blobs = open_blobs(cfg.blob_url or data, cfg.blob_env, s3_settings((cfg.options or load_options()).blobs))
    with store_session(database_url(data, cfg.database_url)) as s:
        for f in files:
            if not f.is_file():
                raise fail(f"{f}: file not found")
            raw = f.read_bytes()
            crud.register(s, blobs.put(raw), f.name, len(raw), actor="serve --load", role="admin")


token_app = typer.Typer(help="API tokens (bearer) for the service.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="uploader | reviewer | admin"),
    name: str | None = typer.Option(None, help="who holds it (shown in the audit log)"),
    expires_in: float | None = typer.Option(None, "--expires-in", min=0.0, help="days until it stops working"),
    agency: list[str] | None = typer.Option(
        None,
        "--agency",
        help="bind it to an agency (repeat for more): it sees only reports whose agency as extracted is one of "
        "them, and those uploaded with tokens bound to them; without: every report",
    ),
    store_dir: Path | None = typer.Option(None, "--data-dir", help="store (default: $XXGK_DATA_DIR)"),
) -> None:
    """Create a token; prints it as the last line (it is stored only as a hash: keep it)."""
    if role not in crud.ROLES:
        raise fail(f"--role must be one of {', '.join(crud.ROLES)}")
    if agency is not None and not all(crud.agency_key(a) for a in agency):
        raise fail("--agency needs an agency's name")
    with store_session(database_url(data_dir(store_dir))) as s:
        days = timedelta(days=expires_in) if expires_in is not None else None
        token = crud.create_token(s, role, name or role, expires_in=days, agencies=agency or None)
    bound = f", bound to {'、'.join(agency)}" if agency else ""
    err.print(f"token for {escape(name or role)} ({role}{escape(bound)}):")
    print(token)


@token_app.command("list")
def token_list(
    store_dir: Path | None = typer.Option(None, "--data-dir", help="store (default: $XXGK_DATA_DIR)"),
) -> None:
    """The tokens of the store: holder, role, the agencies each is bound to, when made, expiring, revoked."""
    with store_session(database_url(data_dir(store_dir))) as s:
        rows = crud.list_tokens(s)
    table = Table("name", "role", "agencies", "created", "expires", "revoked")

    def day(moment: datetime | None) -> str:
        return "" if moment is None else crud.aware(moment).strftime("%Y-%m-%d %H:%M")

    for row in rows:
        agencies = "(every report)" if row.agencies is None else "、".join(row.agencies)
        table.add_row(
            escape(row.name), row.role, escape(agencies), day(row.created_at), day(row.expires_at), day(row.revoked_at)
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    name: str = typer.Argument(..., help="the token holder's name"),
    store_dir: Path | None = typer.Option(None, "--data-dir"),
) -> None:
    """Revoke every token of a holder."""
    with store_session(database_url(data_dir(store_dir))) as s:
        n = crud.revoke_token(s, name)
    console.print(f"revoked {n} token(s) of {name}")


def _store_url(db: str) -> str:
    return db if "://" in db else sqlite_url(db)


def _blob_store(db: str, files_dir: Path | None, options: PipelineOptions, url: str | None = None) -> Blobs:
    """The store's files: ``url`` (--blobs), else XXGK_BLOB_URL, else the folder beside the database; checked
    reachable (exit 2 with the reason otherwise)."""
    try:
        where = url or os.environ.get("XXGK_BLOB_URL") or _files_dir(db, files_dir)
        blobs = open_blobs(where, blob_env(os.environ), s3_settings(options.blobs))
        blobs.check()
    except BlobError as exc:
        raise fail(str(exc)) from None
    return blobs


def _approved(
    db: str, files_dir: Path | None, options: PipelineOptions
) -> tuple[Blobs, list[tuple[ReportMeta, Result]]]:
    """The store's files and its approved reports with their newest results (training data)."""
    blobs = _blob_store(db, files_dir, options)
    with store_session(_store_url(db)) as s:
        return blobs, [(ReportMeta.of(r), res) for r, res in crud.newest_results(s, approved_only=True)]


def _files_dir(db: str, files_dir: Path | None) -> Path:
    if files_dir is not None:
        return files_dir
    if "://" in db:
        return data_dir()
    p = Path(db).expanduser().resolve()
    return p.parent / f"{p.stem}.files"


@app.command("batch")
def batch_cmd(
    inputs: list[str] = typer.Argument(..., help="files, folders, glob patterns ('scans/**/*.pdf') or zip archives"),
    db: str = typer.Option("results.db", "--db", help="SQLite file, or a database URL"),
    workers: int = typer.Option(
        os.cpu_count() or 1, "--workers", "-w", help="worker processes (default: one per core)"
    ),
    threads: int = typer.Option(1, "--threads", help="inference threads per worker"),
    files_dir: Path | None = typer.Option(
        None, "--files-dir", help="where the files are kept (default: <db>.files beside the database)"
    ),
    blobs_url: str | None = typer.Option(
        None,
        "--blobs",
        help="the blob store: s3://bucket/prefix (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, … configure it) or a folder; "
        "default: XXGK_BLOB_URL, else --files-dir",
    ),
    on_ray: bool = typer.Option(False, "--ray", help="read on a Ray cluster's actors (docs/cluster.md)"),
    address: str | None = typer.Option(
        None, "--address", help="the Ray cluster (HOST:PORT); default: RAY_ADDRESS, else a Ray started for the run"
    ),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="run files that failed before again"),
    reprocess_older: bool = typer.Option(
        False,
        "--reprocess-older",
        help="read again the reports done by another pipeline version or classifier model (default: keep them)",
    ),
) -> None:
    """Digitize many reports into one store. Resumable: a file already done is skipped (one done by another pipeline
    version or classifier model too, unless --reprocess-older).

    With --ray the documents are read by the actors of a Ray cluster (the same pipeline; the files staged in the
    blob store, which every node must reach: S3 for a real cluster), progress per document.

    Exit code 0 when no file failed, 1 when some failed (listed), 2 when an input matches nothing. Files read only
    in part (coverage partial or failed: cells not read, flagged for review) are listed with the reasons and
    counted as incomplete; they do not change the exit code."""
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    env = blob_env(os.environ)
    options = load_options()
    blobs = _blob_store(db, files_dir, options, blobs_url)
    summary: BatchSummary
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("extracting", total=None, rate="")

        def show(done: int, total: int, pages: int, seconds: float) -> None:
            rate = f"{pages / seconds:.2f} pages/s" if seconds > 0 else ""
            bar.update(task, completed=done, total=total, rate=rate)

        if on_ray:
            summary = run_ray_batch(
                inputs,
                _store_url(db),
                blobs,
                env,
                options,
                address=address,
                retry_failed=retry_failed,
                reprocess_older=reprocess_older,
                progress=show,
            )
        else:
            summary = run_batch(
                inputs,
                _store_url(db),
                blobs,
                options,
                blob_env=env,
                workers=workers,
                threads=threads,
                retry_failed=retry_failed,
                progress=show,
                reprocess_older=reprocess_older,
            )
    rate = f", {summary.pages / summary.seconds:.2f} pages/s" if summary.seconds else ""
    console.print(
        f"{summary.files} files: {summary.done} extracted, {summary.skipped} skipped (done before), "
        f"{summary.failed} failed, {len(summary.incomplete)} incomplete; "
        f"{summary.pages} pages in {summary.seconds:.1f} s{rate}"
    )
    if isinstance(summary, ClusterSummary) and summary.actors:
        console.print(
            f"on the cluster: {summary.actors} actors (models loaded once each: {summary.loads} loads), "
            f"{summary.retried} attempts beyond the first"
        )
    for name, error in summary.errors:
        console.print(f"  [red]failed[/red] {escape(name)}: {escape(error)}")
    for name, coverage, reasons in summary.incomplete:
        console.print(f"  [yellow]coverage {coverage}[/yellow] {escape(name)}: {escape(reasons)}")
    fails = [c for c in summary.series if c.status == "fail"]
    console.print(
        f"checks across years of one agency: {sum(c.status == 'pass' for c in summary.series)} pass, "
        f"{len(fails)} fail" + ("" if summary.series else " (no agency with two consecutive years)")
    )
    for c in fails:
        console.print(
            f"  [yellow]{c.rule}[/yellow] {escape(f'{c.agency} {c.years[0]}→{c.years[1]} {c.instance}: {c.message}')}"
        )
    for raw in summary.not_found:
        fail(f"{raw}: no such file, folder or matching pattern")
    if summary.not_found:
        raise typer.Exit(EXIT_INPUT)
    raise typer.Exit(EXIT_FINDINGS if summary.failed else EXIT_OK)


@app.command("export")
def export_cmd(
    output: Path | None = typer.Option(None, "-o", "--output", help="file to write (.csv, .xlsx, .jsonl, .parquet)"),
    db: str = typer.Option("results.db", "--db", help="SQLite file, or a database URL"),
    fmt: str | None = typer.Option(None, "--format", help="csv | xlsx | jsonl | parquet (default: from -o)"),
    shape: str = typer.Option("long", "--shape", help="long: a row per report × cell; wide: a row per report"),
    approved_only: bool = typer.Option(False, "--approved-only", help="only reports a reviewer approved"),
    training: Path | None = typer.Option(
        None,
        "--training",
        help="write every approved report as the classifier's training examples and Label Studio tasks to this folder",
    ),
    files_dir: Path | None = typer.Option(
        None, "--files-dir", help="--training: where the files are kept (default: <db>.files beside the database)"
    ),
) -> None:
    """Export the newest result of every report in a store; with --training, the approved reports as training
    data (examples/<report>.json, examples.jsonl, crops/ of OCR'd cells, labelstudio.json + labelstudio.xml)."""
    if "://" not in db and not Path(db).exists():
        raise fail(f"{db}: no such database")
    if training is not None:
        options = load_options()
        blobs, approved = _approved(db, files_dir, options)
        done = write_training(training, approved, blobs, options)
        console.print(
            f"wrote {done.reports} approved reports to {escape(str(training))}: {done.segments} segments, "
            f"{done.labelled} labelled ({done.from_corrections} where the approved reading differs from the "
            f"classifier's), {done.crops} cell crops; Label Studio tasks in labelstudio.json"
        )
        for name, why in done.skipped:
            console.print(f"  [yellow]skipped[/yellow] {escape(name)}: {escape(why)}")
        if output is None:
            return
    if output is None:
        raise fail("give -o FILE (a table of results) or --training FOLDER (training data)")
    fmt = fmt or output.suffix.lstrip(".").lower()
    if fmt not in FORMATS or shape not in SHAPES:
        raise fail(
            f"--format one of {', '.join(FORMATS)} (got {fmt!r}); --shape one of {', '.join(SHAPES)} (got {shape!r})"
        )
    rows = []
    reports = 0
    with store_session(_store_url(db)) as s:
        for report, result in crud.newest_results(s, approved_only=approved_only):
            meta = ReportMeta.of(report)
            rows.extend(long_rows(meta, result) if shape == "long" else [wide_row(meta, result)])
            reports += 1
    n = write_rows(rows, output, fmt)
    console.print(f"wrote {n} rows ({reports} reports, {shape}) to {escape(str(output))}")


@app.command("train")
def train_cmd(
    source: str = typer.Option(
        ..., "--from", help="a store (SQLite file or URL: its approved reports) or an `export --training` folder"
    ),
    out: Path | None = typer.Option(None, "-o", "--out", help="model folder to write (default: models/tagger-<id>)"),
    steps: int = typer.Option(60, "--steps", help="fine-tuning steps (batches of 16 windows)"),
    synthetic_docs: int = typer.Option(40, "--synthetic-docs", help="fresh synthetic reports mixed in"),
    files_dir: Path | None = typer.Option(
        None, "--files-dir", help="a store's files (default: <db>.files beside the database)"
    ),
    evaluate: bool = typer.Option(True, "--eval/--no-eval", help="score the dev reports with the new model"),
) -> None:
    """Fine-tune the shipped tagger (models/tagger) on the reviewed reports mixed with synthetic ones: a new model
    folder with its card, the examples it saw and its dev-report score; switch to it with classifier.model_dir."""
    options = load_options()
    folder = Path(source)
    with tempfile.TemporaryDirectory(prefix="xxgk-train-") as tmp:
        if not folder.is_dir():
            if "://" not in source and not folder.exists():
                raise fail(f"{source}: no such database or folder")
            blobs, approved = _approved(source, files_dir, options)
            if not approved:
                raise fail(f"{source}: no approved report to learn from")
            folder = Path(tmp)
            write_training(folder, approved, blobs, options)
        # training needs torch (the .[train] extra) and the checkout's training/ package: a process of its own,
        # so that the other commands never load either
        command = [sys.executable, "-m", "training.finetune", "--from", str(folder), "--steps", str(steps)]
        command += ["--synthetic-docs", str(synthetic_docs)] + ([] if evaluate else ["--no-eval"])
        command += ["--out", str(out)] if out is not None else []
        code = subprocess.run(command, cwd=TRAINING_ROOT, check=False).returncode
    raise typer.Exit(code)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
