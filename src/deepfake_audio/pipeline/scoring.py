"""Stage 3, score windows: windows from many recordings wait in batches and go through the model
together; each recording (`Job`) collects its windows' scores in order."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from deepfake_audio.errors import one_line_error
from deepfake_audio.windows import Window

_NO_SAMPLES = torch.zeros(0)
# Short clips (scored untiled) are batched by length in this many steps per window length, so that
# padding a batch to its longest clip adds at most an eighth of a window per clip.
_LENGTH_BUCKETS = 8
MAX_WAITING_BATCHES = 4  # files waiting for a part-filled batch before every batch is scored anyway

ScoreFn = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]


@dataclass
class Job:
    """One recording on its way through the stages: its windows' positions, scores and what went wrong."""

    name: str
    windows: list[Window] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    explanations: list[list[dict[str, Any]]] = field(default_factory=list)  # with `explain`, per window
    error: str | None = None
    done: bool = False
    offset: int = 0  # samples trimmed from the start (window times are reported in the original timeline)
    total: int | None = None  # samples in the recording, when known before streaming ends
    lossy_codec: str | None = None
    decode_warnings: list[str] = field(default_factory=list)
    withhold_no_speech: bool = True  # give silent or steady audio no verdict (False: score it anyway)

    def scored(self) -> bool:
        return len(self.scores) == len(self.windows)


class WindowBatcher:
    """Windows wait in batches by length: whole windows together, and short clips (when the model takes
    them untiled) with clips of about their length, so that padding them costs little."""

    def __init__(self, score: ScoreFn, window: int, batch_size: int,
                 explain_with: Callable[[float], float] | None = None) -> None:
        """`explain_with`: the p_fake function, to explain each window (explain.py); None: no explanations."""
        self.score, self.window, self.batch_size = score, window, batch_size
        self.explain_with = explain_with
        self.pending: dict[int, list[tuple[Job, Window]]] = {}

    def add(self, job: Job, window: Window) -> None:
        # The job keeps only the window's position: its samples live until scored, so a long file
        # never holds more than a batch of windows in memory.
        job.windows.append(replace(window, samples=_NO_SAMPLES))
        batch = self.pending.setdefault(self._length_bucket(window.samples.numel()), [])
        batch.append((job, window))
        if len(batch) >= self.batch_size:
            self._flush(batch)

    def flush_all(self) -> None:
        for batch in self.pending.values():
            self._flush(batch)

    def _length_bucket(self, length: int) -> int:
        return -(-length * _LENGTH_BUCKETS // self.window)

    def _flush(self, pending: list[tuple[Job, Window]]) -> None:
        if not pending:
            return
        try:
            scores = self._score_batch(pending)
        except Exception:  # noqa: BLE001 - find the file whose window fails; the others keep their scores
            scores = torch.tensor([self._score_one(job, window) for job, window in pending])
        if self.explain_with is not None:
            self._explain(pending, scores)
        for (job, _), score in zip(pending, scores.tolist()):
            job.scores.append(score)
        pending.clear()

    def _score_batch(self, pending: list[tuple[Job, Window]]) -> torch.Tensor:
        lengths = [w.samples.numel() for _, w in pending]
        if min(lengths) == max(lengths):
            return self.score(torch.stack([w.samples for _, w in pending]), None)
        # short clips of different lengths: zero-padded to the longest, with their lengths
        batch = torch.zeros(len(pending), max(lengths))
        for row, (_, w) in enumerate(pending):
            batch[row, : w.samples.numel()] = w.samples
        return self.score(batch, torch.tensor(lengths))

    def _score_one(self, job: Job, window: Window) -> float:
        try:
            return float(self.score(window.samples[None], None)[0])
        except Exception as e:  # noqa: BLE001 - recorded as that file's error
            job.error = job.error or one_line_error(job.name, e, context="scoring failed")
            return math.nan

    def _explain(self, pending: list[tuple[Job, Window]], scores: torch.Tensor) -> None:
        from deepfake_audio.explain import explain_windows

        def score_fn(batch: torch.Tensor) -> torch.Tensor:
            return self.score(batch, None)

        # Each window is explained at its own length, so padding never enters the occluded spectra.
        for row, (job, w) in enumerate(pending):
            why = explain_windows(w.samples[None], scores[row : row + 1], score_fn, self.explain_with)
            job.explanations.append(why[0])
