"""Evaluation and report figures: DET, ROC, confusion matrix, score histogram, per-segment timeline.

Every function returns a :class:`matplotlib.figure.Figure` bound to the non-interactive Agg canvas;
nothing is shown and pyplot's global state is never touched, so the functions are safe in servers,
tests and headless runs. Save with ``fig.savefig("det.png", dpi=150)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from deepfake_audio.errors import require
from deepfake_audio.metrics import ArrayLike, _scores, compute_eer, det_curve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# DET axes cannot show 0 % or 100 % (infinite on the normal-deviate scale): rates are clipped to
# the axis range, so a curve that reaches 0 % runs along the plot edge instead of vanishing.
_DET_RANGE = (0.0005, 0.95)
_DET_TICKS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9)
_BONA_COLOR, _SPOOF_COLOR = "tab:blue", "tab:red"


def _new_figure(width: float = 6.0, height: float = 5.0) -> Figure:
    """A Figure on an Agg canvas, created without pyplot."""
    require("matplotlib", "plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _probit(p: np.ndarray) -> np.ndarray:
    """Standard normal quantile (the DET axis transform), via the stdlib to avoid needing scipy."""
    inv = NormalDist().inv_cdf
    return np.array([inv(v) for v in np.clip(p, *_DET_RANGE)])


def _thin(frr: np.ndarray, far: np.ndarray, max_points: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Drop interior points of straight horizontal/vertical DET runs, then subsample long curves."""
    step_frr, step_far = np.diff(frr) != 0, np.diff(far) != 0
    keep = np.ones(frr.size, dtype=bool)
    # a point is redundant when it is entered and left along the same single axis
    turns = (step_frr[:-1] != step_frr[1:]) | (step_far[:-1] != step_far[1:])
    keep[1:-1] = turns | (step_frr[1:] & step_far[1:])
    frr, far = frr[keep], far[keep]
    if frr.size > max_points:
        idx = np.unique(np.linspace(0, frr.size - 1, max_points).round().astype(int))
        frr, far = frr[idx], far[idx]
    return frr, far


def _curve_axes(curves: Mapping[str, tuple[ArrayLike, ArrayLike]]) -> tuple[Figure, Any]:
    """Reject an empty `curves` mapping, then make the figure and axes a DET or ROC plot draws on."""
    if not curves:
        raise ValueError("curves is empty: pass {name: (bonafide_scores, spoof_scores)}")
    fig = _new_figure()
    return fig, fig.add_subplot()


