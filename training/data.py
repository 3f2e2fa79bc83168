"""Training examples: documents with gold labels -> windows of token ids, boxes and BIO tag ids."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.document import Document
from service.understand.encode import MASK, SPECIAL, Stream, Vocab, segments, stream, windows

IGNORE = -100
GB2312_ROWS = range(0xA1, 0xF8)


def gb2312_chars() -> list[str]:
    """Every character of GB2312 (symbols, Latin, kana, Cyrillic and the 6,763 hanzi)."""
    out = []
    for hi in GB2312_ROWS:
        for lo in range(0xA1, 0xFF):
            try:
                ch = bytes([hi, lo]).decode("gb2312")
            except UnicodeDecodeError:
                continue
            out.append(ch)
    return out


def build_vocab(texts: list[str]) -> Vocab:
    """Special tokens, printable ASCII, GB2312, then any other character the corpus uses (sorted: deterministic)."""
    from service.normalize import clean

    chars: set[str] = {chr(c) for c in range(0x21, 0x7F)}
    chars.update(clean(ch) for ch in gb2312_chars())
    for t in texts:
        chars.update(t)
    chars = {c for c in chars if len(c) == 1 and not c.isspace()}
    return Vocab(SPECIAL + sorted(chars))


def char_tags(st: Stream, labels: dict, tag_index: dict[str, int]) -> np.ndarray:
    """Gold tag id of every stream token ([SEP] tokens are ignored)."""
    out = np.full(len(st.ids), tag_index["O"], dtype=np.int64)
    for t, (s, c) in enumerate(st.where):
        if s < 0:
            out[t] = IGNORE
            continue
        lab = labels.get(st.segments[s].key)
        if lab is None:
            continue
        if isinstance(lab, str):
            if lab in ("O", "-"):
                continue
            out[t] = tag_index[("B-" if c == 0 else "I-") + lab]
        else:
            for start, end, span_label in lab:
                if start <= c < end:
                    out[t] = tag_index[("B-" if c == start else "I-") + span_label]
                    break
    return out


def narrative_only(sd) -> "SynthDoc":
    """The text blocks of a synthetic report without its tables: narrative-dense examples for the facts."""
    from training.synth.types import SynthDoc

    keep = [i for i, b in enumerate(sd.document.blocks) if b.kind != "table"]
    index = {old: new for new, old in enumerate(keep)}
    doc = sd.document.model_copy(update={"blocks": [sd.document.blocks[i] for i in keep]})
    labels = {(index[k[0]],): v for k, v in sd.labels.items() if len(k) == 1 and k[0] in index}
    return SynthDoc(document=doc, labels=labels, facts=[], truth={}, meta=dict(sd.meta))


def tag_weights(tags: list[str], kinds: dict[str, str], weights: dict[str, float]) -> np.ndarray:
    """Loss weight of every tag by the kind of its label (O and unlisted kinds weigh 1)."""
    out = np.ones(len(tags), dtype=np.float32)
    for i, tag in enumerate(tags):
        if tag != "O":
            out[i] = weights.get(kinds[tag[2:]], 1.0)
    return out


@dataclass
class Batchable:
    input_ids: np.ndarray
    bbox: np.ndarray
    token_type_ids: np.ndarray
    attention_mask: np.ndarray
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.input_ids)


def doc_windows(doc: Document, vocab: Vocab, max_len: int, overlap: int,
                labels: dict | None = None, tag_index: dict[str, int] | None = None) -> Batchable:
    st = stream(segments(doc), vocab)
    w = windows(st, vocab, max_len, overlap)
    out = Batchable(w.input_ids, w.bbox, w.token_type_ids, w.attention_mask)
    if labels is not None and tag_index is not None:
        tags = char_tags(st, labels, tag_index)
        lab = np.full(w.input_ids.shape, IGNORE, dtype=np.int64)
        for i, (a, b) in enumerate(w.spans):
            lab[i, 1:b - a + 1] = tags[a:b]
        out.labels = lab
    return out


def concat(parts: list[Batchable]) -> Batchable:
    def cat(name):
        arrays = [getattr(p, name) for p in parts]
        return None if any(a is None for a in arrays) else np.concatenate(arrays)
    return Batchable(cat("input_ids"), cat("bbox"), cat("token_type_ids"), cat("attention_mask"), cat("labels"))


def mask_tokens(ids: np.ndarray, attention: np.ndarray, vocab: Vocab, prob: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """BERT masking: of the chosen characters 80% become [MASK], 10% a random character, 10% stay."""
    n_special = len(SPECIAL)
    candidates = (ids >= n_special) & (attention == 1)
    chosen = candidates & (rng.random(ids.shape) < prob)
    labels = np.where(chosen, ids, IGNORE)
    roll = rng.random(ids.shape)
    out = ids.copy()
    out[chosen & (roll < 0.8)] = vocab.id(MASK)
    rand = chosen & (roll >= 0.8) & (roll < 0.9)
    out[rand] = rng.integers(n_special, len(vocab), size=int(rand.sum()))
    return out, labels
