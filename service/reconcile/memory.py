"""An agency's layout memory (issue 18): what reviewers confirmed in approved reports, applied at read time.

A scan flags every expected cell it does not find ("not found in the scan"), and a cell a deviation of the source
explains (a 2021 report printing （六）其他处理 as one row, a row without its 其他 column, a table 4 without its last
总计) is flagged with that deviation: the reviewer confirms the same absence in every report of an agency that
keeps its layout. Once a reviewer has approved such a report with the cell unchanged, the next read of the same
agency's report that shows the SAME deviation lets the cell off the queue — only when all of these hold:

* the report's agency has a memory entry (agencies matched as the store matches them: NFKC, no whitespace,
  casefolded — :func:`agency_key`);
* the same ``dev_*`` deviation is detected again in this read, and it explains the cell (:func:`explaining_deviation`);
* the cell is ``absent``: no number is asserted (read, repaired or inferred cells always stay flagged);
* the cell was confirmed absent under that deviation in an approved report of that agency;
* its codes are only the deviation's own explaining codes (:data:`EXPLAINING`, as confirmed then) plus
  ``not_found_in_scan``: ``source_rule_failure``, ``low_reading*``, ``streak`` and every other reason keep it flagged.

Such a cell gets ``needs_review`` False and the reason ``layout_confirmed`` (the year of the latest confirming
report and how many confirmed it) appended after its other reasons, which stay.

The memory is learned by ``xxgk train --from`` (training/layout_memory.py) from the approved reports' records
(:func:`review_record`, one per report in the training export) and written into the new model folder as
``layouts.json``: it is read from the classifier's model folder (``classifier.model_dir``), so a result read with
it carries that model's id in ``pipeline_version``; the shipped model has none and nothing changes.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from service.messages import add_reason, codes_of
from service.options import ClassifierOptions
from service.result import CellValue, Deviation, Result

LAYOUTS_FILE = "layouts.json"  # in a model folder, beside xxgk.json
LAYOUTS_FORMAT = "xxgk-layouts/1"
# the codes with which the assembler explains a cell the source's layout does not print
EXPLAINING = frozenset(
    {"single_other_processing", "column_not_printed_in_row", "column_not_printed_in_table", "t4_last_total_missing"}
)
# an explaining code whose deviation does not list the cells it explains (service/assemble/t3.py: the sub-items of
# a （六）其他处理 printed as one row are absent, the deviation lists the row it printed instead)
EXPLAINED_BY = {"single_other_processing": "dev_2021_single_other_processing"}
DEVIATION = "deviation"  # the pipeline's mark of a cell a deviation explains (params: id)
NOT_FOUND = "not_found_in_scan"  # a scan's flag of every cell it did not find: let off with the others
CONFIRMED = "layout_confirmed"


def agency_key(name: str) -> str:
    """An agency's name as the memory matches it: NFKC, no whitespace, casefolded (as the store's
    ``crud.agency_key``, which this layer cannot import)."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def is_absent(cell: CellValue) -> bool:
    """No number asserted: not read, not inferred into the value (an ``inferred_value`` beside it is a hint)."""
    return cell.status == "absent" and cell.value is None


def explaining_deviation(cell_id: str, cell: CellValue, deviations: Iterable[Deviation]) -> str | None:
    """The ``dev_*`` deviation of this read that explains ``cell_id``: the one its ``deviation`` reason names, the
    one listing it, or the one its explaining code belongs to (:data:`EXPLAINED_BY`); None when none does."""
    devs = [d for d in deviations if d.id.startswith("dev_")]
    ids = {d.id for d in devs}
    codes = [c for c in codes_of(cell) if c is not None]
    for rc in codes:
        if rc.code == DEVIATION and rc.params.get("id") in ids:
            return str(rc.params["id"])
    for d in devs:
        if cell_id in d.cells:
            return d.id
    for rc in codes:
        dev = EXPLAINED_BY.get(rc.code)
        if dev in ids:
            return dev
    return None


def explaining_codes(cell: CellValue, deviation: str) -> frozenset[str] | None:
    """The cell's codes that explain its absence (:data:`EXPLAINING`), its ``deviation`` mark (naming
    ``deviation``) and ``not_found_in_scan`` left out; None when it has any other reason (a reason without a code,
    a mark of another deviation, a reading or rule doubt): such a cell is neither learned nor let off."""
    out: set[str] = set()
    codes = codes_of(cell)
    if not codes:
        return None
    for rc in codes:
        if rc is None:
            return None
        if rc.code == DEVIATION:
            if rc.params.get("id") != deviation:
                return None
        elif rc.code != NOT_FOUND:
            if rc.code not in EXPLAINING:
                return None
            out.add(rc.code)
    return frozenset(out)


# ---------------------------------------------------------------- what an approved report teaches


