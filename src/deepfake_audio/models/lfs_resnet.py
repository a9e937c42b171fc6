"""LFS-ResNet: a small residual CNN over a linear-frequency log spectrogram, with per-band pooling.

Design goals: generalise across unseen generators and channels, and run far faster than real time on a
CPU. The front end keeps linear frequency (128 bands of 62.5 Hz up to 8 kHz), because vocoder and codec
artefacts sit in narrow high-frequency bands that mel or cepstral features blur. A strided stem cuts the
resolution by 4 at once; four residual stages (16, 32, 64, 128 channels) halve both axes each time
after the first. The head pools over time only (mean and max), keeping a vector per frequency band, so
the classifier can weigh bands separately. SpecAugment masks run in training mode only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepfake_audio.models.base import DetectorModel, LinearSpectrogramConfig, ModelConfig
from deepfake_audio.models.blocks.specaugment import SpecAugment
from deepfake_audio.models.registry import register_model


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convolutions) with an optional stride-2 downsampling shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


@register_model("lfs-resnet")
class LFSResNet(DetectorModel):
    """Residual CNN over a 128-band linear log spectrogram with band-wise pooling (about 0.34 M parameters)."""

    @dataclass
    class Config(LinearSpectrogramConfig):
        channels: tuple[int, ...] = (16, 32, 64, 128)  # one residual block per stage
        embedding_dim: int = 128
        dropout: float = 0.3
        freq_masks: int = 2  # SpecAugment, training only; 0 disables
        freq_mask_width: int = 12  # bands
        time_masks: int = 2
        time_mask_width: int = 20  # frames of 10 ms

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, LFSResNet.Config)
        channels = [int(c) for c in config.channels]
        self.frontend = config.build_frontend()
        self.input_norm = nn.BatchNorm1d(config.freq_bands)
        self.spec_augment = SpecAugment(
            config.freq_masks, config.freq_mask_width, config.time_masks, config.time_mask_width
        )
        self.stem = nn.Sequential(
            nn.Conv2d(1, channels[0], 5, stride=2, padding=2, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        widths = [channels[0], *channels]
        self.stages = nn.Sequential(
            *(BasicBlock(widths[i], widths[i + 1], stride=1 if i == 0 else 2) for i in range(len(channels)))
        )
        bands = ((config.freq_bands + 1) // 2) // 2  # stem: stride-2 convolution, then 2x2 max-pool
        for _ in channels[1:]:
            bands = (bands + 1) // 2  # each later stage: stride-2 3x3 convolution, padding 1
        self.band_proj = nn.Conv1d(2 * channels[-1], config.embedding_dim, 1)  # shared across bands
        self.head = nn.Sequential(
            nn.BatchNorm1d(config.embedding_dim * bands),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.embedding_dim * bands, 2),
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = self.spec_augment(self.input_norm(self.frontend(waveform)))  # (batch, bands, frames)
        x = self.stages(self.stem(spec.unsqueeze(1)))  # (batch, channels, bands', frames')
        x = torch.cat([x.mean(dim=3), x.amax(dim=3)], dim=1)  # (batch, 2 * channels, bands'): pool time only
        x = self.band_proj(x)  # (batch, embedding_dim, bands')
        return self.head(x.flatten(1))  # (batch, 2)
