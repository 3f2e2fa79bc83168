from service.lattice import Grid, GridCell, components, covered, merge_slots


def test_covered_needs_half_the_edge():
    assert covered([(0, 6)], 0, 10)
    assert not covered([(0, 2), (8, 10)], 0, 10)
    assert covered([(0, 3), (2, 5)], 0, 10)  # overlapping stretches count once


def test_missing_separator_makes_a_spanning_cell():
    xs, ys = [0, 10, 20], [0, 10, 20]
    full = [(0, 20)]
    # the middle vertical line is drawn only in the bottom row: the top row is one cell spanning two columns
    vcover = [full, [(10, 20)], full]
    hcover = [full, full, full]
    assert merge_slots(xs, ys, vcover, hcover) == [(0, 1, 0, 2), (1, 2, 0, 1), (1, 2, 1, 2)]


def test_components_are_the_one_union_find():
    assert components(5, [(0, 2), (3, 4), (2, 0)]) == [[0, 2], [1], [3, 4]]


def test_grid_scaled_to_page_units():
    cell = GridCell(0, 0, 1, 2, (100.0, 50.0, 300.0, 80.0), open_bottom=True, split_from=(100.0, 50.0, 400.0, 80.0))
    grid = Grid((100.0, 200.0, 300.0), (50.0, 80.0), (cell,))
    half = grid.scaled(0.5)
    assert half.xs == (50.0, 100.0, 150.0) and half.ys == (25.0, 40.0)
    assert half.cells[0].bbox == (50.0, 25.0, 150.0, 40.0) and half.cells[0].split_from == (50.0, 25.0, 200.0, 40.0)
    assert half.cells[0].open_bottom and (half.n_rows, half.n_cols) == (1, 2)
    assert grid.scaled(1) is grid
