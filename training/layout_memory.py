"""The agency layout memory learned from approved reviews (issue 18; applied by service/reconcile/memory.py).

Input: one review record per approved report (``service.reconcile.memory.review_record``: agency, year, format,
file, deviations, and per flagged cell its codes, the deviation explaining it and whether the reviewer confirmed
it unchanged): the ``review`` of each example of an ``xxgk export --training`` folder.

Output: ``layouts.json`` in the new model folder — per agency (its key: NFKC, no whitespace, casefolded), per
``dev_*`` deviation, the absent cells a reviewer confirmed under it, each with its explaining codes and the reports
that confirmed it (sha256, year, report id) as evidence:

    {"format": "xxgk-layouts/1",
     "agencies": {"洪泽区人民政府": {"names": ["洪泽区人民政府"], "layouts": {"dev_2021_single_other_processing": {
        "report_format": "2021",
        "cells": {"t3.other_processing_other.total": {"codes": ["single_other_processing"],
                  "confirmed_in": [{"sha256": "…", "year": 2023, "report_id": "…"}]}}}}}}}

A cell corrected by the reviewer in any report of the agency under that deviation is not learned (the reviewer
disagreed with the machine there once: it stays in the queue).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from service.reconcile.memory import LAYOUTS_FILE, LAYOUTS_FORMAT, LayoutMemory, agency_key


def review_records(examples: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The review records of an export's examples (each with its report id; an example without one teaches
    nothing)."""
    return [{"report_id": e.get("report_id"), **e["review"]} for e in examples if e.get("review")]


def learn(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The memory (``layouts.json``'s content) of the review records of approved reports."""
    agencies: dict[str, dict[str, Any]] = {}
    corrected: set[tuple[str, str, str]] = set()  # (agency, deviation, cell) a reviewer changed somewhere
    for rec in records:
        name = rec.get("agency")
        key = agency_key(name) if name else ""
        if not key:
            continue  # a report without its agency teaches nothing a next report could be matched on
        devs = {d["id"] for d in rec.get("deviations") or []}
        for cid, flag in sorted((rec.get("flags") or {}).items()):
            dev = flag.get("deviation")
            if flag.get("status") == "corrected":
                # the deviation the cell was under is not kept once corrected: not learned under any of them
                corrected.update((key, d, cid) for d in devs)
                continue
            if not flag.get("confirmed") or not flag.get("learnable") or dev not in devs:
                continue
            entry = agencies.setdefault(key, {"names": [], "layouts": {}})
            if name not in entry["names"]:
                entry["names"].append(name)
            layout = entry["layouts"].setdefault(dev, {"report_format": rec.get("report_format"), "cells": {}})
            cell = layout["cells"].setdefault(cid, {"codes": [], "confirmed_in": []})
            cell["codes"] = sorted(set(cell["codes"]) | set(flag.get("explaining") or []))
            evidence = {"sha256": rec.get("sha256"), "year": rec.get("year"), "report_id": rec.get("report_id")}
            if evidence not in cell["confirmed_in"]:
                cell["confirmed_in"].append(evidence)
    for key, dev, cid in corrected:
        layout = agencies.get(key, {}).get("layouts", {}).get(dev)
        if layout is not None:
            layout["cells"].pop(cid, None)
    for entry in agencies.values():
        entry["layouts"] = {d: lay for d, lay in sorted(entry["layouts"].items()) if lay["cells"]}
    memory = {
        "format": LAYOUTS_FORMAT,
        "agencies": {k: v for k, v in sorted(agencies.items()) if v["layouts"]},
    }
    LayoutMemory.of(memory)  # what the service will read: it must load
    return memory


def summary(memory: dict[str, Any]) -> dict[str, int]:
    """Agencies, layouts (agency × deviation) and cells of a memory."""
    layouts = [lay for a in memory["agencies"].values() for lay in a["layouts"].values()]
    return {
        "agencies": len(memory["agencies"]),
        "layouts": len(layouts),
        "cells": sum(len(lay["cells"]) for lay in layouts),
    }


def write_layouts(out: Path, memory: dict[str, Any]) -> Path:
    """``out``/layouts.json."""
    path = out / LAYOUTS_FILE
    path.write_text(json.dumps(memory, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
