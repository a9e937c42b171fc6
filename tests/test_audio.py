"""Audio input: every format, channel layout, sample rate and input kind; every error; streaming; crops."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from deepfake_audio.audio import (
    SAMPLE_RATE,
    AudioInfo,
    audio_info,
    load_audio,
    pad_or_trim,
    random_crop,
    stream_audio,
    trim_silence,
)
from deepfake_audio.errors import AudioDecodeError


def tone(duration: float, sample_rate: int, freq: float = 1000.0, seed: int = 0) -> np.ndarray:
    """A 1 kHz tone with a little seeded noise, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration * sample_rate)) / sample_rate
    wave = 0.4 * np.sin(2 * np.pi * freq * t) + 0.005 * rng.standard_normal(t.size)
    return wave.astype(np.float32)


def peak_hz(waveform: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(waveform.numpy()))
    return float(np.argmax(spectrum) * sample_rate / waveform.numel())


def write_av(path: Path, fmt: str, samples: np.ndarray, sample_rate: int) -> Path:
    """Encode mono float32 samples to AAC in an m4a or raw ADTS container with PyAV."""
    import av

    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream("aac", rate=sample_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = sample_rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


@contextmanager
def raises_decode_error(name: str, *words: str) -> Iterator[None]:
    """Expect an `AudioDecodeError` whose one-line message starts with `name: ` and holds every word."""
    with pytest.raises(AudioDecodeError) as excinfo:
        yield
    message = str(excinfo.value)
    assert message.startswith(f"{name}: "), message
    assert "\n" not in message
    for word in words:
        assert word in message.lower(), message


# ------------------------------------------------------------------------------------------ formats

SOUNDFILE_FORMATS = {
    "wav": {},
    "flac": {},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},
    "opus": {"format": "OGG", "subtype": "OPUS"},
    "mp3": {"format": "MP3"},
}


@pytest.mark.parametrize("ext", [*SOUNDFILE_FORMATS, "m4a", "aac"])
def test_every_format_decodes_to_a_1khz_mono_tone(tmp_path: Path, ext: str) -> None:
    """Each format gives float32 mono at 16 kHz, the right length, the same pitch, and streams identically."""
    samples = tone(2.0, SAMPLE_RATE)
    path = tmp_path / f"clip.{ext}"
    if ext in SOUNDFILE_FORMATS:
        sf.write(path, samples, SAMPLE_RATE, **SOUNDFILE_FORMATS[ext])
    else:
        write_av(path, "mp4" if ext == "m4a" else "adts", samples, SAMPLE_RATE)
    waveform = load_audio(path)
    assert waveform.dtype == torch.float32 and waveform.dim() == 1
    # lossy codecs add encoder delay/padding (AAC: up to two 1024-sample frames)
    assert abs(waveform.numel() - samples.size) <= 2100
    assert peak_hz(waveform) == pytest.approx(1000, abs=2)
    assert 0.2 < waveform.abs().max() < 0.6
    streamed = torch.cat(list(stream_audio(path, block_duration=0.3)))
    torch.testing.assert_close(streamed, waveform, atol=1e-4, rtol=0)
    info = audio_info(path)
    assert info.sample_rate == SAMPLE_RATE and info.channels == 1
    assert info.duration == pytest.approx(2.0, abs=0.15)
    assert info.lossy == (ext not in ("wav", "flac")), info.codec


def test_lossless_wav_round_trips_exactly(tmp_path: Path) -> None:
    samples = tone(1.0, SAMPLE_RATE)
    sf.write(tmp_path / "a.wav", samples, SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(tmp_path / "a.wav").numpy(), samples)


def test_8bit_pcm(tmp_path: Path) -> None:
    samples = tone(1.0, SAMPLE_RATE)
    sf.write(tmp_path / "u8.wav", samples, SAMPLE_RATE, subtype="PCM_U8")
    waveform = load_audio(tmp_path / "u8.wav")
    np.testing.assert_allclose(waveform.numpy(), samples, atol=1 / 128)
    unsigned = np.round(samples * 128 + 128).clip(0, 255).astype(np.uint8)
    signed = np.round(samples * 128).clip(-128, 127).astype(np.int8)
    for raw in (unsigned, signed):
        np.testing.assert_allclose(
            load_audio(raw, source_sample_rate=SAMPLE_RATE).numpy(), samples, atol=1 / 128
        )


def test_six_channels_are_averaged(tmp_path: Path) -> None:
    base = tone(1.0, SAMPLE_RATE)
    channels = np.stack([base * (k + 1) / 6 for k in range(6)], axis=1)  # (time, 6)
    sf.write(tmp_path / "six.wav", channels, SAMPLE_RATE, subtype="FLOAT")
    waveform = load_audio(tmp_path / "six.wav")
    np.testing.assert_allclose(waveform.numpy(), channels.mean(axis=1), atol=1e-6)
    assert audio_info(tmp_path / "six.wav") == AudioInfo(1.0, SAMPLE_RATE, 6, SAMPLE_RATE, codec="FLOAT")


