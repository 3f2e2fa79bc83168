"""Candidate readings of a table cell: what an OCR'd number could also be, each with a probability.

Digital sources (HTML, text layers, Word, text) give one reading, the printed one: it is never changed.
An OCR'd cell gives its reading plus
* **alternatives** from the recognizer's top-k per character (``OcrChar.alternatives``; "" = no character, the
  CTC blank): the readings of highest joint probability (beam search over the characters);
* a **doubled digit** read once (CTC merges two equal neighbours when it sees no gap: 11 → 1) and a digit read
  twice (1 → 11), at the prior probabilities of the reconcile options (``prior_*`` in configs/pipeline.yaml);
* a **missed digit** at either end of the number (a detector crop that cut it off);
* the **0 of an empty-looking cell**: a cell whose crop held ink the recognizer read as nothing (``OcrText.ink``)
  is most likely a faint 0 where the table prints its zeros as 0 (the rules cannot tell: a blank counts as 0);
* a **number split across two cells** (a digit read in the neighbouring cell: 1 | 23 for 12 | 3): a choice shared
  by the two side-by-side cells, made in the solver (:func:`service.reconcile.solver.side_by_side`).
Probabilities are normalised over a cell's candidates; the solver weighs them against the table rules.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass

from service.document import OcrText
from service.options import ReconcileOptions
from service.result import CellValue

_COUNT = re.compile(r"^(0|[1-9]\d*)$")


INK_ZERO = 0.8  # a cell with ink read as nothing is a 0 (tables whose zeros are printed as 0)
MIN_CHAR = 0.002  # character alternatives below this are ignored
BEAM = 12  # readings kept by the beam over the characters
KEEP = 8  # candidates kept per cell (the reading as printed always among them)


@dataclass(frozen=True)
class Priors:
    """Prior probabilities of the structural errors (relative to the reading as printed): ``prior_*`` of the
    reconcile options (configs/pipeline.yaml)."""

    doubled: float  # two equal digits merged into one (per digit)
    repeated: float  # one digit read twice (per pair of equal neighbours)
    missed_edge: float  # a digit lost at either end (per digit value and end)
    split: float  # a digit of one cell read in its neighbour (per pair of side-by-side cells and direction)

    @classmethod
    def of(cls, options: ReconcileOptions) -> Priors:
        return cls(
            doubled=options.prior_doubled,
            repeated=options.prior_repeated,
            missed_edge=options.prior_missed_edge,
            split=options.prior_split,
        )


@dataclass(frozen=True)
class Reading:
    value: int | None  # None: blank
    text: str
    prob: float  # normalised over the cell's candidates
    how: str  # "as read" | "character alternative" | "doubled digit" | "repeated digit" | "missed digit" | "missed 0"

    @property
    def cost(self) -> float:
        return -math.log(max(self.prob, 1e-12))


def _value(text: str) -> int | None | bool:
    """An integer count, None for blank, False for anything else."""
    if text == "":
        return None
    t = text.replace(",", "")
    return int(t) if _COUNT.match(t) else False


def _beam(ocr: OcrText) -> list[tuple[float, str]]:
    """The most probable strings under the per-character alternatives: (probability, text)."""
    beams: list[tuple[float, str]] = [(1.0, "")]
    for ch in ocr.chars:
        options = [(t, p) for t, p in ch.alternatives if p >= MIN_CHAR and (t == "" or t.isdigit() or t == ",")]
        if not any(t == ch.text for t, _ in options):
            options.append((ch.text, max(ch.confidence, MIN_CHAR)))
        # not renormalised: the mass of the classes the recognizer did not list stays unexplained, so a
        # character read at 0.6 with nothing second keeps a reading probability of 0.6
        nxt = [(bp * p, bt + t) for bp, bt in beams for t, p in options]
        beams = heapq.nlargest(BEAM, nxt)
    return beams


def candidates(cell: CellValue, priors: Priors, *, zeros_printed: bool = False) -> list[Reading]:
    """The candidate readings of a cell (first: the reading as printed). One reading when nothing can differ."""
    as_read = Reading(
        cell.value if isinstance(cell.value, int) else None,
        "" if cell.value is None else str(cell.value),
        1.0,
        "as read",
    )
    ocr = cell.ocr
    if ocr is None or cell.status not in ("read", "blank") or isinstance(cell.value, float):
        return [as_read]
    if cell.status == "blank":
        if ocr.ink:  # ink the recognizer read as nothing: most likely a faint 0 where the table prints zeros
            p0 = INK_ZERO if zeros_printed else 0.5
        else:  # a clean crop (or not known): the rules cannot tell a lost 0 from a blank, so blank it stays
            return [as_read]
        return _normalise({None: (1.0 - p0, "", "as read"), 0: (p0, "0", "missed 0")})
    weights: dict[int | None, tuple[float, str, str]] = {}

    def add(value: int | None | bool, p: float, text: str, how: str) -> None:
        if value is False or p <= 0:
            return
        if value not in weights or weights[value][0] < p:
            weights[value] = (p, text, how)

    beams = _beam(ocr) if ocr.chars else [(1.0, ocr.text)]
    printed = str(cell.value)
    p_read = max((p for p, t in beams if _value(t) == cell.value), default=None)
    if p_read is None:  # the beam lost the reading as printed (a digit read through a look-alike): keep it
        p_read = beams[0][0] if beams else 1.0
    add(cell.value, p_read, printed, "as read")
    for p, text in beams:
        add(_value(text), p, text, "character alternative")
    digits = printed
    for i, d in enumerate(digits):  # a doubled digit read once
        add(
            _value(digits[: i + 1] + d + digits[i + 1 :]),
            p_read * priors.doubled,
            digits[: i + 1] + d + digits[i + 1 :],
            "doubled digit",
        )
    for i in range(len(digits) - 1):  # a digit read twice
        if digits[i] == digits[i + 1]:
            add(
                _value(digits[:i] + digits[i + 1 :]),
                p_read * priors.repeated,
                digits[:i] + digits[i + 1 :],
                "repeated digit",
            )
    for d in "0123456789" if cell.value != 0 else "":  # a digit lost at either end (a lone 0 is not cut)
        add(_value(d + digits), p_read * priors.missed_edge, d + digits, "missed digit")
        add(_value(digits + d), p_read * priors.missed_edge, digits + d, "missed digit")
    best = sorted(weights.items(), key=lambda kv: -kv[1][0])
    kept = dict(best[:KEEP])
    kept.setdefault(cell.value, weights[cell.value])
    return _normalise(kept, first=cell.value)


def _normalise(weights: dict[int | None, tuple[float, str, str]], first: int | None = None) -> list[Reading]:
    """Probabilities over the candidates; the reading as printed keeps at most its own probability (the rest of
    the recognizer's mass went to characters it did not list)."""
    total = max(sum(p for p, _, _ in weights.values()), 1.0)
    out = [Reading(v, t, p / total, how) for v, (p, t, how) in weights.items()]
    out.sort(key=lambda r: (r.value != first or r.how != "as read", -r.prob))
    return out
