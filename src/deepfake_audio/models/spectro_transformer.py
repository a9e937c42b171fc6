"""A small transformer encoder over log-spectrogram frames, built to stay cheap on a CPU.

waveform -> log power spectrogram pooled into 64 linear-frequency bands (10 ms hop) -> batch norm per band
-> SpecAugment masks (training only) -> conv stem of two stride-2 convolutions (time resolution 40 ms,
bands / 4) -> linear projection to `d_model` -> sinusoidal positions -> pre-norm transformer encoder ->
layer norm -> mean over time -> linear -> 2 logits. Linear (not mel) bands keep the high-frequency
resolution where vocoder artefacts live; sinusoidal positions let one model run any window length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from deepfake_audio.models.base import DetectorModel, LinearSpectrogramConfig, ModelConfig
from deepfake_audio.models.blocks.specaugment import SpecAugment
from deepfake_audio.models.registry import register_model


def sinusoidal_positions(length: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """`(length, dim)` sine/cosine position codes (Vaswani et al., 2017)."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    frequency = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10_000.0) / dim)
    )
    codes = torch.zeros(length, dim, device=device)
    codes[:, 0::2] = torch.sin(position * frequency)
    codes[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return codes.to(dtype)


class ConvStem(nn.Module):
    """Two stride-2 3x3 convolutions with BN + GELU; divides bands and frames by 4."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.GELU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@register_model("spectro-transformer")
class SpectroTransformer(DetectorModel):
    """Conv-stem transformer encoder over a banded linear log spectrogram (about 0.6 M parameters)."""

    @dataclass
    class Config(LinearSpectrogramConfig):
        freq_bands: int = 64  # linear-frequency bands the 257 FFT bins are averaged into
        stem_channels: int = 32
        d_model: int = 128
        num_layers: int = 4
        num_heads: int = 4
        ff_dim: int = 256
        dropout: float = 0.1
        freq_masks: int = 2  # SpecAugment, training only; 0 disables
        freq_mask_width: int = 8  # bands
        time_masks: int = 2
        time_mask_width: int = 20  # frames of 10 ms

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, SpectroTransformer.Config)
        self.frontend = config.build_frontend()
        self.input_norm = nn.BatchNorm1d(config.freq_bands)
        self.spec_augment = SpecAugment(
            config.freq_masks, config.freq_mask_width, config.time_masks, config.time_mask_width
        )
        self.stem = ConvStem(config.stem_channels)
        stem_bands = (config.freq_bands + 3) // 4  # two stride-2 convolutions with padding 1
        self.proj = nn.Linear(config.stem_channels * stem_bands, config.d_model)
        layer = nn.TransformerEncoderLayer(
            config.d_model,
            config.num_heads,
            dim_feedforward=config.ff_dim,
            dropout=config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        # enable_nested_tensor only matters for padding masks, which we never pass
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, 2)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = self.spec_augment(self.input_norm(self.frontend(waveform)))  # (batch, bands, frames)
        x = self.stem(spec.unsqueeze(1))  # (batch, channels, bands / 4, frames / 4)
        x = self.proj(x.flatten(1, 2).transpose(1, 2))  # (batch, tokens, d_model)
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)
        x = self.norm(self.encoder(x))  # (batch, tokens, d_model)
        return self.head(x.mean(dim=1))  # (batch, 2)
