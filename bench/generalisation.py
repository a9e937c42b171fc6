"""Leave-generators-out cross-validation on the development corpus: the project's honest quality number.

Each fold holds out whole sources (collections): every real and fake clip of those sources is
validation, pooled under ONE threshold (a user has one threshold). Training never sees a validation
generator family (`deepfake_audio.data.families`), source or known speaker. Inside a fold's training
data an inner split by system picks the best epoch and fits the calibration, so the held-out fold is
used for nothing but the reported number.

Per arm (a model preset plus options) it reports pooled EER mean and spread over folds x seeds, the
mean within-source EER (what a per-source threshold would give: the gap to the pooled EER is the
calibration/channel problem), parameters, CPU training seconds per epoch and CPU scoring speed. The
table is written into BENCHMARKS.md between markers; nothing in it is typed by hand.

CPU budget (2 cores): the default protocol (3 folds x 2 seeds; arms seed, lfs-tcn and the flatness
models; two runs at a time) took 42 minutes here, with a bundled-model training beside it. The raw-waveform models cost 700-14,000 s per epoch
on this CPU (bench/train_speed.py); on a GPU run the full protocol with more seeds and heavy models, e.g.
    python bench/generalisation.py --arms seed,flat-stats,lfs-tcn,lfs-resnet,aasist-l,aasist,rawnet2 \
        --seeds 0,1,2 --device cuda --jobs 1
and, with a local copy of XLS-R 300M (Hugging Face format), the self-supervised arm:
    python bench/generalisation.py --arms seed,flat-stats,ssl-sls --ssl-path /models/xls-r-300m --device cuda --jobs 1

    python bench/generalisation.py [--arms seed,flat-stats] [--folds 3] [--seeds 0,1] [--jobs 2] [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from deepfake_audio.config import load_config
from deepfake_audio.data.corpora import read_dataset
from deepfake_audio.data.dataset import WaveformCache
from deepfake_audio.data.families import generator_families, spoof_families
from deepfake_audio.data.splits import filter_trials, leave_generators_out_folds, split_trials
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.detector import Detector
from deepfake_audio.metrics import compute_eer
from deepfake_audio.models import count_parameters
from deepfake_audio.presets import preset_path
from deepfake_audio.train import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import BENCHMARKS, write_section

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MANIFEST = REPO.parent / "shared" / "data" / "dev" / "manifest.csv"

# The lfs-tcn preset's augmentation list, for arms that add it to other presets.
LFS_TCN_AUGMENTATION = (
    "[{name: band_limit, p: 0.3}, {name: gain, p: 0.5, min_gain_db: -12, max_gain_db: 6},"
    " {name: noise, p: 0.2, min_snr_db: 15, max_snr_db: 40, kind: [white, pink]}, {name: reverb, p: 0.1},"
    " {name: telephone, p: 0.05}, {name: codec, p: 0.1, codecs: [mp3, opus, aac]}]"
)


# The flat-stats preset as it was before its band-limited classifier, with the options later arms
# vary stated too. Arms measured against that preset start from it, so re-running them measures the
# same thing whatever the preset becomes; an arm's own overrides come after these and win.
FULL_BAND = ["model.band_limited_head=false", "model.spectral_floor_db=-80", "model.members=1"]


def flatness_statistics(change: bool, level: bool) -> list[str]:
    """Overrides that set both optional flat-stats statistics (model.flatness_change, model.level_flatness),
    with every training source kept, so that these arms mean what they meant when first run."""
    return [f"model.flatness_change={str(change).lower()}", f"model.level_flatness={str(level).lower()}",
            "data.exclude_sources=[]", *FULL_BAND]


# An arm: a preset plus overrides (and optionally extra training manifests, e.g. synthesized spoofs).
ARMS: dict[str, dict] = {
    "seed": {"preset": "seed", "overrides": []},
    "seed-aug": {"preset": "seed", "overrides": [f"train.augment={LFS_TCN_AUGMENTATION}"]},
    "lfs-tcn": {"preset": "lfs-tcn", "overrides": []},
    "lfs-tcn-noaug": {"preset": "lfs-tcn", "overrides": ["train.augment=[]"]},
    "lfs-tcn-nonorm": {"preset": "lfs-tcn", "overrides": ["model.utterance_norm=false"]},
    "lfs-tcn-noaug-srcbal": {"preset": "lfs-tcn", "overrides": ["train.augment=[]", "train.balance=source"]},
    "flat-stats": {"preset": "flat-stats", "overrides": []},
    # The default before the band-limited classifier.
    "flat-stats-fullband": {"preset": "flat-stats", "overrides": [*FULL_BAND]},
    "flat-stats-aug": {"preset": "flat-stats", "overrides": [f"train.augment={LFS_TCN_AUGMENTATION}"]},
    "flat-stats-bandlimit": {"preset": "flat-stats", "overrides": ["train.augment=[{name: band_limit, p: 0.3}]"]},
    # Which flatness statistics: each arm states both options, so it means the same whatever the preset's.
    "flat-stats-plain": {"preset": "flat-stats", "overrides": [*flatness_statistics(change=False, level=False)]},
    "flat-stats-change": {"preset": "flat-stats", "overrides": [*flatness_statistics(change=True, level=False)]},
    "flat-stats-level": {"preset": "flat-stats", "overrides": [*flatness_statistics(change=False, level=True)]},
    "flat-stats-both": {"preset": "flat-stats", "overrides": [*flatness_statistics(change=True, level=True)]},
    "flat-stats-linear": {"preset": "flat-stats", "overrides": [*flatness_statistics(True, True), "model.hidden=0"]},
    "flat-stats-linear-wd": {"preset": "flat-stats",
                             "overrides": [*flatness_statistics(True, True), "model.hidden=0", "train.weight_decay=0.01"]},
    # Without the 8 kHz-only real recordings (fsdd), the corpus README's bandwidth trap.
    "flat-stats-nofsdd": {"preset": "flat-stats",
                          "overrides": [*flatness_statistics(True, True), "data.exclude_sources=[fsdd]"]},
    # How deep the spectral floor under the flatness sits (dB below each frame's loudest bin; preset -80).
    **{f"flat-stats-floor{-db}": {"preset": "flat-stats", "overrides": [*FULL_BAND, f"model.spectral_floor_db={db}"]}
       for db in (-100, -120, -140)},
    # Band width: 16 bands of 500 Hz or 64 of 125 Hz instead of the preset's 32 of 250 Hz.
    **{f"flat-stats-bands{n}": {"preset": "flat-stats", "overrides": [*FULL_BAND, f"model.bands={n}"]} for n in (16, 64)},
    # Statistics from the bands below 7 or 6 kHz only (under the low-pass of lossy codecs).
    **{f"flat-stats-below{khz}k": {"preset": "flat-stats", "overrides": [*FULL_BAND, f"model.max_frequency_hz={khz * 1000}"]}
       for khz in (7, 6)},
    # Bandwidth-aware statistics: bands above the recording's bandwidth are masked (and, in training,
    # half the clips lose the bands above a random cut between 3.5 and 8 kHz).
    "flat-stats-bandmask": {"preset": "flat-stats",
                            "overrides": [*FULL_BAND, "model.mask_absent_bands=true", "model.band_cut_p=0.5"]},
    "flat-stats-bandmask-noflags": {"preset": "flat-stats", "overrides": [
        *FULL_BAND, "model.mask_absent_bands=true", "model.band_cut_p=0.5", "model.band_flags=false"]},
    # The preset's classifier for full-band recordings, and a classifier trained on masked statistics
    # with a random cut on every clip for recordings whose bandwidth ends below 7.5 kHz.
    "flat-stats-bandhead": {"preset": "flat-stats",
                            "overrides": [*FULL_BAND, "model.band_limited_head=true", "model.band_cut_p=1.0"]},
    # Several classifiers trained side by side on the same statistics, their logits averaged.
    "flat-stats-members5": {"preset": "flat-stats", "overrides": [*FULL_BAND, "model.members=5"]},
    "flat-stats-floor100-members5": {"preset": "flat-stats",
                                     "overrides": [*FULL_BAND, "model.spectral_floor_db=-100", "model.members=5"]},
    # The preset (with its band-limited classifier) plus the -100 dB floor and five full-band classifiers.
    "flat-stats-floor100-members5-bandhead": {"preset": "flat-stats",
                                              "overrides": ["model.spectral_floor_db=-100", "model.members=5"]},
    "flat-tcn": {"preset": "flat-tcn", "overrides": []},
    "lfs-resnet": {"preset": "lfs-resnet", "overrides": []},
    "lfcc-lcnn": {"preset": "lfcc-lcnn", "overrides": []},
    "spectro-transformer": {"preset": "spectro-transformer", "overrides": []},
    "aasist-l": {"preset": "aasist-l", "overrides": []},
    "aasist": {"preset": "aasist", "overrides": []},
    "rawnet2": {"preset": "rawnet2", "overrides": []},
    # XLS-R + SLS: needs --ssl-path (a local wav2vec 2.0 / XLS-R directory) and, in practice, a GPU.
    "ssl-sls": {"preset": "ssl-sls", "overrides": [], "needs_ssl_path": True},
}

# The acceptance protocol: the seed design as baseline, the previous log-spectrum default, and the
# flatness models (flat-stats as preset; the same with fsdd kept, with fewer or more statistics and
# with augmentation; and a TCN over flatness frames).
DEFAULT_ARMS = ("seed", "lfs-tcn", "flat-stats", "flat-stats-fullband", "flat-stats-change", "flat-stats-plain",
                "flat-stats-both", "flat-stats-aug", "flat-tcn")


@dataclass
class RunResult:
    arm: str
    fold: int
    seed: int
    pooled_eer: float
    within_source_eer: float
    train_seconds_per_epoch: float
    scoring_x_realtime: float
    parameters: int
    # At the run's pooled EER threshold: per spoofing system, [clips accepted as real, clips]; per
    # source, [bona fide clips rejected as fake, bona fide clips].
    spoofs_accepted: dict[str, list[int]] = field(default_factory=dict)
    bonafide_rejected: dict[str, list[int]] = field(default_factory=dict)


def within_source_eer(trials: list[Trial], scores: np.ndarray) -> float:
    """Mean EER over validation sources that hold both classes (a separate threshold per source)."""
    eers = []
    for source in sorted({t.source for t in trials}):
        idx = [i for i, t in enumerate(trials) if t.source == source]
        labels = np.array([trials[i].label is Label.BONAFIDE for i in idx])
        if labels.any() and not labels.all():
            eers.append(compute_eer(scores[idx][labels], scores[idx][~labels])[0])
    return float(np.mean(eers)) if eers else float("nan")


_CACHE: WaveformCache | None = None  # one decoded-audio cache per worker process


def _init_worker(threads: int) -> None:
    global _CACHE
    torch.set_num_threads(threads)
    _CACHE = WaveformCache()


def run_one(arm: str, spec: dict, fold: int, seed: int, train_trials: list[Trial], val_trials: list[Trial],
            args: argparse.Namespace, workdir: Path) -> RunResult:
    cache = _CACHE if _CACHE is not None else WaveformCache()
    overrides = [*spec["overrides"], f"train.seed={seed}", f"train.device={args.device}"]
    if args.epochs:
        overrides.append(f"train.epochs={args.epochs}")
    config = load_config(spec["preset_file"], overrides)
    # The fold is handed to train() ready-made, so the data filters it would apply are applied here,
    # to the training side only: validation stays the whole held-out fold.
    train_trials = filter_trials(train_trials, config.data.exclude_sources, config.data.exclude_systems)
    extra = [t for manifest in spec.get("extra_manifests", []) for t in read_dataset("csv", manifest)]
    # Synthesized clips made from a validation recording, in a validation speaker's voice, or by a
    # generator of a validation family (HiFi-GAN copy-synthesis when HiFi-GAN output is held out) would
    # leak the held-out fold into training: keep only those the fold's own rules would allow.
    val_paths = {str(Path(t.path).resolve()) for t in val_trials}
    val_speakers = {t.speaker for t in val_trials if t.speaker}
    val_families = spoof_families(val_trials)
    extra = [t for t in extra if str(Path(t.extra.get("source_path") or "-").resolve()) not in val_paths
             and not (t.speaker and t.speaker in val_speakers)
             and not (t.label is Label.SPOOF and generator_families(t.system or "") & val_families)]
    inner_train, inner_val = split_trials(train_trials, "system", 0.2, seed=seed)
    result = train(config, workdir / f"{arm}-f{fold}-s{seed}", progress=False,
                   splits=(inner_train + extra, inner_val), cache=cache)
    metrics = [json.loads(line) for line in (result.best_checkpoint.parent / "metrics.jsonl").read_text().splitlines()]
    detector = Detector.from_pretrained(result.best_checkpoint, device=args.device)
    started = time.perf_counter()
    predictions = list(detector.score_waveforms(((str(t.path), cache.get(t)) for t in val_trials),
                                                withhold_no_speech=False))
    scoring_seconds = time.perf_counter() - started
    scores = np.array([p.score for p in predictions])
    labels = np.array([t.label is Label.BONAFIDE for t in val_trials])
    audio_seconds = sum(p.duration for p in predictions)
    eer, threshold = compute_eer(scores[labels], scores[~labels])
    return RunResult(
        arm, fold, seed,
        pooled_eer=float(eer),
        within_source_eer=within_source_eer(val_trials, scores),
        train_seconds_per_epoch=float(np.mean([m["train_seconds"] for m in metrics])),
        scoring_x_realtime=audio_seconds / scoring_seconds,
        parameters=count_parameters(detector.model),
        spoofs_accepted=_error_counts(val_trials, scores >= threshold, Label.SPOOF, key=lambda t: t.system),
        bonafide_rejected=_error_counts(val_trials, scores < threshold, Label.BONAFIDE, key=lambda t: t.source),
    )


def _error_counts(trials: list[Trial], wrong: np.ndarray, label: Label,
                  key: Callable[[Trial], str]) -> dict[str, list[int]]:
    """`{group: [errors, clips]}` over the trials with `label`, grouped by `key`."""
    counts: dict[str, list[int]] = {}
    for trial, is_wrong in zip(trials, wrong):
        if trial.label is label:
            entry = counts.setdefault(key(trial) or "unknown", [0, 0])
            entry[0] += int(is_wrong)
            entry[1] += 1
    return counts


def error_breakdown(results: list[RunResult], arm: str) -> str:
    """Markdown tables: which held-out systems `arm` accepts as real, and which sources' real clips it
    rejects, at each run's pooled EER threshold, summed over folds and seeds."""
    lines = [f"Errors of `{arm}` at each run's pooled EER threshold, summed over its runs (each held-out clip "
             "is scored once per seed):", ""]
    for title, attribute in (("spoofing system", "spoofs_accepted"), ("bona fide source", "bonafide_rejected")):
        totals: dict[str, list[int]] = {}
        for r in results:
            if r.arm == arm:
                for group, (wrong, clips) in getattr(r, attribute).items():
                    entry = totals.setdefault(group, [0, 0])
                    entry[0] += wrong
                    entry[1] += clips
        verb = "accepted as real" if attribute == "spoofs_accepted" else "rejected as fake"
        lines += [f"| {title} | clips x seeds | {verb} (%) |", "|---|---|---|"]
        for group, (wrong, clips) in sorted(totals.items(), key=lambda kv: (-kv[1][0] / kv[1][1], kv[0])):
            lines.append(f"| {group} | {clips} | {100 * wrong / clips:.0f} |")
        lines.append("")
    return "\n".join(lines)


