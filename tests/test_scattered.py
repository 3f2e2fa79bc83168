"""Scattered tables (PDF-to-text conversions): label lines first, then the value rows apart from them."""
import json
from pathlib import Path

from service.evaluate import score
from service.ingest import load_document
from service.pipeline import extract

DEV = Path(__file__).resolve().parents[1] / "datasets" / "dev-reports"


def scattered_markdown(source: Path, drop_value_row: int | None = None) -> str:
    """The report with each table printed as its label lines, a blank line, then its value rows as Markdown
    pipe rows without labels (what some PDF-to-Markdown converters emit); ``drop_value_row`` loses one of
    table 3's value rows."""
    out: list[str] = []
    tables = 0
    for block in load_document(source).blocks:
        if block.kind != "table":
            out.append(block.text)
            continue
        tables += 1
        labels, values = [], []
        for slots in block.table.expanded():
            cells = list({id(c): c for c in slots if c is not None}.values())
            label = "".join(c.text for c in cells if c.text and not c.text.replace(".", "").isdigit())
            nums = [c.text for c in cells if c.text.replace(".", "").isdigit()]
            if label:
                labels.append(label)
            if nums:
                values.append("| " + " | ".join(nums) + " |")
        if drop_value_row is not None and tables == 2:
            values.pop(drop_value_row)
        out += labels + [""] + values + [""]
    return "\n".join(out)


def _truth(rid: str) -> dict:
    return json.loads((DEV / rid / "cells.json").read_text(encoding="utf-8"))


def test_label_lines_and_value_rows_printed_apart_are_joined_in_order(tmp_path):
    path = tmp_path / "seed-scattered.md"
    path.write_text(scattered_markdown(DEV / "seed" / "source.txt"), encoding="utf-8")
    result = extract(path)
    s = score(result, _truth("seed"), "seed", path.name)
    assert s.wrong == [], s.wrong[:5]
    assert result.coverage.status == "complete"


def test_a_lost_value_row_leaves_the_placement_to_review_never_silent(tmp_path):
    path = tmp_path / "seed-scattered-lost-row.md"
    path.write_text(scattered_markdown(DEV / "seed" / "source.txt", drop_value_row=10), encoding="utf-8")
    result = extract(path)
    s = score(result, _truth("seed"), "seed", path.name)
    silent = [cid for cid, _, _ in s.wrong if not result.cells[cid].needs_review]
    assert s.wrong and silent == []
    placed = [c for c in result.cells.values() if any("placed by position" in r for r in c.review_reasons)]
    assert placed and all(c.status == "inferred" and c.needs_review for c in placed)
    assert any(c.alternatives for c in placed)  # what the cells would read had the rows been placed otherwise
