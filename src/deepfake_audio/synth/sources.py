"""Turn the `inputs` argument (files, folders, manifests) into bona fide source clips with their metadata."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from deepfake_audio.data.trial import Label
from deepfake_audio.errors import DeepfakeAudioError
from deepfake_audio.synth.audio_io import AUDIO_SUFFIXES
from deepfake_audio.synth.manifest import MANIFEST_NAME, read_csv_rows

logger = logging.getLogger(__name__)

MANIFEST_SEARCH_DEPTH = 3  # dev/<source>/<label>/clip.flac sits three levels under dev/manifest.csv


@dataclass(frozen=True)
class SourceClip:
    """One bona fide clip to copy-synthesise, with what its corpus manifest says about it."""

    path: Path  # absolute
    speaker: str = ""
    text: str = ""
    license: str = ""
    original_sample_rate: int | None = None  # from the corpus manifest: a 16 kHz file may hold 8 kHz audio


def expand_inputs(inputs: list[Path]) -> list[SourceClip]:
    """Audio files as given, folders searched recursively, CSV manifests expanded to their bona fide rows.

    Files that do not exist are reported (one line each) and skipped. Metadata for a bare audio file
    comes from a `manifest.csv` up to three folders above it, when one lists the file.
    """
    clips: dict[Path, SourceClip] = {}
    lookups: dict[Path, dict[Path, dict[str, str]]] = {}
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
            for path in found:
                clips.setdefault(path.resolve(), _with_metadata(path.resolve(), lookups))
        elif item.suffix.lower() == ".csv" and item.is_file():
            for clip in _from_manifest(item):
                clips.setdefault(clip.path, clip)
        elif item.is_file():
            clips.setdefault(item.resolve(), _with_metadata(item.resolve(), lookups))
        else:
            logger.warning("skipped input %s: no such file or folder", item)
    return list(clips.values())


def _clip_from_row(path: Path, row: dict[str, str]) -> SourceClip:
    rate = row.get("original_sample_rate") or ""
    return SourceClip(
        path,
        speaker=row.get("speaker") or "",
        text=row.get("text") or "",
        license=row.get("license") or "",
        original_sample_rate=int(float(rate)) if rate.replace(".", "", 1).isdigit() else None,
    )


def _from_manifest(csv_path: Path) -> list[SourceClip]:
    clips = []
    for row in read_csv_rows(csv_path):
        try:
            label = Label.parse(row.get("label") or "bonafide")
        except ValueError:
            logger.warning("skipped %s row %s: unknown label %r", csv_path, row["path"], row.get("label"))
            continue
        # Copy-synthesis of a spoof would blur which generator made the artefacts: bona fide rows only.
        if label is Label.BONAFIDE:
            clips.append(_clip_from_row((csv_path.parent / row["path"]).resolve(), row))
    return clips


def _with_metadata(path: Path, lookups: dict[Path, dict[Path, dict[str, str]]]) -> SourceClip:
    for folder in list(path.parents)[:MANIFEST_SEARCH_DEPTH]:
        manifest = folder / MANIFEST_NAME
        if manifest not in lookups:
            lookups[manifest] = {}
            if manifest.is_file():
                try:
                    lookups[manifest] = {(folder / r["path"]).resolve(): r for r in read_csv_rows(manifest)}
                except DeepfakeAudioError as e:
                    logger.warning("ignored %s for metadata: %s", manifest, e)
        if path in lookups[manifest]:
            return _clip_from_row(path, lookups[manifest][path])
    return SourceClip(path)
