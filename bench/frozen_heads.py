"""Is the classifier what limits the frozen-Whisper default? Other heads on the same statistics, one run.

Every arm reads the statistics the bundled default trains on (Whisper base, input state and the lowest 3
blocks, time mean and spread; dev + pool under the clean and codec views, cached by
`recipes/whisper_features.py`) and changes one thing after them:

- the classifier: the default's logistic regression at two strengths, shrinkage LDA, ridge;
- the weight of each training clip: capped per (source, generator) cell, or 1/sqrt of its source's size
  (the pool's largest source holds 40% of the clips), or none for the pool's two non-English real-only
  sources (does their language become a label?);
- the score, less an offset per recording condition: the mean score of the bona fide training clips
  nearest in the input state's statistics (cohort normalisation, against offsets between collections);
- a one-class model of bona fide speech (Ledoit-Wolf Gaussian in a PCA space), alone and fused with the
  logistic regression (each score standardised on the training rows), since one-class training is
  published as generalising better to unseen attacks.

Each arm is fitted on all training rows and scored on the cached statistics of `../shared/data/external/`
clean and through mp3 at 64 kbit/s (nothing is fitted on those rows): pooled EER under one threshold, the
two mixed conditions, and the mean mp3-64 score shift over the gap between the class means.

    python bench/frozen_heads.py --cache TRAIN_CACHE --external-cache EXTERNAL_CACHE [--no-write]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "recipes"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish
from whisper_default import decision, eer, fit, load_views, standardiser

DEFAULT_COLUMNS = 4 * 1024  # mean and std of 512 channels for states 0-3: what the default reads
RESULTS = REPO / "bench" / "results" / "frozen-heads.json"
# The pool's only non-English sources without fakes (Berlin EmoDB, Urdu talk shows): a language shortcut?
POOL_REAL_ONLY_FOREIGN = ("emodb_copy", "urdu_emotion")
Scorer = Callable[[np.ndarray], np.ndarray]


def logistic(x: np.ndarray, labels: np.ndarray, c: float, weights: np.ndarray | None = None) -> Scorer:
    """The default's classifier; `weights` (per clip) weigh clips within their class."""
    fitted = fit(x, labels, c, weights)
    return lambda z: decision(fitted, z)


def lda(x: np.ndarray, labels: np.ndarray, shrinkage: float) -> Scorer:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    mean, std = standardiser(x)
    model = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage, priors=[0.5, 0.5])
    model.fit((x - mean) / std, labels)
    return lambda z: model.decision_function((z - mean) / std)


def ridge(x: np.ndarray, labels: np.ndarray, alpha: float) -> Scorer:
    from sklearn.linear_model import RidgeClassifier

    mean, std = standardiser(x)
    model = RidgeClassifier(alpha=alpha, class_weight="balanced").fit((x - mean) / std, labels)
    return lambda z: model.decision_function((z - mean) / std)


def one_class(x: np.ndarray, labels: np.ndarray, dims: int) -> Scorer:
    """Minus the Mahalanobis distance to bona fide speech (higher = more bona fide, as every score here)."""
    from sklearn.covariance import LedoitWolf
    from sklearn.decomposition import PCA

    mean, std = standardiser(x)
    bona = (x[labels == 1] - mean) / std
    pca = PCA(dims, random_state=0).fit(bona)
    gaussian = LedoitWolf().fit(pca.transform(bona))
    return lambda z: -gaussian.mahalanobis(pca.transform((z - mean) / std))


def fused(first: Scorer, second: Scorer, weight: float, x: np.ndarray) -> Scorer:
    """(1 - weight) * first + weight * second, each standardised on the training rows `x`."""
    a, b = first(x), second(x)
    return lambda z: (1 - weight) * (first(z) - a.mean()) / a.std() + weight * (second(z) - b.mean()) / b.std()


def cohort_normalised(full: Scorer, x: np.ndarray, labels: np.ndarray, sources: np.ndarray, neighbours: int,
                      channel_columns: int, c: float = 0.001) -> Scorer:
    """`full`'s score minus the mean score of the `neighbours` bona fide training clips nearest in a
    channel space (PCA 32 of the input state's statistics, cosine), each scored by a model fitted without
    its own source: an offset per recording condition, estimated without knowing the condition's label."""
    from sklearn.decomposition import PCA
    from sklearn.model_selection import GroupKFold

    held_out = np.zeros(len(labels))
    for fit_rows, scored_rows in GroupKFold(5).split(x, labels, sources):
        held_out[scored_rows] = logistic(x[fit_rows], labels[fit_rows], c)(x[scored_rows])
    mean, std = standardiser(x[:, :channel_columns])
    pca = PCA(32, random_state=0).fit((x[:, :channel_columns] - mean) / std)

    def embed(z: np.ndarray) -> np.ndarray:
        e = pca.transform((z[:, :channel_columns] - mean) / std)
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    bona = labels == 1
    cohort, cohort_scores = embed(x[bona]), held_out[bona]

    def score(z: np.ndarray) -> np.ndarray:
        k = min(neighbours, len(cohort_scores) - 1)
        nearest = np.argpartition(-(embed(z) @ cohort.T), k, axis=1)[:, :k]
        return full(z) - cohort_scores[nearest].mean(axis=1)
    return score


