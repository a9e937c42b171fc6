"""Model registry: one dict, filled by a decorator, feeding `build_model`, the CLI and the tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from deepfake_audio.errors import ConfigError
from deepfake_audio.models.base import DetectorModel

MODELS: dict[str, type[DetectorModel]] = {}

M = TypeVar("M", bound=type[DetectorModel])


def register_model(name: str) -> Callable[[M], M]:
    """Class decorator: make a `DetectorModel` buildable by `name`."""

    def wrap(cls: M) -> M:
        if name in MODELS:
            raise ValueError(f"model name {name!r} is already registered by {MODELS[name].__name__}")
        cls.name = name
        MODELS[name] = cls
        return cls

    return wrap


def available_models() -> list[str]:
    """Names of every registered model, sorted."""
    _import_all()
    return sorted(MODELS)


def build_model(name: str, **kwargs: Any) -> DetectorModel:
    """Build a registered model from its name and config keyword arguments.

    Unknown names and unknown keyword arguments raise `ConfigError` listing the valid ones.
    """
    _import_all()
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    cls = MODELS[name]
    valid = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for model {name!r}; valid: {', '.join(sorted(valid))}"
        )
    return cls(cls.Config(**kwargs))


def count_parameters(model: DetectorModel) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _import_all() -> None:
    # Importing the package registers every architecture module it lists.
    import deepfake_audio.models  # noqa: F401
