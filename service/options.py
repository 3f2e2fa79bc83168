"""PipelineOptions: every setting of the extraction pipeline, loaded once and passed down.

The values are stated once, in ``configs/pipeline.yaml``; an environment variable ``XXGK_<SECTION>_<KEY>``
(``XXGK_OCR_ENGINE=paddleocr``, ``XXGK_CLASSIFIER_ENABLED=false``) overrides one. The entry points (``xxgk``
commands, the service, ``xxgk batch``) call :func:`load_options` once and hand the object to
``service.pipeline.extract``, which passes it to each stage; worker processes receive it pickled. No stage
reads the file or the environment itself."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from service.resources import read_yaml, resolve

PIPELINE_FILE = "configs/pipeline.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OcrOptions(_Section):
    engine: str  # rapidocr | paddleocr
    dpi: int  # rendering resolution of image-only PDF pages
    threads: int  # inference threads
    min_text_chars_per_page: int  # fewer text-layer characters over a page-sized image -> the page is OCR'd


class LimitsOptions(_Section):
    """What one document may ask of a worker, checked before the work starts (a file past one fails at once with
    the limit's name and value, never retried)."""

    max_file_mb: int  # the file itself
    max_pages: int  # pages of a PDF, frames of an image file (TIFF)
    max_page_pixels: int  # a page's pixels at the OCR dpi (its size in points x dpi / 72), an image frame's pixels
    max_text_chars: int  # characters of a text, Markdown or HTML file
    max_docx_unzipped_mb: int  # a DOCX's parts once unzipped, together
    max_docx_paragraphs: int  # paragraphs of a DOCX's main part
    max_job_memory_mb: int  # a worker's resident memory while it runs one job (a watchdog ends the job past it)
    job_seconds: int  # a job's wall-clock time: this much ...
    job_seconds_per_page: int  # ... plus this much for each page once the file's pages are known


class NormaliseOptions(_Section):
    """The steps that make a scanned page flat before it is read (service/pages/normalize_image.py), each on or off
    (all on by default; off only to measure what each step buys)."""

    colour: bool  # colour pages read by the channel that keeps black ink and drops red
    seals: bool  # red seals and stamps taken out by colour (black print under them kept)
    perspective: bool  # a photographed page's perspective undone (from the paper's edge or the printed lines)
    illumination: bool  # uneven light divided out
    dewarp: bool  # a curled page's bowed lines straightened


class LayoutOptions(_Section):
    model: Literal["off", "fallback", "always"]  # when the layout model runs on a scanned page
    model_dir: str  # models/layout (shipped), or an absolute path
    threads: int

    @property
    def model_path(self) -> Path:
        return resolve(self.model_dir) / "model.onnx"


class ClassifierOptions(_Section):
    enabled: bool
    engine: str  # onnx-int8 | onnx | torch
    model_dir: str  # models/… (shipped), or an absolute path
    threads: int
    facts: bool
    min_fact_confidence: float

    @property
    def model_path(self) -> Path:
        return resolve(self.model_dir)


class ReconcileOptions(_Section):
    enabled: bool
    rule_cost: float
    heuristic_rule_cost: float
    doubt: float
    review_below: float
    unchecked_min_reading: float
    sealed_min_reading: float
    review_repairs: bool
    max_repairs: int
    prior_doubled: float
    prior_repeated: float
    prior_missed_edge: float
    prior_split: float
    calibration_file: str

    @property
    def calibration_path(self) -> Path:
        return resolve(self.calibration_file)


class ClusterOptions(_Section):
    """Where jobs run: worker processes of this machine, or the actors of a Ray cluster (``xxgk batch --ray``, the
    service with ``XXGK_ENGINE=ray``), and how each actor is sized."""

    engine: Literal["local", "ray"]  # the service's jobs: local worker processes, or the Ray cluster's actors
    address: str  # the Ray cluster (HOST:PORT, ray://…); empty: RAY_ADDRESS, else a Ray started for the run
    actors: int  # actors of the pool; 0: as many as the cluster's CPUs allow, spare_cpus left free
    cpus_per_actor: float
    memory_per_actor_mb: int  # reserved per actor on its node (>= limits.max_job_memory_mb)
    spare_cpus: float  # CPUs left to the driver and Ray's own work when actors = 0
    recycle_rss_mb: int  # an actor holding more than this after a document restarts before its next one (0: never)
    fan_out_pages: (
        int  # a file with at least this many pages to read by OCR is read a page per task, then joined (0: never)
    )


class BlobsOptions(_Section):
    """How long the S3 blob store is waited for (service/store/blobs.py): an unreachable or stalled endpoint is an
    error after about ``attempts`` x the timeout, never a hang."""

    connect_timeout_s: float  # to open a connection to the endpoint
    request_timeout_s: float  # a request receiving less than 1 byte/s for this long ends
    attempts: int  # tries per request (the AWS standard retry strategy, with backoff)


class PipelineOptions(_Section):
    limits: LimitsOptions
    cluster: ClusterOptions
    blobs: BlobsOptions
    ocr: OcrOptions
    normalise: NormaliseOptions
    layout: LayoutOptions
    classifier: ClassifierOptions
    reconcile: ReconcileOptions

    def with_changes(self, **sections: Mapping[str, Any]) -> PipelineOptions:
        """A copy with some values changed: ``opts.with_changes(ocr={"engine": "paddleocr"})``."""
        data = self.model_dump()
        for name, values in sections.items():
            if name not in data:
                raise ValueError(f"unknown options section {name!r}; known: {', '.join(data)}")
            data[name].update(values)
        return PipelineOptions.model_validate(data)


def load_options(path: str | Path = PIPELINE_FILE, environ: Mapping[str, str] | None = None) -> PipelineOptions:
    """The options of ``configs/pipeline.yaml`` (or ``path``) with the environment's ``XXGK_<SECTION>_<KEY>``
    overrides (``environ`` defaults to ``os.environ``)."""
    environ = os.environ if environ is None else environ
    data = read_yaml(path) or {}
    sections: dict[str, dict[str, Any]] = {}
    for name, field in PipelineOptions.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, _Section)
        values = dict(data.get(name) or {})
        for key in model.model_fields:
            env = environ.get(f"XXGK_{name.upper()}_{key.upper()}")
            if env is not None:
                values[key] = env
        sections[name] = values
    return PipelineOptions.model_validate(sections)
