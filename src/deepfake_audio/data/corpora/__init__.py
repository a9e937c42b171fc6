"""Corpus readers: every supported corpus, read in its distributed layout, as a list of `Trial`s.

One registry, `DATASETS`, names each reader, the official score-file format of its corpus and the
`Trial` fields its results can be broken down by. `read_dataset` is the one entry point:

>>> trials = read_dataset("asvspoof2019-la", "/data/LA", subset="dev")   # doctest: +SKIP
>>> write_score_file("asvspoof2019-la", trials, scores, "scores.txt")    # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfake_audio.data.corpora.asvspoof5 import read_asvspoof5
from deepfake_audio.data.corpora.asvspoof2019 import read_asvspoof2019_la
from deepfake_audio.data.corpora.asvspoof2021 import read_asvspoof2021_df, read_asvspoof2021_la
from deepfake_audio.data.corpora.common import check_audio_files, check_unique_ids
from deepfake_audio.data.corpora.fake_or_real import read_fake_or_real
from deepfake_audio.data.corpora.generic import read_csv_manifest, read_folder
from deepfake_audio.data.corpora.in_the_wild import read_in_the_wild
from deepfake_audio.data.corpora.mlaad import read_mlaad
from deepfake_audio.data.corpora.scores import read_score_file, write_scores
from deepfake_audio.data.corpora.wavefake import read_wavefake
from deepfake_audio.data.trial import Trial
from deepfake_audio.errors import ConfigError, ProtocolError

__all__ = [
    "DATASETS",
    "DATASET_BREAKDOWNS",
    "Dataset",
    "available_datasets",
    "breakdown_value",
    "read_dataset",
    "read_score_file",
    "write_score_file",
]


@dataclass(frozen=True)
class Dataset:
    """A registered corpus: its reader, official score-file format and breakdown keys."""

    name: str
    reader: Callable[..., list[Trial]]
    score_format: str  # see deepfake_audio.data.corpora.scores
    breakdowns: tuple[str, ...]  # Trial field names, or "extra.<key>" for a metadata column
    root_is_file: bool = False  # csv takes the manifest itself; every other corpus its folder


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("asvspoof2019-la", read_asvspoof2019_la, "asvspoof2019", ("system", "subset")),
        Dataset(
            "asvspoof2021-la",
            read_asvspoof2021_la,
            "two-column",
            ("system", "codec", "transmission", "subset"),
        ),
        Dataset(
            "asvspoof2021-df",
            read_asvspoof2021_df,
            "two-column",
            ("system", "codec", "source", "extra.vocoder_type", "subset"),
        ),
        Dataset("asvspoof5", read_asvspoof5, "asvspoof5", ("system", "codec", "subset")),
        Dataset("in-the-wild", read_in_the_wild, "two-column", ("speaker",)),
        Dataset("fake-or-real", read_fake_or_real, "two-column", ("subset",)),
        Dataset("wavefake", read_wavefake, "two-column", ("system", "source")),
        Dataset("mlaad", read_mlaad, "two-column", ("system", "extra.language", "extra.architecture")),
        Dataset("folder", read_folder, "two-column", ("system",)),
        Dataset("csv", read_csv_manifest, "two-column", ("system", "source", "subset"), root_is_file=True),
    )
}

DATASET_BREAKDOWNS: dict[str, list[str]] = {name: list(d.breakdowns) for name, d in DATASETS.items()}


def available_datasets() -> list[str]:
    """Names `read_dataset` accepts, sorted."""
    return sorted(DATASETS)


def get_dataset(name: str) -> Dataset:
    """The registry entry for `name`, or a `ConfigError` listing the valid names."""
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; available: {', '.join(available_datasets())}")
    return DATASETS[name]


def breakdown_value(trial: Trial, key: str) -> str | None:
    """The value of a `DATASET_BREAKDOWNS` key for one trial: a Trial field, or `extra.<column>`."""
    if key.startswith("extra."):
        return trial.extra.get(key.removeprefix("extra."))
    return getattr(trial, key)


def read_dataset(
    name: str, root: str | Path, *, subset: str | None = None, check_files: bool = True, **options: Any
) -> list[Trial]:
    """Read a corpus in its distributed layout.

    Parameters
    ----------
    name : str
        A key of `DATASETS`: asvspoof2019-la, asvspoof2021-la, asvspoof2021-df, asvspoof5, in-the-wild,
        fake-or-real, wavefake, mlaad, folder or csv.
    root : str or Path
        The corpus folder as distributed; for `csv`, the manifest file.
    subset : str, optional
        An official part of the corpus (e.g. train/dev/eval); None reads all of it.
    check_files : bool
        Check up front that every audio file exists, and fail once, naming the first few missing.
    **options
        Reader-specific options, e.g. `protocol=` (2019 LA, ASVspoof 5), `key_file=` (2021),
        `version=` (fake-or-real), `ljspeech_root=`/`jsut_root=` (wavefake), `mailabs_root=` (mlaad).

    Returns
    -------
    list of Trial
        In protocol order; `system` is "bonafide" for real speech.

    Raises
    ------
    ConfigError
        Unknown dataset name, option or subset.
    ProtocolError
        Missing or malformed protocol file (naming file and line), missing audio, duplicate ids.
    """
    dataset = get_dataset(name)
    accepted = set(inspect.signature(dataset.reader).parameters) - {"root"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        valid = ", ".join(sorted(accepted))
        raise ConfigError(f"unknown option(s) {', '.join(unknown)} for dataset {name!r}; valid: {valid}")
    root = Path(root).expanduser()
    if not root.exists():
        raise ProtocolError(f"{root}: no such file or folder (corpus root of dataset {name!r})")
    if root.is_dir() == dataset.root_is_file:
        expected = "a manifest file" if dataset.root_is_file else "a folder"
        raise ProtocolError(f"{root}: dataset {name!r} takes {expected} as root")
    trials = dataset.reader(root, subset=subset, **options)
    check_unique_ids(trials, root)
    if check_files:
        check_audio_files(trials, root)
    return trials


def write_score_file(
    name: str, trials: Sequence[Trial], scores: Sequence[float] | Mapping[str, float], path: str | Path
) -> None:
    """Write `scores` (aligned with `trials`, or keyed by utterance id) in the official format of `name`.

    One line per trial, trial id first; higher scores mean more bona fide. `read_score_file` reads it back.
    """
    write_scores(get_dataset(name).score_format, trials, scores, path)
