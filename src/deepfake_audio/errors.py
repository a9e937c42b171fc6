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


MAX_ERROR_CHARS = 300  # library messages can embed whole state dumps; a per-file error stays one short line


def one_line_error(name: str, error: BaseException, *, context: str = "") -> str:
    """`name: reason` on one line, naming the file exactly once.

    The package's own errors already start with the name; anything else (a bug, or a library failing on
    odd input) is reported with its type, so a batch can carry on and the message can still be acted on.
    """
    text = " ".join(str(error).split())
    if isinstance(error, DeepfakeAudioError) and text.startswith(f"{name}: "):
        text = text[len(name) + 2:]
    else:
        # the file is named once, in front: drop the copies libraries put in their own messages
        for quoted in (f"'{name}'", f'"{name}"', name):
            text = text.replace(quoted, "the file")
        if not isinstance(error, DeepfakeAudioError):
            text = f"unexpected {type(error).__name__}" + (f" ({text})" if text else "")
    if context:
        text = f"{context}: {text}"
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 3].rstrip() + "..."
    return f"{name}: {text}"
