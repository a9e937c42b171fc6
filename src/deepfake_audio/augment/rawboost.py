"""RawBoost data boosting (Tak et al., ICASSP 2022), written from the paper's definitions.

Three noise families, with the defaults the paper's public recipe uses:

1. LnL, linear and non-linear convolutive noise: ``y = sum_{j=1..N_f} h_j * x**j``, where each ``h_j`` is a
   random multi-band notch FIR filter (a cascade of `num_bands` band-stop filters with random centre, width
   and length) scaled to a random peak gain; terms above the first order get a gain lowered by a random bias.
2. ISD, impulsive signal-dependent noise: a random ``beta`` in ``[0, P]`` percent of the samples, chosen at
   random, become ``x + g_sd * x * f`` with ``f`` the product of two uniform draws in ``[-1, 1]``.
3. SSI, stationary signal-independent noise: white noise coloured by a random notch filter and added at an SNR
   drawn in ``[min_snr_db, max_snr_db]``.

Combinations: 4 = 1 then 2 then 3, 5 = 1 then 2, 6 = 1 then 3, 7 = 2 then 3, 8 = 1 and 2 applied in parallel
to the input and summed; 0 does nothing. LnL, ISD and the parallel sum are rescaled to peak 1 only when their
peak exceeds 1. Filters are linear-phase and applied centred, so the output stays time-aligned with the input.
"""

from __future__ import annotations

import numpy as np

from deepfake_audio.augment.base import SAMPLE_RATE, BaseTransform, check_range, register_augmentation
from deepfake_audio.errors import require

RAWBOOST_ALGOS = {
    0: (),
    1: ("lnl",),
    2: ("isd",),
    3: ("ssi",),
    4: ("lnl", "isd", "ssi"),
    5: ("lnl", "isd"),
    6: ("lnl", "ssi"),
    7: ("isd", "ssi"),
    8: ("parallel",),  # LnL(x) + ISD(x)
}


def _peak_normalise_if_clipping(waveform: np.ndarray) -> np.ndarray:
    peak = np.max(np.abs(waveform)) if waveform.size else 0.0
    return waveform / peak if peak > 1.0 else waveform


