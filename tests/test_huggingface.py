"""`--model hf:FOLDER`: local Hugging Face audio-classification models, on tiny random ones made here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import synthetic_speechlike
from typer.testing import CliRunner

from deepfake_audio.cli import app
from deepfake_audio.detector import Detector
from deepfake_audio.errors import CheckpointError
from deepfake_audio.huggingface import map_labels

transformers = pytest.importorskip("transformers")


def tiny_model(folder: Path, id2label: dict[int, str]) -> Path:
    """A random two-layer wav2vec 2.0 classifier with its feature extractor, as save_pretrained writes it."""
    config = transformers.Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2, classifier_proj_size=8, id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(0)
    model = transformers.Wav2Vec2ForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(sampling_rate=16_000, do_normalize=True).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("id2label", [{0: "spoof", 1: "bonafide"}, {0: "Real", 1: "Fake"}])
def test_score_is_the_bona_fide_log_odds_whatever_the_class_order(tmp_path: Path, id2label: dict) -> None:
    folder = tiny_model(tmp_path / "hf", id2label)
    detector = Detector.from_pretrained(f"hf:{folder}", device="cpu")
    wave = synthetic_speechlike(2.0)
    prediction = detector(wave, sample_rate=16_000)
    # The same 2 s clip tiled to the 4 s window, through transformers directly.
    window = torch.from_numpy(wave).repeat(2)[: detector.window]
    extractor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    model = transformers.AutoModelForAudioClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        logits = model(**extractor([window.numpy()], sampling_rate=16_000, return_tensors="pt")).logits[0]
    real = next(i for i, name in id2label.items() if name.lower() in ("bonafide", "real"))
    expected = float(logits[real] - logits[1 - real])
    assert prediction.score == pytest.approx(expected, abs=1e-5)
    assert prediction.label == ("fake" if expected < 0 else "real")
    assert prediction.p_fake == pytest.approx(1 / (1 + torch.exp(torch.tensor(expected)).item()), abs=1e-6)


def test_label_names_are_mapped_and_unknown_ones_refused() -> None:
    assert map_labels({0: "bona-fide", 1: "Deepfake", 2: "synthetic"}, "m") == ([0], [1, 2])
    assert map_labels({"0": "human", "1": "AI-generated"}, "m") == ([0], [1])
    for labels, reason in [({0: "LABEL_0", 1: "LABEL_1"}, "cannot tell fake from real"),
                           ({0: "real", 1: "genuine"}, "at least one fake and one real")]:
        with pytest.raises(CheckpointError, match=reason) as caught:
            map_labels(labels, "m/config.json")
        assert "\n" not in str(caught.value)


def test_cli_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    import soundfile as sf

    sf.write(audio, synthetic_speechlike(1.0), 16_000)
    unmapped = tiny_model(tmp_path / "unmapped", {0: "LABEL_0", 1: "LABEL_1"})
    pickled = tiny_model(tmp_path / "pickled", {0: "spoof", 1: "bonafide"})
    # The older pickle layout: the same weights as pytorch_model.bin only.
    from safetensors.torch import load_file

    torch.save(load_file(pickled / "model.safetensors"), pickled / "pytorch_model.bin")
    (pickled / "model.safetensors").unlink()
    incomplete = tiny_model(tmp_path / "incomplete", {0: "spoof", 1: "bonafide"})
    (incomplete / "preprocessor_config.json").unlink()
    cases = [(unmapped, "cannot tell fake from real"), (pickled, "pytorch_model.bin is not read"),
             (incomplete, "no preprocessor_config.json"), (tmp_path / "absent", "not a folder")]
    for folder, reason in cases:
        result = CliRunner().invoke(app, ["detect", str(audio), "--model", f"hf:{folder}"])
        assert result.exit_code == 2, (folder, result.output)
        assert result.stderr.count("\n") == 1 and reason in result.stderr, result.stderr


def test_detect_json_runs_an_hf_model(tmp_path: Path) -> None:
    import soundfile as sf

    folder = tiny_model(tmp_path / "hf", {0: "fake", 1: "real"})
    sf.write(tmp_path / "a.wav", synthetic_speechlike(5.0), 16_000)
    result = CliRunner().invoke(app, ["detect", str(tmp_path / "a.wav"), "--model", f"hf:{folder}", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["label"] in ("real", "fake") and len(row["windows"]) == 2  # 5 s in 4 s windows
