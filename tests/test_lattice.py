from service.lattice import covered, merge_slots


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
