"""Every plot returns a Figure that renders to a non-trivial PNG without a display."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plots need the optional matplotlib extra")

from matplotlib.figure import Figure

from deepfake_audio import plots
from deepfake_audio.metrics import classification_report, compute_eer


@pytest.fixture(scope="module")
def scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(1.5, 1.0, 800), rng.normal(-1.0, 1.2, 2400)


def _saved(fig: Figure, path: Path) -> Path:
    assert isinstance(fig, Figure)
    fig.savefig(path, dpi=80)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 8_000  # a blank canvas is ~2-5 kB
    return path


def _texts(fig: Figure) -> str:
    ax = fig.axes[0]
    legend = ax.get_legend()
    parts = [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
    parts += [t.get_text() for t in legend.get_texts()] if legend else []
    parts += [t.get_text() for t in ax.texts]
    return "\n".join(parts)


def test_det(tmp_path: Path, scores) -> None:
    bona, spoof = scores
    weak = (bona * 0.3, spoof * 0.3 + 0.5)
    fig = plots.plot_det({"strong": (bona, spoof), "weak": weak})
    _saved(fig, tmp_path / "det.png")
    eer = compute_eer(bona, spoof)[0]
    assert f"strong (EER {100 * eer:.2f} %)" in _texts(fig)
    # one curve + one EER marker per system, plus the diagonal
    assert len(fig.axes[0].lines) == 5


def test_det_perfect_separation_stays_finite(tmp_path: Path) -> None:
    fig = plots.plot_det({"perfect": ([2.0, 3.0], [0.0, 1.0])})
    _saved(fig, tmp_path / "det_perfect.png")
    assert all(np.isfinite(line.get_xydata()).all() for line in fig.axes[0].lines)


def test_roc(tmp_path: Path, scores) -> None:
    bona, spoof = scores
    fig = plots.plot_roc({"model": (bona, spoof)})
    _saved(fig, tmp_path / "roc.png")
    # AUC = P(spoof scores below bona fide), estimated directly
    auc = np.mean(spoof[:, None] < bona[None, :])
    assert f"model (AUC {auc:.3f})" in _texts(fig)


def test_confusion_matrix(tmp_path: Path) -> None:
    report = classification_report([1, 1, 1, 0, 0, 0], [0.9, 0.8, 0.3, 0.1, 0.4, 0.2], 0.5)
    fig = plots.plot_confusion_matrix(report)
    _saved(fig, tmp_path / "cm.png")
    cells = _texts(fig)
    # TN 2/3, FP 1/3, FN 0, TP 3/3
    for text in ("2\n66.7 %", "1\n33.3 %", "0\n0.0 %", "3\n100.0 %"):
        assert text in cells
    assert "threshold 0.5" in cells
    # the bare confusion_matrix entry is accepted too
    plots.plot_confusion_matrix(report["confusion_matrix"])
    with pytest.raises(ValueError, match="confusion_matrix"):
        plots.plot_confusion_matrix({"accuracy": 1.0})


def test_score_histogram(tmp_path: Path, scores) -> None:
    bona, spoof = scores
    fig = plots.plot_score_histogram(bona, spoof, threshold=0.25)
    _saved(fig, tmp_path / "hist.png")
    assert "threshold 0.25" in _texts(fig)
    assert "bona fide (n=800)" in _texts(fig)


def test_timeline(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    starts = np.arange(0.0, 60.0, 2.0)
    p = np.clip(0.2 + 0.1 * rng.standard_normal(starts.size), 0, 1)
    p[10:15] = 0.9  # a spliced-in fake region
    windows = [(s, s + 4.0, float(v)) for s, v in zip(starts, p)]
    fig = plots.plot_timeline(windows, threshold=0.5)
    _saved(fig, tmp_path / "timeline.png")
    assert "above threshold" in _texts(fig) and "below threshold" in _texts(fig)
    assert fig.axes[0].get_xlim() == (0.0, 62.0)


@pytest.mark.parametrize(
    "windows, message",
    [
        ([], "non-empty"),
        ([(0.0, 1.0)], "non-empty"),
        ([(1.0, 1.0, 0.5)], "end_s > start_s"),
        ([(0.0, 1.0, 1.5)], r"\[0, 1\]"),
        ([(0.0, 1.0, float("nan"))], "NaN"),
    ],
)
def test_timeline_rejects_bad_windows(windows, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plots.plot_timeline(windows)


def test_empty_curves_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        plots.plot_det({})
    with pytest.raises(ValueError, match="empty"):
        plots.plot_roc({})


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfake_audio.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(MissingExtraError, match=r"deepfake-audio\[plots\]"):
        plots.plot_roc({"model": ([1.0], [0.0])})
