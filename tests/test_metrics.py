"""Golden, hand-computed checks of the metrics against the ASVspoof reference definitions."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from deepfake_audio import metrics
from deepfake_audio.metrics import (
    classification_report,
    compute_act_dcf,
    compute_cllr,
    compute_eer,
    compute_min_dcf,
    compute_min_tdcf_2019,
    compute_min_tdcf_2021,
    det_curve,
    eer_by_group,
    split_scores,
)

# A shared 6-trial case. Sorted (mergesort): 0.1s 0.2s 0.3b 0.4s 0.8b 0.9b
#   frr = bona rejected / 3  = [0, 0, 0, 1/3, 1/3, 2/3, 1]
#   far = spoof accepted / 3 = [1, 2/3, 1/3, 1/3, 0, 0, 0]
#   |frr - far| is 0 at index 3 -> EER = 1/3, threshold = sorted[2] = 0.3
BONA6 = [0.9, 0.8, 0.3]
SPOOF6 = [0.1, 0.4, 0.2]

# A 14-trial case for the cost metrics: bona fide 1..10, spoof 0, 0.5, 1.5, 1.6.
# Sorted: 0s .5s 1b 1.5s 1.6s 2b 3b ... 10b
#   frr = [0, 0, 0, .1, .1, .1, .2, .3, ...]; far = [1, .75, .5, .5, .25, 0, 0, ...]
BONA14 = np.arange(1.0, 11.0)
SPOOF14 = [0.0, 0.5, 1.5, 1.6]

# ASV scores: target [1, 3], non-target [0, 2] -> ASV EER threshold = 1.0 (EER 0.5).
# At t = 1: Pmiss_asv = P(tar < 1) = 0, Pfa_asv = P(non >= 1) = 1/2,
#           Pfa_spoof_asv = P(spoof >= 1) = 2/4 (spoof ASV scores below).
ASV_TAR, ASV_NON, ASV_SPOOF = [1.0, 3.0], [0.0, 2.0], [-1.0, 0.5, 1.5, 2.5]


def test_det_curve_matches_hand_computation() -> None:
    frr, far, thr = det_curve(BONA6, SPOOF6)
    np.testing.assert_allclose(frr, [0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(far, [1, 2 / 3, 1 / 3, 1 / 3, 0, 0, 0])
    np.testing.assert_allclose(thr, [0.1 - 0.001, 0.1, 0.2, 0.3, 0.4, 0.8, 0.9])


def test_eer_small_case() -> None:
    eer, thr = compute_eer(BONA6, SPOOF6)
    assert eer == pytest.approx(1 / 3)
    assert thr == pytest.approx(0.3)


def test_eer_uneven_case_averages_the_two_rates() -> None:
    # Sorted: 0s 1b 1.5s 2b 3b. frr = [0, 0, 1/3, 1/3, 2/3, 1], far = [1, .5, .5, 0, 0, 0]
    # |frr - far| = [1, .5, 1/6, 1/3, 2/3, 1] -> index 2: EER = (1/3 + 1/2) / 2 = 5/12, thr = 1.0
    eer, thr = compute_eer([1.0, 2.0, 3.0], [0.0, 1.5])
    assert eer == pytest.approx(5 / 12)
    assert thr == 1.0


def test_eer_perfect_separation_is_zero() -> None:
    # Sorted 0s 1s 2b 3b: frr = [0,0,0,.5,1], far = [1,.5,0,0,0] -> index 2, thr = 1.0
    assert compute_eer([2.0, 3.0], [0.0, 1.0]) == (0.0, 1.0)


def test_eer_swapped_labels_is_one() -> None:
    """Score direction matters: bona fide scoring lower than every spoof is the worst case."""
    # Sorted 0b 1b 2s 3s: frr = [0,.5,1,1,1], far = [1,1,1,.5,0] -> index 2: EER = 1
    assert compute_eer([0.0, 1.0], [2.0, 3.0])[0] == 1.0


def test_eer_interleaved_identical_distributions_is_half() -> None:
    # Sorted 1b 2s 3b 4s 5b 6s 7b 8s: frr = [0,.25,.25,.5,.5,.75,.75,1,1],
    # far = [1,1,.75,.75,.5,.5,.25,.25,0] -> equal at index 4: EER = 0.5, thr = sorted[3] = 4
    assert compute_eer([1.0, 3.0, 5.0, 7.0], [2.0, 4.0, 6.0, 8.0]) == (0.5, 4.0)


def test_eer_random_identical_distributions_near_half() -> None:
    rng = np.random.default_rng(3)
    eer, _ = compute_eer(rng.normal(size=20_000), rng.normal(size=20_000))
    assert abs(eer - 0.5) < 0.015


def test_eer_ties_follow_reference_order() -> None:
    """Tied scores sort bona fide first (stable mergesort), exactly as the ASVspoof script does."""
    # Sorted 1b 1s 2b 2s 3b 3s: frr = [0,1/3,1/3,2/3,2/3,1,1], far = [1,1,2/3,2/3,1/3,1/3,0]
    # -> equal at index 3 (2/3, 2/3)
    assert compute_eer([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])[0] == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_eer_agrees_with_brute_force_sweep(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_bona, n_spoof = 150 + 37 * seed, 400 - 29 * seed
    bona = rng.normal(1.0, 1.0, n_bona)
    spoof = rng.normal(-0.5, 1.5, n_spoof)
    best = math.inf
    for t in np.concatenate([[-np.inf], bona, spoof, [np.inf]]):
        frr = np.mean(bona < t)
        far = np.mean(spoof >= t)
        best = min(best, max(frr, far))
    eer, thr = compute_eer(bona, spoof)
    assert abs(eer - best) <= 1 / min(n_bona, n_spoof)
    # the returned threshold really sits near the EER operating point (reject score <= thr)
    assert abs(np.mean(bona <= thr) - eer) <= 1 / min(n_bona, n_spoof)


def test_min_tdcf_2019_hand_computed() -> None:
    # C1 = 0.9405 * (1 - 1 * 0) - 0.0095 * 10 * 0.5 = 0.893;  C2 = 10 * 0.05 * (1 - 0.5) = 0.25
    # t-DCF_norm(s) = (0.893 frr + 0.25 far) / 0.25 = 3.572 frr + far
    # over the 14-trial DET: [1, .75, .5, .8572, .6072, .3572, .7144, ...] -> min = 0.3572
    value = compute_min_tdcf_2019(BONA14, SPOOF14, ASV_TAR, ASV_NON, ASV_SPOOF)
    assert value == pytest.approx(0.3572)
    assert compute_min_tdcf_2019(BONA14, SPOOF14, ASV_TAR, ASV_NON, ASV_SPOOF, asv_threshold=1.0) == value


def test_min_tdcf_2021_hand_computed() -> None:
    # C0 = 0.9405 * 1 * 0 + 0.0095 * 10 * 0.5 = 0.0475;  C1 = 0.9405 - 0.0475 = 0.893
    # C2 = 0.05 * 10 * 0.5 = 0.25;  normaliser = C0 + min(C1, C2) = 0.2975
    # best DET point is index 5 (frr .1, far 0): (0.0475 + 0.0893) / 0.2975 = 0.459832
    # (index 2, frr 0 far .5, gives (0.0475 + 0.125) / 0.2975 = 0.5798)
    value = compute_min_tdcf_2021(BONA14, SPOOF14, ASV_TAR, ASV_NON, ASV_SPOOF)
    assert value == pytest.approx(0.1368 / 0.2975)


def test_min_tdcf_rejects_asv_that_blocks_every_spoof() -> None:
    # every spoof below the ASV threshold -> C2 = 0 and the 2019 normaliser min(C1, C2) is 0
    with pytest.raises(ValueError, match="C2"):
        compute_min_tdcf_2019(BONA14, SPOOF14, ASV_TAR, ASV_NON, [-5.0, -4.0])


def test_min_tdcf_rejects_priors_not_summing_to_one() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        compute_min_tdcf_2021(BONA14, SPOOF14, ASV_TAR, ASV_NON, ASV_SPOOF, p_spoof=0.5)


def test_min_dcf_hand_computed() -> None:
    # weights 1 * 0.95 and 10 * 0.05 = 0.5, normaliser 0.5 -> cost = 1.9 frr + far
    # DET: [1, .75, .5, .69, .44, .19, .38, ...] -> min = 0.19 (frr .1, far 0)
    assert compute_min_dcf(BONA14, SPOOF14) == pytest.approx(0.19)
    # equal priors and costs -> frr + far; min is again at (0.1, 0) -> 0.1
    assert compute_min_dcf(BONA14, SPOOF14, p_spoof=0.5, c_miss=1, c_fa=1) == pytest.approx(0.1)


def test_act_dcf_hand_computed() -> None:
    # threshold = -ln(1.9) = -0.642: bona -1 is missed (1/3), spoof 0 is accepted (1/2)
    # (0.95 / 3 + 0.5 * 0.5) / 0.5 = 1.9 / 3 + 0.5 = 1.133333
    assert compute_act_dcf([-1.0, 0.5, 2.0], [-2.0, 0.0]) == pytest.approx(1.9 / 3 + 0.5)
    # a score exactly at the threshold is accepted (counted as a false alarm for spoof)
    thr = -math.log(1.9)
    assert compute_act_dcf([5.0], [thr]) == pytest.approx(1.0)


def test_cllr_hand_computed() -> None:
    # llr = 0 everywhere: 0.5 * (ln 2 + ln 2) / ln 2 = 1
    assert compute_cllr([0.0, 0.0], [0.0, 0.0, 0.0]) == pytest.approx(1.0)
    # llr = +-ln 3: each term ln(1 + 1/3) -> Cllr = log2(4/3) = 0.415037
    assert compute_cllr([math.log(3)], [-math.log(3)]) == pytest.approx(math.log2(4 / 3))
    # extreme but correct LLRs neither overflow nor cost anything
    assert compute_cllr([1e4], [-1e4]) == pytest.approx(0.0, abs=1e-12)
    # confidently wrong costs a lot: 0.5 * (100 + ln 2) / ln 2 bits
    assert compute_cllr([-100.0], [0.0]) == pytest.approx(0.5 * (100 + math.log(2)) / math.log(2), rel=1e-9)


def test_classification_report_small_case() -> None:
    labels = [1, 1, 1, 0, 0, 0]
    scores = [0.9, 0.8, 0.3, 0.1, 0.4, 0.2]
    # threshold 0.5: predicted spoof = {0.3 (bona, FP), 0.1, 0.4, 0.2 (spoof, TP)}
    # TP 3, FP 1, FN 0, TN 2: acc 5/6, precision 3/4, recall 1, F1 = 2*.75/(1.75) = 6/7,
    # specificity 2/3 -> balanced accuracy (1 + 2/3) / 2 = 5/6
    rep = classification_report(labels, scores, threshold=0.5)
    assert rep["accuracy"] == pytest.approx(5 / 6)
    assert rep["precision"] == pytest.approx(3 / 4)
    assert rep["recall"] == pytest.approx(1.0)
    assert rep["f1"] == pytest.approx(6 / 7)
    assert rep["balanced_accuracy"] == pytest.approx(5 / 6)
    assert rep["false_alarm_rate"] == pytest.approx(1 / 3)
    assert rep["miss_rate"] == 0.0
    assert (rep["n_bonafide"], rep["n_spoof"]) == (3, 3)
    assert rep["confusion_matrix"] == {
        "true_bonafide": {"pred_bonafide": 2, "pred_spoof": 1},
        "true_spoof": {"pred_bonafide": 0, "pred_spoof": 3},
    }


def test_classification_report_threshold_is_strict() -> None:
    # spoof iff score < threshold: a score equal to the threshold counts as bona fide
    rep = classification_report([1, 0], [0.3, 0.1], threshold=0.3)
    assert rep["confusion_matrix"]["true_bonafide"] == {"pred_bonafide": 1, "pred_spoof": 0}
    assert rep["accuracy"] == 1.0


def test_classification_report_no_positive_predictions() -> None:
    rep = classification_report([1, 0], [0.3, 0.1], threshold=-10.0)
    assert rep["precision"] == 0.0 and rep["recall"] == 0.0 and rep["f1"] == 0.0
    assert rep["balanced_accuracy"] == 0.5


def test_eer_by_group() -> None:
    labels = [1, 1, 1, 0, 0, 0, 0, 0]
    scores = [0.9, 0.8, 0.3, 0.1, 0.2, 0.4, 0.85, 0.95]
    groups = ["-", "-", "-", "A01", "A01", "A02", "A02", "A02"]
    out = eer_by_group(labels, scores, groups)
    assert list(out) == ["A01", "A02"]
    # A01: spoofs 0.1, 0.2 below every bona fide -> EER 0 with 3 bona fide vs 2 spoof
    assert out["A01"] == {"eer": 0.0, "threshold": 0.2, "n_bonafide": 3, "n_spoof": 2}
    # A02 vs all bona fide: sorted .3b .4s .8b .85s .9b .95s
    #   frr = [0,1/3,1/3,2/3,2/3,1,1], far = [1,1,2/3,2/3,1/3,1/3,0] -> equal at index 3
    #   EER = 2/3 (this attack fools the detector), thr = sorted[2] = 0.8
    assert out["A02"]["eer"] == pytest.approx(2 / 3)
    assert out["A02"]["threshold"] == 0.8
    assert out["A02"]["n_bonafide"] == 3 and out["A02"]["n_spoof"] == 3


def test_split_scores() -> None:
    bona, spoof = split_scores([1, 0, 1], [0.5, -1.0, 2.0])
    np.testing.assert_array_equal(bona, [0.5, 2.0])
    np.testing.assert_array_equal(spoof, [-1.0])


@pytest.mark.parametrize(
    "fn",
    [compute_eer, compute_min_dcf, compute_act_dcf, compute_cllr, det_curve],
)
def test_invalid_scores_raise(fn) -> None:
    with pytest.raises(ValueError, match="NaN/inf"):
        fn([0.1, float("nan")], [0.0])
    with pytest.raises(ValueError, match="NaN/inf"):
        fn([0.1], [float("inf")])
    with pytest.raises(ValueError, match="empty"):
        fn([], [0.0])
    with pytest.raises(ValueError, match="empty"):
        fn([0.1], [])


def test_invalid_labels_raise() -> None:
    with pytest.raises(ValueError, match="0 \\(spoof\\) or 1"):
        classification_report([1, 2], [0.1, 0.2], 0.0)
    with pytest.raises(ValueError, match="length"):
        classification_report([1, 0, 1], [0.1, 0.2], 0.0)
    with pytest.raises(ValueError, match="empty"):
        classification_report([1, 1], [0.1, 0.2], 0.0)
    with pytest.raises(ValueError, match="length"):
        eer_by_group([1, 0], [0.1, 0.2], ["a"])


def test_doctests() -> None:
    result = doctest.testmod(metrics)
    assert result.attempted > 0
    assert result.failed == 0
