"""Run a Hugging Face audio-classification model from a local folder: `--model hf:/path/to/folder`.

The folder is what `save_pretrained` writes (config.json, model.safetensors, preprocessor_config.json);
nothing is downloaded and only safetensors weights are read (a pytorch_model.bin would need pickle).
Which classes mean fake and which mean real is read from the config's `id2label`, so any spoof/bona fide
model works whatever its class order. The score is the bona-fide log-odds, as for every model here:
`logsumexp(real logits) - logsumexp(fake logits)` (for two classes, `logit_real - logit_fake`).

Such models ship no threshold or calibration: the threshold is 0 (the model's own argmax) and p_fake its
softmax probability of fake, until `deepfake-audio calibrate` writes a calibrated copy of the folder, whose
`deepfake_audio.json` then holds the fitted values.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfake_audio.checkpoint import CheckpointInfo
from deepfake_audio.errors import CheckpointError, require

PREFIX = "hf:"
HEADER_FILE = "deepfake_audio.json"  # our threshold/calibration next to the model; written by `calibrate`
DEFAULT_WINDOW_SECONDS = 4.0
SAMPLE_RATE = 16_000
# Label names as models on the Hub spell them, compared lower-case without separators.
FAKE_NAMES = {"spoof", "spoofed", "fake", "deepfake", "synthetic", "generated", "aigenerated", "machine"}
REAL_NAMES = {"bonafide", "real", "genuine", "human", "authentic", "natural", "original"}
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
_PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")


def is_hf_spec(model: str | os.PathLike | None) -> bool:
    """Whether a `--model` value names a Hugging Face folder (`hf:PATH`)."""
    return model is not None and str(model).startswith(PREFIX)


def map_labels(id2label: dict[Any, str], where: str) -> tuple[list[int], list[int]]:
    """Class indices meaning real and meaning fake; every class must be one or the other."""
    real, fake, unknown = [], [], []
    for index, label in sorted(((int(i), str(name)) for i, name in id2label.items())):
        key = re.sub(r"[^a-z]", "", label.lower())
        (real if key in REAL_NAMES else fake if key in FAKE_NAMES else unknown).append((index, label))
    names = ", ".join(f"{i}={label!r}" for i, label in sorted(real + fake + unknown))
    if unknown or not real or not fake:
        problem = (f"cannot tell fake from real for {', '.join(repr(label) for _, label in unknown)}" if unknown
                   else "needs at least one fake and one real class")
        raise CheckpointError(
            f"{where}: id2label ({names}) {problem}; name the classes e.g. 'spoof'/'fake' and "
            "'bonafide'/'real' in config.json's id2label"
        )
    return [i for i, _ in real], [i for i, _ in fake]


class HuggingFaceScorer:
    """Duck-types the parts of a `DetectorModel` that `Detector` uses, backed by a transformers model."""

    def __init__(self, folder: str | os.PathLike, device: str | torch.device = "cpu") -> None:
        folder = Path(str(folder).removeprefix(PREFIX)).expanduser()
        self.folder = folder
        _check_folder(folder)
        transformers = require("transformers", "ssl")
        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()  # a missing-key warning would break one-line output
        try:
            config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
            self.real, self.fake = map_labels(config.id2label, f"{folder}/config.json")
            self.extractor = transformers.AutoFeatureExtractor.from_pretrained(str(folder), local_files_only=True)
            self.model = transformers.AutoModelForAudioClassification.from_pretrained(
                str(folder), local_files_only=True, use_safetensors=True, trust_remote_code=False)
        except CheckpointError:
            raise
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"{folder}: not a loadable audio-classification model ({reason})") from None
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        self.rate = int(getattr(self.extractor, "sampling_rate", SAMPLE_RATE) or SAMPLE_RATE)
        header = _read_header(folder)
        window = float(header.get("window_seconds", DEFAULT_WINDOW_SECONDS))
        self.name = f"{PREFIX}{config.model_type}"
        self.num_samples = round(window * SAMPLE_RATE)
        labels = {str(i): config.id2label[i] for i in sorted(config.id2label)}
        self.info = CheckpointInfo(
            model=self.name,
            config={"duration": window, "sample_rate": SAMPLE_RATE, "folder": str(folder), "id2label": labels},
            threshold=float(header.get("threshold", 0.0)),
            calibration=header.get("calibration") or {"scale": 1.0, "offset": 0.0},
            extra=header.get("extra") or {"calibration_source": "none: the model's own softmax, threshold 0"},
        )

    def to(self, device: Any) -> HuggingFaceScorer:
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def eval(self) -> HuggingFaceScorer:
        self.model.eval()
        return self

    @torch.inference_mode()
    def score(self, batch: torch.Tensor) -> torch.Tensor:
        """Bona-fide log-odds for a batch of 16 kHz windows `(batch, samples)`."""
        clips = [row.detach().float().cpu().numpy() for row in batch]
        if self.rate != SAMPLE_RATE:  # the extractor expects its own rate; resample as audio.py does
            soxr = require("soxr", "ssl")
            clips = [soxr.resample(c, SAMPLE_RATE, self.rate, quality="HQ").astype(np.float32) for c in clips]
        inputs = self.extractor(clips, sampling_rate=self.rate, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        logits = self.model(**inputs).logits.float()
        return torch.logsumexp(logits[:, self.real], dim=1) - torch.logsumexp(logits[:, self.fake], dim=1)


def _check_folder(folder: Path) -> None:
    """One clear line for the usual ways a downloaded model folder is incomplete or unsafe."""
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: not a folder (hf: takes a local Hugging Face model folder)")
    missing = [name for name in ("config.json", "preprocessor_config.json") if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: incomplete Hugging Face model folder: no {' or '.join(missing)}")
    if not any((folder / name).is_file() for name in _WEIGHT_FILES):
        others = [name for name in _PICKLE_FILES if (folder / name).is_file()]
        hint = (f"; {others[0]} is not read (only safetensors weights are: convert it with save_pretrained("
                "safe_serialization=True) where you trust the file)") if others else ""
        raise CheckpointError(f"{folder}: no model.safetensors{hint}")


def _read_header(folder: Path) -> dict[str, Any]:
    path = folder / HEADER_FILE
    if not path.is_file():
        return {}
    try:
        header = json.loads(path.read_text())
        threshold = float(header.get("threshold", 0.0))
    except (ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{path}: unreadable ({e})") from None
    if not math.isfinite(threshold):
        raise CheckpointError(f"{path}: threshold must be finite")
    return header
