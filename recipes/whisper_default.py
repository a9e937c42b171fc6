"""Train the bundled default (whisper-stats) from cached statistics, with leave-sources-out validation.

Input: the views written by `recipes/whisper_features.py` (the same clips under several augmentations).
1. Folds hold out whole sources (collections), so every out-of-fold score comes from a model that never
   saw that collection, its speakers or its recording chain. All views of a clip share its fold.
2. The classifier is an L2-regularised logistic regression on standardised statistics, classes balanced.
   Each regularisation strength in `--C` is scored out of fold; the one with the lowest pooled
   out-of-fold EER over all views (clean and coded together, one threshold) is kept. Weighting every
   (source, label) cell equally was measured worse on the external test (25-26% against 22% EER).
3. The threshold (equal-error point) and the p_fake calibration are fitted on the kept strength's
   out-of-fold scores; the final classifier is then fitted on everything and written as a checkpoint.

`--encoder-layers N` keeps the statistics of the input states and the lowest N blocks only (the same
numbers as a model that runs just those blocks: the final layer norm applies to the last block only).

`--hold-out A,B` leaves those sources out of training entirely and records them in the checkpoint
(`extra["validation_data"]`): a twin of the shipped model for measurements that need audio it never saw,
such as the segment rule (`bench/segments.py --model TWIN`). `--window-hop` and `--segment-rule` store
the detector settings measured for this design.

Usage:
    python recipes/whisper_default.py --cache CACHE_DIR --views clean,codec --encoder-layers 3 --out OUT
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch

from deepfake_audio.calibration import fit_calibration
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.errors import require
from deepfake_audio.metrics import compute_eer
from deepfake_audio.models import build_model


def load_views(cache: Path, views: list[str]) -> dict[str, np.ndarray]:
    parts = [np.load(cache / f"{v}.npz") for v in views]
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("stats", "label", "source", "system", "path")}
    out["view"] = np.concatenate([np.full(len(p["label"]), v) for v, p in zip(views, parts)])
    return out


def source_folds(sources: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index per row: whole sources to folds, largest first, each to the fold with fewest rows."""
    names = np.unique(sources)
    np.random.default_rng(seed).shuffle(names)
    sizes = {s: int((sources == s).sum()) for s in names}
    fold_of: dict[str, int] = {}
    load = np.zeros(k)
    for s in sorted(names, key=lambda s: -sizes[s]):
        fold_of[s] = int(np.argmin(load))
        load[fold_of[s]] += sizes[s]
    return np.array([fold_of[s] for s in sources])


