"""Held-out scoring shared by bench/external.py and bench/shortcuts.py: clips, conditions, one detector pass.

A *condition* is a deterministic change to a 16 kHz waveform (a codec round trip, a resampling round trip,
a gain, added silence, a crop). Every clip is scored through `Detector.score_waveforms`, the same path as
`detect` (silence trimming, windows, aggregation), with the model's own threshold.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SAMPLE_RATE = 16_000
EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "external"


@dataclass(frozen=True)
class Clip:
    path: str
    bonafide: bool
    source: str
    system: str


def read_clips(manifest: Path) -> list[Clip]:
    with open(manifest, newline="", encoding="utf-8") as f:
        return [Clip(str(manifest.parent / r["path"]), r["label"] == "bonafide", r["source"], r["system"])
                for r in csv.DictReader(f)]


def load_waveforms(clips: list[Clip]) -> list[np.ndarray]:
    from deepfake_audio.audio import load_audio

    return [load_audio(c.path).numpy() for c in clips]


def _codec(codec: str, kbps: float) -> Callable[[np.ndarray], np.ndarray]:
    def apply(x: np.ndarray) -> np.ndarray:
        from deepfake_audio.augment import encode_decode

        return encode_decode(x, codec, kbps)

    return apply


def _resample(rate: int) -> Callable[[np.ndarray], np.ndarray]:
    def apply(x: np.ndarray) -> np.ndarray:
        import soxr

        back = soxr.resample(soxr.resample(x, SAMPLE_RATE, rate, quality="HQ"), rate, SAMPLE_RATE, quality="HQ")
        return np.asarray(back[: x.size], dtype=np.float32)

    return apply


def _gain(db: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: (x * 10 ** (db / 20)).astype(np.float32)


def _silence(seconds: float) -> Callable[[np.ndarray], np.ndarray]:
    pad = np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)
    return lambda x: np.concatenate([pad, x, pad])


def _centre_crop(seconds: float) -> Callable[[np.ndarray], np.ndarray]:
    def apply(x: np.ndarray) -> np.ndarray:
        n = round(seconds * SAMPLE_RATE)
        start = max(0, (x.size - n) // 2)
        return x[start : start + n]

    return apply


CONDITIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "clean": lambda x: x,
    "crop-4s": _centre_crop(4.0),
    "crop-2s": _centre_crop(2.0),
    "mp3-32": _codec("mp3", 32),
    "mp3-64": _codec("mp3", 64),
    "mp3-128": _codec("mp3", 128),
    "opus-24": _codec("opus", 24),
    "aac-64": _codec("aac", 64),
    "resample-8k": _resample(8_000),
    "resample-22.05k": _resample(22_050),
    "resample-24k": _resample(24_000),
    "gain+20dB": _gain(20.0),
    "gain-20dB": _gain(-20.0),
    "silence-1s": _silence(1.0),
}


def score_condition(detector, waveforms: list[np.ndarray], condition: str) -> np.ndarray:
    """Raw scores (bona-fide log-odds, higher = more bona fide) of every clip under `condition`."""
    change = CONDITIONS[condition]
    items = ((str(i), torch.from_numpy(np.ascontiguousarray(change(w), dtype=np.float32)))
             for i, w in enumerate(waveforms))
    scores = []
    # Metrics need a score for every clip: no clip is withheld as "no speech".
    for prediction in detector.score_waveforms(items, withhold_no_speech=False):
        if prediction.score is None:
            raise RuntimeError(f"clip {prediction.path} under {condition}: {prediction.error}")
        scores.append(prediction.score)
    return np.array(scores, dtype=np.float64)


def eer(bonafide: np.ndarray, spoof: np.ndarray) -> float:
    from deepfake_audio.metrics import compute_eer

    return float(compute_eer(bonafide, spoof)[0])


def stratified_subset(clips: list[Clip], per_source: int, seed: int = 0) -> list[int]:
    """Indices of up to `per_source` clips of each (source, label): for the costlier audits."""
    rng = np.random.default_rng(seed)
    out: list[int] = []
    keys = sorted({(c.source, c.bonafide) for c in clips})
    for key in keys:
        members = [i for i, c in enumerate(clips) if (c.source, c.bonafide) == key]
        out += sorted(rng.choice(members, size=min(per_source, len(members)), replace=False).tolist())
    return sorted(out)
