"""Training: a short CPU run writes a loadable, calibrated checkpoint; a killed run resumes."""

from __future__ import annotations

import json

import pytest

from deepfake_audio.checkpoint import load_checkpoint
from deepfake_audio.config import load_config
from deepfake_audio.errors import ConfigError
from deepfake_audio.train import train


def _config(root, *extra):
    return load_config(None, [f"data.root={root}", "data.dataset=folder", "data.split=random",
                              "data.val_fraction=0.5", "train.epochs=2", "train.batch_size=4", *extra])


def test_short_run_writes_checkpoint_and_metrics(labelled_folder, tmp_path):
    best = train(_config(labelled_folder), tmp_path / "run", progress=False).best_checkpoint
    _, info = load_checkpoint(best)
    assert info.model == "seed-cnn" and 0.0 <= info.extra["val_eer"] <= 1.0
    assert info.calibration["offset"] == pytest.approx(-info.calibration["scale"] * info.threshold)
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    assert (tmp_path / "run" / "config.yaml").exists()


def test_killed_run_resumes_from_last_epoch(labelled_folder, tmp_path):
    run = tmp_path / "run"
    train(_config(labelled_folder, "train.epochs=1"), run, progress=False)  # as if killed after epoch 1
    train(_config(labelled_folder, "train.epochs=3"), run, progress=False)
    epochs = [json.loads(x)["epoch"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


def test_a_different_config_is_not_resumed_into_an_existing_run(labelled_folder, tmp_path):
    run = tmp_path / "run"
    train(_config(labelled_folder, "train.epochs=1"), run, progress=False)
    saved = (run / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=r"run.*different config.*train\.lr"):
        train(_config(labelled_folder, "train.epochs=1", "train.lr=0.01"), run, progress=False)
    assert (run / "config.yaml").read_text() == saved  # the existing run is left as it was


def test_augmented_run_and_sampler_balance(labelled_folder, tmp_path):
    cfg = _config(labelled_folder, "train.epochs=1", "train.balance=sampler", "train.scheduler=cosine",
                  'train.augment=[{name: gain, p: 1.0, min_gain_db: -6, max_gain_db: 6}]')
    assert train(cfg, tmp_path / "run", progress=False).best_checkpoint.exists()


def test_empty_root_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="data.root"):
        train(load_config(None, []), tmp_path / "run", progress=False)


def test_an_ensemble_trains_each_member_and_loads_as_one_model(labelled_folder, tmp_path):
    cfg = _config(labelled_folder, "train.epochs=1", "model={name: flat-stats, duration: 0.5, members: 3}")
    model, info = load_checkpoint(train(cfg, tmp_path / "run", progress=False).best_checkpoint)
    assert info.model == "flat-stats" and len(model.more_members) == 2
