"""Command line: xxgk extract | check | series | eval."""
from __future__ import annotations

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
    """Extract every cell, check and finding of one report as JSON (the output contract)."""
    result = _extract(file)
    text = result.to_json()
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {output}")


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


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
