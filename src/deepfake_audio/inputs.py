"""Expand the paths, folders and globs a user passes into a list of audio files."""

from __future__ import annotations

import glob
from pathlib import Path

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".webm", ".aiff", ".aif",
     ".amr", ".wma", ".caf", ".mka"}
)


def expand_inputs(items: list[str]) -> list[str]:
    """Files as given; folders searched recursively for audio files; glob patterns expanded.

    A name that matches nothing is kept, so that the detector reports it as a per-file error
    instead of it vanishing from a batch run. Order is preserved; duplicates are dropped.
    """
    out: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            out += sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        elif not path.exists() and glob.has_magic(item):
            out += sorted(glob.glob(item, recursive=True)) or [item]
        else:
            out.append(item)
    return list(dict.fromkeys(out))
