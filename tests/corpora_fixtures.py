"""Tiny copies of each corpus, in its exact distributed layout, built in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16_000


def write_clip(path: Path, seed: int = 0, duration: float = 0.05) -> Path:
    """A short seeded noise clip; the format follows the extension (wav, flac, mp3, ogg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sf.write(path, (0.1 * rng.standard_normal(round(duration * SAMPLE_RATE))).astype(np.float32), SAMPLE_RATE)
    return path


def write_text(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


ASVSPOOF2019_PROTOCOLS = {
    "train": [
        "LA_0079 LA_T_1138215 - - bonafide",
        "LA_0079 LA_T_1271820 - A01 spoof",
        "LA_0080 LA_T_1000137 - A06 spoof",
    ],
    "dev": ["LA_0069 LA_D_1047731 - - bonafide", "LA_0070 LA_D_1105538 - A03 spoof"],
    "eval": [
        "LA_0039 LA_E_2834763 - A11 spoof",
        "LA_0030 LA_E_5849185 - - bonafide",
        "LA_0048 LA_E_9157999 - A18 spoof",
    ],
}
ASVSPOOF2019_FILES = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}


def make_asvspoof2019_la(root: Path) -> Path:
    """`root/LA/` with the three CM protocols and their flac folders; returns `root/LA`."""
    la = root / "LA"
    for seed, (subset, lines) in enumerate(ASVSPOOF2019_PROTOCOLS.items()):
        protocol = (
            la / "ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{ASVSPOOF2019_FILES[subset]}.txt"
        )
        write_text(protocol, lines)
        for i, line in enumerate(lines):
            write_clip(
                la / f"ASVspoof2019_LA_{subset}" / "flac" / f"{line.split()[1]}.flac", seed=10 * seed + i
            )
    write_text(la / "README.LA.txt", ["ASVspoof 2019 LA"])
    return la


ASVSPOOF2021_LA_KEYS = [
    "LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval",
    "LA_0007 LA_E_5013670 none loc_tx bonafide bonafide notrim progress",
    "LA_0012 LA_E_1103494 opus mad_tx A19 spoof trim hidden",
    "LA_0015 LA_E_7417804 pstn sin_tx bonafide bonafide notrim eval",
]


def make_asvspoof2021_la(root: Path) -> Path:
    """`ASVspoof2021_LA_eval/` (flac + trial list) beside the unpacked `keys/LA/CM/trial_metadata.txt`."""
    ids = [line.split()[1] for line in ASVSPOOF2021_LA_KEYS]
    for i, utt in enumerate(ids):
        write_clip(root / "ASVspoof2021_LA_eval" / "flac" / f"{utt}.flac", seed=i)
    write_text(root / "ASVspoof2021_LA_eval" / "ASVspoof2021.LA.cm.eval.trl.txt", ids)
    write_text(root / "keys" / "LA" / "CM" / "trial_metadata.txt", ASVSPOOF2021_LA_KEYS)
    return root


VCC_TAIL = "neural_vocoder_nonautoregressive Task1 team20 FF E"
ASVSPOOF2021_DF_KEYS = [
    "LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -",
    f"TEF2 DF_E_2000013 low_m4a vcc2020 Task1-team20 spoof notrim eval {VCC_TAIL}",
    "LA_0031 DF_E_2000026 high_mp3 asvspoof bonafide bonafide notrim eval bonafide - - - -",
    "TGF1 DF_E_2000024 mp3m4a vcc2020 Task2-team12 spoof notrim hidden traditional_vocoder Task2 team12 FF G",
]


def make_asvspoof2021_df(root: Path) -> Path:
    """The DF audio split over two of its distributed parts; keys unpacked as `DF-keys-full/keys/...`."""
    for i, line in enumerate(ASVSPOOF2021_DF_KEYS):
        part = root / f"ASVspoof2021_DF_eval_part0{i % 2}" / "ASVspoof2021_DF_eval"
        write_clip(part / "flac" / f"{line.split()[1]}.flac", seed=i)
    write_text(root / "DF-keys-full" / "keys" / "DF" / "CM" / "trial_metadata.txt", ASVSPOOF2021_DF_KEYS)
    return root


ASVSPOOF5_PROTOCOLS = {
    "train": [
        "T_4850 T_0000000000 F - - - AC3 A05 spoof -",
        "T_3734 T_0000000011 F - - - - bonafide bonafide -",
    ],
    "dev": [
        "D_0461 D_0000000190 M - - - - bonafide bonafide -",
        "D_4461 D_0000000169 F - - - AC1 A14 spoof -",
    ],
    "eval": [
        "E_0101 E_0000000001 M C05 3 20240 AC2 A20 spoof -",
        "E_0202 E_0000000002 F - 0 - - bonafide bonafide -",
    ],
}
ASVSPOOF5_FILES = {
    "train": "ASVspoof5.train.tsv",
    "dev": "ASVspoof5.dev.track_1.tsv",
    "eval": "ASVspoof5.eval.track_1.tsv",
}
ASVSPOOF5_AUDIO = {"train": "flac_T", "dev": "flac_D", "eval": "flac_E_eval"}


def make_asvspoof5(root: Path) -> Path:
    """`ASVspoof5_protocols/*.tsv` (whitespace separated, no header) and flac_T/, flac_D/, flac_E_eval/."""
    for subset, lines in ASVSPOOF5_PROTOCOLS.items():
        write_text(root / "ASVspoof5_protocols" / ASVSPOOF5_FILES[subset], lines)
        for i, line in enumerate(lines):
            write_clip(root / ASVSPOOF5_AUDIO[subset] / f"{line.split()[1]}.flac", seed=i)
    return root


IN_THE_WILD_META = ["file,speaker,label", "0.wav,Alec Guinness,spoof", "1.wav,Alec Guinness,spoof",
                    "2.wav,Barack Obama,spoof", "4.wav,Christopher Hitchens,bona-fide"]  # fmt: skip


def make_in_the_wild(root: Path) -> Path:
    """`release_in_the_wild/meta.csv` beside numbered wav files; returns `root`."""
    folder = root / "release_in_the_wild"
    write_text(folder / "meta.csv", IN_THE_WILD_META)
    for i, line in enumerate(IN_THE_WILD_META[1:]):
        write_clip(folder / line.split(",")[0], seed=i)
    return root


def make_fake_or_real(root: Path) -> Path:
    """for-norm/ (plain), for-2sec/for-2seconds/ (Kaggle nesting) and for-original/ (with an mp3)."""
    for version_dir in (root / "for-norm", root / "for-2sec" / "for-2seconds", root / "for-original"):
        for split in ("training", "validation", "testing"):
            for label in ("real", "fake"):
                for i in range(2 if split == "training" else 1):
                    write_clip(version_dir / split / label / f"file{i}.wav_16k.wav_norm.wav", seed=i)
    write_clip(root / "for-original" / "testing" / "fake" / "file9.mp3", seed=9)
    return root


WAVEFAKE_GENERATED = {
    "ljspeech_melgan": ["LJ001-0001_gen", "LJ001-0002_gen"],
    "ljspeech_hifiGAN": ["LJ001-0001_gen"],
    "jsut_parallel_wavegan": ["BASIC5000_0001_gen"],
    "common_voices_prompts_from_conformer_fastspeech2_pwg_ljspeech": ["gen_0"],
}


def make_wavefake(root: Path) -> tuple[Path, Path]:
    """`WaveFake/generated_audio/<generator>/` + `WaveFake/real_audio/LJSpeech-1.1/`; JSUT elsewhere.

    Returns (WaveFake root, JSUT root).
    """
    wavefake = root / "WaveFake"
    for generator, stems in WAVEFAKE_GENERATED.items():
        for i, stem in enumerate(stems):
            write_clip(wavefake / "generated_audio" / generator / f"{stem}.wav", seed=i)
    write_text(wavefake / "generated_audio" / "README.md", ["WaveFake"])
    lj = wavefake / "real_audio" / "LJSpeech-1.1"
    for i in (1, 2):
        write_clip(lj / "wavs" / f"LJ001-000{i}.wav", seed=i)
    write_text(lj / "metadata.csv", ["LJ001-0001|Printing|Printing"])
    jsut = root / "jsut_ver1.1"
    write_clip(jsut / "basic5000" / "wav" / "BASIC5000_0001.wav")
    write_clip(jsut / "onomatopee300" / "wav" / "ONOMATOPEE300_001.wav")  # not vocoded by WaveFake
    return wavefake, jsut


MLAAD_COLUMNS = (
    "path original_file language is_original_language duration training_data model_name architecture"
)
MLAAD_HEADER = "|".join([*MLAAD_COLUMNS.split(), "transcript"])
THORSTEN_BOOK = "de_DE/by_book/female/eva_k/grune_haus/wavs"
MLAAD_MODELS = {
    ("de", "tts_models_de_thorsten_vits"): [
        ("a.wav", f"{THORSTEN_BOOK}/grune_haus_01_f000001.wav", "tts_models/de/thorsten/vits"),
        ("b.wav", f"{THORSTEN_BOOK}/grune_haus_01_f000002.wav", "tts_models/de/thorsten/vits"),
    ],
    ("en", "facebook_mms-tts-eng"): [
        ("c.wav", "en_US/by_book/male/elliot_miller/hunters_space/wavs/hunters_space_01_f000001.wav",
         "facebook/mms-tts-eng"),
    ],
}  # fmt: skip


def make_mlaad(root: Path) -> tuple[Path, Path]:
    """`MLAAD_v5/fake/<lang>/<model>/{*.wav, meta.csv}` plus the referenced M-AILABS files.

    Returns (MLAAD root, M-AILABS root). One model folder has no meta.csv.
    """
    mlaad, mailabs = root / "MLAAD_v5", root / "M-AILABS-data"
    for (language, model), rows in MLAAD_MODELS.items():
        folder = mlaad / "fake" / language / model
        lines = [MLAAD_HEADER]
        for i, (name, original, model_name) in enumerate(rows):
            write_clip(folder / name, seed=i)
            write_clip(mailabs / original, seed=50 + i)
            lines.append(
                f"fake/{language}/{model}/{name}|{original}|{language}|True|0.05|thorsten|{model_name}|vits|Hallo"
            )
        write_text(folder / "meta.csv", lines)
    write_clip(mlaad / "fake" / "fr" / "tts_models_fr_mai_tacotron2-DDC" / "d.wav")
    return mlaad, mailabs


def make_folder(root: Path) -> Path:
    """real/ and fake/ (one generator subfolder), plus files the reader must ignore."""
    write_clip(root / "real" / "a.wav")
    write_clip(root / "real" / "speaker2" / "b.flac", seed=1)
    write_clip(root / "fake" / "melgan" / "c.wav", seed=2)
    write_clip(root / "fake" / "d.ogg", seed=3)
    write_text(root / "fake" / "notes.txt", ["not audio"])
    write_clip(root / "other" / "e.wav", seed=4)
    write_clip(root / "f.wav", seed=5)
    return root


CSV_MANIFEST = [
    "path,label,system,speaker,text,source,license,subset",
    "src_a/bonafide/0001.flac,bonafide,bonafide,p225,,src_a,MIT,train",
    "src_a/spoof/0001.flac,spoof,hifigan_v1,p225,one two,src_a,MIT,train",
    'src_b/spoof/0002.flac,fake,vits,,"three, four",src_b,none stated,test',
    "src_b/real/0003.wav,real,,LJ,,src_b,,test",
]


def make_csv(root: Path) -> Path:
    """A manifest in the development corpus' format with audio beside it; returns the manifest path."""
    manifest = write_text(root / "manifest.csv", CSV_MANIFEST)
    for i, line in enumerate(CSV_MANIFEST[1:]):
        write_clip(root / line.split(",")[0], seed=i)
    return manifest
