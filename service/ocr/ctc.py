"""CTC greedy decoding that keeps, for every emitted character, its run of time steps and its top-k.

The recognizer emits, per time step (one step per 8 input pixels for PP-OCR models), a probability
over the classes: 0 is the CTC blank, then the characters. Greedy decoding takes the best class per
step, collapses repeats and drops blanks. Here each emitted character also keeps where it was seen
(its run of steps and the step where it was most certain) and the k best classes at that step.

``restricted_decode`` decodes the same probabilities with the alphabet restricted (a numeric cell: digits,
sign, decimal point): the steps where the best class is the blank stay blank, every other step takes the best
allowed class, repeats collapse as before. A character is thus never dropped because the recognizer saw it as
a look-alike outside the alphabet (``°`` or ``。`` for a dim ``0``); its probability is the probability that
a character is there (1 - blank) times the allowed class's share of the allowed classes at that step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLANK = 0


@dataclass(frozen=True)
class DecodedChar:
    index: int  # class index (never BLANK)
    start: int  # first time step of the run
    end: int  # one past the last time step of the run
    peak: int  # the step where the class was most probable
    prob: float  # its probability there
    top: tuple[tuple[int, float], ...]  # best classes at the peak step, best first (may include BLANK)


def greedy_decode(probs: np.ndarray, top_k: int = 5) -> list[DecodedChar]:
    """Decode one sequence of per-step class probabilities, shape (T, C)."""
    if probs.ndim != 2:
        raise ValueError(f"expected (steps, classes) probabilities, got shape {probs.shape}")
    return _collapse(probs, probs.argmax(axis=1), top_k)


def restricted_decode(probs: np.ndarray, allowed: np.ndarray, top_k: int = 5) -> list[DecodedChar]:
    """Decode (T, C) probabilities with only the ``allowed`` classes (indices, BLANK among them or not) as
    characters: where the best class of a step is not the blank, the best allowed class is taken instead;
    probabilities and top-k are over the allowed classes (see the module's note); indices are the model's."""
    if probs.ndim != 2:
        raise ValueError(f"expected (steps, classes) probabilities, got shape {probs.shape}")
    classes = np.asarray([BLANK, *(int(i) for i in allowed if int(i) != BLANK)], dtype=np.int64)
    blank = probs[:, BLANK]
    kept = probs[:, classes[1:]]
    share = kept / np.maximum(kept.sum(axis=1, keepdims=True), 1e-12)
    restricted = np.concatenate([blank[:, None], (1.0 - blank)[:, None] * share], axis=1)
    path = np.where(probs.argmax(axis=1) == BLANK, BLANK, 1 + share.argmax(axis=1))
    return [
        DecodedChar(
            int(classes[c.index]),
            c.start,
            c.end,
            c.peak,
            c.prob,
            tuple((int(classes[i]), p) for i, p in c.top),
        )
        for c in _collapse(restricted, path, top_k)
    ]


def _collapse(probs: np.ndarray, best: np.ndarray, top_k: int) -> list[DecodedChar]:
    """The characters of a path of classes (one per step): repeats collapsed, blanks dropped."""
    chars: list[DecodedChar] = []
    step = 0
    n_steps = len(best)
    while step < n_steps:
        index = int(best[step])
        end = step + 1
        while end < n_steps and best[end] == index:
            end += 1
        if index != BLANK:
            run = probs[step:end, index]
            peak = step + int(run.argmax())
            chars.append(DecodedChar(index, step, end, peak, float(run.max()), _top(probs[peak], top_k)))
        step = end
    return chars


def _top(row: np.ndarray, k: int) -> tuple[tuple[int, float], ...]:
    k = min(k, len(row))
    if k <= 0:
        return ()
    idx = np.argpartition(row, -k)[-k:]
    idx = idx[np.argsort(row[idx])[::-1]]
    return tuple((int(i), float(row[i])) for i in idx)


def char_spans(chars: list[DecodedChar], n_steps: int) -> list[tuple[float, float]]:
    """Horizontal extent of each character, in time steps: from the midpoint with the previous
    character's peak to the midpoint with the next one's (CTC peaks are narrow, so runs alone
    under-cover the glyphs); the outer characters extend by half the mean pitch."""
    if not chars:
        return []
    centres = [c.peak + 0.5 for c in chars]
    pitch = (centres[-1] - centres[0]) / (len(centres) - 1) if len(centres) > 1 else 2.0
    half = max(pitch / 2, 1.0)
    spans: list[tuple[float, float]] = []
    for i, centre in enumerate(centres):
        left = (centres[i - 1] + centre) / 2 if i > 0 else centre - half
        right = (centre + centres[i + 1]) / 2 if i + 1 < len(centres) else centre + half
        spans.append((max(left, 0.0), min(right, float(n_steps))))
    return spans
