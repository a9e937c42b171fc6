"""Whisper-stats: a frozen Whisper encoder, the mean and spread of every hidden state, a linear classifier.

Why: hand-made spectral features plateau near 25% EER on collections never seen in training; a pretrained
speech encoder carries further (BENCHMARKS.md, external test). Each hidden state's mean and spread over
the window's frames feed a standardised linear (or one-hidden-layer) classifier. The statistics do not
grow with the window's length and nothing is padded, so the model sees no duration. It is also the
frozen-feature baseline of the benchmark: the simplest way to use the encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepfake_audio.models.base import ModelConfig
from deepfake_audio.models.registry import register_model
from deepfake_audio.models.whisper_backbone import WhisperBackbone, WhisperBackboneConfig


@register_model("whisper-stats")
class WhisperStats(WhisperBackbone):
    """Whisper encoder -> per-layer mean and std over frames -> standardise -> linear/MLP -> 2 logits."""

    @dataclass
    class Config(WhisperBackboneConfig):
        hidden: int = 0  # 0: a linear classifier over the statistics
        dropout: float = 0.1

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, WhisperStats.Config)
        self.num_stats = 2 * self.num_states * self.width
        # Standardisation of the statistics, fitted on training data (`fit_standardisation`).
        self.register_buffer("stats_mean", torch.zeros(self.num_stats))
        self.register_buffer("stats_std", torch.ones(self.num_stats))
        layers: list[nn.Module] = [nn.Dropout(config.dropout)]
        if config.hidden:
            layers += [nn.Linear(self.num_stats, config.hidden), nn.GELU(), nn.Dropout(config.dropout)]
        layers.append(nn.Linear(config.hidden or self.num_stats, 2))
        self.classifier = nn.Sequential(*layers)

    def statistics(self, waveform: torch.Tensor) -> torch.Tensor:
        """Per-layer mean and standard deviation over frames, `(batch, num_stats)`, before standardisation."""
        return self.pool(self.hidden_states(waveform))

    @staticmethod
    def pool(states: torch.Tensor) -> torch.Tensor:
        """`(batch, states, frames, width)` -> `(batch, 2 * states * width)`: each state's mean, then its std."""
        return torch.cat([states.mean(dim=2), states.std(dim=2, unbiased=False)], dim=2).flatten(1)

    def classify(self, statistics: torch.Tensor) -> torch.Tensor:
        """Logits `(batch, 2)` from raw statistics (training on cached statistics calls this directly)."""
        return self.classifier((statistics - self.stats_mean) / self.stats_std)

    @torch.no_grad()
    def fit_standardisation(self, statistics: torch.Tensor) -> None:
        self.stats_mean.copy_(statistics.mean(dim=0))
        self.stats_std.copy_(statistics.std(dim=0).clamp(min=1e-4))

    def logits(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.classify(self.statistics(waveform))
