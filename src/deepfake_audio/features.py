"""Feature front-ends as batched, device-agnostic torch modules: `(batch, time)` -> `(batch, feat, frames)`.

Filterbanks, windows and DCT matrices are built here in numpy (no librosa or torchaudio at run time) and
registered as non-persistent buffers, so they follow `.to(device)` yet never enter a checkpoint. Every
front-end also casts them to the input's device and dtype, so the output always follows the input.
All STFTs are centred with zero padding: `num_frames = 1 + num_samples // hop_length`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

AMIN = 1e-10  # power floor before the log, as librosa.power_to_db


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """Slaney-style mel filterbank with Slaney area normalisation, `(n_mels, n_fft // 2 + 1)` float64.

    Same definition as `librosa.filters.mel(htk=False, norm='slaney')`: triangles whose corners are
    equally spaced on the Slaney mel scale, each scaled to unit area over its Hz width.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    bin_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    corners = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    widths = np.diff(corners)
    # distance from every corner to every bin, in Hz; rising and falling slopes of each triangle
    offsets = corners[:, None] - bin_hz[None, :]
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights * (2.0 / (corners[2:] - corners[:-2]))[:, None]


def linear_filterbank(sample_rate: int, n_fft: int, n_filters: int) -> np.ndarray:
    """Triangles with peak 1, equally spaced in Hz over the full band, `(n_filters, n_fft // 2 + 1)`."""
    bin_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    corners = np.linspace(0, sample_rate / 2, n_filters + 2)
    left, centre, right = corners[:-2, None], corners[1:-1, None], corners[2:, None]
    rising = (bin_hz - left) / (centre - left)
    falling = (right - bin_hz) / (right - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II as a `(n_out, n_in)` matrix (first `n_out` rows; scipy's `dct(norm='ortho')`)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    return basis


def deltas(features: torch.Tensor) -> torch.Tensor:
    """First difference over frames, `x[t+1] - x[t-1]`, repeating the edge frames (ASVspoof baseline)."""
    padded = torch.cat([features[..., :1], features, features[..., -1:]], dim=-1)
    return padded[..., 2:] - padded[..., :-2]


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    # Slaney scale: linear (3 mels per 200 Hz) below 1 kHz, logarithmic above
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz * 3.0 / 200.0
    log_region = hz >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    hz = mel * 200.0 / 3.0
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), hz)


def _power_to_db(power: torch.Tensor, top_db: float | None) -> torch.Tensor:
    """10 log10(power) with ref 1.0; `top_db` clips each clip (not the batch) below its own peak."""
    db = 10.0 * torch.log10(power.clamp(min=AMIN))
    if top_db is not None:
        db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - top_db)
    return db


