"""Stage 5, report: the `Prediction` for one recording, with its per-window timeline and the warnings
that say when a verdict deserves less trust. `Prediction.to_dict()` is the JSON schema of `detect --json`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from deepfake_audio.audio import SAMPLE_RATE
from deepfake_audio.pipeline.scoring import Job
from deepfake_audio.segments import Segment, SegmentRule, find_segments
from deepfake_audio.windows import NARROWBAND_CUTOFF_HZ, NARROWBAND_DB, Window

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


@dataclass(frozen=True)
class WindowScore:
    start: float  # seconds
    end: float  # seconds
    score: float
    p_fake: float
    silent: bool = False
    explanation: list[dict[str, Any]] | None = None  # with `explain`: the bands that moved the score most


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
    segments: list[Segment] = field(default_factory=list)  # spans judged machine-made, in time order
    no_verdict: str | None = None  # why a readable file got no label (no speech to judge)

    @property
    def is_fake(self) -> bool:
        return self.label == "fake"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["windows"] = [_window_dict(w) for w in self.windows]
        out["segments"] = [s.to_dict() for s in self.segments]
        for key in ("p_fake", "score", "duration"):
            if out[key] is not None:
                out[key] = round(out[key], 4)
        return out


def _window_dict(w: WindowScore) -> dict[str, Any]:
    out: dict[str, Any] = {"start": round(w.start, 3), "end": round(w.end, 3), "score": round(w.score, 4),
                           "p_fake": round(w.p_fake, 4), "silent": w.silent}
    if w.explanation is not None:  # only asked for with `explain`: the key is absent otherwise
        out["explanation"] = w.explanation
    return out


def failed_prediction(job: Job, threshold: float) -> Prediction:
    # A failed file keeps no partial windows: its verdict would be based on part of it.
    return Prediction(path=job.name, label=None, p_fake=None, score=None, threshold=threshold, error=job.error)


def duration_of(job: Job) -> float:
    """Seconds in the recording (known up front, or from the end of its last window when streamed)."""
    return (job.total if job.total is not None else job.windows[-1].end) / SAMPLE_RATE


def warnings_for(job: Job, window: int) -> list[str]:
    """Why this verdict deserves less trust, if it does (`window`: the model's window in samples)."""
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
    duration = duration_of(job)
    if duration < 0.5 * window / SAMPLE_RATE:
        warnings.append(f"audio is only {duration:.2f} s long: the verdict is less reliable")
    return warnings


def no_speech_reason(windows: Sequence[Window]) -> str | None:
    """Why a recording holds no speech to judge (model-independent: from the windows' levels), or None."""
    voiced = [w for w in windows if not w.silent]
    if not voiced:
        return NO_SPEECH_SILENT
    if all(w.speech_over_floor_db < STEADY_DB for w in voiced):
        return NO_SPEECH_STEADY
    return None


def non_finite_error(job: Job) -> str | None:
    """The error for a recording whose model output is not a number (JSON has no NaN: never a verdict)."""
    for window, value in zip(job.windows, job.scores):
        if not math.isfinite(value):
            at = (window.start + job.offset) / SAMPLE_RATE
            return (f"{job.name}: the model gave a non-finite score ({value}) for the window at {at:.2f} s: "
                    "the checkpoint or the audio is broken")
    return None


def report(job: Job, score: float, label: str, threshold: float, p_fake: Callable[[float], float],
           window: int, segment_rule: SegmentRule) -> Prediction:
    """The prediction for a scored recording; window times are in the original (untrimmed) timeline.

    A machine-made segment (segments.py) makes the recording fake, however real the rest of it sounds:
    the score is then the lowest segment score when that is below the aggregated one.
    """
    starts = [(w.start + job.offset) / SAMPLE_RATE for w in job.windows]
    ends = [(w.end + job.offset) / SAMPLE_RATE for w in job.windows]
    segments = find_segments(starts, ends, job.scores, [w.silent for w in job.windows], p_fake, segment_rule)
    lowest = min([score, *(s.score for s in segments)])
    if lowest < score:
        score, label = lowest, ("fake" if lowest < threshold else label)
    no_verdict = no_speech_reason(job.windows) if job.withhold_no_speech else None
    # With no speech, how reliable a verdict would be is moot; what decoding noticed still matters.
    warnings = list(job.decode_warnings) if no_verdict else warnings_for(job, window)
    return Prediction(
        path=job.name,
        label=None if no_verdict else label,
        p_fake=None if no_verdict else p_fake(score),
        score=None if no_verdict else score,
        threshold=threshold,
        duration=duration_of(job),
        windows=[
            WindowScore(start, end, s, p_fake(s), w.silent, job.explanations[i] if job.explanations else None)
            for i, (w, start, end, s) in enumerate(zip(job.windows, starts, ends, job.scores))
        ],
        warnings=warnings,
        segments=[] if no_verdict else segments,
        no_verdict=no_verdict,
    )
