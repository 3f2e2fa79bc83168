"""Rows printing fewer values than columns are placed by the values' x-positions under the header's columns, flagged
(``service.assemble.place``) — never shifted silently, never dropped where the boxes say where each value stands.

Real documents: r001 scanned (``datasets/scansim.py``) with the ruling between 结果纠正 and 其他结果 of table 4 lost
in the header and the value row (the reader sees one cell ``1 0`` and one header cell over both columns); r001's
text-layer PDF whose table-3 and table-4 rows print a blank cell (the cell taken out of the document model, as a
PDF whose empty cells print nothing gives it); the same PDF and a web page unchanged.
"""

from __future__ import annotations

import pytest

from service.assemble.place import IN_LABEL, NOTHING, PLACED, SPLIT, Columns, header_columns, place, row_columns
from service.assemble.rows import rows_from_blocks
from service.document import Document
from service.ingest import load_document
from service.pipeline import extract_document
from service.result import Result
from service.schema import load_format, load_labels
from tests.conftest import DEV, load_scansim, truth

T4 = load_format("2021").t4_cell_ids()
PLACE_REASONS = {PLACED, SPLIT, NOTHING}


def _placed(result: Result, cid: str) -> bool:
    return bool(PLACE_REASONS & set(result.cells[cid].review_reasons))


@pytest.fixture(scope="module")
def lost_t4_scan(tmp_path_factory) -> Document:
    """r001, table 4's page at the moderate preset, the ruling between 结果纠正 and 其他结果 (行政复议) lost over
    the header rows and the value row."""
    scansim = load_scansim()
    out = tmp_path_factory.mktemp("lost-t4") / "r001-lost-t4.pdf"
    loss = scansim.LostRuling.parse("table=2,boundary=2,rows=3,first=1")
    made = scansim.scan(scansim.source_for("r001"), out, scansim.PRESETS["moderate"], 0, [loss], pages=[4])
    assert [(s.table, s.boundary, s.rows) for s in made.lost] == [(2, 2, (1, 2, 3))]
    return load_document(made.path)


def test_the_lost_ruling_leaves_table_4_a_value_short(lost_t4_scan):
    (t4,) = [b.table for b in lost_t4_scan.tables() if b.table is not None and "行政复议" in b.text]
    values = [c for c in t4.cells if c.row == t4.n_rows - 1]
    assert t4.n_cols == 14 and len(values) == 14  # one column lost from the grid
    assert "1 0" in [c.text for c in values]  # 结果纠正 1 and 其他结果 0 in one cell


def test_table_4_values_land_in_their_columns_flagged(lost_t4_scan):
    result = extract_document(lost_t4_scan)
    expected = truth("r001")["cells"]
    assert [result.cells[c].value for c in T4] == [expected[c] for c in T4]
    assert all(result.cells[c].needs_review and _placed(result, c) for c in T4)
    # the cell of two columns cut where its characters change column
    assert [SPLIT in result.cells[c].review_reasons for c in T4[:4]] == [False, True, True, False]
    assert any(d.id == "xxgk_placed_by_position" for d in result.deviations)


@pytest.fixture(scope="module")
def r001_pdf() -> Document:
    return load_document(DEV / "r001" / "source.pdf")


def _without(doc: Document, table_words: str, row_from_end: int, k: int) -> tuple[Document, str]:
    """The document with the k-th value cell of one row taken out (the row prints that cell blank); its text."""
    copy = doc.model_copy(deep=True)
    (table,) = [b.table for b in copy.blocks if b.table is not None and table_words in b.text]
    row = table.n_rows - row_from_end
    values = sorted((c for c in table.cells if c.row == row and c.text.isdigit()), key=lambda c: c.col)
    table.cells.remove(values[k])
    return copy, values[k].text


@pytest.mark.parametrize("k", [0, 7, 11])
def test_a_table_4_row_printing_a_blank_cell_keeps_every_other_value_in_its_column(r001_pdf, k):
    doc, gone = _without(r001_pdf, "行政复议", 1, k)
    result = extract_document(doc)
    expected = truth("r001")["cells"]
    blank = result.cells[T4[k]]
    assert (blank.status, blank.value, blank.needs_review) == ("blank", None, True)
    assert NOTHING in blank.review_reasons
    for j, cid in enumerate(T4):
        if j != k:
            assert result.cells[cid].value == expected[cid], cid
            assert result.cells[cid].needs_review and PLACED in result.cells[cid].review_reasons, cid


def test_a_table_3_row_printing_a_blank_cell_is_placed_not_dropped(r001_pdf):
    # （二）部分公开: 4 0 0 0 0 0 4, its 自然人 cell printing nothing
    doc, gone = _without(r001_pdf, "申请人情况", 20, 0)
    assert gone == "4"
    result = extract_document(doc)
    expected = truth("r001")["cells"]
    row = [f"t3.partially_granted.{c}" for c in load_format("2021").t3_column_ids()]
    assert result.cells[row[0]].status == "blank" and result.cells[row[0]].needs_review
    for cid in row[1:]:
        assert (result.cells[cid].value, result.cells[cid].needs_review) == (expected[cid], True), cid
        assert PLACED in result.cells[cid].review_reasons


