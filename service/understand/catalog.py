"""The catalog of narrative facts (configs/classifier/facts.yaml): ids, cue words, units, cells per format."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from service.resources import read_yaml

FACTS_FILE = "configs/classifier/facts.yaml"


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, Any]]:
    data = read_yaml(FACTS_FILE) or {}
    return {f["id"]: f for f in data.get("facts", [])}
