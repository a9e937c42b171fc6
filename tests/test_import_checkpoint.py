"""`import-checkpoint clovaai-aasist`: the official weights reproduce the reference outputs through
`Detector`, and files that are not plain state dicts are refused without running anything from them."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from deepfake_audio.checkpoint import read_checkpoint_info
from deepfake_audio.cli import app
from deepfake_audio.detector import Detector
from deepfake_audio.errors import CheckpointError
from deepfake_audio.importers import import_checkpoint
from deepfake_audio.importers.clovaai_aasist import build_reference_model, reference_to_ours
from deepfake_audio.importers.torch_state import load_state_dict
from deepfake_audio.models import build_model, count_parameters

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
AASIST_DIR = SHARED / "models" / "aasist"
needs_official_weights = pytest.mark.skipif(
    not (AASIST_DIR / "golden_scores.csv").exists() or not (SHARED / "data" / "dev" / "manifest.csv").exists(),
    reason=f"needs the official AASIST weights and golden scores at {AASIST_DIR} and the dev corpus "
           "(absent in a fresh clone)",
)


def _reference_layout(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A state dict in the clovaai naming, made by inverting our renames on a random model."""
    ours = model.state_dict()
    names = {}
    for block in range(6):
        for part in ("conv1", "bn1", "bn2", "conv2", "conv_downsample"):
            for suffix in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                names[f"encoder.{block}.0.{part}.{suffix}"] = None
    top = ["pos_S", "master1", "master2", "out_layer.weight", "out_layer.bias"]
    for prefix in ("first_bn", "GAT_layer_S", "GAT_layer_T", "pool_S", "pool_T", *(f"pool_h{d}{i}" for d in "ST" for i in "12"),
                   *(f"HtrgGAT_layer_ST{i}" for i in ("11", "12", "21", "22"))):
        for attr in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked", "att_weight",
                     "att_weight11", "att_weight22", "att_weight12", "att_weightM"):
            top.append(f"{prefix}.{attr}")
        for layer in ("att_proj", "att_projM", "proj_with_att", "proj_without_att", "proj_with_attM",
                      "proj_without_attM", "proj_type1", "proj_type2", "bn", "proj"):
            for suffix in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                top.append(f"{prefix}.{layer}.{suffix}")
    candidates = [*names, *top]
    return {name: ours[reference_to_ours(name)].clone() for name in candidates if reference_to_ours(name) in ours}


@pytest.mark.parametrize("arch", ["aasist", "aasist-l"])
def test_reference_names_cover_every_weight_and_keep_parameter_counts(tmp_path: Path, arch: str) -> None:
    model = build_model(arch)
    reference = _reference_layout(model)
    assert len(reference) == len(model.state_dict()) == 229
    torch.save(reference, tmp_path / "ref.pth")
    summary = import_checkpoint("clovaai-aasist", tmp_path / "ref.pth", tmp_path / "out.safetensors")
    assert summary["variant"] == {"aasist": "AASIST", "aasist-l": "AASIST-L"}[arch]
    assert summary["published_file"] is False  # random weights are not the authors' file
    detector = Detector.from_pretrained(tmp_path / "out.safetensors", device="cpu")
    assert count_parameters(detector.model) == {"aasist": 297_866, "aasist-l": 85_306}[arch]
    assert detector.window == 64_600 and not detector.trim_silence
    for name, value in detector.model.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name
    info = read_checkpoint_info(tmp_path / "out.safetensors")
    assert "not re-fitted" in info.extra["calibration_source"]
    assert info.threshold == 0.0 and info.calibration == {"scale": 1.0, "offset": 0.0}


def test_weights_of_another_shape_are_refused(tmp_path: Path) -> None:
    reference = _reference_layout(build_model("aasist"))
    reference["out_layer.weight"] = torch.zeros(3, 160)
    torch.save(reference, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match="match neither AASIST nor AASIST-L") as caught:
        import_checkpoint("clovaai-aasist", tmp_path / "odd.pth", tmp_path / "out.safetensors")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out.safetensors").exists()


