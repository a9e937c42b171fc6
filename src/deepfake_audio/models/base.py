"""The contract every detector model follows.

A model takes a batch of 16 kHz waveforms `(batch, time)` and returns logits `(batch, 2)`, column 0 for
spoof and column 1 for bona fide (the ASVspoof/AASIST order). Its front end (MFCC, LFCC, sinc filters,
...) lives inside the model, so features run on the model's device and are identical in training and
inference. `score()` turns logits into the project's one score convention: the bona-fide log-odds
`logit[:, 1] - logit[:, 0]`; higher means more bona fide.

An ensemble model may return `(batch, 2, members)` in training mode, one set of logits per member, so
that each member is trained on the loss by itself (train.py); in eval mode it returns `(batch, 2)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

SPOOF_INDEX = 0
BONAFIDE_INDEX = 1


@dataclass
class ModelConfig:
    """Fields every model config has. Subclasses add their own, with defaults."""

    duration: float = 4.0  # seconds of audio per training example / inference window
    sample_rate: int = 16_000


@dataclass
class LinearSpectrogramConfig(ModelConfig):
    """Front-end fields shared by the models built on `features.LinearSpectrogram`."""

    duration: float = 4.0  # seconds
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160  # 10 ms frames
    freq_bands: int = 128  # linear bands the FFT bins are averaged into

    def build_frontend(self) -> nn.Module:
        from deepfake_audio.features import LinearSpectrogram

        return LinearSpectrogram(self.n_fft, self.hop_length, self.win_length, self.freq_bands)


class DetectorModel(nn.Module):
    """Base class: holds its `config`; subclasses implement `forward(waveform) -> (batch, 2) logits`."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    # True for models built on pretrained weights the user supplies (a config path): they cannot be
    # built from defaults, so listings and generic tests treat them apart.
    needs_local_weights: ClassVar[bool] = False
    # True when the model scores input shorter than its window exactly as it is: `forward` and `score`
    # then take `lengths (batch,)`, the real samples of each row of a zero-padded batch, and each row's
    # result equals that row's audio scored alone (unpadded). Such a model is given a short clip as it is
    # instead of tiled to the window, which costs less and spares it repeated copies. False: every input
    # is exactly `num_samples` long.
    accepts_variable_length: ClassVar[bool] = False

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config

    @property
    def num_samples(self) -> int:
        """Samples in one window (`duration * sample_rate`)."""
        return round(self.config.duration * self.config.sample_rate)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:  # (batch, time) -> (batch, 2)
        raise NotImplementedError

    def score(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Bona-fide log-odds per example, shape `(batch,)`; higher = more bona fide.

        `lengths` (only for models that `accepts_variable_length`): real samples per row, the rest of each
        row being zero padding.
        """
        if lengths is not None and not self.accepts_variable_length:
            raise ValueError(f"model {self.name!r} takes whole windows only; it does not accept lengths")
        logits = self(waveform) if lengths is None else self(waveform, lengths=lengths)
        return logits[:, BONAFIDE_INDEX] - logits[:, SPOOF_INDEX]

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)
