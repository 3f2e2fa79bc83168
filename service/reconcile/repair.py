"""The reconcile stage: apply the solver's readings, give every cell one calibrated confidence, flag for review.

* A cell whose chosen reading differs from the one read becomes ``repaired``: ``value`` is the repaired number,
  ``original_value`` / ``raw`` keep what was read, ``repaired_by`` names the rules the repair satisfies.
* Confidence combines the reading (the chosen candidate's probability), the mapping (lowered where the label
  readers disagreed) and rule support (rules that hold around the cell make a misreading unlikely; a broken
  one makes every reading in it doubtful), then goes through the isotonic map fitted on the scanned dev
  reports (``configs/reconcile/calibration.yaml``, by ``benchmarks/bench_reconcile.py --fit``).
* ``needs_review`` when the calibrated confidence is below ``review_below`` (configs/pipeline.yaml), with the
  reasons: low reading confidence, repaired by <rule>, source rule failure, mapping uncertain, inferred (and
  "not found in the scan" for absent cells of a scan). A reading no rule checks (table 2) is flagged below
  ``unchecked_min_reading``: nothing else can catch a misreading there. Every repair is reviewed
  (``review_repairs``): a reviewer confirms what the rules chose.
  Where a rule stays broken in an OCR'd table, the prime suspects are flagged: a cell in two broken rules, else
  the least certain reading of the rule. Digital sources are read exactly: their broken rules are findings in
  ``checks``, not cells to review.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from service.messages import add_code, add_reason, english, reason
from service.options import ReconcileOptions
from service.reconcile.candidates import Priors, candidates
from service.reconcile.solver import Reconciliation, reconcile, zeros_printed
from service.resources import read_yaml, resolve
from service.result import CellValue, ReasonCode
from service.rules import Equation, blank_side, equations, follow, holds
from service.rules.reasons import DISAGREEMENT
from service.schema import FormatSchema

LOW_READING = english("low_reading")
SOURCE_FAILURE = english("source_rule_failure", rules="").removesuffix(": ")  # the prefix of its reason
MAPPING = english("mapping_uncertain")
INFERRED = english("inferred")
NOT_FOUND = english("not_found_in_scan")
SEALED = english("sealed")
STREAK = english("streak")
LAYOUT = english("layout_model")
UNRULED_BLANK = english("unruled_blank")
UNRULED = english("unruled")


@dataclass
class Calibration:
    raw: np.ndarray
    calibrated: np.ndarray

    def __call__(self, x: float) -> float:
        if len(self.raw) == 0:
            return x
        return float(np.interp(x, self.raw, self.calibrated))


@lru_cache(maxsize=4)
def load_calibration(path: str) -> Calibration:
    file = resolve(path)
    if not file.exists():
        return Calibration(np.array([]), np.array([]))
    data = read_yaml(file) or {}
    points = data.get("points") or []
    return Calibration(np.array([p[0] for p in points], dtype=float), np.array([p[1] for p in points], dtype=float))


def raw_confidence(reading: float, mapping: float, holding: int, broken: int) -> float:
    """The uncalibrated confidence of a cell: reading probability, confirmed or doubted by the rules around it."""
    if broken:
        score = reading * 0.5
    elif holding:
        score = 1.0 - (1.0 - reading) * 0.1 ** min(holding, 2)
    else:
        score = reading
    return round(score * mapping, 6)


def _suspects(broken: list[Equation], cells: dict[str, CellValue], reading: dict[str, float]) -> set[str]:
    """OCR'd cells to review for the rules that stay broken."""
    count: dict[str, int] = {}
    for eq in broken:
        for c in set(eq.lhs + eq.rhs):
            if c in reading:
                count[c] = count.get(c, 0) + 1
    out = {c for c, n in count.items() if n >= 2}
    for eq in broken:
        ocr = [c for c in eq.lhs + eq.rhs if c in reading]
        if ocr and not out.intersection(ocr):
            out.add(min(ocr, key=lambda c: (reading[c], c)))
    return out


def reconcile_cells(
    cells: dict[str, CellValue],
    schema: FormatSchema,
    cfg: ReconcileOptions,
    *,
    single_other_processing: bool = False,
) -> Reconciliation:
    """Reconcile ``cells`` in place (values, status, confidence, review flags); returns the solver's account.
    ``cfg``: the reconcile options (``options.reconcile``)."""
    _zeros_with_ink(cells, Priors.of(cfg))
    rec = reconcile(cells, schema, cfg, single_other_processing=single_other_processing)
    eqs = equations(schema, single_other_processing=single_other_processing)
    _apply(rec, cells)
    # reading probability of every OCR'd cell (the chosen candidate's; as read when the solver did not look)
    reading = {
        cid: rec.decisions[cid].reading.prob if cid in rec.decisions else rec.readings.get(cid, 1.0)
        for cid, cell in cells.items()
        if cell.ocr is not None and cell.status in ("read", "blank", "repaired")
    }
    support = _support(cells, eqs)
    suspects = _suspects(support.broken_eqs, cells, reading)
    _score_and_flag(cells, cfg, reading, support, suspects)
    return rec


def _zeros_with_ink(cells: dict[str, CellValue], priors: Priors) -> None:
    """Blank cells whose crop held ink, in tables that print zeros: 0 (the rules cannot decide, blank counts as 0)."""
    zeros = zeros_printed(cells)
    for cid, cell in cells.items():
        if cell.status == "blank" and cell.ocr is not None and cell.ocr.ink:
            best = max(candidates(cell, priors, zeros_printed=cid.split(".")[0] in zeros), key=lambda r: r.prob)
            if best.value == 0:
                cell.original_value, cell.value, cell.status = None, 0, "repaired"
                add_reason(cell, "repaired_ink_zero", unique=False)


