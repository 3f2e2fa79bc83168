"""Results as tables (service/export.py): a row per report × cell or per report, in CSV, XLSX, JSON Lines, Parquet."""

from __future__ import annotations

import csv
import io
import json

import jsonschema
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from service.export import (
    CELL_FIELDS,
    FORMATS,
    REPORT_FIELDS,
    TRAINING_FORMAT,
    ReportMeta,
    gold_labels,
    labelstudio_task,
    long_rows,
    report_xlsx,
    training_example,
    wide_row,
    write_rows,
)
from service.ingest import load_document
from service.options import load_options
from service.pipeline import extract_document, understand
from service.result import Result
from service.understand.labels import LABELS_FILE, load_label_set
from tests.conftest import DEV, ROOT, extracted
from training.devlabels import SOURCES, load_gold

META = ReportMeta(id="r1", filename="seed.txt", sha256="ab" * 32, version=3, approved=True)


@pytest.fixture(scope="module")
def seed() -> Result:
    return extracted(str(DEV / "seed" / "source.txt"))


@pytest.fixture(scope="module")
def pdf() -> Result:
    return extracted(str(DEV / "r001" / "source.pdf"))


def test_long_rows_carry_the_report_and_every_cell(seed):
    rows = long_rows(META, seed)
    assert len(rows) == len(seed.cells) and list(rows[0]) == list(REPORT_FIELDS + CELL_FIELDS)
    by_id = {r["cell_id"]: r for r in rows}
    for cid, cell in seed.cells.items():
        row = by_id[cid]
        assert (row["value"], row["raw"], row["status"], row["confidence"]) == (
            cell.value,
            cell.raw,
            cell.status,
            cell.confidence,
        )
        assert row["needs_review"] == cell.needs_review and row["cell_version"] == cell.version
        assert row["review_reasons"] == "; ".join(cell.review_reasons)
    head = rows[0]
    assert (head["report_id"], head["filename"], head["result_version"], head["approved"]) == (
        "r1",
        "seed.txt",
        3,
        True,
    )
    assert (head["agency"], head["year"], head["format"]) == (seed.agency, seed.year, seed.format)
    assert head["pipeline_version"] == seed.pipeline_version and head["coverage"] == "complete"


def test_the_page_of_a_cell_comes_from_its_source(pdf):
    rows = {r["cell_id"]: r for r in long_rows(META, pdf)}
    paged = [cid for cid, c in pdf.cells.items() if c.source is not None and c.source.page]
    assert paged and all(rows[cid]["page"] == pdf.cells[cid].source.page for cid in paged)


def test_a_wide_row_per_report_with_the_counts(seed):
    row = wide_row(META, seed)
    assert row["needs_review"] == sum(c.needs_review for c in seed.cells.values())
    assert row["failing_checks"] == sum(c.status == "fail" for c in seed.checks)
    assert all(row[cid] == cell.value for cid, cell in seed.cells.items())
    assert row["t3.new_received.total"] == seed.cells["t3.new_received.total"].value


def test_a_result_stored_before_coverage_exports_none(seed):
    old = seed.model_copy(update={"coverage": None})
    assert wide_row(META, old)["coverage"] is None and long_rows(META, old)[0]["coverage"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_back_the_same_rows(seed, tmp_path, fmt):
    rows = long_rows(META, seed) + long_rows(ReportMeta("r2", "b.txt", "cd" * 32, 1, False), seed)
    out = tmp_path / f"cells.{fmt}"
    assert write_rows(rows, out, fmt) == len(rows)
    if fmt == "csv":
        back = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
        assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese text right
    elif fmt == "jsonl":
        back = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert back == rows
    elif fmt == "xlsx":
        values = list(load_workbook(out)["cells"].values)
        back = [dict(zip(values[0], r)) for r in values[1:]]
    else:
        back = pq.read_table(out).to_pylist()
    assert len(back) == len(rows)
    assert [(r["report_id"], r["cell_id"]) for r in back] == [(r["report_id"], r["cell_id"]) for r in rows]
    with pytest.raises(ValueError):
        write_rows(rows, tmp_path / "x.pdf", "pdf")


def test_one_report_as_a_workbook_of_cells_checks_and_facts(seed):
    wb = load_workbook(io.BytesIO(report_xlsx(META, seed)))
    assert wb.sheetnames == ["cells", "checks", "facts"]
    assert wb["cells"].max_row == len(seed.cells) + 1 and wb["checks"].max_row == len(seed.checks) + 1
    assert wb["facts"].max_row == len(seed.facts) + 1
    checks = list(wb["checks"].values)
    first = dict(zip(checks[0], checks[1]))
    assert (first["rule"], first["status"]) == (seed.checks[0].rule, seed.checks[0].status)
    assert json.loads(first["cells"]) == seed.checks[0].cells  # lists as JSON text in a cell


# ------------------------------------------------------------------ training data (xxgk export --training)

LS_FIXTURE = ROOT / "tests" / "fixtures" / "labelstudio" / "import_tasks.json"
_RESULT_ITEM = {
    # the keys the documentation's result items use (tests/fixtures/labelstudio/import_tasks.json), nothing else
    "type": "object",
    "required": ["from_name", "to_name", "type", "value"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "from_name": {"type": "string", "minLength": 1},
        "to_name": {"type": "string", "minLength": 1},
        "type": {"enum": ["labels", "rectanglelabels", "choices"]},
        "original_width": {"type": "integer"},
        "original_height": {"type": "integer"},
        "image_rotation": {"type": "number"},
        "value": {"type": "object"},
    },
    "allOf": [
        {
            "if": {"properties": {"type": {"const": "labels"}}},
            "then": {
                "properties": {
                    "value": {
                        "required": ["start", "end", "labels"],
                        "additionalProperties": False,
                        "properties": {
                            "start": {"type": "integer", "minimum": 0},
                            "end": {"type": "integer", "minimum": 0},
                            "score": {"type": "number"},
                            "text": {"type": "string"},
                            "labels": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                        },
                    }
                }
            },
        },
        {
            "if": {"properties": {"type": {"const": "rectanglelabels"}}},
            "then": {"properties": {"value": {"required": ["x", "y", "width", "height", "rectanglelabels"]}}},
        },
        {
            "if": {"properties": {"type": {"const": "choices"}}},
            "then": {"properties": {"value": {"required": ["choices"]}}},
        },
    ],
}
LS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "array",
    "items": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "id": {"type": "integer"},
            "data": {"type": "object", "minProperties": 1},
            "predictions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["result"],
                    "properties": {
                        "model_version": {"type": "string"},
                        "score": {"type": "number"},
                        "result": {"type": "array", "items": _RESULT_ITEM},
                    },
                },
            },
            "annotations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["result"],
                    "properties": {"result": {"type": "array", "items": _RESULT_ITEM}},
                },
            },
        },
    },
}


