"""SpecRNet (Kawa, Plata & Syga, "SpecRNet: Towards faster and more accessible audio DeepFake detection",
TrustCom 2022): a light 2-D RawNet2 relative over LFCC.

waveform -> 80 LFCCs (128 linear filters, 25 ms window, 10 ms hop) as a 1-channel image -> BN + SELU ->
three 2-D residual blocks (20, 64, 64 channels; each ends in a 2x2 max-pool) each followed by feature map
scaling and another 2x2 max-pool -> BN + SELU -> the coefficient axis is now 1 long (80 / 2**6) -> 2-layer
bidirectional GRU (64) -> last time step -> linear 128 -> linear 2. With 2 logits the model has 278,092
parameters: the reference's 277,963 plus the second output unit (129).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepfake_audio.errors import ConfigError
from deepfake_audio.features import LFCC
from deepfake_audio.models.base import DetectorModel, ModelConfig
from deepfake_audio.models.registry import register_model


class ResidualBlock2d(nn.Module):
    """3x3 residual block over `(channels, coefficients, frames)` ending in a 2x2 max-pool.

    Like RawNet2, the reference builds a pre-activation BN for every block but the first and does not
    feed it to the first convolution; `pre_activation=False` reproduces that.
    """

    def __init__(self, in_channels: int, out_channels: int, first: bool, pre_activation: bool) -> None:
        super().__init__()
        self.bn1 = None if first else nn.BatchNorm2d(in_channels)
        self.pre_activation = pre_activation and not first
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.shortcut = (
            nn.Conv2d(in_channels, out_channels, kernel_size=1)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.leaky_relu(self.bn1(x), 0.3) if self.pre_activation else x
        out = self.conv2(F.leaky_relu(self.bn2(self.conv1(out)), 0.3))
        return F.max_pool2d(out + self.shortcut(x), 2)  # (batch, out, coeffs / 2, frames / 2)


class FeatureMapScaling2d(nn.Module):
    """Channel gate `x * s + s`, `s = sigmoid(W mean(x))` with the mean over both spatial axes."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.sigmoid(self.fc(x.mean(dim=(2, 3))))[:, :, None, None]  # (batch, channels, 1, 1)
        return x * scale + scale


@register_model("specrnet")
class SpecRNet(DetectorModel):
    """SpecRNet over LFCC, reference sizes (278,092 parameters with two logits)."""

    @dataclass
    class Config(ModelConfig):
        duration: float = 4.0375  # seconds: 64,600 samples -> 404 frames, the reference input size
        n_lfcc: int = 80  # must be 64..127, so that six halvings leave one row
        n_filters: int = 128
        n_fft: int = 512
        win_length: int = 400
        hop_length: int = 160
        channels: tuple[int, int] = (20, 64)
        gru_hidden: int = 64
        gru_layers: int = 2
        fc_hidden: int = 128
        pre_activation: bool = False  # see ResidualBlock2d; False reproduces the reference code

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, SpecRNet.Config)
        if not 64 <= config.n_lfcc < 128:
            # the GRU reads one row per frame: 6 max-pools must shrink the coefficient axis to exactly 1
            raise ConfigError(f"specrnet needs 64 <= n_lfcc <= 127, got {config.n_lfcc}")
        narrow, wide = (int(c) for c in config.channels)
        self.frontend = LFCC(
            sample_rate=config.sample_rate,
            n_lfcc=config.n_lfcc,
            win_length=config.win_length,
            hop_length=config.hop_length,
            n_fft=config.n_fft,
            n_filters=config.n_filters,
            with_deltas=False,
            with_energy=False,
            pre_emphasis=0.0,
        )
        self.first_bn = nn.BatchNorm2d(1)
        pre = config.pre_activation
        self.blocks = nn.ModuleList(
            [
                ResidualBlock2d(1, narrow, first=True, pre_activation=pre),
                ResidualBlock2d(narrow, wide, first=False, pre_activation=pre),
                ResidualBlock2d(wide, wide, first=False, pre_activation=pre),
            ]
        )
        self.fms = nn.ModuleList(FeatureMapScaling2d(c) for c in (narrow, wide, wide))
        self.bn_before_gru = nn.BatchNorm2d(wide)
        self.gru = nn.GRU(
            wide, config.gru_hidden, num_layers=config.gru_layers, batch_first=True, bidirectional=True
        )
        self.fc1 = nn.Linear(2 * config.gru_hidden, config.fc_hidden)
        self.fc2 = nn.Linear(config.fc_hidden, 2)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = self.frontend(waveform).unsqueeze(1)  # (batch, 1, n_lfcc, frames)
        x = F.selu(self.first_bn(x))
        for block, fms in zip(self.blocks, self.fms, strict=True):
            x = F.max_pool2d(fms(block(x)), 2)  # (batch, channels, coeffs / 4, frames / 4)
        x = F.selu(self.bn_before_gru(x))  # (batch, wide, 1, frames / 64)
        x = x.squeeze(2).transpose(1, 2)  # (batch, frames / 64, wide)
        x, _ = self.gru(x)  # (batch, frames / 64, 2 * gru_hidden)
        return self.fc2(self.fc1(x[:, -1]))  # (batch, 2)
