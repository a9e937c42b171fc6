"""Detectors on a Whisper encoder (whisper-stats, whisper-attentive), on a tiny random encoder written by
the test: checkpoints leave the frozen encoder out and pin it by hash, any window length is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tests.test_whisper_frontend import _random_encoder, _write_openai

from deepfake_audio.checkpoint import load_checkpoint, save_checkpoint
from deepfake_audio.errors import CheckpointError
from deepfake_audio.models import build_model, count_parameters

MODELS = ["whisper-stats", "whisper-attentive"]


@pytest.fixture
def tiny_encoder(tmp_path: Path) -> Path:
    return _write_openai(_random_encoder(), tmp_path / "tiny.pt")


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_leaves_out_the_frozen_encoder_and_round_trips(name: str, tiny_encoder: Path,
                                                                 tmp_path: Path) -> None:
    model = build_model(name, encoder=str(tiny_encoder), encoder_layers=1).eval()
    assert not any(k.startswith("encoder.") for k in model.state_dict())
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    loaded, info = load_checkpoint(path)
    x = torch.randn(2, 32_000) * 0.1
    with torch.no_grad():
        assert torch.allclose(loaded.score(x), model.score(x), atol=1e-6)
    assert info.config["encoder_sha256"] == model.config.encoder_sha256 and len(info.config["encoder_sha256"]) == 64


@pytest.mark.parametrize("name", MODELS)
def test_other_encoder_weights_are_refused(name: str, tiny_encoder: Path, tmp_path: Path) -> None:
    path = save_checkpoint(build_model(name, encoder=str(tiny_encoder), encoder_layers=2), tmp_path / "m.safetensors")
    _write_openai(_random_encoder(seed=5), tiny_encoder)  # same path, other weights
    with pytest.raises(CheckpointError, match="not the ones the model was trained on"):
        load_checkpoint(path)


@pytest.mark.parametrize("name", MODELS)
def test_only_the_head_trains_when_the_encoder_is_frozen(name: str, tiny_encoder: Path) -> None:
    model = build_model(name, encoder=str(tiny_encoder), encoder_layers=2).train()
    model(torch.randn(2, 16_000) * 0.1).sum().backward()
    for key, parameter in model.named_parameters():
        assert parameter.requires_grad == (not key.startswith("encoder."))
        if parameter.requires_grad:
            assert parameter.grad is not None


def test_fine_tuned_top_block_is_stored_and_trains(tiny_encoder: Path, tmp_path: Path) -> None:
    model = build_model("whisper-stats", encoder=str(tiny_encoder), trainable_layers=1)
    stored = [k for k in model.state_dict() if k.startswith("encoder.")]
    assert stored and all(k.startswith(("encoder.blocks.1.", "encoder.ln_post.")) for k in stored)
    model.train()(torch.randn(2, 16_000) * 0.1).sum().backward()
    assert model.encoder.blocks[1].mlp[0].weight.grad is not None and model.encoder.conv1.weight.grad is None
    loaded, _ = load_checkpoint(save_checkpoint(model, tmp_path / "ft.safetensors"))
    assert torch.equal(loaded.encoder.blocks[1].mlp[0].weight, model.encoder.blocks[1].mlp[0].weight)


@pytest.mark.parametrize("name", MODELS)
def test_any_window_length_and_no_padding(name: str, tiny_encoder: Path) -> None:
    model = build_model(name, encoder=str(tiny_encoder), encoder_layers=2).eval()
    assert type(model).accepts_variable_length
    with torch.no_grad():
        for seconds in (0.5, 1.0, 3.7, 10.0):
            assert model(torch.randn(1, int(seconds * 16_000)) * 0.1).shape == (1, 2)
        # A zero-padded batch with lengths scores each row as that clip alone.
        a, b = torch.randn(1, 16_000) * 0.1, torch.randn(1, 40_000) * 0.1
        padded = torch.cat([torch.nn.functional.pad(a, (0, 24_000)), b])
        together = model.score(padded, torch.tensor([16_000, 40_000]))
        assert torch.allclose(together, torch.cat([model.score(a), model.score(b)]), atol=1e-5)


def test_attentive_head_ignores_padded_frames(tiny_encoder: Path) -> None:
    model = build_model("whisper-attentive", encoder=str(tiny_encoder), encoder_layers=2).eval()
    with torch.no_grad():
        states = model.hidden_states(torch.randn(1, 24_000) * 0.1).transpose(1, 2)
        padded = torch.cat([states, torch.randn(1, 40, *states.shape[2:])], dim=1)
        mask = torch.zeros(1, padded.shape[1], dtype=torch.bool)
        mask[:, : states.shape[1]] = True
        assert torch.allclose(model.head(padded, mask), model.head(states), atol=1e-5)


def test_encoder_layers_runs_only_the_lowest_blocks(tiny_encoder: Path) -> None:
    full = build_model("whisper-stats", encoder=str(tiny_encoder))
    low = build_model("whisper-stats", encoder=str(tiny_encoder), encoder_layers=1)
    assert len(low.encoder.blocks) == 1 and len(full.encoder.blocks) == 2
    x = torch.randn(1, 16_000) * 0.1
    with torch.no_grad():
        assert torch.allclose(low.hidden_states(x), full.hidden_states(x)[:, :2], atol=1e-6)
    assert count_parameters(low) < count_parameters(full)
