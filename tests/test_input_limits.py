"""Input sanity at the edge: sample-rate range, the decode budget (from the header and while decoding),
amplitude limits, folder listings that account for every entry, and non-UTF-8 text files."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
import soundfile as sf
import torch
from hostile_corpus import speechlike, wav_header
from typer.testing import CliRunner

from deepfake_audio.audio import decode_audio, load_audio, silence_bounds, stream_audio
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.cli import app
from deepfake_audio.data.corpora import read_dataset
from deepfake_audio.errors import AudioDecodeError, ProtocolError
from deepfake_audio.input_limits import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, DecodeBudget
from deepfake_audio.inputs import list_inputs
from deepfake_audio.models import build_model


@pytest.mark.parametrize("rate", [1, 100, MIN_SAMPLE_RATE - 1, MAX_SAMPLE_RATE + 1])
def test_sample_rates_outside_the_range_are_refused(rate, tmp_path):
    path = tmp_path / "odd_rate.wav"
    path.write_bytes(wav_header(rate, 1, 16, 16_000) + bytes(16_000))
    with pytest.raises(AudioDecodeError, match=rf"^{path}: sample rate {rate} Hz is outside"):
        load_audio(path)
    with pytest.raises(AudioDecodeError, match="sample rate"):
        load_audio(np.zeros(100, np.float32), source_sample_rate=rate)


def test_the_lowest_accepted_rate_decodes(tmp_path):
    path = tmp_path / "four_khz.wav"
    sf.write(path, speechlike(1.0, MIN_SAMPLE_RATE), MIN_SAMPLE_RATE)
    assert load_audio(path).numel() == 16_000


def test_budget_refuses_from_the_header_before_decoding(tmp_path):
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", 8_000, 1, format="FLAC", subtype="PCM_16") as f:
        for _ in range(60):
            f.write(np.zeros(8_000 * 60, np.float32))
    data = buffer.getvalue()
    assert len(data) < 400_000  # an hour of silence in a few hundred KB
    with pytest.raises(AudioDecodeError, match=r"^upload: .*600 s limit \(the file declares 3600\.0 s\)"):
        decode_audio(data, name="upload", budget=DecodeBudget.for_duration(600))


def test_budget_is_counted_while_decoding_when_the_header_does_not_say(tmp_path):
    pcm = (speechlike(20.0) * 32767).astype("<i2").tobytes()
    path = tmp_path / "placeholder.wav"  # streaming writers leave the length unset: libsndfile reads on
    path.write_bytes(wav_header(16_000, 1, 16, 0xFFFFFFFF, riff_size=0xFFFFFFFF) + pcm)
    assert load_audio(path).numel() == 20 * 16_000
    with pytest.raises(AudioDecodeError, match="5 s limit"):
        load_audio(path, budget=DecodeBudget(5.0, None))
    with pytest.raises(AudioDecodeError, match="decode limit of 16,000 samples"):
        list(stream_audio(path, block_duration=0.5, budget=DecodeBudget(None, 16_000)))


def test_budget_rejects_nonsense():
    with pytest.raises(ValueError, match="max_seconds"):
        DecodeBudget(-1.0, None)
    with pytest.raises(ValueError, match="max_samples"):
        DecodeBudget(None, 0)


@pytest.mark.parametrize("peak", [2.0, 32767.0, 6e17, 6e18, 3e38])
def test_audio_beyond_full_scale_is_scaled_with_a_warning(peak, tmp_path):
    wave = speechlike(2.0)
    path = tmp_path / "loud.wav"
    sf.write(path, (wave / np.abs(wave).max()).astype(np.float64) * peak, 16_000, subtype="FLOAT")
    decoded = decode_audio(path)
    assert bool(torch.isfinite(decoded.waveform).all())
    assert float(decoded.waveform.abs().max()) == pytest.approx(1.0, abs=0.05)
    assert any("full scale" in w for w in decoded.warnings)
    streamed = stream_audio(path, block_duration=0.5)
    blocks = torch.cat(list(streamed))
    assert float(blocks.abs().max()) <= 1.05 and any("full scale" in w for w in streamed.warnings)


def test_float64_arrays_beyond_float32_range_do_not_overflow():
    wave = speechlike(1.0).astype(np.float64) * 1e300
    assert bool(torch.isfinite(load_audio(wave, source_sample_rate=16_000)).all())


@pytest.mark.parametrize("bad", [6e18, 3e38, np.nan])
def test_silence_bounds_never_raises(bad):
    """The IndexError of issue 12: squares of loud float audio overflowed float32 to inf/inf = NaN."""
    wave = torch.from_numpy(speechlike(1.0) * np.float32(1.0))
    wave = wave * (bad if np.isfinite(bad) else 1.0)
    if not np.isfinite(bad):
        wave[10] = bad
    start, end = silence_bounds(wave)
    assert 0 <= start < end <= wave.numel()


def test_folder_listing_accounts_for_every_entry(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    sf.write(folder / "a.wav", speechlike(1.0), 16_000)
    sf.write(folder / "sub" / "b.flac", speechlike(1.0), 16_000)
    (folder / "notes.txt").write_text("hi")
    os.mkfifo(folder / "pipe.wav")
    os.mkfifo(folder / "pipe")
    (folder / "gone.wav").symlink_to(folder / "nothing.wav")
    (folder / "loop.wav").symlink_to("loop.wav")
    (folder / "up").symlink_to(folder)  # a link to a folder: not followed, so no endless search
    (tmp_path / "empty.wav").mkdir()
    listing = list_inputs([str(folder), str(tmp_path / "empty.wav")])
    names = [os.path.relpath(p, folder) for p in listing.files]
    assert names == ["a.wav", "gone.wav", "loop.wav", "pipe.wav", os.path.join("sub", "b.flac")]
    assert listing.errors == [(str(tmp_path / "empty.wav"), f"{tmp_path / 'empty.wav'}: is a folder with no audio "
                                                            "files in it")]
    assert {(os.path.basename(s.path), s.reason) for s in listing.skipped} == {
        ("notes.txt", "not audio by name"), ("pipe", "named pipe (FIFO)"), ("up", "symbolic link to a folder")}


def test_detect_reports_special_files_and_summarises_skipped_ones(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", speechlike(2.0), 16_000)
    os.mkfifo(folder / "pipe.wav")
    (folder / "gone.wav").symlink_to(folder / "nothing.wav")
    (folder / "loop.wav").symlink_to("loop.wav")
    (folder / "readme.txt").write_text("hi")
    (tmp_path / "x.wav").mkdir()
    torch.manual_seed(0)
    model = save_checkpoint(build_model("seed-cnn"), tmp_path / "m.safetensors")
    result = CliRunner().invoke(app, ["detect", str(folder), str(tmp_path / "x.wav"), "--model", str(model),
                                      "--json", "--device", "cpu"])
    assert result.exit_code == 1
    rows = {os.path.basename(r["path"]): r for r in json.loads(result.stdout)}
    assert set(rows) == {"a.wav", "pipe.wav", "gone.wav", "loop.wav", "x.wav"}
    assert rows["a.wav"]["error"] is None
    assert "named pipe" in rows["pipe.wav"]["error"] and "broken symbolic link" in rows["gone.wav"]["error"]
    assert "loop" in rows["loop.wav"]["error"] and "folder" in rows["x.wav"]["error"]
    for row in rows.values():
        assert row["error"] is None or row["error"].count(row["path"]) == 1
    assert "note: skipped 1 folder entry: 1 not audio by name" in result.stderr


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_non_utf8_manifest_is_a_one_line_error(encoding, tmp_path):
    sf.write(tmp_path / "a.wav", speechlike(1.0), 16_000)
    manifest = tmp_path / "manifest.csv"
    manifest.write_bytes("path,label,speaker\na.wav,bonafide,José\n".encode(encoding))
    with pytest.raises(ProtocolError, match=r"manifest\.csv:\d+: not UTF-8 text") as excinfo:
        read_dataset("csv", manifest)
    assert "\n" not in str(excinfo.value)
