"""ASVspoof 2021 LA and DF evaluation sets, labelled by the released keys (`trial_metadata.txt`).

Layout (`root` is the folder holding the eval audio and the unpacked keys)::

    ASVspoof2021_LA_eval/flac/LA_E_*.flac
    ASVspoof2021_DF_eval_part0{0..3}/ASVspoof2021_DF_eval/flac/DF_E_*.flac   (or one merged folder)
    keys/{LA,DF}/CM/trial_metadata.txt       (LA-keys-full.tar.gz / DF-keys-full.tar.gz)

LA key lines (8 fields): `spk trial codec transmission attack key trim subset`, e.g.
`LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval`.
DF key lines (13 fields; 8 in the stage-1 keys): `spk trial codec source attack key trim subset
vocoder_type - - - -`, e.g. `LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress
traditional_vocoder - - - -`. `subset` is eval, progress or hidden; official results use `eval`.
"""

from __future__ import annotations

import os
from pathlib import Path

from deepfake_audio.data.corpora.common import (
    choose_subsets,
    dash_to_none,
    first_existing,
    flac_trial,
    protocol_lines,
    require_file,
)
from deepfake_audio.data.trial import Trial

SUBSETS = ("eval", "progress", "hidden")
KEY_HINT = "unpack {track}-keys-full.tar.gz from asvspoof.org into root, or pass key_file="


def find_key_file(root: Path, track: str, key_file: str | Path | None) -> Path:
    """The explicit `key_file`, or the first of the usual places the keys tarball unpacks to."""
    if key_file is not None:
        return require_file(Path(key_file), f"ASVspoof 2021 {track} key file")
    relative = Path("keys") / track / "CM" / "trial_metadata.txt"
    candidates = [
        root / relative,
        root / f"{track}-keys-full" / relative,
        root / f"ASVspoof2021_{track}_eval" / relative,
        root / "CM" / "trial_metadata.txt",
    ]
    found = first_existing(candidates)
    return require_file(
        found or candidates[0], f"ASVspoof 2021 {track} key file", KEY_HINT.format(track=track)
    )


def read_asvspoof2021_la(
    root: Path, *, subset: str | None = None, key_file: str | Path | None = None
) -> list[Trial]:
    """Read ASVspoof 2021 LA eval trials; `subset` keeps only eval, progress or hidden trials."""
    keep = set(choose_subsets(subset, SUBSETS, "asvspoof2021-la"))
    path = find_key_file(root, "LA", key_file)
    audio_dir = first_existing([root / "ASVspoof2021_LA_eval" / "flac", root / "flac"])
    audio_dir = audio_dir or root / "ASVspoof2021_LA_eval" / "flac"
    trials: list[Trial] = []
    for lineno, fields in protocol_lines(path, 8):
        speaker, utt, codec, transmission, attack, key, trim, part = fields
        if part not in keep:
            continue
        meta = {"speaker": speaker, "codec": codec, "transmission": transmission, "subset": part}
        trials.append(flac_trial(path, lineno, key, utt, audio_dir, attack, extra={"trim": trim}, **meta))
    return trials


def df_audio_folders(root: Path) -> list[Path]:
    """Every DF flac folder present: the four distributed parts and/or one merged folder."""
    candidates = [root / f"ASVspoof2021_DF_eval_part0{i}" / "ASVspoof2021_DF_eval" / "flac" for i in range(4)]
    candidates += [root / "ASVspoof2021_DF_eval" / "flac", root / "flac"]
    return [c for c in candidates if c.is_dir()]


def read_asvspoof2021_df(
    root: Path, *, subset: str | None = None, key_file: str | Path | None = None
) -> list[Trial]:
    """Read ASVspoof 2021 DF eval trials; `subset` keeps only eval, progress or hidden trials."""
    keep = set(choose_subsets(subset, SUBSETS, "asvspoof2021-df"))
    path = find_key_file(root, "DF", key_file)
    folders = df_audio_folders(root)
    default_dir = folders[0] if folders else root / "ASVspoof2021_DF_eval" / "flac"
    # The DF audio ships in four parts; index file names once rather than probing every part per trial.
    location: dict[str, Path] = {}
    if len(folders) > 1:
        for folder in reversed(folders):
            location.update(dict.fromkeys(os.listdir(folder), folder))
    trials: list[Trial] = []
    for lineno, fields in protocol_lines(path, (8, 13)):
        speaker, utt, codec, source, attack, key, trim, part = fields[:8]
        if part not in keep:
            continue
        audio_dir = location.get(f"{utt}.flac", default_dir)
        extra = {"trim": trim}
        if len(fields) == 13 and dash_to_none(fields[8]):
            extra["vocoder_type"] = fields[8]
        meta = {"speaker": speaker, "source": source, "codec": codec, "subset": part, "extra": extra}
        trials.append(flac_trial(path, lineno, key, utt, audio_dir, attack, **meta))
    return trials
