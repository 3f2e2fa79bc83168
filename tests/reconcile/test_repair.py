"""Reconciliation on a real scan: candidates from the recognizer, CP-SAT under the rules, repairs and flags."""

from __future__ import annotations

import pytest

from service.document import Document, OcrChar, OcrText
from service.ingest import load_document
from service.options import load_options
from service.pipeline import extract_document
from service.reconcile.candidates import Priors, candidates
from tests.conftest import DEV, ROOT, truth

SCAN = ROOT / "datasets" / "scans" / "seed-moderate-200dpi.pdf"
CELL = "t3.new_received.total"  # 2 in the seed report (1 natural person + 1 company)
PRIORS = Priors.of(load_options().reconcile)


@pytest.fixture(scope="module")
def scan() -> Document:
    return load_document(SCAN)


def _cell_at(doc: Document, text: str, row_label: str):
    """(block, index) of the OCR'd value cell printing ``text`` in the row whose first cell starts with the label."""
    for b, block in enumerate(doc.blocks):
        if block.table is None:
            continue
        rows = {}
        for i, cell in enumerate(block.table.cells):
            rows.setdefault(cell.row, []).append((i, cell))
        for cells in rows.values():
            if cells[0][1].text.startswith(row_label):
                for i, cell in cells[1:]:
                    if cell.text == text and cell.ocr is not None:
                        return b, i
    raise AssertionError(f"no cell {text!r} in a row {row_label!r}")


def _misread(doc: Document, row_label: str, text: str, new: str, alternatives) -> Document:
    doc = doc.model_copy(deep=True)
    b, i = _cell_at(doc, text, row_label)
    cell = doc.blocks[b].table.cells[i]
    first = cell.ocr.chars[0]
    chars = tuple(
        OcrChar(
            text=ch,
            confidence=alternatives[0][1] if k == 0 else first.confidence,
            box=first.box,
            alternatives=alternatives if k == 0 else ((ch, first.confidence),),
        )
        for k, ch in enumerate(new)
    )
    doc.blocks[b].table.cells[i] = cell.model_copy(
        update={
            "text": new,
            "raw": new,
            "ocr": OcrText(text=new, confidence=chars[0].confidence, box=cell.ocr.box, chars=chars),
        }
    )
    return doc


def test_the_scan_as_read_needs_no_repair(scan):
    result = extract_document(scan)
    want = truth("seed")["cells"]
    assert all(c.status != "repaired" for c in result.cells.values())
    assert result.cells[CELL].value == want[CELL] == 2
    assert result.cells[CELL].confidence >= 0.9 and not result.cells[CELL].needs_review


def test_a_misread_digit_with_the_right_one_second_is_repaired_by_the_rules(scan):
    # 2 read as 7 (7 at 0.7, the 2 second at 0.25): the row total and the column sums say 2
    doc = _misread(scan, "一、本年新收", "2", "7", (("7", 0.7), ("2", 0.25)))
    result = extract_document(doc)
    got = result.cells[CELL]
    assert (got.value, got.status, got.original_value) == (2, "repaired", 7)
    assert "t3_row_total" in got.repaired_by and got.raw == "7"
    assert any(r.startswith("repaired by") for r in got.review_reasons)
    failing = [c for c in result.checks if c.status == "fail" and CELL in c.cells]
    assert failing == []  # the rules hold with the repaired value


def test_a_confident_misreading_that_cannot_be_repaired_is_flagged_not_hidden(scan):
    doc = _misread(scan, "一、本年新收", "2", "5", (("5", 0.97),))  # 5 instead of 2, no alternative
    result = extract_document(doc)
    got = result.cells[CELL]
    assert got.value == 5 and got.status == "read"  # what the scan says is kept ...
    assert got.needs_review and any(r.startswith("source rule failure") for r in got.review_reasons)  # ... flagged
    assert [c.rule for c in result.checks if c.status == "fail" and CELL in c.cells]  # and the rule fails


def test_digital_cells_have_one_candidate_and_are_never_changed():
    result = extract_document(load_document(DEV / "seed" / "source.txt"))
    assert all(len(candidates(c, PRIORS)) == 1 for c in result.cells.values())
    assert all(c.status != "repaired" for c in result.cells.values())


def test_candidates_of_an_ocr_reading(scan):
    doc = _misread(scan, "一、本年新收", "2", "22", (("2", 0.99),))
    result = extract_document(doc)
    got = result.cells[CELL]
    assert (got.value, got.original_value) == (2, 22)  # a digit read twice, and the rules pick the single one
    cands = {r.value: r.how for r in candidates(got.model_copy(update={"value": 22, "status": "read"}), PRIORS)}
    assert cands[22] == "as read" and cands[2] == "repeated digit" and cands[222] == "doubled digit"


