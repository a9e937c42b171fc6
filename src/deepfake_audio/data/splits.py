"""Train/validation splits that keep what must stay unseen out of training.

Random clip-level splits leak speakers, sentences and generators (see the corpus README), so the
default holds out whole groups: spoof `system`s, `speaker`s or `source`s.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence

from deepfake_audio.data.trial import Label, Trial

SPLITS = ("random", "system", "speaker", "source")


def _group_key(mode: str) -> Callable[[Trial], str]:
    if mode == "random":
        return lambda t: t.utterance_id
    if mode == "system":
        # Spoofs are grouped by generator; bona fide clips, which have no generator, by speaker
        # (or by clip when the speaker is unknown) so real validation speech is still unseen speech.
        return lambda t: (
            f"system:{t.system}" if t.label is Label.SPOOF else f"speaker:{t.speaker or t.utterance_id}"
        )
    if mode == "speaker":
        return lambda t: f"speaker:{t.speaker or t.utterance_id}"
    if mode == "source":
        return lambda t: f"source:{t.source or 'unknown'}"
    raise ValueError(f"unknown split {mode!r}; choose one of {', '.join(SPLITS)}")


def split_trials(
    trials: Sequence[Trial], mode: str = "system", val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[Trial], list[Trial]]:
    """Split into (train, validation) so that no group of `mode` is on both sides.

    Groups are drawn in a seeded random order until the validation share reaches `val_fraction`.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction}")
    key = _group_key(mode)
    rng = random.Random(seed)
    # With `system`, bona fide and spoof groups are disjoint by construction, so each label is split on
    # its own and keeps its share; the other modes group across labels (a speaker's real and fake clips
    # must land on the same side), so their groups are drawn from one pool.
    pools = [[t for t in trials if t.label is label] for label in (Label.BONAFIDE, Label.SPOOF)]
    if mode != "system":
        pools = [list(trials)]
    train: list[Trial] = []
    val: list[Trial] = []
    for pool in pools:
        groups: dict[str, list[Trial]] = defaultdict(list)
        for trial in pool:
            groups[key(trial)].append(trial)
        names = sorted(groups)
        rng.shuffle(names)
        taken = 0
        for i, name in enumerate(names):
            # Leave at least one group for training.
            if taken < val_fraction * len(pool) and i < len(names) - 1:
                val.extend(groups[name])
                taken += len(groups[name])
            else:
                train.extend(groups[name])
    return train, val


def filter_trials(
    trials: Sequence[Trial], exclude_sources: Sequence[str] = (), exclude_systems: Sequence[str] = ()
) -> list[Trial]:
    """Drop trials from the named sources or systems."""
    sources, systems = set(exclude_sources), set(exclude_systems)
    return [t for t in trials if t.source not in sources and t.system not in systems]
