"""Validation splits never put one group on both sides; samplers draw the shares they promise."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from deepfake_audio.data.dataset import source_balanced_sampler
from deepfake_audio.data.families import generator_families, spoof_families
from deepfake_audio.data.splits import filter_trials, leave_generators_out_folds, split_trials
from deepfake_audio.data.trial import Label, Trial


def _trials() -> list[Trial]:
    out = []
    for i in range(40):
        out.append(Trial(f"b{i}", Path(f"b{i}.wav"), Label.BONAFIDE, "bonafide", f"spk{i % 8}", f"src{i % 4}"))
        out.append(Trial(f"s{i}", Path(f"s{i}.wav"), Label.SPOOF, f"gen{i % 10}", f"spk{i % 8}", f"src{i % 4}"))
    return out


@pytest.mark.parametrize("mode,attr", [("system", "system"), ("speaker", "speaker"), ("source", "source")])
def test_groups_do_not_leak(mode, attr):
    train, val = split_trials(_trials(), mode, 0.25, seed=1)
    assert len(train) + len(val) == 80
    if mode == "system":
        train_groups = {t.system for t in train if t.label is Label.SPOOF}
        val_groups = {t.system for t in val if t.label is Label.SPOOF}
    else:
        train_groups, val_groups = {getattr(t, attr) for t in train}, {getattr(t, attr) for t in val}
    assert not train_groups & val_groups
    assert {t.label for t in val} == {Label.BONAFIDE, Label.SPOOF}


def test_split_is_seeded():
    a = split_trials(_trials(), "system", 0.2, seed=3)
    b = split_trials(_trials(), "system", 0.2, seed=3)
    assert [t.utterance_id for t in a[1]] == [t.utterance_id for t in b[1]]


def test_filter_trials():
    kept = filter_trials(_trials(), exclude_sources=["src0"], exclude_systems=["gen1"])
    assert all(t.source != "src0" and t.system != "gen1" for t in kept)


def test_source_balanced_sampler_draws_every_collection_and_label_equally() -> None:
    trials = (
        [Trial(f"a{i}", Path(f"a{i}.wav"), Label.BONAFIDE, "bonafide", None, "big_real") for i in range(90)]
        + [Trial(f"b{i}", Path(f"b{i}.wav"), Label.SPOOF, "x", None, "big_real") for i in range(10)]
        + [Trial(f"c{i}", Path(f"c{i}.wav"), Label.SPOOF, "y", None, "all_fake") for i in range(100)]
    )
    sampler = source_balanced_sampler(trials, seed=0)
    drawn = Counter()
    for _ in range(100):
        drawn.update((trials[i].source, trials[i].label) for i in sampler)
    total = sum(drawn.values())
    # One bona fide cell takes half the draws; the two spoof cells share the other half, whatever their sizes.
    assert drawn[("big_real", Label.BONAFIDE)] / total == pytest.approx(0.5, abs=0.02)
    assert drawn[("big_real", Label.SPOOF)] / total == pytest.approx(0.25, abs=0.02)
    assert drawn[("all_fake", Label.SPOOF)] / total == pytest.approx(0.25, abs=0.02)


def test_generator_families_read_the_architecture_out_of_the_name() -> None:
    assert generator_families("tacotron2_hifigan_v1_ft") == {"tacotron", "hifigan"}
    assert generator_families("pwg_repo_hifigan") == {"wavegan", "hifigan"}
    assert generator_families("piper") == {"vits"}  # piper voices are VITS models
    assert generator_families("brand_new_tts") == {"other:brandnewtts"}


def _corpus_for_folds() -> list[Trial]:
    """Six collections with real and fake clips (some sharing a vocoder family) and one real-only."""
    systems = {"a": ["glow_tts_hifigan"], "b": ["hifigan_v1", "melgan"], "c": ["vits"], "d": ["wavenet"],
               "e": ["melgan_vqvae", "waveglow"], "f": ["grad_tts"]}
    out = []
    for source, names in systems.items():
        for i in range(6):
            speaker = f"{source}{i % 2}" if source != "f" else f"a{i % 2}"  # f shares a's speakers
            out.append(Trial(f"{source}b{i}", Path(f"{source}b{i}.wav"), Label.BONAFIDE, "bonafide", speaker, source))
            out.append(Trial(f"{source}s{i}", Path(f"{source}s{i}.wav"), Label.SPOOF, names[i % len(names)],
                             speaker, source))
    out += [Trial(f"r{i}", Path(f"r{i}.wav"), Label.BONAFIDE, "bonafide", None, "real_only") for i in range(5)]
    return out


def test_leave_generators_out_folds_never_train_on_what_they_validate() -> None:
    trials = _corpus_for_folds()
    folds = leave_generators_out_folds(trials, 3, seed=0)
    validated = [t.source for _, val in folds for t in val if t.label is Label.SPOOF]
    assert sorted(set(validated)) == list("abcdef") and len(validated) == 36  # each spoof source once
    for train, val in folds:
        val_sources = {t.source for t in val}
        val_families = spoof_families(val)
        val_speakers = {t.speaker for t in val if t.speaker}
        assert not val_sources & {t.source for t in train}
        assert not any(generator_families(t.system) & val_families for t in train if t.label is Label.SPOOF)
        assert not val_speakers & {t.speaker for t in train if t.speaker}
        assert sum(t.source == "real_only" for t in train) == 5  # real-only collections always train
        assert {t.label for t in val} == {Label.BONAFIDE, Label.SPOOF}
