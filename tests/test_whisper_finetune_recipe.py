"""recipes/whisper_finetune.py on a tiny random encoder: training from cached states computes what the
model computes from audio, and the checkpoint it writes scores clips as training scored them."""

from __future__ import annotations

import csv
import importlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tests.conftest import synthetic_speechlike
from tests.test_whisper_frontend import _random_encoder, _write_openai

from deepfake_audio.audio import load_audio, trim_silence
from deepfake_audio.checkpoint import load_checkpoint
from deepfake_audio.models import build_model

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, cwd=RECIPES,
                          check=False)
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-2000:]}"
    return done


def clip_manifest(root: Path, count: int, source_of: Callable[[int], str]) -> Path:
    """`count` synthetic clips of 1.0-2.5 s under root/clips, odd ones bona fide (the spoofs quieter), and
    their manifest; `source_of(i)` names each clip's source."""
    rows = []
    for i in range(count):
        label = "bonafide" if i % 2 else "spoof"
        path = root / "clips" / f"{i:02d}.wav"
        path.parent.mkdir(exist_ok=True)
        audio = synthetic_speechlike(1.0 + 0.1 * i, seed=i) * (1.0 if label == "bonafide" else 0.5)
        sf.write(path, audio, 16_000)
        rows.append({"path": str(path), "label": label, "system": "real" if i % 2 else "tts",
                     "source": source_of(i), "duration_s": f"{1.0 + 0.1 * i:.3f}"})
    manifest = root / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="module")
def recipe():
    sys.path.insert(0, str(RECIPES))
    try:
        yield importlib.import_module("whisper_finetune")
    finally:
        sys.path.remove(str(RECIPES))


@pytest.mark.parametrize(("layers_run", "trainable"), [(2, 1), (1, 1), (2, 2)])
def test_statistics_from_cached_states_equal_the_models(recipe, tmp_path: Path, layers_run: int,
                                                        trainable: int) -> None:
    encoder = _write_openai(_random_encoder(), tmp_path / "tiny.pt")
    model = build_model("whisper-stats", encoder=str(encoder), encoder_layers=layers_run,
                        trainable_layers=trainable).eval()
    waveform = torch.from_numpy(synthetic_speechlike(1.5, seed=3))[None]
    with torch.no_grad():
        states = model.hidden_states(waveform)  # (1, layers_run + 1, frames, width)
        first = layers_run - trainable
        frozen = torch.cat([states[:, : first + 1].mean(2), states[:, : first + 1].std(2, unbiased=False)], 2)
        from_cache = recipe.logits_from_cache(model, frozen.flatten(1), states[:, first])
        assert torch.allclose(from_cache, model.logits(waveform), atol=1e-5, rtol=1e-5)


def test_recipe_trains_and_writes_a_checkpoint_that_scores_as_training_did(recipe, tmp_path: Path) -> None:
    encoder = _write_openai(_random_encoder(), tmp_path / "tiny.pt")
    manifest = clip_manifest(tmp_path, 16, lambda i: f"source{(i // 2) % 4}")
    cache, out = tmp_path / "cache", tmp_path / "tuned.safetensors"
    _run("whisper_features.py", "--manifest", str(manifest), "--out", str(cache), "--views", "clean",
         "--frames", "2", "--encoder", str(encoder), "--max-crop", "0", "--workers", "1")
    done = _run("whisper_finetune.py", "--cache", str(cache), "--views", "clean", "--encoder", str(encoder),
                "--encoder-layers", "2", "--out", str(out), "--epochs", "3", "--batch-size", "4",
                "--eval-every", "2", "--val-fraction", "0.25", "--lr", "1e-3", "--head-lr", "1e-3",
                "--threads", "1")
    assert "validation EER" in done.stdout and out.exists()

    model, info = load_checkpoint(out)
    assert info.config["trainable_layers"] == 1
    stored = set(model.state_dict())
    assert any(k.startswith("encoder.blocks.1.") for k in stored)  # the tuned block travels with the model
    assert not any(k.startswith("encoder.blocks.0.") for k in stored)  # the frozen one comes from the file
    assert info.extra["training"]["validation_sources"]

    # The checkpoint, run on audio, gives the scores the recipe computed from its cache (fp16 frames).
    data = recipe.CachedClips(cache, ["clean"], first_trainable=1)
    cached = recipe.bona_fide_scores(model, data, np.arange(len(data.label)))
    meta = np.load(cache / "clean.npz")
    with torch.no_grad():
        direct = np.array([float(model.score(trim_silence(load_audio(p))[None])[0]) for p in meta["path"]])
    assert np.allclose(cached, direct, atol=0.05, rtol=0.02), np.abs(cached - direct).max()
