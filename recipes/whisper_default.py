"""Train the bundled default (whisper-stats) from cached statistics, with leave-sources-out validation.

Input: the views written by `recipes/whisper_features.py` (same clips, several augmentations of each).
1. Folds hold out whole sources (collections), so every out-of-fold score comes from a model that never
   saw that collection, its speakers or its recording chain. All views of a clip share its fold.
2. Each candidate head (regularisation strength, linear or one hidden layer) is scored out of fold; the
   one with the lowest pooled out-of-fold EER over all views (clean and degraded together, one threshold)
   is kept. Clips are weighted so that every (source, label) cell counts the same: the big collections
   must not decide what "real" sounds like.
3. The threshold (equal-error point) and the p_fake calibration are fitted on the kept head's
   out-of-fold scores; the final head is then trained on everything and written as a checkpoint.

Usage:
    python recipes/whisper_default.py --cache CACHE_DIR --out runs/whisper/default.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepfake_audio.calibration import fit_calibration
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.metrics import compute_eer
from deepfake_audio.models import build_model


def load_views(cache: Path, views: list[str]) -> dict[str, np.ndarray]:
    parts = [np.load(cache / f"{v}.npz") for v in views]
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("stats", "label", "source", "system", "path")}
    out["view"] = np.concatenate([np.full(len(p["label"]), v) for v, p in zip(views, parts)])
    return out


def source_folds(sources: np.ndarray, labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index per row: whole sources to folds, greedily balancing clips; real-only sources spread too."""
    rng = np.random.default_rng(seed)
    names = np.unique(sources)
    rng.shuffle(names)
    sizes = {s: int((sources == s).sum()) for s in names}
    fold_of: dict[str, int] = {}
    load = np.zeros(k)
    for s in sorted(names, key=lambda s: -sizes[s]):
        fold_of[s] = int(np.argmin(load))
        load[fold_of[s]] += sizes[s]
    return np.array([fold_of[s] for s in sources])


def cell_weights(sources: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Weight 1 / count of the clip's (source, label) cell, normalised to mean 1, with the classes balanced."""
    keys = np.char.add(sources.astype(str), labels.astype(int).astype(str))
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    for value in (0, 1):
        w[labels == value] /= w[labels == value].sum()
    return w / w.mean()


def fit_head(model: nn.Module, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, *, weight_decay: float,
             epochs: int, seed: int) -> None:
    """Adam on the weighted cross-entropy, mini-batches of 256, weight decay on the classifier."""
    torch.manual_seed(seed)
    params = [p for p in model.classifier.parameters()]
    optimiser = torch.optim.AdamW(params, lr=1e-3, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss(reduction="none")
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), 256):
            batch = order[start : start + 256]
            logits = model.classify(x[batch])
            loss = (loss_fn(logits, y[batch]) * w[batch]).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()


def scores_of(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        logits = model.classify(x)
    return (logits[:, 1] - logits[:, 0]).numpy()


def eer(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(compute_eer(scores[labels == 1], scores[labels == 0])[0])


def new_head(args: argparse.Namespace, hidden: int, x: torch.Tensor, dropout: float) -> nn.Module:
    model = build_model("whisper-stats", encoder=args.encoder, hidden=hidden, dropout=dropout)
    model.fit_standardisation(x)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--views", default="clean,codec,channel")
    parser.add_argument("--encoder", default="whisper-base")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--heads", default="0:0.05,0:0.5,256:0.05",
                        help="candidates as hidden:weight_decay, comma-separated (hidden 0 = linear)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = load_views(args.cache, args.views.split(","))
    x = torch.from_numpy(data["stats"]).float()
    labels = data["label"].astype(int)
    y = torch.from_numpy(labels)
    w = torch.from_numpy(cell_weights(data["source"], labels)).float()
    folds = source_folds(data["source"], labels, args.folds, args.seed)
    print(f"{len(labels)} rows ({', '.join(args.views.split(','))}), {len(np.unique(data['source']))} sources, "
          f"{args.folds} source folds", flush=True)

    results = []
    for candidate in args.heads.split(","):
        hidden, weight_decay = int(candidate.split(":")[0]), float(candidate.split(":")[1])
        started = time.time()
        oof = np.zeros(len(labels))
        for fold in range(args.folds):
            train, test = folds != fold, folds == fold
            head = new_head(args, hidden, x[train], 0.1)
            fit_head(head, x[train], y[train], w[train], weight_decay=weight_decay, epochs=args.epochs,
                     seed=args.seed + fold)
            oof[test] = scores_of(head, x[test])
        by_view = {v: eer(labels[data["view"] == v], oof[data["view"] == v]) for v in np.unique(data["view"])}
        pooled = eer(labels, oof)
        results.append({"hidden": hidden, "weight_decay": weight_decay, "pooled_oof_eer": pooled,
                        "oof_eer_by_view": by_view, "oof": oof})
        print(f"head hidden={hidden} wd={weight_decay}: pooled OOF EER {100 * pooled:.1f}% "
              f"({', '.join(f'{v} {100 * e:.1f}' for v, e in by_view.items())}) in {time.time() - started:.0f} s",
              flush=True)

    best = min(results, key=lambda r: r["pooled_oof_eer"])
    oof = best["oof"]
    threshold = float(compute_eer(oof[labels == 1], oof[labels == 0])[1])
    calibration = fit_calibration(oof[labels == 1], oof[labels == 0])
    head = new_head(args, best["hidden"], x, 0.1)
    fit_head(head, x, y, w, weight_decay=best["weight_decay"], epochs=args.epochs, seed=args.seed)
    extra = {
        "trim_silence": True,
        "training": {
            "recipe": "recipes/whisper_default.py",
            "views": args.views.split(","),
            "clips": int((data["view"] == data["view"][0]).sum()),
            "sources": sorted(np.unique(data["source"]).tolist()),
            "head": {"hidden": best["hidden"], "weight_decay": best["weight_decay"], "epochs": args.epochs},
            "threshold_and_calibration": "out-of-fold scores of leave-sources-out folds, all views",
            "candidates": [{k: v for k, v in r.items() if k != "oof"} for r in results],
        },
    }
    save_checkpoint(head, args.out, threshold=threshold, calibration=calibration.to_dict(), extra=extra)
    print(json.dumps({k: v for k, v in best.items() if k != "oof"}), file=sys.stderr)
    print(f"wrote {args.out}: threshold {threshold:.4f}, calibration {calibration.to_dict()}")


if __name__ == "__main__":
    main()
