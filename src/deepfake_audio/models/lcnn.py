"""LFCC-LCNN, the ASVspoof 2021 LA/DF baseline (Wang & Yamagishi, "A comparative study on recent neural
spoofing countermeasures for synthetic speech detection", Interspeech 2021).

waveform -> LFCC (20 coefficients with log energy, deltas and double deltas: 60 x frames; 20 ms window,
10 ms hop) -> light CNN over (frames, 60): nine convolutions, each followed by Max-Feature-Map (the
element-wise max of the two halves of the channels), four 2x2 max-pools, affine-free batch norms, dropout
0.7 -> (frames / 16, 32 channels x 3 bands) -> two bidirectional LSTM layers with a skip connection ->
average over time -> linear. The baseline has one sigmoid output; here the last layer gives 2 logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepfake_audio.features import LFCC
from deepfake_audio.models.base import DetectorModel, ModelConfig
from deepfake_audio.models.registry import register_model


class MaxFeatureMap(nn.Module):
    """Max-Feature-Map: split `2 * out_channels` channels in two halves, keep their element-wise maximum."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels  # static, so ONNX export knows the channel count

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.out_channels
        return torch.maximum(x[:, :half], x[:, half : 2 * half])  # (batch, out_channels, ...)


def _mfm_conv(in_channels: int, out_channels: int, kernel_size: int) -> list[nn.Module]:
    """A convolution with `2 * out_channels` filters reduced to `out_channels` by Max-Feature-Map."""
    conv = nn.Conv2d(in_channels, 2 * out_channels, kernel_size, padding=kernel_size // 2)
    return [conv, MaxFeatureMap(out_channels)]


def _affine_free_bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, affine=False)


class BLSTM(nn.Module):
    """Bidirectional LSTM whose output width equals its input width (half per direction)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"BLSTM width must be even, got {dim}")
        self.lstm = nn.LSTM(dim, dim // 2, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]  # (batch, frames, dim)


@register_model("lfcc-lcnn")
class LCNN(DetectorModel):
    """LFCC front end + light CNN + BLSTM, the ASVspoof 2021 baseline with two output logits."""

    @dataclass
    class Config(ModelConfig):
        duration: float = 4.0  # seconds (the baseline trains on whole utterances)
        n_lfcc: int = 20  # static coefficients; deltas and double deltas triple the feature size
        n_filters: int = 20
        n_fft: int = 1024
        win_length: int = 320
        hop_length: int = 160
        dropout: float = 0.7

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, LCNN.Config)
        self.frontend = LFCC(
            sample_rate=config.sample_rate,
            n_lfcc=config.n_lfcc,
            win_length=config.win_length,
            hop_length=config.hop_length,
            n_fft=config.n_fft,
            n_filters=config.n_filters,
            with_deltas=True,
        )
        feat_dim = 3 * config.n_lfcc
        self.cnn = nn.Sequential(
            *_mfm_conv(1, 32, 5),
            nn.MaxPool2d(2),
            *_mfm_conv(32, 32, 1),
            _affine_free_bn(32),
            *_mfm_conv(32, 48, 3),
            nn.MaxPool2d(2),
            _affine_free_bn(48),
            *_mfm_conv(48, 48, 1),
            _affine_free_bn(48),
            *_mfm_conv(48, 64, 3),
            nn.MaxPool2d(2),
            *_mfm_conv(64, 64, 1),
            _affine_free_bn(64),
            *_mfm_conv(64, 32, 3),
            _affine_free_bn(32),
            *_mfm_conv(32, 32, 1),
            _affine_free_bn(32),
            *_mfm_conv(32, 32, 3),
            nn.MaxPool2d(2),
            nn.Dropout(config.dropout),
        )
        hidden = (feat_dim // 16) * 32  # 32 channels x feature bands left after four 2x2 pools
        if hidden == 0:
            raise ValueError(f"n_lfcc={config.n_lfcc} is too small: the CNN pools the 3 * n_lfcc axis by 16")
        self.blstm = nn.Sequential(BLSTM(hidden), BLSTM(hidden))
        self.out_layer = nn.Linear(hidden, 2)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        lfcc = self.frontend(waveform)  # (batch, 60, frames)
        x = self.cnn(lfcc.transpose(1, 2).unsqueeze(1))  # (batch, 32, frames / 16, 60 / 16)
        x = x.permute(0, 2, 1, 3).flatten(2)  # (batch, frames / 16, 32 * bands)
        x = self.blstm(x) + x  # skip connection around the recurrent layers
        return self.out_layer(x.mean(dim=1))  # (batch, 2)
