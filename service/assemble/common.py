"""Shared pieces of the table assemblers: cell values from printed values, alignment of rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from service.assemble.rows import Row, Value
from service.document import Origin
from service.messages import add_code, english, reason, reasons_list
from service.result import CellSource, CellValue, Deviation, ReasonCode
from service.understand.matcher import MIN_SCORE, best_similarity

UNLABELED_SCORE = 0.3  # a value row without a label may fill a gap in the expected order
REVIEW_MAPPING_SCORE = 0.8  # below this, a row mapped despite a disagreement of the two label readers is reviewed


def source_of(value: Value) -> CellSource:
    p = value.provenance
    return CellSource(
        page=p.page,
        bbox=p.bbox,
        origin=p.origin,
        line=p.line,
        sealed=p.sealed,
        layout_model=p.layout_model,
        streak=p.streak,
        unruled=p.unruled,
    )


SCANNED_SLASH = english("scanned_slash")


def cell_from_value(value: Value, *, value_type: str = "count") -> CellValue:
    """A printed cell as the document says it: blank stays blank, '/' is not applicable."""
    parsed = value.parsed
    src = source_of(value)
    if parsed.status == "value":
        reasons: list[ReasonCode] = []
        if value_type in ("count",) and isinstance(parsed.value, float):
            reasons.append(reason("decimal_in_count"))
        if value_type == "count" and parsed.value is not None and parsed.value < 0:
            reasons.append(reason("negative_count"))
        if parsed.spaced == "irregular" and parsed.value is not None:
            reasons.append(reason("spaces_in_number", raw=value.raw.strip(), value=parsed.value))
        return CellValue(
            value=parsed.value,
            raw=value.raw,
            status="read",
            confidence=value.provenance.confidence,
            source=src,
            unit=parsed.unit,
            note=parsed.note,
            needs_review=bool(reasons),
            **reasons_list(*reasons),
            ocr=value.ocr,
        )
    if parsed.status == "blank":
        return CellValue(
            value=None, raw=value.raw, status="blank", source=src, confidence=value.provenance.confidence, ocr=value.ocr
        )
    if parsed.status == "not_applicable":
        scanned = value.provenance.origin == Origin.OCR  # a '/' read on a scan may be a stroke of a lost digit
        return CellValue(
            value=None,
            raw=value.raw,
            status="not_applicable",
            source=src,
            confidence=value.provenance.confidence if scanned else 1.0,
            needs_review=scanned,
            **reasons_list(*([reason("scanned_slash")] if scanned else [])),
            ocr=value.ocr,
        )
    return CellValue(
        value=None,
        raw=value.raw,
        status="unparseable",
        source=src,
        confidence=0.0,
        needs_review=True,
        **reasons_list(reason("not_a_number")),
    )


def absent_cell(why: ReasonCode | None = None) -> CellValue:
    return CellValue(status="absent", confidence=0.0, **reasons_list(*([why] if why else [])))


def inferred_cell(
    value: int | float, raw: str, source: CellSource | None, why: ReasonCode, confidence: float
) -> CellValue:
    """A cell whose value the rules or the layout imply rather than the document prints plainly: reviewed."""
    return CellValue(
        value=value,
        raw=raw,
        status="inferred",
        confidence=confidence,
        source=source,
        inferred_by=english(why.code, **why.params),
        needs_review=True,
        **reasons_list(why),
    )


@dataclass
class Target:
    """An expected row (schema id) and the labels it may be printed with."""

    id: str
    labels: list[str]
    optional: bool = False  # printed only in some reports: matched by its label, never by position


@dataclass
class RowRead:
    """What was read for one row of the format, kept for the reviewer (``service.reconcile.start``): the printed
    row matched to it, or (``matched`` False) the rows read without a label of theirs where it belongs."""

    key: str  # t3.granted, t2.art20_1.regulations, t4
    cells: list[str]  # the row's cells left to right
    rows: list[Row]
    matched: bool = True


@dataclass
class Alignment:
    matched: dict[str, Row] = field(default_factory=dict)  # target id -> row
    scores: dict[str, float] = field(default_factory=dict)
    unmatched: list[Row] = field(default_factory=list)
    # target not matched -> the unmatched rows with values printed between its matched neighbours
    orphans: dict[str, list[Row]] = field(default_factory=dict)
    disagreements: dict[str, ReasonCode] = field(default_factory=dict)  # target id -> what the two readers said
    # target id -> why its row was placed by position only, ambiguously (rows without labels between two
    # labelled anchors, fewer or more of them than the format's rows there)
    by_position: dict[str, ReasonCode] = field(default_factory=dict)
    # target id -> the other rows it could be, had the rows been placed otherwise (for alternatives)
    rivals: dict[str, list[Row]] = field(default_factory=dict)


def tag_probability(row: Row, label_id: str) -> float | None:
    """The classifier's probability that the row's leaf label is ``label_id`` (None: no prediction)."""
    if row.tag is None:
        return None
    return dict(row.tag.top).get(label_id, 0.0)


def label_score(
    row: Row, labels: list[str], label_id: str, *, leaf_only: bool = False
) -> tuple[float, float, float | None]:
    """(combined, matcher, classifier) scores of a printed row against one expected label.

    The classifier reads the label in its context (and through OCR errors); the rule-based matcher compares
    wording. The better of the two counts, so either can find a row the other misses; where they disagree on
    the winner, the assembler lowers the confidence of the row's cells (``disagreement``)."""
    matcher = best_similarity([row.leaf] if leaf_only else row.labels, labels) if row.labels else 0.0
    classifier = tag_probability(row, label_id)
    return max(matcher, classifier or 0.0), matcher, classifier