def review_record(result: Result) -> dict[str, Any]:
    """What an APPROVED report's newest result tells the memory (the ``review`` of its ``xxgk export --training``
    example): its agency, year, format, file, deviations, and per
    flagged or corrected cell its status, codes, the deviation explaining it and whether the reviewer confirmed it
    unchanged (approved with the cell at version 1, as the machine read it)."""
    flags: dict[str, dict[str, Any]] = {}
    for cid, cell in result.cells.items():
        if not cell.needs_review and cell.version == 1:
            continue
        dev = explaining_deviation(cid, cell, result.deviations) if is_absent(cell) else None
        explaining = explaining_codes(cell, dev) if dev is not None else None
        flags[cid] = {
            "status": cell.status,
            "codes": [rc.code if rc is not None else None for rc in codes_of(cell)],
            "confirmed": cell.needs_review and cell.version == 1,
            "deviation": dev,
            "explaining": sorted(explaining or []),
            "learnable": explaining is not None,  # absent, explained by ``deviation``, no other doubt
        }
    return {
        "agency": result.agency,
        "year": result.year,
        "report_format": result.format,
        "sha256": result.document.sha256,
        "deviations": [{"id": d.id, "cells": list(d.cells)} for d in result.deviations],
        "flags": flags,
    }


# ---------------------------------------------------------------- the memory at read time


@dataclass(frozen=True)
class Confirmed:
    """A cell confirmed absent under a deviation: its explaining codes then, the confirming reports' years."""

    codes: frozenset[str]
    years: tuple[int, ...]
    reports: int

    @property
    def latest(self) -> int | str:
        return max(self.years) if self.years else "?"


@dataclass(frozen=True)
class LayoutMemory:
    path: str
    # agency key -> deviation id -> cell id -> what confirmed it
    agencies: Mapping[str, Mapping[str, Mapping[str, Confirmed]]]

    @classmethod
    def of(cls, data: Mapping[str, Any], path: str = "") -> LayoutMemory:
        """From the content of a ``layouts.json`` (training/layout_memory.py writes it)."""
        if data.get("format") != LAYOUTS_FORMAT:
            raise ValueError(f"{path or 'layouts'}: format {data.get('format')!r}, expected {LAYOUTS_FORMAT}")
        agencies: dict[str, dict[str, dict[str, Confirmed]]] = {}
        for key, entry in (data.get("agencies") or {}).items():
            for dev, layout in (entry.get("layouts") or {}).items():
                for cid, c in (layout.get("cells") or {}).items():
                    seen = c.get("confirmed_in") or []
                    years = tuple(int(e["year"]) for e in seen if e.get("year") is not None)
                    agencies.setdefault(agency_key(key), {}).setdefault(dev, {})[cid] = Confirmed(
                        frozenset(c.get("codes") or []), years, len(seen)
                    )
        return cls(path, agencies)


@lru_cache(maxsize=8)
def load_memory(model_dir: str) -> LayoutMemory | None:
    """The layout memory of a model folder (its ``layouts.json``), read once per path; None when it has none."""
    file = Path(model_dir) / LAYOUTS_FILE
    if not file.exists():
        return None
    return LayoutMemory.of(json.loads(file.read_text(encoding="utf-8")), str(file))


def apply_memory(
    cells: Mapping[str, CellValue], agency: str | None, deviations: Iterable[Deviation], memory: LayoutMemory
) -> list[str]:
    """Let off the queue the flagged cells ``memory`` says a reviewer confirmed (module docstring: every condition);
    returns their ids. ``cells`` are changed in place."""
    layouts = memory.agencies.get(agency_key(agency)) if agency else None
    if not layouts:
        return []
    deviations = list(deviations)
    out = []
    for cid, cell in cells.items():
        if not cell.needs_review or not is_absent(cell):
            continue
        dev = explaining_deviation(cid, cell, deviations)
        known = layouts.get(dev, {}).get(cid) if dev is not None else None
        if dev is None or known is None:
            continue
        codes = explaining_codes(cell, dev)
        if codes is None or not codes <= known.codes:
            continue
        cell.needs_review = False
        add_reason(cell, CONFIRMED, unique=False, year=known.latest, count=known.reports)
        out.append(cid)
    return out


def let_off_confirmed(
    cells: Mapping[str, CellValue], agency: str | None, deviations: Iterable[Deviation], cfg: ClassifierOptions
) -> list[str]:
    """:func:`apply_memory` with the memory of the classifier's model folder (``cfg.model_dir``), when the
    classifier is on (its model id is then in ``pipeline_version``) and the folder has a ``layouts.json``."""
    memory = load_memory(str(cfg.model_path)) if cfg.enabled else None
    return apply_memory(cells, agency, deviations, memory) if memory is not None else []
