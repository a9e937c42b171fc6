"""Channel effects: random band-limiting, and a narrow-band telephone line with 8-bit G.711 companding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepfake_audio.augment.base import (
    SAMPLE_RATE,
    BaseTransform,
    check_choices,
    check_range,
    fit_length,
    register_augmentation,
)
from deepfake_audio.errors import require

COMPANDING_LAWS = ("mu-law", "a-law")
TELEPHONE_RATE = 8_000  # narrow-band telephony (G.711) sample rate
_MU = 255.0  # G.711 mu-law constant
_A = 87.6  # G.711 A-law constant


def _zero_phase_filter(
    waveform: np.ndarray, order: int, cutoff_hz: float | list[float], btype: str, sample_rate: int
):
    """Butterworth filter run forwards and backwards, so that the output stays time-aligned with the input."""
    signal = require("scipy.signal", "augment")
    sos = signal.butter(order, cutoff_hz, btype=btype, fs=sample_rate, output="sos")
    # sosfiltfilt pads with reflected samples; clips shorter than its default padding get a shorter pad.
    padlen = min(3 * (2 * len(sos) + 1), waveform.shape[0] - 1)
    return signal.sosfiltfilt(sos, waveform, padlen=max(padlen, 0))


@register_augmentation("band_limit")
class BandLimit(BaseTransform):
    """Random high-pass and low-pass filtering (zero-phase Butterworth, `order` per pass).

    The high-pass cut-off is drawn in ``[min_highpass_hz, max_highpass_hz]`` (0 means no high-pass) and the
    low-pass cut-off in ``[min_lowpass_hz, max_lowpass_hz]`` (the Nyquist frequency means no low-pass).
    """

    def __init__(
        self,
        min_highpass_hz: float = 50.0,
        max_highpass_hz: float = 300.0,
        min_lowpass_hz: float = 3_400.0,
        max_lowpass_hz: float = 7_500.0,
        order: int = 8,
        sample_rate: int = SAMPLE_RATE,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        self.sample_rate = int(sample_rate)
        nyquist = self.sample_rate / 2
        self.min_highpass_hz, self.max_highpass_hz = check_range(
            "min_highpass_hz", min_highpass_hz, "max_highpass_hz", max_highpass_hz, low=0.0, high=nyquist
        )
        self.min_lowpass_hz, self.max_lowpass_hz = check_range(
            "min_lowpass_hz", min_lowpass_hz, "max_lowpass_hz", max_lowpass_hz, low=0.0, high=nyquist
        )
        if self.max_highpass_hz >= self.min_lowpass_hz:
            raise ValueError(
                f"max_highpass_hz must be below min_lowpass_hz; got max_highpass_hz={max_highpass_hz}, "
                f"min_lowpass_hz={min_lowpass_hz}"
            )
        if not 1 <= int(order) <= 16 or int(order) != order:
            raise ValueError(f"order must be an integer in [1, 16]; got order={order}")
        self.order = int(order)

    def apply(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Filter with random cut-offs."""
        highpass_hz = rng.uniform(self.min_highpass_hz, self.max_highpass_hz)
        lowpass_hz = rng.uniform(self.min_lowpass_hz, self.max_lowpass_hz)
        out = waveform.astype(np.float64)
        if waveform.shape[0] < 2:
            return waveform.copy()
        if highpass_hz > 0:
            out = _zero_phase_filter(out, self.order, highpass_hz, "highpass", self.sample_rate)
        if lowpass_hz < self.sample_rate / 2:
            out = _zero_phase_filter(out, self.order, lowpass_hz, "lowpass", self.sample_rate)
        return out.astype(np.float32)


def mu_law_roundtrip(waveform: np.ndarray, bits: int = 8) -> np.ndarray:
    """Compress with mu-law (mu=255), quantise to `bits` bits, expand; input in [-1, 1]."""
    levels = 2**bits
    compressed = np.sign(waveform) * np.log1p(_MU * np.abs(waveform)) / np.log1p(_MU)
    quantised = _quantise(compressed, levels)
    return np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(_MU)) / _MU


