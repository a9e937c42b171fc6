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


def leave_generators_out_folds(
    trials: Sequence[Trial], num_folds: int = 3, seed: int = 0, exclude_val_speakers: bool = True
) -> list[tuple[list[Trial], list[Trial]]]:
    """Cross-validation folds in which validation generators, sources and speakers are never trained on.

    Sources that hold spoofs are dealt into `num_folds` groups of similar spoof counts. A fold validates
    on every clip of its sources (real and fake side by side, pooled under one threshold) and trains on
    the other sources minus any spoof whose generator family appears in validation and, with
    `exclude_val_speakers`, minus any clip of a validation speaker. Sources with only real speech
    always stay in training.
    """
    from deepfake_audio.data.families import generator_families, spoof_families

    spoof_counts: dict[str, int] = defaultdict(int)
    for t in trials:
        if t.label is Label.SPOOF:
            spoof_counts[t.source or "unknown"] += 1
    sources = sorted(spoof_counts)
    if len(sources) < num_folds:
        raise ValueError(f"{len(sources)} sources with spoofs cannot make {num_folds} folds")
    random.Random(seed).shuffle(sources)
    groups: list[list[str]] = [[] for _ in range(num_folds)]
    loads = [0] * num_folds
    for source in sorted(sources, key=lambda s: -spoof_counts[s]):  # largest first, onto the lightest fold
        k = loads.index(min(loads))
        groups[k].append(source)
        loads[k] += spoof_counts[source]

    folds = []
    for group in groups:
        held = set(group)
        val = [t for t in trials if (t.source or "unknown") in held]
        families = spoof_families(val)
        speakers = {t.speaker for t in val if t.speaker} if exclude_val_speakers else set()
        train = [
            t for t in trials
            if (t.source or "unknown") not in held
            and not (t.label is Label.SPOOF and generator_families(t.system or "") & families)
            and not (t.speaker and t.speaker in speakers)
        ]
        folds.append((train, val))
    return folds
