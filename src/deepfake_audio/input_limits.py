"""Sanity rules for audio from strangers: accepted sample rates, a decode budget, and amplitude limits.

A few bytes can claim hours of audio (a WAV header saying 1 Hz, a FLAC of an hour of silence), and a
float file can hold any value. These rules are applied while decoding (audio.py), so a hostile file is
refused after reading its header or a block, not after decoding and resampling all of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepfake_audio.errors import AudioDecodeError

# Accepted source sample rates. Below 4 kHz there is no speech band left to judge (and upsampling to
# 16 kHz multiplies the work); above 768 kHz no audio interface records.
MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 768_000

# Decoded samples (all channels, at the source rate) allowed per second of the duration budget: 48 kHz
# with 4 channels, 96 kHz stereo or 192 kHz mono use it up at the same pace.
SAMPLES_PER_BUDGET_SECOND = 192_000


@dataclass(frozen=True)
class DecodeBudget:
    """The most audio one input may decode to: `max_seconds` of audio and `max_samples` decoded samples
    (summed over channels, at the file's own rate). Either may be None for no limit."""

    max_seconds: float | None
    max_samples: int | None

    def __post_init__(self) -> None:
        for name in ("max_seconds", "max_samples"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"DecodeBudget.{name} must be a positive number or None; got {value!r}")

    @classmethod
    def for_duration(cls, seconds: float | None) -> DecodeBudget:
        """A budget of `seconds` of audio, with the sample allowance that goes with it."""
        if seconds is None:
            return UNLIMITED
        return cls(float(seconds), int(seconds * SAMPLES_PER_BUDGET_SECOND))

    def check(self, label: str, frames: int, channels: int, sample_rate: int, *, declared: bool = False) -> None:
        """Raise when `frames` (per channel) at `sample_rate` exceed the budget; `declared` frames come
        from a header, so the message says the file claims them."""
        seconds = frames / sample_rate
        what = "declares" if declared else "holds at least"
        if self.max_seconds is not None and seconds > self.max_seconds:
            raise AudioDecodeError(f"{label}: audio is longer than the {self.max_seconds:g} s limit (the file "
                                   f"{what} {seconds:.1f} s)")
        if self.max_samples is not None and frames * channels > self.max_samples:
            raise AudioDecodeError(f"{label}: audio exceeds the decode limit of {self.max_samples:,} samples "
                                   f"(the file {what} {frames * channels:,}: {channels} channel(s) at "
                                   f"{sample_rate} Hz)")


UNLIMITED = DecodeBudget(None, None)
# The command line and the Python API: long recordings are streamed, so the limit only bounds the work
# one input can ask for (12 hours of audio).
DEFAULT_DECODE_BUDGET = DecodeBudget.for_duration(12 * 3600)
# For services that decode uploads from anyone: 10 minutes, decoded whole in memory (at most ~460 MB).
SERVER_DECODE_BUDGET = DecodeBudget.for_duration(10 * 60)


def check_sample_rate(label: str, sample_rate: float) -> int:
    """The rate as an int, or an `AudioDecodeError` when it is outside the accepted range."""
    if not (isinstance(sample_rate, (int, np.integer)) or float(sample_rate).is_integer()):
        raise AudioDecodeError(f"{label}: sample rate {sample_rate!r} is not a whole number of Hz")
    rate = int(sample_rate)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioDecodeError(f"{label}: sample rate {rate} Hz is outside the accepted "
                               f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")
    return rate


class AmplitudeLimiter:
    """Scales audio that goes beyond full scale (|x| > 1) back to a peak of 1 before any analysis.

    Float files may hold any finite value, e.g. int16 values written as floats (peak 32768) or garbage
    near 1e38; squared, such values overflow float32 and turn every later statistic into NaN. A stream
    is scaled by the loudest sample seen so far, so blocks after a louder one are scaled further.
    """

    def __init__(self) -> None:
        self.peak = 1.0
        self.warnings: list[str] = []

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        if samples.size == 0:
            return samples
        peak = float(np.max(np.abs(samples)))
        if peak > self.peak:
            if not self.warnings:
                self.warnings.append("")
            self.peak = peak
            self.warnings[0] = (f"samples exceed full scale (peak {self.peak:.3g}): scaled down to a peak of 1 "
                                "before analysis")
        if self.peak <= 1.0:
            return samples
        # float64 division: the quotient of two finite float32 values near their limit stays finite
        return (samples.astype(np.float64) / self.peak).astype(np.float32)
