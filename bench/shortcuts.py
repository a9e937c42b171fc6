"""Shortcut audit: what besides "machine-made" could a model read, and does it?

(a) **In the training data** (dev + pool): how well each nuisance *alone* predicts the label, as the EER
    of the nuisance used as a score (the better of its two directions; categorical nuisances score each
    category by its bona-fide share, in-sample, so these are upper bounds): duration, original sample
    rate, bandwidth, original file format (pool only: dev does not record it), loudness, leading and
    trailing silence. Beside each: what the default recipe does about it.
(b) **For each model, on held-out data** (a stratified subset of the external test set): the mean score
    shift under each condition, in units of the gap between the class means on clean audio, and the
    mixed-condition EERs (real clean vs fake changed, and the reverse). Longer inputs are made by joining
    clips of the same collection and class (the external clips are at most 5 s).

Usage:
    python bench/shortcuts.py --pool /work/cache/pool/manifest.csv --arm default=PATH --arm fast=PATH
Writes sections `shortcuts-training-data` and `shortcuts-models` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heldout import EXTERNAL, SAMPLE_RATE, eer, read_clips, score_condition, stratified_subset
from report import publish

DEV = EXTERNAL.parent / "dev" / "manifest.csv"
AUDIT = ("mp3-32", "mp3-64", "mp3-128", "opus-24", "aac-64", "resample-8k", "resample-22.05k", "resample-24k",
         "gain+20dB", "gain-20dB", "silence-1s", "crop-2s", "crop-4s", "join-10s", "join-30s")
WHAT_THE_RECIPE_DOES = {
    "duration": "random crops of 1-4 s drawn independently of the label; statistics over frames; 4 s windows",
    "original sample rate": "resampling round trips (8-44.1 kHz) on both classes",
    "bandwidth (-60 dB edge)": "band limits, resampling and telephone on both classes",
    "file format (pool)": "mp3 / opus / aac round trips on both classes (one view in three is coded)",
    "loudness (speech RMS)": "gain from -20 to +10 dB on both classes",
    "leading silence": "silence trimmed before training and before scoring",
    "trailing silence": "silence trimmed before training and before scoring",
}


def _numeric_eer(values: np.ndarray, bona: np.ndarray) -> float:
    """EER of `values` as a score, in its better direction. Ties (many clips share a value: 16 kHz,
    8 kHz bandwidth, no silence) are broken at random, so a value shared by both classes counts as chance."""
    spread = float(np.ptp(values)) or 1.0
    jittered = values + np.random.default_rng(0).uniform(0, 1e-9 * spread, size=values.shape)
    return min(eer(jittered[bona], jittered[~bona]), eer(-jittered[bona], -jittered[~bona]))


def _categorical_eer(values: np.ndarray, bona: np.ndarray) -> float:
    share = {v: bona[values == v].mean() for v in np.unique(values)}
    return _numeric_eer(np.array([share[v] for v in values]), bona)


def _clip_nuisances(path: str) -> tuple[float, float, float, float]:
    """Bandwidth (Hz), speech RMS (dBFS), leading and trailing silence (s) of one clip."""
    from deepfake_audio.audio import load_audio, silence_bounds

    x = load_audio(path)
    start, end = silence_bounds(x)
    speech = x[start:end].numpy().astype(np.float64)
    spectrum = np.abs(np.fft.rfft(speech * np.hanning(speech.size))) ** 2 if speech.size > 64 else np.ones(2)
    db = 10 * np.log10(spectrum / spectrum.max() + 1e-20)
    smoothed = np.convolve(db, np.ones(33) / 33, mode="same")
    edge = np.nonzero(smoothed > -60)[0].max() / (smoothed.size - 1) * SAMPLE_RATE / 2
    rms = 10 * np.log10(np.mean(speech**2) + 1e-12)
    return float(edge), float(rms), start / SAMPLE_RATE, (x.numel() - end) / SAMPLE_RATE


def training_data_audit(manifests: list[Path], pool_csv: Path | None) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))
    from whisper_features import read_manifests

    rows = read_manifests([str(m) for m in manifests])
    bona = np.array([r["label"] == "bonafide" for r in rows])
    measured = {
        "duration": np.array([float(r["duration_s"]) for r in rows]),
        "original sample rate": np.array([r["original_sample_rate"] for r in rows]),
    }
    per_clip = np.array([_clip_nuisances(r["path"]) for r in rows])
    measured["bandwidth (-60 dB edge)"] = per_clip[:, 0]
    measured["loudness (speech RMS)"] = per_clip[:, 1]
    measured["leading silence"] = per_clip[:, 2]
    measured["trailing silence"] = per_clip[:, 3]
    lines = [f"{len(rows)} training clips ({int(bona.sum())} bona fide) of {', '.join(str(m) for m in manifests)}.",
             "", "| nuisance | EER of the nuisance alone (%) | bona fide median | spoof median | what the recipe does |",
             "|---|---|---|---|---|"]
    for name, values in measured.items():
        categorical = values.dtype.kind in "US"
        e = _categorical_eer(values, bona) if categorical else _numeric_eer(values.astype(float), bona)
        med = ("-", "-") if categorical else (f"{np.median(values[bona].astype(float)):.2f}",
                                              f"{np.median(values[~bona].astype(float)):.2f}")
        lines.append(f"| {name} | {100 * e:.1f} | {med[0]} | {med[1]} | {WHAT_THE_RECIPE_DOES[name]} |")
    if pool_csv and pool_csv.is_file():
        with open(pool_csv, newline="", encoding="utf-8") as f:
            pool = list(csv.DictReader(f))
        formats = np.array([Path(r["repo_path"]).suffix.lower() for r in pool])
        pool_bona = np.array([r["label"] == "bonafide" for r in pool])
        e = _categorical_eer(formats, pool_bona)
        kinds = ", ".join(f"{k} {int((formats == k).sum())}" for k in np.unique(formats))
        lines.append(f"| file format (pool) | {100 * e:.1f} | - | - | {WHAT_THE_RECIPE_DOES['file format (pool)']}"
                     f" ({kinds}) |")
    return lines


def _joined(waveforms: list[np.ndarray], clips, seconds: float) -> tuple[list[np.ndarray], list]:
    """Recordings of `seconds` made by joining clips of the same collection and class, in manifest order."""
    groups: dict[tuple[str, bool], list[int]] = {}
    for i, c in enumerate(clips):
        groups.setdefault((c.source, c.bonafide), []).append(i)
    out_w, out_c = [], []
    need = round(seconds * SAMPLE_RATE)
    for members in groups.values():
        pieces, total = [], 0
        for i in members * 8:  # small groups are cycled
            pieces.append(waveforms[i])
            total += waveforms[i].size
            if total >= need:
                out_w.append(np.concatenate(pieces)[:need])
                out_c.append(clips[members[0]])
                pieces, total = [], 0
                if len(out_w) % 4 == 0:
                    break
    return out_w, out_c


def model_audit(arms: list[str], per_source: int) -> list[str]:
    from deepfake_audio.audio import load_audio
    from deepfake_audio.detector import Detector

    all_clips = read_clips(EXTERNAL / "manifest.csv")
    subset = stratified_subset(all_clips, per_source)
    clips = [all_clips[i] for i in subset]
    waveforms = [load_audio(c.path).numpy() for c in clips]
    bona = np.array([c.bonafide for c in clips])
    lines = [f"{len(clips)} external clips (up to {per_source} per collection and class); shift = mean score change "
             "over clips / gap between the class means on clean audio (negative: toward fake); EERs in %.", "",
             "| arm | condition | shift / gap | EER | real clean vs fake changed | real changed vs fake clean |",
             "|---|---|---|---|---|---|"]
    for spec in arms:
        name, _, checkpoint = spec.partition("=")
        detector = Detector.from_pretrained(checkpoint, device="cpu")
        clean = score_condition(detector, waveforms, "clean")
        gap = clean[bona].mean() - clean[~bona].mean()
        lines.append(f"| {name} | clean | 0 (gap {gap:.2f}) | {100 * eer(clean[bona], clean[~bona]):.1f} | - | - |")
        for condition in AUDIT:
            if condition.startswith("join-"):
                seconds = float(condition[5:-1])
                joined_w, joined_c = _joined(waveforms, clips, seconds)
                jb = np.array([c.bonafide for c in joined_c])
                s = score_condition(detector, joined_w, "clean")
                lines.append(f"| {name} | {condition} ({len(joined_w)} recordings) | - | "
                             f"{100 * eer(s[jb], s[~jb]):.1f} | - | - |")
                continue
            s = score_condition(detector, waveforms, condition)
            lines.append(f"| {name} | {condition} | {(s - clean).mean() / gap:+.2f} | {100 * eer(s[bona], s[~bona]):.1f}"
                         f" | {100 * eer(clean[bona], s[~bona]):.1f} | {100 * eer(s[bona], clean[~bona]):.1f} |")
            print(lines[-1], file=sys.stderr, flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=Path, help="the rebuilt pool's manifest.csv (build_pool.py --flac16k)")
    parser.add_argument("--pool-csv", type=Path, default=EXTERNAL.parent / "pool" / "pool.csv",
                        help="pool.csv with the original file names (for the format row)")
    parser.add_argument("--arm", action="append", default=[], help="NAME=CHECKPOINT (repeatable)")
    parser.add_argument("--per-source", type=int, default=12)
    parser.add_argument("--skip-data", action="store_true", help="only part (b)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not DEV.is_file():
        sys.exit(f"{DEV}: not found (needs ../shared/data)")
    if not args.skip_data:
        manifests = [DEV] + ([args.pool] if args.pool else [])
        publish("shortcuts-training-data", training_data_audit(manifests, args.pool_csv), write=not args.no_write)
    if args.arm:
        publish("shortcuts-models", model_audit(args.arm, args.per_source), write=not args.no_write)


if __name__ == "__main__":
    main()