def class_weights(labels: np.ndarray, clip_weights: np.ndarray | None = None) -> np.ndarray:
    """Per-row weights under which both classes weigh the same; `clip_weights` (optional) are kept within
    each class, and the result averages 1 over the rows."""
    if clip_weights is None:
        share = labels.mean()
        return np.where(labels == 1, 0.5 / share, 0.5 / (1 - share))
    share = clip_weights[labels == 1].sum() / clip_weights.sum()
    weights = clip_weights * np.where(labels == 1, 0.5 / share, 0.5 / (1 - share))
    return weights / weights.mean()


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation, the latter floored so constant columns do not blow up."""
    return x.mean(axis=0), np.maximum(x.std(axis=0), 1e-4)


def fit(x: np.ndarray, labels: np.ndarray, c: float, clip_weights: np.ndarray | None = None):
    """Standardiser and logistic regression fitted on `x`; returns (mean, std, coef, intercept).
    Both classes weigh the same; `clip_weights` (optional) weigh clips within their class."""
    linear_model = require("sklearn.linear_model", "dev")
    mean, std = standardiser(x)
    model = linear_model.LogisticRegression(C=c, max_iter=500)
    model.fit((x - mean) / std, labels, sample_weight=class_weights(labels, clip_weights))
    return mean, std, model.coef_[0], float(model.intercept_[0])


def decision(fitted, x: np.ndarray) -> np.ndarray:
    mean, std, coef, intercept = fitted
    return ((x - mean) / std) @ coef + intercept


def eer(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(compute_eer(scores[labels == 1], scores[labels == 0])[0])


def as_model(fitted, encoder: str, encoder_layers: int):
    """A whisper-stats model whose score (logit 1 - logit 0) is the fitted decision function."""
    model = build_model("whisper-stats", encoder=encoder, encoder_layers=encoder_layers).eval()
    set_linear_head(model, fitted)
    return model


def set_linear_head(model, fitted) -> None:
    """Put a fitted standardiser and logistic regression into a whisper-stats model's classifier."""
    mean, std, coef, intercept = fitted
    linear = model.classifier[-1]
    with torch.no_grad():
        model.stats_mean.copy_(torch.from_numpy(mean).float())
        model.stats_std.copy_(torch.from_numpy(std).float())
        half = torch.from_numpy(coef / 2).float()
        linear.weight.copy_(torch.stack([-half, half]))
        linear.bias.copy_(torch.tensor([-intercept / 2, intercept / 2]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--views", default="clean,codec")
    parser.add_argument("--encoder", default="whisper-base")
    parser.add_argument("--encoder-layers", type=int, default=3, help="0: every block")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--C", default="0.0001,0.0003,0.001", help="regularisation strengths to compare")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hold-out", default="", help="comma-separated sources left out of training")
    parser.add_argument("--window-hop", type=float, help="the detector's window hop for this model (fraction)")
    parser.add_argument("--segment-rule", type=json.loads, help='e.g. \'{"min_p_fake": 0.7, "min_span_s": 10}\'')
    args = parser.parse_args()

    data = load_views(args.cache, args.views.split(","))
    held_out = sorted(s for s in args.hold_out.split(",") if s)
    if held_out:
        unknown = set(held_out) - set(np.unique(data["source"]))
        if unknown:
            raise SystemExit(f"--hold-out: no such sources in {args.cache}: {', '.join(sorted(unknown))}")
        keep = ~np.isin(data["source"], held_out)
        data = {k: v[keep] for k, v in data.items()}
    width = build_model("whisper-stats", encoder=args.encoder, encoder_layers=args.encoder_layers).width
    states = args.encoder_layers + 1 if args.encoder_layers else data["stats"].shape[1] // (2 * width)
    x = data["stats"][:, : states * 2 * width].astype(np.float64)
    labels = data["label"].astype(int)
    folds = source_folds(data["source"], args.folds, args.seed)
    print(f"{len(labels)} rows ({args.views}), {len(np.unique(data['source']))} sources, {args.folds} source folds, "
          f"{x.shape[1]} statistics", flush=True)
    results = []
    for c in (float(v) for v in args.C.split(",")):
        started = time.time()
        oof = np.zeros(len(labels))
        for fold in range(args.folds):
            train, test = folds != fold, folds == fold
            oof[test] = decision(fit(x[train], labels[train], c), x[test])
        by_view = {str(v): eer(labels[data["view"] == v], oof[data["view"] == v]) for v in np.unique(data["view"])}
        results.append({"C": c, "pooled_oof_eer": eer(labels, oof), "oof_eer_by_view": by_view, "oof": oof})
        print(f"C={c}: pooled out-of-fold EER {100 * results[-1]['pooled_oof_eer']:.1f}% "
              f"({', '.join(f'{v} {100 * e:.1f}' for v, e in by_view.items())}) in {time.time() - started:.0f} s",
              flush=True)
    best = min(results, key=lambda r: r["pooled_oof_eer"])
    oof = best["oof"]
    threshold = float(compute_eer(oof[labels == 1], oof[labels == 0])[1])
    calibration = fit_calibration(oof[labels == 1], oof[labels == 0])
    model = as_model(fit(x, labels, best["C"]), args.encoder, args.encoder_layers)
    first_view = data["view"] == data["view"][0]
    paths = sorted(data["path"][first_view].tolist())
    extra = {
        "trim_silence": True,
        "training": {
            "recipe": "recipes/whisper_default.py",
            "views": args.views.split(","),
            "clips": int(first_view.sum()),
            "sources": sorted(np.unique(data["source"]).tolist()),
            "classifier": {"kind": "logistic regression, classes balanced", "C": best["C"]},
            "threshold_and_calibration": "out-of-fold scores of leave-sources-out folds, all views",
            "candidates": [{k: v for k, v in r.items() if k != "oof"} for r in results],
            "paths_sha256": hashlib.sha256("\n".join(paths).encode()).hexdigest(),
        },
    }
    if held_out:
        extra["validation_data"] = {"sources": held_out, "how": "left out of training by --hold-out"}
    if args.window_hop is not None:
        extra["window_hop"] = args.window_hop
    if args.segment_rule:
        extra["segment_rule"] = args.segment_rule
    save_checkpoint(model, args.out, threshold=threshold, calibration=calibration.to_dict(), extra=extra)
    print(json.dumps({k: v for k, v in best.items() if k != "oof"}))
    print(f"wrote {args.out}: threshold {threshold:.4f}, calibration {calibration.to_dict()}")


if __name__ == "__main__":
    main()