def _apply(rec: Reconciliation, cells: dict[str, CellValue]) -> None:
    """The solver's repairs into the cells, the original reading kept; inferred values follow the repair."""
    for cid, d in rec.repaired.items():
        cell = cells[cid]
        cell.original_value = cell.value
        cell.value = d.reading.value
        cell.status = "repaired"
        cell.repaired_by = d.rules
        alternatives: list[int | float] = [
            r.value for r in d.candidates if r.value is not None and r.value != d.reading.value
        ]
        cell.alternatives = alternatives[:3]
        add_reason(
            cell,
            "repaired_by",
            unique=False,
            rules=", ".join(d.rules) or "the rules",
            how=d.reading.how,
            read=d.original.text or "blank",
            says=d.reading.text or "blank",
        )
    if rec.repaired:  # values inferred from the readings (a lost 其他 column, a missing 总计) follow the repair
        follow(cells, rec.implied)


@dataclass
class _Support:
    holding: dict[str, int]  # per cell: rules that hold
    broken: dict[str, int]  # per cell: rules still broken (not counting those broken by a blank side)
    broken_eqs: list[Equation]
    covered: set[str]  # cells an equality rule checks


def _support(cells: dict[str, CellValue], eqs: list[Equation]) -> _Support:
    out = _Support({}, {}, [], set())
    for eq in eqs:
        if eq.op == "==":  # an inequality that holds says little about a reading
            out.covered.update(eq.lhs + eq.rhs)
        ids = set(eq.lhs + eq.rhs)
        if any(cells.get(c) is None for c in ids):
            continue
        ok = holds(eq, cells)
        if not ok and blank_side(eq, cells):
            continue  # broken because a whole side is printed blank: a finding in checks, no reading to doubt
        if not ok:
            out.broken_eqs.append(eq)
        count = out.holding if ok else out.broken
        for c in ids:
            count[c] = count.get(c, 0) + 1
    return out


def _score_and_flag(
    cells: dict[str, CellValue],
    cfg: ReconcileOptions,
    reading: dict[str, float],
    support: _Support,
    suspects: set[str],
) -> None:
    """One calibrated confidence per cell, the review reasons and ``needs_review``."""
    calibrate = load_calibration(cfg.calibration_file)
    zeros = zeros_printed(cells)
    scanned = bool(reading)
    for cid, cell in cells.items():
        if cell.status == "absent" and scanned and cell.inferred_value is None and not cell.needs_review:
            cell.needs_review = True  # in a scan, a cell not found may be a cell not read
            add_reason(cell, "not_found_in_scan", unique=False)
        if cell.status in ("absent", "not_applicable", "unparseable"):
            continue
        disputed = any(r.startswith(DISAGREEMENT) for r in cell.review_reasons)
        mapping = cell.confidence if disputed else 1.0
        holding = support.holding.get(cid, 0)
        if cell.status == "inferred":  # derived (split digits, a rule): its own confidence is the reading's
            raw = raw_confidence(cell.confidence, mapping, holding, 0)
        elif cid in reading:
            raw = raw_confidence(reading[cid], mapping, holding, support.broken.get(cid, 0) if cid in suspects else 0)
        else:  # digital: read exactly; only the mapping can be wrong
            raw = raw_confidence(1.0, mapping, holding, 0)
        cell.confidence = round(calibrate(raw), 4)
        reasons: list[ReasonCode] = []
        unchecked = cid in reading and cid not in support.covered and reading[cid] < cfg.unchecked_min_reading
        if cid in reading and reading[cid] < cfg.doubt:
            reasons.append(reason("low_reading"))
        elif unchecked:
            reasons.append(reason("low_reading_unchecked"))
        sealed = cid in reading and cell.source is not None and cell.source.sealed
        if sealed and reading[cid] < cfg.sealed_min_reading:
            reasons.append(reason("sealed"))
            cell.confidence = min(cell.confidence, round(reading[cid], 4))
        placed = cid in reading and cell.source is not None and cell.source.layout_model
        if cid in reading and cell.source is not None and cell.source.streak:
            reasons.append(reason("streak"))
        if placed:  # a whole table shifted by a column still satisfies every sum: only a reviewer can confirm it
            reasons.append(reason("layout_model"))
        unruled = cid in reading and cell.source is not None and cell.source.unruled
        if unruled and not holding:  # its column from the whitespace: confirmed only by a rule that holds on it
            reasons.append(reason("unruled"))
        elif unruled and cell.status == "blank" and cid.split(".")[0] in zeros:
            reasons.append(reason("unruled_blank"))  # a rule holds on a blank as on a 0: it cannot tell a lost 0
        elif cid in reading and cell.status == "blank" and cid.split(".")[0] in zeros:
            reasons.append(reason("blank_in_scan"))  # print too faint to scan reads blank; a rule cannot tell a 0
        if cid in suspects:
            rules = sorted({eq.rule for eq in support.broken_eqs if cid in eq.lhs + eq.rhs})
            reasons.append(reason("source_rule_failure", rules=", ".join(rules)))
        if mapping < 1.0:
            reasons.append(reason("mapping_uncertain"))
        if cell.status == "inferred":
            reasons.append(reason("inferred"))
        for r in reasons:
            add_code(cell, r)
        repaired = cell.status == "repaired" and cfg.review_repairs
        structure = any(
            r.code in ("sealed", "layout_model", "streak", "unruled", "unruled_blank", "blank_in_scan") for r in reasons
        )
        if cell.confidence < cfg.review_below or cid in suspects or unchecked or repaired or structure:
            cell.needs_review = True
