"""What a checkpoint's header may say, checked before anything is built from it.

A header is data from whoever made the file: a string where a dict belongs, an FFT size of 2**26 (a
107 GB filterbank) or a window of hours (gigabytes per clip) must be refused with one line naming the
file, not trusted. The same schema serves safetensors checkpoints and exported ONNX models.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any

from deepfake_audio.errors import CheckpointError

# Bounds on model config values. Every model is fed 16 kHz audio; windows longer than a minute or FFTs
# above 16k points are not what any detector here uses, and would cost gigabytes per window.
SAMPLE_RATE = 16_000
MIN_WINDOW_SECONDS = 0.1
MAX_WINDOW_SECONDS = 60.0
MAX_FFT = 16_384
NAMED_RANGES: dict[str, tuple[float, float]] = {
    "duration": (MIN_WINDOW_SECONDS, MAX_WINDOW_SECONDS),
    "sample_rate": (SAMPLE_RATE, SAMPLE_RATE),
    "n_fft": (16, MAX_FFT),
    "win_length": (1, MAX_FFT),
    "hop_length": (1, MAX_FFT),
    "sinc_kernel_size": (1, MAX_FFT),
}
# Any other integer (channels, layers, bands, ...) stays below this; real configs use at most a few
# thousand, and a model's weights are compared with the file's before it is built for real.
MAX_CONFIG_INT = 1 << 16
CALIBRATION_KEYS = ("scale", "offset")


@dataclasses.dataclass
class Header:
    """A validated header's parts."""

    model: str
    config: dict[str, Any]
    threshold: float
    calibration: dict[str, float]
    extra: dict[str, Any]


def validate_header(header: Any, path: str | Path) -> Header:
    """Check a decoded header against the schema; a `CheckpointError` naming `path` says what is wrong."""
    from deepfake_audio.models import MODELS, available_models

    def fail(reason: str) -> CheckpointError:
        return CheckpointError(f"{path}: invalid checkpoint header: {reason}")

    if not isinstance(header, dict):
        raise fail(f"expected a JSON object, got {_kind(header)}")
    if "model" not in header:
        raise fail("no 'model' entry (the architecture name)")
    model = header["model"]
    names = available_models()
    if not isinstance(model, str):
        raise fail(f"'model' must be a string naming an architecture, got {_kind(model)}")
    if model not in MODELS:
        raise fail(f"unknown model {_short(model)}; known: {', '.join(names)}")
    config = header.get("config")
    if not isinstance(config, dict):
        raise fail(f"'config' must be an object of model options, got {_kind(config)}")
    _check_config(model, config, fail)
    threshold = header.get("threshold", 0.0)
    if not _is_finite_number(threshold):
        raise fail(f"'threshold' must be a finite number, got {_short(threshold)}")
    calibration = header.get("calibration") or {"scale": 1.0, "offset": 0.0}
    if not isinstance(calibration, dict):
        raise fail(f"'calibration' must be an object with scale and offset, got {_kind(calibration)}")
    for key, value in calibration.items():
        if key not in CALIBRATION_KEYS:
            raise fail(f"unknown calibration entry {_short(key)}; expected {' and '.join(CALIBRATION_KEYS)}")
        if not _is_finite_number(value):
            raise fail(f"calibration {key} must be a finite number, got {_short(value)}")
    extra = header.get("extra") or {}
    if not isinstance(extra, dict):
        raise fail(f"'extra' must be an object, got {_kind(extra)}")
    if "trim_silence" in extra and not isinstance(extra["trim_silence"], bool):
        raise fail(f"extra trim_silence must be true or false, got {_short(extra['trim_silence'])}")
    return Header(model, config, float(threshold), {k: float(v) for k, v in calibration.items()}, extra)


def _check_config(model: str, config: dict[str, Any], fail: Any) -> None:
    from deepfake_audio.models import MODELS

    config_class = MODELS[model].Config
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    try:
        hints = typing.get_type_hints(config_class)
    except Exception:  # noqa: BLE001 - an annotation that cannot be resolved: check against the defaults
        hints = {}
    for key, value in config.items():
        if key not in fields:
            raise fail(f"unknown option {_short(key)} for model {model!r}; valid: {', '.join(sorted(fields))}")
        expected = hints.get(key, Any)
        if not _matches(value, expected):
            raise fail(f"config {key} must be {_type_name(expected)}, got {_short(value)}")
        _check_range(key, value, fail)


def _check_range(key: str, value: Any, fail: Any) -> None:
    numbers = value if isinstance(value, (list, tuple)) else [value]
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            continue
        if not math.isfinite(number):
            raise fail(f"config {key} must be finite, got {number}")
        if key in NAMED_RANGES:
            low, high = NAMED_RANGES[key]
            if not low <= number <= high:
                raise fail(f"config {key} = {number:g} is outside the accepted {low:g}-{high:g}")
        elif isinstance(number, int) and abs(number) > MAX_CONFIG_INT:
            raise fail(f"config {key} = {number} is implausibly large (limit {MAX_CONFIG_INT})")


def _matches(value: Any, expected: Any) -> bool:
    """Whether a JSON value fits a config field's annotation (lists stand for tuples)."""
    if expected is Any:
        return True
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
        item = args[0] if args else Any
        return all(_matches(v, item) for v in value)
    if origin is dict or expected is dict:
        return isinstance(value, dict)
    return True  # an annotation this schema does not know: the model's own checks decide


def _type_name(expected: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    if expected in names:
        return names[expected]
    return str(expected).replace("typing.", "")


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), f"{type(value).__name__} {_short(value)}")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
