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
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfake_audio.audio import (
    SAMPLE_RATE,
    AudioSource,
    audio_info,
    decode_audio,
    silence_bounds,
    stream_audio,
)
from deepfake_audio.checkpoint import CheckpointInfo, load_checkpoint
from deepfake_audio.device import resolve_device
from deepfake_audio.errors import AudioDecodeError, one_line_error
from deepfake_audio.input_limits import DEFAULT_DECODE_BUDGET, AmplitudeLimiter, DecodeBudget
from deepfake_audio.models import DetectorModel
from deepfake_audio.windows import NARROWBAND_CUTOFF_HZ, NARROWBAND_DB, Window, aggregate_scores, iter_windows

# Below this many dB of speech over the noise floor (median over voiced windows), warn of strong noise.
# Measured on the development corpus as given (4 s windows): 6% of its clips fall below (mostly noisy
# real recordings such as fsdd and bigvgan_demo), and 90% of clips with white noise added at 10 dB SNR,
# where the bundled model's EER is near chance (MODEL_CARD.md, "Under degradation").
NOISY_DB = 17.0
# Speech rises and falls: in every voiced 4 s window of the development corpus its loud 25 ms frames are
# far above its quiet ones (see bench/no_speech_rule.py for the measured spread, also under heavy
# noise: 1.1 dB at -5 dB SNR). Below this many dB in every voiced window, the level is steady as in a
# tone, hum, square wave or sweep (about 0 dB), and there is no speech to judge: no verdict. White noise
# alone measures 0.9 dB, too close to drowned speech to tell apart, so it keeps its verdict (and the
# strong-noise warning).
STEADY_DB = 0.5
NO_SPEECH_SILENT = "no speech found: the audio is silent (every window is below -60 dBFS)"
NO_SPEECH_STEADY = "no speech found: the level never changes the way speech does (a steady tone or hum)"

DEFAULT_MODEL = "default.safetensors"
STREAM_BLOCK_SECONDS = 60.0  # long files are decoded a minute at a time
# Models trained on silence-trimmed audio get trimmed input too, as in training. Files longer than this
# are streamed untrimmed instead: their edges weigh little, and trimming would need the whole file.
TRIM_MAX_SECONDS = 180.0
_NO_SAMPLES = torch.zeros(0)


