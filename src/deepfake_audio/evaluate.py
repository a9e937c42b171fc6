"""Evaluation: score a labelled corpus, then write the score file, metrics, breakdowns and plots."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfake_audio.data.corpora import breakdown_value
from deepfake_audio.data.dataset import WaveformCache
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.detector import Detector
from deepfake_audio.errors import DeepfakeAudioError, ProtocolError
from deepfake_audio.metrics import (
    classification_report,
    compute_act_dcf,
    compute_cllr,
    compute_eer,
    compute_min_dcf,
    eer_by_group,
)

log = logging.getLogger(__name__)

Degradation = Callable[[np.ndarray, np.random.Generator], np.ndarray]
BREAKDOWN_FIELDS = ("system", "source", "codec", "transmission", "subset")


@dataclass
class ScoredTrials:
    trials: list[Trial]
    scores: np.ndarray  # bona-fide log-odds, aligned with trials
    failed: list[tuple[Trial, str]] = field(default_factory=list)


def score_trials(
    detector: Detector,
    trials: Sequence[Trial],
    *,
    degrade: Degradation | None = None,
    seed: int = 0,
    cache: WaveformCache | None = None,
    progress: bool = False,
) -> ScoredTrials:
    """Score every trial; unreadable files are reported in `failed` and left out of the metrics."""
    from tqdm import tqdm

    cache = cache or WaveformCache()
    kept: list[Trial] = []
    failed: list[tuple[Trial, str]] = []

    def items() -> Iterator[tuple[str, torch.Tensor]]:
        for i, trial in enumerate(tqdm(trials, desc="scoring", disable=None if progress else True, leave=False)):
            try:
                waveform = cache.get(trial, keep=degrade is not None)
            except DeepfakeAudioError as e:
                failed.append((trial, str(e)))
                continue
            if degrade is not None:
                rng = np.random.default_rng([seed, i])
                waveform = torch.from_numpy(np.ascontiguousarray(degrade(waveform.numpy().copy(), rng),
                                                                 dtype=np.float32))
            kept.append(trial)
            yield str(trial.path), waveform

    predictions = list(detector.score_waveforms(items(), withhold_no_speech=False))
    scored = [(t, p) for t, p in zip(kept, predictions) if p.error is None]
    failed += [(t, p.error) for t, p in zip(kept, predictions) if p.error is not None]
    return ScoredTrials([t for t, _ in scored], np.array([p.score for _, p in scored], dtype=np.float64), failed)


def summarize(scored: ScoredTrials, detector: Detector, breakdowns: Sequence[str] = BREAKDOWN_FIELDS) -> dict[str, Any]:
    """EER, DCFs, CLLR, the seed report's classification metrics at the model's threshold, breakdowns."""
    labels = np.array([t.label is Label.BONAFIDE for t in scored.trials])
    scores = scored.scores
    if labels.all() or not labels.any():
        raise ProtocolError("evaluation needs both bona fide and spoof trials")
    bona, spoof = scores[labels], scores[~labels]
    eer, eer_threshold = compute_eer(bona, spoof)
    llr = detector.scale * scores + detector.offset  # calibrated bona-fide log-likelihood ratios
    report: dict[str, Any] = {
        "num_trials": int(scores.size),
        "num_bonafide": int(labels.sum()),
        "num_spoof": int((~labels).sum()),
        "num_failed": len(scored.failed),
        "eer": float(eer),
        "eer_threshold": float(eer_threshold),
        "min_dcf": float(compute_min_dcf(bona, spoof)),
        "act_dcf": float(compute_act_dcf(llr[labels], llr[~labels])),
        "cllr": float(compute_cllr(llr[labels], llr[~labels])),
        "threshold": detector.threshold,
        "at_threshold": classification_report(labels.astype(int), scores, detector.threshold),
        "breakdowns": {},
    }
    for name in dict.fromkeys([*BREAKDOWN_FIELDS, *breakdowns]):
        groups = [str(breakdown_value(t, name) or "") for t in scored.trials]
        spoof_groups = {g for g, is_bona in zip(groups, labels) if not is_bona and g}
        if len(spoof_groups) > 1 or (name != "system" and len(set(groups)) > 1):
            report["breakdowns"][name] = eer_by_group(labels.astype(int), scores, groups)
    return report


def write_report(report: dict[str, Any], out_dir: Path, scored: ScoredTrials, title: str = "Evaluation") -> None:
    """report.json, report.md, and the plots (when matplotlib is installed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=_jsonable))
    (out_dir / "report.md").write_text(to_markdown(report, title))
    if scored.failed:
        (out_dir / "failed.txt").write_text("".join(f"{msg}\n" for _, msg in scored.failed))
    if not plots_available():
        log.warning("plots skipped: matplotlib is not installed (pip install 'deepfake-audio[plots]')")
        return
    from deepfake_audio import plots

    labels = np.array([t.label is Label.BONAFIDE for t in scored.trials])
    curves = {"all": (scored.scores[labels], scored.scores[~labels])}
    _save(plots.plot_det(curves), out_dir / "det.png")
    _save(plots.plot_roc(curves), out_dir / "roc.png")
    _save(plots.plot_confusion_matrix(report["at_threshold"]), out_dir / "confusion_matrix.png")
    _save(plots.plot_score_histogram(curves["all"][0], curves["all"][1], report["threshold"]),
          out_dir / "scores.png")


