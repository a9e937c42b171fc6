"""Random gain in dB."""

from __future__ import annotations

import numpy as np

from deepfake_audio.augment.base import BaseTransform, check_range, register_augmentation


@register_augmentation("gain")
class Gain(BaseTransform):
    """Multiply the waveform by a gain drawn uniformly in ``[min_gain_db, max_gain_db]`` dB.

    The result is not clipped: float audio above 1.0 is kept as is (clip downstream if a step needs it).
    """

    def __init__(self, min_gain_db: float = -6.0, max_gain_db: float = 6.0, p: float = 0.5) -> None:
        super().__init__(p)
        self.min_gain_db, self.max_gain_db = check_range(
            "min_gain_db", min_gain_db, "max_gain_db", max_gain_db, low=-120.0, high=60.0
        )

    def apply(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Scale by a random dB gain."""
        gain_db = rng.uniform(self.min_gain_db, self.max_gain_db)
        return (waveform * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)