def bundled_model_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of a model shipped inside the package (`deepfake_audio/pretrained/`)."""
    return Path(str(resources.files("deepfake_audio") / "pretrained" / name))


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
    label: str | None  # "real" | "fake"; None when the file could not be scored or holds no speech
    p_fake: float | None
    score: float | None
    threshold: float
    duration: float | None = None  # seconds
    windows: list[WindowScore] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    no_verdict: str | None = None  # why a readable file got no label (no speech to judge)

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
        decode_budget: DecodeBudget = DEFAULT_DECODE_BUDGET,
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
        self.decode_budget = decode_budget  # the most audio one input may decode to (input_limits.py)
        self.threshold = info.threshold
        self.scale = float(info.calibration.get("scale", 1.0))
        self.offset = float(info.calibration.get("offset", -self.scale * self.threshold))
        self.trim_silence = bool(info.extra.get("trim_silence", False))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, *, device: str = "auto", **kwargs: Any) -> Detector:
        """Load a checkpoint (`.safetensors`, or `.onnx` exported by `export-onnx`); None = the bundled model."""
        if path is not None and Path(path).suffix.lower() == ".onnx":
            from deepfake_audio.onnx_export import OnnxScorer

            scorer = OnnxScorer(path)
            return cls(scorer, scorer.info, device="cpu", **kwargs)  # type: ignore[arg-type]
        device = resolve_device(device)
        model, info = load_checkpoint(path if path is not None else bundled_model_path(), device=device)
        return cls(model, info, device=device, **kwargs)

    # ---- calibration -------------------------------------------------------------------------

    def p_fake(self, score: float) -> float:
        """Calibrated probability of fake for a raw score (logistic on the bona-fide log-odds)."""
        llr = self.scale * score + self.offset
        return 1.0 / (1.0 + math.exp(max(-60.0, min(60.0, llr))))

    # ---- scoring -----------------------------------------------------------------------------

    def __call__(
        self,
        source: AudioSource,
        *,
        name: str | None = None,
        sample_rate: int | None = None,
        decode_budget: DecodeBudget | None = None,
    ) -> Prediction:
        """Score one recording given as a path, bytes, or array/tensor (then pass `sample_rate`).

        Never raises for bad audio: the Prediction carries the one-line `error` instead.
        `decode_budget` overrides the detector's for this call (a server's lower limit for uploads).
        """
        budget = decode_budget or self.decode_budget
        if isinstance(source, (str, os.PathLike)):
            return next(self.detect_files([source], decode_budget=budget))
        label = name or "<memory>"
        if isinstance(source, (bytes, bytearray, memoryview)):  # an encoded file, as uploaded: codec known too
            data = bytes(source)
            return next(self._predict([(label, lambda: self._open_bytes(data, label, budget))]))
        return next(self._predict([(label, lambda: self._open_array(source, sample_rate, label, budget))]))

    def detect_files(
        self, paths: Iterable[str | os.PathLike], *, decode_budget: DecodeBudget | None = None
    ) -> Iterator[Prediction]:
        """Score files in order, batching windows across files; a bad file yields a Prediction with `error`."""
        budget = decode_budget or self.decode_budget
        return self._predict((str(p), (lambda p=p: self._open_file(p, budget))) for p in paths)

    def _open_file(self, path: str | os.PathLike, budget: DecodeBudget) -> _Opened:
        """The file's audio: whole and trimmed when the model wants it, else streamed."""
        info = audio_info(path, budget=budget)
        lossy_codec = info.codec if info.lossy else None
        if self.trim_silence and info.duration <= TRIM_MAX_SECONDS:
            decoded = decode_audio(path, budget=budget)
            return replace(self._trimmed(decoded.waveform), lossy_codec=lossy_codec, warnings=decoded.warnings)
        stream = stream_audio(path, block_duration=STREAM_BLOCK_SECONDS, budget=budget)
        return _Opened(0, None, stream, lossy_codec, warnings=getattr(stream, "warnings", []))

    def _open_bytes(self, data: bytes, label: str, budget: DecodeBudget) -> _Opened:
        info = audio_info(data, name=label, budget=budget)
        decoded = decode_audio(data, name=label, budget=budget)
        return replace(self._trimmed(decoded.waveform), lossy_codec=info.codec if info.lossy else None,
                       warnings=decoded.warnings)

    def _open_array(self, source: AudioSource, sample_rate: int | None, label: str, budget: DecodeBudget) -> _Opened:
        decoded = decode_audio(source, source_sample_rate=sample_rate, name=label, budget=budget)
        return replace(self._trimmed(decoded.waveform), warnings=decoded.warnings)

    def _trimmed(self, waveform: torch.Tensor) -> _Opened:
        if not self.trim_silence:
            return _Opened(0, waveform.numel(), [waveform])
        start, end = silence_bounds(waveform)
        return _Opened(start, waveform.numel(), [waveform[start:end]])

    def score_waveforms(
        self, items: Iterable[tuple[str, torch.Tensor]], *, withhold_no_speech: bool = True
    ) -> Iterator[Prediction]:
        """Score in-memory 16 kHz waveforms given as `(name, waveform)` pairs, batching across them.

        Metrics over a labelled corpus need a score for every trial: `withhold_no_speech=False` scores
        silent or steady clips too instead of giving them no verdict.
        """
        jobs = ((name, (lambda w=waveform, n=name: self._checked_waveform(w, n))) for name, waveform in items)
        return self._predict(jobs, withhold_no_speech=withhold_no_speech)

    def _checked_waveform(self, waveform: torch.Tensor, name: str) -> _Opened:
        """Waveforms handed over directly get the checks decoding applies: finite, within full scale."""
        samples = waveform.detach().cpu().float().reshape(-1).numpy()
        if samples.size == 0:
            raise AudioDecodeError(f"{name}: no audio samples (zero-length audio)")
        if not np.isfinite(samples).all():
            raise AudioDecodeError(f"{name}: audio contains NaN or Inf samples")
        limiter = AmplitudeLimiter()
        limited = limiter(samples)
        if limited is samples:
            return self._trimmed(waveform.reshape(-1))
        return replace(self._trimmed(torch.from_numpy(limited)), warnings=limiter.warnings)

    @torch.inference_mode()
    def score_windows(self, batch: torch.Tensor) -> torch.Tensor:
        """Raw scores for a batch of windows `(batch, window)`."""
        return self.model.score(batch.to(self.device)).float().cpu()

    def _predict(self, jobs: Iterable[tuple[str, Any]], *, withhold_no_speech: bool = True) -> Iterator[Prediction]:
        pending: list[tuple[_Job, Window]] = []
        open_jobs: list[_Job] = []
        for name, open_blocks in jobs:
            job = _Job(name, withhold_no_speech=withhold_no_speech)
            open_jobs.append(job)
            try:
                opened = open_blocks()
                job.offset, job.total, job.lossy_codec = opened.offset, opened.total, opened.lossy_codec
                for window in iter_windows(opened.blocks, self.window, self.hop):
                    # The job keeps only the window's position: its samples live until scored, so a
                    # long file never holds more than a batch of windows in memory.
                    job.windows.append(replace(window, samples=_NO_SAMPLES))
                    pending.append((job, window))
                    if len(pending) >= self.batch_size:
                        self._flush(pending)
                job.decode_warnings = opened.warnings  # a stream's list is complete once it is exhausted
            except Exception as e:  # noqa: BLE001 - a batch never dies: whatever one file raises is its error
                job.error = one_line_error(name, e)
            job.done = True
            while open_jobs and open_jobs[0].done and (open_jobs[0].error or open_jobs[0].scored()):
                yield self._finish(open_jobs.pop(0))
        self._flush(pending)
        for job in open_jobs:
            yield self._finish(job)

    def _flush(self, pending: list[tuple[_Job, Window]]) -> None:
        if not pending:
            return
        try:
            scores = self.score_windows(torch.stack([w.samples for _, w in pending])).tolist()
        except Exception:  # noqa: BLE001 - find the file whose window fails; the others keep their scores
            scores = [self._score_one(job, window) for job, window in pending]
        for (job, _), score in zip(pending, scores):
            job.scores.append(score)
        pending.clear()

    def _score_one(self, job: _Job, window: Window) -> float:
        try:
            return float(self.score_windows(window.samples[None])[0])
        except Exception as e:  # noqa: BLE001 - recorded as that file's error
            job.error = job.error or one_line_error(job.name, e, context="scoring failed")
            return math.nan

    def _finish(self, job: _Job) -> Prediction:
        try:
            return self._verdict(job)
        except Exception as e:  # noqa: BLE001 - a batch never dies
            return self._failed(job.name, one_line_error(job.name, e))

    def _failed(self, name: str, error: str) -> Prediction:
        # A failed file keeps no partial windows: its verdict would be based on part of it.
        return Prediction(path=name, label=None, p_fake=None, score=None, threshold=self.threshold, error=error)

    def _verdict(self, job: _Job) -> Prediction:
        if job.error:
            return self._failed(job.name, job.error)
        for window, value in zip(job.windows, job.scores):
            if not math.isfinite(value):
                at = (window.start + job.offset) / SAMPLE_RATE
                return self._failed(job.name, f"{job.name}: the model gave a non-finite score ({value}) for the "
                                              f"window at {at:.2f} s: the checkpoint or the audio is broken")
        scores = torch.tensor(job.scores)
        silent = torch.tensor([w.silent for w in job.windows])
        score = aggregate_scores(scores, silent, self.aggregate)
        warnings = list(job.decode_warnings)
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
        no_verdict = _no_speech_reason(job.windows) if job.withhold_no_speech else None
        if no_verdict:  # how reliable a verdict would be is moot; what decoding noticed still matters
            warnings = list(job.decode_warnings)
        return Prediction(
            path=job.name,
            label=None if no_verdict else "fake" if score < self.threshold else "real",
            p_fake=None if no_verdict else self.p_fake(score),
            score=None if no_verdict else score,
            threshold=self.threshold,
            duration=duration,
            windows=[
                WindowScore((w.start + job.offset) / SAMPLE_RATE, (w.end + job.offset) / SAMPLE_RATE, s,
                            self.p_fake(s), w.silent)
                for w, s in zip(job.windows, job.scores)
            ],
            warnings=warnings,
            no_verdict=no_verdict,
        )


