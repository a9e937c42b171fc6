"""HTTP API: the upload page, detection on an upload, and clear 400/413 errors."""

from __future__ import annotations

import io

import pytest
import soundfile as sf
import torch
from conftest import synthetic_speechlike

from deepfake_audio import Detector
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.models import build_model

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from deepfake_audio.server import create_app


@pytest.fixture
def client(tmp_path):
    torch.manual_seed(0)
    path = save_checkpoint(build_model("seed-cnn"), tmp_path / "m.safetensors")
    return TestClient(create_app(Detector.from_pretrained(path, device="cpu"), max_upload_mb=0.5))


def _wav_bytes(seconds: float, format: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, synthetic_speechlike(seconds), 16_000, format=format)
    return buffer.getvalue()


def test_page_health_info(client):
    assert "<form" in client.get("/").text
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/info").json()["model"] == "seed-cnn"


def test_detect_upload(client):
    response = client.post("/detect", files={"file": ("clip.wav", _wav_bytes(2.5), "audio/wav")})
    assert response.status_code == 200
    body = response.json()
    assert body["path"] == "clip.wav" and body["label"] in ("real", "fake") and len(body["windows"]) == 4


def test_lossy_upload_carries_a_warning(client):
    wav = client.post("/detect", files={"file": ("clip.wav", _wav_bytes(2.5), "audio/wav")}).json()
    mp3 = client.post("/detect", files={"file": ("clip.mp3", _wav_bytes(2.5, "MP3"), "audio/mpeg")}).json()
    assert not any("lossy" in w for w in wav["warnings"])
    assert any("lossy-compressed audio" in w for w in mp3["warnings"])


def test_bad_upload_and_too_large(client):
    bad = client.post("/detect", files={"file": ("x.wav", b"not audio", "audio/wav")})
    assert bad.status_code == 400 and "x.wav" in bad.json()["detail"]
    big = client.post("/detect", files={"file": ("big.wav", _wav_bytes(20.0), "audio/wav")})
    assert big.status_code == 413
