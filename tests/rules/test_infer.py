"""Absent-cell inference (service.rules.infer): the value the schema's rules imply for a cell a report lacks."""

from service.result import CellValue
from service.rules import equations, follow, implied, infer_absent, parse_equation, reinfer, within
from service.schema import load_format

SCHEMA = load_format("2021")


def _read(v):
    return CellValue(value=v, raw=str(v), status="read")


def test_implied_solves_an_equality_for_one_cell_on_either_side():
    eq = parse_equation("t.total == t.a + t.b")
    values = {"t.total": 7, "t.a": 3, "t.b": 4}
    assert implied(eq, "t.b", values.get) == 4
    assert implied(eq, "t.total", values.get) == 7
    assert implied(eq, "t.a", {"t.total": 2, "t.b": 5}.get) == -3  # the printed cells break the rule: it says so
    assert implied(eq, "t.a", {"t.total": 2}.get) is None  # t.b has no number
    assert implied(parse_equation("t.a <= t.b"), "t.a", values.get) is None  # an inequality implies no value
    assert isinstance(implied(eq, "t.b", {"t.total": 7.0, "t.a": 3.0}.get), int)


def test_a_lost_other_column_is_inferred_from_the_row_total():
    row = SCHEMA.t3_row_cells("new_received")
    cells = dict(zip(row, [_read(v) for v in (1, 1, 0, 0, 0, 0, 5)]))
    cells["t3.new_received.other_org"] = CellValue(status="absent")
    assert infer_absent(cells, "t3.new_received.other_org", within(equations(SCHEMA), row))
    got = cells["t3.new_received.other_org"]
    assert (got.status, got.inferred_value, got.inferred_by) == ("absent", 3, "t3_row_total")
    # a neighbour without a number: nothing implied
    cells["t3.new_received.natural_person"] = CellValue(status="absent")
    cells["t3.new_received.other_org"] = CellValue(status="absent")
    assert not infer_absent(cells, "t3.new_received.other_org", within(equations(SCHEMA), row))
    assert cells["t3.new_received.other_org"].inferred_value is None


def test_the_missing_last_total_of_table_4_is_inferred_by_its_group_rule():
    cells = {cid: _read(1) for cid in SCHEMA.t4_cell_ids()}
    last = SCHEMA.t4_cell_ids()[-1]
    cells[last] = CellValue(status="absent")
    cells["t4.litigation_after_review.pending"] = CellValue(status="blank", raw="")  # blank counts 0
    assert infer_absent(cells, last, equations(SCHEMA))
    assert (cells[last].inferred_value, cells[last].inferred_by) == (3, "t4_group_total")


def test_reinfer_follows_a_corrected_neighbour_and_keeps_a_value_it_cannot_redo():
    row = SCHEMA.t3_row_cells("granted")
    cells = dict(zip(row, [_read(v) for v in (2, 0, 0, 0, 0, 0, 2)]))
    other = "t3.granted.other_org"
    cells[other] = CellValue(status="absent", inferred_value=0, inferred_by="t3_row_total")
    eqs = equations(SCHEMA)
    cells["t3.granted.total"] = CellValue(value=5, raw="2", status="corrected")
    reinfer(cells, eqs)
    assert cells[other].inferred_value == 3
    cells["t3.granted.natural_person"] = CellValue(status="unparseable", raw="?")
    reinfer(cells, eqs)
    assert cells[other].inferred_value == 3
    # only the rule named in inferred_by: the balance rule over the same cell does not set it
    cells[other] = CellValue(status="absent", inferred_value=1, inferred_by="no_such_rule")
    reinfer(cells, eqs)
    assert cells[other].inferred_value == 1


def test_follow_takes_the_models_values_for_inferred_cells_only():
    cells = {"t.x": CellValue(status="absent", inferred_value=-2, inferred_by="r"), "t.y": CellValue(status="absent")}
    follow(cells, {"t.x": 0, "t.y": 4})
    assert cells["t.x"].inferred_value == 0 and cells["t.y"].inferred_value is None