def _no_speech_reason(windows: Sequence[Window]) -> str | None:
    """Why a recording holds no speech to judge (model-independent: from the windows' levels), or None."""
    voiced = [w for w in windows if not w.silent]
    if not voiced:
        return NO_SPEECH_SILENT
    if all(w.speech_over_floor_db < STEADY_DB for w in voiced):
        return NO_SPEECH_STEADY
    return None


@dataclass
class _Opened:
    """A recording ready for windowing: its audio blocks and what is known about it up front."""

    offset: int  # samples trimmed from the start
    total: int | None  # samples in the recording, when known before streaming ends
    blocks: Iterable[torch.Tensor]
    lossy_codec: str | None = None  # the file's codec, when it is a lossy one
    warnings: list[str] = field(default_factory=list)  # from decoding; a stream adds to it as it is read


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
    decode_warnings: list[str] = field(default_factory=list)
    withhold_no_speech: bool = True  # give silent or steady audio no verdict (False: score it anyway)

    def scored(self) -> bool:
        return len(self.scores) == len(self.windows)


def detect(paths: Sequence[str | os.PathLike], model_path: str | None = None, **kwargs: Any) -> list[Prediction]:
    """Convenience: score files with a checkpoint (the bundled model by default)."""
    return list(Detector.from_pretrained(model_path, **kwargs).detect_files(paths))
