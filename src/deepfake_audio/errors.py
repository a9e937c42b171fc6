"""Exceptions raised at the library's edges.

The CLI is the only place that turns these into exit codes; library code raises them with a one-line,
fix-it message that names the file (and line, for protocol files) and the reason.
"""

from __future__ import annotations

from types import ModuleType


class DeepfakeAudioError(Exception):
    """Base class for every error this package raises on purpose."""


class AudioDecodeError(DeepfakeAudioError):
    """An audio source could not be read or holds no usable audio."""


class ProtocolError(DeepfakeAudioError):
    """A manifest, protocol or key file is missing or malformed."""


class CheckpointError(DeepfakeAudioError):
    """A checkpoint file is missing, not ours, or does not match its model."""


class ConfigError(DeepfakeAudioError):
    """A configuration file or override is invalid."""


class MissingExtraError(DeepfakeAudioError, ImportError):
    """An optional dependency is needed; the message names the pip extra that installs it."""

    def __init__(self, message: str, *, module: str | None = None, extra: str | None = None) -> None:
        super().__init__(message)
        self.module, self.extra = module, extra


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or raise a message naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
            f"this feature needs '{module}': pip install 'deepfake-audio[{extra}]'", module=module, extra=extra
        ) from e