def a_law_roundtrip(waveform: np.ndarray, bits: int = 8) -> np.ndarray:
    """Compress with A-law (A=87.6), quantise to `bits` bits, expand; input in [-1, 1]."""
    levels = 2**bits
    magnitude = np.abs(waveform)
    denominator = 1.0 + np.log(_A)
    small = magnitude < 1.0 / _A
    compressed = np.where(
        small, _A * magnitude / denominator, (1.0 + np.log(np.maximum(_A * magnitude, 1.0))) / denominator
    )
    quantised = np.abs(_quantise(np.sign(waveform) * compressed, levels))
    expanded = np.where(
        quantised < 1.0 / denominator,
        quantised * denominator / _A,
        np.exp(quantised * denominator - 1.0) / _A,
    )
    return np.sign(waveform) * expanded


def _quantise(values: np.ndarray, levels: int) -> np.ndarray:
    """Uniform mid-rise quantiser on [-1, 1] with `levels` steps (8 bits: 256 codes, as in G.711)."""
    codes = np.clip(np.floor((values + 1.0) * levels / 2), 0, levels - 1)
    return (codes + 0.5) * 2 / levels - 1.0


@register_augmentation("telephone")
class Telephone(BaseTransform):
    """Simulate a narrow-band phone line: 8 kHz, band-pass, 8-bit mu-law or A-law, then back to `sample_rate`.

    Steps: resample to 8 kHz (soxr); band-pass ``[low_hz, high_hz]`` (4th-order zero-phase Butterworth);
    scale so the peak sits at a random level in ``[min_level_dbfs, max_level_dbfs]`` (the quantiser's noise
    depends on the level) and clip to full scale; compand and quantise to 8 bits with a law picked from
    `companding`; undo the level; resample back. Output length equals input length.
    """

    def __init__(
        self,
        companding: str | Sequence[str] = COMPANDING_LAWS,
        low_hz: float = 300.0,
        high_hz: float = 3_400.0,
        min_level_dbfs: float = -24.0,
        max_level_dbfs: float = 0.0,
        sample_rate: int = SAMPLE_RATE,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        laws = check_choices("companding", companding, COMPANDING_LAWS)
        self.companding = laws[0] if isinstance(companding, str) else list(laws)
        self._laws = laws
        self.low_hz, self.high_hz = check_range(
            "low_hz", low_hz, "high_hz", high_hz, low=0.0, high=TELEPHONE_RATE / 2
        )
        if not 0 < self.low_hz < self.high_hz < TELEPHONE_RATE / 2:
            raise ValueError(f"need 0 < low_hz < high_hz < 4000; got low_hz={low_hz}, high_hz={high_hz}")
        self.min_level_dbfs, self.max_level_dbfs = check_range(
            "min_level_dbfs", min_level_dbfs, "max_level_dbfs", max_level_dbfs, low=-60.0, high=20.0
        )
        self.sample_rate = int(sample_rate)

    def apply(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Pass the clip through the simulated telephone channel."""
        soxr = require("soxr", "augment")
        law = self._laws[int(rng.integers(len(self._laws)))]
        level_dbfs = rng.uniform(self.min_level_dbfs, self.max_level_dbfs)
        narrow = soxr.resample(waveform.astype(np.float64), self.sample_rate, TELEPHONE_RATE, quality="HQ")
        if narrow.shape[0] < 2:
            return waveform.copy()
        narrow = _zero_phase_filter(narrow, 4, [self.low_hz, self.high_hz], "bandpass", TELEPHONE_RATE)
        peak = np.max(np.abs(narrow))
        if peak == 0:
            return np.zeros_like(waveform)
        scale = 10.0 ** (level_dbfs / 20.0) / peak
        driven = np.clip(narrow * scale, -1.0, 1.0)
        decoded = (mu_law_roundtrip if law == "mu-law" else a_law_roundtrip)(driven) / scale
        wide = soxr.resample(decoded, TELEPHONE_RATE, self.sample_rate, quality="HQ")
        return fit_length(wide, waveform.shape[0]).astype(np.float32)
