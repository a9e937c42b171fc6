"""Detector architectures. Every module in this package registers its model(s) on import."""

from __future__ import annotations

import importlib
import pkgutil

from deepfake_audio.models.base import DetectorModel, ModelConfig
from deepfake_audio.models.registry import (
    MODELS,
    available_models,
    build_model,
    count_parameters,
    register_model,
)

# Import every architecture module so its @register_model runs; a new file needs no edit here.
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in {"base", "registry"} and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "MODELS",
    "DetectorModel",
    "ModelConfig",
    "available_models",
    "build_model",
    "count_parameters",
    "register_model",
]
