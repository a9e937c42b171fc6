"""SSL-SLS: a self-supervised speech model (wav2vec 2.0 / XLS-R) with a layer-gated classifier, after
Zhang, Wen & Hu, "Audio Deepfake Detection with Self-Supervised XLS-R and SLS Classifier", ACM MM 2024.

waveform -> wav2vec 2.0 transformer, every layer's output `(layers, frames, dim)` -> one gate per layer,
`sigmoid(w . mean_over_time(layer))`, and the gated sum of the layers `(frames, dim)` -> BN + SELU ->
3x3 max-pool -> linear `hidden` -> SELU -> linear 2. The whole network is fine-tuned by default, as in
the paper (learning rate 1e-6). Published: 7.46% EER on In-the-Wild after training on ASVspoof 2019 LA,
the best number for a single model in ../shared/docs/anchors.md's cross-dataset list.

The pretrained weights are not bundled and never downloaded: `ssl_path` names a local directory in the
Hugging Face layout (`config.json` + `model.safetensors`), e.g. a copy of facebook/wav2vec2-xls-r-300m.
After the first build the SSL architecture is kept in `ssl_config`, so a trained checkpoint of this
model rebuilds and loads without that directory. Needs the `ssl` extra (transformers).

Differences from the paper's code, on purpose: Hugging Face's wav2vec 2.0 instead of fairseq (same
weights, no pickle); logits are returned without the paper's final SELU and log-softmax (the project's
contract is raw logits); time masking and layer drop inside the SSL model are off, as the paper's
`mask=False` call leaves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from deepfake_audio.errors import ConfigError, require
from deepfake_audio.models.base import DetectorModel, ModelConfig
from deepfake_audio.models.registry import register_model


@dataclass
class SSLSLSConfig(ModelConfig):
    duration: float = 4.0  # seconds; the paper crops 64,600 samples
    ssl_path: str = ""  # local Hugging Face wav2vec 2.0 directory; read once, when ssl_config is empty
    ssl_config: dict[str, Any] | None = None  # the SSL architecture (filled from ssl_path on first build)
    freeze_ssl: bool = False  # True: train only the classifier (cheaper; the paper fine-tunes everything)
    normalize_waveform: bool = True  # zero mean, unit variance per window, as XLS-R's feature extractor
    hidden: int = 1024
    pool: int = 3  # max-pool size over (frames, dim) before the first linear layer


def _conv_output_frames(samples: int, kernels: list[int], strides: list[int]) -> int:
    """Frames out of wav2vec 2.0's convolutional feature encoder (no padding) for `samples` in."""
    frames = samples
    for kernel, stride in zip(kernels, strides, strict=True):
        frames = (frames - kernel) // stride + 1
    return frames


def _load_pretrained(path: str) -> nn.Module:
    transformers = require("transformers", "ssl")
    directory = Path(path).expanduser()
    if not (directory / "config.json").is_file():
        raise ConfigError(
            f"model.ssl_path {path!r}: no config.json there; give a local wav2vec 2.0 / XLS-R directory in "
            "Hugging Face format (config.json + model.safetensors); nothing is downloaded"
        )
    transformers.utils.logging.disable_progress_bar()  # one model, one line of output: no loading bar
    try:
        return transformers.Wav2Vec2Model.from_pretrained(str(directory), local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"model.ssl_path {path!r}: cannot load wav2vec 2.0 weights ({reason})") from None


def _build_from_config(ssl_config: dict[str, Any]) -> nn.Module:
    transformers = require("transformers", "ssl")
    return transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**ssl_config))


@register_model("ssl-sls")
class SSLSLS(DetectorModel):
    """wav2vec 2.0 / XLS-R (local weights) + layer-gated classifier (SLS): for GPUs."""

    Config = SSLSLSConfig
    needs_local_weights: ClassVar[bool] = True

    def __init__(self, config: SSLSLSConfig) -> None:
        super().__init__(config)
        if config.ssl_config:
            self.ssl = _build_from_config(config.ssl_config)  # weights come from the checkpoint
        elif config.ssl_path:
            self.ssl = _load_pretrained(config.ssl_path)
        else:
            raise ConfigError(
                "model ssl-sls needs model.ssl_path: a local wav2vec 2.0 / XLS-R directory in Hugging Face "
                "format (config.json + model.safetensors); no weights are bundled or downloaded"
            )
        # No time masking or layer drop inside the SSL model: the classifier reads every layer, every frame.
        self.ssl.config.apply_spec_augment = False
        self.ssl.config.layerdrop = 0.0
        config.ssl_config = {k: v for k, v in self.ssl.config.to_dict().items() if not k.startswith("_")}
        # Each transformer layer's output, caught as it is computed, rather than `hidden_states`: whether
        # the last entry there has passed the final layer norm has changed between transformers releases.
        self._layer_outputs: list[torch.Tensor] = []
        for layer in self.ssl.encoder.layers:
            layer.register_forward_hook(self._catch_layer_output)
        # Parameters that never reach the classifier: the masking embedding (masking is off) and, in the
        # pre-norm variant that XLS-R uses, the encoder's final layer norm (it only feeds the last state,
        # which is not read). Frozen, so that DistributedDataParallel finds no unused parameters.
        unused = [self.ssl.masked_spec_embed] if getattr(self.ssl, "masked_spec_embed", None) is not None else []
        if self.ssl.config.do_stable_layer_norm:
            unused += list(self.ssl.encoder.layer_norm.parameters())
        for parameter in unused:
            parameter.requires_grad_(False)
        if config.freeze_ssl:
            self.ssl.requires_grad_(False)

        dim = self.ssl.config.hidden_size
        frames = _conv_output_frames(self.num_samples, list(self.ssl.config.conv_kernel),
                                     list(self.ssl.config.conv_stride))
        if frames < config.pool or dim < config.pool:
            raise ConfigError(f"ssl-sls: a {config.duration} s window gives {frames} frames, fewer than pool "
                              f"{config.pool}")
        self.layer_gate = nn.Linear(dim, 1)
        self.norm = nn.BatchNorm2d(1)
        self.hidden = nn.Linear((frames // config.pool) * (dim // config.pool), config.hidden)
        self.out = nn.Linear(config.hidden, 2)

    def train(self, mode: bool = True) -> SSLSLS:
        super().train(mode)
        if self.config.freeze_ssl:
            self.ssl.eval()  # a frozen SSL model keeps its dropout off in training too
        return self

    def _catch_layer_output(self, module: nn.Module, inputs: Any, output: Any) -> None:
        self._layer_outputs.append(output[0] if isinstance(output, tuple) else output)

    def _layers(self, waveform: torch.Tensor) -> torch.Tensor:
        """Every transformer layer's output, `(batch, layers, frames, dim)`."""
        if self.config.normalize_waveform:
            waveform = (waveform - waveform.mean(dim=1, keepdim=True)) / (
                waveform.std(dim=1, keepdim=True) + 1e-7
            )
        self._layer_outputs = []
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.freeze_ssl):
            self.ssl(waveform)
        layers, self._layer_outputs = self._layer_outputs, []
        return torch.stack(layers, dim=1)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        layers = self._layers(waveform)
        gates = torch.sigmoid(self.layer_gate(layers.mean(dim=2)))  # (batch, layers, 1)
        summed = (layers * gates[..., None]).sum(dim=1)  # (batch, frames, dim)
        x = F.selu(self.norm(summed[:, None]))
        x = F.max_pool2d(x, self.config.pool).flatten(1)
        return self.out(F.selu(self.hidden(x)))
