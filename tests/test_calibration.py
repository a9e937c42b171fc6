"""Score calibration: recovery of a known LLR map, monotonicity, Cllr gain, robustness."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepfake_audio.calibration import Calibration, fit_calibration
from deepfake_audio.errors import ConfigError
from deepfake_audio.metrics import compute_cllr


def gaussian_scores(n_bona: int, n_spoof: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores whose true bona-fide LLR is exactly ``5 * raw + 0.6``.

    Latent s ~ N(+1, 1) for bona fide and N(-1, 1) for spoof has LLR(s) = 2 s. The detector
    reports raw = (s - 0.3) / 2.5, so s = 2.5 raw + 0.3 and LLR = 5 raw + 0.6.
    """
    rng = np.random.default_rng(seed)
    bona = rng.normal(1.0, 1.0, n_bona)
    spoof = rng.normal(-1.0, 1.0, n_spoof)
    return (bona - 0.3) / 2.5, (spoof - 0.3) / 2.5


def test_recovers_known_scale_and_offset_despite_class_imbalance() -> None:
    bona, spoof = gaussian_scores(20_000, 4_000)
    cal = fit_calibration(bona, spoof)
    assert cal.scale == pytest.approx(5.0, rel=0.05)
    assert cal.offset == pytest.approx(0.6, abs=0.08)


def test_llr_does_not_depend_on_the_fitting_prior() -> None:
    """A well-specified LLR is prior-free: fitting for another prior gives the same map."""
    bona, spoof = gaussian_scores(20_000, 20_000, seed=1)
    balanced = fit_calibration(bona, spoof)
    skewed = fit_calibration(bona, spoof, prior_spoof=0.2)
    assert skewed.scale == pytest.approx(balanced.scale, rel=0.05)
    assert skewed.offset == pytest.approx(balanced.offset, abs=0.1)


def test_p_fake_decreases_with_score() -> None:
    bona, spoof = gaussian_scores(2_000, 2_000, seed=2)
    cal = fit_calibration(bona, spoof)
    p = cal.p_fake(np.linspace(-3, 3, 101))
    assert np.all(np.diff(p) < 0)
    assert np.all((p > 0) & (p < 1))


def test_identity_and_prior() -> None:
    ident = Calibration.identity()
    assert ident.p_fake(0.0) == pytest.approx(0.5)
    assert ident.p_fake(2.0) == pytest.approx(1 / (1 + math.e**2))
    # llr 0 carries no evidence, so the posterior equals the prior
    assert ident.p_fake(0.0, prior_spoof=0.2) == pytest.approx(0.2)
    assert isinstance(ident.p_fake(1.0), float)
    assert Calibration(scale=2.0, offset=-1.0).llr(np.array([0.0, 1.0])).tolist() == [-1.0, 1.0]
    # no overflow warnings for extreme scores
    assert Calibration.identity().p_fake(np.array([-1e6, 1e6])).tolist() == [1.0, 0.0]


def test_calibration_improves_cllr_on_misscaled_scores() -> None:
    bona, spoof = gaussian_scores(5_000, 5_000, seed=3)
    raw_cllr = compute_cllr(bona, spoof)
    cal = fit_calibration(bona, spoof)
    fitted_cllr = compute_cllr(cal.llr(bona), cal.llr(spoof))
    true_cllr = compute_cllr(5 * bona + 0.6, 5 * spoof + 0.6)
    assert fitted_cllr < raw_cllr - 0.1
    # the fit minimises Cllr (+ a tiny L2 term) on these scores, so it cannot lose to the true map
    assert fitted_cllr <= true_cllr + 1e-3


def test_separable_scores_give_finite_calibration() -> None:
    cal = fit_calibration([1.0, 2.0, 3.0], [-1.0, -2.0])
    assert math.isfinite(cal.scale) and math.isfinite(cal.offset)
    assert 0 < cal.scale < 100
    assert cal.p_fake(-1.5) > 0.99 and cal.p_fake(2.0) < 0.01


def test_constant_scores_give_flat_calibration() -> None:
    cal = fit_calibration([1.0, 1.0], [1.0, 1.0, 1.0])
    assert cal.p_fake(1.0) == pytest.approx(0.5, abs=1e-6)


def test_dict_round_trip_and_validation() -> None:
    cal = Calibration(scale=3.5, offset=-0.25)
    assert Calibration.from_dict(cal.to_dict()) == cal
    with pytest.raises(ConfigError, match="scale"):
        Calibration.from_dict({"offset": 1.0})
    with pytest.raises(ConfigError, match="finite"):
        Calibration.from_dict({"scale": float("nan"), "offset": 0.0})


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError, match="NaN/inf"):
        fit_calibration([0.0, float("nan")], [1.0])
    with pytest.raises(ValueError, match="empty"):
        fit_calibration([], [1.0])
    with pytest.raises(ValueError, match="prior_spoof"):
        fit_calibration([0.0], [1.0], prior_spoof=1.0)
    with pytest.raises(ValueError, match="prior_spoof"):
        Calibration.identity().p_fake(0.0, prior_spoof=0.0)
