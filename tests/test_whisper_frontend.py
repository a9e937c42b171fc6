"""Whisper front end: the three user-supplied formats, the bundled wheels, and parity with reference code.

Tiny random Whisper models are written by the tests in each format (openai-whisper `.pt`, Hugging Face
folder, CTranslate2 folder), so these run without any real weights. The parity tests against ctranslate2's
own encoder use the real weights of the pinned wheels and skip when those are not installed.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfake_audio.errors import CheckpointError
from deepfake_audio.frontends.whisper import (
    BUNDLED_ENCODERS,
    EncoderDims,
    WhisperEncoder,
    WhisperLogMel,
    load_encoder_weights,
)

DIMS = EncoderDims(n_mels=80, width=64, layers=2, heads=4)


def _random_encoder(seed: int = 0) -> WhisperEncoder:
    torch.manual_seed(seed)
    encoder = WhisperEncoder(DIMS)
    with torch.no_grad():
        for p in encoder.parameters():
            p.normal_(0, 0.2)
        encoder.positional_embedding.normal_(0, 0.5)
    return encoder.eval()


def _mel(seconds: float = 2.0, seed: int = 0) -> torch.Tensor:
    from tests.conftest import synthetic_speechlike

    return WhisperLogMel(DIMS.n_mels)(torch.from_numpy(synthetic_speechlike(seconds, seed=seed))[None])


def _write_openai(encoder: WhisperEncoder, path: Path) -> Path:
    dims = {"n_mels": DIMS.n_mels, "n_audio_ctx": 1500, "n_audio_state": DIMS.width, "n_audio_head": DIMS.heads,
            "n_audio_layer": DIMS.layers, "n_vocab": 10, "n_text_ctx": 8, "n_text_state": DIMS.width,
            "n_text_head": DIMS.heads, "n_text_layer": 1}
    state = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    state["decoder.token_embedding.weight"] = torch.zeros(10, DIMS.width)
    torch.save({"dims": dims, "model_state_dict": state}, path)
    return path


def _write_ctranslate2(encoder: WhisperEncoder, folder: Path, dtype: str = "float16") -> Path:
    """A CTranslate2 `model.bin` in the layout of CTranslate2's own writer (binary version 6)."""
    folder.mkdir(parents=True, exist_ok=True)
    s = {k: v.numpy() for k, v in encoder.state_dict().items()}
    variables: dict[str, np.ndarray] = {
        "encoder/conv1/weight": s["conv1.weight"], "encoder/conv1/bias": s["conv1.bias"],
        "encoder/conv2/weight": s["conv2.weight"], "encoder/conv2/bias": s["conv2.bias"],
        "encoder/position_encodings/encodings": s["positional_embedding"],
        "encoder/layer_norm/gamma": s["ln_post.weight"], "encoder/layer_norm/beta": s["ln_post.bias"],
        "encoder/num_heads": np.array(DIMS.heads, dtype=np.int16),
        "decoder/embeddings/weight": np.zeros((10, DIMS.width), dtype=np.float32),
    }
    for i in range(DIMS.layers):
        b, e = f"blocks.{i}", f"encoder/layer_{i}"
        variables[f"{e}/self_attention/linear_0/weight"] = np.concatenate(
            [s[f"{b}.attn.query.weight"], s[f"{b}.attn.key.weight"], s[f"{b}.attn.value.weight"]])
        variables[f"{e}/self_attention/linear_0/bias"] = np.concatenate(
            [s[f"{b}.attn.query.bias"], np.zeros(DIMS.width, np.float32), s[f"{b}.attn.value.bias"]])
        for ours, theirs in (("attn.out", "self_attention/linear_1"), ("mlp.0", "ffn/linear_0"),
                             ("mlp.2", "ffn/linear_1")):
            variables[f"{e}/{theirs}/weight"] = s[f"{b}.{ours}.weight"]
            variables[f"{e}/{theirs}/bias"] = s[f"{b}.{ours}.bias"]
        for ours, theirs in (("attn_ln", "self_attention/layer_norm"), ("mlp_ln", "ffn/layer_norm")):
            variables[f"{e}/{theirs}/gamma"] = s[f"{b}.{ours}.weight"]
            variables[f"{e}/{theirs}/beta"] = s[f"{b}.{ours}.bias"]
    dtype_ids = {"float32": 0, "int16": 2, "float16": 4}

    def string(value: str) -> bytes:
        return struct.pack("<H", len(value) + 1) + value.encode() + b"\0"

    out = [struct.pack("<I", 6), string("WhisperSpec"), struct.pack("<I", 3), struct.pack("<I", len(variables))]
    for name, value in variables.items():
        value = value if value.dtype == np.int16 else value.astype(dtype)
        out += [string(name), struct.pack("<B", value.ndim), *(struct.pack("<I", d) for d in value.shape),
                struct.pack("<B", dtype_ids[str(value.dtype)]), struct.pack("<I", value.nbytes), value.tobytes()]
    out.append(struct.pack("<I", 0))
    (folder / "model.bin").write_bytes(b"".join(out))
    (folder / "config.json").write_text("{}")
    return folder


