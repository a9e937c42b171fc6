"""The user-facing detector: any audio in, a calibrated verdict with a per-window timeline out.

`Detector` wires the stages of `deepfake_audio.pipeline` together (decode -> analyse -> score windows
-> decide -> report); each stage lives in its own module there.

Score convention (stated once, used everywhere): `score` is the bona-fide log-odds of the model;
higher means more bona fide. `p_fake` is the calibrated probability that the recording is machine-made.
A recording is labelled "fake" when `score < threshold`, which is the same as `p_fake >= 0.5`.
`score` is the mean window score, or, when a machine-made segment is found inside the recording
(segments.py), the lowest segment score if that is lower: a recording with a segment is labelled fake.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from deepfake_audio.audio import AudioSource
from deepfake_audio.bundled import DEFAULT_NAME, bundled_path, explain_missing_extra, resolve_model
from deepfake_audio.checkpoint import CheckpointInfo, load_checkpoint
from deepfake_audio.device import resolve_device
from deepfake_audio.errors import MissingExtraError, one_line_error
from deepfake_audio.input_limits import DEFAULT_DECODE_BUDGET, DecodeBudget
from deepfake_audio.models import DetectorModel
from deepfake_audio.pipeline.analyse import analyse
from deepfake_audio.pipeline.decision import Calibration, decide
from deepfake_audio.pipeline.decode import (
    Opened,
    checked_waveform,
    open_array,
    open_bytes,
    open_file,
    opened_ahead,
)
from deepfake_audio.pipeline.report import (
    NOISY_DB,
    Prediction,
    WindowScore,
    failed_prediction,
    non_finite_error,
    report,
)
from deepfake_audio.pipeline.scoring import MAX_WAITING_BATCHES, Job, WindowBatcher
from deepfake_audio.segments import SegmentRule
from deepfake_audio.windows import window_hop

# Files opened ahead of scoring: enough to keep the decoders busy through a batch of short clips, few
# enough that whole decoded files waiting (up to TRIM_MAX_SECONDS each) stay small in memory.
_FILES_AHEAD = 16

__all__ = ["NOISY_DB", "Detector", "Prediction", "WindowScore", "bundled_model_path", "detect"]


def bundled_model_path(name: str = DEFAULT_NAME) -> Path:
    """Path of a model shipped inside the package, by its bundled name (`default`, `fast`)."""
    return bundled_path(name)


class Detector:
    """Score recordings with a trained checkpoint.

    Examples
    --------
    >>> from deepfake_audio import Detector
    >>> detector = Detector.from_pretrained()            # the bundled model, offline
    >>> prediction = detector("examples/real/ljspeech_0001.flac")  # doctest: +SKIP
    >>> prediction.label, round(prediction.p_fake, 2)   # doctest: +SKIP
    ('real', 0.08)
    """

    def __init__(
        self,
        model: DetectorModel,
        info: CheckpointInfo,
        *,
        device: str | torch.device = "cpu",
        hop: float | None = None,
        aggregate: str = "mean",
        batch_size: int = 32,
        decode_workers: int = 2,
        segment_rule: SegmentRule | None = None,
        decode_budget: DecodeBudget = DEFAULT_DECODE_BUDGET,
    ) -> None:
        if hop is None:
            hop = window_hop(info.extra)
        if not 0.0 < hop <= 1.0:
            raise ValueError(f"hop is a fraction of the window in (0, 1]; got {hop}")
        if aggregate not in ("mean", "min"):
            raise ValueError(f"aggregate must be 'mean' or 'min'; got {aggregate!r}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.info = info
        self.window = model.num_samples
        self.hop = max(1, round(hop * self.window))
        self.aggregate = aggregate
        self.batch_size = batch_size
        # Threads that decode and resample the next files while the model scores (0: decode in turn).
        self.decode_workers = decode_workers
        self.threshold = info.threshold
        self.calibration = Calibration.from_checkpoint(info.calibration, self.threshold)
        self.scale, self.offset = self.calibration.scale, self.calibration.offset
        self.trim_silence = bool(info.extra.get("trim_silence", False))
        # A model that scores short input as it is gets a short clip untiled (see DetectorModel).
        self.variable_length = bool(getattr(model, "accepts_variable_length", False))
        self.segment_rule = segment_rule or SegmentRule.from_extra(info.extra)
        self.decode_budget = decode_budget  # the most audio one input may decode to (input_limits.py)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, *, device: str = "auto", **kwargs: Any) -> Detector:
        """Load a bundled model by name (`"default"`, `"fast"`; None = `"default"`) or a checkpoint file
        (`.safetensors`, or `.onnx` exported by `export-onnx`), or `hf:FOLDER` (a local Hugging Face
        audio-classification model)."""
        from deepfake_audio.huggingface import HuggingFaceScorer, is_hf_spec

        if is_hf_spec(path):  # `hf:FOLDER`, a local Hugging Face audio-classification model
            device = resolve_device(device)
            scorer = HuggingFaceScorer(str(path), device=device)
            return cls(scorer, scorer.info, device=device, **kwargs)  # type: ignore[arg-type]
        checkpoint = resolve_model(path)
        if checkpoint.suffix.lower() == ".onnx":
            from deepfake_audio.onnx_export import OnnxScorer

            scorer = OnnxScorer(checkpoint)
            return cls(scorer, scorer.info, device="cpu", **kwargs)  # type: ignore[arg-type]
        device = resolve_device(device)
        try:
            model, info = load_checkpoint(checkpoint, device=device)
        except MissingExtraError as e:
            raise explain_missing_extra(path, e) from e
        return cls(model, info, device=device, **kwargs)

    # ---- calibration -------------------------------------------------------------------------

    def p_fake(self, score: float) -> float:
        """Calibrated probability of fake for a raw score (logistic on the bona-fide log-odds)."""
        return self.calibration.p_fake(score)

    # ---- scoring -----------------------------------------------------------------------------

    def __call__(self, source: AudioSource, *, name: str | None = None, sample_rate: int | None = None,
                 explain: bool = False, decode_budget: DecodeBudget | None = None) -> Prediction:
        """Score one recording given as a path, bytes, or array/tensor (then pass `sample_rate`).

        Never raises for bad audio: the Prediction carries the one-line `error` instead. `explain` adds to
        each window the frequency bands that moved its score most (explain.py; one extra forward pass per
        band). `decode_budget` overrides the detector's for this call (a server's lower limit for uploads).
        """
        budget = decode_budget or self.decode_budget
        if isinstance(source, (str, os.PathLike)):
            return next(self.detect_files([source], explain=explain, decode_budget=budget))
        label = name or "<memory>"
        if isinstance(source, (bytes, bytearray, memoryview)):  # an encoded file, as uploaded: codec known too
            data = bytes(source)
            return next(self._predict([(label, lambda: open_bytes(data, label, self.trim_silence, budget))], explain))
        return next(self._predict(
            [(label, lambda: open_array(source, sample_rate, label, self.trim_silence, budget))], explain))

    def detect_files(self, paths: Iterable[str | os.PathLike], *, explain: bool = False,
                     decode_budget: DecodeBudget | None = None) -> Iterator[Prediction]:
        """Score files in order, batching windows across files; a bad file yields a Prediction with `error`."""
        budget = decode_budget or self.decode_budget
        jobs = ((str(p), (lambda p=p: open_file(p, self.trim_silence, budget))) for p in paths)
        return self._predict(opened_ahead(jobs, self.decode_workers, _FILES_AHEAD), explain)

    def score_waveforms(self, items: Iterable[tuple[str, torch.Tensor]], *, explain: bool = False,
                        withhold_no_speech: bool = True) -> Iterator[Prediction]:
        """Score in-memory 16 kHz waveforms given as `(name, waveform)` pairs, batching across them.

        Metrics over a labelled corpus need a score for every trial: `withhold_no_speech=False` scores
        silent or steady clips too instead of giving them no verdict.
        """
        jobs = ((name, (lambda w=waveform, n=name: checked_waveform(w, n, self.trim_silence)))
                for name, waveform in items)
        return self._predict(jobs, explain, withhold_no_speech=withhold_no_speech)

    @torch.inference_mode()
    def score_windows(self, batch: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Raw scores for a batch of windows `(batch, window)`; `lengths` for zero-padded short windows
        (models that accept variable length only)."""
        if lengths is None:
            return self.model.score(batch.to(self.device)).float().cpu()
        return self.model.score(batch.to(self.device), lengths.to(self.device)).float().cpu()

    def _predict(self, jobs: Iterable[tuple[str, Callable[[], Opened]]], explain: bool = False, *,
                 withhold_no_speech: bool = True) -> Iterator[Prediction]:
        """decode -> analyse -> score windows for each recording in turn; decide and report each as soon
        as all its windows are scored, in input order."""
        batcher = WindowBatcher(self.score_windows, self.window, self.batch_size,
                                explain_with=self.p_fake if explain else None)
        open_jobs: list[Job] = []
        for name, open_audio in jobs:
            job = Job(name, withhold_no_speech=withhold_no_speech)
            open_jobs.append(job)
            try:
                opened = open_audio()
                job.offset, job.total, job.lossy_codec = opened.offset, opened.total, opened.lossy_codec
                for window in analyse(opened, self.window, self.hop, tile_short=not self.variable_length):
                    batcher.add(job, window)
                job.decode_warnings = opened.warnings  # a stream's list is complete once it is exhausted
            except Exception as e:  # noqa: BLE001 - a batch never dies: whatever one file raises is its error
                job.error = one_line_error(name, e)
            job.done = True
            if len(open_jobs) > MAX_WAITING_BATCHES * self.batch_size:  # a rare length holds up the output
                batcher.flush_all()
            while open_jobs and open_jobs[0].done and (open_jobs[0].error or open_jobs[0].scored()):
                yield self._finish(open_jobs.pop(0))
        batcher.flush_all()
        for job in open_jobs:
            yield self._finish(job)

    def _finish(self, job: Job) -> Prediction:
        try:
            job.error = job.error or non_finite_error(job)
            if job.error:
                return failed_prediction(job, self.threshold)
            score, label = decide(job.scores, job.windows, self.aggregate, self.threshold)
            return report(job, score, label, self.threshold, self.p_fake, self.window, self.segment_rule)
        except Exception as e:  # noqa: BLE001 - a batch never dies
            job.error = one_line_error(job.name, e)
            return failed_prediction(job, self.threshold)


def detect(paths: Sequence[str | os.PathLike], model_path: str | None = None, **kwargs: Any) -> list[Prediction]:
    """Convenience: score files with a bundled model by name or a checkpoint (the `default` bundled model when None)."""
    return list(Detector.from_pretrained(model_path, **kwargs).detect_files(paths))