class _CreatesFileWhenUnpickled:
    """Unpickling this object calls `open(path, "w")`: the file appearing would prove code ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple:
        return (open, (self.path, "w"))


@pytest.mark.parametrize("layout", ["zip", "legacy", "bare-pickle"])
def test_a_pickled_object_file_is_refused_and_runs_no_code(tmp_path: Path, layout: str) -> None:
    marker = tmp_path / "code_ran.txt"
    payload = {"pos_S": torch.zeros(1, 23, 64), "evil": _CreatesFileWhenUnpickled(marker)}
    evil = tmp_path / "evil.pth"
    if layout == "bare-pickle":
        evil.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, evil, _use_new_zipfile_serialization=layout == "zip")
    with pytest.raises(CheckpointError, match="refused: the file holds pickled Python objects") as caught:
        import_checkpoint("clovaai-aasist", evil, tmp_path / "out.safetensors")
    assert "\n" not in str(caught.value) and str(evil) in str(caught.value)
    assert not marker.exists()
    assert not (tmp_path / "out.safetensors").exists()
    # The payload is live: a full unpickle does create the file (so the check above can fail).
    pickle.loads(pickle.dumps(_CreatesFileWhenUnpickled(marker)))
    assert marker.exists()


def test_a_tampered_file_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.pth"
    torch.save(_reference_layout(build_model("aasist-l")), good)
    data = bytearray(good.read_bytes())
    flipped = tmp_path / "flipped.pth"
    flipped.write_bytes(data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:])
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    for bad, reason in [(flipped, "damaged or modified after saving"), (truncated, "not a readable PyTorch"),
                        (garbage, "not a readable PyTorch")]:
        with pytest.raises(CheckpointError, match=reason) as caught:
            load_state_dict(bad)
        assert "\n" not in str(caught.value)


def test_cli_refuses_a_pickled_object_file_with_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "code_ran.txt"
    evil = tmp_path / "evil.pth"
    torch.save({"x": _CreatesFileWhenUnpickled(marker)}, evil)
    result = CliRunner().invoke(app, ["import-checkpoint", "clovaai-aasist", str(evil), str(tmp_path / "o.safetensors")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and "refused" in result.stderr
    assert not marker.exists()
    unknown = CliRunner().invoke(app, ["import-checkpoint", "nope", str(evil), str(tmp_path / "o.safetensors")])
    assert unknown.exit_code == 2 and unknown.stderr.count("\n") == 1 and "unknown checkpoint format" in unknown.stderr


def _golden() -> dict[str, list[tuple[str, float]]]:
    rows: dict[str, list[tuple[str, float]]] = {}
    with open(AASIST_DIR / "golden_scores.csv", newline="") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["model"], []).append((row["input"], float(row["logit1"]) - float(row["logit0"])))
    return rows


@needs_official_weights
@pytest.mark.slow
@pytest.mark.parametrize("variant", ["AASIST", "AASIST-L"])
def test_official_checkpoint_reproduces_the_golden_scores_through_detect(tmp_path: Path, variant: str) -> None:
    out = tmp_path / f"{variant}.safetensors"
    summary = import_checkpoint("clovaai-aasist", AASIST_DIR / f"{variant}.pth", out)
    assert summary["variant"] == variant and summary["published_file"] is True
    detector = Detector.from_pretrained(out, device="cpu")
    golden = _golden()[variant]
    assert len(golden) == 25
    files = [name for name, _ in golden if not name.startswith("synthetic:")]
    paths = [REPO / name if name.startswith("examples/") else SHARED / "data" / name for name in files]
    got = {name: p.score for name, p in zip(files, detector.detect_files(paths))}
    synthetic = np.random.default_rng(0).standard_normal(64_600).astype("float32") * 0.1
    got["synthetic:rng0"] = detector(synthetic, sample_rate=16_000).score
    errors = {name: abs(got[name] - expected) for name, expected in golden}
    print(f"{variant}: largest |score - golden| = {max(errors.values()):.2e}")
    assert max(errors.values()) < 1e-4, errors


@needs_official_weights
def test_reference_sinc_filters_are_reproduced_bit_for_bit() -> None:
    expected = torch.from_numpy(np.load(AASIST_DIR / "sinc_band_pass_70x129.npy"))
    got = build_reference_model("AASIST").sinc.filters.squeeze(1)
    assert torch.equal(got, expected)
