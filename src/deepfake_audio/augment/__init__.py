"""Training-time waveform augmentations: ``t(waveform (time,) float32, rng) -> waveform``, seeded by `rng`.

Build a chain from a training config with :func:`build_augmentation`; every registered name is in
:data:`AUGMENTATIONS`. Heavy dependencies (scipy, pedalboard, av) are imported on first use.
"""

from __future__ import annotations

from deepfake_audio.augment.base import (
    AUGMENTATIONS,
    SAMPLE_RATE,
    AugmentationConfigError,
    BaseTransform,
    Compose,
    Transform,
    available_augmentations,
    build_augmentation,
    register_augmentation,
)
from deepfake_audio.augment.channel import BandLimit, Telephone
from deepfake_audio.augment.codecs import CODECS, Codec, encode_decode
from deepfake_audio.augment.gain import Gain
from deepfake_audio.augment.noise import NOISE_KINDS, AddNoise
from deepfake_audio.augment.pitch import PitchShift, TimeStretch
from deepfake_audio.augment.rawboost import RAWBOOST_ALGOS, RawBoost
from deepfake_audio.augment.resample import Resample
from deepfake_audio.augment.reverb import Reverb

__all__ = [
    "AUGMENTATIONS",
    "CODECS",
    "NOISE_KINDS",
    "RAWBOOST_ALGOS",
    "SAMPLE_RATE",
    "AddNoise",
    "AugmentationConfigError",
    "BandLimit",
    "BaseTransform",
    "Codec",
    "Compose",
    "Gain",
    "PitchShift",
    "RawBoost",
    "Resample",
    "Reverb",
    "Telephone",
    "TimeStretch",
    "Transform",
    "available_augmentations",
    "build_augmentation",
    "encode_decode",
    "register_augmentation",
]
