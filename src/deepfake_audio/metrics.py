"""Detection metrics: EER, min t-DCF (2019 and 2021), ASVspoof 5 DCF/CLLR and threshold reports.

Convention everywhere: a higher score means *more bona fide*; labels are 1 = bona fide, 0 = spoof.
The EER, DET curve and t-DCF follow the ASVspoof reference evaluation code (mergesort of all scores,
a DET curve with one point per sorted score plus a leading "accept everything" point, EER taken at
the point where the two error rates are closest), so numbers are comparable with published ones.
Pure numpy, no IO.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _scores(values: ArrayLike, name: str) -> np.ndarray:
    """Flatten to float64 and reject empty or non-finite input."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} is empty: every metric needs at least one score of each class")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(f"{name} holds {int(bad.sum())} NaN/inf value(s), the first at index {first}")
    return arr


def _labels_scores(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (labels, scores) pair; labels must be 0/1 (1 = bona fide)."""
    lab = np.asarray(labels).ravel()
    sco = np.asarray(scores, dtype=np.float64).ravel()
    if lab.shape != sco.shape:
        raise ValueError(f"labels and scores differ in length: {lab.size} vs {sco.size}")
    if not np.isin(lab, (0, 1)).all():
        raise ValueError("labels must be 0 (spoof) or 1 (bona fide)")
    lab = lab.astype(np.int64)
    _scores(sco[lab == 1], "bona fide scores")
    _scores(sco[lab == 0], "spoof scores")
    return lab, sco


def split_scores(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Split scores into (bona fide, spoof) arrays using 0/1 labels (1 = bona fide)."""
    lab, sco = _labels_scores(labels, scores)
    return sco[lab == 1], sco[lab == 0]


def det_curve(
    bonafide_scores: ArrayLike, spoof_scores: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Miss (FRR) and false-alarm (FAR) rates at every threshold, ASVspoof reference style.

    Parameters
    ----------
    bonafide_scores, spoof_scores : array-like
        CM scores; higher = more bona fide.

    Returns
    -------
    frr : (N + 1,) np.ndarray
        Fraction of bona fide trials rejected; starts at 0.
    far : (N + 1,) np.ndarray
        Fraction of spoof trials accepted; starts at 1.
    thresholds : (N + 1,) np.ndarray
        Point ``k > 0`` rejects the ``k`` lowest scores, i.e. ``score <= thresholds[k]``
        (without ties); point 0 uses ``min(score) - 0.001`` and rejects nothing.
    """
    bona = _scores(bonafide_scores, "bonafide_scores")
    spoof = _scores(spoof_scores, "spoof_scores")
    all_scores = np.concatenate([bona, spoof])
    labels = np.concatenate([np.ones(bona.size), np.zeros(spoof.size)])
    # mergesort is stable, so tied scores keep the bona-fide-first order of the reference code
    order = np.argsort(all_scores, kind="mergesort")
    labels = labels[order]
    bona_below = np.cumsum(labels)
    spoof_above = spoof.size - (np.arange(1, all_scores.size + 1) - bona_below)
    frr = np.concatenate([[0.0], bona_below / bona.size])
    far = np.concatenate([[1.0], spoof_above / spoof.size])
    thresholds = np.concatenate([[all_scores[order[0]] - 0.001], all_scores[order]])
    return frr, far, thresholds


def compute_eer(bonafide_scores: ArrayLike, spoof_scores: ArrayLike) -> tuple[float, float]:
    """Equal error rate and its threshold, ASVspoof reference algorithm.

    Parameters
    ----------
    bonafide_scores, spoof_scores : array-like
        CM scores; higher = more bona fide.

    Returns
    -------
    eer : float
        Fraction in [0, 1] (multiply by 100 for the usual percentage).
    threshold : float
        The sorted score at the DET point where FRR and FAR are closest.

    Raises
    ------
    ValueError
        If a class is empty or a score is NaN/inf.

    Examples
    --------
    >>> eer, thr = compute_eer([0.9, 0.8, 0.3], [0.1, 0.4, 0.2])
    >>> round(eer, 4), thr
    (0.3333, 0.3)
    """
    frr, far, thresholds = det_curve(bonafide_scores, spoof_scores)
    i = int(np.argmin(np.abs(frr - far)))
    return float((frr[i] + far[i]) / 2), float(thresholds[i])


def _asv_error_rates(
    asv_target: ArrayLike, asv_nontarget: ArrayLike, asv_spoof: ArrayLike, asv_threshold: float | None
) -> tuple[float, float, float]:
    """ASV (Pmiss_target, Pfa_nontarget, Pfa_spoof) at the given or the ASV-EER threshold."""
    tar = _scores(asv_target, "asv_target")
    non = _scores(asv_nontarget, "asv_nontarget")
    spf = _scores(asv_spoof, "asv_spoof")
    if asv_threshold is None:
        _, asv_threshold = compute_eer(tar, non)
    p_miss = float(np.mean(tar < asv_threshold))
    p_fa = float(np.mean(non >= asv_threshold))
    p_fa_spoof = float(np.mean(spf >= asv_threshold))
    return p_miss, p_fa, p_fa_spoof


def _min_det_cost(
    bonafide_scores: ArrayLike,
    spoof_scores: ArrayLike,
    w_miss: float,
    w_fa: float,
    norm: float,
    offset: float = 0.0,
) -> float:
    """``min_s (offset + w_miss Pmiss(s) + w_fa Pfa(s)) / norm`` over every DET point."""
    p_miss, p_fa, _ = det_curve(bonafide_scores, spoof_scores)
    return float(np.min(offset + w_miss * p_miss + w_fa * p_fa) / norm)


def _check_priors(p_target: float, p_nontarget: float, p_spoof: float) -> None:
    if min(p_target, p_nontarget, p_spoof) < 0 or abs(p_target + p_nontarget + p_spoof - 1) > 1e-10:
        raise ValueError(
            f"priors must be non-negative and sum to 1; got p_target={p_target}, "
            f"p_nontarget={p_nontarget}, p_spoof={p_spoof}"
        )


def compute_min_tdcf_2019(
    bonafide_cm: ArrayLike,
    spoof_cm: ArrayLike,
    asv_target: ArrayLike,
    asv_nontarget: ArrayLike,
    asv_spoof: ArrayLike,
    *,
    p_spoof: float = 0.05,
    p_target: float = 0.9405,
    p_nontarget: float = 0.0095,
    c_miss_asv: float = 1.0,
    c_fa_asv: float = 10.0,
    c_miss_cm: float = 1.0,
    c_fa_cm: float = 10.0,
    asv_threshold: float | None = None,
) -> float:
    """Normalised minimum t-DCF as defined for ASVspoof 2019 (``tDCF_python_v2``).

    ``C1 = Ptar (Cmiss_cm - Cmiss_asv Pmiss_asv) - Pnon Cfa_asv Pfa_asv``,
    ``C2 = Cfa_cm Pspoof (1 - Pmiss_spoof_asv)`` and
    ``min t-DCF = min_s (C1 Pmiss_cm(s) + C2 Pfa_cm(s)) / min(C1, C2)``.

    Parameters
    ----------
    bonafide_cm, spoof_cm : array-like
        CM scores of bona fide and spoof trials (higher = more bona fide).
    asv_target, asv_nontarget, asv_spoof : array-like
        ASV scores of target, non-target and spoof trials.
    asv_threshold : float, optional
        ASV operating point; defaults to the ASV EER threshold, as the organisers do.

    Raises
    ------
    ValueError
        On empty/non-finite input, priors that do not sum to 1, or an ASV system that makes a
        cost weight negative or zero (the normalisation is then undefined).
    """
    _check_priors(p_target, p_nontarget, p_spoof)
    p_miss_asv, p_fa_asv, p_fa_spoof_asv = _asv_error_rates(
        asv_target, asv_nontarget, asv_spoof, asv_threshold
    )
    c1 = p_target * (c_miss_cm - c_miss_asv * p_miss_asv) - p_nontarget * c_fa_asv * p_fa_asv
    c2 = c_fa_cm * p_spoof * p_fa_spoof_asv
    if c1 <= 0 or c2 <= 0:
        raise ValueError(f"t-DCF weights must be positive (C1={c1:.4g}, C2={c2:.4g}); check the ASV scores")
    return _min_det_cost(bonafide_cm, spoof_cm, c1, c2, min(c1, c2))


def compute_min_tdcf_2021(
    bonafide_cm: ArrayLike,
    spoof_cm: ArrayLike,
    asv_target: ArrayLike,
    asv_nontarget: ArrayLike,
    asv_spoof: ArrayLike,
    *,
    p_spoof: float = 0.05,
    p_target: float = 0.9405,
    p_nontarget: float = 0.0095,
    c_miss: float = 1.0,
    c_fa: float = 10.0,
    c_fa_spoof: float = 10.0,
    asv_threshold: float | None = None,
) -> float:
    """Normalised minimum t-DCF, revised formulation used by ASVspoof 2021 LA.

    ``C0 = Ptar Cmiss Pmiss_asv + Pnon Cfa Pfa_asv``, ``C1 = Ptar Cmiss - C0``,
    ``C2 = Pspoof Cfa_spoof Pfa_spoof_asv``;
    ``min t-DCF = min_s (C0 + C1 Pmiss_cm(s) + C2 Pfa_cm(s)) / (C0 + min(C1, C2))``.

    Parameters
    ----------
    bonafide_cm, spoof_cm : array-like
        CM scores of bona fide and spoof trials (higher = more bona fide).
    asv_target, asv_nontarget, asv_spoof : array-like
        ASV scores of target, non-target and spoof trials.
    asv_threshold : float, optional
        ASV operating point; defaults to the ASV EER threshold.

    Raises
    ------
    ValueError
        On empty/non-finite input, bad priors, or a zero normalisation term.
    """
    _check_priors(p_target, p_nontarget, p_spoof)
    p_miss_asv, p_fa_asv, p_fa_spoof_asv = _asv_error_rates(
        asv_target, asv_nontarget, asv_spoof, asv_threshold
    )
    c0 = p_target * c_miss * p_miss_asv + p_nontarget * c_fa * p_fa_asv
    c1 = p_target * c_miss - c0
    c2 = p_spoof * c_fa_spoof * p_fa_spoof_asv
    default = c0 + min(c1, c2)
    if default <= 0:
        raise ValueError(
            f"t-DCF normaliser is {default:.4g} (C0={c0:.4g}, C1={c1:.4g}, C2={c2:.4g}); check the ASV scores"
        )
    return _min_det_cost(bonafide_cm, spoof_cm, c1, c2, default, offset=c0)


def _dcf_weights(p_spoof: float, c_miss: float, c_fa: float) -> tuple[float, float, float]:
    """(weight on Pmiss, weight on Pfa, normaliser) of the ASVspoof 5 DCF."""
    if not 0 < p_spoof < 1 or c_miss <= 0 or c_fa <= 0:
        raise ValueError(f"need 0 < p_spoof < 1 and positive costs; got {p_spoof=}, {c_miss=}, {c_fa=}")
    w_miss, w_fa = c_miss * (1 - p_spoof), c_fa * p_spoof
    return w_miss, w_fa, min(w_miss, w_fa)


def compute_min_dcf(
    bonafide_scores: ArrayLike,
    spoof_scores: ArrayLike,
    p_spoof: float = 0.05,
    c_miss: float = 1.0,
    c_fa: float = 10.0,
) -> float:
    """Normalised minimum DCF over all thresholds (ASVspoof 5 Track 1 primary metric).

    ``min_s [Cmiss (1 - Pspoof) Pmiss(s) + Cfa Pspoof Pfa(s)] / min(Cmiss (1 - Pspoof), Cfa Pspoof)``;
    with the defaults this is ``min_s 1.9 Pmiss(s) + Pfa(s)``.
    """
    w_miss, w_fa, norm = _dcf_weights(p_spoof, c_miss, c_fa)
    return _min_det_cost(bonafide_scores, spoof_scores, w_miss, w_fa, norm)


def compute_act_dcf(
    bonafide_scores: ArrayLike,
    spoof_scores: ArrayLike,
    p_spoof: float = 0.05,
    c_miss: float = 1.0,
    c_fa: float = 10.0,
) -> float:
    """Normalised actual DCF at the Bayes threshold ``-ln(beta)`` for scores that are bona-fide LLRs.

    ``beta = Cmiss (1 - Pspoof) / (Cfa Pspoof)`` (1.9 by default, threshold about -0.642); a trial
    is rejected when its score is below the threshold. Only meaningful for calibrated scores.
    """
    bona = _scores(bonafide_scores, "bonafide_scores")
    spoof = _scores(spoof_scores, "spoof_scores")
    w_miss, w_fa, norm = _dcf_weights(p_spoof, c_miss, c_fa)
    threshold = -np.log(w_miss / w_fa)
    p_miss = np.mean(bona < threshold)
    p_fa = np.mean(spoof >= threshold)
    return float((w_miss * p_miss + w_fa * p_fa) / norm)


def compute_cllr(bonafide_scores: ArrayLike, spoof_scores: ArrayLike) -> float:
    """Log-likelihood-ratio cost in bits, for scores that are bona-fide natural-log LLRs.

    ``0.5 (mean log(1 + e^-llr_bona) + mean log(1 + e^llr_spoof)) / ln 2``: 0 is perfect,
    1 is an uninformative system that always says llr = 0.
    """
    bona = _scores(bonafide_scores, "bonafide_scores")
    spoof = _scores(spoof_scores, "spoof_scores")
    # logaddexp(0, x) = log(1 + e^x) without overflow for large |llr|
    return float(0.5 * (np.mean(np.logaddexp(0.0, -bona)) + np.mean(np.logaddexp(0.0, spoof))) / np.log(2))


def _safe_ratio(num: float, den: float) -> float:
    """num / den, or 0.0 when den is 0 (e.g. precision with no positive predictions)."""
    return float(num / den) if den else 0.0


def classification_report(labels: ArrayLike, scores: ArrayLike, threshold: float) -> dict:
    """Accuracy, precision, recall, F1 and confusion matrix at a threshold, with *spoof* as positive.

    A trial is predicted spoof ("detected fake") iff ``score < threshold``. Precision and recall
    are those of the spoof class; ratios with a zero denominator are reported as 0.0.

    Parameters
    ----------
    labels : array-like of {0, 1}
        1 = bona fide, 0 = spoof.
    scores : array-like
        Higher = more bona fide.
    threshold : float
        Decision threshold.

    Returns
    -------
    dict
        ``threshold, n_bonafide, n_spoof, accuracy, precision, recall, f1, balanced_accuracy,
        false_alarm_rate`` (bona fide flagged as fake), ``miss_rate`` (fakes passed as bona fide)
        and ``confusion_matrix = {"true_bonafide": {"pred_bonafide": n, "pred_spoof": n},
        "true_spoof": {"pred_bonafide": n, "pred_spoof": n}}``.
    """
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    lab, sco = _labels_scores(labels, scores)
    pred_spoof = sco < threshold
    is_spoof = lab == 0
    tp = int(np.sum(pred_spoof & is_spoof))
    fp = int(np.sum(pred_spoof & ~is_spoof))
    fn = int(np.sum(~pred_spoof & is_spoof))
    tn = int(np.sum(~pred_spoof & ~is_spoof))
    precision = _safe_ratio(tp, tp + fp)
    recall = _safe_ratio(tp, tp + fn)
    specificity = _safe_ratio(tn, tn + fp)
    return {
        "threshold": float(threshold),
        "n_bonafide": tn + fp,
        "n_spoof": tp + fn,
        "accuracy": (tp + tn) / lab.size,
        "precision": precision,
        "recall": recall,
        "f1": _safe_ratio(2 * precision * recall, precision + recall),
        "balanced_accuracy": (recall + specificity) / 2,
        "false_alarm_rate": 1.0 - specificity,
        "miss_rate": 1.0 - recall,
        "confusion_matrix": {
            "true_bonafide": {"pred_bonafide": tn, "pred_spoof": fp},
            "true_spoof": {"pred_bonafide": fn, "pred_spoof": tp},
        },
    }


def eer_by_group(labels: ArrayLike, scores: ArrayLike, groups: Sequence[object]) -> dict[str, dict]:
    """EER of *all* bona fide trials against the spoofs of each group (attack, TTS system, codec...).

    This is how ASVspoof reports per-attack EER: bona fide trials are shared by every group, and
    their own group values are ignored. Groups are keyed by ``str(value)`` and sorted.

    Returns
    -------
    dict[str, dict]
        ``{group: {"eer": float, "threshold": float, "n_bonafide": int, "n_spoof": int}}``.
    """
    lab, sco = _labels_scores(labels, scores)
    keys = np.asarray([str(g) for g in groups], dtype=object)
    if keys.size != lab.size:
        raise ValueError(f"groups and scores differ in length: {keys.size} vs {lab.size}")
    bona = sco[lab == 1]
    out: dict[str, dict] = {}
    for key in sorted(set(keys[lab == 0])):
        spoof = sco[(lab == 0) & (keys == key)]
        eer, thr = compute_eer(bona, spoof)
        out[key] = {"eer": eer, "threshold": thr, "n_bonafide": int(bona.size), "n_spoof": int(spoof.size)}
    return out
