"""The job a worker thread runs for one uploaded file: check the upload limits, then score.

The limits are checked from the file's header (`audio_info`), before anything is decoded: duration and
sample rate are what turn a small upload into a large decode. The decoder then enforces the same budget
while decoding (input_limits.py), for headers that lie.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from deepfake_audio.audio import audio_info
from deepfake_audio.detector import Detector, Prediction
from deepfake_audio.errors import DeepfakeAudioError
from deepfake_audio.input_limits import DecodeBudget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadLimits:
    """What this server decodes: at most `max_seconds` of audio at a sample rate in its own range, refused
    from the header; the decoder then holds the upload to the same duration (`decode_budget`)."""

    max_seconds: float
    min_sample_rate: int
    max_sample_rate: int

    @property
    def decode_budget(self) -> DecodeBudget:
        return DecodeBudget.for_duration(self.max_seconds)

    def check(self, data: bytes, name: str) -> None:
        """Raise DeepfakeAudioError (one line naming the file) when the header is outside the limits."""
        info = audio_info(data, name=name)
        if not self.min_sample_rate <= info.sample_rate <= self.max_sample_rate:
            raise DeepfakeAudioError(
                f"{name}: sample rate {info.sample_rate} Hz outside the {self.min_sample_rate}-"
                f"{self.max_sample_rate} Hz this server accepts")
        if not info.duration <= self.max_seconds:  # also refuses a NaN duration
            raise DeepfakeAudioError(
                f"{name}: audio is {info.duration:.1f} s long; this server scores at most {self.max_seconds:g} s")


class ScoringFailed(Exception):
    """A bug or library failure while scoring one file (not the file's fault): the message names it."""


def score_upload(detector: Detector, data: bytes, name: str, limits: UploadLimits,
                 explain: bool = False) -> Prediction:
    """Score one upload (with per-window band explanations if asked); a bad file gives a Prediction with
    `error`, never an exception."""
    try:
        limits.check(data, name)
        # The decoder enforces the same budget again while decoding, for headers that lie or state no
        # duration.
        prediction = detector(data, name=name, explain=explain, decode_budget=limits.decode_budget)
    except DeepfakeAudioError as e:
        return failed_prediction(detector, name, str(e))
    except Exception as e:
        log.exception("scoring %s failed", name)
        raise ScoringFailed(f"{name}: internal error while scoring ({type(e).__name__}); see the server log") from e
    if prediction.error is None and not _finite(prediction):  # JSON has no NaN: never send one
        return failed_prediction(detector, name, f"{name}: the model gave a non-finite score; no verdict")
    return prediction


def failed_prediction(detector: Detector, name: str, error: str) -> Prediction:
    """The result for a file that got no verdict: the same JSON fields, with `error` set."""
    return Prediction(path=name, label=None, p_fake=None, score=None, threshold=detector.threshold, error=error)


def _finite(prediction: Prediction) -> bool:
    values = [prediction.score, prediction.p_fake, prediction.threshold]
    values += [v for w in prediction.windows for v in (w.score, w.p_fake)]
    return all(v is None or math.isfinite(v) for v in values)
