"""A corpus of hostile and careless inputs, built from seeded numpy audio, each with its expected outcome.

Used by tests/test_hostile_input.py (every kind asserted) and bench/hostile_inputs.py (the acceptance
table). Outcomes: "error" (a one-line error naming the file once), "verdict" (real or fake), or
"no_verdict" (readable, but no speech to judge). `warning` is a word the result's warnings must hold.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16_000


@dataclass(frozen=True)
class Kind:
    name: str
    outcome: str  # "error" | "verdict" | "no_verdict"
    make: Callable[[Path], Path]  # writes the input into a folder, returns the path to name
    reason: str = ""  # a word the error or no-verdict reason must hold
    warning: str = ""  # a word one of the warnings must hold


def speechlike(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Seeded speech-like audio: a gliding harmonic tone with syllable-rate level changes and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(120 + 40 * np.sin(2 * np.pi * 0.7 * t)) / rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (0.3 * envelope * wave / np.max(np.abs(wave)) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def wav_header(rate: int, channels: int, bits: int, data_bytes: int, fmt: int = 1, riff_size: int | None = None) -> bytes:
    block = channels * bits // 8
    riff = 36 + data_bytes if riff_size is None else riff_size
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, fmt, channels, rate,
            rate * block, block, bits) + b"data" + struct.pack("<I", data_bytes))


def _sf(name: str, wave: np.ndarray, rate: int = RATE, **kwargs) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        sf.write(path, wave, rate, **kwargs)
        return path
    return make


def _bytes(name: str, data: bytes | Callable[[], bytes]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data() if callable(data) else data)
        return path
    return make


def _cut(name: str, wave: np.ndarray, rate: int, keep: float, **kwargs) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        sf.write(path, wave, rate, **kwargs)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
        return path
    return make


def _float_wav(name: str, wave: np.ndarray) -> Callable[[Path], Path]:
    return _sf(name, wave, subtype="FLOAT")


def _with(values: dict[int, float], wave: np.ndarray) -> np.ndarray:
    out = wave.copy()
    for index, value in values.items():
        out[index] = value
    return out


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.wav"
    os.mkfifo(path)
    return path


def _dangling(folder: Path) -> Path:
    path = folder / "dangling.wav"
    path.symlink_to(folder / "no-such-target.wav")
    return path


def _loop(folder: Path) -> Path:
    path = folder / "loop.wav"
    path.symlink_to(path.name)
    return path


def _directory(folder: Path) -> Path:
    path = folder / "folder.wav"
    path.mkdir()
    return path


def _unicode(folder: Path) -> Path:
    path = folder / "ünïcödé name with spaces.wav"
    sf.write(path, speechlike(2.0), RATE)
    return path


def _junk_chunks(folder: Path) -> Path:
    pcm = (speechlike(2.0) * 32767).astype("<i2").tobytes()
    chunks = b"LIST" + struct.pack("<I", 10) + b"INFOxxxxxx" + b"junk" + struct.pack("<I", 3) + b"abc\x00"
    body = b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, RATE, 2 * RATE, 2, 16) + chunks
    body += b"data" + struct.pack("<I", len(pcm)) + pcm
    path = folder / "junk_chunks.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def _flac_hour_of_silence(folder: Path) -> Path:
    path = folder / "hour_of_silence.flac"
    with sf.SoundFile(path, "w", 8_000, 1, subtype="PCM_16") as f:
        block = np.zeros(8_000 * 60, np.float32)
        for _ in range(60):
            f.write(block)
    return path


def _tone(seconds: float, hz: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _square(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.where(np.sin(2 * np.pi * 441 * t) >= 0, 0.99997, -1.0).astype(np.float32)


def _noise(seconds: float, level: float, seed: int = 3) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(round(seconds * RATE))).astype(np.float32)


def _gz(folder: Path) -> Path:
    source = folder / "plain_for_gzip.tmp"
    sf.write(source, speechlike(1.0), RATE, format="WAV")
    path = folder / "gzipped.wav"
    path.write_bytes(gzip.compress(source.read_bytes()))
    source.unlink()
    return path


def _random_bytes(size: int, seed: int) -> Callable[[], bytes]:
    return lambda: np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


SPEECH = speechlike(3.0)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(200))

KINDS: list[Kind] = [
    # ---- unreadable or not audio: a one-line error naming the file
    Kind("empty file", "error", _bytes("empty.wav", b""), reason="empty"),
    Kind("text named .wav", "error", _bytes("notes.wav", b"just some text, not audio\n" * 40)),
    Kind("header cut at 30 bytes", "error", _cut("cut_header.wav", SPEECH, RATE, 30 / 96_044)),
    Kind("wav cut in half", "error", _cut("cut_half.wav", SPEECH, RATE, 0.5), reason="truncated"),
    Kind("flac cut in half", "error", _cut("cut_half.flac", SPEECH, RATE, 0.5)),
    Kind("zero frames", "error", _sf("zero_frames.wav", np.zeros(0, np.float32)), reason="zero-length"),
    Kind("NaN samples", "error", _float_wav("nan.wav", _with({100: np.nan}, SPEECH)), reason="nan"),
    Kind("Inf samples", "error", _float_wav("inf.wav", _with({100: np.inf}, SPEECH)), reason="inf"),
    Kind("-Inf in one channel of two", "error",
         _sf("neg_inf_stereo.wav", np.stack([SPEECH, _with({5: -np.inf}, SPEECH)], 1), subtype="FLOAT"),
         reason="inf"),
    Kind("16 KB WAV claiming 1 Hz", "error",
         _bytes("one_hz.wav", wav_header(1, 1, 16, 16_000) + bytes(16_000)), reason="sample rate"),
    Kind("WAV claiming 100 Hz", "error",
         _bytes("hundred_hz.wav", wav_header(100, 1, 16, 16_000) + bytes(16_000)), reason="sample rate"),
    Kind("WAV claiming 2 MHz", "error",
         _bytes("two_mhz.wav", wav_header(2_000_000, 1, 16, 16_000) + bytes(16_000)), reason="sample rate"),
    Kind("WAV with 0 channels", "error", _bytes("no_channels.wav", wav_header(RATE, 0, 16, 1000) + bytes(1000))),
    Kind("WAV with unknown format tag", "error",
         _bytes("format_tag.wav", wav_header(RATE, 1, 16, 1000, fmt=0x1234) + bytes(1000))),
    Kind("hour of silence in 100 KB of FLAC (over the budget)", "error", _flac_hour_of_silence, reason="limit"),
    Kind("random bytes .wav", "error", _bytes("random.wav", _random_bytes(5000, 1))),
    Kind("random bytes .mp3", "error", _bytes("random.mp3", _random_bytes(5000, 2))),
    Kind("random bytes .ogg", "error", _bytes("random.ogg", _random_bytes(5000, 3))),
    Kind("PNG named .flac", "error", _bytes("image.flac", PNG)),
    Kind("gzip of a WAV", "error", _gz),
    Kind("explicit non-audio name", "error", _bytes("readme.txt", b"hello\n")),
    Kind("directory named x.wav", "error", _directory, reason="folder"),
    Kind("FIFO named .wav", "error", _fifo, reason="fifo"),
    Kind("dangling symbolic link", "error", _dangling, reason="broken symbolic link"),
    Kind("symbolic link loop", "error", _loop, reason="loop"),
    Kind("missing file", "error", lambda folder: folder / "never_written.wav", reason="not found"),
    # ---- odd but readable: a verdict, with a warning where something was noticed
    Kind("speech-like 16 kHz WAV", "verdict", _sf("speech.wav", SPEECH)),
    Kind("8-bit unsigned WAV", "verdict", _sf("u8.wav", SPEECH, subtype="PCM_U8")),
    Kind("24-bit 48 kHz stereo FLAC", "verdict",
         _sf("hires.flac", np.stack([speechlike(3.0, 48_000), speechlike(3.0, 48_000, 1)], 1), 48_000,
             subtype="PCM_24")),
    Kind("6-channel WAV", "verdict", _sf("six.wav", np.stack([SPEECH * (0.5 + 0.1 * c) for c in range(6)], 1))),
    Kind("4 kHz (lowest accepted rate)", "verdict", _sf("four_khz.wav", speechlike(3.0, 4_000), 4_000),
         warning="narrowband"),
    Kind("float peak 6e17", "verdict", _float_wav("peak_6e17.wav", SPEECH / np.abs(SPEECH).max() * 6e17),
         warning="full scale"),
    Kind("float peak 6e18", "verdict", _float_wav("peak_6e18.wav", SPEECH / np.abs(SPEECH).max() * 6e18),
         warning="full scale"),
    Kind("float peak 3e38 (float32 max)", "verdict",
         _float_wav("peak_3e38.wav", (SPEECH / np.abs(SPEECH).max()).astype(np.float64) * 3e38),
         warning="full scale"),
    Kind("int16 values stored as float", "verdict", _float_wav("int_as_float.wav", np.round(SPEECH * 32767)),
         warning="full scale"),
    Kind("clipped speech", "verdict", _sf("clipped.wav", np.clip(SPEECH * 20, -1, 1))),
    Kind("10 samples", "verdict", _sf("tiny.wav", SPEECH[4000:4010]), warning="only"),
    Kind("mp3", "verdict", _sf("speech.mp3", speechlike(6.0)), warning="lossy"),
    Kind("mp3 cut in half", "verdict", _cut("cut_half.mp3", speechlike(20.0), RATE, 0.5), warning="truncated"),
    Kind("ogg/vorbis cut in half", "verdict",
         _cut("cut_half.ogg", speechlike(20.0), RATE, 0.5, format="OGG", subtype="VORBIS"), warning="truncated"),
    Kind("opus cut in half", "verdict",
         _cut("cut_half.opus", speechlike(20.0, 48_000), 48_000, 0.5, format="OGG", subtype="OPUS"),
         warning="truncated"),
    Kind("WAV with LIST and junk chunks", "verdict", _junk_chunks),
    Kind("name with spaces and accents", "verdict", _unicode),
    Kind("WAV with the streaming placeholder length", "verdict",
         _bytes("streamed.wav", lambda: wav_header(RATE, 1, 16, 0xFFFFFFFF, riff_size=0xFFFFFFFF)
                + (SPEECH * 32767).astype("<i2").tobytes())),
    Kind("white noise (no speech, but not told apart from drowned speech)", "verdict",
         _sf("white_noise.wav", _noise(3.0, 0.2)), warning="noise"),
    # ---- readable, nothing to judge: no verdict and the reason
    Kind("digital silence", "no_verdict", _sf("zeros.wav", np.zeros(4 * RATE, np.float32)), reason="silent"),
    Kind("noise at -75 dBFS", "no_verdict", _sf("near_silence.wav", _noise(3.0, 10 ** (-75 / 20))),
         reason="silent"),
    Kind("full-scale square wave", "no_verdict", _sf("square.wav", _square(4.0)), reason="steady"),
    Kind("pure 440 Hz tone", "no_verdict", _sf("sine.wav", _tone(4.0, 440)), reason="steady"),
    Kind("50 Hz hum", "no_verdict", _sf("hum.wav", _tone(4.0, 50)), reason="steady"),
    Kind("DC offset", "no_verdict", _sf("dc.wav", np.full(3 * RATE, 0.5, np.float32)), reason="steady"),
]


def build(folder: Path) -> list[tuple[Kind, Path]]:
    """Write every kind into `folder` (which must exist) and return (kind, path) pairs, in KINDS order."""
    return [(kind, kind.make(folder)) for kind in KINDS]