def cell_sizes(data: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per row: how many rows share its (source, generator) cell, and its source."""
    cells = np.char.add(np.char.add(data["source"].astype(str), "|"), data["system"].astype(str))
    _, cell_index, cell_count = np.unique(cells, return_inverse=True, return_counts=True)
    _, source_index, source_count = np.unique(data["source"], return_inverse=True, return_counts=True)
    return cell_count[cell_index], source_count[source_index]


def arms(x: np.ndarray, labels: np.ndarray, data: dict) -> dict[str, Callable[[], Scorer]]:
    cell, source = cell_sizes(data)
    default = functools.cache(lambda: logistic(x, labels, 0.001))  # fitted once, used by three arms
    table: dict[str, Callable[[], Scorer]] = {
        "logistic regression C=0.001 (the default's)": default,
        "logistic regression C=0.0003": lambda: logistic(x, labels, 0.0003),
    }
    for shrinkage in (0.3, 0.5, 0.7):
        table[f"shrinkage LDA {shrinkage:g}"] = lambda s=shrinkage: lda(x, labels, s)
    table["ridge alpha=1e4"] = lambda: ridge(x, labels, 1e4)
    for cap in (20, 100):
        table[f"LR, clips per (source, generator) capped at {cap}"] = (
            lambda cap=cap: logistic(x, labels, 0.001, np.minimum(1.0, cap / cell)))
    table["LR, clip weight 1/sqrt(source size)"] = lambda: logistic(x, labels, 0.001, 1 / np.sqrt(source))
    left_out = np.isin(data["source"], POOL_REAL_ONLY_FOREIGN)
    table["LR without the pool's German and Urdu bona fide sources"] = (
        lambda: logistic(x, labels, 0.001, np.where(left_out, 0.0, 1.0)))
    table["LR, score minus that of 50 bona fide clips recorded alike"] = (
        lambda: cohort_normalised(default(), x, labels, data["source"], 50, min(1024, x.shape[1])))
    table["one-class bona fide, PCA 128"] = lambda: one_class(x, labels, 128)
    table["LR + one-class (weight 0.25)"] = lambda: fused(default(), one_class(x, labels, 128), 0.25, x)
    return table


def external_row(score: Scorer, external: dict[str, dict], columns: int) -> dict[str, float]:
    clean = score(external["clean"]["stats"][:, :columns])
    mp3 = score(external["mp3_64"]["stats"][:, :columns])
    real = external["clean"]["label"].astype(bool)
    labels = real.astype(int)
    gap = clean[real].mean() - clean[~real].mean()
    return {
        "clean": eer(labels, clean),
        "mp3_64": eer(labels, mp3),
        "real_clean_vs_fake_mp3": eer(labels, np.where(real, clean, mp3)),
        "real_mp3_vs_fake_clean": eer(labels, np.where(real, mp3, clean)),
        "mp3_64_shift_over_gap": float((mp3 - clean).mean() / gap),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, type=Path, help="training statistics (clean.npz, codec.npz)")
    parser.add_argument("--external-cache", required=True, type=Path, help="external statistics (clean, mp3_64)")
    parser.add_argument("--columns", type=int, default=DEFAULT_COLUMNS,
                        help="leading statistics columns the heads read (default: the default's, states 0-3)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="per-arm numbers (JSON)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)

    started = time.time()
    for folder, views in ((args.cache, ("clean", "codec")), (args.external_cache, ("clean", "mp3_64"))):
        missing = [v for v in views if not (folder / f"{v}.npz").is_file()]
        if missing:
            raise SystemExit(f"{folder}: no {', '.join(v + '.npz' for v in missing)} "
                             "(write them with recipes/whisper_features.py)")
    data = load_views(args.cache, ["clean", "codec"])
    x = data["stats"][:, :args.columns].astype(np.float64)
    labels = data["label"].astype(int)
    external = {v: dict(np.load(args.external_cache / f"{v}.npz")) for v in ("clean", "mp3_64")}
    if not np.array_equal(external["clean"]["path"], external["mp3_64"]["path"]):
        raise SystemExit(f"{args.external_cache}: clean.npz and mp3_64.npz hold different clips")

    rows = []
    for name, build in arms(x, labels, data).items():
        t = time.time()
        rows.append({"arm": name, **external_row(build(), external, args.columns)})
        print(f"{name}: external clean {100 * rows[-1]['clean']:.1f}% ({time.time() - t:.0f} s)", flush=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(rows, indent=1) + "\n")

    keys = ("clean", "mp3_64", "real_clean_vs_fake_mp3", "real_mp3_vs_fake_clean")
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} by `python bench/frozen_heads.py` in {time.time() - started:.0f} s: "
        f"{len(rows)} heads on the first {args.columns} statistics (the default's: {DEFAULT_COLUMNS}), fitted on dev + pool "
        f"({int((data['view'] == 'clean').sum())} clips x clean and codec views), scored on the external "
        f"collections ({len(external['clean']['label'])} clips, test only). EER in %; shift = mean mp3-64 score "
        "change over the gap between the class means.",
        "",
        "| head | external clean | mp3-64 | real clean vs fake mp3 | real mp3 vs fake clean | mp3-64 shift / gap |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['arm']} | " + " | ".join(f"{100 * r[k]:.1f}" for k in keys)
                     + f" | {r['mp3_64_shift_over_gap']:+.2f} |")
    publish("frozen-heads", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
