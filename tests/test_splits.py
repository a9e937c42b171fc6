"""Validation splits never put one group on both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

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
