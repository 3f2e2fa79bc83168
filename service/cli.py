"""Command line: xxgk extract | check | series | eval | serve | token | batch | export."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from service.ingest import IngestError

app = typer.Typer(help="xxgk: read 政府信息公开工作年度报告 into schema cells and check the table rules.",
                  no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2


def _extract(path: Path):
    from service.pipeline import extract

    try:
        return extract(path)
    except IngestError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(EXIT_INPUT) from None


@app.command("extract")
def extract_cmd(
    file: Path = typer.Argument(..., help="report file: PDF, DOCX, HTML, Markdown or text"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write the JSON here (default: stdout)"),
) -> None:
    """Extract every cell, check and finding of one report as JSON (the output contract).

    Exit code 0 when the result is complete, 1 when coverage is partial or failed (why is printed on stderr;
    the JSON is written all the same, unread cells flagged), 2 for unreadable input.
    """
    result = _extract(file)
    text = result.to_json()
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {output}")
    cov = result.coverage
    if cov is not None and cov.status != "complete":
        err.print(f"[yellow]coverage {cov.status}:[/yellow] {'; '.join(cov.reasons)} "
                  f"({cov.cells_flagged} cells flagged for review)")
        raise typer.Exit(EXIT_FINDINGS)


@app.command("check")
def check_cmd(file: Path = typer.Argument(..., help="report file")) -> None:
    """Print the tables as the report prints them, the rule results and the deviations.

    Exit code 0 when every rule holds, 1 when the source breaks a rule, 2 for unreadable input.
    """
    from service.report import print_report

    result = _extract(file)
    failed = print_report(result, console)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


@app.command("series")
def series_cmd(files: list[Path] = typer.Argument(..., help="reports of one or more agencies, several years")) -> None:
    """Checks across the years of one agency: 上年结转 = last year's 结转下年度, table 2's 现行有效件数 carry.

    Heuristic findings (never changes). Exit code 0 when every assessable check passes, 1 otherwise.
    """
    from service.reconcile.cross import cross_report_checks

    checks = cross_report_checks([_extract(f) for f in files])
    table = Table(title="checks across reports")
    for col in ("agency", "years", "rule", "instance", "status", "detail"):
        table.add_column(col)
    for c in checks:
        style = {"pass": "green", "fail": "red"}.get(c.status, "dim")
        table.add_row(c.agency, f"{c.years[0]}→{c.years[1]}", c.rule, c.instance, f"[{style}]{c.status}[/{style}]",
                      c.message)
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
    from service.evaluate import discover, evaluate_folder

    folders = discover(dirs)
    if not folders:
        err.print("[red]error:[/red] no report folders with cells.json found")
        raise typer.Exit(EXIT_INPUT)
    table = Table(title="extraction accuracy")
    for col in ("report", "source", "format", "cells right", "accuracy"):
        table.add_column(col)
    right = total = 0
    formats_ok = True
    wrong_lines = []
    for folder in folders:
        try:
            scores = evaluate_folder(folder, all_sources=all_sources)
        except (IngestError, FileNotFoundError) as e:
            err.print(f"[red]error:[/red] {e}")
            raise typer.Exit(EXIT_INPUT) from None
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
    console.print(f"total: {right}/{total} cells right ({100 * acc:.2f}%), formats {'right' if formats_ok else 'WRONG'}")
    raise typer.Exit(EXIT_OK if right == total and formats_ok else EXIT_FINDINGS)


# ------------------------------------------------------------------ the service


@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="store (default: $XXGK_DATA_DIR or "
                                                                      "~/.local/share/xxgk)"),
    workers: Optional[int] = typer.Option(None, help="extraction worker processes (default: $XXGK_WORKERS or 1)"),
    local: bool = typer.Option(False, "--local", help="no tokens: every request acts as admin (loopback only; "
                                                      "for a demo on one's own machine)"),
    load: list[Path] = typer.Option([], "--load", help="register these report files at start (e.g. the sample)"),
) -> None:
    """Run the HTTP service: API under /v1 (docs at /docs), review UI at /ui, /healthz, /metrics."""
    import os

    import uvicorn

    from service.api.app import create_app
    from service.api.core import LOOPBACK, ServiceConfig

    local = local or os.environ.get("XXGK_AUTH", "") == "local"
    if local and host not in LOOPBACK:
        err.print(f"[red]error:[/red] --local serves without tokens: only on a loopback address, not {host}")
        raise typer.Exit(EXIT_INPUT)
    cfg = ServiceConfig(data_dir=data_dir, local=local)
    if workers:
        cfg.workers = workers
    if load:
        _preload(cfg, load)
    err.print(f"xxgk on http://{host}:{port}/ui/ (API docs http://{host}:{port}/docs)"
              + (" — local mode, no tokens" if local else ""))
    uvicorn.run(create_app(cfg), host=host, port=port, log_level="warning")


def _preload(cfg, files: list[Path]) -> None:
    from service.store import BlobStore, crud, data_dir, database_url, open_store

    data = data_dir(cfg.data_dir)
    engine, sessions = open_store(database_url(data, cfg.database_url))
    blobs = BlobStore(data)
    with sessions() as s:
        for f in files:
            if not f.is_file():
                err.print(f"[red]error:[/red] {f}: file not found")
                raise typer.Exit(EXIT_INPUT)
            raw = f.read_bytes()
            crud.register(s, blobs.put(raw), f.name, len(raw), actor="serve --load", role="admin")
    engine.dispose()


token_app = typer.Typer(help="API tokens (bearer) for the service.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="uploader | reviewer | admin"),
    name: Optional[str] = typer.Option(None, help="who holds it (shown in the audit log)"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="store (default: $XXGK_DATA_DIR)"),
) -> None:
    """Create a token; prints it as the last line (it is stored only as a hash: keep it)."""
    from service.store import crud, data_dir as resolve, database_url, open_store

    if role not in crud.ROLES:
        err.print(f"[red]error:[/red] --role must be one of {', '.join(crud.ROLES)}")
        raise typer.Exit(EXIT_INPUT)
    engine, sessions = open_store(database_url(resolve(data_dir)))
    with sessions() as s:
        token = crud.create_token(s, role, name or role)
    engine.dispose()
    err.print(f"token for {name or role} ({role}):")
    print(token)


@token_app.command("revoke")
def token_revoke(name: str = typer.Argument(..., help="the token holder's name"),
                 data_dir: Optional[Path] = typer.Option(None, "--data-dir")) -> None:
    """Revoke every token of a holder."""
    from service.store import crud, data_dir as resolve, database_url, open_store

    engine, sessions = open_store(database_url(resolve(data_dir)))
    with sessions() as s:
        n = crud.revoke_token(s, name)
    engine.dispose()
    console.print(f"revoked {n} token(s) of {name}")


def _store_url(db: str) -> str:
    from service.store import sqlite_url

    return db if "://" in db else sqlite_url(db)


def _files_dir(db: str, files_dir: Optional[Path]) -> Path:
    if files_dir is not None:
        return files_dir
    if "://" in db:
        from service.store import data_dir

        return data_dir()
    p = Path(db).expanduser().resolve()
    return p.parent / f"{p.stem}.files"


@app.command("batch")
def batch_cmd(
    inputs: list[str] = typer.Argument(..., help="files, folders, glob patterns ('scans/**/*.pdf') or zip archives"),
    db: str = typer.Option("results.db", "--db", help="SQLite file, or a database URL"),
    workers: int = typer.Option(os.cpu_count() or 1, "--workers", "-w",
                                help="worker processes (default: one per core)"),
    threads: int = typer.Option(1, "--threads", help="inference threads per worker"),
    files_dir: Optional[Path] = typer.Option(None, "--files-dir", help="where the files are kept (default: "
                                                                        "<db>.files beside the database)"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="run files that failed before again"),
) -> None:
    """Digitize many reports into one store. Resumable: a file already done by this pipeline version is skipped.

    Exit code 0 when no file failed, 1 when some failed (listed), 2 when an input matches nothing. Files read only
    in part (coverage partial or failed: cells not read, flagged for review) are listed with the reasons and
    counted as incomplete; they do not change the exit code."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from service.batch import run_batch

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("extracting", total=None, rate="")

        def show(done: int, total: int, pages: int, seconds: float) -> None:
            rate = f"{pages / seconds:.2f} pages/s" if seconds > 0 else ""
            bar.update(task, completed=done, total=total, rate=rate)

        summary = run_batch(inputs, _store_url(db), _files_dir(db, files_dir), workers=workers, threads=threads,
                            retry_failed=retry_failed, progress=show)
    rate = f", {summary.pages / summary.seconds:.2f} pages/s" if summary.seconds else ""
    console.print(f"{summary.files} files: {summary.done} extracted, {summary.skipped} skipped (done before), "
                  f"{summary.failed} failed, {len(summary.incomplete)} incomplete; "
                  f"{summary.pages} pages in {summary.seconds:.1f} s{rate}")
    for name, error in summary.errors:
        console.print(f"  [red]failed[/red] {name}: {error}")
    for name, coverage, reasons in summary.incomplete:
        console.print(f"  [yellow]coverage {coverage}[/yellow] {name}: {reasons}")
    fails = [c for c in summary.series if c.status == "fail"]
    console.print(f"checks across years of one agency: {sum(c.status == 'pass' for c in summary.series)} pass, "
                  f"{len(fails)} fail" + ("" if summary.series else " (no agency with two consecutive years)"))
    for c in fails:
        console.print(f"  [yellow]{c.rule}[/yellow] {c.agency} {c.years[0]}→{c.years[1]} {c.instance}: {c.message}")
    for raw in summary.not_found:
        err.print(f"[red]error:[/red] {raw}: no such file, folder or matching pattern")
    if summary.not_found:
        raise typer.Exit(EXIT_INPUT)
    raise typer.Exit(EXIT_FINDINGS if summary.failed else EXIT_OK)


