"""RawNet2 for spoofing detection (Tak et al., "End-to-end anti-spoofing with RawNet2", ICASSP 2021),
with the sizes of the ASVspoof 2021 LA/DF baseline configuration.

waveform -> fixed mel sinc filterbank (20 bands, 1025 taps) -> |.| -> max-pool 3 -> BN + SELU -> six 1-D
residual blocks (2 x 20 channels, 4 x 128 channels), each followed by filter-wise feature map scaling
(FMS: a sigmoid gate per channel from the time-averaged block output, applied as `x * s + s`) -> BN + SELU
-> 3-layer GRU (1024) -> last time step -> linear 1024 -> linear 2. The baseline ends in a log-softmax;
we return the logits, which give the same cross-entropy and the same bona-fide log-odds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepfake_audio.models.base import DetectorModel, ModelConfig
from deepfake_audio.models.blocks.sinc import SincFilterbank
from deepfake_audio.models.registry import register_model


class ResidualBlock1d(nn.Module):
    """Residual block over `(channels, time)` ending in a max-pool that divides time by 3.

    As in the baseline code, blocks after the first own a pre-activation BN that the reference forward
    pass computes but does not feed to the first convolution; `pre_activation=False` reproduces that.
    """

    def __init__(self, in_channels: int, out_channels: int, first: bool, pre_activation: bool) -> None:
        super().__init__()
        self.bn1 = None if first else nn.BatchNorm1d(in_channels)
        self.pre_activation = pre_activation and not first
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size=3, padding=1)
        self.shortcut = (
            nn.Conv1d(in_channels, out_channels, kernel_size=1)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.leaky_relu(self.bn1(x), 0.3) if self.pre_activation else x
        out = self.conv2(F.leaky_relu(self.bn2(self.conv1(out)), 0.3))  # (batch, out, time)
        return F.max_pool1d(out + self.shortcut(x), 3)  # (batch, out, time // 3)


class FeatureMapScaling(nn.Module):
    """Filter-wise feature map scaling: `x * s + s` with `s = sigmoid(W mean_t(x))` per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.sigmoid(self.fc(x.mean(dim=-1))).unsqueeze(-1)  # (batch, channels, 1)
        return x * scale + scale


@register_model("rawnet2")
class RawNet2(DetectorModel):
    """RawNet2 anti-spoofing model, ASVspoof 2021 baseline sizes (about 17.6 M parameters)."""

    @dataclass
    class Config(ModelConfig):
        duration: float = 4.0375  # seconds: the baseline crops/pads to 64,600 samples
        sinc_filters: int = 20
        sinc_kernel_size: int = 1024  # rounded up to 1025 (odd, symmetric filters)
        channels: tuple[int, int] = (20, 128)  # widths of the first and second group of blocks
        blocks: tuple[int, int] = (2, 4)  # residual blocks per group
        gru_hidden: int = 1024
        gru_layers: int = 3
        fc_hidden: int = 1024
        pre_activation: bool = False  # see ResidualBlock1d; False reproduces the baseline code

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, RawNet2.Config)
        narrow, wide = (int(c) for c in config.channels)
        widths = [config.sinc_filters] + [narrow] * int(config.blocks[0]) + [wide] * int(config.blocks[1])

        self.sinc = SincFilterbank(config.sinc_filters, config.sinc_kernel_size, config.sample_rate)
        self.first_bn = nn.BatchNorm1d(config.sinc_filters)
        self.blocks = nn.ModuleList(
            ResidualBlock1d(widths[i], widths[i + 1], first=i == 0, pre_activation=config.pre_activation)
            for i in range(len(widths) - 1)
        )
        self.fms = nn.ModuleList(FeatureMapScaling(w) for w in widths[1:])
        self.bn_before_gru = nn.BatchNorm1d(wide)
        self.gru = nn.GRU(wide, config.gru_hidden, num_layers=config.gru_layers, batch_first=True)
        self.fc1 = nn.Linear(config.gru_hidden, config.fc_hidden)
        self.fc2 = nn.Linear(config.fc_hidden, 2)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = self.sinc(waveform)  # (batch, filters, samples')
        x = F.selu(self.first_bn(F.max_pool1d(x.abs(), 3)))  # (batch, filters, frames)
        for block, fms in zip(self.blocks, self.fms, strict=True):
            x = fms(block(x))  # (batch, channels, frames / 3**k)
        x = F.selu(self.bn_before_gru(x)).transpose(1, 2)  # (batch, frames', channels)
        x, _ = self.gru(x)  # (batch, frames', gru_hidden)
        return self.fc2(self.fc1(x[:, -1]))  # (batch, 2)
