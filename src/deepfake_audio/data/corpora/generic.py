"""Corpora without a published format: a labelled folder tree, or a CSV manifest.

`folder`: `root/real/` (or `bonafide/`) and `root/fake/` (or `spoof/`), searched recursively; files
elsewhere are ignored. A spoof inside `fake/<name>/...` gets `system=<name>`.

`csv`: a manifest with a header row, the format of the development corpus' `manifest.csv`. Required
columns `path,label`; `system`, `speaker`, `source`, `codec`, `transmission`, `subset` and `utt_id` (or
`id`) fill the matching `Trial` fields, every other column goes to `Trial.extra`. Relative paths are
resolved against the manifest's folder; the utterance id defaults to the path without its extension.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from deepfake_audio.data.corpora.common import csv_rows, list_audio, parse_label, refuse_subset, system_for
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.errors import ConfigError, ProtocolError

LABEL_FOLDERS = {
    "real": Label.BONAFIDE,
    "bonafide": Label.BONAFIDE,
    "fake": Label.SPOOF,
    "spoof": Label.SPOOF,
}
TRIAL_COLUMNS = ("system", "speaker", "source", "codec", "transmission", "subset")
ID_COLUMNS = ("utt_id", "id")


def read_folder(root: Path, *, subset: str | None = None) -> list[Trial]:
    """Read audio under the real/bonafide and fake/spoof subfolders of `root`."""
    refuse_subset(subset, "folder")
    if not root.is_dir():
        raise ProtocolError(f"{root}: not a folder")
    label_dirs = [(d, LABEL_FOLDERS[d.name.lower()]) for d in sorted(root.iterdir())
                  if d.is_dir() and d.name.lower() in LABEL_FOLDERS]  # fmt: skip
    if not label_dirs:
        raise ProtocolError(f"{root}: expected real/ (or bonafide/) and fake/ (or spoof/) subfolders")
    trials: list[Trial] = []
    for folder, label in label_dirs:
        for path in list_audio(folder):
            inner = path.relative_to(folder).parts
            trials.append(
                Trial(
                    utterance_id=path.relative_to(root).with_suffix("").as_posix(),
                    path=path,
                    label=label,
                    system=system_for(label, inner[0] if len(inner) > 1 else None),
                )
            )
    if not trials:
        raise ProtocolError(f"{root}: no audio files in {', '.join(d.name for d, _ in label_dirs)}")
    return trials


def read_csv_manifest(root: Path, *, subset: str | None = None) -> list[Trial]:
    """Read a CSV manifest (`root` is the file); `subset` keeps rows whose `subset` column matches."""
    if not root.is_file():
        raise ProtocolError(f"{root}: manifest file not found (the csv dataset takes the manifest's path)")
    delimiter = "\t" if root.suffix.lower() == ".tsv" else ","
    base = root.parent
    trials: list[Trial] = []
    subsets_seen: set[str] = set()
    for lineno, row in csv_rows(root, ("path", "label"), delimiter=delimiter):
        if not row["path"]:
            raise ProtocolError(f"{root}:{lineno}: empty path")
        label = parse_label(row["label"], root, lineno)
        fields = {name: row.get(name) or None for name in TRIAL_COLUMNS}
        subsets_seen.add(fields["subset"] or "")
        if subset is not None and fields["subset"] != subset:
            continue
        listed = PurePosixPath(row["path"].replace("\\", "/"))
        utt_id = next((row[c] for c in ID_COLUMNS if row.get(c)), None) or str(listed.with_suffix(""))
        known = {"path", "label", *TRIAL_COLUMNS, *ID_COLUMNS}
        fields["system"] = system_for(label, fields["system"])
        trials.append(
            Trial(
                utterance_id=utt_id,
                path=base / Path(*listed.parts),
                label=label,
                extra={k: v for k, v in row.items() if k not in known and v},
                **fields,
            )
        )
    if subset is not None and not trials:
        available = ", ".join(sorted(s for s in subsets_seen if s)) or "none (no subset column values)"
        raise ConfigError(f"{root}: no rows with subset {subset!r}; subsets present: {available}")
    return trials
