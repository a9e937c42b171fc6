"""recipes/whisper_finetune_audio.py on a tiny random encoder: step 0 is the --init model, a run stopped and
resumed ends with the same weights as one that ran through, and the checkpoint stores the tuned blocks."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tests.conftest import synthetic_speechlike
from tests.test_whisper_finetune_recipe import clip_manifest
from tests.test_whisper_frontend import _random_encoder, _write_openai

from deepfake_audio.checkpoint import load_checkpoint, save_checkpoint
from deepfake_audio.models import build_model

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def _run(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "whisper_finetune_audio.py", *args], capture_output=True, text=True,
                          cwd=RECIPES, check=False)
    assert done.returncode == 0, f"whisper_finetune_audio.py failed:\n{done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny encoder, a linear whisper-stats model on it to start from, and a manifest of 12 clips."""
    root = tmp_path_factory.mktemp("finetune-audio")
    encoder = _write_openai(_random_encoder(), root / "tiny.pt")
    torch.manual_seed(0)
    init = build_model("whisper-stats", encoder=str(encoder), encoder_layers=2)
    init.fit_standardisation(torch.randn(32, init.num_stats))
    init_path = root / "init.safetensors"
    save_checkpoint(init, init_path, extra={"training": {"classifier": {"C": 0.01}}})
    manifest = clip_manifest(root, 12, lambda i: f"source{i % 3}")
    return root, init_path, manifest


def _args(init: Path, manifest: Path, out: Path) -> list[str]:
    return ["--manifest", str(manifest), "--init", str(init), "--out", str(out), "--trainable-layers", "1",
            "--epochs", "2", "--batch-size", "4", "--lr", "1e-3", "--head-lr", "1e-3", "--warmup-steps", "2",
            "--save-every", "100", "--log-every", "1", "--calibration-clips", "12", "--threads", "1",
            "--workers", "0", "--views", "clean,codec,channel"]


def test_step_zero_is_the_init_model(setup):
    _, init_path, _ = setup
    sys.path.insert(0, str(RECIPES))
    try:
        recipe = importlib.import_module("whisper_finetune_audio")
    finally:
        sys.path.remove(str(RECIPES))
    tuned, c = recipe.initial_model(str(init_path), trainable_layers=1)
    frozen, _ = load_checkpoint(init_path)
    waveform = torch.from_numpy(synthetic_speechlike(1.3, seed=7))[None]
    tuned.eval()
    with torch.no_grad():
        assert torch.allclose(tuned.logits(waveform), frozen.logits(waveform), atol=1e-6)
    assert c == 0.01  # the penalty the init model was fitted with


def test_stopped_and_resumed_run_ends_where_an_uninterrupted_one_does(setup):
    root, init_path, manifest = setup
    through, broken = root / "through", root / "broken"
    _run(*_args(init_path, manifest, through))
    stopped = _run(*_args(init_path, manifest, broken), "--stop-after", "3")  # mid-epoch: 3 steps per epoch
    assert "stopped at step 3 of 6" in stopped.stdout and not (broken / "model.safetensors").exists()
    assert "resumed at step 3" in _run(*_args(init_path, manifest, broken), "--resume").stdout

    a, b = load_file(through / "model.safetensors"), load_file(broken / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    initial = load_file(init_path)
    assert not torch.equal(a["classifier.1.weight"], initial["classifier.1.weight"])  # it did train

    _, info = load_checkpoint(through / "model.safetensors")
    assert info.config["trainable_layers"] == 1
    assert any(k.startswith("encoder.blocks.1.") for k in a)  # the tuned block travels with the model
    assert not any(k.startswith("encoder.blocks.0.") for k in a)  # the frozen one comes from the encoder file
    assert info.extra["training"]["recipe"] == "recipes/whisper_finetune_audio.py"
    assert "in-sample" in info.extra["training"]["threshold_and_calibration"]
