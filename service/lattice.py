"""The lattice of a ruled table: ruling segments, grid slots and the cells they make, in any unit (PDF points
for a text layer, pixels for a page image). The types here (``Segment``, ``GridCell``, ``Grid``) are what the
grid builder (``service.pages.layout``) makes and what the bitmap stages (``service.ocr``) refine and read.

Grid slots lie between consecutive line positions ``xs``/``ys``; two neighbouring slots belong to one
printed cell unless a ruling line covers at least MIN_COVER of the edge between them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

MIN_COVER = 0.5  # share of a slot edge a ruling line must cover to separate two slots

Span = tuple[int, int, int, int]  # row0, row1, col0, col1 (end exclusive)
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass(slots=True)
class Segment:
    """An axis-aligned ruling segment: pos is y (horizontal) or x (vertical); start..end along it."""

    vertical: bool
    pos: float
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class GridCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    bbox: Box  # x0, y0, x1, y1: centres of the bounding ruling lines
    open_top: bool = False  # no ruling line above (the table continues from the previous page)
    open_bottom: bool = False  # no ruling line below (the table continues on the next page)
    # a part of a cell parted by a lost ruling (``service.ocr.grid.lost_rulings``): the box of the cell as the
    # lines drew it
    split_from: Box | None = None

    def scaled(self, factor: float) -> GridCell:
        """The same cell in other units (boxes times ``factor``)."""
        return GridCell(
            self.row,
            self.col,
            self.rowspan,
            self.colspan,
            _scaled(self.bbox, factor),
            self.open_top,
            self.open_bottom,
            None if self.split_from is None else _scaled(self.split_from, factor),
        )


def _scaled(box: Box, factor: float) -> Box:
    x0, y0, x1, y1 = box
    return (x0 * factor, y0 * factor, x1 * factor, y1 * factor)


@dataclass(frozen=True)
class Grid:
    """One table: boundaries and cells (each at its top-left slot, with spans)."""

    xs: tuple[float, ...]  # column boundaries, left to right
    ys: tuple[float, ...]  # row boundaries, top to bottom
    cells: tuple[GridCell, ...]

    @property
    def n_rows(self) -> int:
        return len(self.ys) - 1

    @property
    def n_cols(self) -> int:
        return len(self.xs) - 1

    @property
    def bbox(self) -> Box:
        return (self.xs[0], self.ys[0], self.xs[-1], self.ys[-1])

    def with_cells(self, cells: Iterable[GridCell]) -> Grid:
        """The same lattice with other cells (a merged cell replaced by its parts)."""
        return Grid(self.xs, self.ys, tuple(cells))

    def scaled(self, factor: float) -> Grid:
        """The same grid in other units (positions and boxes times ``factor``)."""
        if factor == 1:
            return self
        return Grid(
            tuple(x * factor for x in self.xs),
            tuple(y * factor for y in self.ys),
            tuple(c.scaled(factor) for c in self.cells),
        )


def covered(stretches: list[tuple[float, float]], a: float, b: float) -> bool:
    """Whether the union of the stretches covers at least MIN_COVER of [a, b]."""
    total = 0.0
    reach = a
    for s, e in sorted(stretches):
        s, e = max(s, reach), min(e, b)
        if e > s:
            total += e - s
            reach = e
    return total >= MIN_COVER * (b - a)


def components(n: int, links: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components of 0..n-1 under the links (union-find): each ascending, ordered by first member."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def merge_slots(
    xs: list[float], ys: list[float], vcover: list[list[tuple[float, float]]], hcover: list[list[tuple[float, float]]]
) -> list[Span]:
    """Union grid slots not separated by a ruling line; cells as (row0, row1, col0, col1), sorted."""
    n_rows, n_cols = len(ys) - 1, len(xs) - 1

    def open_sides() -> Iterable[tuple[int, int]]:
        for r in range(n_rows):
            for c in range(n_cols):
                here = r * n_cols + c
                if c + 1 < n_cols and not covered(vcover[c + 1], ys[r], ys[r + 1]):
                    yield here, here + 1
                if r + 1 < n_rows and not covered(hcover[r + 1], xs[c], xs[c + 1]):
                    yield here, here + n_cols

    out: list[Span] = []
    for group in components(n_rows * n_cols, open_sides()):
        out += rectangles([divmod(i, n_cols) for i in group])
    return sorted(out)


def slot_cells(
    xs: list[float], ys: list[float], slots: list[Span], hcover: list[list[tuple[float, float]]]
) -> tuple[GridCell, ...]:
    """The cells of merged slots (``merge_slots``), each open at the top or bottom where no ruling covers it."""
    return tuple(
        GridCell(
            row=r0,
            col=c0,
            rowspan=r1 - r0,
            colspan=c1 - c0,
            bbox=(float(xs[c0]), float(ys[r0]), float(xs[c1]), float(ys[r1])),
            open_top=not covered(hcover[r0], xs[c0], xs[c1]),
            open_bottom=not covered(hcover[r1], xs[c0], xs[c1]),
        )
        for r0, r1, c0, c1 in slots
    )


def rectangles(members: list[tuple[int, int]]) -> list[Span]:
    """A group of slots as one rectangle, or (when ruling lines are broken) one run of slots per row."""
    rows = [r for r, _ in members]
    cols = [c for _, c in members]
    r0, r1, c0, c1 = min(rows), max(rows) + 1, min(cols), max(cols) + 1
    if len(members) == (r1 - r0) * (c1 - c0):
        return [(r0, r1, c0, c1)]
    out: list[Span] = []
    for r, c in sorted(members):
        if out and out[-1][0] == r and out[-1][3] == c:
            out[-1] = (r, r + 1, out[-1][2], c + 1)
        else:
            out.append((r, r + 1, c, c + 1))
    return out


def cluster(values: Iterable[float], tol: float) -> list[float]:
    """Sorted positions, those within tol of their neighbour averaged into one."""
    groups: list[list[float]] = []
    for v in sorted(values):
        if groups and v - groups[-1][-1] <= tol:
            groups[-1].append(v)
        else:
            groups.append([v])
    return [sum(g) / len(g) for g in groups]


def boundaries(positions: list[float], ends: list[float], tol: float) -> list[float]:
    """Boundaries from ruling positions, plus an open outer edge where several perpendicular lines end."""
    out = cluster(positions, tol)
    lows = [e for e in ends if e - min(ends) <= tol]
    highs = [e for e in ends if max(ends) - e <= tol]
    # where the lines end together: their mean, so that one line overshooting by a speck moves nothing
    low, high = sum(lows) / len(lows), sum(highs) / len(highs)
    if len(lows) >= 2 and low < out[0] - tol:
        out.insert(0, low)
    if len(highs) >= 2 and high > out[-1] + tol:
        out.append(high)
    return out


def nearest(bounds: list[float], value: float) -> int:
    """Index of the boundary nearest to value."""
    i = bisect_right(bounds, value)
    if i == 0:
        return 0
    if i == len(bounds):
        return len(bounds) - 1
    return i if bounds[i] - value < value - bounds[i - 1] else i - 1
