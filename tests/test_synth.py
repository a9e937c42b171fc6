"""Spoof synthesis: each generator's output, the registry's install hints, the manifest, resume and failures."""

from __future__ import annotations

import csv
import hashlib
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import synthetic_speechlike

from deepfake_audio.errors import ConfigError
from deepfake_audio.synth import (
    BUILTIN_SENTENCES,
    GENERATORS,
    Generator,
    Synthesis,
    available_generators,
    read_texts,
    run_synthesis,
    synthesize,
    unavailable_generators,
)
from deepfake_audio.synth.audio_io import resample, rms
from deepfake_audio.synth.hifigan import mel_filterbank
from deepfake_audio.synth.registry import generator_class

SAMPLE_RATE = 16_000
DEV_COLUMNS = ["path", "label", "system", "speaker", "text", "source", "source_repo", "license", "duration_s",
               "original_sample_rate"]  # fmt: skip
COPY_GENERATORS = ["griffinlim", "world", "lpc", "hifigan"]
TTS_GENERATORS = sorted(n for n, c in GENERATORS.items() if c.kind == "tts")


def _skip_unless_available(name: str) -> None:
    reason = unavailable_generators().get(name)
    if reason:
        pytest.skip(f"{name} not usable here: {reason}")


def _log_mel(wave: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(wave, 256), 512)[::160] * np.hanning(512)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return np.log(power @ mel_filterbank(SAMPLE_RATE, 512, 40, 0, 8000).T + 1e-6)


