"""What a checkpoint was trained on, stored at training time, so `evaluate` can warn of overlap.

A clip is identified by the last three parts of its path (e.g. `melgan_demo/spoof/00012.flac`,
`ASVspoof2019_LA_train/flac/LA_T_1000137.flac`): the same corpus unpacked elsewhere, or listed by a
manifest with absolute paths, still matches. Checkpoints keep a 12-hex-digit hash per clip (about 15
bytes each, up to MAX_PATH_KEYS clips) and a hash of all of them, never the paths themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deepfake_audio.data.trial import Trial

EXTRA_KEY = "training_data"
VALIDATION_KEY = "validation_data"
MAX_PATH_KEYS = 50_000  # above this, only the count and the hash of all paths are kept
_KEY_PARTS = 3


def clip_key(path: str | Path) -> str:
    """A short, location-independent identity of one clip file."""
    parts = Path(path).parts[-_KEY_PARTS:]
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:12]


def describe_data(trials: Sequence[Trial], root: str | Path | None) -> dict[str, Any]:
    """The record stored in a checkpoint's extra: manifest/corpus name, count, hashes, sources."""
    keys = sorted(clip_key(t.path) for t in trials)
    record: dict[str, Any] = {
        "manifest": Path(str(root)).name if root else None,
        "count": len(keys),
        "paths_sha256": hashlib.sha256("\n".join(keys).encode()).hexdigest(),
        "sources": sorted({t.source for t in trials if t.source}),
    }
    if len(keys) <= MAX_PATH_KEYS:
        record["path_keys"] = keys
    return record


def training_overlap(trials: Sequence[Trial], root: str | Path, extra: Mapping[str, Any]) -> str | None:
    """A warning when the evaluated clips overlap the model's training data, as far as `extra` tells."""
    evaluated = [clip_key(t.path) for t in trials]
    stored = extra.get(EXTRA_KEY)
    if stored:
        if "path_keys" in stored:
            seen = set(stored["path_keys"])
            overlap = sum(k in seen for k in evaluated)
        else:
            same = hashlib.sha256("\n".join(sorted(evaluated)).encode()).hexdigest() == stored["paths_sha256"]
            overlap = len(evaluated) if same else 0
        if not overlap:
            return None
        return (f"{overlap} of {len(evaluated)} evaluated clips ({100 * overlap / len(evaluated):.0f}%) were in this "
                f"model's training data ({stored.get('manifest')}, {stored['count']} clips): the results overstate "
                "its accuracy on new audio")
    # Checkpoints from before per-clip records: compare the corpus named in the stored training config.
    trained_on = ((extra.get("train_config") or {}).get("data") or {}).get("root")
    if trained_on and _same_or_inside(Path(str(root)), Path(trained_on)):
        return (f"this model was trained on {extra.get('num_train', 'some')} clips of {trained_on}, which holds the "
                "evaluated data; the checkpoint does not record which clips, so the results may overstate its "
                "accuracy on new audio")
    return None


def _same_or_inside(evaluated: Path, trained: Path) -> bool:
    """Whether the evaluated corpus is the training corpus (or a part of its folder), here or elsewhere."""
    trained_dir = trained.parent if trained.suffix else trained
    evaluated = evaluated.resolve()
    if evaluated == trained.resolve() or evaluated.is_relative_to(trained_dir.resolve()):
        return True
    # Another checkout of the same corpus: the same file name under the same folder name.
    tail = trained.parts[-2:]
    return len(tail) == 2 and evaluated.parts[-2:] == tail
