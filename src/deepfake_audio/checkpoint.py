"""Release checkpoints: one safetensors file holding the weights and, in its header, everything needed
to rebuild and use the model (architecture, config, calibration, threshold). No pickle anywhere."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from deepfake_audio.errors import CheckpointError
from deepfake_audio.models import DetectorModel, build_model

FORMAT = "deepfake_audio.checkpoint/1"
METADATA_KEY = "deepfake_audio"
SCORE_CONVENTION = "bonafide_log_odds"  # higher = more bona fide


@dataclass
class CheckpointInfo:
    """What a checkpoint says about itself, besides the weights."""

    model: str
    config: dict[str, Any]
    threshold: float = 0.0  # on the raw score; below it -> spoof
    calibration: dict[str, float] = field(default_factory=lambda: {"scale": 1.0, "offset": 0.0})
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    model: DetectorModel,
    path: str | os.PathLike,
    *,
    threshold: float = 0.0,
    calibration: dict[str, float] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `model`'s weights and self-description to `path` (written atomically)."""
    from deepfake_audio import __version__

    header = {
        "format": FORMAT,
        "package_version": __version__,
        "model": model.name,
        "config": model.config_dict(),
        "score": SCORE_CONVENTION,
        "threshold": float(threshold),
        "calibration": calibration or {"scale": 1.0, "offset": 0.0},
        "extra": extra or {},
    }
    # Contiguous clones: safetensors refuses shared or strided storage.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(header)})
    os.replace(tmp, path)
    return path


def read_checkpoint_info(path: str | os.PathLike) -> CheckpointInfo:
    """Read only the header of a checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as e:  # safetensors raises several types for non-safetensors bytes
        raise CheckpointError(f"{path}: not a safetensors checkpoint ({e})") from e
    if METADATA_KEY not in metadata:
        raise CheckpointError(f"{path}: not a deepfake-audio checkpoint (no '{METADATA_KEY}' header)")
    header = json.loads(metadata[METADATA_KEY])
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unsupported checkpoint format {header.get('format')!r}; expected {FORMAT}")
    return CheckpointInfo(
        model=header["model"],
        config=header["config"],
        threshold=float(header.get("threshold", 0.0)),
        calibration=header.get("calibration") or {"scale": 1.0, "offset": 0.0},
        extra=header.get("extra") or {},
    )


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[DetectorModel, CheckpointInfo]:
    """Rebuild the model a checkpoint describes, load its weights, and return it in eval mode."""
    info = read_checkpoint_info(path)
    model = build_model(info.model, **info.config)
    try:
        state = load_file(str(path), device=str(device))
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not match model {info.model!r}: {e}") from e
    return model.to(device).eval(), info


def update_header_extra(path: str | os.PathLike, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Rewrite a checkpoint's header `extra` as `change(extra)` returns it; weights are copied unchanged.

    For facts learned after training (a benchmark's measured speed or error rate). Written atomically.
    """
    read_checkpoint_info(path)  # a clear error for files that are not checkpoints
    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata())
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    header = json.loads(metadata[METADATA_KEY])
    header["extra"] = change(dict(header.get("extra") or {}))
    metadata[METADATA_KEY] = json.dumps(header)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
