"""`deepfake-audio calibrate`: threshold and p_fake calibration refitted on the user's labelled data."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_labelled_folder
from typer.testing import CliRunner

from deepfake_audio.calibration import fit_calibration
from deepfake_audio.checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint
from deepfake_audio.cli import app
from deepfake_audio.data.corpora import read_dataset
from deepfake_audio.data.trial import Label
from deepfake_audio.detector import Detector
from deepfake_audio.evaluate import score_trials
from deepfake_audio.metrics import compute_eer
from deepfake_audio.models import build_model

runner = CliRunner()


def _checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(build_model("seed-cnn"), tmp_path / "model.safetensors", threshold=5.0,
                           calibration={"scale": 2.0, "offset": -10.0}, extra={"calibration_source": "training"})


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest_the_model_separates(model: Path | str, tmp_path: Path, per_class: int, inverted: bool = False) -> Path:
    """A manifest over seeded clips, labelled so that the (random) model ranks them mostly right: the
    higher-scoring half is bona fide, with one pair swapped so the classes overlap (0 < EER < 50%)."""
    clips = sorted(make_labelled_folder(tmp_path / "clips", per_class=per_class).rglob("*.wav"))
    detector = Detector.from_pretrained(model, device="cpu")
    scores = [p.score for p in detector.detect_files(clips)]
    order = [clips[i] for i in np.argsort(scores)]  # most spoof-like first
    order[per_class - 1], order[per_class] = order[per_class], order[per_class - 1]
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label"])
        for rank, path in enumerate(order):
            spoof = (rank < per_class) != inverted
            writer.writerow([path.relative_to(tmp_path).as_posix(), "spoof" if spoof else "bonafide"])
    return manifest


def test_calibrate_fits_the_eer_threshold_and_a_consistent_calibration(tmp_path: Path) -> None:
    model = _checkpoint(tmp_path)
    before = _digest(model)
    data = _manifest_the_model_separates(model, tmp_path, per_class=6)
    out = tmp_path / "calibrated.safetensors"
    result = runner.invoke(app, ["calibrate", str(model), str(data), str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "6 bona fide / 6 spoof" in result.stdout
    assert "fewer than 20 clips" in result.stdout  # a rough fit says so

    # The expected values, computed here from the original model's scores on the same data.
    trials = read_dataset("csv", data)
    scored = score_trials(Detector.from_pretrained(model, device="cpu"), trials)
    labels = np.array([t.label is Label.BONAFIDE for t in scored.trials])
    eer, threshold = compute_eer(scored.scores[labels], scored.scores[~labels])
    scale = fit_calibration(scored.scores[labels], scored.scores[~labels]).scale
    assert 0 < eer < 0.5 and scale > 0

    info = read_checkpoint_info(out)
    assert info.threshold == pytest.approx(threshold)
    assert info.calibration["scale"] == pytest.approx(scale)
    assert info.calibration["offset"] == pytest.approx(-scale * threshold)
    fitted = info.extra["calibrated_on"]
    assert (fitted["num_bonafide"], fitted["num_spoof"], fitted["dataset"]) == (6, 6, "csv")
    assert fitted["eer"] == pytest.approx(eer) and str(data.resolve()) in info.extra["calibration_source"]
    assert info.extra["previous_calibration"]["threshold"] == 5.0
    assert info.extra["previous_calibration"]["calibration_source"] == "training"

    # Same weights, new numbers; the input file is untouched; label and p_fake agree.
    original, _ = load_checkpoint(model)
    recalibrated, _ = load_checkpoint(out)
    for name, value in original.state_dict().items():
        assert torch.equal(value, recalibrated.state_dict()[name])
    assert _digest(model) == before
    for prediction in Detector.from_pretrained(out, device="cpu").detect_files([t.path for t in trials]):
        # (a clip scoring exactly the threshold, as the EER point can be, gets p_fake 0.5 and "real")
        assert prediction.p_fake >= 0.5 if prediction.label == "fake" else prediction.p_fake <= 0.5


def test_calibrate_reads_a_labelled_folder(tmp_path: Path) -> None:
    model = _checkpoint(tmp_path)
    data = make_labelled_folder(tmp_path / "data", per_class=3)
    scores = {label: np.mean([p.score for p in Detector.from_pretrained(model, device="cpu").detect_files(
        sorted((data / label).iterdir()))]) for label in ("real", "fake")}
    if scores["real"] < scores["fake"]:  # a random model: name the folders so that it ranks them right
        (data / "real").rename(data / "swap")
        (data / "fake").rename(data / "real")
        (data / "swap").rename(data / "fake")
    out = tmp_path / "calibrated.safetensors"
    result = runner.invoke(app, ["calibrate", str(model), str(data), str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    fitted = read_checkpoint_info(out).extra["calibrated_on"]
    assert (fitted["dataset"], fitted["num_bonafide"], fitted["num_spoof"]) == ("folder", 3, 3)


def test_labels_the_model_ranks_backwards_are_refused(tmp_path: Path) -> None:
    model = _checkpoint(tmp_path)
    data = _manifest_the_model_separates(model, tmp_path, per_class=4, inverted=True)
    result = runner.invoke(app, ["calibrate", str(model), str(data), str(tmp_path / "o.safetensors"), "--quiet"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "check the labels" in result.stderr
    assert not (tmp_path / "o.safetensors").exists()


def test_calibrate_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    model = _checkpoint(tmp_path)
    data = make_labelled_folder(tmp_path / "data", per_class=2)
    only_real = tmp_path / "only_real"
    (only_real / "real").mkdir(parents=True)
    for path in (data / "real").iterdir():
        (only_real / "real" / path.name).write_bytes(path.read_bytes())
    cases = [
        ([str(model), str(data), str(model)], "OUT must differ from MODEL"),
        ([str(model), str(only_real), str(tmp_path / "o.safetensors")], "both bona fide and spoof"),
        ([str(tmp_path / "missing.safetensors"), str(data), str(tmp_path / "o.safetensors")], "not found"),
        ([str(model), str(tmp_path / "nowhere.csv"), str(tmp_path / "o.safetensors")], "nowhere.csv"),
    ]
    for args, reason in cases:
        result = runner.invoke(app, ["calibrate", *args, "--quiet"])
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and reason in result.stderr, result.stderr
    assert not (tmp_path / "o.safetensors").exists()


def test_calibrate_an_hf_model_writes_a_calibrated_copy_of_the_folder(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from test_huggingface import tiny_model

    folder = tiny_model(tmp_path / "hf", {0: "spoof", 1: "bonafide"})
    files_before = sorted(p.name for p in folder.iterdir())
    data = _manifest_the_model_separates(f"hf:{folder}", tmp_path, per_class=3)
    out = tmp_path / "hf-calibrated"
    result = runner.invoke(app, ["calibrate", f"hf:{folder}", str(data), str(out), "--quiet", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == files_before  # the input folder is untouched
    detector = Detector.from_pretrained(f"hf:{out}", device="cpu")
    assert detector.info.extra["calibrated_on"]["num_spoof"] == 3
    assert detector.threshold != 0.0 and detector.scale != 1.0


def test_calibrate_an_onnx_export_keeps_the_graph_and_changes_the_header(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from deepfake_audio.onnx_export import export_onnx

    model = _checkpoint(tmp_path)
    exported = tmp_path / "model.onnx"
    export_onnx(model, exported)
    data = _manifest_the_model_separates(model, tmp_path, per_class=3)
    out = tmp_path / "calibrated.onnx"
    result = runner.invoke(app, ["calibrate", str(exported), str(data), str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    before, after = Detector.from_pretrained(exported), Detector.from_pretrained(out)
    expected = read_checkpoint_info(model)
    assert before.threshold == expected.threshold and after.threshold != expected.threshold
    assert after.info.extra["calibrated_on"]["num_bonafide"] == 3
    clip = min((tmp_path / "clips").rglob("*.wav"))
    assert next(after.detect_files([clip])).score == pytest.approx(next(before.detect_files([clip])).score)
