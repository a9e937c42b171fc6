"""Stage 4, decide: one score per recording from its window scores, the verdict at the threshold, and
the calibrated probability of fake.

Score convention: `score` is the bona-fide log-odds of the model (higher = more bona fide); a recording
is labelled "fake" when `score < threshold`, which is the same as `p_fake >= 0.5`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from deepfake_audio.windows import Window, aggregate_scores


@dataclass(frozen=True)
class Calibration:
    """Logistic calibration of raw scores into a probability of fake."""

    scale: float
    offset: float

    @classmethod
    def from_checkpoint(cls, calibration: dict[str, float], threshold: float) -> Calibration:
        scale = float(calibration.get("scale", 1.0))
        return cls(scale, float(calibration.get("offset", -scale * threshold)))

    def p_fake(self, score: float) -> float:
        """Calibrated probability of fake for a raw score (logistic on the bona-fide log-odds)."""
        llr = self.scale * score + self.offset
        return 1.0 / (1.0 + math.exp(max(-60.0, min(60.0, llr))))


def decide(scores: Sequence[float], windows: Sequence[Window], aggregate: str, threshold: float) -> tuple[float, str]:
    """The recording's score (silent windows ignored when any has speech) and its label."""
    silent = torch.tensor([w.silent for w in windows])
    score = aggregate_scores(torch.tensor(list(scores)), silent, aggregate)
    return score, "fake" if score < threshold else "real"
