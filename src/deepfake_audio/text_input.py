"""Read a user's text file (manifest, protocol, score file, config) as UTF-8, or say where it is not.

Spreadsheets and old tools save Latin-1 or UTF-16; Python's own error for that is a traceback with a
byte offset. This one names the file and line.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from deepfake_audio.errors import DeepfakeAudioError, ProtocolError


def read_utf8(path: str | os.PathLike, error: type[DeepfakeAudioError] = ProtocolError) -> str:
    """The file's text (a leading byte-order mark dropped); `error` names the file and line if it is
    unreadable or not UTF-8."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise error(f"{path}: cannot read file ({e.strerror or e})") from e
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise error(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as UTF-8") from None


def open_utf8(path: str | os.PathLike, error: type[DeepfakeAudioError] = ProtocolError) -> io.StringIO:
    """`read_utf8` as a text stream (newlines kept as written, for the csv module)."""
    return io.StringIO(read_utf8(path, error), newline="")
