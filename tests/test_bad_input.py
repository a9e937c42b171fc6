"""Every kind of bad or odd input gets a correct result or a one-line error naming the file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import synthetic_speechlike

from deepfake_audio import Detector
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.models import build_model


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    torch.manual_seed(0)
    path = save_checkpoint(build_model("seed-cnn"), tmp_path_factory.mktemp("m") / "m.safetensors")
    return Detector.from_pretrained(path, device="cpu")


def _error_for(detector, path):
    (result,) = detector.detect_files([path])
    assert result.label is None and result.error is not None
    assert str(path.name) in result.error and "\n" not in result.error
    return result.error


def test_empty_file(detector, tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert "empty" in _error_for(detector, path).lower()


def test_truncated_file(detector, tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, synthetic_speechlike(2.0), 16_000)
    path.write_bytes(path.read_bytes()[:30])  # cut inside the header
    _error_for(detector, path)


def test_text_named_wav(detector, tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not audio\n" * 20)
    _error_for(detector, path)


def test_zero_length_audio(detector, tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16_000)
    _error_for(detector, path)


def test_nan_and_inf_samples(detector, tmp_path):
    wave = synthetic_speechlike(1.0)
    wave[100] = np.nan
    wave[200] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, wave, 16_000, subtype="FLOAT")
    assert "nan" in _error_for(detector, path).lower()


def test_pure_silence_gets_no_verdict(detector, tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(32_000, dtype=np.float32), 16_000)
    (result,) = detector.detect_files([path])
    assert result.error is None and result.label is None and result.p_fake is None
    assert "no speech" in result.no_verdict


@pytest.mark.parametrize(
    "name,sample_rate,channels,subtype",
    [("8bit.wav", 16_000, 1, "PCM_U8"), ("six.wav", 16_000, 6, "PCM_16"), ("narrow.wav", 8_000, 1, "PCM_16"),
     ("wide.flac", 48_000, 2, "PCM_24")],
)
def test_odd_formats_score_correctly(detector, tmp_path, name, sample_rate, channels, subtype):
    mono = synthetic_speechlike(2.0, sample_rate)
    wave = np.stack([mono * (0.5 + 0.1 * c) for c in range(channels)], axis=1) if channels > 1 else mono
    path = tmp_path / name
    sf.write(path, wave, sample_rate, subtype=subtype)
    (result,) = detector.detect_files([path])
    assert result.error is None and result.duration == pytest.approx(2.0, abs=0.01)
    reference = detector(mono, sample_rate=sample_rate)  # same audio given as an array
    if channels == 1 and subtype == "PCM_16":
        assert result.score == pytest.approx(reference.score, abs=0.05)


@pytest.mark.slow
def test_one_hour_file_streams(detector, tmp_path, monkeypatch):
    """A one-hour file is scored window by window; no decoded block exceeds the streaming block size."""
    import deepfake_audio.pipeline.decode as decode_module
    from deepfake_audio import audio

    path = tmp_path / "hour.flac"
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", 8_000, 1, subtype="PCM_16") as f:
        for _ in range(60):  # one minute at a time: the test itself never holds the hour either
            f.write((0.05 * rng.standard_normal(8_000 * 60)).astype(np.float32))
    largest = []
    original = audio.stream_audio

    def spy(*args, **kwargs):
        for block in original(*args, **kwargs):
            largest.append(block.numel())
            yield block

    monkeypatch.setattr(decode_module, "stream_audio", spy)
    (result,) = detector.detect_files([path])
    assert result.error is None and result.duration == pytest.approx(3600.0, abs=0.01)
    assert len(result.windows) == 7199  # 1 s windows, 0.5 s hop, over 3600 s
    assert max(largest) <= 16_000 * decode_module.STREAM_BLOCK_SECONDS + 16_000
