"""Detector: windowing over short/exact/long audio, calibration consistency, batch error handling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import synthetic_speechlike

from deepfake_audio import Detector
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.models import build_model


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(build_model("seed-cnn"), tmp_path / "m.safetensors", threshold=0.1,
                           calibration={"scale": 2.0, "offset": -0.2})


def test_short_exact_and_long_audio(checkpoint, tmp_path):
    detector = Detector.from_pretrained(checkpoint, device="cpu")
    for seconds, expected_windows in ((0.4, 1), (1.0, 1), (3.3, 6)):
        path = tmp_path / f"{seconds}.wav"
        sf.write(path, synthetic_speechlike(seconds), 16_000)
        p = detector(path)
        assert p.error is None and p.duration == pytest.approx(seconds, abs=1e-3)
        assert len(p.windows) == expected_windows
        assert p.windows[-1].end == pytest.approx(seconds, abs=1e-3)
        assert p.label == ("fake" if p.score < 0.1 else "real")
        assert (p.p_fake >= 0.5) == (p.label == "fake")


def test_aggregate_mean_and_min(checkpoint, tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, synthetic_speechlike(3.0), 16_000)
    mean = Detector.from_pretrained(checkpoint, device="cpu")(path)
    low = Detector.from_pretrained(checkpoint, device="cpu", aggregate="min")(path)
    scores = [w.score for w in mean.windows]
    assert mean.score == pytest.approx(sum(scores) / len(scores), abs=1e-5)
    assert low.score == pytest.approx(min(scores), abs=1e-5)


def test_p_fake_uses_checkpoint_calibration(checkpoint):
    detector = Detector.from_pretrained(checkpoint, device="cpu")
    assert detector.p_fake(0.1) == pytest.approx(1 / (1 + math.exp(2.0 * 0.1 - 0.2)))
    assert detector.p_fake(5.0) < detector.p_fake(-5.0)


def test_batched_files_equal_one_by_one(checkpoint, tmp_path):
    paths = []
    for i, seconds in enumerate((0.5, 2.5, 1.0, 4.2)):
        paths.append(tmp_path / f"{i}.flac")
        sf.write(paths[-1], synthetic_speechlike(seconds, seed=i), 16_000)
    batched = list(Detector.from_pretrained(checkpoint, device="cpu", batch_size=3).detect_files(paths))
    single = [Detector.from_pretrained(checkpoint, device="cpu", batch_size=1)(p) for p in paths]
    assert [p.path for p in batched] == [str(p) for p in paths]
    for a, b in zip(batched, single):
        assert a.score == pytest.approx(b.score, abs=1e-4)


def test_bad_file_in_a_batch_is_reported_and_skipped(checkpoint, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, synthetic_speechlike(1.0), 16_000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    results = list(Detector.from_pretrained(checkpoint, device="cpu").detect_files([bad, good, tmp_path / "gone.wav"]))
    assert [r.error is None for r in results] == [False, True, False]
    assert "bad.wav" in results[0].error and "\n" not in results[0].error
    assert "gone.wav" in results[2].error


def test_array_input_and_silence_gets_no_verdict(checkpoint):
    detector = Detector.from_pretrained(checkpoint, device="cpu")
    p = detector(np.zeros(48_000, dtype=np.float32), sample_rate=48_000)
    assert p.error is None and p.duration == pytest.approx(1.0, abs=1e-3)
    assert p.label is None and p.p_fake is None and "no speech" in p.no_verdict


def test_json_schema_fields(checkpoint, tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, synthetic_speechlike(1.5), 16_000)
    d = Detector.from_pretrained(checkpoint, device="cpu")(path).to_dict()
    assert {"path", "label", "p_fake", "score", "windows", "error"} <= set(d)
    assert {"start", "end", "score"} <= set(d["windows"][0])
    assert d["label"] in ("real", "fake") and 0.0 <= d["p_fake"] <= 1.0 and d["error"] is None


def test_model_trained_on_trimmed_audio_gets_trimmed_input(tmp_path):
    torch.manual_seed(0)
    path = save_checkpoint(build_model("seed-cnn"), tmp_path / "t.safetensors", extra={"trim_silence": True})
    detector = Detector.from_pretrained(path, device="cpu")
    clip = tmp_path / "late.wav"
    wave = np.concatenate([np.zeros(32_000, dtype=np.float32), synthetic_speechlike(1.5)])
    sf.write(clip, wave, 16_000)
    p = detector(clip)
    assert p.duration == pytest.approx(3.5, abs=1e-3)  # reported on the original timeline
    assert p.windows[0].start >= 1.9 and p.windows[-1].end <= 3.5 + 1e-3
    assert all(not w.silent for w in p.windows)
    untrimmed = Detector.from_pretrained(save_checkpoint(build_model("seed-cnn"), tmp_path / "u.safetensors"),
                                         device="cpu")(clip)
    assert untrimmed.windows[0].start == 0.0 and untrimmed.windows[0].silent


def test_narrowband_audio_is_flagged(checkpoint):
    detector = Detector.from_pretrained(checkpoint, device="cpu")
    wideband = detector(synthetic_speechlike(3.0), sample_rate=16_000)
    telephone_band = detector(synthetic_speechlike(3.0, sample_rate=8_000), sample_rate=8_000)  # nothing above 4 kHz
    assert not any("narrowband" in w for w in wideband.warnings)
    assert any("narrowband" in w for w in telephone_band.warnings)


def test_strong_background_noise_is_flagged(checkpoint):
    detector = Detector.from_pretrained(checkpoint, device="cpu")
    rng = np.random.default_rng(1)
    # Speech-like bursts with pauses between them, as real speech has.
    gate = (np.arange(48_000) // 4_000) % 3 != 2
    speech = synthetic_speechlike(3.0) * gate
    loud_noise = speech + 0.1 * rng.standard_normal(speech.size).astype(np.float32)  # about 6 dB SNR
    assert not any("background noise" in w for w in detector(speech, sample_rate=16_000).warnings)
    assert any("background noise" in w for w in detector(loud_noise, sample_rate=16_000).warnings)


@pytest.mark.parametrize("trimmed", [False, True])
def test_lossy_compressed_files_are_flagged(checkpoint, tmp_path, trimmed):
    detector = Detector.from_pretrained(checkpoint, device="cpu")
    detector.trim_silence = trimmed  # both the whole-file and the streaming path
    speech = synthetic_speechlike(3.0)
    sf.write(tmp_path / "clip.flac", speech, 16_000)
    sf.write(tmp_path / "clip.mp3", speech, 16_000, format="MP3")
    lossless, mp3 = detector.detect_files([tmp_path / "clip.flac", tmp_path / "clip.mp3"])
    assert mp3.error is None and lossless.error is None
    assert not any("lossy" in w for w in lossless.warnings)
    assert any("lossy-compressed audio (MPEG_LAYER_III)" in w for w in mp3.warnings)


def test_corpus_metrics_can_score_silence_too(checkpoint):
    """Evaluation and validation need a score for every trial, silent ones included."""
    detector = Detector.from_pretrained(checkpoint, device="cpu")
    (p,) = detector.score_waveforms([("zeros", torch.zeros(16_000))], withhold_no_speech=False)
    assert p.no_verdict is None and p.label in ("real", "fake") and p.score is not None
    (q,) = detector.score_waveforms([("zeros", torch.zeros(16_000))])
    assert q.label is None and "no speech" in q.no_verdict
