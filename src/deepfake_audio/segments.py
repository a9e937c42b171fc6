"""Machine-made spans inside a recording: from per-window scores to `segments`.

A recording's mean window score hides a generated span inside real speech (110 of 299 windows fake
still averages to "real"); the most fake-looking window alone flags nearly every long real recording.
The rule in between, calibrated on data by `bench/segments.py`:

1. smooth each voiced window's score (bona-fide log-odds) with its neighbours whose centres lie within
   `smooth_s / 2` seconds, which damps single-window outliers;
2. keep runs of consecutive voiced windows whose smoothed p_fake is at least `min_p_fake`;
3. report a run as a segment when it spans at least `min_span_s` seconds, or when it covers every
   voiced window of the recording (a short clip that is fake throughout).

A segment's score is the mean smoothed score over its windows; since each of those is below the
threshold (`min_p_fake >= 0.5`), so is the mean, and a recording with a segment is labelled fake with
`score` = the lowest of its mean window score and its segments' scores (see detector.py).

The defaults below were chosen by `bench/segments.py` for the bundled model (its table is in
BENCHMARKS.md, "segments"); a checkpoint may carry its own in `extra["segment_rule"]`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

EXTRA_KEY = "segment_rule"


@dataclass(frozen=True)
class SegmentRule:
    """When consecutive windows make a machine-made segment (see the module docstring)."""

    # Chosen by bench/segments.py for the bundled model (4 s windows, 2 s hop): the most sensitive of
    # 330 candidate rules with at most 0.5 false segments per hour of real speech.
    min_p_fake: float = 0.5
    min_span_s: float = 18.0
    smooth_s: float = 12.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.min_p_fake < 1.0:
            raise ValueError(f"min_p_fake must be in [0.5, 1); got {self.min_p_fake}")
        if self.min_span_s < 0 or self.smooth_s < 0:
            raise ValueError("min_span_s and smooth_s must be >= 0")

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> SegmentRule:
        """The default rule with the checkpoint's overrides (`extra["segment_rule"]`) applied."""
        overrides = extra.get(EXTRA_KEY) or {}
        known = {f.name for f in fields(cls)}
        return replace(cls(), **{k: float(v) for k, v in overrides.items() if k in known})

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float  # seconds
    score: float  # mean smoothed bona-fide log-odds over the segment's windows
    p_fake: float

    def to_dict(self) -> dict[str, float]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "p_fake": round(self.p_fake, 4)}


def smooth_scores(starts: Sequence[float], ends: Sequence[float], scores: Sequence[float],
                  smooth_s: float) -> list[float]:
    """Each score averaged with the scores of windows whose centres lie within `smooth_s / 2` of its own."""
    centres = [(s + e) / 2 for s, e in zip(starts, ends)]
    half = smooth_s / 2 + 1e-9
    out = []
    lo = 0
    for i, c in enumerate(centres):
        while centres[lo] < c - half:
            lo += 1
        hi = i
        while hi + 1 < len(centres) and centres[hi + 1] <= c + half:
            hi += 1
        out.append(sum(scores[lo:hi + 1]) / (hi + 1 - lo))
    return out


def find_segments(
    starts: Sequence[float],
    ends: Sequence[float],
    scores: Sequence[float],
    silent: Sequence[bool],
    p_fake: Callable[[float], float],
    rule: SegmentRule,
) -> list[Segment]:
    """Machine-made segments of one recording from its windows (in time order) and its calibration."""
    voiced = [i for i, s in enumerate(silent) if not s]
    if not voiced:
        return []
    v_starts = [starts[i] for i in voiced]
    v_ends = [ends[i] for i in voiced]
    smoothed = smooth_scores(v_starts, v_ends, [scores[i] for i in voiced], rule.smooth_s)
    flagged = [p_fake(s) >= rule.min_p_fake for s in smoothed]
    segments = []
    k = 0
    while k < len(voiced):
        if not flagged[k]:
            k += 1
            continue
        first = k
        # A silent window between two voiced ones breaks the run: it is no evidence either way.
        while k + 1 < len(voiced) and flagged[k + 1] and voiced[k + 1] == voiced[k] + 1:
            k += 1
        start, end = v_starts[first], v_ends[k]
        whole = first == 0 and k == len(voiced) - 1
        if end - start >= rule.min_span_s - 1e-9 or whole:
            score = sum(smoothed[first:k + 1]) / (k + 1 - first)
            segments.append(Segment(start, end, score, p_fake(score)))
        k += 1
    return segments
