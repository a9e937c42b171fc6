"""Expand the paths, folders and globs a user passes into a list of audio files, and say what was left out.

Every name the user gives is accounted for: files (and audio-named special files, which the detector
then reports as errors) are listed, a named folder without audio is an error, and what a folder search
leaves out is listed with the reason (`Skipped`), for the command line's summary.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".webm", ".aiff", ".aif",
     ".amr", ".wma", ".caf", ".mka"}
)
_SPECIAL = {stat.S_IFIFO: "named pipe (FIFO)", stat.S_IFSOCK: "socket", stat.S_IFCHR: "character device",
            stat.S_IFBLK: "block device"}


@dataclass(frozen=True)
class Skipped:
    """An entry a folder search left out, and why."""

    path: str
    reason: str


@dataclass
class InputListing:
    files: list[str] = field(default_factory=list)  # to score, in order, without duplicates
    errors: list[tuple[str, str]] = field(default_factory=list)  # (name, one-line error) for named inputs
    skipped: list[Skipped] = field(default_factory=list)  # left out of folder searches

    def skipped_summary(self) -> str | None:
        """One line: how many entries were left out of folders, by reason, with a few examples."""
        if not self.skipped:
            return None
        reasons = Counter(s.reason for s in self.skipped)
        parts = []
        for reason, count in reasons.most_common():
            examples = [s.path for s in self.skipped if s.reason == reason][:2]
            more = ", ..." if count > len(examples) else ""
            parts.append(f"{count} {reason} ({', '.join(examples)}{more})")
        return f"skipped {len(self.skipped)} folder entr{'y' if len(self.skipped) == 1 else 'ies'}: " + "; ".join(parts)


def expand_inputs(items: list[str]) -> list[str]:
    """Files as given; folders searched recursively for audio files; glob patterns expanded.

    A name that matches nothing is kept, so that the detector reports it as a per-file error
    instead of it vanishing from a batch run. Order is preserved; duplicates are dropped.
    """
    return list_inputs(items).files


def list_inputs(items: list[str]) -> InputListing:
    """`expand_inputs`, with the errors for named folders that hold no audio and the skipped entries."""
    listing = InputListing()
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = _search_folder(path, listing.skipped)
            if found:
                listing.files += found
            else:
                listing.errors.append((item, f"{item}: is a folder with no audio files in it"))
        elif not os.path.lexists(item) and glob.has_magic(item):
            listing.files += sorted(glob.glob(item, recursive=True)) or [item]
        else:
            listing.files.append(item)  # whatever it is, the detector reports it (missing, FIFO, link loop)
    listing.files = list(dict.fromkeys(listing.files))
    return listing


def _search_folder(folder: Path, skipped: list[Skipped]) -> list[str]:
    """Audio files under `folder`, sorted; symbolic links to folders are not followed (no loops)."""
    found: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        skipped.append(Skipped(str(folder), f"unreadable folder ({e.strerror})"))
        return found
    for entry in entries:
        path = Path(entry.path)
        audio_name = path.suffix.lower() in AUDIO_EXTENSIONS
        kind = _entry_kind(entry)
        if kind == "folder":
            found += _search_folder(path, skipped)
        elif kind == "file":
            if audio_name:
                found.append(str(path))
            else:
                skipped.append(Skipped(str(path), "not audio by name"))
        elif audio_name and kind != "symbolic link to a folder":
            found.append(str(path))  # looks like audio but cannot be read: the detector says why, per file
        else:
            skipped.append(Skipped(str(path), kind))
    return found


def _entry_kind(entry: os.DirEntry) -> str:
    """'file', 'folder', or why the entry is neither a regular file nor a folder to search."""
    try:
        if entry.is_symlink():
            try:
                target = os.stat(entry.path)
            except FileNotFoundError:
                return "broken symbolic link"
            except OSError as e:
                return "symbolic link loop" if e.errno == errno.ELOOP else f"unreadable entry ({e.strerror})"
            if stat.S_ISDIR(target.st_mode):
                return "symbolic link to a folder"
            mode = target.st_mode
        else:
            mode = entry.stat(follow_symlinks=False).st_mode
    except OSError as e:
        return f"unreadable entry ({e.strerror})"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISREG(mode):
        return "file"
    return _SPECIAL.get(stat.S_IFMT(mode), "special file")
