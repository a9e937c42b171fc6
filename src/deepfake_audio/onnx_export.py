"""ONNX export for high-volume CPU scoring, and a scorer that runs the exported graph.

The exported graph maps a batch of windows `(batch, window)` to scores `(batch,)` (bona-fide log-odds,
the same convention as the PyTorch model), with the checkpoint's header (model, window, threshold,
calibration) copied into the ONNX metadata, so an `.onnx` file is a complete model for `detect`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfake_audio.checkpoint import CheckpointInfo, load_checkpoint, parse_header_json
from deepfake_audio.checkpoint_schema import validate_header
from deepfake_audio.errors import CheckpointError, require

METADATA_KEY = "deepfake_audio"
OPSET = 17


class _ScoreGraph(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.model.score(waveform)


def export_onnx(checkpoint: str | os.PathLike, out: str | os.PathLike, *, check_batch: int = 4) -> float:
    """Export a checkpoint to ONNX; returns the largest score difference to PyTorch on a test batch."""
    onnx = require("onnx", "onnx")
    model, info = load_checkpoint(checkpoint)
    for module in model.modules():
        if hasattr(module, "stft_as_convolution"):
            module.stft_as_convolution = True
    example = 0.1 * torch.randn(2, model.num_samples, generator=torch.Generator().manual_seed(0))
    out = Path(out)
    torch.onnx.export(_ScoreGraph(model).eval(), (example,), str(out), input_names=["waveform"],
                      output_names=["score"], dynamic_axes={"waveform": {0: "batch"}, "score": {0: "batch"}},
                      opset_version=OPSET, dynamo=False)
    graph = onnx.load(str(out))
    header = {"model": info.model, "config": info.config, "threshold": info.threshold,
              "calibration": info.calibration, "extra": {k: v for k, v in info.extra.items() if k != "train_config"}}
    graph.metadata_props.add(key=METADATA_KEY, value=json.dumps(header))
    onnx.save(graph, str(out))

    for module in model.modules():
        if hasattr(module, "stft_as_convolution"):
            module.stft_as_convolution = False
    batch = 0.1 * torch.randn(check_batch, model.num_samples, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = model.score(batch).numpy()
    got = OnnxScorer(out).score(batch).numpy()
    return float(np.abs(got - expected).max())


class OnnxScorer:
    """Duck-types the parts of a `DetectorModel` that `Detector` uses, backed by onnxruntime."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        ort = require("onnxruntime", "onnx")
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: ONNX model not found")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise CheckpointError(f"{path}: not a loadable ONNX model ({str(e).splitlines()[0]})") from e
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise CheckpointError(f"{path}: not exported by deepfake-audio (no '{METADATA_KEY}' metadata)")
        header = validate_header(parse_header_json(meta[METADATA_KEY], path), path)
        if "duration" not in header.config:
            raise CheckpointError(f"{path}: invalid checkpoint header: config has no 'duration' (the window length)")
        _check_initializers_finite(path)
        self.info = CheckpointInfo(header.model, header.config, header.threshold, header.calibration, header.extra)
        self.name = header.model
        self.num_samples = round(header.config["duration"] * header.config.get("sample_rate", 16_000))

    def to(self, device: Any) -> OnnxScorer:
        return self

    def eval(self) -> OnnxScorer:
        return self

    def score(self, batch: torch.Tensor) -> torch.Tensor:
        (scores,) = self.session.run(None, {"waveform": batch.detach().cpu().numpy().astype(np.float32)})
        return torch.from_numpy(scores)


def rewrite_header(
    source: str | os.PathLike, out: str | os.PathLike, *, threshold: float, calibration: dict[str, float],
    extra: dict[str, Any],
) -> None:
    """Copy an exported model to `out` with a new threshold, calibration and extra header (same graph)."""
    onnx = require("onnx", "onnx")
    graph = onnx.load(str(source))
    props = {p.key: p.value for p in graph.metadata_props}
    if METADATA_KEY not in props:
        raise CheckpointError(f"{source}: not exported by deepfake-audio (no '{METADATA_KEY}' metadata)")
    header = json.loads(props[METADATA_KEY])
    header.update(threshold=threshold, calibration=calibration, extra=extra)
    for prop in graph.metadata_props:
        if prop.key == METADATA_KEY:
            prop.value = json.dumps(header)
    onnx.save(graph, str(out))


def _check_initializers_finite(path: Path) -> None:
    """NaN or Inf weights give NaN scores; refuse them up front (needs `onnx`, else scores are checked)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return  # the Detector still turns a non-finite score into that file's error
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - onnxruntime loaded it; a stricter parser's complaint is not fatal
        return
    for initializer in graph.initializer:
        values = numpy_helper.to_array(initializer)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise CheckpointError(f"{path}: weights hold NaN or Inf values (in {initializer.name!r})")
