"""Named training presets shipped with the package (`deepfake-audio train --preset NAME`)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from deepfake_audio.errors import ConfigError


def available_presets() -> list[str]:
    folder = resources.files("deepfake_audio") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_path(name: str) -> Path:
    if name not in available_presets():
        raise ConfigError(f"unknown preset {name!r}; available: {', '.join(available_presets())}")
    return Path(str(resources.files("deepfake_audio") / "presets" / f"{name}.yaml"))
