"""Torch dataset of fixed-length training windows cut from labelled recordings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from deepfake_audio.audio import SAMPLE_RATE, load_audio, random_crop, trim_silence
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.windows import tile_to_length

Augmentation = Callable[[np.ndarray, np.random.Generator], np.ndarray]
CROPS = ("random", "start", "center")


class WaveformCache:
    """Decoded 16 kHz audio kept in memory as int16 (half the size of float32), keyed by path."""

    def __init__(self, trim: bool = False) -> None:
        self.trim = trim
        self._store: dict[str, torch.Tensor] = {}

    def get(self, trial: Trial, keep: bool = True) -> torch.Tensor:
        """The clip's audio; a kept clip is returned as stored (int16-rounded) from its first use on, so
        what training sees never depends on whether a clip was cached yet (e.g. in a resumed run)."""
        key = str(trial.path)
        if key not in self._store:
            waveform = load_audio(trial.path)
            if self.trim:
                waveform = trim_silence(waveform, SAMPLE_RATE)
            if not keep:
                return waveform
            self._store[key] = (waveform.clamp(-1, 1) * 32767.0).round().to(torch.int16)
        return self._store[key].float() / 32767.0


def crop_window(
    waveform: torch.Tensor, num_samples: int, mode: str, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Cut `num_samples` from `waveform`; shorter audio is tiled (repeat-padded) to length."""
    if waveform.numel() <= num_samples:
        return tile_to_length(waveform, num_samples)
    slack = waveform.numel() - num_samples
    if mode == "start":
        start = 0
    elif mode == "center":
        start = slack // 2
    elif mode == "random":
        return random_crop(waveform, num_samples, generator)
    else:
        raise ValueError(f"unknown crop {mode!r}; choose one of {', '.join(CROPS)}")
    return waveform[start : start + num_samples]


class WindowDataset(Dataset):
    """Yields `(waveform (num_samples,), target)` with target 1 = bona fide, 0 = spoof.

    Each access draws a fresh crop and augmentation from a generator seeded by (seed, epoch, index),
    so runs are reproducible yet every epoch sees different windows.
    """

    def __init__(
        self,
        trials: Sequence[Trial],
        num_samples: int,
        *,
        crop: str = "random",
        augment: Augmentation | None = None,
        cache: WaveformCache | None = None,
        seed: int = 0,
    ) -> None:
        if crop not in CROPS:
            raise ValueError(f"unknown crop {crop!r}; choose one of {', '.join(CROPS)}")
        self.trials = list(trials)
        self.num_samples = num_samples
        self.crop = crop
        self.augment = augment
        self.cache = cache or WaveformCache()
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.trials)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        trial = self.trials[index]
        generator = torch.Generator().manual_seed(hash((self.seed, self.epoch, index)) & 0x7FFFFFFF)
        waveform = self.cache.get(trial)
        window = crop_window(waveform, self.num_samples, self.crop, generator)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            augmented = self.augment(window.numpy().copy(), rng)
            window = crop_window(torch.from_numpy(np.ascontiguousarray(augmented, dtype=np.float32)),
                                 self.num_samples, "start")
        return window, trial.label.target


def class_weights(trials: Sequence[Trial]) -> torch.Tensor:
    """Inverse-frequency weights `[spoof, bonafide]`, normalised to mean 1."""
    counts = torch.tensor(
        [sum(t.label is Label.SPOOF for t in trials), sum(t.label is Label.BONAFIDE for t in trials)],
        dtype=torch.float32,
    ).clamp(min=1)
    weights = counts.sum() / (2 * counts)
    return weights


def balanced_sampler(trials: Sequence[Trial], seed: int = 0) -> WeightedRandomSampler:
    """Draw bona fide and spoof windows equally often."""
    per_class = class_weights(trials)
    weights = torch.tensor([float(per_class[t.label.target]) for t in trials])
    return WeightedRandomSampler(
        weights, num_samples=len(trials), replacement=True, generator=torch.Generator().manual_seed(seed)
    )


def source_balanced_sampler(trials: Sequence[Trial], seed: int = 0) -> WeightedRandomSampler:
    """Draw every (source, label) cell equally often, and both labels equally often overall.

    A collection with hundreds of clips of one label (fsdd: 400 real digits) otherwise dominates what
    "real" means, and the model learns to recognise collections instead of generators.
    """
    cells = Counter((t.source or "unknown", t.label) for t in trials)
    cells_per_label = Counter(label for _, label in cells)
    weights = torch.tensor([
        1.0 / (cells[(t.source or "unknown", t.label)] * cells_per_label[t.label]) for t in trials
    ])
    return WeightedRandomSampler(
        weights, num_samples=len(trials), replacement=True, generator=torch.Generator().manual_seed(seed)
    )
