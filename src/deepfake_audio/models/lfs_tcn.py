"""LFS-TCN: a cheap temporal convolution network over a linear-frequency log spectrogram (or band flatness).

Why this shape:
- Linear frequency up to 8 kHz (not mel): vocoder and codec artefacts live in narrow high bands.
- Resolution is cut at once (FFT bins averaged into `freq_bands` bands; 10 ms frames), and frequency
  bands are the channels of 1-D convolutions over time, which costs a fraction of a 2-D CNN.
- Per-recording normalisation (`utterance_norm`): each band's mean over time is subtracted, so a
  stationary channel colouration (microphone, room, codec EQ, a collection's processing) shifts
  nothing. Differences between sources, not between real and fake, are what make one threshold fail
  across sources; this removes the easiest of them.
- A stride-2 stem halves the frame rate; dilated residual blocks then see about 1.3 s of context; mean + standard-deviation pooling over time makes
  the verdict independent of where speech sits in the window. Band and time masking in training only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepfake_audio.errors import ConfigError
from deepfake_audio.features import BandFlatness
from deepfake_audio.models.base import DetectorModel, LinearSpectrogramConfig, ModelConfig
from deepfake_audio.models.blocks.specaugment import SpecAugment
from deepfake_audio.models.registry import register_model


class DilatedBlock(nn.Module):
    """Residual 1-D block: dilated 3-tap convolution, batch norm, ReLU, 1x1 convolution."""

    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm1d(channels),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Conv1d(channels, channels, 1, bias=False),
            nn.BatchNorm1d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


@register_model("lfs-tcn")
class LFSTCN(DetectorModel):
    """Dilated 1-D CNN over a linear log spectrogram (or band flatness) with per-recording normalisation."""

    @dataclass
    class Config(LinearSpectrogramConfig):
        duration: float = 2.0  # seconds per window
        freq_bands: int = 96  # FFT bins averaged into this many linear bands (83 Hz each)
        channels: int = 64
        dilations: tuple[int, ...] = (1, 2, 4, 8)
        dropout: float = 0.2
        utterance_norm: bool = True
        # log_power: band log power (dB); flatness: band log spectral flatness (`features.BandFlatness`),
        # which is level-free already, so utterance_norm would only remove its most telling statistic.
        features: str = "log_power"
        freq_masks: int = 2  # training-only masking; 0 disables
        freq_mask_width: int = 8
        time_masks: int = 2
        time_mask_width: int = 20

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, LFSTCN.Config)
        if config.features == "flatness":
            self.frontend: nn.Module = BandFlatness(config.n_fft, config.hop_length, config.win_length,
                                                    config.freq_bands)
        elif config.features == "log_power":
            self.frontend = config.build_frontend()
        else:
            raise ConfigError(f"unknown lfs-tcn features {config.features!r}; choose log_power or flatness")
        self.input_norm = nn.BatchNorm1d(config.freq_bands)
        self.spec_augment = SpecAugment(config.freq_masks, config.freq_mask_width, config.time_masks,
                                        config.time_mask_width)
        self.stem = nn.Sequential(
            nn.Conv1d(config.freq_bands, config.channels, 5, stride=2, padding=2, bias=False),  # 20 ms steps
            nn.BatchNorm1d(config.channels),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(*(DilatedBlock(config.channels, int(d), config.dropout) for d in config.dilations))
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(2 * config.channels, 2))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = self.frontend(waveform)  # (batch, bands, frames), dB
        if self.config.utterance_norm:
            spec = spec - spec.mean(dim=2, keepdim=True)
        x = self.spec_augment(self.input_norm(spec))
        x = self.blocks(self.stem(x))  # (batch, channels, frames)
        pooled = torch.cat([x.mean(dim=2), x.std(dim=2)], dim=1)  # (batch, 2 * channels)
        return self.head(pooled)  # (batch, 2)
