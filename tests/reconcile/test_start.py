"""Start from what was read (service/reconcile/start.py): the raw reading of a row with a cell to review and its
one-click candidates, on a real fax-quality scan whose table 3 lost print (a row label, one number) and on the
seed's text with digits run together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.assemble import assemble
from service.assemble.rows import Value
from service.ingest import load_document
from service.normalize import parse_number
from service.reconcile.start import candidates, wants_start
from service.result import Result
from service.rules import equations
from service.schema import load_format
from tests.conftest import DEV, extracted, load_scansim

R001 = json.loads((DEV / "r001" / "cells.json").read_text(encoding="utf-8"))["cells"]
SEED = DEV / "seed" / "source.txt"
SEED_TRUTH = json.loads((DEV / "seed" / "cells.json").read_text(encoding="utf-8"))["cells"]


def faded_scan(out: Path) -> Path:
    """r001 through the fax simulator with two cells of table 3 printed too faint to scan: the label of （二）部分公开
    (its seven numbers are read, the row is not found) and the 自然人 of （一）予以公开."""
    load_scansim().main(
        [
            str(DEV / "r001" / "source.pdf"),
            *("--preset", "fax", "--seed", "0", "-o", str(out)),
            *("--fade-cell", "table=1,row=6,col=2", "--fade-cell", "table=1,row=5,col=3"),
        ]
    )
    (made,) = sorted(out.glob("*.pdf"))
    return made


@pytest.fixture(scope="module")
def faded(tmp_path_factory: pytest.TempPathFactory) -> Result:
    return extracted(str(faded_scan(tmp_path_factory.mktemp("faded"))))


def test_a_row_whose_label_was_lost_is_offered_whole(faded: Result) -> None:
    """（二）部分公开 is not found (its label is gone), every cell flagged as not read; its reading is the row printed
    between （一） and （三）, its seven numbers with their boxes, and the one proposed candidate is the truth."""
    ids = [c for c in faded.cells if c.startswith("t3.partially_granted.")]
    assert all(faded.cells[c].status == "absent" and faded.cells[c].needs_review for c in ids)
    (reading,) = [r for r in faded.row_readings if r.row == "t3.partially_granted"]
    assert not reading.matched and reading.label is None and reading.cells == ids
    numbers = [t for t in reading.tokens if t.value is not None]
    assert [t.value for t in numbers] == [R001[c] for c in ids]
    assert all(t.page == 3 and t.bbox is not None and t.confidence for t in numbers)
    xs = [t.bbox[0] for t in numbers if t.bbox is not None]
    assert xs == sorted(xs)  # left to right as printed
    proposed = [c for c in reading.candidates if c.proposed]
    assert len(proposed) == 1 and proposed[0] is reading.candidates[0]
    assert proposed[0].how == "row" and not proposed[0].rules_broken and len(proposed[0].rules_hold) >= 2
    assert proposed[0].values == {c: R001[c] for c in ids}


def test_a_number_too_faint_to_scan_is_flagged_and_the_rules_propose_it(faded: Result) -> None:
    """The faded 自然人 of （一）予以公开 reads blank in a table that prints its zeros: flagged (a rule holds on a blank
    as on a 0, so none can tell), and the row's proposed candidate fills it as the rules require."""
    cid = "t3.granted.natural_person"
    cell = faded.cells[cid]
    assert cell.status == "blank" and cell.needs_review
    assert [rc.code for rc in cell.review_codes] == ["blank_in_scan"]
    (reading,) = [r for r in faded.row_readings if r.row == "t3.granted"]
    assert reading.matched and reading.label and "予以公开" in reading.label
    best = reading.candidates[0]
    assert best.proposed and best.how == "gap" and best.raw[cid] is None
    assert best.values == {c: R001[c] for c in reading.cells}
    # only rows with a cell to review are kept: the untouched rows of table 3 have no reading
    rows = {r.row for r in faded.row_readings}
    assert "t3.new_received" not in rows and "t3.denied_state_secret" not in rows
    for r in faded.row_readings:
        assert any(wants_start(faded.cells[c]) for c in r.cells), r.row


def test_digits_run_together_are_split_into_the_columns() -> None:
    """The seed's （一）予以公开 prints 1 1 0 0 0 0 2; read with its first two numbers run together (11) the row has
    six values for seven cells: the split of 11 into 1 and 1 keeps the row rule and every column rule, and is
    proposed; putting 11 whole in a column breaks them."""
    result = extracted(str(SEED))
    asm = assemble(load_document(SEED))
    (rr,) = [r for r in asm.readings if r.key == "t3.granted"]
    where = rr.rows[0].values[0].provenance
    values = [Value(raw, parse_number(raw), where) for raw in ("11", "0", "0", "0", "0", "2")]
    eqs = equations(load_format(result.format))
    found = candidates(rr, values, result.cells, eqs)
    best = found[0]
    assert best.proposed and best.how == "split"
    assert best.values == {c: SEED_TRUTH[c] for c in rr.cells}
    assert best.raw[rr.cells[0]] == "1" and best.raw[rr.cells[1]] == "1"
    assert all(c.rules_broken or c.values[rr.cells[-1]] != 2 for c in found[1:])  # every rival breaks a rule
    assert sum(c.proposed for c in found) == 1
