"""Tampered checkpoints (headers and weights) and ONNX metadata: each is refused by `detect` with exit 2
and one line that names the file, before anything large is allocated."""

from __future__ import annotations

import json
import math

import pytest
import soundfile as sf
import torch
from conftest import synthetic_speechlike
from safetensors.torch import save_file
from typer.testing import CliRunner

from deepfake_audio.checkpoint import FORMAT, METADATA_KEY, load_checkpoint, save_checkpoint
from deepfake_audio.cli import app
from deepfake_audio.errors import CheckpointError
from deepfake_audio.models import build_model

runner = CliRunner()


def _header(**changes):
    torch.manual_seed(0)
    model = build_model("seed-cnn")
    header = {"format": FORMAT, "model": "seed-cnn", "config": model.config_dict(), "score": "bonafide_log_odds",
              "threshold": 0.0, "calibration": {"scale": 1.0, "offset": 0.0}, "extra": {}}
    for key, value in changes.items():
        if value is _DROP:
            header.pop(key)
        else:
            header[key] = value
    return header


_DROP = object()
_CONFIG = build_model("seed-cnn").config_dict()


def _config(**changes):
    return {**_CONFIG, **changes}


# (name, header or raw metadata text, words the error must hold)
HEADERS = [
    ("config as a string", _header(config="duration=1"), "config"),
    ("config as a list", _header(config=[1, 2]), "config"),
    ("no model key", _header(model=_DROP), "model"),
    ("model as a list", _header(model=["seed-cnn"]), "model"),
    ("model as a number", _header(model=7), "model"),
    ("unknown model", _header(model="no-such-net"), "unknown model"),
    ("n_fft 2**26", _header(config=_config(n_fft=2**26)), "n_fft"),
    ("hop_length 0", _header(config=_config(hop_length=0)), "hop_length"),
    ("window of 1e4 s", _header(config=_config(duration=1e4)), "duration"),
    ("negative window", _header(config=_config(duration=-1.0)), "duration"),
    ("NaN window", _header(config=_config(duration=math.nan)), "duration"),
    ("sample rate 8000", _header(config=_config(sample_rate=8000)), "sample_rate"),
    ("n_fft as a string", _header(config=_config(n_fft="512")), "n_fft"),
    ("n_fft as a float", _header(config=_config(n_fft=512.5)), "n_fft"),
    ("n_mfcc as a bool", _header(config=_config(n_mfcc=True)), "n_mfcc"),
    ("huge n_mfcc", _header(config=_config(n_mfcc=10**9)), "n_mfcc"),
    ("unknown config key", _header(config=_config(evil=1)), "evil"),
    ("NaN threshold", _header(threshold=math.nan), "threshold"),
    ("Inf threshold", _header(threshold=math.inf), "threshold"),
    ("threshold as a string", _header(threshold="0.5"), "threshold"),
    ("calibration as a string", _header(calibration="scale=1"), "calibration"),
    ("NaN calibration scale", _header(calibration={"scale": math.nan, "offset": 0.0}), "calibration"),
    ("unknown calibration key", _header(calibration={"scale": 1.0, "bias": 0.0}), "calibration"),
    ("extra as a list", _header(extra=[1]), "extra"),
    ("trim_silence as a string", _header(extra={"trim_silence": "yes"}), "trim_silence"),
    ("format missing", _header(format=_DROP), "format"),
    ("header is a JSON list", [1, 2, 3], "format"),
    ("header is not JSON", "{not json", "not json"),
]


def _write(path, header, tensors=None):
    torch.manual_seed(0)
    tensors = tensors if tensors is not None else {k: v.contiguous() for k, v in build_model("seed-cnn").state_dict().items()}
    text = header if isinstance(header, str) else json.dumps(header)
    save_file(tensors, str(path), metadata={METADATA_KEY: text})
    return path


def _weights():
    torch.manual_seed(0)
    return {k: v.clone().contiguous() for k, v in build_model("seed-cnn").state_dict().items()}


def _first_weight() -> str:
    return next(iter(build_model("seed-cnn").state_dict()))