def _ls_example(name: str):
    """A dev rendering as its training example (the classifier's real reading; the result as the machine read it)."""
    options = load_options()
    doc = load_document(ROOT / "datasets" / SOURCES[name], options)
    result = extract_document(doc, options)
    tagging = understand(doc, options)
    known = {lab.id for lab in load_label_set(LABELS_FILE).labels}
    return doc, result, tagging, known


def test_the_documentation_examples_fit_the_schema_and_a_broken_task_does_not():
    docs = json.loads(LS_FIXTURE.read_text(encoding="utf-8"))
    jsonschema.validate(docs, LS_SCHEMA)
    span = docs[1]["predictions"][0]["result"][0]
    assert docs[1]["data"]["text"][span["value"]["start"] : span["value"]["end"]] == span["value"]["text"]
    broken = json.loads(json.dumps(docs))
    del broken[1]["predictions"][0]["result"][0]["to_name"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, LS_SCHEMA)
    broken = json.loads(json.dumps(docs))
    broken[1]["predictions"][0]["result"][0]["value"]["label"] = "Animal"  # not the documented key
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, LS_SCHEMA)


@pytest.mark.parametrize("name", ["r001", "r013"])
def test_exported_labels_agree_with_the_hand_checked_dev_labels(name):
    """The approved reading's labels (values where the result took them, row labels of the rows it placed, the
    classifier's label elsewhere) against datasets/dev-labels: at least as right as the classifier alone."""
    doc, result, tagging, known = _ls_example(name)
    example = training_example(META, result, doc, tagging, known)
    by_key = {tuple(s["key"]): s for s in example["segments"]}
    gold = [g for g in load_gold(name) if g["label"] != "-"]
    ours = sum(by_key[tuple(g["key"])]["label"] == g["label"] for g in gold)
    model = sum(by_key[tuple(g["key"])]["predicted"] == g["label"] for g in gold)
    assert ours >= model and ours >= len(gold) - 1, (ours, model, len(gold))
    assert example["format"] == TRAINING_FORMAT and example["values"] == {k: c.value for k, c in result.cells.items()}
    assert all(len(s["box"]) == 4 and s["kind"] in ("text", "cell") for s in example["segments"])


def test_a_row_the_reviewer_typed_is_found_by_its_values():
    """A row the machine did not read (its cells without a place, typed by a reviewer: version 2) and whose label
    the classifier missed: the grid row printing those numbers gets the row's label, its numbers ``val``."""
    doc, result, tagging, known = _ls_example("r001")
    row = "t3.new_received"
    label_keys = [k for k, p in tagging.segments.items() if p.label == row]
    assert len(label_keys) == 1
    key = label_keys[0]
    tagging.segments[key] = tagging.segments[key].model_copy(update={"label": "O"})  # the classifier missed it
    for cid, cell in result.cells.items():
        if cid.startswith(row + "."):
            cell.source, cell.version = None, 2  # typed by the reviewer
    assert gold_labels(doc, result, tagging, known)[key] == row
    tagging.segments[key] = tagging.segments[key].model_copy(update={"label": "O"})
    for cid, cell in result.cells.items():
        if cid.startswith(row + "."):
            cell.version = 1  # not typed: no row is looked for by value
    assert gold_labels(doc, result, tagging, known)[key] == "O"


def test_label_studio_tasks_have_the_documented_structure():
    doc, result, tagging, known = _ls_example("r001")
    example = training_example(META, result, doc, tagging, known)
    task = labelstudio_task(example, "2.4")
    jsonschema.validate([task], LS_SCHEMA)
    text = task["data"]["text"]
    spans = task["annotations"][0]["result"]
    assert len(spans) == sum(s["label"] != "O" for s in example["segments"]) > 200
    for item in spans + task["predictions"][0]["result"]:
        assert (item["from_name"], item["to_name"], item["type"]) == ("label", "text", "labels")
        assert text[item["value"]["start"] : item["value"]["end"]] == item["value"]["text"]
    ids = [r["id"] for r in spans + task["predictions"][0]["result"]]
    assert len(ids) == len(set(ids))  # the documentation asks for distinct result ids
