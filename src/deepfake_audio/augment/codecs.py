"""Lossy codec round trips in memory: MP3, Opus, AAC, AMR-NB (PyAV's bundled FFmpeg) and GSM (pedalboard)."""

from __future__ import annotations

import io
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

CODECS = ("mp3", "opus", "aac", "gsm", "amr")
DEFAULT_CODECS = ("mp3", "opus", "aac", "gsm")
NARROWBAND_RATE = 8_000  # GSM full rate and AMR-NB only run at 8 kHz

# FFmpeg encoder, in-memory container, and the bit-rate range (kbps) it accepts for mono speech.
_AV_CODECS = {
    "mp3": ("libmp3lame", "mp3", (8.0, 160.0)),
    "opus": ("libopus", "ogg", (6.0, 256.0)),
    "aac": ("aac", "adts", (12.0, 128.0)),
    "amr": ("libopencore_amrnb", "amr", (4.75, 12.2)),
}
_AMR_MODES_KBPS = (4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2, 12.2)  # AMR-NB has eight fixed modes
_SUPPORTED_RATES = (8_000, 16_000, 24_000, 48_000)  # rates that MP3, Opus and AAC all encode natively
_MAX_FRAME_OFFSET = 1_024  # random silence prepended so codec frame boundaries fall at a random phase
_MAX_CODEC_DELAY = 4_096  # larger than any encoder delay seen here (AAC priming: 1,024 samples)


def _av_roundtrip(waveform: np.ndarray, sample_rate: int, codec: str, bitrate_kbps: float) -> np.ndarray:
    """FFmpeg encode/decode round trip in memory; returns the decoded audio at `sample_rate`, unaligned."""
    av = require("av", "augment")
    encoder, container_format, _ = _AV_CODECS[codec]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as container:
        stream = container.add_stream(encoder, rate=sample_rate, layout="mono")
        stream.bit_rate = round(bitrate_kbps * 1000)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(waveform, dtype=np.float32)[None, :], format="flt", layout="mono"
        )
        frame.sample_rate = sample_rate
        # PyAV re-frames and converts the sample format to what the encoder needs.
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    buffer.seek(0)
    # Opus always decodes at 48 kHz; the resampler brings every codec back to float mono at `sample_rate`.
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    pieces = []
    with av.open(buffer, "r") as container:
        for decoded in container.decode(audio=0):
            pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(decoded))
        pieces.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def _gsm_roundtrip(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """GSM 06.10 full-rate round trip through pedalboard (which resamples to 8 kHz inside)."""
    pedalboard = require("pedalboard", "augment")
    codec = pedalboard.GSMFullRateCompressor()
    out = codec(np.ascontiguousarray(waveform, dtype=np.float32)[None, :], float(sample_rate))
    return np.asarray(out[0], dtype=np.float32)


def align_to_reference(decoded: np.ndarray, reference: np.ndarray, max_delay: int) -> np.ndarray:
    """Shift `decoded` by the lag in ``[-64, max_delay]`` best correlated with `reference`; same length."""
    signal = require("scipy.signal", "augment")
    n = reference.shape[0]
    if decoded.size == 0:
        return np.zeros(n, dtype=np.float32)
    correlation = signal.correlate(
        decoded.astype(np.float64), reference.astype(np.float64), "full", method="fft"
    )
    lags = np.arange(-(n - 1), decoded.shape[0])  # index i of the full correlation is lag i - (n - 1)
    window = (lags >= -64) & (lags <= max_delay)
    lag = int(lags[window][np.argmax(correlation[window])]) if np.any(correlation[window]) else 0
    if lag < 0:
        decoded = np.pad(decoded, (-lag, 0))
        lag = 0
    return fit_length(decoded[lag:], n)


@register_augmentation("codec")
class Codec(BaseTransform):
    """Encode and decode with a lossy codec chosen at random from `codecs`; output length equals input length.

    Bit rates are drawn uniformly in ``[min_bitrate_kbps, max_bitrate_kbps]`` and clipped to what each encoder
    accepts (MP3 8-160, Opus 6-256, AAC 12-128 kbps; the encoder may round to its nearest rate). GSM full rate
    has a fixed 13 kbps and AMR-NB picks one of its eight modes (4.75-12.2 kbps); both run at 8 kHz. Up to
    1,024 samples of silence are prepended at random so frame boundaries move between calls; the encoder delay
    and that offset are then removed by cross-correlating the decoded audio with the input. Peaks above full
    scale are scaled down before encoding and restored after.
    """

    def __init__(
        self,
        codecs: str | Sequence[str] = DEFAULT_CODECS,
        min_bitrate_kbps: float = 16.0,
        max_bitrate_kbps: float = 64.0,
        sample_rate: int = SAMPLE_RATE,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        names = check_choices("codecs", codecs, CODECS)
        self.codecs = [names[0]] if isinstance(codecs, str) else list(names)
        self.min_bitrate_kbps, self.max_bitrate_kbps = check_range(
            "min_bitrate_kbps", min_bitrate_kbps, "max_bitrate_kbps", max_bitrate_kbps, low=4.0, high=256.0
        )
        if int(sample_rate) not in _SUPPORTED_RATES:
            raise ValueError(f"sample_rate must be one of {_SUPPORTED_RATES}; got sample_rate={sample_rate}")
        self.sample_rate = int(sample_rate)

    def apply(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Round-trip the clip through a random codec at a random bit rate."""
        codec = self.codecs[int(rng.integers(len(self.codecs)))]
        bitrate_kbps = rng.uniform(self.min_bitrate_kbps, self.max_bitrate_kbps)
        offset = int(rng.integers(0, _MAX_FRAME_OFFSET))
        if codec == "amr":
            bitrate_kbps = _AMR_MODES_KBPS[int(rng.integers(len(_AMR_MODES_KBPS)))]
        elif codec in _AV_CODECS:
            low, high = _AV_CODECS[codec][2]
            bitrate_kbps = float(np.clip(bitrate_kbps, low, high))
        return encode_decode(waveform, codec, bitrate_kbps, self.sample_rate, offset=offset)


def encode_decode(
    waveform: np.ndarray, codec: str, bitrate_kbps: float, sample_rate: int = SAMPLE_RATE, *, offset: int = 0
) -> np.ndarray:
    """Deterministic codec round trip of a ``(time,)`` waveform, aligned and trimmed to the input length."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; valid: {', '.join(CODECS)}")
    reference = waveform.astype(np.float64)
    peak = float(np.max(np.abs(reference))) if reference.size else 0.0
    scale = 1.0 / peak if peak > 1.0 else 1.0  # lossy encoders clip beyond full scale
    padded = np.concatenate([np.zeros(offset), reference * scale]).astype(np.float32)
    if codec == "gsm":
        decoded = _gsm_roundtrip(padded, sample_rate)
    elif codec == "amr":
        soxr = require("soxr", "augment")
        narrow = soxr.resample(padded, sample_rate, NARROWBAND_RATE, quality="HQ")
        decoded = _av_roundtrip(narrow, NARROWBAND_RATE, codec, bitrate_kbps)
        decoded = soxr.resample(decoded, NARROWBAND_RATE, sample_rate, quality="HQ")
    else:
        decoded = _av_roundtrip(padded, sample_rate, codec, bitrate_kbps)
    aligned = align_to_reference(decoded, reference * scale, offset + _MAX_CODEC_DELAY)
    return (aligned / scale).astype(np.float32)
