"""Reading source clips and writing generated ones (16 kHz mono, atomic writes), plus level helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soxr

from deepfake_audio.audio import SAMPLE_RATE, audio_info, load_audio

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".aiff", ".aif"})
_FORMATS = {".flac": "FLAC", ".wav": "WAV"}


def resample(waveform: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a (time,) waveform; a no-op when the rates already match."""
    if from_rate == to_rate:
        return waveform.astype(np.float32, copy=False)
    return soxr.resample(waveform.astype(np.float32, copy=False), from_rate, to_rate).astype(np.float32)


def read_clip(path: Path) -> tuple[np.ndarray, int]:
    """Decode a file to a (time,) float32 waveform at 16 kHz; also return its original sample rate."""
    waveform = load_audio(path).numpy()
    return waveform, audio_info(path).sample_rate


def write_clip(path: Path, waveform: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write a (time,) waveform as 16-bit FLAC/WAV (by suffix), atomically: a killed job leaves no half file."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    sf.write(
        str(tmp), np.clip(waveform, -1.0, 1.0), sample_rate, format=_FORMATS[path.suffix], subtype="PCM_16"
    )
    os.replace(tmp, path)


def rms(waveform: np.ndarray) -> float:
    """Root-mean-square level."""
    return float(np.sqrt(np.mean(np.square(waveform, dtype=np.float64)))) if waveform.size else 0.0


def match_rms(waveform: np.ndarray, target_rms: float) -> np.ndarray:
    """Scale to `target_rms`, then down again if that would clip."""
    level = rms(waveform)
    out = waveform * (target_rms / level) if level > 1e-9 else waveform
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0.999:
        out = out * (0.999 / peak)
    return out.astype(np.float32)


def peak_normalise(waveform: np.ndarray, peak_db: float) -> np.ndarray:
    """Scale so the absolute peak sits at `peak_db` dBFS."""
    peak = float(np.max(np.abs(waveform))) if waveform.size else 0.0
    if peak < 1e-9:
        return waveform.astype(np.float32)
    return (waveform * (10 ** (peak_db / 20) / peak)).astype(np.float32)


def fit_length(waveform: np.ndarray, num_samples: int) -> np.ndarray:
    """Trim or zero-pad to `num_samples` (vocoders round to whole frames)."""
    if waveform.size >= num_samples:
        return waveform[:num_samples]
    return np.pad(waveform, (0, num_samples - waveform.size))
