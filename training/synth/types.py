"""The training-example contract every generator returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from service.document import Document

Span = tuple[int, int, str]  # (start, end, label) into block.text, end exclusive
LabelKey = tuple[int, ...]  # (block,) or (block, row, col)
LabelValue = Union[str, list[Span]]


@dataclass(frozen=True)
class Fact:
    """A number stated in a narrative paragraph: its label id, value and character span."""

    id: str  # a table cell id (t3.new_received.total) or a text-only fact id (x.<name>)
    value: int | float | None
    block_index: int
    start: int
    end: int


@dataclass
class SynthDoc:
    """One labelled document.

    ``labels``:
      (block,)          -> whole-block label ("sec.s2") or, for a paragraph, a list of char spans
      (block, row, col) -> label of the table cell that starts at (row, col) of that block's grid
    ``truth`` (extra): the generated value of every schema cell id, as printed (None for a printed blank)
    ``meta`` (extra): format, year, agency, the layout variants drawn, the rule broken on purpose (or None)
    """

    document: Document
    labels: dict[LabelKey, LabelValue]
    facts: list[Fact] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