@pytest.mark.parametrize("source_rate", [8_000, 48_000])
def test_resampling_keeps_duration_and_pitch(tmp_path: Path, source_rate: int) -> None:
    path = tmp_path / f"tone_{source_rate}.wav"
    sf.write(path, tone(1.5, source_rate), source_rate)
    waveform = load_audio(path)
    assert waveform.numel() == round(1.5 * SAMPLE_RATE)
    assert peak_hz(waveform) == pytest.approx(1000, abs=1)
    assert audio_info(path).duration == pytest.approx(1.5)
    at_8k = load_audio(path, sample_rate=8_000)
    assert at_8k.numel() == 12_000 and peak_hz(at_8k, 8_000) == pytest.approx(1000, abs=1)


# ------------------------------------------------------------------------------------- input kinds


def test_bytes_input_matches_path_input(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.flac", tone(1.0, 22_050), 22_050)
    write_av(tmp_path / "a.m4a", "mp4", tone(1.0, SAMPLE_RATE), SAMPLE_RATE)  # needs the PyAV fallback
    for path in (tmp_path / "a.flac", tmp_path / "a.m4a"):
        from_bytes = load_audio(path.read_bytes())
        torch.testing.assert_close(from_bytes, load_audio(path))


def test_array_input_either_layout_and_never_modified() -> None:
    stereo = np.stack([tone(1.0, 48_000), tone(1.0, 48_000, seed=1)])  # (channels, time)
    original = stereo.copy()
    first = load_audio(stereo, source_sample_rate=48_000)
    torch.testing.assert_close(load_audio(stereo.T, source_sample_rate=48_000), first)
    torch.testing.assert_close(load_audio((stereo, 48_000)), first)
    assert first.numel() == SAMPLE_RATE
    np.testing.assert_array_equal(stereo, original)

    mono = tone(1.0, SAMPLE_RATE)
    result = load_audio(mono, source_sample_rate=SAMPLE_RATE)
    result.fill_(7.0)  # the result owns its memory
    np.testing.assert_array_equal(mono, tone(1.0, SAMPLE_RATE))


def test_int16_array_is_scaled() -> None:
    pcm = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    result = load_audio(pcm, source_sample_rate=SAMPLE_RATE)
    np.testing.assert_allclose(result.numpy(), [0.0, 0.5, -1.0, 32767 / 32768])


def test_tensor_input() -> None:
    stereo = torch.from_numpy(np.stack([tone(1.0, 8_000), tone(1.0, 8_000, seed=2)])).requires_grad_()
    result = load_audio(stereo, source_sample_rate=8_000)
    assert result.shape == (SAMPLE_RATE,) and result.dtype == torch.float32 and not result.requires_grad
    assert peak_hz(result) == pytest.approx(1000, abs=1)
    with pytest.raises(ValueError, match="source_sample_rate"):
        load_audio(torch.zeros(100))


def test_silence_is_not_an_error(tmp_path: Path) -> None:
    sf.write(tmp_path / "quiet.wav", np.zeros(8000, np.float32), 8000)
    silence = load_audio(tmp_path / "quiet.wav")
    assert silence.numel() == SAMPLE_RATE and silence.abs().max() == 0


# ------------------------------------------------------------------------------------------ errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    with raises_decode_error(str(path), "not found"):
        load_audio(path)


def test_directory(tmp_path: Path) -> None:
    with raises_decode_error(str(tmp_path), "directory"):
        load_audio(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.touch()
    for call in (load_audio, audio_info, stream_audio):
        with raises_decode_error(str(path), "empty"):
            call(path)
    with raises_decode_error("upload.wav", "empty"):
        load_audio(b"", name="upload.wav")


def test_truncated_in_data(tmp_path: Path) -> None:
    sf.write(tmp_path / "full.wav", tone(1.0, SAMPLE_RATE), SAMPLE_RATE, subtype="PCM_16")
    path = tmp_path / "cut.wav"
    data = (tmp_path / "full.wav").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with raises_decode_error(str(path), "truncated"):
        load_audio(path)
    with raises_decode_error(str(path), "truncated"):
        list(stream_audio(path))
    with raises_decode_error("cut-upload.wav", "truncated"):
        load_audio(path.read_bytes(), name="cut-upload.wav")


def test_truncated_in_header(tmp_path: Path) -> None:
    sf.write(tmp_path / "full.wav", tone(1.0, SAMPLE_RATE), SAMPLE_RATE)
    path = tmp_path / "header.wav"
    path.write_bytes((tmp_path / "full.wav").read_bytes()[:30])
    with raises_decode_error(str(path), "truncated or corrupt"):
        load_audio(path)


def test_text_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("these are not the samples you are looking for\n" * 20)
    for call in (load_audio, audio_info):
        with raises_decode_error(str(path), "not a readable audio file"):
            call(path)


def test_zero_length_audio(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, np.float32), SAMPLE_RATE)
    assert path.stat().st_size > 0  # a valid header, no samples
    with raises_decode_error(str(path), "zero-length"):
        load_audio(path)
    with raises_decode_error("<array>", "zero-length"):
        load_audio(np.zeros(0, np.float32), source_sample_rate=SAMPLE_RATE)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path: Path, bad: float) -> None:
    samples = tone(0.5, SAMPLE_RATE)
    samples[100] = bad
    path = tmp_path / "bad.wav"
    sf.write(path, samples, SAMPLE_RATE, subtype="FLOAT")
    with raises_decode_error(str(path), "nan or inf"):
        load_audio(path)
    with raises_decode_error(str(path), "nan or inf"):
        list(stream_audio(path))
    with raises_decode_error("live", "nan or inf"):
        load_audio(torch.from_numpy(samples), source_sample_rate=SAMPLE_RATE, name="live")