def disagreement(row: Row, label_id: str, matcher_best: str | None) -> ReasonCode | None:
    """The reason when the classifier's or the matcher's own best reading of a row is not ``label_id``."""
    tag = row.tag
    if tag is None:
        return None
    classifier = tag.label != label_id
    matcher = matcher_best is not None and matcher_best != label_id
    if classifier and matcher:
        return reason(
            "label_read_differently_both", classifier=tag.label, confidence=tag.confidence, matcher=str(matcher_best)
        )
    if classifier:
        return reason("label_read_differently_classifier", classifier=tag.label, confidence=tag.confidence)
    if matcher:
        return reason("label_read_differently_matcher", matcher=str(matcher_best))
    return None


def align(rows: list[Row], targets: list[Target], displaced: set[int] | None = None, prefix: str = "") -> Alignment:
    """Monotone alignment of printed value rows to expected rows, maximising label similarity.

    Rows keep their printed order and so do targets; a row without a label (or with a
    displaced label) can fill a gap between labelled neighbours. ``prefix`` turns a target id into
    the classifier's label id (``t3.`` + row id).
    """
    displaced = displaced or set()
    n, m = len(rows), len(targets)
    neg = float("-inf")
    score = [[neg] * m for _ in range(n)]
    matcher_best: list[str | None] = [None] * n
    for i, row in enumerate(rows):
        best_m = 0.0
        for j, t in enumerate(targets):
            s, sm, _ = label_score(row, t.labels, prefix + t.id) if row.labels else (0.0, 0.0, None)
            if sm > best_m and sm >= MIN_SCORE:
                best_m, matcher_best[i] = sm, prefix + t.id
            if not row.labels:
                if t.optional:
                    continue
                s = UNLABELED_SCORE
            elif id(row) in displaced:
                s = max(s, UNLABELED_SCORE)
            elif s < MIN_SCORE:
                continue
            score[i][j] = s
    # dp[i][j]: best total using rows[:i] and targets[:j]
    dp = [[0.0] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int, bool]]] = [[(0, 0, False)] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 and j == 0:
                continue
            best, arg = neg, (0, 0, False)
            if i > 0 and dp[i - 1][j] > best:
                best, arg = dp[i - 1][j], (i - 1, j, False)
            if j > 0 and dp[i][j - 1] > best:
                best, arg = dp[i][j - 1], (i, j - 1, False)
            if i > 0 and j > 0 and score[i - 1][j - 1] > neg:
                cand = dp[i - 1][j - 1] + score[i - 1][j - 1]
                if cand > best + 1e-9:
                    best, arg = cand, (i - 1, j - 1, True)
            dp[i][j], back[i][j] = best, arg
    out = Alignment()
    i, j = n, m
    used: set[int] = set()
    while i > 0 or j > 0:
        pi, pj, matched = back[i][j]
        if matched:
            tid = targets[pj].id
            out.matched[tid] = rows[pi]
            out.scores[tid] = score[pi][pj]
            if (msg := disagreement(rows[pi], prefix + tid, matcher_best[pi])) is not None:
                out.disagreements[tid] = msg
            used.add(pi)
        i, j = pi, pj
    out.unmatched = [r for k, r in enumerate(rows) if k not in used]
    _positional_gaps(out, rows, targets, displaced)
    _orphans(out, rows, targets)
    return out


def _orphans(out: Alignment, rows: list[Row], targets: list[Target]) -> None:
    """For each target no row matched: the unmatched rows with values printed between the rows of its matched
    neighbours (a row whose label was lost or misread is read, just not placed)."""
    where = {id(r): k for k, r in enumerate(rows)}
    at = {t.id: where[id(out.matched[t.id])] for t in targets if t.id in out.matched}
    loose = [(where[id(r)], r) for r in out.unmatched if r.filled_values()]
    if not loose:
        return
    for j, t in enumerate(targets):
        if t.id in out.matched:
            continue
        before = max((at[u.id] for u in targets[:j] if u.id in at), default=-1)
        after = min((at[u.id] for u in targets[j + 1 :] if u.id in at), default=len(rows))
        found = [r for k, r in loose if before < k < after]
        if found:
            out.orphans[t.id] = found


def _positional_gaps(out: Alignment, rows: list[Row], targets: list[Target], displaced: set[int]) -> None:
    """Rows placed by position only (no label of their own) are certain where they fill a gap between two
    labelled anchors exactly: as many such rows as the format has rows there. Otherwise (a scattered table
    whose value rows lost some rows or gained some) which row is which is a guess: say so per target."""
    index = {id(r): k for k, r in enumerate(rows)}
    matched = sorted(
        ((index[id(r)], targets.index(next(t for t in targets if t.id == tid)), tid) for tid, r in out.matched.items())
    )
    anchors = (
        [(-1, -1)]
        + [(i, j) for i, j, tid in matched if rows[i].labels and id(rows[i]) not in displaced]
        + [(len(rows), len(targets))]
    )

    def by_position(k: int) -> bool:
        return not rows[k].labels or id(rows[k]) in displaced

    for (i0, j0), (i1, j1) in zip(anchors, anchors[1:]):
        loose = [k for k in range(i0 + 1, i1) if by_position(k) and rows[k].filled_values()]
        slots = [t for t in targets[j0 + 1 : j1] if not t.optional]
        placed = [tid for i, j, tid in matched if i0 < i < i1 and by_position(i)]
        if placed and len(loose) != len(slots):
            why = reason("row_placed_by_order", loose=len(loose), slots=len(slots))
            out.by_position.update(dict.fromkeys(placed, why))
            for tid in placed:
                out.rivals[tid] = [rows[k] for k in loose if rows[k] is not out.matched[tid]]


def runs_apart(rows: list[Row], loose: Callable[[Row], bool]) -> Iterator[tuple[list[Row], list[Row]]]:
    """The rows in order, cut where a table's labels and values may have been printed apart: a run of label lines
    (labels, no values) with the run of value rows without labels (``loose``) after it; any other row comes
    alone, as ``([], [row])``. Either list of a pair may be empty."""
    k = 0
    while k < len(rows):
        lines: list[Row] = []
        while k < len(rows) and rows[k].labels and not rows[k].values:
            lines.append(rows[k])
            k += 1
        values: list[Row] = []
        while k < len(rows) and not rows[k].labels and loose(rows[k]):
            values.append(rows[k])
            k += 1
        if not lines and not values:
            values.append(rows[k])
            k += 1
        yield lines, values


def mark_disagreement(cells: list[CellValue], said: ReasonCode, score: float) -> None:
    """Cells of a row whose label the two readers read differently: confidence at most the mapping score."""
    for cell in cells:
        cell.confidence = min(cell.confidence, round(score, 3))
        if score < REVIEW_MAPPING_SCORE and add_code(cell, said):
            cell.needs_review = True


def deviation(dev_id: str, message: str, cells: list[str] | None = None, severity: str = "warning") -> Deviation:
    return Deviation(id=dev_id, message=message, cells=cells or [], severity=severity)


def unmapped_row(what: str, row: Row, why: str) -> Deviation:
    """A printed row with values that maps to no row of the format (``what``: "table 3 row", …)."""
    values = " ".join(v.raw for v in row.filled_values())
    return deviation(
        "xxgk_unmapped_row", f"{what} {row.text!r} with values {values} {why}; not mapped", severity="warning"
    )


def unexpected_count(cells: dict[str, CellValue], what: str, row: Row, ids: list[str], n: int) -> Deviation:
    """A row printing ``n`` values where its cells ``ids`` are expected: every cell absent, and the finding."""
    for cid in ids:
        cells[cid] = absent_cell(reason("row_value_count", n=n, expected=len(ids)))
    return deviation(
        "xxgk_unexpected_value_count",
        f"{what} {row.text!r} prints {n} values where {len(ids)} are expected; not mapped",
        ids,
        severity="error",
    )


def joined_row(parts: list[Row], values: Row | None = None) -> Row:
    """One row from label lines printed apart (a wrapped label, or labels printed apart from their values): the
    lines' text as its label, the classifier's reading of the last line, and the values of ``values`` (none
    without it: a probe to name the label)."""
    return Row(
        labels=["".join(p.text for p in parts)],
        values=values.values if values is not None else [],
        provenance=values.provenance if values is not None else parts[0].provenance,
        run_together=values.run_together if values is not None else False,
        block_index=values.block_index if values is not None else 0,
        label_keys=parts[-1].label_keys,
        tag=parts[-1].tag,
        label_tags=parts[-1].label_tags if values is not None else [],
    )
