"""Import the clovaai AASIST / AASIST-L weights (github.com/clovaai/aasist, MIT, NAVER Corp.) into a
deepfake-audio checkpoint that reproduces the reference implementation's outputs.

The reference state dict names differ from ours only by layout (`encoder.<i>.0.` is one block inside a
one-element Sequential there) and naming; the weights are copied unchanged. What the reference does
differently from our defaults is set in the model config, each with the reason:

- the fixed sinc filters are rebuilt with the reference's float32 rounding (`sinc_float32_grid`);
- everything else that changes outputs is already our default: `Residual_block.bn1` computed but its
  result dropped (`pre_activation=False`), the four branch poolings all at `pool_ratios[2]`, the
  heterogeneous layers all at `temperatures[2]`, the master node broadcast from `(1, 1, dim)`.

The reference feeds the model 64,600 samples, repeat-padded from the start when shorter, untrimmed,
which is what `Detector` does with a window of that length and `trim_silence` off.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.errors import CheckpointError
from deepfake_audio.importers.torch_state import load_state_dict, sha256_of
from deepfake_audio.models import DetectorModel, build_model

WINDOW_SAMPLES = 64_600  # the reference's nb_samp
SOURCE = "https://github.com/clovaai/aasist"
LICENCE = "MIT, Copyright (c) 2021-present NAVER Corp."
# SHA-256 of the files the authors published under models/weights/ (commit a04c986).
PUBLISHED_SHA256 = {
    "51d2d9cf0738172f61e2a384ec50a54a55363240f67c971ed55a92435bc1a1c0": "AASIST",
    "814331d088032bb4c3fa61cc014789eadeed464209dd094ab3a2dd6ffbdce27a": "AASIST-L",
}
VARIANTS = {"AASIST": "aasist", "AASIST-L": "aasist-l"}  # reference name -> our registered model
CALIBRATION_NOTE = (
    "from the reference training, not re-fitted: threshold 0 is the network's own decision (bona fide "
    "logit above spoof logit) and p_fake its softmax probability of spoof, as trained on ASVspoof 2019 "
    "LA with the reference's class-weighted loss; run `deepfake-audio calibrate` to fit them to your data"
)

# Reference name pattern -> our name, applied in order.
_RENAMES = [
    (r"^pos_S$", "pos_spectral"),
    (r"^encoder\.(\d+)\.0\.conv_downsample\.", r"encoder.\1.shortcut."),
    (r"^encoder\.(\d+)\.0\.", r"encoder.\1."),
    (r"^GAT_layer_S\.", "gat_spectral."),
    (r"^GAT_layer_T\.", "gat_temporal."),
    (r"^pool_S\.", "pool_spectral."),
    (r"^pool_T\.", "pool_temporal."),
    (r"^pool_hS(\d)\.", r"pool_spectral\1."),
    (r"^pool_hT(\d)\.", r"pool_temporal\1."),
    # The reference calls these with (temporal, spectral): its "type 1" nodes are ours too.
    (r"^HtrgGAT_layer_ST(\d\d)\.", r"hs_gal\1."),
    (r"\.att_weightM$", ".att_weight_master"),
    (r"\.att_projM\.", ".att_proj_master."),
    (r"\.proj_with_attM\.", ".proj_with_att_master."),
    (r"\.proj_without_attM\.", ".proj_without_att_master."),
]


def reference_to_ours(name: str) -> str:
    """Our parameter name for a reference state-dict key."""
    for pattern, replacement in _RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


def build_reference_model(variant: str) -> DetectorModel:
    """Our model configured as the reference `variant` (AASIST or AASIST-L) runs."""
    return build_model(VARIANTS[variant], duration=WINDOW_SAMPLES / 16_000, sinc_float32_grid=True)


def _mismatch(state: dict[str, torch.Tensor], model: DetectorModel) -> str | None:
    """Why `state` (our names) does not fit `model`, or None when every name and shape matches."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    missing, unexpected = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or unexpected:
        return f"{len(missing)} missing (e.g. {missing[:1]}), {len(unexpected)} unexpected (e.g. {unexpected[:1]})"
    wrong = [k for k in expected if expected[k] != got[k]]
    if wrong:
        return f"{wrong[0]} has shape {list(got[wrong[0]])}, expected {list(expected[wrong[0]])}"
    return None


def infer_variant(state: dict[str, torch.Tensor]) -> tuple[str, DetectorModel]:
    """Which reference model the shapes belong to, with our model built for it."""
    reasons = []
    for variant in VARIANTS:
        model = build_reference_model(variant)
        problem = _mismatch(state, model)
        if problem is None:
            return variant, model
        reasons.append(f"{variant}: {problem}")
    raise CheckpointError("the weights match neither AASIST nor AASIST-L (" + "; ".join(reasons) + ")")


def import_clovaai_aasist(source: str | os.PathLike, out: str | os.PathLike) -> dict[str, Any]:
    """Convert a clovaai AASIST(-L) `.pth` into our checkpoint at `out`; returns what was imported."""
    source, out = Path(source), Path(out)
    reference = load_state_dict(source)
    state = {reference_to_ours(k): v for k, v in reference.items()}
    try:
        variant, model = infer_variant(state)
    except CheckpointError as e:
        raise CheckpointError(f"{source}: {e}") from None
    model.load_state_dict(state, strict=True)
    digest = sha256_of(source)
    published = PUBLISHED_SHA256.get(digest)
    provenance = {
        "format": "clovaai-aasist",
        "variant": variant,
        "file": source.name,
        "sha256": digest,
        "published_file": published == variant,  # byte-identical to the authors' release
        "source": SOURCE,
        "licence": LICENCE,
    }
    save_checkpoint(
        model.eval(), out, threshold=0.0, calibration={"scale": 1.0, "offset": 0.0},
        extra={
            "imported_from": provenance,
            "calibration_source": CALIBRATION_NOTE,
            "trim_silence": False,  # the reference scores the file as read
            "preprocessing": f"first {WINDOW_SAMPLES} samples, repeat-padded from the start when shorter, "
                             "no silence trimming, no normalisation (longer audio: sliding windows)",
            "training_data": "ASVspoof 2019 LA train",
        },
    )
    return {"variant": variant, "model": model.name, "published_file": published == variant,
            "sha256": digest, "out": str(out)}
