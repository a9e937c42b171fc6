"""Whisper-stats: a pretrained Whisper encoder (frozen), statistics of every hidden state, a small classifier.

Why: hand-made spectral features plateau near 25% EER on collections never seen in training, and
pretrained speech encoders carry far better (BENCHMARKS.md, external test). Each hidden state's mean and
spread over the window's frames feed a standardised linear (or one-hidden-layer) classifier, so every
layer, from the acoustic ones near the input to the linguistic ones at the top, can contribute.

Statistics over frames do not grow with the window's length, and nothing is padded: the model sees no
duration. The encoder's weights are not stored in our checkpoints: `encoder` names where they come from
(a bundled name of the `whisper` extra, or a local file or folder, see `frontends.whisper.weights`) and
`encoder_sha256` pins them, so a checkpoint is a few hundred kilobytes and cannot be paired with other
weights by mistake. With `trainable_layers > 0` the top blocks are fine-tuned and *are* stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from deepfake_audio.errors import CheckpointError
from deepfake_audio.frontends.whisper import EncoderDims, WhisperEncoder, WhisperLogMel, load_encoder_weights
from deepfake_audio.models.base import DetectorModel, ModelConfig
from deepfake_audio.models.registry import register_model


@register_model("whisper-stats")
class WhisperStats(DetectorModel):
    """Frozen Whisper encoder -> per-layer mean and std over frames -> standardise -> MLP -> 2 logits."""

    @dataclass
    class Config(ModelConfig):
        duration: float = 4.0
        encoder: str = "whisper-base"  # a bundled name, or a path (openai .pt, Hugging Face / CTranslate2 folder)
        encoder_sha256: str = ""  # filled in when the model is first built; checked on every load
        encoder_dims: dict[str, int] = field(default_factory=dict)  # recorded for listings and checks
        trainable_layers: int = 0  # top encoder blocks fine-tuned (and stored in the checkpoint)
        hidden: int = 0  # 0: a linear classifier over the statistics
        dropout: float = 0.1

    variable_length: ClassVar[bool] = True  # statistics over frames take any window length

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, WhisperStats.Config)
        weights = load_encoder_weights(config.encoder)
        if config.encoder_sha256 and config.encoder_sha256 != weights.sha256:
            raise CheckpointError(
                f"{config.encoder}: these Whisper weights (sha256 {weights.sha256[:12]}...) are not the ones the "
                f"model was trained on ({config.encoder_sha256[:12]}...)"
            )
        config.encoder_sha256 = weights.sha256
        config.encoder_dims = weights.dims.to_dict()
        dims: EncoderDims = weights.dims
        if not 0 <= config.trainable_layers <= dims.layers:
            raise CheckpointError(f"trainable_layers must be in [0, {dims.layers}]; got {config.trainable_layers}")
        self.mel = WhisperLogMel(dims.n_mels)
        self.encoder = WhisperEncoder(dims)
        self.encoder.load_state_dict(weights.state)
        self._frozen_prefixes = self._frozen_parameter_prefixes(dims.layers, config.trainable_layers)
        for name, parameter in self.encoder.named_parameters():
            if self._is_frozen(f"encoder.{name}"):
                parameter.requires_grad_(False)
        self.num_stats = 2 * (dims.layers + 1) * dims.width
        # Standardisation of the statistics, fitted on training data (`fit_standardisation`).
        self.register_buffer("stats_mean", torch.zeros(self.num_stats))
        self.register_buffer("stats_std", torch.ones(self.num_stats))
        layers: list[nn.Module] = [nn.Dropout(config.dropout)]
        if config.hidden:
            layers += [nn.Linear(self.num_stats, config.hidden), nn.GELU(), nn.Dropout(config.dropout)]
        layers.append(nn.Linear(config.hidden or self.num_stats, 2))
        self.classifier = nn.Sequential(*layers)

    @staticmethod
    def _frozen_parameter_prefixes(layers: int, trainable: int) -> tuple[str, ...]:
        frozen = ["encoder.conv1.", "encoder.conv2.", "encoder.positional_embedding"]
        frozen += [f"encoder.blocks.{i}." for i in range(layers - trainable)]
        if trainable == 0:
            frozen.append("encoder.ln_post.")
        return tuple(frozen)

    def _is_frozen(self, key: str) -> bool:
        return key.startswith(self._frozen_prefixes)

    # The frozen encoder comes from `config.encoder`, so checkpoints leave it out, and loading fills it in.
    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:  # type: ignore[override]
        state = super().state_dict(*args, **kwargs)
        return type(state)((k, v) for k, v in state.items() if not self._is_frozen(k))

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        frozen = {k: v for k, v in super().state_dict().items() if self._is_frozen(k)}
        unexpected_frozen = [k for k in state_dict if self._is_frozen(k)]
        if strict and unexpected_frozen:
            raise RuntimeError(f"checkpoint holds frozen encoder weights, e.g. {unexpected_frozen[0]}")
        return super().load_state_dict({**frozen, **state_dict}, strict=strict, assign=assign)

    def train(self, mode: bool = True) -> WhisperStats:
        super().train(mode)
        if self.config.trainable_layers == 0:
            self.encoder.eval()  # a frozen encoder keeps dropout-free, deterministic features in training too
        return self

    def hidden_states(self, waveform: torch.Tensor) -> torch.Tensor:
        """`(batch, layers + 1, frames, width)` for 16 kHz waveforms `(batch, time)`."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.config.trainable_layers > 0):
            return self.encoder(self.mel(waveform))

    def statistics(self, waveform: torch.Tensor) -> torch.Tensor:
        """Per-layer mean and standard deviation over frames, `(batch, num_stats)`, before standardisation."""
        states = self.hidden_states(waveform)
        mean = states.mean(dim=2)
        std = states.std(dim=2, unbiased=False)
        return torch.cat([mean, std], dim=2).flatten(1)

    def classify(self, statistics: torch.Tensor) -> torch.Tensor:
        """Logits `(batch, 2)` from raw statistics (training on cached statistics calls this directly)."""
        return self.classifier((statistics - self.stats_mean) / self.stats_std)

    @torch.no_grad()
    def fit_standardisation(self, statistics: torch.Tensor) -> None:
        self.stats_mean.copy_(statistics.mean(dim=0))
        self.stats_std.copy_(statistics.std(dim=0).clamp(min=1e-4))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.classify(self.statistics(waveform))
