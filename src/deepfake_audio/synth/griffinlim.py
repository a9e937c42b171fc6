"""Griffin-Lim copy-synthesis: keep the STFT magnitude of a clip, rebuild its phase iteratively."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from deepfake_audio.audio import SAMPLE_RATE
from deepfake_audio.synth.registry import Generator, Synthesis, register_generator

if TYPE_CHECKING:
    import torch


def griffin_lim(
    magnitude: torch.Tensor,
    n_fft: int,
    hop_length: int,
    num_iters: int,
    num_samples: int,
    momentum: float = 0.99,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Waveform (time,) whose STFT magnitude approximates `magnitude` (freq, frames).

    Fast Griffin-Lim (Perraudin et al., 2013): each step projects onto consistent spectrograms, then
    extrapolates along the last change by `momentum`; `momentum=0` is the classic algorithm.
    """
    import torch

    window = torch.hann_window(n_fft)

    def stft(wave: torch.Tensor) -> torch.Tensor:
        return torch.stft(wave, n_fft, hop_length, window=window, center=True, return_complex=True)

    def istft(spec: torch.Tensor) -> torch.Tensor:
        return torch.istft(spec, n_fft, hop_length, window=window, center=True, length=num_samples)

    phase = torch.rand(magnitude.shape, generator=generator) * (2 * torch.pi)
    angles = torch.polar(torch.ones_like(magnitude), phase)
    previous = torch.zeros_like(angles)
    for _ in range(num_iters):
        rebuilt = stft(istft(magnitude * angles))
        angles = rebuilt + momentum * (rebuilt - previous)
        previous = rebuilt
        angles = angles / angles.abs().clamp_min(1e-12)
    return istft(magnitude * angles)


@register_generator("griffinlim")
class GriffinLim(Generator):
    """STFT magnitude -> fast Griffin-Lim phase reconstruction."""

    description = "copy-synthesis: STFT magnitude resynthesised with fast Griffin-Lim (random FFT size/iters)"
    kind = "copy"

    def generate(self, source: np.ndarray | str, rng: np.random.Generator) -> Synthesis:
        """Copy-synthesise a (time,) float32 16 kHz waveform."""
        import torch

        assert isinstance(source, np.ndarray)
        n_fft = int(rng.choice([512, 1024]))
        num_iters = int(rng.integers(8, 65))
        momentum = float(rng.choice([0.0, 0.99]))
        hop_length = n_fft // 4
        wave = torch.from_numpy(np.ascontiguousarray(source, dtype=np.float32))
        window = torch.hann_window(n_fft)
        magnitude = torch.stft(wave, n_fft, hop_length, window=window, center=True, return_complex=True).abs()
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        out = griffin_lim(magnitude, n_fft, hop_length, num_iters, wave.numel(), momentum, gen)
        params = {"n_fft": n_fft, "hop_length": hop_length, "num_iters": num_iters, "momentum": momentum}
        return Synthesis(out.numpy().astype(np.float32), SAMPLE_RATE, params)
