"""Converters from other projects' checkpoint formats to ours: `deepfake-audio import-checkpoint FORMAT`.

Each converter reads the foreign file without running code from it and writes a deepfake-audio
checkpoint (safetensors) whose header says where the weights came from.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from deepfake_audio.errors import ConfigError
from deepfake_audio.importers.clovaai_aasist import import_clovaai_aasist

IMPORTERS: dict[str, Callable[[str | os.PathLike, str | os.PathLike], dict[str, Any]]] = {
    "clovaai-aasist": import_clovaai_aasist,
}


def import_checkpoint(fmt: str, source: str | os.PathLike, out: str | os.PathLike) -> dict[str, Any]:
    """Convert `source` (in format `fmt`) to our checkpoint at `out`."""
    if fmt not in IMPORTERS:
        raise ConfigError(f"unknown checkpoint format {fmt!r}; available: {', '.join(sorted(IMPORTERS))}")
    return IMPORTERS[fmt](source, out)


__all__ = ["IMPORTERS", "import_checkpoint"]
