"""The user-facing detector: any audio in, a calibrated verdict with a per-window timeline out.

Score convention (stated once, used everywhere): `score` is the bona-fide log-odds of the model;
higher means more bona fide. `p_fake` is the calibrated probability that the recording is machine-made.
A recording is labelled "fake" when `score < threshold`, which is the same as `p_fake >= 0.5`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from deepfake_audio.audio import (
    SAMPLE_RATE,
    AudioSource,
    audio_info,
    load_audio,
    silence_bounds,
    stream_audio,
)
from deepfake_audio.bundled import DEFAULT_NAME, bundled_path, explain_missing_extra, resolve_model
from deepfake_audio.checkpoint import CheckpointInfo, load_checkpoint
from deepfake_audio.device import resolve_device
from deepfake_audio.errors import DeepfakeAudioError, MissingExtraError
from deepfake_audio.models import DetectorModel
from deepfake_audio.windows import NARROWBAND_CUTOFF_HZ, NARROWBAND_DB, Window, aggregate_scores, iter_windows

# Below this many dB of speech over the noise floor (median over voiced windows), warn of strong noise.
# Measured on the development corpus as given (4 s windows): 6% of its clips fall below (mostly noisy
# real recordings such as fsdd and bigvgan_demo), and 90% of clips with white noise added at 10 dB SNR,
# where the bundled model's EER is near chance (MODEL_CARD.md, "Under degradation").
NOISY_DB = 17.0

STREAM_BLOCK_SECONDS = 60.0  # long files are decoded a minute at a time
# Models trained on silence-trimmed audio get trimmed input too, as in training. Files longer than this
# are streamed untrimmed instead: their edges weigh little, and trimming would need the whole file.
TRIM_MAX_SECONDS = 180.0
_NO_SAMPLES = torch.zeros(0)
# Short clips (scored untiled) are batched by length in this many steps per window length, so that
# padding a batch to its longest clip adds at most an eighth of a window per clip.
_LENGTH_BUCKETS = 8
_MAX_WAITING_BATCHES = 4  # files waiting for a part-filled batch before every batch is scored anyway


def bundled_model_path(name: str = DEFAULT_NAME) -> Path:
    """Path of a model shipped inside the package, by its bundled name (`default`, `fast`)."""
    return bundled_path(name)


@dataclass(frozen=True)
class WindowScore:
    start: float  # seconds
    end: float  # seconds
    score: float
    p_fake: float
    silent: bool = False


@dataclass
class Prediction:
    """The verdict for one recording. `to_dict()` is the stable JSON schema of `detect --json`."""

    path: str
    label: str | None  # "real" | "fake"; None when the file could not be scored
    p_fake: float | None
    score: float | None
    threshold: float
    duration: float | None = None  # seconds
    windows: list[WindowScore] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def is_fake(self) -> bool:
        return self.label == "fake"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["windows"] = [
            {"start": round(w.start, 3), "end": round(w.end, 3), "score": round(w.score, 4),
             "p_fake": round(w.p_fake, 4), "silent": w.silent}
            for w in self.windows
        ]
        for key in ("p_fake", "score", "duration"):
            if out[key] is not None:
                out[key] = round(out[key], 4)
        return out


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
        hop: float = 0.5,
        aggregate: str = "mean",
        batch_size: int = 32,
    ) -> None:
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
        self.threshold = info.threshold
        self.scale = float(info.calibration.get("scale", 1.0))
        self.offset = float(info.calibration.get("offset", -self.scale * self.threshold))
        self.trim_silence = bool(info.extra.get("trim_silence", False))
        # A model that scores short input as it is gets a short clip untiled (see DetectorModel).
        self.variable_length = bool(getattr(model, "accepts_variable_length", False))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, *, device: str = "auto", **kwargs: Any) -> Detector:
        """Load a bundled model by name (`"default"`, `"fast"`; None = `"default"`) or a checkpoint file
        (`.safetensors`, or `.onnx` exported by `export-onnx`)."""
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
        llr = self.scale * score + self.offset
        return 1.0 / (1.0 + math.exp(max(-60.0, min(60.0, llr))))

    # ---- scoring -----------------------------------------------------------------------------

    def __call__(self, source: AudioSource, *, name: str | None = None, sample_rate: int | None = None) -> Prediction:
        """Score one recording given as a path, bytes, or array/tensor (then pass `sample_rate`)."""
        if isinstance(source, (str, os.PathLike)):
            return next(self.detect_files([source]))
        label = name or "<memory>"
        if isinstance(source, bytes):  # an encoded file, as uploaded to the API: its codec is known too
            return next(self._predict([(label, lambda: self._open_bytes(source, label))]))
        waveform = load_audio(source, source_sample_rate=sample_rate, name=label)
        return next(self.score_waveforms([(label, waveform)]))

    def detect_files(self, paths: Iterable[str | os.PathLike]) -> Iterator[Prediction]:
        """Score files in order, batching windows across files; a bad file yields a Prediction with `error`."""
        return self._predict((str(p), (lambda p=p: self._open_file(p))) for p in paths)

    def _open_file(self, path: str | os.PathLike) -> _Opened:
        """The file's audio: whole and trimmed when the model wants it, else streamed."""
        info = audio_info(path)
        lossy_codec = info.codec if info.lossy else None
        if self.trim_silence and info.duration <= TRIM_MAX_SECONDS:
            return replace(self._trimmed(load_audio(path)), lossy_codec=lossy_codec)
        return _Opened(0, None, stream_audio(path, block_duration=STREAM_BLOCK_SECONDS), lossy_codec)

    def _open_bytes(self, data: bytes, label: str) -> _Opened:
        info = audio_info(data, name=label)
        opened = self._trimmed(load_audio(data, name=label))
        return replace(opened, lossy_codec=info.codec if info.lossy else None)

    def _trimmed(self, waveform: torch.Tensor) -> _Opened:
        if not self.trim_silence:
            return _Opened(0, waveform.numel(), [waveform])
        start, end = silence_bounds(waveform)
        return _Opened(start, waveform.numel(), [waveform[start:end]])

    def score_waveforms(self, items: Iterable[tuple[str, torch.Tensor]]) -> Iterator[Prediction]:
        """Score in-memory 16 kHz waveforms given as `(name, waveform)` pairs, batching across them."""
        return self._predict((name, (lambda w=waveform: self._trimmed(w))) for name, waveform in items)

    @torch.inference_mode()
    def score_windows(self, batch: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Raw scores for a batch of windows `(batch, window)`; `lengths` for zero-padded short windows
        (models that accept variable length only)."""
        if lengths is None:
            return self.model.score(batch.to(self.device)).float().cpu()
        return self.model.score(batch.to(self.device), lengths.to(self.device)).float().cpu()

    def _predict(self, jobs: Iterable[tuple[str, Any]]) -> Iterator[Prediction]:
        # Windows wait in batches by length: whole windows together, and short clips (when the model
        # takes them untiled) with clips of about their length, so that padding them costs little.
        pending: dict[int, list[tuple[_Job, Window]]] = {}
        open_jobs: list[_Job] = []
        for name, open_blocks in jobs:
            job = _Job(name)
            open_jobs.append(job)
            try:
                opened = open_blocks()
                job.offset, job.total, job.lossy_codec = opened.offset, opened.total, opened.lossy_codec
                for window in iter_windows(opened.blocks, self.window, self.hop, tile_short=not self.variable_length):
                    # The job keeps only the window's position: its samples live until scored, so a
                    # long file never holds more than a batch of windows in memory.
                    job.windows.append(replace(window, samples=_NO_SAMPLES))
                    batch = pending.setdefault(self._length_bucket(window.samples.numel()), [])
                    batch.append((job, window))
                    if len(batch) >= self.batch_size:
                        self._flush(batch)
            except DeepfakeAudioError as e:
                job.error = str(e)
            except (RuntimeError, ValueError, OSError) as e:  # decoder/library failures on odd input
                job.error = f"{name}: {e}"
            job.done = True
            if len(open_jobs) > _MAX_WAITING_BATCHES * self.batch_size:  # a rare length holds up the output
                for batch in pending.values():
                    self._flush(batch)
            while open_jobs and open_jobs[0].done and (open_jobs[0].error or open_jobs[0].scored()):
                yield self._finish(open_jobs.pop(0))
        for batch in pending.values():
            self._flush(batch)
        for job in open_jobs:
            yield self._finish(job)

    def _length_bucket(self, length: int) -> int:
        return -(-length * _LENGTH_BUCKETS // self.window)

    def _flush(self, pending: list[tuple[_Job, Window]]) -> None:
        if not pending:
            return
        lengths = [w.samples.numel() for _, w in pending]
        if min(lengths) == max(lengths):
            scores = self.score_windows(torch.stack([w.samples for _, w in pending]))
        else:  # short clips of different lengths: zero-padded to the longest, with their lengths
            batch = torch.zeros(len(pending), max(lengths))
            for row, (_, w) in enumerate(pending):
                batch[row, : w.samples.numel()] = w.samples
            scores = self.score_windows(batch, torch.tensor(lengths))
        for (job, _), score in zip(pending, scores.tolist()):
            job.scores.append(score)
        pending.clear()

    def _finish(self, job: _Job) -> Prediction:
        if job.error:
            # A failed file keeps no partial windows: its verdict would be based on part of it.
            return Prediction(path=job.name, label=None, p_fake=None, score=None,
                              threshold=self.threshold, error=job.error)
        scores = torch.tensor(job.scores)
        silent = torch.tensor([w.silent for w in job.windows])
        score = aggregate_scores(scores, silent, self.aggregate)
        warnings = []
        if bool(silent.all()):
            warnings.append("no speech found (silent or near-silent audio): the verdict is unreliable")
        voiced = [w for w in job.windows if not w.silent]
        if voiced and max(w.high_band_db for w in voiced) < NARROWBAND_DB:
            warnings.append(
                f"narrowband audio (nothing above {NARROWBAND_CUTOFF_HZ // 1000} kHz, e.g. a telephone line or an "
                "8 kHz recording): detectors are least reliable here; see the model card's telephone result"
            )
        if voiced:
            floor = sorted(w.speech_over_floor_db for w in voiced)[len(voiced) // 2]
            if floor < NOISY_DB:
                warnings.append(
                    f"strong background noise (speech only {floor:.0f} dB above the quietest frames): detectors "
                    "are unreliable in heavy noise; see the model card's noise result"
                )
        if job.lossy_codec:
            warnings.append(
                f"lossy-compressed audio ({job.lossy_codec}): compression rewrites the fine spectral detail "
                "detectors rely on, so the verdict is less reliable; see the model card's codec results"
            )
        duration = (job.total if job.total is not None else job.windows[-1].end) / SAMPLE_RATE
        if duration < 0.5 * self.window / SAMPLE_RATE:
            warnings.append(f"audio is only {duration:.2f} s long: the verdict is less reliable")
        return Prediction(
            path=job.name,
            label="fake" if score < self.threshold else "real",
            p_fake=self.p_fake(score),
            score=score,
            threshold=self.threshold,
            duration=duration,
            windows=[
                WindowScore((w.start + job.offset) / SAMPLE_RATE, (w.end + job.offset) / SAMPLE_RATE, s,
                            self.p_fake(s), w.silent)
                for w, s in zip(job.windows, job.scores)
            ],
            warnings=warnings,
        )


@dataclass
class _Opened:
    """A recording ready for windowing: its audio blocks and what is known about it up front."""

    offset: int  # samples trimmed from the start
    total: int | None  # samples in the recording, when known before streaming ends
    blocks: Iterable[torch.Tensor]
    lossy_codec: str | None = None  # the file's codec, when it is a lossy one


@dataclass
class _Job:
    name: str
    windows: list[Window] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    error: str | None = None
    done: bool = False
    offset: int = 0  # samples trimmed from the start (window times are reported in the original timeline)
    total: int | None = None  # samples in the recording, when known before streaming ends
    lossy_codec: str | None = None

    def scored(self) -> bool:
        return len(self.scores) == len(self.windows)


def detect(paths: Sequence[str | os.PathLike], model_path: str | None = None, **kwargs: Any) -> list[Prediction]:
    """Convenience: score files with a bundled model by name or a checkpoint (the `default` bundled model when None)."""
    return list(Detector.from_pretrained(model_path, **kwargs).detect_files(paths))
