"""Default OCR engine: RapidOCR 3.x on ONNX Runtime, with the PP-OCR models shipped inside its wheel.

- Detection (``recognize_lines``, ``detect_lines``) is RapidOCR's DB text detector, run with explicit
  model paths so that nothing is ever downloaded; ``detect_lines`` can run it on the page reduced (the
  page reader detects at 100 dpi: a quarter of the pixels of a 200-dpi page, the same lines).
- Recognition (both methods) runs the wheel's PP-OCR recognition model directly through ONNX Runtime,
  read and decoded as ``service.ocr.recognizer`` does for both engines: every character gets its exact
  probability, its position and its top-k alternatives (RapidOCR itself only returns the best path).

Sessions use ``threads`` intra-op threads (default 1: run several pages side by side instead).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from service.ocr.base import OcrUnavailable
from service.ocr.recognizer import TOP_K, CtcEngine, Quad, Recognizer, bgr

INSTALL = "pip install rapidocr onnxruntime"
DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"


def models_dir() -> Path:
    """Where the rapidocr wheel keeps its models; OcrUnavailable when rapidocr or onnxruntime is missing."""
    try:
        import onnxruntime  # noqa: F401
        import rapidocr
    except ImportError as exc:
        raise OcrUnavailable("rapidocr", f"cannot import {exc.name}", INSTALL) from exc
    return Path(rapidocr.__file__).resolve().parent / "models"


def model_path(name: str) -> Path:
    """A model file of the rapidocr wheel: the named one, else the wheel's one model of the same task
    (a later 3.x release may bundle a newer PP-OCR version under another name)."""
    folder = models_dir()
    path = folder / name
    task = next((t for t in ("_det_", "_rec_", "_cls_") if t in name), None)
    if not path.is_file() and task is not None:
        candidates = sorted(folder.glob(f"*{task}*.onnx"))
        path = candidates[0] if len(candidates) == 1 else path
    if not path.is_file():
        raise OcrUnavailable(
            "rapidocr",
            f"model file {name} is missing from {path.parent} (rapidocr 3.x ships it in its wheel; "
            "models are never downloaded at run time)",
            "pip install --force-reinstall 'rapidocr>=3.10,<4' onnxruntime",
        )
    return path


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def onnx_recognizer(path: Path, threads: int = 1, top_k: int = TOP_K) -> Recognizer:
    """The PP-OCR recognition model of the wheel on ONNX Runtime; its character list is in the model's metadata."""
    session = _session(path, threads)
    meta = session.get_modelmeta().custom_metadata_map
    if "character" not in meta:
        raise OcrUnavailable("rapidocr", f"{path.name} carries no character list", INSTALL)
    # Class 0 is the CTC blank (""); the model's list follows, then the space class.
    classes = ["", *meta["character"].splitlines(), " "]
    return Recognizer(session, classes, session.get_inputs()[0].name, top_k)


class RapidOcrEngine(CtcEngine):
    """RapidOCR detection + PP-OCR recognition decoded here."""

    name = "rapidocr"

    def __init__(self, threads: int = 1, top_k: int = TOP_K):
        self.threads = threads
        self.recognizer = onnx_recognizer(model_path(REC_MODEL), threads, top_k)
        self._detector: Any = None

    def detect(self, image: np.ndarray) -> tuple[list[Quad], list[float]]:
        out = self.detector(bgr(image), use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return [], []
        scores = list(getattr(out, "scores", None) or [1.0] * len(boxes))
        return [np.asarray(b, dtype=np.float32) for b in boxes], [float(s) for s in scores]

    @property
    def detector(self) -> Any:
        """RapidOCR's pipeline, used for detection only; every model given by path (no download)."""
        if self._detector is None:
            from rapidocr import RapidOCR

            self._detector = RapidOCR(params=self._rapidocr_params())
        return self._detector

    def _rapidocr_params(self) -> dict[str, Any]:
        return {
            "Global.log_level": "error",  # not "The text detection result is empty" for blank pages
            "Global.use_cls": False,
            "Global.model_root_dir": str(models_dir()),
            "Det.model_path": str(model_path(DET_MODEL)),
            "Cls.model_path": str(model_path(CLS_MODEL)),
            "Rec.model_path": str(model_path(REC_MODEL)),
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
