"""Which hand-made clip features carry across recording collections? The study behind `flat-stats`.

For every clip of the development corpus (silence-trimmed, as in training) it computes a few families
of per-clip features, then fits one logistic regression per family on each leave-generators-out fold
of `bench/generalisation.py` (same folds: held-out sources, generator families and speakers) and
reports the pooled and within-source EER on the held-out fold. A linear model over a fixed feature
is the cheapest possible detector; a family that fails here gives a network little to build on, one
that succeeds tells which input a cheap network should see.

Families (all per clip, over frames within 40 dB of the loudest, 32 linear bands of 250 Hz):
- level: long-term band log power, minus its mean over bands (the spectral envelope)
- dynamics: log standard deviation of frame-to-frame band log-power change, minus its band mean
- phase: coherence of the frame-to-frame phase advance per band, magnitude-weighted
- flatness: mean and standard deviation over frames of per-band log spectral flatness
- prosody: voiced fraction, log-F0 spread, frame-to-frame log-F0 and log-energy change inside voiced
  runs (jitter and shimmer proxies) and voiced-run statistics, from WORLD's F0 tracker (pyworld)

Beside the linear model on each family, one row fits it on the flatness family after removing the
directions along which the training sources' real clips differ in mean (nuisance attribute projection,
as in speaker verification): a test of whether the cross-collection error is a source offset.

    python bench/feature_study.py [--manifest ../shared/data/dev/manifest.csv]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from deepfake_audio.audio import load_audio, trim_silence
from deepfake_audio.data.corpora import read_dataset
from deepfake_audio.data.splits import leave_generators_out_folds
from deepfake_audio.data.trial import Label
from deepfake_audio.metrics import compute_eer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generalisation import DEFAULT_MANIFEST, within_source_eer
from report import publish

N_FFT, HOP, BANDS = 512, 160, 32
FAMILIES = ("level", "dynamics", "phase", "flatness", "prosody")
F0_FRAME_MS = 5.0
PROJECTED_DIRECTIONS = 4  # source directions removed in the projection row


def stft(x: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    return np.fft.rfft(frames * np.hanning(N_FFT), axis=1)  # (frames, bins)


def clip_features(x: np.ndarray) -> dict[str, np.ndarray]:
    x = np.pad(x.astype(np.float64), (0, max(0, 4 * N_FFT - x.size)))
    spec = stft(x)
    power = np.abs(spec) ** 2 + 1e-12
    energy = 10 * np.log10(power.sum(axis=1))
    keep = energy > energy.max() - 40
    bands = np.array_split(np.arange(1, N_FFT // 2 + 1), BANDS)
    band_db = np.stack([10 * np.log10(power[keep][:, b].mean(axis=1)) for b in bands], axis=1)
    level = band_db.mean(axis=0) - band_db.mean()
    change = np.log(np.diff(band_db, axis=0).std(axis=0) + 1e-3) if keep.sum() > 2 else np.zeros(BANDS)
    advance = spec[1:] * np.conj(spec[:-1]) * np.exp(-2j * np.pi * np.arange(spec.shape[1]) * HOP / N_FFT)
    weight = np.abs(spec[1:]) * np.abs(spec[:-1])
    unit = advance / (np.abs(advance) + 1e-12)
    phase = np.array([np.abs((unit[:, b] * weight[:, b]).sum()) / (weight[:, b].sum() + 1e-12) for b in bands])
    log_flat = np.stack([np.log(power[keep][:, b]).mean(axis=1) - np.log(power[keep][:, b].mean(axis=1))
                         for b in bands], axis=1)
    return {"level": level, "dynamics": change - change.mean(), "phase": phase,
            "flatness": np.concatenate([log_flat.mean(axis=0), log_flat.std(axis=0)]),
            "prosody": prosody_features(x)}


def prosody_features(x: np.ndarray, sample_rate: int = 16_000) -> np.ndarray:
    """Voicing and micro-prosody: how regular F0 and energy are from one 5 ms frame to the next."""
    import pyworld

    f0, times = pyworld.dio(x, sample_rate, frame_period=F0_FRAME_MS)
    f0 = pyworld.stonemask(x, f0, times, sample_rate)
    voiced = f0 > 0
    out = np.zeros(9)
    out[0] = voiced.mean()
    if voiced.sum() <= 10:
        return out
    out[1] = np.log(f0[voiced]).std()
    inside = voiced[1:] & voiced[:-1]  # consecutive voiced frames
    f0_step = np.diff(np.log(np.where(voiced, f0, 1.0)))[inside]
    hop = int(sample_rate * F0_FRAME_MS / 1000)
    windows = np.lib.stride_tricks.sliding_window_view(x, 2 * hop)[::hop]  # 10 ms windows, 5 ms apart
    frames = min(len(voiced), len(windows))
    energy = np.log((windows[:frames] ** 2).mean(axis=1) + 1e-10)
    energy_step = np.diff(energy)[inside[: frames - 1]]
    if f0_step.size > 5 and energy_step.size > 5:
        out[2:6] = [np.abs(f0_step).mean(), f0_step.std(), np.abs(energy_step).mean(), energy_step.std()]
    edges = np.diff(np.r_[0, voiced.astype(int), 0])
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    out[6:9] = [np.log(runs.mean() + 1), len(runs) / len(voiced), np.log(runs.max() + 1)]
    return out


def remove_source_directions(train_x: np.ndarray, train_bonafide: np.ndarray, train_sources: list[str],
                             directions: int) -> np.ndarray:
    """Projection that removes the `directions` along which training sources' real clips differ most."""
    sources = np.array(train_sources)
    offsets = [train_x[(sources == s) & train_bonafide].mean(axis=0) - train_x[train_bonafide].mean(axis=0)
               for s in np.unique(sources) if ((sources == s) & train_bonafide).sum() >= 5]
    _, _, vt = np.linalg.svd(np.array(offsets), full_matrices=False)
    top = vt[:directions]
    return np.eye(train_x.shape[1]) - top.T @ top


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if not args.manifest.exists():
        sys.exit(f"skipped: the development corpus is not at {args.manifest} (pass --manifest)")
    started = time.perf_counter()
    trials = read_dataset("csv", args.manifest)
    features = [clip_features(trim_silence(load_audio(t.path)).numpy()) for t in trials]
    labels = np.array([t.label is Label.BONAFIDE for t in trials])
    index = {t.path: i for i, t in enumerate(trials)}
    folds = leave_generators_out_folds(trials, args.folds, seed=0)

    rows = []
    projected = f"flatness, {PROJECTED_DIRECTIONS} source directions removed"
    for family in (*FAMILIES, "flatness + prosody", "all", projected):
        names = {"all": FAMILIES, "flatness + prosody": ("flatness", "prosody"),
                 projected: ("flatness",)}.get(family, (family,))
        x = np.stack([np.concatenate([f[n] for n in names]) for f in features])
        pooled, within = [], []
        for train, val in folds:
            a, b = [index[t.path] for t in train], [index[t.path] for t in val]
            scaler = StandardScaler().fit(x[a])
            train_x, val_x = scaler.transform(x[a]), scaler.transform(x[b])
            if family == projected:
                keep = remove_source_directions(train_x, labels[a], [t.source for t in train], PROJECTED_DIRECTIONS)
                train_x, val_x = train_x @ keep, val_x @ keep
            model = LogisticRegression(C=0.01, class_weight="balanced", max_iter=5000)
            scores = model.fit(train_x, labels[a]).decision_function(val_x)
            pooled.append(100 * compute_eer(scores[labels[b]], scores[~labels[b]])[0])
            within.append(100 * within_source_eer(val, scores))
        rows.append((family, x.shape[1], pooled, within))
        print(f"{family}: pooled {np.mean(pooled):.1f}%, within-source {np.mean(within):.1f}%", flush=True)

    lines = [
        f"Per-clip feature families, one logistic regression (C=0.01, class-balanced) per family and fold, on "
        f"the {len(folds)} source folds of `bench/generalisation.py`. Measured {time.strftime('%Y-%m-%d')} by "
        f"`{' '.join(['python', f'bench/{Path(__file__).name}', *sys.argv[1:]])}` in {(time.perf_counter() - started) / 60:.0f} min.",
        "",
        "| features | dimensions | pooled EER mean (%) | per fold (%) | within-source EER (%) |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {family} | {dims} | {np.mean(p):.1f} | {' / '.join(f'{v:.1f}' for v in p)} | {np.mean(w):.1f} |"
              for family, dims, p, w in rows]
    publish("feature-study", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