class _StftFrontend(nn.Module):
    """Shared centred, zero-padded power STFT. Subclasses set `num_features`."""

    num_features: int

    def __init__(self, n_fft: int, hop_length: int, win_length: int | None, window: str) -> None:
        super().__init__()
        win_length = n_fft if win_length is None else win_length
        if not 0 < win_length <= n_fft or hop_length <= 0:
            raise ValueError(
                f"need 0 < win_length <= n_fft and hop_length > 0; got n_fft={n_fft}, "
                f"win_length={win_length}, hop_length={hop_length}"
            )
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        windows = {"hann": torch.hann_window, "hamming": torch.hamming_window}
        self.register_buffer("window", windows[window](win_length, dtype=torch.float64), persistent=False)
        # ONNX has no complex STFT: for export the same transform runs as a strided convolution with a
        # windowed DFT basis (see `deepfake_audio.onnx_export`).
        self.stft_as_convolution = False

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for `num_samples` of audio."""
        return 1 + num_samples // self.hop_length

    def _buffer(self, name: str, like: torch.Tensor) -> torch.Tensor:
        return getattr(self, name).to(device=like.device, dtype=like.dtype)

    def _power(self, waveform: torch.Tensor) -> torch.Tensor:
        """(batch, time) -> (batch, n_fft // 2 + 1, frames) power spectrogram."""
        if waveform.dim() not in (1, 2):
            raise ValueError(f"expected a (batch, time) waveform, got shape {tuple(waveform.shape)}")
        if self.stft_as_convolution:
            return self._power_by_convolution(waveform)
        spec = torch.stft(
            waveform,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self._buffer("window", waveform),
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        # Not abs()**2: its gradient is NaN at 0. Accumulating in place saves a full-size temporary.
        return spec.real.square().addcmul_(spec.imag, spec.imag)

    def _power_by_convolution(self, waveform: torch.Tensor) -> torch.Tensor:
        """The same power spectrogram as `torch.stft` (centred, zero-padded), from real operations only."""
        squeeze = waveform.dim() == 1
        x = waveform.reshape(-1, 1, waveform.shape[-1])
        pad = self.n_fft // 2
        x = F.pad(x, (pad, pad))
        window = torch.zeros(self.n_fft, dtype=torch.float64)
        offset = (self.n_fft - self.win_length) // 2  # torch.stft centres a shorter window in n_fft
        window[offset : offset + self.win_length] = self.window.cpu()
        bins = torch.arange(self.n_fft // 2 + 1, dtype=torch.float64)[:, None]
        angle = 2 * torch.pi * bins * torch.arange(self.n_fft, dtype=torch.float64)[None, :] / self.n_fft
        basis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])  # (2 * bins, n_fft)
        out = F.conv1d(x, basis[:, None, :].to(x.dtype).to(x.device), stride=self.hop_length)
        real, imag = out.chunk(2, dim=1)
        power = real.square() + imag.square()  # (batch, bins, frames)
        return power[0] if squeeze else power

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}"