WEIGHTS = [
    ("NaN weight", lambda s: s[_first_weight()].view(-1).__setitem__(0, math.nan), "nan"),
    ("Inf weight", lambda s: s[_first_weight()].view(-1).__setitem__(0, math.inf), "nan or inf"),
    ("missing weight", lambda s: s.pop(_first_weight()), "missing"),
    ("extra weight", lambda s: s.__setitem__("evil.weight", torch.zeros(3)), "unexpected"),
    ("weight of the wrong shape", lambda s: s.__setitem__(_first_weight(), torch.zeros(2, 2)), "shape"),
]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.wav"
    sf.write(path, synthetic_speechlike(1.0), 16_000)
    return path


def _refused_by_detect(model, clip, *words):
    result = runner.invoke(app, ["detect", str(clip), "--model", str(model), "--device", "cpu"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {model}: ") and lines[0].count(str(model)) == 1, lines[0]
    for word in words:
        assert word in lines[0].lower(), lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("name", "header", "word"), HEADERS, ids=[h[0] for h in HEADERS])
def test_tampered_header(name, header, word, tmp_path, clip):
    path = _write(tmp_path / "tampered.safetensors", header)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    _refused_by_detect(path, clip, word)


@pytest.mark.parametrize(("name", "tamper", "word"), WEIGHTS, ids=[w[0] for w in WEIGHTS])
def test_tampered_weights(name, tamper, word, tmp_path, clip):
    state = _weights()
    tamper(state)
    path = _write(tmp_path / "tampered.safetensors", _header(), state)
    _refused_by_detect(path, clip, word)


def test_an_intact_checkpoint_still_loads(tmp_path, clip):
    path = _write(tmp_path / "ok.safetensors", _header())
    _, info = load_checkpoint(path)
    assert info.model == "seed-cnn"
    result = runner.invoke(app, ["detect", str(clip), "--model", str(path), "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output


# ---- ONNX: the same schema for the metadata, and NaN weights refused


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from deepfake_audio.onnx_export import export_onnx

    folder = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_model("seed-cnn"), folder / "m.safetensors")
    export_onnx(checkpoint, folder / "m.onnx")
    return folder / "m.onnx"


ONNX_METADATA = [
    ("no config", {"model": "seed-cnn", "threshold": 0.0, "calibration": {"scale": 1.0, "offset": 0.0}}, "config"),
    ("config without duration", {"model": "seed-cnn", "config": {"n_fft": 512}, "threshold": 0.0}, "duration"),
    ("unknown model", {"model": "evil", "config": _CONFIG, "threshold": 0.0}, "unknown model"),
    ("NaN threshold", {"model": "seed-cnn", "config": _CONFIG, "threshold": math.nan}, "threshold"),
    ("window of 1e4 s", {"model": "seed-cnn", "config": _config(duration=1e4), "threshold": 0.0}, "duration"),
    ("metadata not JSON", "{oops", "not json"),
]


def _retag(source, target, metadata=None, nan_weight=False):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    if metadata is not None:
        for prop in model.metadata_props:
            if prop.key == METADATA_KEY:
                prop.value = metadata if isinstance(metadata, str) else json.dumps(metadata)
    if nan_weight:
        for init in model.graph.initializer:
            values = numpy_helper.to_array(init).copy()
            if values.dtype.kind == "f" and values.size > 1:
                values.flat[0] = math.nan
                init.CopyFrom(numpy_helper.from_array(values, init.name))
                break
    onnx.save(model, str(target))
    return target


@pytest.mark.parametrize(("name", "metadata", "word"), ONNX_METADATA, ids=[m[0] for m in ONNX_METADATA])
def test_tampered_onnx_metadata(name, metadata, word, onnx_model, tmp_path, clip):
    _refused_by_detect(_retag(onnx_model, tmp_path / "tampered.onnx", metadata), clip, word)


def test_onnx_with_nan_weights(onnx_model, tmp_path, clip):
    _refused_by_detect(_retag(onnx_model, tmp_path / "nan.onnx", nan_weight=True), clip, "nan")