def _write_clips(folder: Path, count: int, duration: float = 1.0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"clip{i}.wav"
        sf.write(path, synthetic_speechlike(duration, seed=i) * (0.5 + 0.5 * i), SAMPLE_RATE)
        paths.append(path)
    return paths


def _read_manifest(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.mark.parametrize("name", COPY_GENERATORS)
def test_copy_synthesis_resembles_but_differs_from_the_source(name: str) -> None:
    """Copy-synthesis returns finite audio of the source's length and spectral envelope, but not the same samples."""
    _skip_unless_available(name)
    duration = 0.5 if name == "hifigan" else 1.0  # HiFi-GAN runs slower than real time on CPU
    source = synthetic_speechlike(duration, seed=3)
    out = GENERATORS[name]().generate(source, np.random.default_rng(0))
    wave = resample(out.waveform, out.sample_rate)
    assert out.waveform.dtype == np.float32 and np.all(np.isfinite(wave))
    assert abs(wave.size - source.size) <= 0.02 * source.size
    n = min(wave.size, source.size)
    wave, ref = wave[:n] * rms(source[:n]) / rms(wave[:n]), source[:n]
    assert np.max(np.abs(wave - ref)) > 0.01
    noise = np.random.default_rng(1).standard_normal(n).astype(np.float32) * rms(ref)
    distance = np.mean(np.abs(_log_mel(wave) - _log_mel(ref)))
    assert distance < 0.5 * np.mean(np.abs(_log_mel(noise) - _log_mel(ref)))


@pytest.mark.parametrize("name", ["griffinlim", "world", "lpc"])
def test_copy_synthesis_is_reproducible_from_the_rng(name: str) -> None:
    """The same seed gives the same clip, so a resumed job matches an uninterrupted one."""
    _skip_unless_available(name)
    source = synthetic_speechlike(0.5, seed=4)
    a = GENERATORS[name]().generate(source, np.random.default_rng(7))
    b = GENERATORS[name]().generate(source, np.random.default_rng(7))
    np.testing.assert_array_equal(a.waveform, b.waveform)


@pytest.mark.parametrize("name", TTS_GENERATORS)
def test_tts_speaks_a_sentence(name: str) -> None:
    """Each installed TTS engine turns a short sentence into finite, audible speech of plausible length."""
    _skip_unless_available(name)
    out = GENERATORS[name]().generate("Hello, this is a short test.", np.random.default_rng(0))
    wave = resample(out.waveform, out.sample_rate)
    assert np.all(np.isfinite(wave)) and rms(wave) > 1e-3
    assert 0.5 < wave.size / SAMPLE_RATE < 10


def test_mel_filterbank_matches_librosa() -> None:
    """HiFi-GAN's input mel uses the Slaney filterbank it was trained with (librosa's default)."""
    librosa = pytest.importorskip("librosa", reason="librosa is the reference implementation")
    expected = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000)
    np.testing.assert_allclose(mel_filterbank(22050, 1024, 80, 0, 8000), expected, atol=1e-7)


def test_registry_lists_usable_generators_and_explains_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing packages and programs move a generator to the unavailable list with an install hint."""
    import importlib.util
    import shutil

    assert {"griffinlim", "lpc"} <= set(available_generators())
    real_find_spec, real_which = importlib.util.find_spec, shutil.which
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda m, *a: None if m == "pyworld" else real_find_spec(m, *a)
    )
    monkeypatch.setattr(shutil, "which", lambda c, *a: None if c == "espeak-ng" else real_which(c, *a))
    missing = unavailable_generators()
    assert missing["world"] == "pyworld-prebuilt not installed: pip install 'deepfake-audio[synth]'"
    assert "apt-get install" in missing["espeak-ng"] and "espeak-ng" in missing["espeak-ng"]
    assert "world" not in available_generators()
    with pytest.raises(ConfigError, match="world.*pyworld-prebuilt"):
        generator_class("world")
    with pytest.raises(ConfigError, match="unknown generator 'nope'; available: .*griffinlim"):
        generator_class("nope")


def test_pipeline_writes_clips_and_manifest(tmp_path: Path) -> None:
    """Outputs are 16 kHz mono files with source loudness; the manifest keeps speaker and source path."""
    corpus = tmp_path / "corpus"
    inputs = _write_clips(corpus / "spk", 2)
    (corpus / "manifest.csv").write_text(
        "path,label,system,speaker,text,license,original_sample_rate\n"
        "spk/clip0.wav,bonafide,bonafide,p001,one two,CC0,8000\nspk/clip1.wav,bonafide,bonafide,p002,,CC0,\n"
    )
    before = [hashlib.sha1(p.read_bytes()).hexdigest() for p in inputs]
    out_dir = tmp_path / "out"
    manifest = synthesize(inputs, None, ["griffinlim", "lpc"], out_dir, seed=1, progress=False)

    assert manifest == out_dir / "manifest.csv"
    columns, rows = _read_manifest(manifest)
    assert columns[: len(DEV_COLUMNS)] == DEV_COLUMNS and "source_path" in columns
    assert sorted((r["system"], r["speaker"]) for r in rows) == [
        ("griffinlim", "p001"), ("griffinlim", "p002"), ("lpc", "p001"), ("lpc", "p002")]  # fmt: skip
    for row in rows:
        assert row["label"] == "spoof" and row["source"] == "synth" and row["license"] == "CC0"
        # The corpus knows clip0 was 8 kHz audio before upsampling; the row must not claim full band.
        assert row["original_sample_rate"] == ("8000" if row["speaker"] == "p001" else "16000")
        assert row["path"].startswith(row["system"] + "/")
        info = sf.info(out_dir / row["path"])
        assert (info.samplerate, info.channels, info.frames) == (SAMPLE_RATE, 1, SAMPLE_RATE)
        source = Path(row["source_path"])
        assert source in [p.resolve() for p in inputs]
        made, _ = sf.read(out_dir / row["path"], dtype="float32")
        original, _ = sf.read(source, dtype="float32")
        assert abs(20 * np.log10(rms(made) / rms(original))) < 0.5
    assert [hashlib.sha1(p.read_bytes()).hexdigest() for p in inputs] == before


def test_resume_skips_finished_clips(tmp_path: Path) -> None:
    """A second run makes nothing; a deleted output is remade; resume=False remakes everything."""
    inputs = _write_clips(tmp_path / "in", 2)
    out_dir = tmp_path / "out"
    first = run_synthesis(inputs, None, ["griffinlim"], out_dir, progress=False)
    assert first.made == 2
    outputs = sorted((out_dir / "griffinlim").glob("*.flac"))
    mtimes = [p.stat().st_mtime_ns for p in outputs]

    second = run_synthesis(inputs, None, ["griffinlim"], out_dir, progress=False)
    assert (second.made, second.stats["griffinlim"].skipped) == (0, 2)
    assert [p.stat().st_mtime_ns for p in outputs] == mtimes

    # out_dir inside the input folder: earlier outputs must not become inputs.
    inside = run_synthesis([tmp_path / "in"], None, ["griffinlim"], tmp_path / "in" / "out", progress=False)
    assert (
        run_synthesis([tmp_path / "in"], None, ["griffinlim"], tmp_path / "in" / "out", progress=False).made
        == 0
    )
    assert inside.made == 2

    outputs[0].unlink()
    assert run_synthesis(inputs, None, ["griffinlim"], out_dir, progress=False).made == 1
    assert run_synthesis(inputs, None, ["griffinlim"], out_dir, resume=False, progress=False).made == 2
    assert len(_read_manifest(out_dir / "manifest.csv")[1]) == 2


def test_killed_job_continues_where_it_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupt mid-job leaves a valid manifest of finished clips; the rerun makes only the rest."""
    calls: list[int] = []

    class Interrupted(Generator):
        kind = "copy"
        name = "interrupted"

        def generate(self, source: np.ndarray | str, rng: np.random.Generator) -> Synthesis:
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return Synthesis(np.asarray(source)[::-1].copy(), SAMPLE_RATE)

    monkeypatch.setitem(GENERATORS, "interrupted", Interrupted)
    inputs = _write_clips(tmp_path / "in", 3)
    with pytest.raises(KeyboardInterrupt):
        run_synthesis(inputs, None, ["interrupted"], tmp_path / "out", progress=False)
    assert len(_read_manifest(tmp_path / "out" / "manifest.csv")[1]) == 1
    rerun = run_synthesis(inputs, None, ["interrupted"], tmp_path / "out", progress=False)
    assert (rerun.made, rerun.stats["interrupted"].skipped) == (2, 1)
    assert len(_read_manifest(tmp_path / "out" / "manifest.csv")[1]) == 3


def test_bad_input_is_reported_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An undecodable or missing input gets one warning line; the other clips are still made."""
    inputs = _write_clips(tmp_path / "in", 1)
    broken = tmp_path / "in" / "broken.wav"
    broken.write_bytes(b"not audio at all" * 10)
    sf.write(tmp_path / "in" / "tiny.wav", np.zeros(100, np.float32), SAMPLE_RATE)
    with caplog.at_level(logging.WARNING, logger="deepfake_audio.synth"):
        report = run_synthesis([*inputs, broken, tmp_path / "in" / "tiny.wav", tmp_path / "gone.wav"], None,
                               ["lpc", "griffinlim"], tmp_path / "out", progress=False)  # fmt: skip
    assert (report.made, report.stats["lpc"].failed, report.stats["griffinlim"].failed) == (2, 2, 2)
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "broken.wav" in m and "\n" not in m]) == 1
    assert any("gone.wav" in m for m in messages)
    assert len([m for m in messages if "tiny.wav" in m and "too short" in m]) == 1


def test_manifest_input_uses_only_bonafide_rows(tmp_path: Path) -> None:
    """A corpus manifest given as input expands to its bona fide clips."""
    _write_clips(tmp_path / "corpus", 2)
    listing = tmp_path / "corpus" / "list.csv"
    listing.write_text("path,label,speaker\nclip0.wav,bonafide,a\nclip1.wav,spoof,b\n")
    _, rows = _read_manifest(synthesize([listing], None, ["lpc"], tmp_path / "out", progress=False))
    assert [(r["speaker"], Path(r["source_path"]).name) for r in rows] == [("a", "clip0.wav")]


def test_tts_pipeline_records_text_and_peak_level(tmp_path: Path) -> None:
    """TTS rows carry the text and voice; audio is peak-normalised to between -12 and -1 dBFS."""
    _skip_unless_available("espeak-ng")
    texts = ["Good morning.", "Please call me back."]
    _, rows = _read_manifest(synthesize(None, texts, ["espeak-ng"], tmp_path / "out", progress=False))
    assert sorted(r["text"] for r in rows) == sorted(texts)
    for row in rows:
        wave, rate = sf.read(tmp_path / "out" / row["path"], dtype="float32")
        assert rate == SAMPLE_RATE and row["speaker"].startswith("en")
        assert -12.1 < 20 * np.log10(np.max(np.abs(wave))) < -0.9


def test_invalid_requests_raise_config_errors(tmp_path: Path) -> None:
    """Nothing to do, or copy-synthesis without clips, is a one-line ConfigError."""
    with pytest.raises(ConfigError, match="no generators"):
        synthesize(None, ["hi"], [], tmp_path)
    with pytest.raises(ConfigError, match="input clips and/or texts"):
        synthesize(None, None, ["lpc"], tmp_path)
    with pytest.raises(ConfigError, match="lpc.*need bona fide input clips"):
        synthesize(None, ["hi"], ["lpc"], tmp_path)
    with pytest.raises(ConfigError, match="seed"):
        synthesize(None, ["hi"], ["espeak-ng"], tmp_path, seed=-1)


def test_read_texts_and_builtin_sentences(tmp_path: Path) -> None:
    """Text files give one sentence per line; the built-in list is varied and unique."""
    path = tmp_path / "texts.txt"
    path.write_text("# comment\nFirst sentence.\n\n  Second one.  \n")
    assert read_texts(path) == ["First sentence.", "Second one."]
    path.write_text("\n# only a comment\n")
    with pytest.raises(ConfigError, match="texts.txt"):
        read_texts(path)
    assert len(set(BUILTIN_SENTENCES)) == len(BUILTIN_SENTENCES) >= 30
