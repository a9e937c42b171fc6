"""Why this verdict: which frequency bands moved a window's score most (band occlusion).

Model-agnostic by design, so it works for any checkpoint, ONNX included: each window is rescored with
one band removed at a time (its STFT bins zeroed, then resynthesised by overlap-add), and a band's
effect is how much p_fake drops without it. Positive `delta`: the band's content made the window look
machine-made; negative: it made it look real. Costs one extra forward pass per band and window.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch

from deepfake_audio.audio import SAMPLE_RATE

# Narrow where speech carries its structure (pitch, first formants), wide above; the top band is where
# vocoders and codecs leave most of their traces.
BANDS_HZ: tuple[tuple[int, int], ...] = (
    (0, 300), (300, 700), (700, 1_200), (1_200, 2_000), (2_000, 3_000),
    (3_000, 4_000), (4_000, 5_500), (5_500, 8_000),
)
TOP_K = 3
_N_FFT = 512
_HOP = 128  # a quarter of the Hann window: overlap-add reconstructs the unmasked signal exactly


@functools.cache
def _window() -> torch.Tensor:
    return torch.hann_window(_N_FFT)


def occlude_bands(batch: torch.Tensor, bands: Sequence[tuple[int, int]] = BANDS_HZ,
                  sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """`(batch, time)` windows -> `(batch, len(bands), time)`: each window with one band removed."""
    length = batch.shape[-1]
    spec = torch.stft(batch.float(), _N_FFT, _HOP, window=_window(), return_complex=True)  # (B, F, T)
    freqs = torch.fft.rfftfreq(_N_FFT, 1 / sample_rate)
    masked = []
    for lo, hi in bands:
        keep = ~((freqs >= lo) & (freqs < hi) if hi < sample_rate / 2 else freqs >= lo)
        masked.append(torch.istft(spec * keep[None, :, None], _N_FFT, _HOP, window=_window(), length=length))
    return torch.stack(masked, dim=1)


def explain_windows(
    batch: torch.Tensor,
    scores: torch.Tensor,
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    p_fake: Callable[[float], float],
    *,
    bands: Sequence[tuple[int, int]] = BANDS_HZ,
    top_k: int = TOP_K,
) -> list[list[dict[str, object]]]:
    """For each window, the `top_k` bands whose removal changed p_fake most, largest change first.

    Each entry is `{"band_hz": [lo, hi], "delta": p_fake(window) - p_fake(window without the band)}`.
    """
    occluded = occlude_bands(batch, bands)  # (B, K, T)
    flat = occluded.reshape(-1, batch.shape[-1])
    masked_scores = torch.cat([score_fn(chunk) for chunk in flat.split(batch.shape[0])]).reshape(len(batch), len(bands))
    out = []
    for score, row in zip(scores.tolist(), masked_scores.tolist()):
        base = p_fake(score)
        deltas = [(base - p_fake(s), band) for s, band in zip(row, bands)]
        deltas.sort(key=lambda d: -abs(d[0]))
        out.append([{"band_hz": [lo, hi], "delta": round(float(d), 4)} for d, (lo, hi) in deltas[:top_k]])
    return out