def _write_huggingface(folder: Path, seed: int = 0) -> tuple[Path, torch.nn.Module]:
    transformers = pytest.importorskip("transformers")
    config = transformers.WhisperConfig(
        num_mel_bins=DIMS.n_mels, d_model=DIMS.width, encoder_layers=DIMS.layers, encoder_attention_heads=DIMS.heads,
        decoder_layers=1, decoder_attention_heads=DIMS.heads, encoder_ffn_dim=4 * DIMS.width,
        decoder_ffn_dim=4 * DIMS.width, vocab_size=64, max_source_positions=1500, max_target_positions=16,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    torch.manual_seed(seed)
    model = transformers.WhisperModel(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    return folder, model


def test_openai_checkpoint_loads_and_matches_the_module(tmp_path: Path) -> None:
    encoder = _random_encoder()
    weights = load_encoder_weights(str(_write_openai(encoder, tmp_path / "tiny.pt")))
    assert weights.dims == DIMS
    rebuilt = WhisperEncoder(weights.dims)
    rebuilt.load_state_dict(weights.state)
    mel = _mel()
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(mel), encoder(mel))


def test_ctranslate2_folder_loads_fp16_and_fp32(tmp_path: Path) -> None:
    encoder = _random_encoder(1)
    mel = _mel()
    with torch.no_grad():
        expected = encoder(mel)
    for dtype, tolerance in (("float32", 0.0), ("float16", 2e-2)):
        weights = load_encoder_weights(str(_write_ctranslate2(encoder, tmp_path / dtype, dtype)))
        assert weights.dims == DIMS
        rebuilt = WhisperEncoder(weights.dims)
        rebuilt.load_state_dict(weights.state)
        with torch.no_grad():
            got = rebuilt.eval()(mel)
        assert float((got - expected).abs().max() / expected.abs().max()) <= tolerance + 1e-6


def test_huggingface_folder_matches_transformers_hidden_states(tmp_path: Path) -> None:
    folder, reference = _write_huggingface(tmp_path / "hf")
    weights = load_encoder_weights(str(folder))
    assert weights.dims == DIMS
    encoder = WhisperEncoder(weights.dims)
    encoder.load_state_dict(weights.state)
    # transformers insists on exactly 30 s of frames; our encoder takes any length up to that.
    mel = _mel(30.0)[..., :3000]
    with torch.no_grad():
        ours = encoder.eval()(mel)
        theirs = torch.stack(reference.encoder(mel, output_hidden_states=True).hidden_states, dim=1)
    assert ours.shape == theirs.shape == (1, DIMS.layers + 1, 1500, DIMS.width)
    assert float((ours - theirs).abs().max() / theirs.abs().max()) < 1e-4


def test_positional_embeddings_are_cropped_not_padded() -> None:
    encoder = _random_encoder()
    short, long = _mel(1.0), _mel(3.0)
    with torch.no_grad():
        assert encoder(short).shape[2] == 50 and encoder(long).shape[2] == 150
        # The first frames do not depend on what follows beyond the attention context: not padded to 30 s.
        assert encoder(short).shape[2] < 1500


def _file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _saved(path: Path, obj: object) -> Path:
    torch.save(obj, path)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing", "not found"),
        (lambda p: _folder(p / "empty"), "no Whisper weights"),
        (lambda p: _file(p / "x.bin", b"123"), "not a Whisper checkpoint"),
        (lambda p: _file(p / "bad.pt", b"not a zip"), "not a plain openai-whisper"),
        (lambda p: _saved(p / "nodims.pt", {"dims": {}}), "needs 'dims' and"),
        (lambda p: _file(p / "ct2" / "model.bin", b"\x06\0\0\0").parent, "truncated"),
        (lambda p: _file(p / "hf" / "config.json", b"{}").parent, "no .safetensors"),
    ],
)
def test_each_missing_or_wrong_piece_is_a_one_line_error(tmp_path: Path, make, message: str) -> None:
    source = make(tmp_path)
    with pytest.raises(CheckpointError) as error:
        load_encoder_weights(str(source))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_pickled_code_in_an_openai_checkpoint_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (Path.write_text, (marker, "pwned"))

    path = tmp_path / "evil.pt"
    torch.save({"dims": {"n_audio_head": 4}, "model_state_dict": Exploit()}, path)
    with pytest.raises(CheckpointError):
        load_encoder_weights(str(path))
    assert not marker.exists()


def _installed(name: str) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in BUNDLED_ENCODERS[name].packages)


@pytest.mark.parametrize("name", sorted(BUNDLED_ENCODERS))
def test_bundled_weights_match_ctranslate2s_own_encoder(name: str, tmp_path: Path) -> None:
    if not _installed(name):
        pytest.skip(f"{name}: its wheels are not installed (the core install, or the whisper-tiny extra)")
    ctranslate2 = pytest.importorskip("ctranslate2", reason="ctranslate2 (the reference) is not installed")
    bundled = BUNDLED_ENCODERS[name]
    folder = tmp_path / name
    folder.mkdir()
    parts = [Path(next(iter(importlib.util.find_spec(p).submodule_search_locations))) / f
             for p, f in zip(bundled.packages, bundled.parts)]
    (folder / "model.bin").write_bytes(b"".join(p.read_bytes() for p in parts))
    for extra in parts[-1].parent.iterdir():  # config and vocabulary: ctranslate2 refuses a folder without them
        if extra.suffix in (".json", ".txt"):
            (folder / extra.name).write_bytes(extra.read_bytes())
    weights = load_encoder_weights(name)
    encoder = WhisperEncoder(weights.dims)
    encoder.load_state_dict(weights.state)
    from tests.conftest import synthetic_speechlike

    audio = torch.from_numpy(np.stack([synthetic_speechlike(4.0, seed=s) for s in range(2)]))
    mel = WhisperLogMel(weights.dims.n_mels)(audio)
    with torch.no_grad():
        ours = encoder.eval()(mel)[:, -1].numpy()
    reference = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32")
    theirs = np.array(reference.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.numpy())),
                                       to_cpu=True))
    relative = np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
    assert relative <= 1e-3, f"{name}: relative error {relative:.2e} against ctranslate2"