def plots_available() -> bool:
    """Whether the `plots` extra (matplotlib) can be imported here."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _save(figure: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_markdown(report: dict[str, Any], title: str) -> str:
    at = report["at_threshold"]
    lines = [
        f"# {title}", "",
        f"Trials: {report['num_trials']} ({report['num_bonafide']} bona fide, {report['num_spoof']} spoof);"
        f" failed to read: {report['num_failed']}.", "",
        "| metric | value |", "|---|---|",
        f"| EER | {100 * report['eer']:.2f}% (threshold {report['eer_threshold']:.4f}) |",
        f"| minDCF (ASVspoof 5 costs) | {report['min_dcf']:.4f} |",
        f"| actDCF (calibrated) | {report['act_dcf']:.4f} |",
        f"| CLLR (calibrated) | {report['cllr']:.4f} |",
        f"| accuracy at the model threshold {report['threshold']:.4f} | {100 * at['accuracy']:.2f}% |",
        f"| balanced accuracy | {100 * at['balanced_accuracy']:.2f}% |",
        f"| precision / recall / F1 (spoof = positive) | {at['precision']:.4f} / {at['recall']:.4f} / {at['f1']:.4f} |",
    ]
    cm = at["confusion_matrix"]
    lines += ["", f"## Confusion matrix at the model threshold {report['threshold']:.4f}", "",
              "| true label | predicted bona fide | predicted spoof |", "|---|---|---|",
              f"| bona fide | {cm['true_bonafide']['pred_bonafide']} | {cm['true_bonafide']['pred_spoof']} |",
              f"| spoof | {cm['true_spoof']['pred_bonafide']} | {cm['true_spoof']['pred_spoof']} |"]
    if report.get("warnings"):
        lines[2:2] = [*(f"**Warning:** {w}" for w in report["warnings"]), ""]
    if "degradations" in report:
        lines += ["", "## Under degradation", "", "| condition | EER |", "|---|---|",
                  f"| clean | {100 * report['eer']:.2f}% |"]
        lines += [f"| {k} | {100 * v['eer']:.2f}% |" for k, v in report["degradations"].items()]
    for name, groups in report["breakdowns"].items():
        lines += ["", f"## EER by {name}", "",
                  f"All bona fide trials against each {name}'s spoofs.", "",
                  f"| {name} | spoof trials | EER |", "|---|---|---|"]
        ranked = sorted(groups.items(), key=lambda kv: -(kv[1].get("eer") or 0.0))
        for group, row in ranked:
            eer = row.get("eer")
            lines.append(f"| {group} | {row.get('n_spoof', '')} | {'n/a' if eer is None else f'{100 * eer:.2f}%'} |")
    return "\n".join(lines) + "\n"
