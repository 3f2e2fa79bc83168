"""The layout training recipe end to end on a few steps: the exported ONNX loads in the service's runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from service.pages.layout_model import CHANNELS, LayoutModel
from training.layout.data import scansim


@pytest.mark.skipif(not scansim().cjk_font_installed(), reason="needs the Noto CJK fonts (fonts-noto-cjk)")
def test_quick_training_run_exports_a_model_the_service_loads(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("weasyprint")
    from training.layout.model import LayoutNet
    from training.layout.train import main

    main(
        [
            "--docs",
            "1",
            "--variants",
            "1",
            "--steps",
            "2",
            "--batch",
            "2",
            "--crop",
            "128",
            "--cache",
            str(tmp_path / "cache"),
            "--out",
            str(tmp_path / "model"),
        ]
    )
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["channels"] == list(CHANNELS)
    assert config["training"]["steps_done"] == 2
    model = LayoutModel(tmp_path / "model" / "model.onnx")
    maps = model.predict(np.full((400, 300), 255, np.uint8), 200)
    assert maps.table.shape == (100, 75)
    # the network itself: one logit map per channel at the input's size
    assert LayoutNet()(torch.zeros(1, 1, 64, 96)).shape == (1, len(CHANNELS), 64, 96)
