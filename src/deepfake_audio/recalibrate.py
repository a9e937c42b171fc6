"""`deepfake-audio calibrate`: fit a model's threshold and p_fake calibration to labelled data the user
has, and write a new model with them, without retraining.

The rule is the one training uses for its release checkpoint: the threshold at the data's EER point,
the calibration's slope from a class-balanced logistic fit (`calibration.fit_calibration`), its offset
set so that p_fake = 0.5 exactly at the threshold, keeping label and probability consistent. What it
was fitted on is recorded in the new header (`calibration_source`, `calibrated_on`), with the values it
replaced. The input model is never modified.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_audio.calibration import fit_calibration
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.data.corpora import read_dataset
from deepfake_audio.data.trial import Label
from deepfake_audio.detector import Detector, bundled_model_path
from deepfake_audio.errors import CheckpointError, ProtocolError
from deepfake_audio.evaluate import score_trials
from deepfake_audio.huggingface import HEADER_FILE, HuggingFaceScorer, is_hf_spec
from deepfake_audio.metrics import compute_eer

# Below this many clips of a class the fitted threshold moves a lot with the sample: say so.
FEW_TRIALS = 20


@dataclass
class CalibrationResult:
    out: Path
    threshold: float
    scale: float
    eer: float
    num_bonafide: int
    num_spoof: int
    num_unreadable: int

    def summary(self) -> str:
        line = (f"wrote {self.out}: threshold {self.threshold:+.4f} (EER {100 * self.eer:.2f}% on "
                f"{self.num_bonafide} bona fide / {self.num_spoof} spoof clips"
                f"{f', {self.num_unreadable} unreadable skipped' if self.num_unreadable else ''}), "
                f"p_fake = sigmoid(-{self.scale:.4f} * (score - threshold))")
        if min(self.num_bonafide, self.num_spoof) < FEW_TRIALS:
            line += f"\nwarning: fewer than {FEW_TRIALS} clips of a class: the fitted values are rough"
        return line


def calibrate_model(
    model: str | os.PathLike | None,
    dataset: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    subset: str | None = None,
    device: str = "auto",
    progress: bool = True,
) -> CalibrationResult:
    """Score `root` (read as `dataset`) with `model`, fit threshold and calibration, write `out`."""
    source = str(model) if model is not None else str(bundled_model_path())
    out = Path(out)
    if not is_hf_spec(source) and out.resolve() == Path(source).resolve():
        raise CheckpointError(f"{out}: OUT must differ from MODEL (the input model is never modified)")
    detector = Detector.from_pretrained(source, device=device)
    options = {"subset": subset} if subset else {}
    trials = read_dataset(dataset, root, **options)
    scored = score_trials(detector, trials, progress=progress)
    labels = np.array([t.label is Label.BONAFIDE for t in scored.trials], dtype=bool)
    if labels.all() or not labels.any():
        raise ProtocolError(f"{root}: calibration needs both bona fide and spoof clips that can be read")
    bona, spoof = scored.scores[labels], scored.scores[~labels]
    eer, threshold = compute_eer(bona, spoof)
    scale = float(fit_calibration(bona, spoof).scale)
    if scale <= 0:  # the fit would turn "more bona fide" into "more fake": no threshold could agree with it
        raise ProtocolError(
            f"{root}: the model scores these spoof clips as more bona fide than the bona fide ones (EER "
            f"{100 * eer:.0f}%), so no calibration keeps the score's direction; check the labels"
        )
    calibration = {"scale": scale, "offset": -scale * float(threshold)}
    fitted_on = {
        "data": str(Path(root).resolve()),
        "dataset": dataset,
        "subset": subset,
        "num_bonafide": int(labels.sum()),
        "num_spoof": int((~labels).sum()),
        "num_unreadable": len(scored.failed),
        "eer": float(eer),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    extra = {
        **detector.info.extra,
        "calibration_source": f"fitted by `deepfake-audio calibrate` on {fitted_on['data']} "
                              f"({fitted_on['num_bonafide']} bona fide, {fitted_on['num_spoof']} spoof), "
                              "model weights unchanged",
        "calibrated_on": fitted_on,
        "previous_calibration": {
            "threshold": detector.threshold,
            "calibration": dict(detector.info.calibration),
            "calibration_source": detector.info.extra.get("calibration_source"),
        },
    }
    _write(detector, source, out, float(threshold), calibration, extra)
    return CalibrationResult(out, float(threshold), scale, float(eer), int(labels.sum()), int((~labels).sum()),
                             len(scored.failed))


def _write(detector: Detector, source: str, out: Path, threshold: float, calibration: dict[str, float],
           extra: dict[str, Any]) -> None:
    """The same model with new threshold and calibration, in the input's own format."""
    model = detector.model
    if isinstance(model, HuggingFaceScorer):
        # A copy of the folder with our header beside it; `hf:OUT` then loads the calibrated model.
        if out.exists():
            raise CheckpointError(f"{out}: already exists (calibrate writes a new model folder there)")
        shutil.copytree(model.folder, out)
        header = {"threshold": threshold, "calibration": calibration, "extra": extra,
                  "window_seconds": model.num_samples / 16_000}
        (out / HEADER_FILE).write_text(json.dumps(header, indent=2))
        return
    if Path(source).suffix.lower() == ".onnx":
        from deepfake_audio.onnx_export import rewrite_header

        rewrite_header(source, out, threshold=threshold, calibration=calibration, extra=extra)
        return
    save_checkpoint(model, out, threshold=threshold, calibration=calibration, extra=extra)
