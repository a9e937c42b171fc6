"""In-the-Wild (Müller et al., Interspeech 2022): celebrity speech, real and deepfaked.

Layout: `release_in_the_wild/meta.csv` beside `0.wav ... 31778.wav`; `root` is that folder or its parent.
`meta.csv` is comma separated with the header `file,speaker,label`, label `bona-fide` or `spoof`.
The corpus names no generators, so spoofs have `system=None`. There is no official split.
"""

from __future__ import annotations

from pathlib import Path

from deepfake_audio.data.corpora.common import csv_rows, parse_label, refuse_subset, require_file, system_for
from deepfake_audio.data.trial import Trial


def read_in_the_wild(root: Path, *, subset: str | None = None) -> list[Trial]:
    """Read every clip listed in `meta.csv`."""
    refuse_subset(subset, "in-the-wild")
    folder = root / "release_in_the_wild" if (root / "release_in_the_wild" / "meta.csv").is_file() else root
    path = require_file(
        folder / "meta.csv", "In-the-Wild meta.csv", "is root the release_in_the_wild folder?"
    )
    trials: list[Trial] = []
    for lineno, row in csv_rows(path, ("file", "speaker", "label")):
        label = parse_label(row["label"], path, lineno)
        trials.append(
            Trial(
                utterance_id=Path(row["file"]).stem,
                path=folder / row["file"],
                label=label,
                system=system_for(label, None),
                speaker=row["speaker"] or None,
            )
        )
    return trials
