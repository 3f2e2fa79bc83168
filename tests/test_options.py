"""PipelineOptions (service/options.py): configs/pipeline.yaml + environment overrides, loaded once, passed down;
frozen, copied with changes, pickled for worker processes; an unknown key is an error, not ignored."""

from __future__ import annotations

import pickle

import pytest
import yaml
from pydantic import ValidationError

from service.options import PIPELINE_FILE, PipelineOptions, load_options
from service.resources import read_yaml, resolve


def test_the_shipped_yaml_states_every_value():
    data = read_yaml(PIPELINE_FILE)
    opts = load_options(environ={})
    assert opts.model_dump() == {name: data[name] for name in PipelineOptions.model_fields}
    assert opts.reconcile.prior_split == data["reconcile"]["prior_split"]  # one value, stated once
    assert opts.classifier.model_path == resolve(data["classifier"]["model_dir"])
    assert opts.reconcile.calibration_path == resolve(data["reconcile"]["calibration_file"])


def test_the_environment_overrides_one_value():
    env = {"XXGK_OCR_ENGINE": "paddleocr", "XXGK_CLASSIFIER_ENABLED": "false", "XXGK_RECONCILE_MAX_REPAIRS": "7"}
    base = load_options(environ={})
    opts = load_options(environ=env)
    assert (opts.ocr.engine, opts.classifier.enabled, opts.reconcile.max_repairs) == ("paddleocr", False, 7)
    assert opts.ocr.dpi == base.ocr.dpi and opts.reconcile.doubt == base.reconcile.doubt  # the rest as in the file
    assert load_options(environ={"XXGK_OCR_NO_SUCH_KEY": "1"}) == base  # only the options' own names are read
    with pytest.raises(ValidationError):
        load_options(environ={"XXGK_OCR_DPI": "many"})


def test_a_yaml_file_of_ones_own(tmp_path):
    data = read_yaml(PIPELINE_FILE)
    data["ocr"]["dpi"] = 123
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_options(path, environ={}).ocr.dpi == 123
    assert load_options(path, environ={"XXGK_OCR_DPI": "300"}).ocr.dpi == 300


def test_an_unknown_or_missing_key_is_an_error(tmp_path):
    data = read_yaml(PIPELINE_FILE)
    bad = tmp_path / "bad.yaml"
    data["ocr"]["dpi_typo"] = 300
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValidationError, match="dpi_typo"):
        load_options(bad, environ={})
    del data["ocr"]["dpi_typo"], data["ocr"]["dpi"]
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValidationError, match="dpi"):  # no defaults in code: the file states every value
        load_options(bad, environ={})


def test_with_changes_copies_and_checks():
    opts = load_options(environ={})
    changed = opts.with_changes(ocr={"threads": 3}, classifier={"threads": 1, "enabled": False})
    assert (changed.ocr.threads, changed.classifier.threads, changed.classifier.enabled) == (3, 1, False)
    assert changed.ocr.engine == opts.ocr.engine and changed.reconcile == opts.reconcile
    assert opts == load_options(environ={})  # the original is unchanged (frozen)
    with pytest.raises(ValidationError):
        opts.ocr.threads = 5
    with pytest.raises(ValidationError):
        opts.with_changes(ocr={"no_such_key": 1})
    with pytest.raises(ValueError, match="unknown options section"):
        opts.with_changes(nope={"a": 1})


def test_options_pickle_for_worker_processes():
    opts = load_options(environ={}).with_changes(ocr={"threads": 2})
    back = pickle.loads(pickle.dumps(opts))
    assert back == opts and back.ocr.threads == 2 and isinstance(back, PipelineOptions)
    assert back.classifier.model_path == opts.classifier.model_path
