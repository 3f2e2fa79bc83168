"""A readable terminal report of one extraction (``xxgk check``)."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from service.result import CellValue, Result
from service.schema import load_format

_STYLE = {
    "read": "",
    "blank": "dim",
    "not_applicable": "dim",
    "absent": "red",
    "inferred": "yellow",
    "unparseable": "red",
    "repaired": "cyan",
}


def _fmt(cell: CellValue | None) -> str:
    if cell is None:
        return ""
    if cell.status == "blank":
        text = "·"
    elif cell.status == "not_applicable":
        text = cell.raw or "/"
    elif cell.status == "absent":
        text = "absent" if cell.inferred_value is None else f"({cell.inferred_value:g})"
    elif cell.status == "unparseable":
        text = f"?{cell.raw}"
    elif cell.status == "repaired":
        text = f"{cell.value}←{cell.original_value}"
    else:
        text = f"{cell.value:g}" if isinstance(cell.value, float) else str(cell.value)
    if cell.needs_review:
        text += "*"
    style = _STYLE.get(cell.status, "")
    return f"[{style}]{text}[/{style}]" if style else text


def print_report(result: Result, console: Console) -> bool:
    """Print the report; return True if the source breaks any rule."""
    schema = load_format(result.format)
    cells = result.cells
    console.print(f"[bold]{result.document.path}[/bold]  ({result.document.kind}, {result.document.pages} pages)")
    console.print(
        f"format {result.format} ({result.format_reason}); agency {result.agency or '?'}; "
        f"year {result.year or '?'}; published {result.published or '?'}"
    )
    missing = [s.number + "、" + s.title for s in result.sections.values() if not s.found]
    if missing:
        console.print(f"sections not found: {', '.join(missing)}")

    t2 = Table(title="表二 主动公开政府信息情况", show_lines=False)
    t2.add_column("信息内容")
    t2.add_column("值")
    for block in schema.t2_blocks():
        t2.add_row(f"[bold]{block.label}[/bold]", "")
        for row in block.rows:
            vals = "  ".join(f"{c.label}: {_fmt(cells.get(f't2.{block.id}.{row.id}.{c.id}'))}" for c in block.columns)
            t2.add_row(row.label, vals)
    console.print(t2)

    cols = schema.t3_columns()
    t3 = Table(title="表三 收到和处理政府信息公开申请情况")
    t3.add_column("")
    for c in cols:
        t3.add_column(c.label, justify="right")
    rows = [r for r in schema.t3_rows() if r.has_values]
    if any(cid.startswith("t3.other_processing.") for cid in cells) and result.format == "2021":
        rows = [r for r in rows if not r.id.startswith("other_processing_")]
        pos = next(i for i, r in enumerate(rows) if r.id == "results_total")
        rows.insert(pos, next(r for r in schema.t3_rows() if r.id == "other_processing"))
    for r in rows:
        indent = "  " * r.level
        t3.add_row(indent + r.label[:24], *[_fmt(cells.get(f"t3.{r.id}.{c.id}")) for c in cols])
    console.print(t3)

    t4 = Table(title="表四 政府信息公开行政复议、行政诉讼情况")
    t4.add_column("")
    for col in schema.t4_columns():
        t4.add_column(col.label, justify="right")
    for g in schema.t4_groups():
        t4.add_row(g.label, *[_fmt(cells.get(f"t4.{g.id}.{col.id}")) for col in schema.t4_columns()])
    console.print(t4)
    console.print("legend: · blank, (n) absent but implied by a rule, * needs review, yellow inferred")

    if result.facts:
        checks = {(c.instance, c.lhs): c for c in result.checks if c.rule == "text_vs_table"}
        facts = Table(title="正文中的数字 (narrative facts)")
        for name in ("fact", "text", "table", "sentence"):
            facts.add_column(name)
        for f in result.facts:
            chk = checks.get((f.id, f.value))
            table = "" if chk is None else ("" if chk.rhs is None else f"{chk.rhs:g}")
            if chk is not None and chk.status == "fail":
                table = f"[red]{table}[/red]"
            facts.add_row(f.id, f.text, table, escape(f.sentence[:60]))
        console.print(facts)

    counts = Counter(c.status for c in result.checks)
    console.print(
        f"\n[bold]rules[/bold]: {counts.get('pass', 0)} pass, {counts.get('fail', 0)} fail, "
        f"{counts.get('not_assessable', 0)} not assessable"
    )
    for chk in result.checks:
        if chk.status == "fail":
            console.print(f"  [red]FAIL[/red] {chk.rule} {escape('[' + chk.instance + ']')} {escape(chk.message)}")
    for chk in result.checks:
        if chk.status == "not_assessable":
            console.print(f"  [dim]n/a[/dim]  {chk.rule} {escape('[' + chk.instance + ']')} {escape(chk.message)}")
    if result.deviations:
        console.print("\n[bold]deviations[/bold]")
        for d in result.deviations:
            console.print(f"  {d.severity:7s} {d.id}: {escape(d.message)}")
    review = [cid for cid, c in cells.items() if c.needs_review]
    console.print(f"\n{len(review)} cells need review" + (": " + ", ".join(review[:12]) if review else ""))
    cov = result.coverage
    if cov is not None:
        style = {"complete": "green", "partial": "yellow", "failed": "red"}[cov.status]
        tables = ", ".join(
            f"{t} {c.cells_read + c.cells_blank}/{c.cells_expected}"
            + (f" (by {'+'.join(c.located_by)})" if c.located_by else " (not located)")
            for t, c in cov.tables.items()
        )
        console.print(
            f"[bold]coverage[/bold]: [{style}]{cov.status}[/{style}] — {tables}"
            + (f"; {escape('; '.join(cov.reasons))}" if cov.reasons else "")
        )
    return counts.get("fail", 0) > 0
