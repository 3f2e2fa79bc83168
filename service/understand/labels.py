"""The classifier's label set (configs/classifier/labels.yaml) and its BIO tag inventory."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from service.resources import CONFIG_DIR, read_yaml

LABELS_FILE = CONFIG_DIR / "classifier" / "labels.yaml"

STRUCTURE_KINDS = {"heading", "t2_block", "t2_row", "t2_col", "t3_row", "t3_col", "t4_group", "t4_col", "header"}
FACT_KINDS = {"fact_cell", "fact_text"}


class LabelDef(BaseModel):
    id: str
    kind: str
    text: str = ""
    formats: list[str] = []


class LabelSet(BaseModel):
    labels: list[LabelDef]

    @property
    def ids(self) -> list[str]:
        return [lab.id for lab in self.labels]

    def kind(self, label_id: str) -> str:
        return self.by_id()[label_id].kind

    def by_id(self) -> dict[str, LabelDef]:
        return {lab.id: lab for lab in self.labels}

    def tags(self) -> list[str]:
        """BIO tags: O first, then B-/I- of every label in file order."""
        out = ["O"]
        for lab in self.labels:
            out += [f"B-{lab.id}", f"I-{lab.id}"]
        return out


@lru_cache(maxsize=4)
def load_label_set(path: str | Path = LABELS_FILE) -> LabelSet:
    data = read_yaml(path)
    return LabelSet(labels=[LabelDef(**d) for d in data["labels"]])