class LogMel(_StftFrontend):
    """Log mel spectrogram in dB (librosa `melspectrogram` + `power_to_db`), `(batch, n_mels, frames)`."""

    def __init__(
        self,
        sample_rate: int = 16_000,
        n_fft: int = 512,
        hop_length: int = 160,
        n_mels: int = 80,
        top_db: float | None = 80.0,
        win_length: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
    ) -> None:
        super().__init__(n_fft, hop_length, win_length, "hann")
        self.top_db = top_db
        self.num_features = n_mels
        fbank = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
        self.register_buffer("mel_fb", torch.from_numpy(fbank), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        mel = self._buffer("mel_fb", waveform) @ self._power(waveform)  # (batch, n_mels, frames)
        return _power_to_db(mel, self.top_db)


class MFCC(LogMel):
    """MFCCs matching `librosa.feature.mfcc` (0.11 defaults) to float32 precision, `(batch, n_mfcc, frames)`.

    Hann window, centred zero-padded STFT, power 2, Slaney mel filterbank, dB with ref 1.0 and
    `top_db` applied per clip, then an orthonormal DCT-II.
    """

    def __init__(
        self,
        sample_rate: int = 16_000,
        n_mfcc: int = 20,
        n_fft: int = 512,
        hop_length: int = 160,
        n_mels: int = 128,
        top_db: float | None = 80.0,
        win_length: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
    ) -> None:
        if not 0 < n_mfcc <= n_mels:
            raise ValueError(f"need 0 < n_mfcc <= n_mels; got n_mfcc={n_mfcc}, n_mels={n_mels}")
        super().__init__(sample_rate, n_fft, hop_length, n_mels, top_db, win_length, f_min, f_max)
        self.num_features = n_mfcc
        self.register_buffer("dct", torch.from_numpy(dct_matrix(n_mfcc, n_mels)), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        log_mel = super().forward(waveform)  # (batch, n_mels, frames)
        # A DCT-II row 0 turns a constant c into c * sqrt(n_mels) and the other rows into 0. Taking each
        # frame's mean out first keeps the float32 sums small: quiet clips sit near -100 dB, and summing
        # those directly loses ~1e-3 against librosa.
        offset = log_mel.mean(dim=-2, keepdim=True)  # (batch, 1, frames)
        mfcc = self._buffer("dct", waveform) @ (log_mel - offset)  # (batch, n_mfcc, frames)
        first = mfcc[..., :1, :] + offset * math.sqrt(log_mel.shape[-2])
        return torch.cat([first, mfcc[..., 1:, :]], dim=-2)


class LFCC(_StftFrontend):
    """Linear-frequency cepstral coefficients as in the ASVspoof 2021 LFCC-LCNN baseline.

    Pre-emphasis 0.97, Hamming window, power spectrum, `n_filters` peak-1 triangles spread linearly
    over the full band, log10, orthonormal DCT; coefficient 0 is replaced by the log frame energy
    (`with_energy`), then deltas and double deltas are stacked: `(batch, 3 * n_lfcc, frames)`.
    """

    def __init__(
        self,
        sample_rate: int = 16_000,
        n_lfcc: int = 20,
        win_length: int = 320,
        hop_length: int = 160,
        n_fft: int = 512,
        n_filters: int = 20,
        with_deltas: bool = True,
        with_energy: bool = True,
        pre_emphasis: float = 0.97,
    ) -> None:
        if not 0 < n_lfcc <= n_filters:
            raise ValueError(f"need 0 < n_lfcc <= n_filters; got n_lfcc={n_lfcc}, n_filters={n_filters}")
        super().__init__(n_fft, hop_length, win_length, "hamming")
        self.with_deltas, self.with_energy, self.pre_emphasis = with_deltas, with_energy, pre_emphasis
        self.num_features = n_lfcc * (3 if with_deltas else 1)
        fbank = linear_filterbank(sample_rate, n_fft, n_filters)
        self.register_buffer("linear_fb", torch.from_numpy(fbank), persistent=False)
        self.register_buffer("dct", torch.from_numpy(dct_matrix(n_lfcc, n_filters)), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        eps = torch.finfo(torch.float32).eps  # the baseline's log floor
        if self.pre_emphasis:
            rest = waveform[..., 1:] - self.pre_emphasis * waveform[..., :-1]
            waveform = torch.cat([waveform[..., :1], rest], dim=-1)
        power = self._power(waveform)  # (batch, freq, frames)
        log_fb = torch.log10(self._buffer("linear_fb", waveform) @ power + eps)
        lfcc = self._buffer("dct", waveform) @ log_fb  # (batch, n_lfcc, frames)
        if self.with_energy:
            energy = torch.log10(power.sum(dim=-2, keepdim=True) / self.n_fft + eps)
            lfcc = torch.cat([energy, lfcc[..., 1:, :]], dim=-2)
        if not self.with_deltas:
            return lfcc
        delta = deltas(lfcc)
        return torch.cat([lfcc, delta, deltas(delta)], dim=-2)  # (batch, 3 * n_lfcc, frames)


class LinearSpectrogram(_StftFrontend):
    """Log power spectrogram (dB) on a linear frequency axis, `(batch, freq_bins, frames)`.

    With `freq_bins`, the power is averaged over contiguous bands of FFT bins first (adaptive average
    pooling written as a matrix product), a cheap way to cut resolution for small CPU models.
    """

    def __init__(
        self, n_fft: int = 512, hop_length: int = 160, win_length: int = 400, freq_bins: int | None = None
    ) -> None:
        super().__init__(n_fft, hop_length, win_length, "hann")
        num_bins = n_fft // 2 + 1
        if freq_bins is not None and not 0 < freq_bins <= num_bins:
            raise ValueError(f"freq_bins must be in [1, {num_bins}] for n_fft={n_fft}; got {freq_bins}")
        self.num_features = num_bins if freq_bins is None else freq_bins
        self.register_buffer(
            "pool", torch.from_numpy(_band_average(num_bins, self.num_features)), persistent=False
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        power = self._power(waveform)  # (batch, n_fft // 2 + 1, frames)
        if self.num_features != power.shape[-2]:
            power = self._buffer("pool", waveform) @ power  # (batch, freq_bins, frames)
        return _power_to_db(power, top_db=None)


class BandAnalysis(NamedTuple):
    """What `BandFlatness.analyse` measures in one pass."""

    flatness: torch.Tensor  # log spectral flatness, (batch, bands, frames)
    band_log_power: torch.Tensor  # natural log of mean power per band, (batch, bands, frames)
    energy_db: torch.Tensor  # frame energy in dB, (batch, frames)
    power: torch.Tensor  # power per FFT bin, before the floor, (batch, bins, frames)


class BandFlatness(_StftFrontend):
    """Spectral flatness per linear band and frame, as a log ratio, `(batch, bands, frames)`.

    Flatness is the geometric over the arithmetic mean of the power in a band of FFT bins: close to 0
    (log: large and negative) where the band holds clean harmonics, close to 1 (log: about 0) where it
    is noise-like. It is blind to
    gain and to any colouration that is smooth across a band (microphone, room, a collection's EQ),
    which is what made one threshold fail across collections for level-based features; and vocoders
    get the balance between harmonics and noise in each band measurably wrong. Measured on the
    development corpus (bench/generalisation.py), it is the feature that carries across sources.
    """

    def __init__(
        self,
        n_fft: int = 512,
        hop_length: int = 160,
        win_length: int = 400,
        bands: int = 32,
        floor_db: float = -80.0,
    ) -> None:
        super().__init__(n_fft, hop_length, win_length, "hann")
        num_bins = n_fft // 2 + 1
        if not 0 < bands <= num_bins - 1:
            raise ValueError(f"bands must be in [1, {num_bins - 1}] for n_fft={n_fft}; got {bands}")
        if floor_db >= 0:
            raise ValueError(f"floor_db must be negative (dB below each frame's loudest bin); got {floor_db}")
        self.num_features = bands
        # Power added to every bin, relative to its frame's loudest bin: detail below it is not seen.
        # Float32 STFTs carry rounding noise near -140 dB, so floors much deeper than that add nothing.
        self.relative_floor = 10.0 ** (floor_db / 10.0)
        # Bands tile bins 1..n_fft/2; the DC bin says nothing about the source and only adds offset noise.
        pool = np.zeros((bands, num_bins))
        pool[:, 1:] = _band_average(num_bins - 1, bands)
        self.register_buffer("pool", torch.from_numpy(pool), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.analyse(waveform).flatness

    def analyse(self, waveform: torch.Tensor) -> BandAnalysis:
        """Log flatness and log power per band, and frame energy in dB, all from one STFT."""
        raw_power = self._power(waveform)  # (batch, bins, frames)
        energy_db = 10 * torch.log10(raw_power.sum(dim=-2) + 1e-10)
        # A floor relative to each frame's loudest bin hides detail far below the speech without letting
        # the absolute level matter; the tiny absolute term keeps digital silence and exact zeros finite.
        power = raw_power + (raw_power.amax(dim=-2, keepdim=True) * self.relative_floor + 1e-20)
        pool = self._buffer("pool", waveform)
        band_log_power = torch.log(pool @ power)
        return BandAnalysis(pool @ torch.log(power) - band_log_power, band_log_power, energy_db, raw_power)


def _band_average(num_in: int, num_out: int) -> np.ndarray:
    """`(num_out, num_in)` matrix averaging the same bands as `adaptive_avg_pool1d`."""
    matrix = np.zeros((num_out, num_in))
    for band in range(num_out):
        start, end = (band * num_in) // num_out, -(-((band + 1) * num_in) // num_out)
        matrix[band, start:end] = 1.0 / (end - start)
    return matrix


FRONTENDS: dict[str, type[nn.Module]] = {
    "mfcc": MFCC,
    "logmel": LogMel,
    "lfcc": LFCC,
    "linear_spectrogram": LinearSpectrogram,
    "band_flatness": BandFlatness,
}


def build_frontend(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered front-end by name; unknown names raise `ValueError` listing the valid ones."""
    if name not in FRONTENDS:
        raise ValueError(f"unknown front-end {name!r}; available: {', '.join(sorted(FRONTENDS))}")
    return FRONTENDS[name](**kwargs)