def _finish_curve_axes(ax: Any, xlabel: str, ylabel: str, title: str, legend_loc: str) -> None:
    """Axis labels, title, light grid and a small legend, shared by the DET and ROC plots."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc=legend_loc, fontsize="small")


def plot_det(curves: Mapping[str, tuple[ArrayLike, ArrayLike]], title: str = "DET curve") -> Figure:
    """DET curves on normal-deviate axes, one per system, each with its EER point marked.

    Parameters
    ----------
    curves : mapping of name -> (bonafide_scores, spoof_scores)
        Scores with higher = more bona fide.
    title : str
        Axes title.
    """
    fig, ax = _curve_axes(curves)
    for name, (bona, spoof) in curves.items():
        frr, far, _ = det_curve(bona, spoof)
        eer, _ = compute_eer(bona, spoof)
        frr, far = _thin(frr, far)
        (line,) = ax.plot(_probit(far), _probit(frr), label=f"{name} (EER {100 * eer:.2f} %)")
        ax.plot(*_probit(np.array([eer, eer])), "o", color=line.get_color(), markersize=6)
    lim = _probit(np.array(_DET_RANGE))
    ax.plot(lim, lim, ":", color="grey", linewidth=0.8, label="EER line")
    ticks = _probit(np.array(_DET_TICKS))
    labels = [f"{100 * t:g}" for t in _DET_TICKS]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    _finish_curve_axes(
        ax,
        "False acceptance rate: spoof accepted as bona fide (%)",
        "False rejection rate: bona fide rejected (%)",
        title,
        "upper right",
    )
    return fig


def plot_roc(curves: Mapping[str, tuple[ArrayLike, ArrayLike]], title: str = "ROC curve") -> Figure:
    """ROC curves with spoof as the positive class: fakes caught vs bona fide falsely flagged."""
    fig, ax = _curve_axes(curves)
    for name, (bona, spoof) in curves.items():
        frr, far, _ = det_curve(bona, spoof)
        # flagging as fake = rejecting; the DET sweep from "flag nothing" to "flag everything"
        fpr, tpr = frr, 1.0 - far
        auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    _finish_curve_axes(
        ax,
        "False positive rate: bona fide flagged as fake",
        "True positive rate: fakes detected",
        title,
        "lower right",
    )
    return fig


def plot_confusion_matrix(report: Mapping, title: str = "Confusion matrix") -> Figure:
    """Two-by-two confusion matrix from :func:`deepfake_audio.metrics.classification_report`.

    Cells show counts and the share of their true class; accepts the whole report or just its
    ``confusion_matrix`` entry.
    """
    cm = report.get("confusion_matrix", report)
    try:
        counts = np.array(
            [[cm[f"true_{t}"][f"pred_{p}"] for p in ("bonafide", "spoof")] for t in ("bonafide", "spoof")],
            dtype=np.int64,
        )
    except (KeyError, TypeError) as e:
        raise ValueError(
            "report must hold confusion_matrix[true_*][pred_*] as classification_report returns"
        ) from e
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)

    fig = _new_figure(5.0, 4.2)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            color = "white" if share[i, j] > 0.6 else "black"
            ax.text(j, i, f"{counts[i, j]}\n{100 * share[i, j]:.1f} %", ha="center", va="center", color=color)
    names = ["bona fide", "spoof"]
    ax.set_xticks([0, 1], names)
    ax.set_yticks([0, 1], names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    if "threshold" in report:
        title = f"{title} (threshold {report['threshold']:.3g})"
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="share of true class")
    return fig


def plot_score_histogram(
    bonafide_scores: ArrayLike,
    spoof_scores: ArrayLike,
    threshold: float | None = None,
    bins: int = 50,
    title: str = "Score distribution",
) -> Figure:
    """Overlaid, per-class normalised score histograms with an optional threshold line."""
    bona = _scores(bonafide_scores, "bonafide_scores")
    spoof = _scores(spoof_scores, "spoof_scores")
    edges = np.histogram_bin_edges(np.concatenate([bona, spoof]), bins=bins)
    fig = _new_figure(6.5, 4.0)
    ax = fig.add_subplot()
    # density=True so a 9:1 class imbalance does not hide the minority class
    ax.hist(bona, bins=edges, density=True, alpha=0.5, color=_BONA_COLOR, label=f"bona fide (n={bona.size})")
    ax.hist(spoof, bins=edges, density=True, alpha=0.5, color=_SPOOF_COLOR, label=f"spoof (n={spoof.size})")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    ax.set_xlabel("Score (higher = more bona fide)")
    ax.set_ylabel("Density")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return fig


def plot_timeline(
    windows: Sequence[tuple[float, float, float]],
    threshold: float = 0.5,
    title: str = "P(fake) over time",
) -> Figure:
    """Per-window probability of fake along a long recording.

    Parameters
    ----------
    windows : sequence of (start_s, end_s, p_fake)
        Analysis windows in seconds; they may overlap (sliding windows).
    threshold : float
        P(fake) decision threshold, drawn as a dashed line; windows above it are red.
    """
    arr = np.asarray(windows, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] != 3:
        raise ValueError("windows must be a non-empty list of (start_s, end_s, p_fake) tuples")
    if not np.isfinite(arr).all():
        raise ValueError("windows hold NaN/inf values")
    start, end, p = arr.T
    if (end <= start).any():
        raise ValueError("every window needs end_s > start_s")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p_fake values must lie in [0, 1]")

    fig = _new_figure(8.0, 3.2)
    ax = fig.add_subplot()
    fake = p >= threshold
    styles = ((False, _BONA_COLOR, "below threshold"), (True, _SPOOF_COLOR, "above threshold"))
    for flag, color, label in styles:
        sel = fake == flag
        if sel.any():
            ax.hlines(p[sel], start[sel], end[sel], colors=color, linewidth=4, alpha=0.8, label=label)
    order = np.argsort(start)
    ax.plot(((start + end) / 2)[order], p[order], color="grey", linewidth=1, alpha=0.7)
    ax.axhline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    ax.set_xlim(start.min(), end.max())
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("P(fake)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    return fig
