"""Experiment configuration: nested dataclasses are the one source of defaults.

YAML files under `configs/` hold only what differs from the defaults; `key.path=value` overrides come
from the command line. The resolved config is written into the run folder and embedded in checkpoints.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deepfake_audio.errors import ConfigError
from deepfake_audio.text_input import read_utf8


@dataclass
class DataConfig:
    dataset: str = "csv"  # a reader name from deepfake_audio.data.corpora (csv, folder, asvspoof2019-la, ...)
    root: str = ""  # manifest file (csv) or corpus folder, as distributed
    options: dict[str, Any] = field(default_factory=dict)  # reader options, e.g. {subset: train}
    val_dataset: str | None = None  # a separate validation corpus; else split `root`
    val_root: str | None = None
    val_options: dict[str, Any] = field(default_factory=dict)
    split: str = "system"  # how to carve validation from `root`: random | system | speaker | source
    val_fraction: float = 0.2
    exclude_sources: list[str] = field(default_factory=list)  # e.g. [fsdd]: 8 kHz-only real speech
    exclude_systems: list[str] = field(default_factory=list)
    crop: str = "random"  # training window placement: random | start | center
    trim_silence: bool = False  # strip leading/trailing silence before cropping (train and inference)
    cache_audio: bool = True  # keep decoded 16 kHz audio in memory after the first epoch
    num_workers: int = 0


@dataclass
class TrainConfig:
    epochs: int = 5
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str = "none"  # none | cosine (per step, to lr * 0.01)
    balance: str = "loss"  # loss (class-weighted CE) | sampler (weighted sampling) | source (per collection and label) | none
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    mixed_precision: bool = True  # bf16 autocast, on CUDA only
    early_stopping_patience: int = 0  # epochs without a better validation EER; 0 = off
    max_steps_per_epoch: int = 0  # 0 = whole epoch; small values for smoke tests
    val_hop: float = 0.5  # validation scores clips in windows overlapping by this fraction
    augment: list[dict[str, Any]] = field(default_factory=list)  # see deepfake_audio.augment


@dataclass
class ExperimentConfig:
    model: dict[str, Any] = field(default_factory=lambda: {"name": "seed-cnn"})
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_dict(raw: dict[str, Any]) -> ExperimentConfig:
    """Build the config, rejecting unknown keys with the list of valid ones."""
    return _build(ExperimentConfig, raw, prefix="")


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read a YAML file (or start from defaults), apply `a.b=value` overrides, validate."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            raw = yaml.safe_load(read_utf8(path, ConfigError)) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML: {str(e).splitlines()[0]}") from e
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
    for override in overrides:
        _apply_override(raw, override)
    return config_from_dict(raw)


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))


def _apply_override(raw: dict[str, Any], override: str) -> None:
    if "=" not in override:
        raise ConfigError(f"override {override!r} must look like key.path=value")
    key, value = override.split("=", 1)
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {part!r} is not a section")
    node[parts[-1]] = yaml.safe_load(value) if value.strip() else ""


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Give scalars their declared type: YAML reads `3e-4` as a string, and users type `epochs=abc`."""
    if hint in (int, float) and not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a number; got {value!r}") from None
        if hint is int:
            if not number.is_integer():
                raise ConfigError(f"{key} must be a whole number; got {value!r}")
            return int(number)
        return number
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false; got {value!r}")
    return value


def _build(cls: type, raw: dict[str, Any], prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"section {prefix.rstrip('.') or '(top)'} must be a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key '{prefix}{unknown[0]}'; valid keys: {', '.join(prefix + k for k in fields)}"
        )
    kwargs: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for name, value in raw.items():
        default = cls.__dataclass_fields__[name].default_factory  # type: ignore[attr-defined]
        if default is not dataclasses.MISSING:
            sample = default()
            if dataclasses.is_dataclass(sample):
                kwargs[name] = _build(type(sample), value, prefix=f"{prefix}{name}.")
                continue
        kwargs[name] = _coerce(value, hints.get(name), f"{prefix}{name}")
    if cls is ExperimentConfig and "model" in kwargs:
        model = kwargs["model"]
        if not isinstance(model, dict):
            raise ConfigError("section 'model' must be a mapping with a 'name' (see `deepfake-audio models`)")
        kwargs["model"] = {"name": "seed-cnn", **model}
    return cls(**kwargs)
