"""ASVspoof 5 (2024), track 1 protocols as distributed.

Layout (`root` is the unpacked corpus)::

    ASVspoof5_protocols/ASVspoof5.{train.tsv, dev.track_1.tsv, eval.track_1.tsv}   (or directly in root)
    flac_T/T_*.flac   flac_D/D_*.flac   flac_E_eval/E_*.flac

Despite the `.tsv` name, lines are whitespace separated with 10 fields:
`SPEAKER_ID FLAC_FILE_NAME SPEAKER_GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG ATTACK_LABEL KEY TMP`, e.g.
`T_4850 T_0000000000 F - - - AC3 A05 spoof -`. Train and dev are uncoded (CODEC `-`); eval adds C01-C11.
Uncoded trials get `codec="none"` so a per-codec breakdown keeps them as their own condition.
"""

from __future__ import annotations

from pathlib import Path

from deepfake_audio.data.corpora.common import (
    choose_protocol_subsets,
    dash_to_none,
    first_existing,
    flac_trial,
    protocol_lines,
    require_file,
    subsets_present,
)
from deepfake_audio.data.trial import Trial

SUBSETS = ("train", "dev", "eval")
PROTOCOL_NAMES = {
    "train": "ASVspoof5.train.tsv",
    "dev": "ASVspoof5.dev.track_1.tsv",
    "eval": "ASVspoof5.eval.track_1.tsv",
}
AUDIO_FOLDERS = {
    "train": ("flac_T", "ASVspoof5_train/flac_T"),
    "dev": ("flac_D", "ASVspoof5_dev/flac_D"),
    "eval": ("flac_E_eval", "flac_E", "ASVspoof5_eval/flac_E_eval"),
}


def read_asvspoof5(
    root: Path, *, subset: str | None = None, protocol: str | Path | None = None
) -> list[Trial]:
    """Read ASVspoof 5 track-1 trials: `subset` train/dev/eval, or every one present when None.

    `protocol` replaces the official file of `subset` (same 10-column format).
    """
    subsets = choose_protocol_subsets(subset, protocol, SUBSETS, "asvspoof5")
    protocol_of = {}
    for name in subsets:
        default = root / "ASVspoof5_protocols" / PROTOCOL_NAMES[name]
        protocol_of[name] = Path(protocol) if protocol is not None else (
            first_existing([default, root / PROTOCOL_NAMES[name]]) or default)
    trials: list[Trial] = []
    for name in subsets_present(subsets, subset, protocol_of):
        path = protocol_of[name]
        require_file(path, f"ASVspoof 5 {name} protocol", "unpack ASVspoof5_protocols.tar.gz into root")
        folders = [root / f for f in AUDIO_FOLDERS[name]]
        audio_dir = first_existing(folders) or folders[0]
        for lineno, fields in protocol_lines(path, 10):
            if lineno == 1 and fields[0].upper() == "SPEAKER_ID":
                continue  # tolerate a header row, as some re-packaged copies add one
            speaker, utt, gender, codec, codec_q, codec_seed, attack_tag, attack, key, _tmp = fields
            extra = {"gender": gender}
            optional = {"codec_q": codec_q, "codec_seed": codec_seed, "attack_tag": attack_tag}
            extra.update({k: v for k, v in optional.items() if dash_to_none(v) is not None})
            codec = dash_to_none(codec) or "none"
            meta = {"speaker": speaker, "codec": codec, "subset": name, "extra": extra}
            trials.append(flac_trial(path, lineno, key, utt, audio_dir, attack, **meta))
    return trials