def test_the_digital_report_is_unchanged(r001_pdf):
    result = extract_document(r001_pdf)
    expected = truth("r001")["cells"]
    assert all(result.cells[cid].value == v for cid, v in expected.items())
    assert not any(_placed(result, cid) for cid in result.cells)
    assert not any(d.id == "xxgk_placed_by_position" for d in result.deviations)


def test_a_web_page_without_boxes_is_never_placed():
    """r010's web page: no boxes, so a short row keeps today's behaviour (not mapped, said so)."""
    doc = load_document(DEV / "r010" / "page.html")
    copy, _ = _without(doc, "行政复议", 1, 3)
    result = extract_document(copy)
    assert not any(_placed(result, cid) for cid in result.cells)


def test_header_columns_of_the_printed_table_4(r001_pdf):
    """The 15 columns from r001's header cells (spanning cells counted once), and a value near a boundary is not
    placed."""
    index, block = next((i, b) for i, b in enumerate(r001_pdf.blocks) if b.table is not None and "行政复议" in b.text)
    rows = rows_from_blocks([(index, block)])
    words = load_labels()["t4_columns"]
    (cols,) = header_columns([r for r in rows if not r.filled_values()], [words[c.split(".")[2]] for c in T4])
    assert len(cols.centres) == 15 and list(cols.centres) == sorted(cols.centres)
    value_row = next(r for r in rows if r.filled_values())
    xs = [(v.provenance.bbox[0] + v.provenance.bbox[2]) / 2 for v in value_row.values]
    assert [cols.column_of(x) for x in xs] == list(range(15))
    middle = (cols.centres[0] + cols.centres[1]) / 2
    assert cols.column_of(middle) is None
    assert place(value_row.values[:3], 15, [Columns(cols.page, cols.centres[:1], "header")]) is None


def test_a_table_2_row_printing_a_blank_cell_is_placed(r001_pdf):
    # 行政规范性文件: 0 5 5, its 本年废止件数 printing nothing
    doc, gone = _without(r001_pdf, "第二十条", 11, 1)
    assert gone == "5"
    result = extract_document(doc)
    expected = truth("r001")["cells"]
    row = [f"t2.art20_1.normative_documents.{c}" for c in ("issued_this_year", "repealed_this_year", "in_force")]
    assert [result.cells[c].status for c in row] == ["read", "blank", "read"]
    assert [result.cells[c].value for c in row] == [expected[row[0]], None, expected[row[2]]]
    assert all(result.cells[c].needs_review and _placed(result, c) for c in row)


def test_without_a_header_the_full_rows_give_the_columns(r001_pdf):
    """Table 3's columns measured on its rows that print all seven values place a row that lost one."""
    index, block = next((i, b) for i, b in enumerate(r001_pdf.blocks) if b.table is not None and "申请人情况" in b.text)
    rows = [r for r in rows_from_blocks([(index, block)]) if len(r.filled_values()) == 7]
    measured = row_columns([r.values[-7:] for r in rows], 7)
    assert sorted(c.page for c in measured) == [3, 4]  # the table runs over two pages: measured on each
    full = rows[3].values[-7:]
    cols = next(c for c in measured if c.page == full[0].provenance.page)
    assert cols.by == "rows" and len(cols.centres) == 7
    for k in range(7):
        placement = place([v for j, v in enumerate(full) if j != k], 7, [cols])
        assert placement is not None
        assert placement.slots == [None if j == k else v for j, v in enumerate(full)]
        assert placement.reasons[k] == NOTHING and set(placement.reasons) - {NOTHING} == {PLACED}
    # two values under one column: not placed
    assert place([full[0], full[0], full[2]], 7, [cols]) is None


def test_a_first_value_read_inside_its_label_cell_is_taken_from_the_label(r001_pdf):
    """行政规范性文件 | 0 | 5 | 5 read as 行政规范性文件0 | 5 | 5 (the ruling between label and value lost; as a
    photocopy of r010 reads 行政处罚2648): the 0 is the first column's value, flagged."""
    doc = r001_pdf.model_copy(deep=True)
    (table,) = [b.table for b in doc.blocks if b.table is not None and "第二十条" in b.text]
    row = table.n_rows - 11
    label = next(c for c in table.cells if c.row == row and c.col == 0)
    first = min((c for c in table.cells if c.row == row and c.text.isdigit()), key=lambda c: c.col)
    table.cells.remove(first)
    table.cells[table.cells.index(label)] = label.model_copy(
        update={"text": label.text + first.text, "raw": label.raw + first.raw}
    )
    result = extract_document(doc)
    expected = truth("r001")["cells"]
    row_ids = [f"t2.art20_1.normative_documents.{c}" for c in ("issued_this_year", "repealed_this_year", "in_force")]
    assert [result.cells[c].value for c in row_ids] == [expected[c] for c in row_ids]
    assert IN_LABEL in result.cells[row_ids[0]].review_reasons
    assert all(result.cells[c].needs_review for c in row_ids)
