"""Helpers shared by the corpus readers: protocol lines, label parsing, file checks, folder listing."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.errors import ConfigError, ProtocolError
from deepfake_audio.text_input import open_utf8

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac")
MISSING_EXAMPLES = 3  # how many missing files the summary error names


def protocol_lines(path: Path, num_fields: int | Sequence[int]) -> Iterator[tuple[int, list[str]]]:
    """Yield `(line_number, fields)` of a whitespace-separated protocol, checking the field count."""
    allowed = (num_fields,) if isinstance(num_fields, int) else tuple(num_fields)
    expected = " or ".join(str(n) for n in allowed)
    with open_utf8(path) as f:
        for lineno, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) not in allowed:
                raise ProtocolError(f"{path}:{lineno}: expected {expected} fields, got {len(fields)}")
            yield lineno, fields


def parse_label(text: str, path: Path, lineno: int) -> Label:
    """`Label.parse`, re-raised as a `ProtocolError` that names the file and line."""
    try:
        return Label.parse(text)
    except ValueError as e:
        raise ProtocolError(f"{path}:{lineno}: {e}") from e


def system_for(label: Label, system: str | None) -> str | None:
    """The `Trial.system` convention: "bonafide" for real speech, the generator id (or None) for spoofs."""
    if label is Label.BONAFIDE:
        return "bonafide"
    return None if system in (None, "", "-") else system


def flac_trial(
    protocol: Path, lineno: int, key: str, utt: str, audio_dir: Path, system: str | None, **fields: Any
) -> Trial:
    """The trial of one protocol line: audio `audio_dir/<utt>.flac`, label parsed from `key`, `system_for`."""
    label = parse_label(key, protocol, lineno)
    path = audio_dir / f"{utt}.flac"
    return Trial(utterance_id=utt, path=path, label=label, system=system_for(label, system), **fields)


def dash_to_none(value: str) -> str | None:
    """Protocols write "-" for "not applicable"; trials keep `None`."""
    return None if value in ("", "-") else value


def require_file(path: Path, what: str, hint: str = "") -> Path:
    """Return `path`, or raise a `ProtocolError` saying which file is missing and how to get it."""
    if not path.is_file():
        raise ProtocolError(f"{path}: {what} not found" + (f"; {hint}" if hint else ""))
    return path


def first_existing(candidates: Iterable[Path]) -> Path | None:
    """The first candidate path that exists, or None."""
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return None


def choose_subsets(subset: str | None, valid: Sequence[str], dataset: str) -> list[str]:
    """All `valid` subsets when `subset` is None, else `[subset]` after checking it."""
    if subset is None:
        return list(valid)
    if subset not in valid:
        raise ConfigError(f"unknown subset {subset!r} for dataset {dataset!r}; valid: {', '.join(valid)}")
    return [subset]


def choose_protocol_subsets(
    subset: str | None, protocol: str | Path | None, valid: Sequence[str], dataset: str
) -> list[str]:
    """`choose_subsets`, also refusing a custom `protocol` without a `subset` to locate its audio."""
    subsets = choose_subsets(subset, valid, dataset)
    if protocol is not None and subset is None:
        raise ConfigError(f"{dataset}: a custom protocol needs subset={'|'.join(valid)} to locate its audio")
    return subsets


def subsets_present(subsets: Sequence[str], subset: str | None, protocol_of: dict[str, Path]) -> list[str]:
    """With no `subset` asked for, the subsets whose protocol file is there (an eval-only copy of a corpus
    is evaluated as it is); all of them when none is, so the caller's missing-file error names the first."""
    if subset is not None:
        return list(subsets)
    present = [s for s in subsets if protocol_of[s].is_file()]
    return present or list(subsets)


def refuse_subset(subset: str | None, dataset: str) -> None:
    """Raise for corpora that have no official subsets."""
    if subset is not None:
        raise ConfigError(f"dataset {dataset!r} has no subsets; got subset={subset!r} (leave it unset)")


def list_audio(folder: Path, recursive: bool = True) -> list[Path]:
    """Audio files under `folder` (by extension, case-insensitive), sorted for a stable order."""
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def check_audio_files(trials: Sequence[Trial], root: Path) -> None:
    """Raise one `ProtocolError` summarising every trial whose audio file is missing."""
    by_folder: dict[Path, list[Trial]] = defaultdict(list)
    for trial in trials:
        by_folder[trial.path.parent].append(trial)
    missing: list[Path] = []
    # One directory listing per folder instead of one stat per file: ASVspoof DF has 611,829 trials.
    for folder, members in by_folder.items():
        try:
            present = set(os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            present = set()
        missing.extend(t.path for t in members if t.path.name not in present)
    if missing:
        examples = ", ".join(str(p) for p in sorted(missing)[:MISSING_EXAMPLES])
        raise ProtocolError(
            f"{root}: {len(missing)} of {len(trials)} audio files are missing (e.g. {examples}); "
            "check the corpus root, or pass check_files=False"
        )


def check_unique_ids(trials: Sequence[Trial], root: Path) -> None:
    """Raise if two trials share an utterance id: score files are keyed by it."""
    seen: dict[str, Path] = {}
    for trial in trials:
        if trial.utterance_id in seen:
            raise ProtocolError(
                f"{root}: utterance id {trial.utterance_id!r} is used by both {seen[trial.utterance_id]} "
                f"and {trial.path}"
            )
        seen[trial.utterance_id] = trial.path


def csv_rows(
    path: Path, required: Sequence[str], delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield `(line_number, row)` of a CSV file with a header, checking columns and field counts."""
    import csv

    with open_utf8(path) as f:  # spreadsheet BOMs are dropped
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise ProtocolError(f"{path}:1: empty file, expected a header with {', '.join(required)}")
        header = [h.strip() for h in header]
        absent = [c for c in required if c not in header]
        if absent:
            raise ProtocolError(
                f"{path}:1: missing column(s) {', '.join(absent)}; header is {delimiter.join(header)}"
            )
        for fields in reader:
            if not fields or all(not x.strip() for x in fields):
                continue
            if len(fields) != len(header):
                raise ProtocolError(
                    f"{path}:{reader.line_num}: expected {len(header)} fields, got {len(fields)}"
                )
            yield reader.line_num, dict(zip(header, (x.strip() for x in fields)))
