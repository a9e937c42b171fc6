"""Reverberation with a synthetic room impulse response: a direct path plus exponentially decaying noise."""

from __future__ import annotations

import numpy as np

from deepfake_audio.augment.base import SAMPLE_RATE, BaseTransform, check_range, register_augmentation, rms
from deepfake_audio.errors import require

_LN_1000 = np.log(1000.0)  # RT60 is the time to decay by 60 dB, i.e. amplitude by a factor of 1000


def synthetic_impulse_response(
    rt60_s: float, drr_db: float, predelay_s: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Impulse response: 1 at sample 0 (direct path), then Gaussian noise decaying 60 dB in `rt60_s` seconds.

    The tail starts after `predelay_s` and is scaled so that direct-path energy over tail energy is `drr_db`.
    """
    length = max(2, int(np.ceil(rt60_s * sample_rate)))
    start = min(max(1, round(predelay_s * sample_rate)), length - 1)
    t = np.arange(length - start) / sample_rate
    tail = rng.standard_normal(length - start) * np.exp(-_LN_1000 * t / rt60_s)
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / np.sum(tail**2))
    response = np.zeros(length)
    response[0] = 1.0
    response[start:] = tail
    return response


@register_augmentation("reverb")
class Reverb(BaseTransform):
    """Convolve with a synthetic room response of random RT60, direct-to-reverberant ratio and pre-delay.

    The direct path sits at sample 0 of the response, so speech stays time-aligned; the output is cut to the
    input length (the reverberant tail past the end is dropped) and rescaled to the input's RMS.

    Parameters
    ----------
    min_rt60_s, max_rt60_s
        Reverberation time (60 dB decay) range in seconds.
    min_drr_db, max_drr_db
        Direct-to-reverberant energy ratio range in dB (lower is more reverberant).
    min_predelay_s, max_predelay_s
        Gap between the direct path and the start of the diffuse tail, in seconds.
    """

    def __init__(
        self,
        min_rt60_s: float = 0.2,
        max_rt60_s: float = 1.0,
        min_drr_db: float = -5.0,
        max_drr_db: float = 15.0,
        min_predelay_s: float = 0.001,
        max_predelay_s: float = 0.01,
        sample_rate: int = SAMPLE_RATE,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        self.min_rt60_s, self.max_rt60_s = check_range(
            "min_rt60_s", min_rt60_s, "max_rt60_s", max_rt60_s, low=0.01, high=10.0
        )
        self.min_drr_db, self.max_drr_db = check_range(
            "min_drr_db", min_drr_db, "max_drr_db", max_drr_db, low=-40.0, high=40.0
        )
        self.min_predelay_s, self.max_predelay_s = check_range(
            "min_predelay_s", min_predelay_s, "max_predelay_s", max_predelay_s, low=0.0, high=0.1
        )
        self.sample_rate = int(sample_rate)

    def apply(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Add reverberation from a freshly drawn impulse response."""
        signal = require("scipy.signal", "augment")
        response = synthetic_impulse_response(
            rng.uniform(self.min_rt60_s, self.max_rt60_s),
            rng.uniform(self.min_drr_db, self.max_drr_db),
            rng.uniform(self.min_predelay_s, self.max_predelay_s),
            self.sample_rate,
            rng,
        )
        wet = signal.fftconvolve(waveform.astype(np.float64), response)[: waveform.shape[0]]
        level_in, level_out = rms(waveform), rms(wet)
        if level_out > 0:
            wet *= level_in / level_out
        return wet.astype(np.float32)
