"""MLAAD (Müller, Kawa et al.): multi-language TTS speech, with M-AILABS as its bona fide counterpart.

Layout (`root` is the `MLAAD_vN` folder holding `fake/`)::

    fake/<language>/<model_folder>/*.wav
    fake/<language>/<model_folder>/meta.csv      pipe separated, with a header:
        path|original_file|language|is_original_language|duration|training_data|model_name|architecture|transcript

`original_file` names the M-AILABS recording whose transcript was spoken, relative to the M-AILABS root
(`<lang>/by_book/<gender>/<reader>/<book>/wavs/<file>.wav`). With `mailabs_root=` (or an `M-AILABS`
folder beside or inside `root`) those recordings become the bona fide trials. `system` is the TTS
`model_name`; a model folder without `meta.csv` is read from its files, with the folder name as system.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from deepfake_audio.data.corpora.common import csv_rows, first_existing, list_audio, refuse_subset
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.errors import ProtocolError

logger = logging.getLogger(__name__)

META_EXTRA = ("language", "architecture", "training_data", "is_original_language", "original_file")
MAILABS_NAMES = ("M-AILABS", "m-ailabs", "mailabs")


def resolve_clip(root: Path, model_dir: Path, listed: str) -> Path:
    """`meta.csv` paths are relative to the MLAAD root or bare file names; accept either."""
    relative = Path(listed.removeprefix("./"))
    by_name = model_dir / relative.name
    if len(relative.parts) == 1:
        return by_name
    from_root = root / relative
    return from_root if from_root.exists() or not by_name.exists() else by_name


def spoofs_from_meta(root: Path, model_dir: Path, meta: Path) -> list[Trial]:
    """Spoof trials listed in one model folder's `meta.csv`."""
    trials = []
    for _, row in csv_rows(meta, ("path",), delimiter="|"):
        path = resolve_clip(root, model_dir, row["path"])
        reference = row.get("reference_speaker", "")
        trials.append(
            Trial(
                utterance_id=f"{model_dir.parent.name}/{model_dir.name}/{path.stem}",
                path=path,
                label=Label.SPOOF,
                system=row.get("model_name") or model_dir.name,
                speaker=reference if reference not in ("", "-", "None") else None,
                source="mlaad",
                extra={k: row[k] for k in META_EXTRA if row.get(k)} or {"language": model_dir.parent.name},
            )
        )
    return trials


def spoofs_from_files(model_dir: Path) -> list[Trial]:
    """Spoof trials of a model folder that has no `meta.csv`."""
    return [
        Trial(
            utterance_id=f"{model_dir.parent.name}/{model_dir.name}/{path.stem}",
            path=path,
            label=Label.SPOOF,
            system=model_dir.name,
            source="mlaad",
            extra={"language": model_dir.parent.name},
        )
        for path in list_audio(model_dir, recursive=False)
    ]


def bonafide_from_mailabs(mailabs: Path, original_files: Sequence[str]) -> list[Trial]:
    """One bona fide trial per M-AILABS recording that some spoof was made from."""
    trials = []
    for original in dict.fromkeys(original_files):
        relative = Path(original.removeprefix("./"))
        parts = relative.parts
        speaker = parts[3] if len(parts) > 4 and parts[1] == "by_book" else None
        trials.append(
            Trial(
                utterance_id=f"m-ailabs/{relative.with_suffix('').as_posix()}",
                path=mailabs / relative,
                label=Label.BONAFIDE,
                system="bonafide",
                speaker=speaker,
                source="m-ailabs",
                extra={"language": parts[0]},
            )
        )
    return trials


def read_mlaad(
    root: Path,
    *,
    subset: str | None = None,
    mailabs_root: str | Path | None = None,
    languages: Sequence[str] | None = None,
) -> list[Trial]:
    """Read MLAAD spoofs (optionally only some `languages` folders) and their M-AILABS originals."""
    refuse_subset(subset, "mlaad")
    fake = root / "fake" if (root / "fake").is_dir() else root
    if fake.name == "fake":
        root = fake.parent
    wanted = set(languages) if languages is not None else None
    trials: list[Trial] = []
    for language_dir in sorted(d for d in fake.iterdir() if d.is_dir()):
        if wanted is not None and language_dir.name not in wanted:
            continue
        for model_dir in sorted(d for d in language_dir.iterdir() if d.is_dir()):
            meta = model_dir / "meta.csv"
            trials += (
                spoofs_from_meta(root, model_dir, meta) if meta.is_file() else spoofs_from_files(model_dir)
            )
    if not trials:
        raise ProtocolError(f"{fake}: no <language>/<model>/ folders with audio (is root the MLAAD folder?)")
    if mailabs_root is not None:
        mailabs: Path | None = Path(mailabs_root).expanduser()
        if not mailabs.is_dir():
            raise ProtocolError(f"{mailabs}: M-AILABS folder not found")
    else:
        mailabs = first_existing(base / name for base in (root, root.parent) for name in MAILABS_NAMES)
    originals = [t.extra["original_file"] for t in trials if t.extra.get("original_file", "-") != "-"]
    if mailabs is None:
        logger.warning("MLAAD: no M-AILABS folder given or found near %s; bona fide side left out", root)
    else:
        trials += bonafide_from_mailabs(mailabs, originals)
    return trials
