"""Score calibration: an affine map from raw detector scores to bona-fide log-likelihood ratios.

A raw score (higher = more bona fide) says little on its own; a calibrated LLR turns into a
probability of fake for any prior. The map is fitted by class-weighted logistic regression on
held-out scores (Platt scaling, as in BOSARIS-style linear calibration), so the training prior
does not leak into the LLR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepfake_audio.errors import ConfigError
from deepfake_audio.metrics import _scores

# Small L2 penalty (on standardised parameters) keeps the fit finite on perfectly separated data.
_L2 = 1e-4


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form is exact and overflow-free for any finite x
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _check_prior(prior_spoof: float) -> None:
    if not 0 < prior_spoof < 1:
        raise ValueError(f"prior_spoof must be in (0, 1), got {prior_spoof}")


@dataclass(frozen=True)
class Calibration:
    """Affine score calibration: ``llr = scale * score + offset`` (bona-fide natural-log LLR)."""

    scale: float
    offset: float

    @classmethod
    def identity(cls) -> Calibration:
        """Treat raw scores as LLRs already (``p_fake = sigmoid(-score)`` at a 50/50 prior)."""
        return cls(scale=1.0, offset=0.0)

    def llr(self, score: float | np.ndarray) -> float | np.ndarray:
        """Bona-fide log-likelihood ratio of a score or an array of scores."""
        out = self.scale * np.asarray(score, dtype=np.float64) + self.offset
        return float(out) if out.ndim == 0 else out

    def p_fake(self, score: float | np.ndarray, prior_spoof: float = 0.5) -> float | np.ndarray:
        """Posterior probability that the audio is fake, given the prior probability of a fake."""
        _check_prior(prior_spoof)
        bona_log_odds = np.asarray(self.llr(score)) + _logit(1 - prior_spoof)
        out = _sigmoid(-bona_log_odds)
        return float(out) if out.ndim == 0 else out

    def to_dict(self) -> dict[str, float]:
        """Plain-JSON form, stored next to checkpoints."""
        return {"scale": float(self.scale), "offset": float(self.offset)}

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        """Inverse of :meth:`to_dict`; rejects missing or non-finite fields."""
        try:
            scale, offset = float(data["scale"]), float(data["offset"])
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"calibration needs numeric 'scale' and 'offset' fields, got {data!r}") from e
        if not (math.isfinite(scale) and math.isfinite(offset)):
            raise ConfigError(f"calibration fields must be finite, got scale={scale}, offset={offset}")
        return cls(scale=scale, offset=offset)


def fit_calibration(
    bonafide_scores: np.ndarray,
    spoof_scores: np.ndarray,
    prior_spoof: float = 0.5,
    max_iter: int = 50,
) -> Calibration:
    """Fit ``llr = scale * score + offset`` by prior-weighted logistic regression (damped Newton).

    Each class gets total weight equal to its prior (bona fide ``1 - prior_spoof``, spoof
    ``prior_spoof``) whatever its count, and the prior log-odds enter as a fixed offset, so the
    result is an LLR independent of the class balance of the validation set.

    Parameters
    ----------
    bonafide_scores, spoof_scores : np.ndarray
        Raw held-out scores (higher = more bona fide).
    prior_spoof : float
        Prior the fit is optimised for; 0.5 gives the symmetric Cllr objective.
    max_iter : int
        Newton iterations; the problem has two parameters, so 10-20 are usually enough.

    Returns
    -------
    Calibration
        Finite even for perfectly separated scores (a tiny L2 penalty bounds the scale).

    Raises
    ------
    ValueError
        On empty or non-finite scores, or a prior outside (0, 1).
    """
    _check_prior(prior_spoof)
    bona = _scores(bonafide_scores, "bonafide_scores")
    spoof = _scores(spoof_scores, "spoof_scores")
    x = np.concatenate([bona, spoof])
    y = np.concatenate([np.ones(bona.size), np.zeros(spoof.size)])
    w = np.concatenate(
        [np.full(bona.size, (1 - prior_spoof) / bona.size), np.full(spoof.size, prior_spoof / spoof.size)]
    )
    prior_log_odds = _logit(1 - prior_spoof)

    # Standardise so one penalty strength and one step rule fit any score range.
    mean, std = float(x.mean()), float(x.std()) or 1.0
    z = np.stack([(x - mean) / std, np.ones_like(x)], axis=1)

    def loss(theta: np.ndarray) -> float:
        t = z @ theta + prior_log_odds
        # weighted binary cross-entropy: log(1 + e^-t) for bona fide, log(1 + e^t) for spoof
        return float(w @ np.logaddexp(0.0, np.where(y == 1, -t, t)) + 0.5 * _L2 * theta @ theta)

    theta = np.zeros(2)
    current = loss(theta)
    for _ in range(max_iter):
        p = _sigmoid(z @ theta + prior_log_odds)
        grad = z.T @ (w * (p - y)) + _L2 * theta
        if np.abs(grad).max() < 1e-12:
            break
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + _L2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        # backtracking keeps Newton monotone when the curvature is tiny (near-separable data)
        t = 1.0
        while t > 1e-8:
            candidate = loss(theta - t * step)
            if candidate <= current:
                break
            t *= 0.5
        else:
            break
        theta, current = theta - t * step, candidate

    scale = theta[0] / std
    return Calibration(scale=float(scale), offset=float(theta[1] - scale * mean))
