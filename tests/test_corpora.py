"""Corpus readers and score files, on tiny copies of each corpus in its exact distributed layout."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
from conftest import SHARED_DATA, requires_shared_data
from corpora_fixtures import (
    make_asvspoof5,
    make_asvspoof2019_la,
    make_asvspoof2021_df,
    make_asvspoof2021_la,
    make_csv,
    make_fake_or_real,
    make_folder,
    make_in_the_wild,
    make_mlaad,
    make_wavefake,
    write_text,
)

from deepfake_audio.data.corpora import (
    DATASET_BREAKDOWNS,
    DATASETS,
    available_datasets,
    breakdown_value,
    read_dataset,
    read_score_file,
    write_score_file,
)
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.errors import ConfigError, ProtocolError

EXPECTED_NAMES = ["asvspoof2019-la", "asvspoof2021-la", "asvspoof2021-df", "asvspoof5", "in-the-wild",
                  "fake-or-real", "wavefake", "mlaad", "folder", "csv"]  # fmt: skip
TRIAL_FIELDS = {f.name for f in dataclasses.fields(Trial)}


def by_id(trials: list[Trial]) -> dict[str, Trial]:
    return {t.utterance_id: t for t in trials}


def test_registry_names_and_breakdowns() -> None:
    """Every required name is registered, and every breakdown key names a Trial field or an extra column."""
    assert sorted(EXPECTED_NAMES) == available_datasets() == sorted(DATASETS)
    assert set(DATASET_BREAKDOWNS) == set(DATASETS)
    for keys in DATASET_BREAKDOWNS.values():
        assert keys and all(k in TRIAL_FIELDS or k.startswith("extra.") for k in keys)


# --- readers ------------------------------------------------------------------------------------


def test_asvspoof2019_la(tmp_path: Path) -> None:
    la = make_asvspoof2019_la(tmp_path)
    trials = read_dataset("asvspoof2019-la", tmp_path)  # the folder holding LA/ works too
    assert len(trials) == 8
    assert Counter(t.subset for t in trials) == {"train": 3, "dev": 2, "eval": 3}
    trial = by_id(trials)["LA_E_2834763"]
    assert (trial.label, trial.system, trial.speaker) == (Label.SPOOF, "A11", "LA_0039")
    assert trial.path == la / "ASVspoof2019_LA_eval" / "flac" / "LA_E_2834763.flac"
    bona = by_id(trials)["LA_T_1138215"]
    assert (bona.label, bona.system) == (Label.BONAFIDE, "bonafide")
    dev = read_dataset("asvspoof2019-la", la, subset="dev")
    assert [(t.utterance_id, t.system) for t in dev] == [
        ("LA_D_1047731", "bonafide"),
        ("LA_D_1105538", "A03"),
    ]


def test_asvspoof2019_la_custom_protocol(tmp_path: Path) -> None:
    la = make_asvspoof2019_la(tmp_path)
    protocol = write_text(tmp_path / "mine.txt", ["LA_0039 LA_E_2834763 - A11 spoof"])
    trials = read_dataset("asvspoof2019-la", la, subset="eval", protocol=protocol)
    assert [t.utterance_id for t in trials] == ["LA_E_2834763"]
    with pytest.raises(ConfigError, match="needs subset"):
        read_dataset("asvspoof2019-la", la, protocol=protocol)


def test_asvspoof2021_la(tmp_path: Path) -> None:
    make_asvspoof2021_la(tmp_path)
    trials = read_dataset("asvspoof2021-la", tmp_path)
    assert len(trials) == 4
    trial = by_id(trials)["LA_E_9332881"]
    assert (trial.label, trial.system, trial.codec, trial.transmission, trial.subset) == (
        Label.SPOOF, "A07", "alaw", "ita_tx", "eval")  # fmt: skip
    assert trial.extra["trim"] == "notrim" and trial.speaker == "LA_0009"
    assert trial.path == tmp_path / "ASVspoof2021_LA_eval" / "flac" / "LA_E_9332881.flac"
    assert by_id(trials)["LA_E_5013670"].system == "bonafide"
    official = read_dataset("asvspoof2021-la", tmp_path, subset="eval")
    assert sorted(t.utterance_id for t in official) == ["LA_E_7417804", "LA_E_9332881"]


def test_asvspoof2021_la_explicit_key_file(tmp_path: Path) -> None:
    make_asvspoof2021_la(tmp_path)
    moved = tmp_path / "elsewhere" / "trial_metadata.txt"
    moved.parent.mkdir()
    (tmp_path / "keys" / "LA" / "CM" / "trial_metadata.txt").rename(moved)
    with pytest.raises(ProtocolError, match="trial_metadata.txt: ASVspoof 2021 LA key file not found"):
        read_dataset("asvspoof2021-la", tmp_path)
    assert len(read_dataset("asvspoof2021-la", tmp_path, key_file=str(moved))) == 4


def test_asvspoof2021_df_parts(tmp_path: Path) -> None:
    make_asvspoof2021_df(tmp_path)
    trials = read_dataset("asvspoof2021-df", tmp_path)
    assert len(trials) == 4
    vcc = by_id(trials)["DF_E_2000013"]
    assert (vcc.system, vcc.source, vcc.codec, vcc.subset) == ("Task1-team20", "vcc2020", "low_m4a", "eval")
    assert vcc.extra["vocoder_type"] == "neural_vocoder_nonautoregressive"
    assert vcc.path.parts[-4] == "ASVspoof2021_DF_eval_part01"
    assert by_id(trials)["DF_E_2000011"].path.parts[-4] == "ASVspoof2021_DF_eval_part00"
    assert by_id(trials)["DF_E_2000026"].label is Label.BONAFIDE
    assert breakdown_value(vcc, "extra.vocoder_type") == "neural_vocoder_nonautoregressive"
    assert {t.utterance_id for t in read_dataset("asvspoof2021-df", tmp_path, subset="hidden")} == {
        "DF_E_2000024"
    }


def test_asvspoof5(tmp_path: Path) -> None:
    make_asvspoof5(tmp_path)
    trials = read_dataset("asvspoof5", tmp_path)
    assert Counter(t.subset for t in trials) == {"train": 2, "dev": 2, "eval": 2}
    spoof = by_id(trials)["T_0000000000"]
    assert (spoof.label, spoof.system, spoof.speaker, spoof.codec) == (Label.SPOOF, "A05", "T_4850", "none")
    assert spoof.extra == {"gender": "F", "attack_tag": "AC3"}
    assert spoof.path == tmp_path / "flac_T" / "T_0000000000.flac"
    coded = by_id(trials)["E_0000000001"]
    assert (coded.codec, coded.extra["codec_q"], coded.system) == ("C05", "3", "A20")
    assert coded.path == tmp_path / "flac_E_eval" / "E_0000000001.flac"
    assert by_id(trials)["D_0000000190"].system == "bonafide"
    assert [t.utterance_id for t in read_dataset("asvspoof5", tmp_path, subset="dev")] == [
        "D_0000000190", "D_0000000169"]  # fmt: skip


def test_in_the_wild(tmp_path: Path) -> None:
    make_in_the_wild(tmp_path)
    trials = read_dataset("in-the-wild", tmp_path)
    assert [t.utterance_id for t in trials] == ["0", "1", "2", "4"]
    real = by_id(trials)["4"]
    assert (real.label, real.system, real.speaker) == (Label.BONAFIDE, "bonafide", "Christopher Hitchens")
    fake = by_id(trials)["2"]
    assert (fake.label, fake.system, fake.speaker) == (Label.SPOOF, None, "Barack Obama")
    assert fake.path == tmp_path / "release_in_the_wild" / "2.wav"
    assert len(read_dataset("in-the-wild", tmp_path / "release_in_the_wild")) == 4
    with pytest.raises(ConfigError, match="has no subsets"):
        read_dataset("in-the-wild", tmp_path, subset="test")


def test_fake_or_real_versions(tmp_path: Path) -> None:
    make_fake_or_real(tmp_path)
    norm = read_dataset("fake-or-real", tmp_path, version="for-norm")
    assert len(norm) == 8
    assert Counter((t.subset, t.label) for t in norm)[("training", Label.BONAFIDE)] == 2
    trial = by_id(norm)["training/fake/file0.wav_16k.wav_norm"]
    assert (trial.label, trial.system, trial.extra["version"]) == (Label.SPOOF, None, "norm")
    assert trial.path == tmp_path / "for-norm" / "training" / "fake" / "file0.wav_16k.wav_norm.wav"
    two_sec = read_dataset("fake-or-real", tmp_path, version="2seconds", subset="test")  # Kaggle nesting
    assert {t.utterance_id for t in two_sec} == {
        "testing/real/file0.wav_16k.wav_norm",
        "testing/fake/file0.wav_16k.wav_norm",
    }
    assert all(t.path.is_relative_to(tmp_path / "for-2sec" / "for-2seconds") for t in two_sec)
    original = read_dataset("fake-or-real", tmp_path / "for-original", subset="testing")
    assert sorted(t.path.suffix for t in original) == [".mp3", ".wav", ".wav"]
    assert {t.extra["version"] for t in original} == {"original"}  # inferred from the folder name
    with pytest.raises(ConfigError, match="pass version="):
        read_dataset("fake-or-real", tmp_path)


def test_wavefake(tmp_path: Path) -> None:
    wavefake, jsut = make_wavefake(tmp_path)
    trials = read_dataset("wavefake", wavefake, jsut_root=jsut)
    spoofs = [t for t in trials if t.label is Label.SPOOF]
    tts = "common_voices_prompts_from_conformer_fastspeech2_pwg_ljspeech"
    assert Counter(t.system for t in spoofs) == {
        "ljspeech_melgan": 2, "ljspeech_hifiGAN": 1, "jsut_parallel_wavegan": 1, tts: 1}  # fmt: skip
    melgan = by_id(trials)["ljspeech_melgan/LJ001-0001_gen"]
    assert (melgan.source, melgan.speaker) == ("ljspeech", "LJ")
    assert melgan.path == wavefake / "generated_audio" / "ljspeech_melgan" / "LJ001-0001_gen.wav"
    assert by_id(trials)["jsut_parallel_wavegan/BASIC5000_0001_gen"].source == "jsut"
    real = {t.utterance_id: t.source for t in trials if t.label is Label.BONAFIDE}
    assert real == {
        "ljspeech/LJ001-0001": "ljspeech",
        "ljspeech/LJ001-0002": "ljspeech",
        "jsut/BASIC5000_0001": "jsut",
    }


def test_wavefake_real_side_discovery(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """JSUT beside the WaveFake folder is found; a real corpus found nowhere is left out with a warning."""
    wavefake, jsut = make_wavefake(tmp_path)
    trials = read_dataset("wavefake", wavefake / "generated_audio")
    assert Counter(t.source for t in trials if t.label is Label.BONAFIDE) == {"ljspeech": 2, "jsut": 1}
    jsut.rename(tmp_path / "elsewhere")
    with caplog.at_level("WARNING"):
        trials = read_dataset("wavefake", wavefake)
    assert Counter(t.source for t in trials if t.label is Label.BONAFIDE) == {"ljspeech": 2}
    assert "jsut_ver1.1 not found" in caplog.text


def test_mlaad_with_mailabs(tmp_path: Path) -> None:
    mlaad, mailabs = make_mlaad(tmp_path)
    trials = read_dataset("mlaad", mlaad, mailabs_root=mailabs)
    spoofs = [t for t in trials if t.label is Label.SPOOF]
    assert Counter(t.system for t in spoofs) == {"tts_models/de/thorsten/vits": 2, "facebook/mms-tts-eng": 1,
                                                 "tts_models_fr_mai_tacotron2-DDC": 1}  # fmt: skip
    clip = by_id(trials)["de/tts_models_de_thorsten_vits/a"]
    assert clip.path == mlaad / "fake" / "de" / "tts_models_de_thorsten_vits" / "a.wav"
    assert (clip.extra["language"], clip.extra["architecture"], clip.source) == ("de", "vits", "mlaad")
    real = [t for t in trials if t.label is Label.BONAFIDE]
    assert len(real) == 3 and {t.speaker for t in real} == {"eva_k", "elliot_miller"}
    assert all(
        t.system == "bonafide" and t.source == "m-ailabs" and t.path.is_relative_to(mailabs) for t in real
    )
    assert {t.extra["language"] for t in read_dataset("mlaad", mlaad, languages=["en"])} == {"en"}


def test_folder(tmp_path: Path) -> None:
    make_folder(tmp_path)
    trials = read_dataset("folder", tmp_path)
    assert {t.utterance_id: (t.label, t.system) for t in trials} == {
        "real/a": (Label.BONAFIDE, "bonafide"),
        "real/speaker2/b": (Label.BONAFIDE, "bonafide"),
        "fake/melgan/c": (Label.SPOOF, "melgan"),
        "fake/d": (Label.SPOOF, None),
    }
    with pytest.raises(ProtocolError, match="expected real/"):
        read_dataset("folder", tmp_path / "other")


def test_csv_manifest(tmp_path: Path) -> None:
    manifest = make_csv(tmp_path)
    trials = read_dataset("csv", manifest)
    assert len(trials) == 4
    spoof = by_id(trials)["src_a/spoof/0001"]
    assert (spoof.label, spoof.system, spoof.speaker, spoof.source, spoof.subset) == (
        Label.SPOOF, "hifigan_v1", "p225", "src_a", "train")  # fmt: skip
    assert spoof.extra == {"text": "one two", "license": "MIT"}
    assert spoof.path == tmp_path / "src_a" / "spoof" / "0001.flac"
    assert by_id(trials)["src_b/spoof/0002"].extra["text"] == "three, four"  # quoted comma
    real = by_id(trials)["src_b/real/0003"]
    assert (real.label, real.system, real.speaker) == (Label.BONAFIDE, "bonafide", "LJ")
    assert [t.utterance_id for t in read_dataset("csv", manifest, subset="test")] == [
        "src_b/spoof/0002",
        "src_b/real/0003",
    ]
    with pytest.raises(ConfigError, match="subsets present: test, train"):
        read_dataset("csv", manifest, subset="dev")


def test_csv_id_column_and_duplicates(tmp_path: Path) -> None:
    make_csv(tmp_path)
    ids = write_text(tmp_path / "ids.csv", ["utt_id,path,label", "x1,src_a/bonafide/0001.flac,bonafide"])
    assert read_dataset("csv", ids)[0].utterance_id == "x1"
    dup = write_text(
        tmp_path / "dup.csv",
        ["id,path,label", "x,src_a/bonafide/0001.flac,real", "x,src_a/spoof/0001.flac,fake"],
    )
    with pytest.raises(ProtocolError, match="utterance id 'x' is used by both"):
        read_dataset("csv", dup)


@requires_shared_data()
def test_real_dev_manifest() -> None:
    trials = read_dataset("csv", SHARED_DATA / "manifest.csv")
    assert len(trials) == 3062
    assert sum(t.label is Label.BONAFIDE for t in trials) == 1507
    assert all((t.system == "bonafide") == (t.label is Label.BONAFIDE) for t in trials)


# --- errors -------------------------------------------------------------------------------------


def test_malformed_protocol_line_names_file_and_line(tmp_path: Path) -> None:
    la = make_asvspoof2019_la(tmp_path)
    protocol = la / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt"
    write_text(protocol, ["LA_0069 LA_D_1047731 - - bonafide", "", "LA_0070 LA_D_1105538 spoof"])
    with pytest.raises(
        ProtocolError, match=r"ASVspoof2019\.LA\.cm\.dev\.trl\.txt:3: expected 5 fields, got 3$"
    ):
        read_dataset("asvspoof2019-la", la, subset="dev")


def test_unknown_label_names_file_and_line(tmp_path: Path) -> None:
    la = make_asvspoof2019_la(tmp_path)
    protocol = la / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt"
    write_text(protocol, ["LA_0039 LA_E_2834763 - A11 spoof", "LA_0030 LA_E_5849185 - - maybe"])
    with pytest.raises(ProtocolError, match=r"eval\.trl\.txt:2: unknown label 'maybe'"):
        read_dataset("asvspoof2019-la", la, subset="eval")


@pytest.mark.parametrize(
    ("name", "make", "relative", "bad_line", "message"),
    [
        ("asvspoof2021-df", make_asvspoof2021_df, "DF-keys-full/keys/DF/CM/trial_metadata.txt",
         "LA_0023 DF_E_2000011 nocodec asvspoof A14", "trial_metadata.txt:2: expected 8 or 13 fields, got 5"),
        ("asvspoof5", make_asvspoof5, "ASVspoof5_protocols/ASVspoof5.train.tsv",
         "T_4850 T_0000000000 F - - - AC3 A05 spoof", "ASVspoof5.train.tsv:2: expected 10 fields, got 9"),
        ("in-the-wild", make_in_the_wild, "release_in_the_wild/meta.csv",
         "0.wav,spoof", "meta.csv:2: expected 3 fields, got 2"),
    ],
)  # fmt: skip
def test_malformed_lines_in_other_formats(tmp_path: Path, name, make, relative, bad_line, message) -> None:
    make(tmp_path)
    path = tmp_path / relative
    lines = path.read_text().splitlines()
    write_text(path, [lines[0], bad_line, *lines[1:]])
    with pytest.raises(ProtocolError, match=message):
        read_dataset(name, tmp_path)


def test_missing_audio_is_one_summary_error(tmp_path: Path) -> None:
    la = make_asvspoof2019_la(tmp_path)
    (la / "ASVspoof2019_LA_eval" / "flac" / "LA_E_9157999.flac").unlink()
    (la / "ASVspoof2019_LA_train" / "flac" / "LA_T_1000137.flac").unlink()
    with pytest.raises(
        ProtocolError, match=r"2 of 8 audio files are missing \(e\.g\. .*LA_E_9157999\.flac"
    ) as info:
        read_dataset("asvspoof2019-la", la)
    assert "LA_T_1000137.flac" in str(info.value) and "\n" not in str(info.value)
    assert len(read_dataset("asvspoof2019-la", la, check_files=False)) == 8


def test_missing_protocol_file(tmp_path: Path) -> None:
    la = make_asvspoof2019_la(tmp_path)
    (la / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.train.trn.txt").unlink()
    # Without a subset, the partitions the tree holds are read: evaluating needs no training protocol.
    assert Counter(t.subset for t in read_dataset("asvspoof2019-la", la)) == {"dev": 2, "eval": 3}
    with pytest.raises(
        ProtocolError,
        match=r"ASVspoof2019\.LA\.cm\.train\.trn\.txt: ASVspoof 2019 LA train protocol not found",
    ):
        read_dataset("asvspoof2019-la", la, subset="train")
    assert len(read_dataset("asvspoof2019-la", la, subset="eval")) == 3
    for name in ("dev.trl", "eval.trl"):
        (la / "ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{name}.txt").unlink()
    with pytest.raises(ProtocolError, match="train protocol not found"):  # nothing there: the first is named
        read_dataset("asvspoof2019-la", la)
    with pytest.raises(ProtocolError, match="no such file or folder"):
        read_dataset("in-the-wild", tmp_path / "absent")
    with pytest.raises(ProtocolError, match="takes a manifest file as root"):
        read_dataset("csv", la)


def test_unknown_name_option_and_subset(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="unknown dataset 'asvspoof2017'; available: " + ", ".join(available_datasets())
    ):
        read_dataset("asvspoof2017", tmp_path)
    make_asvspoof2019_la(tmp_path)
    with pytest.raises(ConfigError, match="unknown option.*key_file.*valid: protocol, subset"):
        read_dataset("asvspoof2019-la", tmp_path, key_file="x")
    with pytest.raises(ConfigError, match="unknown subset 'test'.*valid: train, dev, eval"):
        read_dataset("asvspoof2019-la", tmp_path, subset="test")


# --- score files --------------------------------------------------------------------------------


SCORE_CASES = {
    "asvspoof2019-la": (make_asvspoof2019_la, "LA_T_1138215 - bonafide "),
    "asvspoof2021-la": (make_asvspoof2021_la, "LA_E_9332881 "),
    "asvspoof5": (make_asvspoof5, "filename\tcm-score"),
    "folder": (make_folder, "fake/d "),
}


@pytest.mark.parametrize("name", sorted(SCORE_CASES))
def test_score_file_round_trip(tmp_path: Path, name: str) -> None:
    make, first_line_start = SCORE_CASES[name]
    root = make(tmp_path / "corpus")
    trials = read_dataset(name, root)
    scores = [0.1 * i - 0.35 for i in range(len(trials))]
    path = tmp_path / "scores.txt"
    write_score_file(name, trials, scores, path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith(first_line_start)
    assert len(lines) == len(trials) + (name == "asvspoof5")
    assert read_score_file(path) == {t.utterance_id: s for t, s in zip(trials, scores)}


def test_official_score_line_layouts(tmp_path: Path) -> None:
    la = make_asvspoof2019_la(tmp_path)
    trials = read_dataset("asvspoof2019-la", la, subset="eval")
    path = tmp_path / "cm.txt"
    write_score_file("asvspoof2019-la", trials, {t.utterance_id: -4.25 for t in trials}, path)
    assert path.read_text().splitlines()[:2] == [
        "LA_E_2834763 A11 spoof -4.25",
        "LA_E_5849185 - bonafide -4.25",
    ]
    write_score_file("asvspoof2021-df", trials, [1.5, 2.0, -3.0], path)  # submission: exactly 2 columns
    assert [line.split() for line in path.read_text().splitlines()] == [
        ["LA_E_2834763", "1.5"], ["LA_E_5849185", "2.0"], ["LA_E_9157999", "-3.0"]]  # fmt: skip
    write_score_file("asvspoof5", trials, [1.5, 2.0, -3.0], path)
    assert path.read_text().splitlines()[1] == "LA_E_2834763\t1.5"


def test_ids_with_spaces_survive_the_two_column_format(tmp_path: Path) -> None:
    trials = [
        Trial("fake/my clip 1", tmp_path / "x.wav", Label.SPOOF),
        Trial("real/b", tmp_path / "b.wav", Label.BONAFIDE),
    ]
    path = tmp_path / "s.txt"
    write_score_file("folder", trials, [0.5, -1.0], path)
    assert read_score_file(path) == {"fake/my clip 1": 0.5, "real/b": -1.0}


def test_score_file_errors(tmp_path: Path) -> None:
    trials = [Trial("a", tmp_path / "a.wav", Label.SPOOF), Trial("b", tmp_path / "b.wav", Label.BONAFIDE)]
    with pytest.raises(ValueError, match="got 1 scores for 2 trials"):
        write_score_file("csv", trials, [0.1], tmp_path / "s.txt")
    with pytest.raises(ValueError, match="score of trial 'b' is not finite"):
        write_score_file("csv", trials, [0.1, float("nan")], tmp_path / "s.txt")
    with pytest.raises(ConfigError, match="unknown dataset"):
        write_score_file("nope", trials, [0.1, 0.2], tmp_path / "s.txt")
    bad = write_text(tmp_path / "bad.txt", ["a 0.5", "b high"])
    with pytest.raises(ProtocolError, match=r"bad\.txt:2: score 'high' is not a number"):
        read_score_file(bad)
    twice = write_text(tmp_path / "twice.txt", ["a 0.5", "a 0.7"])
    with pytest.raises(ProtocolError, match=r"twice\.txt:2: utterance id 'a' appears twice"):
        read_score_file(twice)
