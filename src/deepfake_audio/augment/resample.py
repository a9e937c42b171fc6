"""Resampling round trips: down to another rate and back, as recordings passed through other systems are."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepfake_audio.augment.base import SAMPLE_RATE, BaseTransform, fit_length, register_augmentation
from deepfake_audio.errors import require

# Rates that recordings commonly pass through: narrowband telephony, old multimedia, TTS vocoders' own rates.
DEFAULT_RATES = (8_000, 11_025, 22_050, 24_000, 44_100)


@register_augmentation("resample")
class Resample(BaseTransform):
    """Resample to a rate drawn from `rates` and back to `sample_rate` (soxr); the length is kept.

    Rates below `sample_rate` remove the band above their Nyquist frequency; higher ones leave the
    anti-aliasing filters' traces only, which a detector must learn to ignore.
    """

    def __init__(self, rates: Sequence[int] = DEFAULT_RATES, sample_rate: int = SAMPLE_RATE, p: float = 0.5) -> None:
        super().__init__(p)
        if not rates or any(int(r) < 4_000 or int(r) > 192_000 for r in rates):
            raise ValueError(f"rates must be a non-empty list of rates in [4000, 192000] Hz; got {list(rates)}")
        self.rates = [int(r) for r in rates]
        self.sample_rate = int(sample_rate)

    def apply(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        soxr = require("soxr", "augment")
        rate = self.rates[int(rng.integers(len(self.rates)))]
        there = soxr.resample(waveform.astype(np.float32), self.sample_rate, rate, quality="HQ")
        back = soxr.resample(there, rate, self.sample_rate, quality="HQ")
        return fit_length(np.asarray(back, dtype=np.float32), waveform.shape[0])
