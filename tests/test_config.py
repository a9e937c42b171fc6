"""Config: defaults, YAML, dotted overrides, unknown keys rejected with the valid ones listed."""

from __future__ import annotations

import pytest

from deepfake_audio.config import load_config, save_config
from deepfake_audio.errors import ConfigError
from deepfake_audio.presets import available_presets, preset_path


def test_seed_preset_matches_the_report():
    cfg = load_config(preset_path("seed"))
    assert cfg.model["name"] == "seed-cnn" and cfg.model["duration"] == 1.0
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.lr) == (5, 16, 0.001)
    assert "seed" in available_presets()


def test_overrides_are_typed_and_nested(tmp_path):
    cfg = load_config(None, ["train.epochs=3", "train.lr=3e-4", "model.name=seed-cnn", "data.exclude_sources=[fsdd]"])
    assert cfg.train.epochs == 3 and cfg.train.lr == pytest.approx(3e-4)
    assert cfg.data.exclude_sources == ["fsdd"]
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml").train.epochs == 3


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'train.lrr'.*train.lr"):
        load_config(None, ["train.lrr=1"])


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="available"):
        preset_path("nope")
