"""The document model every backend produces: pages, blocks, table grids, provenance."""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

UNDECODABLE_KEY = "undecodable"  # Document.metadata: characters no encoding read, replaced ("12 (gb18030)")
BBox = tuple[float, float, float, float]  # x0, y0, x1, y1 in page units (PDF points, pixels for images)


class Origin(str, Enum):
    HTML = "html"
    TEXT_LAYER = "text-layer"
    DOCX = "docx"
    TEXT = "text"
    OCR = "ocr"


class Provenance(BaseModel):
    """Where a piece of text came from."""

    page: int | None = None  # 1-based; None for sources without pages (web pages, text)
    bbox: BBox | None = None
    origin: Origin
    confidence: float = 1.0
    line: int | None = None  # 1-based line in text sources
    # OCR table cells: the cell's box overlaps a red seal or stamp found on the page (its reading may be doubtful)
    sealed: bool = False
    layout_model: bool = False  # a scanned table cell whose boundaries the layout model drew (no printed rulings)
    streak: bool = False  # a scanned table cell a copier's toner streak ran through (taken out before reading)
    # a scanned table cell of a table printed without inner rulings (三线表): its row and column were inferred from
    # the page's whitespace (pages.stream)
    unruled: bool = False


class OcrChar(BaseModel):
    """One recognized character."""

    model_config = ConfigDict(frozen=True)

    text: str
    confidence: float
    box: BBox  # x0, y0, x1, y1 in page pixels
    # The recognizer's best candidates for this character, best first (the character itself included):
    # (text, probability); "" stands for "no character here" (the CTC blank).
    alternatives: tuple[tuple[str, float], ...] = ()


class OcrText(BaseModel):
    """Text read from one crop (or one detected line)."""

    model_config = ConfigDict(frozen=True)

    text: str
    confidence: float  # mean of the character confidences; 0.0 for no text
    box: BBox  # the crop (or line) in page pixels
    chars: tuple[OcrChar, ...] = Field(default=())
    # table cells with no characters: True when the crop held ink the recognizer read as nothing (an
    # empty-looking cell that may print a faint 0), False when it was clean, None when not known
    ink: bool | None = None

    @property
    def min_confidence(self) -> float:
        return min((c.confidence for c in self.chars), default=0.0)


class TableCell(BaseModel):
    """One printed cell of a grid, at its top-left grid position."""

    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    text: str  # cleaned text (service.normalize.clean)
    raw: str  # text as found in the source
    provenance: Provenance
    ocr: OcrText | None = None  # per-character confidences and alternatives when the cell was read by OCR


class TableGrid(BaseModel):
    """A table as printed: cells with spans on a row/column grid."""

    n_rows: int
    n_cols: int
    cells: list[TableCell]
    method: str = ""  # how the grid was recovered: html, ruling-lines, tab, pipe, run-together, ...

    def rows(self) -> list[list[TableCell]]:
        """Cells grouped by the row they start in, left to right."""
        out: list[list[TableCell]] = [[] for _ in range(self.n_rows)]
        for cell in self.cells:
            out[cell.row].append(cell)
        for row in out:
            row.sort(key=lambda c: c.col)
        return out

    def expanded(self) -> list[list[TableCell | None]]:
        """Full grid with spanning cells repeated in every slot they cover."""
        grid: list[list[TableCell | None]] = [[None] * self.n_cols for _ in range(self.n_rows)]
        for cell in self.cells:
            for r in range(cell.row, min(cell.row + cell.rowspan, self.n_rows)):
                for c in range(cell.col, min(cell.col + cell.colspan, self.n_cols)):
                    grid[r][c] = cell
        return grid

    @classmethod
    def from_rows(cls, rows: list[list[TableCell]], method: str) -> TableGrid:
        """Build a grid from rows of single cells (no spans); cells get their row/col set."""
        cells: list[TableCell] = []
        n_cols = 0
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                cells.append(cell.model_copy(update={"row": r, "col": c}))
            n_cols = max(n_cols, len(row))
        return cls(n_rows=len(rows), n_cols=n_cols, cells=cells, method=method)


class Block(BaseModel):
    kind: Literal["heading", "paragraph", "table"]
    text: str = ""  # cleaned text (for tables: all cell texts joined)
    raw: str = ""
    provenance: Provenance
    table: TableGrid | None = None


class Page(BaseModel):
    number: int  # 1-based
    width: float | None = None
    height: float | None = None
    origin: Origin
    timings: dict[str, float] = Field(default_factory=dict)  # OCR pages: CPU seconds per step of reading it


class Document(BaseModel):
    path: str
    sha256: str
    kind: str  # html | text | markdown | docx | pdf
    pages: list[Page] = Field(default_factory=list)
    blocks: list[Block] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)

    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks if b.kind != "table")

    def tables(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "table"]
