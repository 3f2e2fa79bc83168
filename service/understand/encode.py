"""What the classifier sees: a document as segments (cells, headings, paragraphs) of characters with 2-D boxes.

Layout is virtual and the same for every input format: a table cell's box is its place on the table grid
(row/column span scaled to 0-1000), a text block's box is the full width. A document becomes one stream of
character tokens (a [SEP] between text blocks), cut into overlapping windows of ``max_len`` tokens; every
token's prediction is taken from the window in which it sits most centrally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from service.document import Document

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL = [PAD, UNK, CLS, SEP, MASK]
TEXT_BOX = (0, 0, 1000, 1000)
TYPE_TEXT, TYPE_CELL = 0, 1

SegmentKey = tuple[int, ...]  # (block,) for a text block, (block, row, col) for a table cell


@dataclass(frozen=True)
class Segment:
    key: SegmentKey
    text: str
    kind: Literal["text", "cell"]
    box: tuple[int, int, int, int]
    page: int | None = None


def segments(doc: Document) -> list[Segment]:
    """Text blocks and table cells in reading order (cells row by row)."""
    out: list[Segment] = []
    for b, block in enumerate(doc.blocks):
        page = block.provenance.page
        if block.kind == "table" and block.table is not None:
            grid = block.table
            nr, nc = max(grid.n_rows, 1), max(grid.n_cols, 1)
            for cell in sorted(grid.cells, key=lambda c: (c.row, c.col)):
                if not cell.text:
                    continue
                box = (
                    cell.col * 1000 // nc,
                    cell.row * 1000 // nr,
                    min(1000, (cell.col + cell.colspan) * 1000 // nc),
                    min(1000, (cell.row + cell.rowspan) * 1000 // nr),
                )
                out.append(Segment((b, cell.row, cell.col), cell.text, "cell", box, cell.provenance.page or page))
        elif block.text:
            out.append(Segment((b,), block.text, "text", TEXT_BOX, page))
    return out


class Vocab:
    """Character vocabulary (one character per line after the special tokens)."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}
        self.unk = self.index[UNK]

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        return cls([line for line in lines if line])

    def save(self, path: str | Path) -> None:
        Path(path).write_text("\n".join(self.tokens) + "\n", encoding="utf-8")

    def __len__(self) -> int:
        return len(self.tokens)

    def id(self, token: str) -> int:
        return self.index.get(token, self.unk)


@dataclass
class Stream:
    """A document as one token stream; ``where[i]`` is (segment index, char offset) or (-1, -1) for [SEP]."""

    segments: list[Segment]
    ids: np.ndarray  # [T]
    boxes: np.ndarray  # [T, 4]
    types: np.ndarray  # [T]
    where: list[tuple[int, int]] = field(default_factory=list)


def stream(segs: list[Segment], vocab: Vocab, *, cell_chars: int = 48) -> Stream:
    ids: list[int] = []
    boxes: list[tuple[int, int, int, int]] = []
    types: list[int] = []
    where: list[tuple[int, int]] = []
    sep = vocab.id(SEP)
    prev_kind = None
    for s, seg in enumerate(segs):
        if seg.kind == "text" and prev_kind is not None:
            ids.append(sep)
            boxes.append(TEXT_BOX)
            types.append(TYPE_TEXT)
            where.append((-1, -1))
        text = seg.text if seg.kind == "text" else seg.text[:cell_chars]
        ttype = TYPE_TEXT if seg.kind == "text" else TYPE_CELL
        for c, ch in enumerate(text):
            ids.append(vocab.id(ch))
            boxes.append(seg.box)
            types.append(ttype)
            where.append((s, c))
        prev_kind = seg.kind
    return Stream(
        segs,
        np.asarray(ids, dtype=np.int64),
        np.asarray(boxes, dtype=np.int64).reshape(-1, 4),
        np.asarray(types, dtype=np.int64),
        where,
    )


@dataclass
class Windows:
    input_ids: np.ndarray  # [W, L]
    bbox: np.ndarray  # [W, L, 4]
    token_type_ids: np.ndarray  # [W, L]
    attention_mask: np.ndarray  # [W, L]
    # for each stream token: (window, position) that predicts it
    owner: np.ndarray  # [T, 2]
    spans: list[tuple[int, int]]  # stream range of each window


def window_starts(total: int, body: int, overlap: int) -> list[int]:
    if total <= body:
        return [0]
    step = max(1, body - overlap)
    starts = list(range(0, total - body, step))
    starts.append(total - body)
    return starts


def windows(st: Stream, vocab: Vocab, max_len: int = 256, overlap: int = 64) -> Windows:
    body = max_len - 2
    total = len(st.ids)
    starts = window_starts(total, body, overlap)
    n = len(starts)
    ids = np.full((n, max_len), vocab.id(PAD), dtype=np.int64)
    bbox = np.zeros((n, max_len, 4), dtype=np.int64)
    types = np.zeros((n, max_len), dtype=np.int64)
    mask = np.zeros((n, max_len), dtype=np.int64)
    owner = np.zeros((total, 2), dtype=np.int64)
    best = np.full(total, -1.0)
    spans = []
    for w, a in enumerate(starts):
        b = min(total, a + body)
        k = b - a
        ids[w, 0], ids[w, 1 : k + 1], ids[w, k + 1] = vocab.id(CLS), st.ids[a:b], vocab.id(SEP)
        bbox[w, 1 : k + 1] = st.boxes[a:b]
        bbox[w, k + 1] = (1000, 1000, 1000, 1000)
        types[w, 1 : k + 1] = st.types[a:b]
        mask[w, : k + 2] = 1
        spans.append((a, b))
        # centrality: distance to the nearer window edge (document edges count as far away)
        pos = np.arange(a, b)
        left = np.where(a == 0, body, pos - a)
        right = np.where(b == total, body, b - 1 - pos)
        central = np.minimum(left, right).astype(float)
        take = central > best[a:b]
        best[a:b] = np.where(take, central, best[a:b])
        owner[a:b][take] = np.stack([np.full(k, w), pos - a + 1], axis=1)[take]
    return Windows(ids, bbox, types, mask, owner, spans)
