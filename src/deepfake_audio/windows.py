"""Sliding windows over audio of any length, from whole tensors or from a stream of blocks.

A clip shorter than one window is tiled to the window length (as in training) and reported with its
true end time; for a model that accepts shorter input (`tile_short=False`) it is passed as it is, which
spares the model the work on repeated copies. Longer audio is covered by windows `hop` samples apart, plus one final window aligned to
the end so the tail is never dropped: nothing is silently truncated.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from deepfake_audio.audio import pad_or_trim

# Windows overlap by half unless the checkpoint says otherwise (`extra["window_hop"]`, a fraction of
# its window): a model whose segment rule was calibrated at another hop, or that trades overlap for
# speed on long files, stores its own. An explicit `hop` (the CLI's --hop) overrides both.
DEFAULT_HOP = 0.5
HOP_KEY = "window_hop"

SILENCE_DBFS = -60.0  # windows quieter than this hold no speech to judge
# Measured on the development corpus (silence-trimmed clips, `high_band_level_db`): full-band
# recordings keep a median -17 dB of their energy above 4 kHz (99.5% above -46 dB); all 400 clips first
# recorded at 8 kHz are below -50 dB (median -77 dB).
NARROWBAND_CUTOFF_HZ = 4_000
NARROWBAND_DB = -48.0
_HIGH_BAND_FRAME = 512  # samples per frame of the bandwidth check (32 ms)
# Speech level over the noise floor (`speech_over_floor_db`): loud frames (95th percentile of 25 ms
# frame energies) over quiet ones (10th). See NOISY_DB in pipeline/report.py for the measured threshold.
_FLOOR_FRAME = 400


@dataclass(frozen=True)
class Window:
    start: int  # first sample
    end: int  # one past the last real (untiled) sample
    samples: torch.Tensor  # (window,) the window length; shorter only for a short clip left untiled
    silent: bool
    high_band_db: float = 0.0  # energy above NARROWBAND_CUTOFF_HZ relative to the whole window, dB
    speech_over_floor_db: float = math.inf  # loud frames over quiet frames, dB (low: strong noise)


def window_hop(extra: Mapping[str, Any]) -> float:
    """The window hop (fraction of the window) a checkpoint asks for, or DEFAULT_HOP."""
    return float(extra.get(HOP_KEY, DEFAULT_HOP))


def tile_to_length(waveform: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Repeat a short waveform until it is `num_samples` long (zeros if it is empty)."""
    if waveform.numel() == 0:
        return torch.zeros(num_samples)
    return pad_or_trim(waveform, num_samples)


def is_silent(samples: torch.Tensor) -> bool:
    rms = samples.float().pow(2).mean().sqrt().item()
    return rms <= 10 ** (SILENCE_DBFS / 20)


def high_band_level_db(samples: torch.Tensor, sample_rate: int = 16_000,
                       cutoff_hz: float = NARROWBAND_CUTOFF_HZ) -> float:
    """Energy above `cutoff_hz` relative to all energy, in dB (-inf for silence).

    Estimated from every fourth 32 ms frame (Hann-tapered: without a taper, leakage from the cut
    edges alone reads as -45 dB of "high band"), which is plenty for a bandwidth check and keeps it
    a small fraction of scoring time.
    """
    frame = _HIGH_BAND_FRAME
    samples = samples.float()
    if samples.numel() >= frame:
        frames = samples[: samples.numel() // frame * frame].reshape(-1, frame)[::4]
    else:
        frames = torch.nn.functional.pad(samples, (0, frame - samples.numel()))[None]
    power = torch.fft.rfft(frames * _hann(frame)).abs().square().sum(dim=0)
    total = power.sum().item()
    if total <= 0:
        return float("-inf")
    first_high = round(cutoff_hz * frame / sample_rate)
    return 10 * math.log10(max(power[first_high:].sum().item(), 1e-30) / total)


def speech_over_floor_db(samples: torch.Tensor) -> float:
    """How far loud 25 ms frames rise above quiet ones, in dB: 95th over 10th percentile of frame energy.

    Speech has pauses and weak consonants, so a clean recording spans tens of dB; steady background
    noise fills the quiet frames and squeezes that span towards the signal-to-noise ratio.
    """
    frames = samples.float()[: samples.numel() // _FLOOR_FRAME * _FLOOR_FRAME].reshape(-1, _FLOOR_FRAME)
    if frames.shape[0] < 2:
        return math.inf
    energy_db = 10 * torch.log10(frames.square().mean(dim=1) + 1e-12)
    loud, quiet = torch.quantile(energy_db, torch.tensor([0.95, 0.10])).tolist()
    return loud - quiet


@functools.cache
def _hann(length: int) -> torch.Tensor:
    return torch.hann_window(length, periodic=False)


def _window(start: int, end: int, samples: torch.Tensor) -> Window:
    return Window(start, end, samples, is_silent(samples), high_band_level_db(samples),
                  speech_over_floor_db(samples))


def iter_windows(blocks: Iterable[torch.Tensor], window: int, hop: int, *, tile_short: bool = True) -> Iterator[Window]:
    """Cut consecutive blocks of one recording into windows, holding at most a block plus a window.

    A recording shorter than one window gives one window: tiled to the window length, or (`tile_short`
    false) its own samples. Its warning measures are the same either way.
    """
    if hop <= 0 or hop > window:
        raise ValueError(f"hop must be in (0, window]; got hop={hop}, window={window}")
    buffer = torch.zeros(0)
    offset = 0  # absolute index of buffer[0]
    next_start = 0
    last_end = 0
    for block in blocks:
        buffer = torch.cat([buffer, block.float()])
        while next_start + window <= offset + buffer.numel():
            samples = buffer[next_start - offset : next_start - offset + window]
            yield _window(next_start, next_start + window, samples)
            last_end = next_start + window
            next_start += hop
        # Keep what later windows (or the final end-aligned one) may still need.
        keep_from = max(offset, min(next_start, offset + buffer.numel() - window))
        buffer = buffer[keep_from - offset :]
        offset = keep_from
    total = offset + buffer.numel()
    if last_end == 0:
        tiled = tile_to_length(buffer, window)
        samples = tiled if tile_short or total == 0 else buffer
        yield Window(0, total, samples, is_silent(buffer) if total else True, high_band_level_db(tiled),
                     speech_over_floor_db(buffer))
    elif last_end < total:
        samples = buffer[-window:]
        yield _window(total - window, total, samples)


def windows_of(waveform: torch.Tensor, window: int, hop: int, *, tile_short: bool = True) -> list[Window]:
    """All windows of an in-memory waveform `(time,)`."""
    return list(iter_windows([waveform], window, hop, tile_short=tile_short))


def aggregate_scores(scores: torch.Tensor, silent: torch.Tensor, how: str = "mean") -> float:
    """One score per recording from its window scores, ignoring silent windows when any has speech.

    `mean` averages the bona-fide log-odds; `min` takes the most spoof-like window, which catches a short
    generated span inside real speech at the cost of more false alarms on long real recordings.
    """
    if scores.numel() == 0:
        raise ValueError("no windows to aggregate")
    voiced = scores[~silent] if bool((~silent).any()) else scores
    if how == "mean":
        return float(voiced.mean())
    if how == "min":
        return float(voiced.min())
    raise ValueError(f"unknown aggregation {how!r}; choose mean or min")
