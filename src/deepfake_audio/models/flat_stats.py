"""Flat-stats: a tiny classifier over speech-frame statistics of per-band spectral flatness.

Why: level-based features (log power, MFCC) let a model recognise the collection a clip came from,
which does not carry to new collections (bench/generalisation.py: pooled EER on held-out sources near
40% for the seed CNN and the log-spectrogram TCN). Spectral flatness per band ignores gain and smooth
channel colouration; a logistic regression over its per-band mean and spread already carries across
held-out sources far better than those networks (bench/feature_study.py). This model keeps that
simplicity on purpose: few parameters, pooled statistics, and no access to absolute level.

Frames more than `speech_range_db` below the window's loudest frame are left out of the statistics,
so leading/trailing silence and pauses (whose handling differs between real and generated corpora)
do not decide the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepfake_audio.features import BandFlatness
from deepfake_audio.models.base import DetectorModel, ModelConfig
from deepfake_audio.models.registry import register_model


def masked_mean_std(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of `x (batch, channels, frames)` over the frames where `mask (batch, frames)`."""
    weight = mask.to(x.dtype).unsqueeze(1)
    count = weight.sum(dim=2).clamp(min=1.0)
    mean = (x * weight).sum(dim=2) / count
    var = ((x - mean.unsqueeze(2)).square() * weight).sum(dim=2) / count
    return mean, torch.sqrt(var + 1e-6)


def temporal_log_flatness(log_power: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Log of geometric over arithmetic mean of `exp(log_power) (batch, channels, frames)` over masked frames."""
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(log_power.dtype)  # (batch, 1)
    weight = mask.to(log_power.dtype).unsqueeze(1)
    log_geometric = (log_power * weight).sum(dim=2) / count
    log_arithmetic = torch.logsumexp(log_power.masked_fill(~mask.unsqueeze(1), -torch.inf), dim=2) - count.log()
    return log_geometric - log_arithmetic


@register_model("flat-stats")
class FlatStats(DetectorModel):
    """Mean and spread of per-band log spectral flatness over speech frames, then a small MLP."""

    @dataclass
    class Config(ModelConfig):
        duration: float = 4.0
        n_fft: int = 512
        win_length: int = 400
        hop_length: int = 160
        bands: int = 32  # 250 Hz each at n_fft 512
        speech_range_db: float = 35.0
        # Spectral floor, in dB below each frame's loudest bin, added before the flatness is taken:
        # spectral detail below it is not seen (BandFlatness).
        spectral_floor_db: float = -80.0
        # Also the mean frame-to-frame change of log flatness per band (how steadily each band's
        # noisiness evolves), over consecutive speech frames.
        flatness_change: bool = False
        # Also each band's flatness over time: the log ratio of the geometric to the arithmetic mean of
        # its power across speech frames (how evenly the band's energy is spread in time). Like the
        # spectral flatness it ignores gain and a fixed channel colouration.
        level_flatness: bool = False
        hidden: int = 32  # 0: a linear classifier on the statistics
        dropout: float = 0.2
        # Classifiers trained side by side on the same statistics, from different starting weights,
        # whose logits are averaged: with a few hundred training spoofs, one classifier's verdicts
        # swing with its initialisation.
        members: int = 1

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, FlatStats.Config)
        self.frontend = BandFlatness(
            config.n_fft, config.hop_length, config.win_length, config.bands, floor_db=config.spectral_floor_db
        )
        if config.members < 1:
            raise ValueError(f"members must be at least 1; got {config.members}")
        num_stats = (2 + config.flatness_change + config.level_flatness) * config.bands
        # The first member keeps the name it had before ensembles, so earlier checkpoints still load.
        self.classifier = self._classifier(num_stats)
        self.more_members = nn.ModuleList(self._classifier(num_stats) for _ in range(config.members - 1))

    def _classifier(self, num_stats: int) -> nn.Sequential:
        config = self.config
        assert isinstance(config, FlatStats.Config)
        # Batch norm on the statistics plays the part of feature standardisation.
        layers: list[nn.Module] = [nn.BatchNorm1d(num_stats), nn.Dropout(config.dropout)]
        if config.hidden:
            layers += [nn.Linear(num_stats, config.hidden), nn.ReLU(), nn.Dropout(config.dropout),
                       nn.Linear(config.hidden, 2)]
        else:
            layers.append(nn.Linear(num_stats, 2))
        return nn.Sequential(*layers)

    def statistics(self, waveform: torch.Tensor) -> torch.Tensor:
        """The per-band statistics the classifiers read, `(batch, statistics)`."""
        flatness, band_log_power, energy_db = self.frontend.analyse(waveform)
        speech = energy_db > energy_db.amax(dim=1, keepdim=True) - self.config.speech_range_db
        mean, std = masked_mean_std(flatness, speech)
        stats = [mean, std]
        if self.config.flatness_change:
            change = (flatness[..., 1:] - flatness[..., :-1]).abs()
            stats.append(masked_mean_std(change, speech[:, 1:] & speech[:, :-1])[0])
        if self.config.level_flatness:
            stats.append(temporal_log_flatness(band_log_power, speech))
        return torch.cat(stats, dim=1)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        features = self.statistics(waveform)
        if not self.more_members:
            return self.classifier(features)
        logits = torch.stack([member(features) for member in (self.classifier, *self.more_members)], dim=-1)
        return logits if self.training else logits.mean(dim=-1)
