"""Segments: machine-made spans inside a recording, the rule that finds them, and the verdict they force."""

from __future__ import annotations

import csv
import random

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, requires_shared_data, synthetic_speechlike

from deepfake_audio import Detector
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.models import build_model
from deepfake_audio.segments import SegmentRule, find_segments, smooth_scores

THRESHOLD = 0.0


def p_fake(score: float) -> float:  # p_fake 0.5 at the threshold 0
    return 1 / (1 + np.exp(score))


def windows(scores: list[float], hop: float = 2.0, window: float = 4.0):
    starts = [i * hop for i in range(len(scores))]
    return starts, [s + window for s in starts], scores, [False] * len(scores)


def test_a_long_enough_fake_run_is_a_segment_and_a_short_one_is_not():
    rule = SegmentRule(min_p_fake=0.5, min_span_s=10.0, smooth_s=0.0)
    real, fake = 3.0, -3.0
    long_run = [real] * 10 + [fake] * 5 + [real] * 10  # windows 10-14: 20 s to 32 s
    (segment,) = find_segments(*windows(long_run), p_fake, rule)
    assert (segment.start, segment.end) == (20.0, 32.0)
    assert segment.p_fake == pytest.approx(p_fake(fake)) and segment.score == pytest.approx(fake)
    short_run = [real] * 10 + [fake] * 2 + [real] * 10  # 8 s: under the minimum span
    assert find_segments(*windows(short_run), p_fake, rule) == []


def test_smoothing_damps_a_single_outlier():
    scores = [3.0] * 10 + [-4.0] + [3.0] * 10
    smoothed = smooth_scores(*windows(scores)[:3], smooth_s=4.0)  # each window with one neighbour each side
    assert smoothed[10] == pytest.approx((3.0 - 4.0 + 3.0) / 3)
    rule = SegmentRule(min_p_fake=0.5, min_span_s=4.0, smooth_s=4.0)
    assert find_segments(*windows(scores), p_fake, rule) == []
    assert len(find_segments(*windows(scores), p_fake, SegmentRule(0.5, 4.0, 0.0))) == 1


def test_a_clip_fake_throughout_is_one_segment_whatever_its_length():
    rule = SegmentRule(min_p_fake=0.5, min_span_s=18.0, smooth_s=0.0)
    (segment,) = find_segments([0.0], [4.0], [-2.0], [False], p_fake, rule)
    assert (segment.start, segment.end) == (0.0, 4.0)


def test_silent_windows_are_no_evidence_and_break_a_run():
    rule = SegmentRule(min_p_fake=0.5, min_span_s=10.0, smooth_s=0.0)
    starts, ends, scores, silent = windows([3.0] * 4 + [-3.0] * 3 + [-3.0] + [-3.0] * 3 + [3.0] * 4)
    silent[7] = True  # two 8 s runs either side of a silent window: neither reaches 10 s
    assert find_segments(starts, ends, scores, silent, p_fake, rule) == []
    assert find_segments(starts, ends, scores, [True] * len(scores), p_fake, rule) == []


def test_rule_checks_its_values_and_takes_checkpoint_overrides():
    with pytest.raises(ValueError, match="min_p_fake"):
        SegmentRule(min_p_fake=0.3)
    rule = SegmentRule.from_extra({"segment_rule": {"min_span_s": 30, "unknown": 1}})
    assert rule.min_span_s == 30.0 and rule.min_p_fake == SegmentRule().min_p_fake


def test_a_segment_makes_the_recording_fake_with_a_consistent_score(tmp_path):
    torch.manual_seed(0)
    model = build_model("seed-cnn")  # 1 s windows
    path = save_checkpoint(model, tmp_path / "m.safetensors", threshold=THRESHOLD,
                           extra={"segment_rule": {"min_p_fake": 0.5, "min_span_s": 3.0, "smooth_s": 0.0}})
    detector = Detector.from_pretrained(path, device="cpu")
    assert detector.segment_rule == SegmentRule(0.5, 3.0, 0.0)
    wave = synthetic_speechlike(20.0)
    # Windows are scored in time order, 0.5 s apart; fake ones start at 8-12 s. Scored by hand, so
    # the verdict cannot depend on what the untrained model makes of the audio.
    scored = []

    def by_position(batch: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        out = []
        for _ in range(len(batch)):
            start = 0.5 * len(scored)
            out.append(-4.0 if 8.0 <= start <= 12.0 else 4.0)
            scored.append(start)
        return torch.tensor(out)

    detector.score_windows = by_position  # type: ignore[method-assign]
    p = detector(wave, sample_rate=16_000)
    mean = float(np.mean([w.score for w in p.windows]))
    assert mean > THRESHOLD  # the mean alone would say real
    (segment,) = p.segments
    assert segment.start == pytest.approx(8.0) and segment.end == pytest.approx(13.0)
    assert p.label == "fake" and p.score == pytest.approx(segment.score) and p.p_fake >= 0.5
    assert p.to_dict()["segments"] == [{"start": 8.0, "end": 13.0, "p_fake": round(segment.p_fake, 4)}]
    detector.score_windows = lambda batch, lengths=None: torch.full((len(batch),), 4.0)  # type: ignore[method-assign]
    real = detector(wave, sample_rate=16_000)
    assert real.segments == [] and real.label == "real" and real.score == pytest.approx(4.0)


# ---- acceptance, with the bundled model on development clips ------------------------------------

# The acceptance recordings are built from development clips. The fast model held these sources
# out of its training; the default model trained on every development source, so for it this checks
# the segment pipeline end to end, not how well it generalises (bench/external.py measures that).
ACCEPTANCE_SOURCES = {"bigvgan_demo", "dittotts_demo", "flashspeech_demo", "gradtts_demo", "matcha_stimuli",
                      "rtvc_samples", "seedvc_examples", "vallex_prompts"}


def _held_out_clips(sources: set[str] = ACCEPTANCE_SOURCES) -> tuple[list, list]:
    with open(SHARED_DATA / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["source"] in sources]
    bona = sorted(SHARED_DATA / r["path"] for r in rows if r["label"] == "bonafide")
    spoof = sorted(SHARED_DATA / r["path"] for r in rows if r["label"] == "spoof")
    rng = random.Random(0)
    rng.shuffle(bona)
    rng.shuffle(spoof)
    return bona, spoof


def _join(paths, seconds: float) -> torch.Tensor:
    from deepfake_audio.audio import load_audio

    parts, total = [], 0
    for path in paths:
        parts.append(load_audio(path))
        total += parts[-1].numel()
        if total >= seconds * 16_000:
            return torch.cat(parts)[: round(seconds * 16_000)]
    raise AssertionError(f"not enough audio for {seconds} s")


@requires_shared_data()
def test_acceptance_real_recording_and_one_with_a_generated_span():
    """4 minutes of dev bona fide clips: real, no segment; with 40 s of dev spoof inserted at 120 s: fake."""
    bona, spoof = _held_out_clips()
    real = _join(bona, 240.0)
    detector = Detector.from_pretrained(device="cpu")
    verdict = detector(real, sample_rate=16_000)
    assert verdict.label == "real" and verdict.segments == [], verdict.to_dict()["segments"]
    edited = torch.cat([real[: 120 * 16_000], _join(spoof, 40.0), real[120 * 16_000:]])
    verdict = detector(edited, sample_rate=16_000)
    assert verdict.label == "fake"
    assert any(s.start < 160 and s.end > 120 for s in verdict.segments), verdict.to_dict()["segments"]
