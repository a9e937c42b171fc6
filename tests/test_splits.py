"""Validation splits never put one group on both sides; samplers draw the shares they promise."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from deepfake_audio.data.dataset import source_balanced_sampler
from deepfake_audio.data.splits import filter_trials, split_trials
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
