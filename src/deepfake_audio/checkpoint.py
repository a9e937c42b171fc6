"""Release checkpoints: one safetensors file holding the weights and, in its header, everything needed
to rebuild and use the model (architecture, config, calibration, threshold). No pickle anywhere."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from deepfake_audio.checkpoint_schema import validate_header
from deepfake_audio.errors import CheckpointError, ConfigError
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
    """Read only the header of a checkpoint, validated against `checkpoint_schema`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as e:  # safetensors raises several types for non-safetensors bytes
        raise CheckpointError(f"{path}: not a safetensors checkpoint ({_first_line(e)})") from e
    if METADATA_KEY not in metadata:
        raise CheckpointError(f"{path}: not a deepfake-audio checkpoint (no '{METADATA_KEY}' header)")
    header = parse_header_json(metadata[METADATA_KEY], path)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise CheckpointError(f"{path}: unsupported checkpoint format {found!r}; expected {FORMAT}")
    checked = validate_header(header, path)
    return CheckpointInfo(checked.model, checked.config, checked.threshold, checked.calibration, checked.extra)


def parse_header_json(text: str, path: str | os.PathLike) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: invalid checkpoint header: not JSON ({_first_line(e)})") from None


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[DetectorModel, CheckpointInfo]:
    """Rebuild the model a checkpoint describes, load its weights, and return it in eval mode.

    Every failure is a one-line `CheckpointError` naming the file: a header outside the schema, weights
    that do not fit the model (compared by name and shape before the model is built for real), NaN or
    Inf weights.
    """
    info = read_checkpoint_info(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}  # noqa: SIM118
        _check_shapes(path, info, shapes)
        model = build_model(info.model, **info.config)
        state = load_file(str(path), device="cpu")
        for key, tensor in state.items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise CheckpointError(f"{path}: weights hold NaN or Inf values (in {key!r})")
        model.load_state_dict(state)
        model = model.to(device).eval()
    except CheckpointError:
        raise
    except Exception as e:  # one line naming the file, whatever the model's code raised
        raise CheckpointError(f"{path}: cannot build model {info.model!r} from this checkpoint: {_first_line(e)}") from e
    return model, info


def _check_shapes(path: str | os.PathLike, info: CheckpointInfo, shapes: dict[str, tuple[int, ...]]) -> None:
    """Compare the file's tensors with the model's, built on the meta device (no memory)."""
    try:
        # Models that copy pretrained weights in while being built (the Whisper ones) make torch warn that
        # copying into meta tensors does nothing: true, and harmless here, where only shapes are read.
        with torch.device("meta"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*meta parameter.*")
            expected = {k: tuple(v.shape) for k, v in build_model(info.model, **info.config).state_dict().items()}
    except ConfigError as e:
        raise CheckpointError(f"{path}: config does not fit model {info.model!r}: {_first_line(e)}") from e
    except Exception:  # noqa: BLE001 - a model that cannot be built on meta: load_state_dict checks instead
        return
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    wrong = sorted(k for k in set(expected) & set(shapes) if expected[k] != shapes[k])
    if missing or unexpected or wrong:
        parts = [f"{len(names)} {what} ({_names(names, expected, shapes)})"
                 for what, names in (("missing", missing), ("unexpected", unexpected), ("of the wrong shape", wrong))
                 if names]
        raise CheckpointError(f"{path}: weights do not match model {info.model!r}: {'; '.join(parts)}")


def _names(names: list[str], expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]]) -> str:
    shown = []
    for name in names[:3]:
        if name in expected and name in found:
            shown.append(f"{name}: file {list(found[name])}, model {list(expected[name])}")
        else:
            shown.append(name)
    return ", ".join(shown) + (", ..." if len(names) > 3 else "")


def _first_line(error: BaseException, limit: int = 200) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
