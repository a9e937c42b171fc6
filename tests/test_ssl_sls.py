"""ssl-sls: wav2vec 2.0 layers + SLS classifier, on a tiny randomly initialised wav2vec 2.0 saved locally
(the real XLS-R weights are the user's to supply; nothing is downloaded)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from deepfake_audio.checkpoint import load_checkpoint, save_checkpoint
from deepfake_audio.config import load_config
from deepfake_audio.errors import ConfigError
from deepfake_audio.models import MODELS, build_model, count_parameters
from deepfake_audio.presets import preset_path
from deepfake_audio.train import train

transformers = pytest.importorskip("transformers", reason="the ssl extra (transformers) is not installed")

LAYERS = 3


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-layer pre-norm wav2vec 2.0 (XLS-R's layout) in Hugging Face format, random weights."""
    torch.manual_seed(0)
    config = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=LAYERS, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
        do_stable_layer_norm=True, feat_extract_norm="layer",
    )
    path = tmp_path_factory.mktemp("wav2vec2")
    transformers.Wav2Vec2Model(config).save_pretrained(str(path))
    return path


def tiny_sls(path: Path, **options: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("ssl-sls", ssl_path=str(path), duration=0.5, hidden=16, **options)


def clips(batch: int = 2, samples: int = 8000, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(batch, samples, generator=torch.Generator().manual_seed(seed))


def test_registered_as_needing_local_weights() -> None:
    assert MODELS["ssl-sls"].needs_local_weights


def test_logits_in_both_modes_and_every_trainable_parameter_learns(tiny_wav2vec2: Path) -> None:
    model = tiny_sls(tiny_wav2vec2)
    x = clips()
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, 2) and torch.equal(model(x), model(x))
    model.train()
    model(x)[:, 1].sum().backward()
    # DistributedDataParallel fails on trainable parameters that get no gradient.
    silent = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert silent == []


def test_reads_the_output_of_every_transformer_layer(tiny_wav2vec2: Path) -> None:
    model = tiny_sls(tiny_wav2vec2, normalize_waveform=False).eval()
    x = clips()
    with torch.no_grad():
        reference = model.ssl(x, output_hidden_states=True).hidden_states
        layers = model._layers(x)
    assert layers.shape[:2] == (2, LAYERS)
    torch.testing.assert_close(layers[:, 0], reference[1])  # the first layer's output
    assert model._layer_outputs == []  # nothing kept between calls


def test_checkpoint_loads_without_the_pretrained_directory(tiny_wav2vec2: Path, tmp_path: Path) -> None:
    copy = tmp_path / "xlsr"
    shutil.copytree(tiny_wav2vec2, copy)
    model = tiny_sls(copy).eval()
    x = clips(seed=1)
    with torch.no_grad():
        expected = model(x)
    path = save_checkpoint(model, tmp_path / "sls.safetensors", threshold=0.5)
    shutil.rmtree(copy)
    loaded, info = load_checkpoint(path)
    assert info.model == "ssl-sls" and info.config["ssl_config"]["num_hidden_layers"] == LAYERS
    assert count_parameters(loaded) == count_parameters(model)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), expected)


def test_frozen_ssl_trains_only_the_classifier(tiny_wav2vec2: Path) -> None:
    model = tiny_sls(tiny_wav2vec2, freeze_ssl=True).train()
    assert not model.ssl.training  # its dropout stays off
    before = {n: p.detach().clone() for n, p in model.ssl.named_parameters()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    torch.nn.functional.cross_entropy(model(clips()), torch.tensor([0, 1])).backward()
    optimizer.step()
    assert all(torch.equal(p, before[n]) for n, p in model.ssl.named_parameters())
    assert count_parameters(model) < count_parameters(tiny_sls(tiny_wav2vec2))


def test_missing_or_empty_pretrained_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs model.ssl_path"):
        build_model("ssl-sls")
    with pytest.raises(ConfigError, match="no config.json"):
        build_model("ssl-sls", ssl_path=str(tmp_path))
    (tmp_path / "config.json").write_text(transformers.Wav2Vec2Config().to_json_string())
    with pytest.raises(ConfigError, match="cannot load wav2vec 2.0 weights"):
        build_model("ssl-sls", ssl_path=str(tmp_path))


@pytest.mark.slow
def test_preset_trains_and_writes_a_loadable_checkpoint(tiny_wav2vec2: Path, labelled_folder: Path,
                                                        tmp_path: Path) -> None:
    config = load_config(preset_path("ssl-sls"), [
        f"data.root={labelled_folder}", "data.dataset=folder", "data.split=random", "data.val_fraction=0.5",
        f"model.ssl_path={tiny_wav2vec2}", "model.duration=0.5", "model.hidden=16", "train.epochs=1",
    ])
    best = train(config, tmp_path / "run", progress=False).best_checkpoint
    model, info = load_checkpoint(best)
    assert info.model == "ssl-sls" and 0.0 <= info.extra["val_eer"] <= 1.0
    with torch.no_grad():
        assert model.eval()(clips(samples=model.num_samples)).shape == (2, 2)