@app.command("export")
def export_cmd(
    output: Path = typer.Option(..., "-o", "--output", help="file to write (.csv, .xlsx, .jsonl, .parquet)"),
    db: str = typer.Option("results.db", "--db", help="SQLite file, or a database URL"),
    fmt: Optional[str] = typer.Option(None, "--format", help="csv | xlsx | jsonl | parquet (default: from -o)"),
    shape: str = typer.Option("long", "--shape", help="long: a row per report × cell; wide: a row per report"),
    approved_only: bool = typer.Option(False, "--approved-only", help="only reports a reviewer approved"),
) -> None:
    """Export the newest result of every report in a store."""
    from service.export import FORMATS, SHAPES, long_rows, wide_row, write_rows
    from service.store import crud, open_store
    from service.store.orm import Report

    fmt = fmt or output.suffix.lstrip(".").lower()
    if fmt not in FORMATS or shape not in SHAPES:
        err.print(f"[red]error:[/red] --format one of {', '.join(FORMATS)} (got {fmt!r}); "
                  f"--shape one of {', '.join(SHAPES)} (got {shape!r})")
        raise typer.Exit(EXIT_INPUT)
    if "://" not in db and not Path(db).exists():
        err.print(f"[red]error:[/red] {db}: no such database")
        raise typer.Exit(EXIT_INPUT)
    engine, sessions = open_store(_store_url(db))
    rows = []
    reports = 0
    with sessions() as s:
        for report in s.query(Report).filter(Report.status == "done").order_by(Report.created_at, Report.id):
            if approved_only and report.approved_at is None:
                continue
            result = crud.result_of(s, report.id)
            meta = {"id": report.id, "filename": report.filename, "sha256": report.sha256,
                    "version": report.version, "approved": report.approved_at is not None}
            rows.extend(long_rows(meta, result) if shape == "long" else [wide_row(meta, result)])
            reports += 1
    engine.dispose()
    n = write_rows(rows, output, fmt)
    console.print(f"wrote {n} rows ({reports} reports, {shape}) to {output}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
