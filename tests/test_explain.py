"""Why this verdict: band occlusion, the per-window `explanation`, and its flags in the CLI and the API."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import synthetic_speechlike
from typer.testing import CliRunner

from deepfake_audio import Detector
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.cli import app
from deepfake_audio.explain import BANDS_HZ, TOP_K, explain_windows, occlude_bands
from deepfake_audio.models import build_model

SR = 16_000


def tones(*freqs: float, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(round(seconds * SR)) / SR
    return sum(0.2 * torch.sin(2 * torch.pi * f * t) for f in freqs)


def band_energy(wave: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Energy of `(batch, time)` waves between lo and hi Hz."""
    spectrum = torch.fft.rfft(wave).abs().square()
    freqs = torch.fft.rfftfreq(wave.shape[-1], 1 / SR)
    return spectrum[..., (freqs >= lo) & (freqs < hi)].sum(-1)


def test_occluding_a_band_removes_it_and_keeps_the_rest():
    wave = tones(1_000, 5_000)[None]
    occluded = occlude_bands(wave)  # (1, bands, time)
    k_1k = next(i for i, (lo, hi) in enumerate(BANDS_HZ) if lo <= 1_000 < hi)
    k_5k = next(i for i, (lo, hi) in enumerate(BANDS_HZ) if lo <= 5_000 < hi)
    before_1k, before_5k = band_energy(wave, 950, 1_050), band_energy(wave, 4_950, 5_050)
    assert band_energy(occluded[:, k_1k], 950, 1_050) < 1e-3 * before_1k
    assert band_energy(occluded[:, k_1k], 4_950, 5_050) == pytest.approx(float(before_5k), rel=0.02)
    assert band_energy(occluded[:, k_5k], 4_950, 5_050) < 1e-3 * before_5k
    # A band holding neither tone changes nothing (away from the edges, where the tones' abrupt start
    # and end are broadband), so the resynthesis itself adds no difference of its own.
    empty = next(i for i, (lo, hi) in enumerate(BANDS_HZ) if lo >= 6_000 or hi <= 900)
    assert torch.allclose(occluded[0, empty, 1024:-1024], wave[0, 1024:-1024], atol=1e-3)


def test_the_band_the_score_depends_on_comes_first_with_a_positive_delta():
    # A "model" that finds high 4-5.5 kHz energy machine-made: removing that band makes it look real.
    def score_fn(batch: torch.Tensor) -> torch.Tensor:
        return 2.0 - 1e-3 * band_energy(batch, 4_000, 5_500)

    def p_fake(score: float) -> float:
        return 1 / (1 + np.exp(score))

    batch = torch.stack([tones(500, 4_500), tones(500)])
    why = explain_windows(batch, score_fn(batch), score_fn, p_fake)
    assert len(why) == 2 and all(len(w) == TOP_K for w in why)
    top = why[0][0]
    assert top["band_hz"] == [4_000, 5_500] and top["delta"] > 0.5
    # Without energy in that band, no removal moves the score much (only the edges' broadband clicks).
    assert all(abs(e["delta"]) < 0.05 for e in why[1])


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(build_model("seed-cnn"), tmp_path / "m.safetensors")


def test_detector_adds_explanations_only_when_asked(checkpoint, tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, synthetic_speechlike(2.0), SR)
    detector = Detector.from_pretrained(checkpoint, device="cpu")
    plain = detector(path).to_dict()
    explained = detector(path, explain=True).to_dict()
    assert all("explanation" not in w for w in plain["windows"])
    assert [w["score"] for w in explained["windows"]] == [w["score"] for w in plain["windows"]]
    for w in explained["windows"]:
        assert len(w["explanation"]) == TOP_K
        assert all(tuple(e["band_hz"]) in BANDS_HZ and isinstance(e["delta"], float) for e in w["explanation"])


def test_cli_explain_flag(checkpoint, tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, synthetic_speechlike(1.5), SR)
    result = CliRunner().invoke(app, ["detect", str(path), "--model", str(checkpoint), "--json", "--explain"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert all("explanation" in w for w in row["windows"])
    table = CliRunner().invoke(app, ["detect", str(path), "--model", str(checkpoint), "--explain"])
    assert table.exit_code == 0 and "bands: " in table.stdout and " Hz " in table.stdout


def test_api_explain_as_a_query_parameter(checkpoint):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from deepfake_audio.server import create_app

    client = TestClient(create_app(Detector.from_pretrained(checkpoint, device="cpu")))
    buffer = io.BytesIO()
    sf.write(buffer, synthetic_speechlike(1.5), SR, format="WAV")
    upload = {"file": ("a.wav", buffer.getvalue(), "audio/wav")}
    plain = client.post("/detect", files=upload).json()
    assert "explanation" not in plain["windows"][0] and "segments" in plain
    by_query = client.post("/detect?explain=true", files=upload).json()
    assert "explanation" in by_query["windows"][0]
    # The body is one file part and nothing else (server limits): a form field is refused, not ignored.
    assert client.post("/detect", files=upload, data={"explain": "true"}).status_code == 400
