"""LPC copy-synthesis: all-pole envelope per frame, driven by a pulse train (voiced) or noise (unvoiced).

Pure numpy and vectorised over frames (scipy.signal alone takes seconds to import).
"""

from __future__ import annotations

import numpy as np

from deepfake_audio.audio import SAMPLE_RATE
from deepfake_audio.synth.registry import Generator, Synthesis, register_generator

FRAME_LENGTH = 512  # 32 ms: long enough for an autocorrelation pitch of 60 Hz
HOP_LENGTH = FRAME_LENGTH // 2  # a periodic Hann window at 50% overlap sums to one
FILTER_FFT = 4096  # all-pole filtering in the frequency domain; responses die out well within this
MIN_F0, MAX_F0 = 60.0, 400.0  # Hz
PRE_EMPHASIS = 0.97
VOICING_THRESHOLD = 0.4  # normalised autocorrelation peak above which a frame counts as voiced


def autocorrelation(frames: np.ndarray, max_lag: int) -> np.ndarray:
    """(frames, max_lag + 1) autocorrelation of each row, computed through the FFT."""
    spectrum = np.fft.rfft(frames, 2 * frames.shape[1], axis=1)
    return np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, : max_lag + 1]


def levinson(r: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Levinson-Durbin on each row of `r`: polynomials `a` (rows, order + 1, a[:, 0] = 1) and residual power."""
    a = np.zeros((r.shape[0], order + 1))
    a[:, 0] = 1.0
    error = r[:, 0].copy()
    for i in range(1, order + 1):
        k = -(r[:, i] + np.sum(a[:, 1:i] * r[:, i - 1 : 0 : -1], axis=1)) / error
        a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1 : 0 : -1]
        a[:, i] = k
        error = error * (1.0 - k**2)
    return a, error


def estimate_f0(frames: np.ndarray) -> np.ndarray:
    """Autocorrelation pitch of each windowed frame in Hz; 0.0 where a frame looks unvoiced."""
    size = frames.shape[1]
    r = autocorrelation(frames, size - 1)
    energy = np.maximum(r[:, :1], 1e-10)
    # Dividing by the overlap length removes the window's linear decay of the autocorrelation.
    r = r / energy / (1 - np.arange(size) / size)
    lo, hi = int(SAMPLE_RATE / MAX_F0), int(SAMPLE_RATE / MIN_F0)
    lags = lo + np.argmax(r[:, lo:hi], axis=1)
    peaks = r[np.arange(r.shape[0]), lags]
    voiced = (peaks > VOICING_THRESHOLD) & (energy[:, 0] > 1e-8)
    f0 = np.where(voiced, SAMPLE_RATE / lags, 0.0)
    # A 3-frame median removes isolated octave jumps and voicing flips.
    padded = np.pad(f0, 1, mode="edge")
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


def excitation(f0_per_sample: np.ndarray, noise_mix: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-power source: a pulse train following the F0 track where voiced, white noise elsewhere."""
    voiced = f0_per_sample > 0
    phase = np.cumsum(np.where(voiced, f0_per_sample, 0.0) / SAMPLE_RATE)
    pulses = np.zeros_like(phase)
    wraps = np.flatnonzero(np.diff(np.floor(phase)) > 0) + 1
    # A pulse of height sqrt(period) has unit power over that period.
    pulses[wraps] = np.sqrt(SAMPLE_RATE / np.maximum(f0_per_sample[wraps], MIN_F0))
    noise = rng.standard_normal(phase.size)
    mixed = np.sqrt(1 - noise_mix) * pulses + np.sqrt(noise_mix) * noise
    return np.where(voiced, mixed, noise)


@register_generator("lpc")
class LPC(Generator):
    """Frame-wise LPC analysis, pitch-driven excitation, overlap-add resynthesis."""

    description = "copy-synthesis: LPC vocoder, pulse-train/noise excitation from an autocorrelation pitch"
    kind = "copy"

    def generate(self, source: np.ndarray | str, rng: np.random.Generator) -> Synthesis:
        """Copy-synthesise a (time,) float32 16 kHz waveform."""
        assert isinstance(source, np.ndarray)
        order = int(rng.integers(12, 21))
        noise_mix = float(rng.uniform(0.0, 0.3))
        x = source.astype(np.float64)
        x = np.pad(np.r_[x[0], x[1:] - PRE_EMPHASIS * x[:-1]], (HOP_LENGTH, FRAME_LENGTH))
        window = np.hanning(FRAME_LENGTH + 1)[:-1]
        frames = np.lib.stride_tricks.sliding_window_view(x, FRAME_LENGTH)[::HOP_LENGTH] * window
        starts = np.arange(frames.shape[0]) * HOP_LENGTH

        f0 = estimate_f0(frames)
        # Each sample takes its nearest frame's voicing decision and the interpolated F0 within it.
        f0_per_sample = np.interp(np.arange(x.size), starts + FRAME_LENGTH // 2, f0)
        nearest = np.clip(np.round((np.arange(x.size) - FRAME_LENGTH // 2) / HOP_LENGTH), 0, f0.size - 1)
        f0_per_sample[f0[nearest.astype(int)] == 0] = 0.0
        source_frames = excitation(f0_per_sample, noise_mix, rng)[starts[:, None] + np.arange(FRAME_LENGTH)]

        r = autocorrelation(frames, order)
        r[:, 0] = np.maximum(r[:, 0] * (1.0 + 1e-6), 1e-10)  # white-noise correction keeps Levinson stable
        a, residual = levinson(r, order)
        gain = np.sqrt(np.maximum(residual, 0.0) / np.sum(window**2))
        # The all-pole filter and the de-emphasis filter, applied together in the frequency domain.
        denominator = np.fft.rfft(a, FILTER_FFT, axis=1) * np.fft.rfft([1.0, -PRE_EMPHASIS], FILTER_FFT)
        spectrum = np.fft.rfft(source_frames, FILTER_FFT, axis=1) * gain[:, None] / denominator
        filtered = np.fft.irfft(spectrum, FILTER_FFT, axis=1)[:, :FRAME_LENGTH] * window

        y = np.zeros(x.size)
        np.add.at(y, starts[:, None] + np.arange(FRAME_LENGTH), filtered)
        y = y[HOP_LENGTH : HOP_LENGTH + source.size]
        params = {"order": order, "noise_mix": round(noise_mix, 3)}
        return Synthesis(y.astype(np.float32), SAMPLE_RATE, params)
