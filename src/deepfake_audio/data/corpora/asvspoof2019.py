"""ASVspoof 2019 logical access (LA): the CM protocols and flac folders as distributed.

Layout (`root` is the `LA/` folder, or the folder holding it)::

    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt
    LA/ASVspoof2019_LA_{train,dev,eval}/flac/<AUDIO_FILE_NAME>.flac

Protocol lines: `SPEAKER_ID AUDIO_FILE_NAME - SYSTEM_ID KEY`, e.g. `LA_0039 LA_E_2834763 - A11 spoof`;
bona fide lines have `-` as SYSTEM_ID.
"""

from __future__ import annotations

from pathlib import Path

from deepfake_audio.data.corpora.common import (
    choose_protocol_subsets,
    flac_trial,
    protocol_lines,
    require_file,
    subsets_present,
)
from deepfake_audio.data.trial import Trial

SUBSETS = ("train", "dev", "eval")
PROTOCOL_NAMES = {
    "train": "ASVspoof2019.LA.cm.train.trn.txt",
    "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
    "eval": "ASVspoof2019.LA.cm.eval.trl.txt",
}


def la_folder(root: Path) -> Path:
    """Accept either the `LA/` folder itself or the folder that contains it."""
    return root / "LA" if (root / "LA" / "ASVspoof2019_LA_cm_protocols").is_dir() else root


def read_asvspoof2019_la(
    root: Path, *, subset: str | None = None, protocol: str | Path | None = None
) -> list[Trial]:
    """Read the 2019 LA CM protocol(s): `subset` train/dev/eval, or every one present when None.

    `protocol` replaces the official protocol file (same 5-column format), e.g. a reduced list;
    it then needs `subset` to know which audio folder the files are in.
    """
    la = la_folder(root)
    subsets = choose_protocol_subsets(subset, protocol, SUBSETS, "asvspoof2019-la")
    protocol_of = {name: Path(protocol) if protocol is not None
                   else la / "ASVspoof2019_LA_cm_protocols" / PROTOCOL_NAMES[name] for name in subsets}
    trials: list[Trial] = []
    for name in subsets_present(subsets, subset, protocol_of):
        path = protocol_of[name]
        require_file(path, f"ASVspoof 2019 LA {name} protocol", "is root the LA/ folder of the corpus?")
        audio_dir = la / f"ASVspoof2019_LA_{name}" / "flac"
        for lineno, (speaker, utt, _env, system, key) in protocol_lines(path, 5):
            trials.append(flac_trial(path, lineno, key, utt, audio_dir, system, speaker=speaker, subset=name))
    return trials
