"""Does leave-collections-out cross-validation rank designs the way unseen collections do?

Each arm is one whisper-stats design: which encoder states feed the statistics, which augmentation views
it trains on, and its regularisation strength C. Every arm is scored two ways, in this run:

- **CV** (the second view): 5 folds of whole sources of dev + pool; the held-out folds' clean and coded
  rows are scored by a model fitted on the other folds (with the arm's own views), and one pooled EER is
  taken over all of them, so every arm is judged on the same rows.
- **External** (the headline's data): the arm fitted on all training rows, scored on the cached
  statistics of `../shared/data/external/` clean and through mp3 at 64 kbit/s: pooled EER, and the two
  mixed conditions (real clean vs fake mp3, real mp3 vs fake clean). Nothing is fitted on these rows.

Both read statistics cached by `recipes/whisper_features.py` (the same numbers `whisper-stats` computes),
so an arm costs seconds; the bundled model itself is measured end to end by `bench/external.py`. The
table ends with Spearman's rank correlation between the CV EER and each external EER across the arms.

    python bench/cv_ranking.py --cache TRAIN_CACHE --external-cache EXTERNAL_CACHE [--no-write]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "recipes"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish
from whisper_default import decision, eer, fit, load_views, source_folds

WIDTH = 1024  # mean and std of Whisper base's 512 channels: the statistics of one state
RESULTS = REPO / "bench" / "results" / "cv-ranking.json"
CV_VIEWS = ("clean", "codec")  # the rows every arm's CV EER is taken over


@dataclass(frozen=True)
class Arm:
    states: tuple[int, int]  # first and last encoder state (0 = the convolutional stem's output)
    views: tuple[str, ...]
    c: float

    @property
    def name(self) -> str:
        return f"states {self.states[0]}-{self.states[1]}, {'+'.join(self.views)}, C={self.c:g}"

    def columns(self, x: np.ndarray) -> np.ndarray:
        return x[:, self.states[0] * WIDTH:(self.states[1] + 1) * WIDTH]


def arms() -> list[Arm]:
    both = ("clean", "codec")
    grid = [Arm(s, both, c) for s in ((0, 1), (0, 2), (0, 3), (0, 6), (4, 6)) for c in (0.001, 0.01)]
    grid += [Arm((0, 3), ("clean",), c) for c in (0.001, 0.01)]
    grid += [Arm((0, 3), ("clean", "codec", "channel"), c) for c in (0.001, 0.01)]
    grid += [Arm((0, 3), both, c) for c in (0.0001, 0.003, 0.03)]
    return grid


def cross_validated_eer(arm: Arm, data: dict, folds: np.ndarray) -> float:
    x, labels, view = arm.columns(data["stats"]), data["label"].astype(int), data["view"]
    trains_on = np.isin(view, arm.views)
    scored = np.isin(view, CV_VIEWS)
    scores = np.full(len(labels), np.nan)
    for fold in np.unique(folds):
        train, test = trains_on & (folds != fold), scored & (folds == fold)
        scores[test] = decision(fit(x[train], labels[train], arm.c), x[test])
    return eer(labels[scored], scores[scored])


def external_eers(arm: Arm, data: dict, external: dict[str, dict]) -> dict[str, float]:
    trains_on = np.isin(data["view"], arm.views)
    fitted = fit(arm.columns(data["stats"])[trains_on], data["label"].astype(int)[trains_on], arm.c)
    clean = decision(fitted, arm.columns(external["clean"]["stats"]))
    mp3 = decision(fitted, arm.columns(external["mp3_64"]["stats"]))
    real = external["clean"]["label"].astype(bool)
    return {
        "clean": eer(real.astype(int), clean),
        "mp3_64": eer(real.astype(int), mp3),
        "real_clean_vs_fake_mp3": eer(np.r_[np.ones(real.sum()), np.zeros((~real).sum())],
                                      np.r_[clean[real], mp3[~real]]),
        "real_mp3_vs_fake_clean": eer(np.r_[np.ones(real.sum()), np.zeros((~real).sum())],
                                      np.r_[mp3[real], clean[~real]]),
    }


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, type=Path, help="training statistics (clean, codec, channel)")
    parser.add_argument("--external-cache", required=True, type=Path, help="external statistics (clean, mp3_64)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()

    started = time.time()
    data = load_views(args.cache, ["clean", "codec", "channel"])
    data["stats"] = data["stats"].astype(np.float32)
    external = {v: dict(np.load(args.external_cache / f"{v}.npz")) for v in ("clean", "mp3_64")}
    if not np.array_equal(external["clean"]["path"], external["mp3_64"]["path"]):
        raise SystemExit(f"{args.external_cache}: clean.npz and mp3_64.npz hold different clips")
    folds = source_folds(data["source"], 5, seed=0)
    rows = []
    for arm in arms():
        t = time.time()
        row = {"arm": arm.name, "cv": cross_validated_eer(arm, data, folds), **external_eers(arm, data, external)}
        rows.append(row)
        print(f"{arm.name}: CV {100 * row['cv']:.1f}%, external clean {100 * row['clean']:.1f}%, "
              f"mp3 {100 * row['mp3_64']:.1f}% ({time.time() - t:.0f} s)", flush=True)
    keys = ("clean", "mp3_64", "real_clean_vs_fake_mp3", "real_mp3_vs_fake_clean")
    correlation = {k: spearman([r["cv"] for r in rows], [r[k] for r in rows]) for k in keys}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": rows, "spearman_cv_vs_external": correlation}, indent=1) + "\n")

    clips = int((data["view"] == "clean").sum())
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} by `python bench/cv_ranking.py` in {time.time() - started:.0f} s: "
        f"{len(rows)} whisper-stats designs (Whisper base, logistic regression on cached statistics), each "
        f"scored by 5-fold leave-sources-out CV on dev + pool ({clips} clips x {len(CV_VIEWS)} views, "
        f"{len(np.unique(data['source']))} sources) and on the external collections "
        f"({len(external['clean']['label'])} clips, test only). EER in %.",
        "",
        "| design | CV | external clean | external mp3-64 | real clean vs fake mp3 | real mp3 vs fake clean |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: r["cv"]):
        lines.append(f"| {r['arm']} | {100 * r['cv']:.1f} | " + " | ".join(f"{100 * r[k]:.1f}" for k in keys) + " |")
    lines += ["", "Spearman rank correlation of CV EER with external EER across these designs: "
              + ", ".join(f"{k} {v:+.2f}" for k, v in correlation.items()) + "."]
    publish("cv-ranking", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
