"""Fake-or-Real (FoR, York University): real and TTS speech, labelled by folder, in four versions.

Layout (`root` is the FoR folder holding the versions, or one version folder)::

    for-original/ for-norm/ for-2seconds/ for-rerecorded/
      └── training/ validation/ testing/
            └── real/*.wav   fake/*.wav          (for-original also has .mp3)

The Kaggle copy nests one more level (`for-2sec/for-2seconds/training/...`); both are accepted.
There is no metadata file and no generator id, so spoofs have `system=None`.
"""

from __future__ import annotations

from pathlib import Path

from deepfake_audio.data.corpora.common import list_audio, system_for
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.errors import ConfigError, ProtocolError

SPLITS = ("training", "validation", "testing")
SPLIT_ALIASES = {
    "train": "training", "training": "training",
    "dev": "validation", "val": "validation", "valid": "validation", "validation": "validation",
    "test": "testing", "eval": "testing", "testing": "testing",
}  # fmt: skip
VERSION_FOLDERS = {
    "original": ("for-original",),
    "norm": ("for-norm",),
    "2sec": ("for-2seconds", "for-2sec"),
    "rerec": ("for-rerecorded", "for-rerec"),
}
VERSION_ALIASES = {"2seconds": "2sec", "rerecorded": "rerec"}
LABEL_FOLDERS = {"real": Label.BONAFIDE, "fake": Label.SPOOF}


def normalise_version(version: str) -> str:
    """Accept `for-norm`, `norm`, `2seconds`, `for-2sec`, ... and return the short name."""
    key = version.strip().lower().removeprefix("for-")
    key = VERSION_ALIASES.get(key, key)
    if key not in VERSION_FOLDERS:
        raise ConfigError(f"unknown Fake-or-Real version {version!r}; valid: {', '.join(VERSION_FOLDERS)}")
    return key


def split_parent(folder: Path) -> Path | None:
    """`folder` if it holds training/validation/testing, else its one child that does (Kaggle nesting)."""
    if any((folder / s).is_dir() for s in SPLITS):
        return folder
    if not folder.is_dir():
        return None
    nested = [c for c in sorted(folder.iterdir()) if c.is_dir() and any((c / s).is_dir() for s in SPLITS)]
    return nested[0] if len(nested) == 1 else None


def version_of(folder: Path) -> str | None:
    """The short version name a folder (or its Kaggle parent) is named after, if any."""
    for name in (folder.name, folder.parent.name):
        for short, names in VERSION_FOLDERS.items():
            if name.lower() in names:
                return short
    return None


def find_version(root: Path, version: str | None) -> tuple[Path, str | None]:
    """Locate the version folder that holds the splits, and the version's short name."""
    if version is None:
        direct = split_parent(root)
        if direct is not None:
            return direct, version_of(direct)
        present = [v for v, names in VERSION_FOLDERS.items() if any(split_parent(root / n) for n in names)]
        if len(present) == 1:
            version = present[0]
        else:
            found = ", ".join(present) if present else "none"
            raise ConfigError(
                f"{root}: pass version= one of {', '.join(VERSION_FOLDERS)} (versions found here: {found})"
            )
    short = normalise_version(version)
    for name in VERSION_FOLDERS[short]:
        folder = split_parent(root / name)
        if folder is not None:
            return folder, short
    direct = split_parent(root) if root.name.lower() in VERSION_FOLDERS[short] else None
    if direct is not None:
        return direct, short
    raise ProtocolError(
        f"{root}: no Fake-or-Real {short!r} folder ({' or '.join(VERSION_FOLDERS[short])}) "
        "with training/validation/testing inside"
    )


def read_fake_or_real(root: Path, *, subset: str | None = None, version: str | None = None) -> list[Trial]:
    """Read one FoR version; `subset` picks training/validation/testing (aliases train/dev/test)."""
    folder, short = find_version(root, version)
    if subset is None:
        splits = [s for s in SPLITS if (folder / s).is_dir()]
    elif subset.lower() in SPLIT_ALIASES:
        splits = [SPLIT_ALIASES[subset.lower()]]
    else:
        raise ConfigError(f"unknown subset {subset!r} for dataset 'fake-or-real'; valid: {', '.join(SPLITS)}")
    trials: list[Trial] = []
    for split in splits:
        if not (folder / split).is_dir():
            raise ProtocolError(f"{folder / split}: Fake-or-Real split folder not found")
        for label_folder, label in LABEL_FOLDERS.items():
            for path in list_audio(folder / split / label_folder):
                trials.append(
                    Trial(
                        utterance_id=path.relative_to(folder).with_suffix("").as_posix(),
                        path=path,
                        label=label,
                        system=system_for(label, None),
                        subset=split,
                        extra={"version": short} if short else {},
                    )
                )
    if not trials:
        raise ProtocolError(f"{folder}: no audio under */real or */fake")
    return trials
