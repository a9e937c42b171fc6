"""ONNX export: the exported graph scores like the PyTorch model and runs behind `Detector`."""

from __future__ import annotations

import pytest
import soundfile as sf
import torch
from conftest import synthetic_speechlike

from deepfake_audio import Detector
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.errors import CheckpointError
from deepfake_audio.models import build_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
from deepfake_audio.onnx_export import OnnxScorer, export_onnx


@pytest.mark.parametrize(("name", "options"), [
    ("seed-cnn", {}), ("lfs-tcn", {}), ("flat-stats", {}),
    ("flat-stats", {"flatness_change": True, "mask_absent_bands": True, "members": 2}),
])
def test_export_matches_torch_and_detects(name, options, tmp_path):
    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_model(name, **options), tmp_path / "m.safetensors", threshold=0.3,
                                 calibration={"scale": 1.5, "offset": -0.45})
    difference = export_onnx(checkpoint, tmp_path / "m.onnx")
    assert difference < 1e-3
    clip = tmp_path / "a.wav"
    sf.write(clip, synthetic_speechlike(5.0), 16_000)
    with_torch = Detector.from_pretrained(checkpoint, device="cpu")(clip)
    with_onnx = Detector.from_pretrained(tmp_path / "m.onnx")(clip)
    assert with_onnx.threshold == 0.3 and with_onnx.label == with_torch.label
    assert with_onnx.score == pytest.approx(with_torch.score, abs=1e-3)
    assert len(with_onnx.windows) == len(with_torch.windows)


def test_foreign_onnx_file_is_refused(tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="x.onnx"):
        OnnxScorer(bad)
