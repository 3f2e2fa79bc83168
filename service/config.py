"""Pipeline settings from configs/pipeline.yaml, overridable by XXGK_OCR_<KEY> environment variables."""
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


class Settings(BaseModel):
    ocr: OcrSettings = OcrSettings()


@lru_cache(maxsize=1)
def settings() -> Settings:
    data = yaml.safe_load((CONFIG_DIR / "pipeline.yaml").read_text(encoding="utf-8")) or {}
    ocr = dict(data.get("ocr", {}))
    for key in OcrSettings.model_fields:
        env = os.environ.get(f"XXGK_OCR_{key.upper()}")
        if env is not None:
            ocr[key] = env
    return Settings(ocr=OcrSettings(**ocr))
