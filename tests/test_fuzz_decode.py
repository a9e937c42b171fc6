"""Bounded fuzzing: random and mutated audio bytes through the decoder, the Detector and `detect`.

A fixed seed and a few hundred small cases (seconds in CI). Whatever the bytes, the only exceptions
allowed are the package's own one-line errors; the Detector and `detect` never raise, and their JSON is
strict.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from hostile_corpus import speechlike, wav_header
from typer.testing import CliRunner

from deepfake_audio import Detector
from deepfake_audio.audio import decode_audio
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.cli import app
from deepfake_audio.errors import DeepfakeAudioError
from deepfake_audio.input_limits import SERVER_DECODE_BUDGET
from deepfake_audio.models import build_model

SEED = 12
CASES = 320
CLI_CASES = 40


def _encoded(fmt: str, subtype: str, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, speechlike(1.0, rate), rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def _seeds() -> list[bytes]:
    pcm = (speechlike(0.5) * 32767).astype("<i2").tobytes()
    return [
        _encoded("WAV", "PCM_16"), _encoded("WAV", "FLOAT"), _encoded("FLAC", "PCM_16"),
        _encoded("OGG", "VORBIS"), _encoded("MP3", "MPEG_LAYER_III"), _encoded("OGG", "OPUS", 48_000),
        wav_header(16_000, 1, 16, len(pcm)) + pcm,
    ]


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One of: flip bytes, overwrite a header field, cut, splice in random bytes, or repeat a slice."""
    buf = bytearray(data)
    how = rng.integers(6)
    if how == 0:  # flip a few random bytes anywhere
        for i in rng.integers(0, len(buf), rng.integers(1, 16)):
            buf[i] ^= int(rng.integers(1, 256))
    elif how == 1:  # overwrite 4 bytes of the first 64 (sizes, rates, channel counts) with extreme values
        i = int(rng.integers(0, max(1, min(60, len(buf) - 4))))
        buf[i : i + 4] = rng.choice([b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x01\x00\x00\x00",
                                     b"\xff\xff\xff\x7f", b"\x00\x00\x01\x00"])
    elif how == 2:  # truncate
        buf = buf[: int(rng.integers(0, len(buf)))]
    elif how == 3:  # splice random bytes in
        i = int(rng.integers(0, len(buf)))
        buf[i:i] = rng.integers(0, 256, int(rng.integers(1, 2000)), dtype=np.uint8).tobytes()
    elif how == 4:  # repeat a slice (duplicated frames or pages)
        i, j = sorted(int(x) for x in rng.integers(0, len(buf), 2))
        buf[j:j] = buf[i:j][:5000]
    else:  # a random header-sized prefix on random bytes
        buf = bytearray(data[: int(rng.integers(4, 64))]) + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    return bytes(buf)


def _cases() -> list[bytes]:
    rng = np.random.default_rng(SEED)
    seeds = _seeds()
    cases = [rng.integers(0, 256, int(rng.integers(1, 4000)), dtype=np.uint8).tobytes() for _ in range(CASES // 8)]
    while len(cases) < CASES:
        data = seeds[int(rng.integers(len(seeds)))]
        for _ in range(int(rng.integers(1, 4))):
            data = _mutate(data, rng) or b"\x00"
        cases.append(data)
    return cases


@pytest.fixture(scope="module")
def cases() -> list[bytes]:
    return _cases()


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    torch.manual_seed(0)
    path = save_checkpoint(build_model("seed-cnn"), tmp_path_factory.mktemp("m") / "m.safetensors")
    return Detector.from_pretrained(path, device="cpu", decode_budget=SERVER_DECODE_BUDGET)


def test_decoder_raises_only_its_own_one_line_errors(cases):
    outcomes = {"decoded": 0, "refused": 0}
    for index, data in enumerate(cases):
        name = f"case{index}"
        try:
            decoded = decode_audio(data, name=name, budget=SERVER_DECODE_BUDGET)
        except DeepfakeAudioError as e:
            message = str(e)
            assert message.startswith(f"{name}: ") and "\n" not in message, message
            outcomes["refused"] += 1
            continue
        waveform = decoded.waveform
        assert waveform.dtype == torch.float32 and waveform.numel() > 0
        assert bool(torch.isfinite(waveform).all()) and float(waveform.abs().max()) <= 1.5
        outcomes["decoded"] += 1
    assert outcomes["decoded"] > 20 and outcomes["refused"] > 20, outcomes  # both paths were exercised


def test_detector_never_raises_and_its_json_is_strict(cases, detector):
    for index, data in enumerate(cases):
        prediction = detector(data, name=f"case{index}")
        text = json.dumps(prediction.to_dict(), allow_nan=False)
        assert "case" in text
        if prediction.error:
            assert prediction.error.count(f"case{index}") == 1 and "\n" not in prediction.error
            assert "unexpected" not in prediction.error, prediction.error
        else:
            assert prediction.label in ("real", "fake") or prediction.no_verdict


def test_detect_command_on_fuzzed_files(cases, detector, tmp_path):
    paths = []
    for index, data in enumerate(cases[:: max(1, len(cases) // CLI_CASES)][:CLI_CASES]):
        path = tmp_path / f"fuzz{index}.{('wav', 'flac', 'mp3', 'ogg', 'opus')[index % 5]}"
        path.write_bytes(data)
        paths.append(str(path))
    model = str(tmp_path / "m.safetensors")
    save_checkpoint(detector.model, model)
    result = CliRunner().invoke(app, ["detect", *paths, "--model", model, "--json", "--device", "cpu",
                                      "--max-duration", "600"])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    rows = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert [row["path"] for row in rows] == paths
