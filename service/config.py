"""Pipeline settings from configs/pipeline.yaml, overridable by XXGK_<SECTION>_<KEY> environment variables."""
from __future__ import annotations

import os
from functools import lru_cache

import yaml
from pydantic import BaseModel

from service.schema import CONFIG_DIR


class OcrSettings(BaseModel):
    engine: str = "rapidocr"
    dpi: int = 200
    threads: int = 2
    min_text_chars_per_page: int = 20


class ClassifierSettings(BaseModel):
    enabled: bool = True
    engine: str = "onnx-int8"
    model_dir: str = "models/tagger"
    threads: int = 1
    facts: bool = True
    min_fact_confidence: float = 0.5


class ReconcileSettings(BaseModel):
    enabled: bool = True
    rule_cost: float = 7.0
    heuristic_rule_cost: float = 3.5
    doubt: float = 0.6
    review_below: float = 0.9
    unchecked_min_reading: float = 0.975
    review_repairs: bool = True
    max_repairs: int = 4
    prior_doubled: float = 0.004
    prior_repeated: float = 0.004
    prior_missed_edge: float = 0.0004
    prior_split: float = 0.002
    calibration_file: str = "configs/reconcile/calibration.yaml"


class Settings(BaseModel):
    ocr: OcrSettings = OcrSettings()
    classifier: ClassifierSettings = ClassifierSettings()
    reconcile: ReconcileSettings = ReconcileSettings()


@lru_cache(maxsize=1)
def settings() -> Settings:
    data = yaml.safe_load((CONFIG_DIR / "pipeline.yaml").read_text(encoding="utf-8")) or {}
    sections = {}
    for name, model in (("ocr", OcrSettings), ("classifier", ClassifierSettings), ("reconcile", ReconcileSettings)):
        values = dict(data.get(name, {}))
        for key in model.model_fields:
            env = os.environ.get(f"XXGK_{name.upper()}_{key.upper()}")
            if env is not None:
                values[key] = env
        sections[name] = model(**values)
    return Settings(**sections)