@register_augmentation("rawboost")
class RawBoost(BaseTransform):
    """RawBoost algorithm `algo` (0-8, see the module docstring); output length equals input length.

    Parameter names map to the paper's recipe: `num_bands` = nBands, `min/max_center_hz` = minF/maxF,
    `min/max_bandwidth_hz` = minBW/maxBW, `min/max_coeffs` = minCoeff/maxCoeff (FIR taps per band),
    `min/max_gain_db` = minG/maxG, `min/max_nonlinear_bias_db` = minBiasLinNonLin/maxBiasLinNonLin,
    `nonlinear_order` = N_f, `max_impulse_percent` = P, `impulse_gain` = g_sd,
    `min/max_snr_db` = SNRmin/SNRmax.
    The published systems use algo 5 for logical-access data and algo 3 for deepfake data.
    """

    def __init__(
        self,
        algo: int = 5,
        num_bands: int = 5,
        min_center_hz: float = 20.0,
        max_center_hz: float = 8_000.0,
        min_bandwidth_hz: float = 100.0,
        max_bandwidth_hz: float = 1_000.0,
        min_coeffs: int = 10,
        max_coeffs: int = 100,
        min_gain_db: float = 0.0,
        max_gain_db: float = 0.0,
        min_nonlinear_bias_db: float = 5.0,
        max_nonlinear_bias_db: float = 20.0,
        nonlinear_order: int = 5,
        max_impulse_percent: float = 10.0,
        impulse_gain: float = 2.0,
        min_snr_db: float = 10.0,
        max_snr_db: float = 40.0,
        sample_rate: int = SAMPLE_RATE,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        if algo not in RAWBOOST_ALGOS or isinstance(algo, bool):
            raise ValueError(f"algo must be one of {sorted(RAWBOOST_ALGOS)}; got algo={algo!r}")
        self.algo = int(algo)
        self.sample_rate = int(sample_rate)
        nyquist = self.sample_rate / 2
        self.num_bands = _check_int("num_bands", num_bands, 1, 32)
        self.min_center_hz, self.max_center_hz = check_range(
            "min_center_hz", min_center_hz, "max_center_hz", max_center_hz, low=0.0, high=nyquist
        )
        self.min_bandwidth_hz, self.max_bandwidth_hz = check_range(
            "min_bandwidth_hz", min_bandwidth_hz, "max_bandwidth_hz", max_bandwidth_hz, low=1.0, high=nyquist
        )
        lo, hi = check_range("min_coeffs", min_coeffs, "max_coeffs", max_coeffs, low=3, high=2_000)
        self.min_coeffs, self.max_coeffs = (
            _check_int("min_coeffs", lo, 3, 2_000),
            _check_int("max_coeffs", hi, 3, 2_000),
        )
        self.min_gain_db, self.max_gain_db = check_range(
            "min_gain_db", min_gain_db, "max_gain_db", max_gain_db, low=-60.0, high=60.0
        )
        self.min_nonlinear_bias_db, self.max_nonlinear_bias_db = check_range(
            "min_nonlinear_bias_db",
            min_nonlinear_bias_db,
            "max_nonlinear_bias_db",
            max_nonlinear_bias_db,
            low=0.0,
        )
        self.nonlinear_order = _check_int("nonlinear_order", nonlinear_order, 1, 10)
        if not 0.0 <= float(max_impulse_percent) <= 100.0:
            raise ValueError(
                f"max_impulse_percent must be in [0, 100]; got max_impulse_percent={max_impulse_percent}"
            )
        self.max_impulse_percent = float(max_impulse_percent)
        if not 0.0 <= float(impulse_gain) <= 100.0:
            raise ValueError(f"impulse_gain must be in [0, 100]; got impulse_gain={impulse_gain}")
        self.impulse_gain = float(impulse_gain)
        self.min_snr_db, self.max_snr_db = check_range("min_snr_db", min_snr_db, "max_snr_db", max_snr_db)

    def apply(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Run the configured RawBoost algorithm."""
        x = waveform.astype(np.float64)
        for step in RAWBOOST_ALGOS[self.algo]:
            if step == "lnl":
                x = self.convolutive(x, rng)
            elif step == "isd":
                x = self.impulsive(x, rng)
            elif step == "ssi":
                x = self.stationary(x, rng)
            else:
                x = _peak_normalise_if_clipping(self.convolutive(x, rng) + self.impulsive(x, rng))
        return x.astype(np.float32)

    def notch_filter(self, gain_db_range: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
        """Random multi-band notch FIR: `num_bands` cascaded band-stops, scaled to a random peak gain."""
        signal = require("scipy.signal", "augment")
        nyquist = self.sample_rate / 2
        taps = np.ones(1)
        for _ in range(self.num_bands):
            center_hz = rng.uniform(self.min_center_hz, self.max_center_hz)
            bandwidth_hz = rng.uniform(self.min_bandwidth_hz, self.max_bandwidth_hz)
            num_taps = (
                int(rng.integers(self.min_coeffs, self.max_coeffs + 1)) | 1
            )  # a band-stop FIR needs odd length
            # Band edges are kept strictly inside (0, Nyquist), as the filter design requires.
            low_hz = min(max(center_hz - bandwidth_hz / 2, 1e-3), nyquist - 2e-3)
            high_hz = min(max(center_hz + bandwidth_hz / 2, low_hz + 1e-3), nyquist - 1e-3)
            band = signal.firwin(num_taps, [low_hz, high_hz], window="hamming", fs=self.sample_rate)
            taps = np.convolve(taps, band)
        gain_db = rng.uniform(*gain_db_range)
        _, response = signal.freqz(taps, 1, worN=1024)
        return taps * 10.0 ** (gain_db / 20.0) / np.max(np.abs(response))

    def _filter(self, x: np.ndarray, taps: np.ndarray) -> np.ndarray:
        signal = require("scipy.signal", "augment")
        # The taps are symmetric (linear phase); "same" centring removes their group delay.
        return signal.fftconvolve(x, taps, mode="same")

    def convolutive(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Algorithm 1 (LnL): sum of notch-filtered powers of the input."""
        out = np.zeros_like(x)
        linear = (self.min_gain_db, self.max_gain_db)
        # Higher-order terms are quieter: their gain range is lowered by the bias range.
        nonlinear = (
            self.min_gain_db - self.max_nonlinear_bias_db,
            self.max_gain_db - self.min_nonlinear_bias_db,
        )
        for order in range(1, self.nonlinear_order + 1):
            taps = self.notch_filter(linear if order == 1 else nonlinear, rng)
            out += self._filter(np.power(x, order), taps)
        return _peak_normalise_if_clipping(out - out.mean())

    def impulsive(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Algorithm 2 (ISD): signal-dependent impulses on a random fraction of the samples."""
        percent = rng.uniform(0.0, self.max_impulse_percent)
        count = int(x.shape[0] * percent / 100.0)
        positions = rng.permutation(x.shape[0])[:count]
        factors = rng.uniform(-1.0, 1.0, count) * rng.uniform(-1.0, 1.0, count)
        out = x.copy()
        out[positions] += self.impulse_gain * x[positions] * factors
        return _peak_normalise_if_clipping(out)

    def stationary(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Algorithm 3 (SSI): coloured stationary noise added at a random SNR."""
        noise = self._filter(
            rng.standard_normal(x.shape[0]), self.notch_filter((self.min_gain_db, self.max_gain_db), rng)
        )
        snr_db = rng.uniform(self.min_snr_db, self.max_snr_db)
        noise_norm, signal_norm = np.linalg.norm(noise), np.linalg.norm(x)
        if noise_norm == 0.0 or signal_norm == 0.0:
            return x.copy()
        return x + noise * signal_norm / (noise_norm * 10.0 ** (snr_db / 20.0))


def _check_int(name: str, value: float, low: int, high: int) -> int:
    if int(value) != value or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}]; got {name}={value}")
    return int(value)
