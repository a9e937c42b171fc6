"""Every registered model survives a safetensors round trip; bad checkpoint files give clear errors."""

from __future__ import annotations

import pytest
import torch

from deepfake_audio.checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint
from deepfake_audio.errors import CheckpointError, ConfigError
from deepfake_audio.models import MODELS, available_models, build_model, count_parameters
from deepfake_audio.training_state import load_training_state, save_training_state


# Models on user-supplied pretrained weights have their own round-trip test (tests/test_ssl_sls.py).
@pytest.mark.parametrize("name", [m for m in available_models() if not MODELS[m].needs_local_weights])
def test_round_trip_every_model(name, tmp_path):
    torch.manual_seed(0)
    model = build_model(name, duration=1.0).eval()  # short windows keep the raw-waveform models quick
    batch = 0.1 * torch.randn(2, model.num_samples)
    with torch.no_grad():
        expected = model(batch)
    path = save_checkpoint(model, tmp_path / f"{name}.safetensors", threshold=0.25,
                           calibration={"scale": 2.0, "offset": -0.5}, extra={"val_eer": 0.1})
    loaded, info = load_checkpoint(path)
    assert info.model == name and info.threshold == 0.25 and info.extra["val_eer"] == 0.1
    assert info.calibration == {"scale": 2.0, "offset": -0.5}
    assert count_parameters(loaded) == count_parameters(model)
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch), expected)


def test_checkpoint_is_not_a_pickle(tmp_path):
    path = save_checkpoint(build_model("seed-cnn"), tmp_path / "m.safetensors")
    assert not path.read_bytes().startswith(b"\x80")  # pickle protocol marker
    assert read_checkpoint_info(path).config["duration"] == 1.0


def test_bad_checkpoint_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        load_checkpoint(junk)


def test_unknown_model_and_option():
    with pytest.raises(ConfigError, match="available"):
        build_model("no-such-model")
    with pytest.raises(ConfigError, match="valid"):
        build_model("seed-cnn", no_such_option=1)


def test_training_state_round_trip(tmp_path):
    model = build_model("seed-cnn")
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(2, model.num_samples)).sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3,
             "rng": torch.get_rng_state(), "best": 0.25, "pair": (1, "a")}
    save_training_state(state, tmp_path / "s.safetensors")
    loaded = load_training_state(tmp_path / "s.safetensors")
    assert loaded["epoch"] == 3 and loaded["best"] == 0.25 and loaded["pair"] == (1, "a")
    fresh = torch.optim.Adam(build_model("seed-cnn").parameters())
    fresh.load_state_dict(loaded["optimizer"])
    torch.testing.assert_close(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