def summarise(results: list[RunResult], arms: list[str], folds: list[tuple[list[Trial], list[Trial]]],
              args: argparse.Namespace, wall_seconds: float) -> str:
    lines = [
        f"Leave-generators-out cross-validation on `{args.manifest.name}` ({len(folds)} folds by source, seeds "
        f"{args.seeds}; epochs {'per preset' if not args.epochs else args.epochs}; device {args.device}; "
        f"{args.jobs} run(s) at a time, {max(1, args.threads // args.jobs)} torch thread(s) each; timings are "
        f"per run under that load). Measured {time.strftime('%Y-%m-%d')} by "
        f"`python bench/{Path(__file__).name} {' '.join(sys.argv[1:])}` in {wall_seconds / 60:.0f} min.",
        "",
        "Folds (validation = whole held-out sources; training excludes their generator families and speakers):",
        "",
        "| fold | train bona fide / spoof | validation bona fide / spoof | validation sources |",
        "|---|---|---|---|",
    ]
    for k, (tr, va) in enumerate(folds):
        count = lambda ts, lab: sum(t.label is lab for t in ts)
        lines.append(f"| {k} | {count(tr, Label.BONAFIDE)} / {count(tr, Label.SPOOF)} | "
                     f"{count(va, Label.BONAFIDE)} / {count(va, Label.SPOOF)} | {', '.join(sorted({t.source for t in va}))} |")
    lines += [
        "",
        "| arm | params | pooled EER mean ± sd (%) | per fold (%, mean over seeds) | within-source EER (%) |"
        " train s/epoch (CPU) | scoring x real time |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm in arms:
        rows = [r for r in results if r.arm == arm]
        if not rows:
            continue
        pooled = [100 * r.pooled_eer for r in rows]
        per_fold = [np.mean([100 * r.pooled_eer for r in rows if r.fold == k]) for k in range(len(folds))]
        spread = statistics.stdev(pooled) if len(pooled) > 1 else 0.0
        lines.append(
            f"| {arm} | {rows[0].parameters:,} | {np.mean(pooled):.1f} ± {spread:.1f} | "
            f"{' / '.join(f'{v:.1f}' for v in per_fold)} | {np.mean([100 * r.within_source_eer for r in rows]):.1f} | "
            f"{np.mean([r.train_seconds_per_epoch for r in rows]):.0f} | {np.mean([r.scoring_x_realtime for r in rows]):.0f} |"
        )
    means = {arm: np.mean([r.pooled_eer for r in results if r.arm == arm]) for arm in arms
             if any(r.arm == arm for r in results)}
    if "seed" in means and len(means) > 1:
        best = min((a for a in means if a != "seed"), key=means.get)
        lines += ["", f"Lowest pooled EER: `{best}`, {100 * means[best]:.1f}%, which is "
                      f"{means[best] / means['seed']:.2f} x the seed preset's {100 * means['seed']:.1f}%."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--arms", default=",".join(DEFAULT_ARMS), help=f"comma-separated, from: {', '.join(ARMS)}")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=0, help="override every preset's epochs (0 = preset's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in all (split between --jobs)")
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once, each in its own process")
    parser.add_argument("--section", default="generalisation", help="BENCHMARKS.md section to (re)write")
    parser.add_argument("--extra-manifest", action="append", default=[],
                        help="add these clips (e.g. from `deepfake-audio synth`) to training, as arm suffix '+synth'")
    parser.add_argument("--ssl-path", default=None,
                        help="local wav2vec 2.0 / XLS-R directory (Hugging Face format) for the ssl-sls arm")
    parser.add_argument("--errors-of", default=None,
                        help="also tabulate which held-out systems and sources this arm gets wrong")
    parser.add_argument("--output", type=Path, default=BENCHMARKS)
    args = parser.parse_args()
    if not args.manifest.exists():
        sys.exit(f"skipped: the development corpus is not at {args.manifest} (pass --manifest)")
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if args.errors_of and args.errors_of not in arms:
        sys.exit(f"--errors-of {args.errors_of}: not among the arms run ({', '.join(arms)})")
    specs = {}
    for arm in arms:
        base = arm.removesuffix("+synth")
        if base not in ARMS:
            sys.exit(f"unknown arm {arm!r}; choose from {', '.join(ARMS)} (optionally with +synth)")
        specs[arm] = dict(ARMS[base])
        if specs[arm].get("needs_ssl_path"):
            if not args.ssl_path:
                sys.exit(f"arm {arm!r} needs --ssl-path: a local wav2vec 2.0 / XLS-R directory "
                         "(nothing is downloaded)")
            specs[arm]["overrides"] = [*specs[arm]["overrides"], f"model.ssl_path={args.ssl_path}"]
        if arm.endswith("+synth"):
            specs[arm]["extra_manifests"] = args.extra_manifest
    seeds = [int(s) for s in args.seeds.split(",")]

    trials = read_dataset("csv", args.manifest)
    folds = leave_generators_out_folds(trials, args.folds, seed=0)
    tasks = [(arm, k, seed) for arm in arms for k in range(len(folds)) for seed in seeds]
    results: list[RunResult] = []
    started = time.perf_counter()
    body = ""
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(
        max_workers=args.jobs, initializer=_init_worker, initargs=(max(1, args.threads // args.jobs),)
    ) as pool:
        # Each arm reads a copy of its preset taken now, so that editing a preset during a long run
        # cannot change what the later runs of that arm train.
        for arm, spec in specs.items():
            spec["preset_file"] = Path(tmp) / f"{arm}.yaml"
            spec["preset_file"].write_text(preset_path(spec["preset"]).read_text())
        pending = [pool.submit(run_one, arm, specs[arm], k, seed, *folds[k], args, Path(tmp))
                   for arm, k, seed in tasks]
        for future in as_completed(pending):
            r = future.result()
            results.append(r)
            print(f"{r.arm} fold {r.fold} seed {r.seed}: pooled EER {100 * r.pooled_eer:.1f}%, within-source "
                  f"{100 * r.within_source_eer:.1f}%, {r.train_seconds_per_epoch:.0f} s/epoch", flush=True)
            # Write after every run, so a long protocol that is stopped early still leaves what it measured.
            results.sort(key=lambda x: (arms.index(x.arm), x.fold, x.seed))
            body = summarise(results, arms, folds, args, time.perf_counter() - started)
            if args.errors_of:
                body += "\n" + error_breakdown(results, args.errors_of)
            if len(results) < len(tasks):
                body += f"\n(partial: {len(results)} of {len(tasks)} runs finished when this was written)\n"
            write_section(args.section, body, args.output)
    print(body)
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / f"{args.section}.json").write_text(
        json.dumps([r.__dict__ for r in results], indent=1))


if __name__ == "__main__":
    main()