def test_max_duration(tmp_path: Path) -> None:
    path = tmp_path / "long.flac"
    sf.write(path, tone(3.0, SAMPLE_RATE), SAMPLE_RATE)
    assert load_audio(path, max_duration=3.0).numel() == 3 * SAMPLE_RATE
    for source in (path, path.read_bytes()):
        with raises_decode_error("upload", "2 s limit"):
            load_audio(source, max_duration=2.0, name="upload")


def test_unsupported_sample_type() -> None:
    with raises_decode_error("<array>", "unsupported sample type"):
        load_audio(np.zeros(100, dtype=np.int64), source_sample_rate=SAMPLE_RATE)


# --------------------------------------------------------------------------------------- streaming


def test_stream_equals_load_with_resampling(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    stereo = np.stack([tone(3.3, 44_100), tone(3.3, 44_100, seed=3)], axis=1)
    sf.write(path, stereo, 44_100)
    blocks = list(stream_audio(path, block_duration=0.5))
    assert len(blocks) >= 6
    torch.testing.assert_close(torch.cat(blocks), load_audio(path), atol=1e-4, rtol=0)


def test_one_hour_streams_one_block_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1-hour file is read in 60 s pieces and yielded as ~60 s blocks, never as a whole."""
    path, rate, block_s = tmp_path / "hour.wav", 8_000, 60.0
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
        for _ in range(60):
            f.write((0.01 * rng.standard_normal(round(block_s * rate))).astype(np.float32))

    reads: list[int] = []
    original_read = sf.SoundFile.read

    def spy(self: sf.SoundFile, *args, **kwargs) -> np.ndarray:
        data = original_read(self, *args, **kwargs)
        reads.append(len(data))
        return data

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    sizes = [block.numel() for block in stream_audio(path, block_duration=block_s)]
    assert max(reads) <= block_s * rate and len(reads) == 60
    assert 60 <= len(sizes) <= 61
    assert max(sizes) <= 1.01 * block_s * SAMPLE_RATE
    assert sum(sizes) == 3600 * SAMPLE_RATE


def test_stream_rejects_bad_block_duration(wav_file: Path) -> None:
    with pytest.raises(ValueError, match="block_duration"):
        stream_audio(wav_file, block_duration=0)


# ------------------------------------------------------------------------------------------ helpers


def test_pad_or_trim_tiles_short_audio() -> None:
    wave = torch.arange(3.0)
    assert pad_or_trim(wave, 7).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert pad_or_trim(wave, 2).tolist() == [0, 1]
    batch = torch.arange(6.0).reshape(2, 3)
    assert pad_or_trim(batch, 5).tolist() == [[0, 1, 2, 0, 1], [3, 4, 5, 3, 4]]
    with pytest.raises(ValueError):
        pad_or_trim(torch.zeros(0), 5)


def test_random_crop_is_seeded_and_contiguous() -> None:
    wave = torch.arange(1000.0)
    first = random_crop(wave, 100, torch.Generator().manual_seed(3))
    again = random_crop(wave, 100, torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, again)
    assert torch.equal(first, torch.arange(first[0].item(), first[0].item() + 100))
    starts = {int(random_crop(wave, 100, torch.Generator().manual_seed(s))[0]) for s in range(20)}
    assert len(starts) > 10 and max(starts) <= 900
    assert random_crop(torch.arange(3.0), 5, torch.Generator()).tolist() == [0, 1, 2, 0, 1]


def test_trim_silence() -> None:
    speech = torch.from_numpy(tone(1.0, SAMPLE_RATE))
    padded = torch.cat([torch.zeros(8000), speech, 1e-6 * torch.ones(16000)])
    trimmed = trim_silence(padded, SAMPLE_RATE)
    assert SAMPLE_RATE <= trimmed.numel() <= SAMPLE_RATE + 800  # within a frame of the tone
    assert trimmed.abs().max() == speech.abs().max()
    silence = torch.zeros(SAMPLE_RATE)
    assert trim_silence(silence, SAMPLE_RATE) is silence
    click = torch.zeros(SAMPLE_RATE)
    click[5000] = 1.0
    assert 0 < trim_silence(click, SAMPLE_RATE).numel() <= 800  # keeps a little audio
