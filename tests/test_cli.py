"""The command line: detect output formats and exit codes, models, train + evaluate end to end."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
import torch
from conftest import synthetic_speechlike
from typer.testing import CliRunner

from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.cli import app
from deepfake_audio.models import build_model

runner = CliRunner()


def _checkpoint(tmp_path):
    torch.manual_seed(0)
    return save_checkpoint(build_model("seed-cnn"), tmp_path / "m.safetensors", threshold=0.0)


def test_detect_json_on_folder_with_a_bad_file(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", synthetic_speechlike(2.0), 16_000)
    sf.write(folder / "b.flac", synthetic_speechlike(0.7, seed=2), 22_050)
    (folder / "broken.wav").write_bytes(b"RIFF....garbage")
    result = runner.invoke(app, ["detect", str(folder), "--model", str(_checkpoint(tmp_path)), "--json"])
    assert result.exit_code == 1  # one file failed, the others were scored
    rows = json.loads(result.stdout)
    assert [r["path"].rsplit("/", 1)[-1] for r in rows] == ["a.wav", "b.flac", "broken.wav"]
    assert rows[0]["error"] is None and rows[0]["label"] in ("real", "fake")
    assert rows[2]["label"] is None and "broken.wav" in rows[2]["error"]


def test_detect_csv_and_table(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, synthetic_speechlike(3.0), 16_000)
    model = str(_checkpoint(tmp_path))
    csv_out = runner.invoke(app, ["detect", str(path), "--model", model, "--csv"])
    assert csv_out.exit_code == 0
    assert csv_out.stdout.splitlines()[0] == "path,label,p_fake,score,duration,error,no_verdict"
    table = runner.invoke(app, ["detect", str(path), "--model", model, "--timeline"])
    assert table.exit_code == 0 and "p_fake=" in table.stdout and "s  p_fake" in table.stdout


def test_detect_threads_sets_torch_threads_and_refuses_zero(tmp_path):
    path = tmp_path / "a.flac"
    sf.write(path, synthetic_speechlike(2.0, seed=1), 16_000)
    model = str(_checkpoint(tmp_path))
    before = torch.get_num_threads()
    try:
        result = runner.invoke(app, ["detect", str(path), "--model", model, "--threads", "1", "--json"])
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    refused = runner.invoke(app, ["detect", str(path), "--model", model, "--threads", "0"])
    assert refused.exit_code == 2 and "--threads must be at least 1" in refused.output


def test_detect_missing_model_is_one_line_error(tmp_path):
    result = runner.invoke(app, ["detect", "x.wav", "--model", str(tmp_path / "none.safetensors")])
    assert result.exit_code == 2 and "none.safetensors" in result.output and "Traceback" not in result.output


def test_models_lists_parameter_counts():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    line = next(x for x in result.stdout.splitlines() if x.startswith("seed-cnn"))
    assert "1.00s" in line and "1,352,770" in line
    # A model on user-supplied weights is listed without being built (its size is the user's model's).
    line = next(x for x in result.stdout.splitlines() if x.startswith("ssl-sls"))
    assert "(yours)" in line


def test_train_then_evaluate_writes_every_report_file(labelled_folder, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--preset", "seed", "--data", str(labelled_folder), "--out", str(run),
                                 "--set", "train.epochs=1", "--set", "data.split=random", "--set",
                                 "data.val_fraction=0.5", "--quiet"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "eval"
    result = runner.invoke(app, ["evaluate", str(labelled_folder), "--model", str(run / "best.safetensors"),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("report.json", "report.md", "confusion_matrix.png", "det.png", "scores.txt"):
        assert (out / name).exists(), name
    report = json.loads((out / "report.json").read_text())
    assert report["num_trials"] == 8 and 0.0 <= report["eer"] <= 1.0
    assert len((out / "scores.txt").read_text().splitlines()) == 8
    # The model was trained on half of these clips and validated on the other half; evaluate says so.
    (warning,) = report["warnings"]
    assert warning.startswith("4 of 8 evaluated clips (50%) were in this model's training data")
    assert warning in (out / "report.md").read_text()


def test_evaluate_under_degradation_and_with_asv_scores(labelled_folder, tmp_path):
    out = tmp_path / "eval"
    asv = tmp_path / "asv.txt"
    asv.write_text("".join(f"spk target {2 + i * 0.1}\nspk nontarget {-2 - i * 0.1}\nspk spoof {0.5 + i * 0.1}\n"
                           for i in range(5)))
    result = runner.invoke(app, ["evaluate", str(labelled_folder), "--model", str(_checkpoint(tmp_path)), "--out",
                                 str(out), "--degrade", "mp3,noise:5,telephone", "--asv-scores", str(asv)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["degradations"]) == {"mp3", "noise:5", "telephone"}
    assert all(0.0 <= row["eer"] <= 1.0 for row in report["degradations"].values())
    assert report["min_tdcf"] >= 0.0
    assert "Under degradation" in (out / "report.md").read_text()


def test_degradation_specs_set_bit_rate_and_snr():
    from deepfake_audio.errors import ConfigError
    from deepfake_audio.evaluation_run import parse_degradation

    assert parse_degradation("mp3:128") == {"name": "codec", "codecs": ["mp3"], "p": 1.0,
                                            "min_bitrate_kbps": 128.0, "max_bitrate_kbps": 128.0}
    assert parse_degradation("noise:20")["min_snr_db"] == 20.0
    assert "min_bitrate_kbps" not in parse_degradation("opus")
    for bad in ("reverb:3", "mp3:fast"):
        with pytest.raises(ConfigError, match=bad.split(":")[0]):
            parse_degradation(bad)


def test_lowpass_degradation_removes_only_the_top_band():
    import numpy as np

    from deepfake_audio.augment import build_augmentation
    from deepfake_audio.evaluation_run import parse_degradation

    chain = build_augmentation([parse_degradation("lowpass:6000")])
    noise = np.random.default_rng(0).standard_normal(16_000).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(np.asarray(chain(noise, np.random.default_rng(1))))) ** 2
    kept, removed = spectrum[500:5500].mean(), spectrum[6500:].mean()  # 1 Hz per bin
    clean = (np.abs(np.fft.rfft(noise)) ** 2)[500:5500].mean()
    assert 0.8 < kept / clean < 1.25 and removed / clean < 1e-3


def test_evaluate_rejects_unknown_degradation(labelled_folder, tmp_path):
    result = runner.invoke(app, ["evaluate", str(labelled_folder), "--model", str(_checkpoint(tmp_path)),
                                 "--out", str(tmp_path / "e"), "--degrade", "vinyl"])
    assert result.exit_code == 2 and "vinyl" in result.output


def test_synth_command_makes_clips_and_resumes(tmp_path):
    import soundfile as sf

    inputs = tmp_path / "real"
    inputs.mkdir()
    sf.write(inputs / "a.wav", synthetic_speechlike(0.6), 16_000)
    out = tmp_path / "synth"
    first = runner.invoke(app, ["synth", "--inputs", str(inputs), "--generators", "griffinlim,lpc", "--out", str(out),
                                "--quiet"])
    assert first.exit_code == 0, first.output
    assert "2 clips made" in first.stdout
    again = runner.invoke(app, ["synth", "--inputs", str(inputs), "--generators", "griffinlim,lpc", "--out", str(out),
                                "--quiet"])
    assert again.exit_code == 0 and "0 clips made" in again.stdout
    assert len((out / "manifest.csv").read_text().splitlines()) == 3
