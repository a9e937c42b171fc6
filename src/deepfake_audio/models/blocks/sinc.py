"""Fixed band-pass sinc filterbank on a mel-spaced grid: the RawNet2 / AASIST waveform front end.

Each filter is the difference of two windowed low-pass sinc kernels, so it passes one band between
consecutive mel-spaced edges from 0 Hz to the Nyquist frequency. The filters are not learned (the
ASVspoof 2021 baseline and AASIST keep them fixed); they live in a non-persistent buffer because they
follow from the constructor arguments alone.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of `hz_to_mel`."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_band_edges(num_filters: int, sample_rate: int) -> torch.Tensor:
    """`num_filters + 1` band edges in Hz, equally spaced in mel from 0 Hz to `sample_rate / 2`."""
    top = hz_to_mel(torch.tensor(sample_rate / 2, dtype=torch.float64))
    return mel_to_hz(torch.linspace(0.0, float(top), num_filters + 1, dtype=torch.float64))


def sinc_bandpass_filters(
    num_filters: int, kernel_size: int, sample_rate: int, float32_grid: bool = False
) -> torch.Tensor:
    """Hamming-windowed ideal band-pass kernels, shape `(num_filters, kernel_size)`; `kernel_size` odd.

    `float32_grid=True` gives the filters of the clovaai AASIST code bit for bit (see
    `_float32_grid_filters`); the default computes them in float64 and rounds once.
    """
    edges = mel_band_edges(num_filters, sample_rate)  # (num_filters + 1,) Hz
    if float32_grid:
        return _float32_grid_filters(edges, kernel_size, sample_rate)
    half = (kernel_size - 1) / 2
    n = torch.linspace(-half, half, kernel_size, dtype=torch.float64)  # sample offsets, symmetric

    def lowpass(cutoff_hz: torch.Tensor) -> torch.Tensor:
        normalised = 2.0 * cutoff_hz[:, None] / sample_rate  # cutoff as a fraction of Nyquist
        return normalised * torch.sinc(normalised * n[None, :])

    ideal = lowpass(edges[1:]) - lowpass(edges[:-1])
    window = torch.hamming_window(kernel_size, periodic=False, dtype=torch.float64)
    return (ideal * window).float()


def _float32_grid_filters(edges: torch.Tensor, kernel_size: int, sample_rate: int) -> torch.Tensor:
    """The reference AASIST filters: its sample grid is a float32 tensor, so the sinc argument is rounded
    to float32 and numpy evaluates the sinc itself in float32; only the scaling by the cutoff and the
    difference of the two low-passes run in float64, and the window is applied in float32. This moves
    taps by up to 1.5e-7, which alone shifts the official checkpoints' logits by up to 3e-5."""
    half = (kernel_size - 1) / 2
    n = torch.arange(-half, half + 1)  # float32, as in the reference

    def lowpass(cutoff_hz: float) -> np.ndarray:
        argument = (2 * cutoff_hz * n / sample_rate).numpy()  # float32 arithmetic
        return (2 * cutoff_hz / sample_rate) * np.sinc(argument).astype(np.float64)

    window = torch.from_numpy(np.hamming(kernel_size)).float()
    cutoffs = edges.tolist()
    rows = [window * torch.from_numpy(lowpass(high) - lowpass(low)).float()
            for low, high in itertools.pairwise(cutoffs)]
    return torch.stack(rows)


class SincFilterbank(nn.Module):
    """Fixed mel-spaced sinc band-pass filters: `(batch, time)` -> `(batch, num_filters, frames)`.

    An even `kernel_size` is rounded up to the next odd number, so every filter is symmetric (linear
    phase), as in the reference implementations. No padding: `frames = time - kernel_size + 1`.
    """

    def __init__(
        self, num_filters: int, kernel_size: int, sample_rate: int = 16_000, float32_grid: bool = False
    ) -> None:
        super().__init__()
        if num_filters < 1:
            raise ValueError(f"num_filters must be >= 1, got {num_filters}")
        self.num_filters = num_filters
        self.kernel_size = kernel_size + 1 if kernel_size % 2 == 0 else kernel_size
        self.sample_rate = sample_rate
        filters = sinc_bandpass_filters(num_filters, self.kernel_size, sample_rate, float32_grid)
        self.register_buffer("filters", filters.unsqueeze(1), persistent=False)  # (filters, 1, kernel)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = waveform.unsqueeze(1)  # (batch, 1, time)
        return F.conv1d(x, self.filters.to(x.dtype))  # (batch, num_filters, frames)

    def extra_repr(self) -> str:
        return (
            f"num_filters={self.num_filters}, kernel_size={self.kernel_size}, sample_rate={self.sample_rate}"
        )