def test_a_digit_read_in_the_neighbouring_cell_is_moved_back(scan):
    # row 一: 自然人 1 | 商业企业 1 | ... | 总计 2; the first 1 drifted right: read as blank | 11
    doc = scan.model_copy(deep=True)
    b, i = _cell_at(doc, "1", "一、本年新收")
    grid = doc.blocks[b].table
    left = grid.cells[i]
    j = next(k for k, c in enumerate(grid.cells) if c.row == left.row and c.col == left.col + left.colspan)
    right = grid.cells[j]
    one = right.ocr.chars[0]
    grid.cells[i] = left.model_copy(
        update={"text": "", "raw": "", "ocr": left.ocr.model_copy(update={"text": "", "chars": ()})}
    )
    grid.cells[j] = right.model_copy(
        update={"text": "11", "raw": "11", "ocr": right.ocr.model_copy(update={"text": "11", "chars": (one, one)})}
    )
    result = extract_document(doc)
    a, c = result.cells["t3.new_received.natural_person"], result.cells["t3.new_received.commercial_enterprise"]
    assert (a.value, a.status, c.value, c.status, c.original_value) == (1, "repaired", 1, "repaired", 11)
    assert "split across cells" in a.review_reasons[0] and a.needs_review and c.needs_review


def test_an_empty_looking_cell_with_ink_is_a_zero_to_review(scan):
    # the seed's table 3 prints its zeros as 0; a 0 the recognizer read as nothing, but whose crop held ink
    doc = scan.model_copy(deep=True)
    b, i = _cell_at(doc, "0", "二、上年结转")
    cell = doc.blocks[b].table.cells[i]
    doc.blocks[b].table.cells[i] = cell.model_copy(
        update={"text": "", "raw": "", "ocr": cell.ocr.model_copy(update={"text": "", "chars": (), "ink": True})}
    )
    result = extract_document(doc)
    got = result.cells["t3.carried_over.natural_person"]
    assert (got.value, got.status, got.original_value, got.needs_review) == (0, "repaired", None, True)
    clean = doc.model_copy(deep=True)  # the same cell with a clean crop stays blank: blank is not zero
    c = clean.blocks[b].table.cells[i]
    clean.blocks[b].table.cells[i] = c.model_copy(update={"ocr": c.ocr.model_copy(update={"ink": False})})
    kept = extract_document(clean).cells["t3.carried_over.natural_person"]
    assert (kept.value, kept.status) == (None, "blank")


def _sealed(doc: Document, text: str, row_label: str, confidence: float) -> Document:
    """The cell printing ``text`` in the row ``row_label`` marked as under a seal, read at ``confidence``."""
    doc = doc.model_copy(deep=True)
    b, i = _cell_at(doc, text, row_label)
    cell = doc.blocks[b].table.cells[i]
    chars = tuple(
        c.model_copy(update={"confidence": confidence, "alternatives": ((c.text, confidence),)}) for c in cell.ocr.chars
    )
    doc.blocks[b].table.cells[i] = cell.model_copy(
        update={
            "provenance": cell.provenance.model_copy(update={"sealed": True}),
            "ocr": cell.ocr.model_copy(update={"chars": chars, "confidence": confidence}),
        }
    )
    return doc


def test_a_doubtful_reading_under_a_seal_is_flagged_with_the_reason(scan):
    result = extract_document(_sealed(scan, "2", "一、本年新收", 0.95))
    got = result.cells[CELL]
    assert got.value == 2 and got.source.sealed  # the value as read, and where it sits
    assert got.needs_review and any(r.startswith("盖章遮挡") for r in got.review_reasons)
    assert got.confidence <= 0.95


def test_a_clear_reading_under_a_seal_is_not_flagged(scan):
    result = extract_document(_sealed(scan, "2", "一、本年新收", 0.9995))
    got = result.cells[CELL]
    assert got.value == 2 and got.source.sealed and not got.needs_review
    assert not any(r.startswith("盖章遮挡") for r in got.review_reasons)
    unsealed = extract_document(scan).cells[CELL]
    assert not unsealed.source.sealed


@pytest.mark.parametrize(("mark", "reason"), [("layout_model", "layout model"), ("streak", "复印条纹")])
def test_cells_whose_reading_the_page_put_in_doubt_are_reviewed(scan, mark, reason):
    """A table the layout model found (its columns inferred), a cell a toner streak ran through (painted out): the
    value as read, always reviewed, with the reason."""
    doc = scan.model_copy(deep=True)
    b, _ = _cell_at(doc, "2", "一、本年新收")
    grid = doc.blocks[b].table
    grid.cells = [c.model_copy(update={"provenance": c.provenance.model_copy(update={mark: True})}) for c in grid.cells]
    result = extract_document(doc)
    got = result.cells[CELL]
    assert got.value == 2 and getattr(got.source, mark)  # read as printed, and what the page did to it
    assert got.needs_review and any(r.startswith(reason) for r in got.review_reasons)
    plain = extract_document(scan).cells[CELL]
    assert not getattr(plain.source, mark) and not plain.needs_review
