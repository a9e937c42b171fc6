"""Bundled models by name: resolution, the missing-extra message, the `models` listing and its measured facts."""

from __future__ import annotations

import json
import shutil

import pytest
import soundfile as sf
from conftest import synthetic_speechlike
from safetensors.torch import load_file
from typer.testing import CliRunner

from deepfake_audio import bundled
from deepfake_audio.bundled import BUNDLED, BundledModel, bundled_path, record_measurement, resolve_model
from deepfake_audio.checkpoint import read_checkpoint_info, update_header_extra
from deepfake_audio.cli import app
from deepfake_audio.detector import Detector
from deepfake_audio.errors import MissingExtraError, require

runner = CliRunner()


def test_every_bundled_model_is_a_loadable_checkpoint():
    assert {"default", "fast"} <= set(BUNDLED)
    for name in BUNDLED:
        assert read_checkpoint_info(bundled_path(name)).model
        assert (bundled_path(name).parent / BUNDLED[name].card).is_file()


def test_names_resolve_to_bundled_files_and_paths_pass_through(tmp_path):
    assert resolve_model(None) == bundled_path("default")
    assert resolve_model("fast") == bundled_path("fast")
    assert resolve_model("fast").name == "fast.safetensors"
    assert resolve_model(str(tmp_path / "m.safetensors")) == tmp_path / "m.safetensors"
    assert resolve_model("./fast") != bundled_path("fast")  # a file that happens to be called "fast"


def test_detect_without_model_uses_default_and_fast_works(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, synthetic_speechlike(2.0), 16_000)
    implicit = runner.invoke(app, ["detect", str(path), "--json"])
    explicit = runner.invoke(app, ["detect", str(path), "--json", "--model", "default"])
    fast = runner.invoke(app, ["detect", str(path), "--json", "--model", "fast"])
    assert implicit.exit_code == explicit.exit_code == fast.exit_code == 0, fast.output
    assert json.loads(implicit.stdout) == json.loads(explicit.stdout)
    assert json.loads(fast.stdout)[0]["label"] in ("real", "fake")
    direct = Detector.from_pretrained("fast", device="cpu")(path).to_dict()
    assert json.loads(fast.stdout)[0]["score"] == direct["score"]


def test_missing_requirement_of_a_bundled_model_is_one_line_naming_the_extra(monkeypatch, tmp_path):
    needy = BundledModel("default", "default.safetensors", "MODEL_CARD.md", "accurate",
                         requires=(("no_such_module_for_this_test", "whisper"),))
    monkeypatch.setitem(BUNDLED, "default", needy)
    path = tmp_path / "a.wav"
    sf.write(path, synthetic_speechlike(1.0), 16_000)
    result = runner.invoke(app, ["detect", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "deepfake-audio[whisper]" in result.output and "--model fast" in result.output
    assert runner.invoke(app, ["detect", str(path), "--model", "fast"]).exit_code == 0


def test_missing_extra_raised_while_building_a_bundled_model_names_it(monkeypatch):
    def needs_an_extra(*args, **kwargs):
        require("no_such_module_for_this_test", "whisper")

    monkeypatch.setattr("deepfake_audio.detector.load_checkpoint", needs_an_extra)
    with pytest.raises(MissingExtraError) as caught:
        Detector.from_pretrained(None, device="cpu")
    message = str(caught.value)
    assert "'default'" in message and "deepfake-audio[whisper]" in message and "--model fast" in message


def test_models_lists_bundled_names_with_measured_facts_from_the_header(monkeypatch, tmp_path):
    copies = {}
    for name in BUNDLED:
        copies[name] = tmp_path / f"{name}.safetensors"
        shutil.copy(bundled_path(name), copies[name])
    record_measurement(copies["fast"], external_eer=0.2345, realtime_factor=1234.0)
    update_header_extra(copies["default"], lambda extra: {k: v for k, v in extra.items() if k != "measured"})
    monkeypatch.setattr(bundled, "bundled_path", lambda name="default": copies[name])
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    fast = next(x for x in lines if x.strip().startswith("fast "))
    assert "23.4%" in fast and "1,234x" in fast
    assert "not measured" in next(x for x in lines if x.strip().startswith("default "))  # record removed


def test_record_measurement_keeps_weights_and_header(tmp_path):
    copy = tmp_path / "m.safetensors"
    shutil.copy(bundled_path("fast"), copy)
    before = read_checkpoint_info(copy)
    record_measurement(copy, external_eer=0.3)
    record_measurement(copy, realtime_factor=900.0)
    after = read_checkpoint_info(copy)
    assert after.extra["measured"] == {**before.extra.get("measured", {}), "external_eer": 0.3,
                                       "realtime_factor": 900.0}
    assert {k: v for k, v in after.extra.items() if k != "measured"} == {
        k: v for k, v in before.extra.items() if k != "measured"}
    assert (after.model, after.config, after.threshold) == (before.model, before.config, before.threshold)
    original, rewritten = load_file(str(bundled_path("fast"))), load_file(str(copy))
    assert original.keys() == rewritten.keys() and all((original[k] == rewritten[k]).all() for k in original)
