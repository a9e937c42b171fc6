"""Shared test fixtures: seeded synthetic audio, written to temporary files in several formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dev"


def synthetic_speechlike(duration: float, sample_rate: int = 16_000, seed: int = 0) -> np.ndarray:
    """A seeded, speech-like test signal: a gliding harmonic tone with noise and an amplitude envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration * sample_rate)) / sample_rate
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    wave = 0.3 * envelope * wave / np.max(np.abs(wave)) + 0.01 * rng.standard_normal(t.size)
    return wave.astype(np.float32)


@pytest.fixture
def speechlike() -> np.ndarray:
    """Two seconds of seeded speech-like audio at 16 kHz."""
    return synthetic_speechlike(2.0)


@pytest.fixture
def wav_file(tmp_path: Path) -> Path:
    """A two-second 16 kHz mono WAV file."""
    import soundfile as sf

    path = tmp_path / "clip.wav"
    sf.write(path, synthetic_speechlike(2.0), 16_000)
    return path


def make_labelled_folder(root: Path, per_class: int = 4, duration: float = 1.0) -> Path:
    """A `real/` + `fake/` folder of seeded clips; fakes are high-passed noise so a model can learn them."""
    import soundfile as sf

    for label in ("real", "fake"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            if label == "real":
                wave = synthetic_speechlike(duration, seed=i)
            else:
                rng = np.random.default_rng(100 + i)
                wave = (0.1 * rng.standard_normal(round(duration * 16_000))).astype(np.float32)
            sf.write(root / label / f"{label}_{i}.wav", wave, 16_000)
    return root


@pytest.fixture
def labelled_folder(tmp_path: Path) -> Path:
    return make_labelled_folder(tmp_path / "corpus")


def requires_shared_data() -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not (SHARED_DATA / "manifest.csv").exists(),
        reason=f"needs the development corpus at {SHARED_DATA} (absent in a fresh clone)",
    )
