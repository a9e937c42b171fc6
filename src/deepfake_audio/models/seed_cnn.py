"""The seed report's system, reproduced faithfully as the `seed-cnn` model.

1 s of 16 kHz audio -> 20 MFCCs (n_fft 512, hop 160, 101 frames) -> conv 16 3x3 + ReLU -> max-pool 2x2 ->
conv 32 3x3 + ReLU -> flatten -> dense 128 + ReLU -> dropout -> dense 2. Convolutions are unpadded
("valid"), as in the Keras default the report's design follows; the dense layer's input size therefore
depends on the window length, which is why `duration` is part of the config.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepfake_audio.features import MFCC
from deepfake_audio.models.base import DetectorModel, ModelConfig
from deepfake_audio.models.registry import register_model


@register_model("seed-cnn")
class SeedCNN(DetectorModel):
    """Two-layer MFCC CNN from the seed report."""

    @dataclass
    class Config(ModelConfig):
        duration: float = 1.0  # seconds: the report cuts every clip to 16,000 samples
        n_mfcc: int = 20
        n_fft: int = 512
        hop_length: int = 160
        dropout: float = 0.5  # the report's remedy against overfitting; 0 disables

    def __init__(self, config: SeedCNN.Config) -> None:
        super().__init__(config)
        self.frontend = MFCC(
            sample_rate=config.sample_rate,
            n_mfcc=config.n_mfcc,
            n_fft=config.n_fft,
            hop_length=config.hop_length,
        )
        num_frames = self.num_samples // config.hop_length + 1  # centre-padded STFT frames
        height, width = config.n_mfcc - 2, num_frames - 2  # after conv1 (valid 3x3)
        height, width = height // 2, width // 2  # after max-pool 2x2
        height, width = height - 2, width - 2  # after conv2 (valid 3x3)
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * height * width, 128),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(128, 2),
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        mfcc = self.frontend(waveform)  # (batch, n_mfcc, frames)
        return self.classifier(self.features(mfcc.unsqueeze(1)))  # (batch, 2)
