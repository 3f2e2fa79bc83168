"""The classifier's view of a document: segments, token stream, windows."""
from __future__ import annotations

import numpy as np

from service.ingest import load_document
from service.understand.encode import SPECIAL, Vocab, segments, stream, window_starts, windows
from tests.conftest import DEV


def _vocab(texts):
    return Vocab(SPECIAL + sorted({ch for t in texts for ch in t}))


def test_segments_cover_cells_and_text_blocks_in_reading_order():
    doc = load_document(DEV / "r003" / "source.html")
    segs = segments(doc)
    cells = [s for s in segs if s.kind == "cell"]
    texts = [s for s in segs if s.kind == "text"]
    n_cells = sum(1 for b in doc.blocks if b.table for c in b.table.cells if c.text)
    assert len(cells) == n_cells
    assert len(texts) == sum(1 for b in doc.blocks if b.kind != "table" and b.text)
    assert [s.key[0] for s in segs] == sorted(s.key[0] for s in segs)
    for s in cells:
        x0, y0, x1, y1 = s.box
        assert 0 <= x0 < x1 <= 1000 and 0 <= y0 < y1 <= 1000


def test_every_token_is_predicted_by_exactly_one_window_position():
    doc = load_document(DEV / "r005" / "page.html")
    segs = segments(doc)
    vocab = _vocab(s.text for s in segs)
    st = stream(segs, vocab)
    w = windows(st, vocab, max_len=64, overlap=16)
    assert len(w.input_ids) > 10
    # the owner position holds the token itself
    got = w.input_ids[w.owner[:, 0], w.owner[:, 1]]
    assert np.array_equal(got, st.ids)
    # owners are central: never the first or last 8 tokens of a window unless at the document's edge
    body = 62
    for t, (win, pos) in enumerate(w.owner):
        a, b = w.spans[win]
        if a > 0:
            assert pos - 1 >= 8 or t < 8
        if b < len(st.ids):
            assert (b - a) - pos >= 8
    assert window_starts(10, body, 16) == [0]


def test_unknown_characters_map_to_unk():
    vocab = _vocab(["政府"])
    assert vocab.id("政") != vocab.unk and vocab.id("龘") == vocab.unk
