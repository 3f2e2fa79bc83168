"""The scan families of the robustness suite (issue 15): a dev report printed and scanned by
``datasets/scansim.py`` with one of its real-world presets, a fixed seed, scored against the unchanged
``datasets/dev-reports/<id>/cells.json`` like every other variant.

One or two reports per family (``PLAN``) so the whole suite stays a few minutes; the reports are spread over
the families so every dev report is scanned by some family. The variant is an image-only PDF made on the fly
(nothing committed); its rendering is the report's base rendering (``generate.BASE``: the source scansim
prints, ``scansim.source_for``).

    from datasets.robustness.scans import SCAN_FAMILIES, make_scan
    path = make_scan("r001", "scan_phone", seed=0, folder=Path("/tmp/v"))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datasets import scansim
from datasets.robustness.generate import BASE

PLAN: dict[str, tuple[str, ...]] = {  # family -> the reports it scans
    "scan_phone": ("r001", "r005"),
    "scan_photocopy": ("r005", "r013"),
    "scan_seal": ("r001", "r003"),
    "scan_curl": ("seed", "r010"),
    "scan_unruled": ("r005", "r013"),
    "scan_lowres": ("r003",),
}
SCAN_FAMILIES = tuple(PLAN)


def preset(family: str) -> scansim.Preset:
    """The scansim preset of a scan family (``scan_phone`` -> ``phone``)."""
    if family not in PLAN:
        raise ValueError(f"unknown scan family {family!r}")
    return scansim.PRESETS[family.removeprefix("scan_")]


@dataclass(frozen=True)
class ScanVariant:
    report: str
    rendering: str  # the rendering name of the report's base source (generate.RENDERINGS)
    family: str
    seed: int
    path: Path
    pages: int
    seconds: float  # to make it

    @property
    def name(self) -> str:
        return self.path.name


def variant_name(report: str, family: str, seed: int) -> str:
    return f"{BASE[report]}__{family}__s{seed}.pdf"


def make_scan(report: str, family: str, seed: int, folder: Path) -> ScanVariant:
    """Print and scan ``report`` with the family's preset and ``seed`` into ``folder``."""
    made = scansim.scan(scansim.source_for(report), folder / variant_name(report, family, seed), preset(family), seed)
    return ScanVariant(report, BASE[report], family, seed, made.path, made.pages, made.seconds)


def planned(reports: list[str] | None) -> list[tuple[str, str]]:
    """(family, report) pairs of the plan, only ``reports`` (ids or rendering names) where given."""
    return [
        (family, report)
        for family, ids in PLAN.items()
        for report in ids
        if reports is None or report in reports or BASE[report] in reports
    ]
