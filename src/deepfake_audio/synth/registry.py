"""Generator registry: one dict filled by a decorator, feeding `synthesize`, the CLI and the tests."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

from deepfake_audio.errors import ConfigError

SYNTH_EXTRA = "synth"


@dataclass
class Synthesis:
    """One generated waveform at its native rate plus the parameters drawn for it."""

    waveform: np.ndarray  # (time,) float32
    sample_rate: int
    params: dict[str, Any] = field(default_factory=dict)


class Generator(ABC):
    """A way to make spoofed speech: copy-synthesis of a clip (`kind="copy"`) or text-to-speech (`"tts"`)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    kind: ClassVar[str] = "copy"
    # Filled into the manifest's source_repo / license columns for TTS output.
    origin: ClassVar[str] = ""
    license: ClassVar[str] = ""

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this generator cannot run on this machine, or None when it can."""
        return None

    @abstractmethod
    def generate(self, source: np.ndarray | str, rng: np.random.Generator) -> Synthesis:
        """Copy-synthesise a (time,) float32 16 kHz waveform, or speak a text (by `kind`)."""


G = TypeVar("G", bound=type[Generator])

GENERATORS: dict[str, type[Generator]] = {}


def register_generator(name: str) -> Callable[[G], G]:
    """Class decorator: make a `Generator` usable by `name`."""

    def wrap(cls: G) -> G:
        if name in GENERATORS:
            raise ValueError(f"generator name {name!r} is already registered by {GENERATORS[name].__name__}")
        if cls.kind not in ("copy", "tts"):
            raise ValueError(f"generator {name!r} has kind {cls.kind!r}; expected 'copy' or 'tts'")
        cls.name = name
        GENERATORS[name] = cls
        return cls

    return wrap


def available_generators() -> dict[str, str]:
    """Generators usable on this machine: name -> one-line description."""
    _import_all()
    return {n: c.description for n, c in sorted(GENERATORS.items()) if c.unavailable_reason() is None}


# Copy-synthesis generators `synth` runs when none are named: different kinds of vocoder, none slower
# than real time on a CPU.
DEFAULT_GENERATORS = ("griffinlim", "world", "lpc")


def default_generators() -> tuple[list[str], dict[str, str]]:
    """The default generators usable here, and the skipped ones with the reason and install hint."""
    missing = unavailable_generators()
    return [n for n in DEFAULT_GENERATORS if n not in missing], {n: missing[n] for n in DEFAULT_GENERATORS if n in missing}


def unavailable_generators() -> dict[str, str]:
    """Generators that cannot run here: name -> reason with the install hint."""
    _import_all()
    reasons = {n: c.unavailable_reason() for n, c in sorted(GENERATORS.items())}
    return {n: r for n, r in reasons.items() if r is not None}


def generator_class(name: str) -> type[Generator]:
    """The registered class for `name`; unknown or unusable names raise `ConfigError`."""
    _import_all()
    if name not in GENERATORS:
        raise ConfigError(f"unknown generator {name!r}; available: {', '.join(sorted(GENERATORS))}")
    reason = GENERATORS[name].unavailable_reason()
    if reason is not None:
        raise ConfigError(f"generator {name!r} is not usable here: {reason}")
    return GENERATORS[name]


def _import_all() -> None:
    # Importing the package registers every generator module it lists.
    import deepfake_audio.synth  # noqa: F401


def missing_module(module: str, package: str, extra: str = SYNTH_EXTRA) -> str | None:
    """An install hint when `module` cannot be imported, else None (without importing it)."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return f"{package} not installed: pip install 'deepfake-audio[{extra}]'"
    return None


def missing_command(command: str, apt_packages: str) -> str | None:
    """An install hint when `command` is not on PATH, else None."""
    import shutil

    if shutil.which(command) is None:
        return f"{command} not found: apt-get install --no-install-recommends {apt_packages}"
    return None
