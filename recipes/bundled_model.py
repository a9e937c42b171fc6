"""Reproduce the bundled default model and its model card from the development corpus.

    python recipes/bundled_model.py [--manifest ../shared/data/dev/manifest.csv] [--preset lfs-tcn]

1. Trains the preset on the corpus. Validation (model selection, the threshold and the calibration)
   is a set of whole sources held out from training (`data.split=source`), so the threshold and
   P(fake) are fitted on recordings from collections the model never trained on.
2. Evaluates the best checkpoint on that validation set, clean and degraded (runs/bundled/eval/).
3. Copies the checkpoint to src/deepfake_audio/pretrained/default.safetensors and writes MODEL_CARD.md
   beside it from the measured numbers (and from BENCHMARKS.md's cross-validation, if it was run).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "src" / "deepfake_audio" / "pretrained"
# lowpass:7000 sits where mp3 at 128 kbit/s cuts the band, lowpass:3800 near a telephone line's top: a
# plain low-pass beside each codec tells the loss of the top band from the rest of what the codec does.
DEGRADATIONS = "mp3:128,mp3:32,aac:64,opus:24,telephone,noise:20,noise:10,reverb,lowpass:7000,lowpass:3800"


def run(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=REPO.parent / "shared" / "data" / "dev" / "manifest.csv")
    parser.add_argument("--preset", default="flat-stats")
    parser.add_argument("--arm", default=None,
                        help="bench/generalisation.py arm that measured this recipe (default: the preset's name)")
    parser.add_argument("--run-dir", type=Path, default=REPO / "runs" / "bundled")
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--card-only", action="store_true",
                        help="only rewrite MODEL_CARD.md from the finished run (e.g. after the benchmark)")
    args = parser.parse_args()
    if args.card_only:
        report = json.loads((args.run_dir / "eval" / "report.json").read_text())
        metrics = [json.loads(x) for x in (args.run_dir / "metrics.jsonl").read_text().splitlines()]
        write_model_card(args, report, metrics)
        return
    if not args.manifest.exists():
        sys.exit(f"the development corpus is not at {args.manifest} (pass --manifest)")

    cli = [sys.executable, "-m", "deepfake_audio"]
    run(*cli, "train", "--preset", args.preset, "--data", str(args.manifest), "--out", str(args.run_dir),
        "--set", "data.split=source", "--set", f"data.val_fraction={args.val_fraction}",
        "--set", f"train.seed={args.seed}", "--quiet")
    best = args.run_dir / "best.safetensors"
    eval_dir = args.run_dir / "eval"
    run(*cli, "evaluate", str(args.run_dir / "validation.csv"), "--model", str(best), "--out", str(eval_dir),
        "--degrade", DEGRADATIONS)

    PRETRAINED.mkdir(exist_ok=True)
    shutil.copyfile(best, PRETRAINED / "default.safetensors")
    report = json.loads((eval_dir / "report.json").read_text())
    metrics = [json.loads(x) for x in (args.run_dir / "metrics.jsonl").read_text().splitlines()]
    write_model_card(args, report, metrics)
    print(f"bundled model: {PRETRAINED / 'default.safetensors'}")


def summarise_arms(runs: list[dict]) -> dict[str, dict]:
    """Per benchmark arm: mean and spread of pooled EER (%), runs, parameters, scoring speed."""
    arms: dict[str, dict] = {}
    for name in dict.fromkeys(r["arm"] for r in runs):
        rows = [r for r in runs if r["arm"] == name]
        eers = [100 * r["pooled_eer"] for r in rows]
        arms[name] = {
            "eer": statistics.mean(eers), "sd": statistics.stdev(eers) if len(eers) > 1 else 0.0,
            "runs": len(rows), "params": rows[0]["parameters"],
            "speed": statistics.mean(r["scoring_x_realtime"] for r in rows),
        }
    return arms


def _degradation_sentence(report: dict) -> str:
    """Which measured degradations raised the EER by 5 points or more, with their numbers."""
    clean = report["eer"]
    worse = {name: row["eer"] for name, row in report.get("degradations", {}).items()
             if row["eer"] >= clean + 0.05}
    if not worse:
        return "No measured degradation raised the error rate by 5 points or more."
    listed = ", ".join(f"{name} {100 * eer:.0f}%" for name, eer in worse.items())
    return (f"Degraded audio is much harder: against {100 * clean:.0f}% clean, the EER was {listed} "
            "(\"Under degradation\" above); give less weight to verdicts on audio that arrived compressed, "
            "noisy or over a phone line.")


def _bandwidth_sentence(report: dict) -> str:
    """How much of the mp3 and telephone losses a plain low-pass at the same frequency explains."""
    rows = {name: 100 * row["eer"] for name, row in report.get("degradations", {}).items()}
    pairs = [(codec, lowpass) for codec, lowpass in (("mp3:128", "lowpass:7000"), ("telephone", "lowpass:3800"))
             if codec in rows and lowpass in rows]
    if not pairs:
        return ""
    compared = "; ".join(f"{lowpass} {rows[lowpass]:.1f}% against {codec} {rows[codec]:.1f}%"
                         for codec, lowpass in pairs)
    return (f"\n\nA plain low-pass at the frequency where a codec or line cuts the band, and nothing else: "
            f"{compared} (clean {100 * report['eer']:.1f}%). Where the two are close, what hurts is the "
            "missing top band itself, which training on codec-degraded audio cannot restore.")


def _augmentation_sentence(preset: str) -> str:
    """What the card says the training recipe simulated, read from the preset itself."""
    from deepfake_audio.config import load_config
    from deepfake_audio.presets import preset_path

    config = load_config(preset_path(preset))
    steps = config.train.augment
    cuts = " (its band-limited classifier saw random cuts of the upper bands)" if config.model.get(
        "band_cut_p", 0) else ""
    if not steps:
        return (f"This model was trained without simulated channels{cuts}; `presets/{preset}.yaml` records "
                "the measurement behind that choice.")
    return "The training recipe simulated " + ", ".join(step["name"] for step in steps) + f"{cuts}."


def write_model_card(args: argparse.Namespace, report: dict, metrics: list[dict]) -> None:
    from deepfake_audio.checkpoint import read_checkpoint_info
    from deepfake_audio.models import build_model, count_parameters

    info = read_checkpoint_info(PRETRAINED / "default.safetensors")
    params = count_parameters(build_model(info.model, **info.config))
    val_sources = sorted({line.split(",")[-1] for line in (args.run_dir / "validation.csv").read_text().splitlines()[1:]})
    best = min(metrics, key=lambda m: m["val_eer"])
    at = report["at_threshold"]
    benchmarks = (REPO / "BENCHMARKS.md").read_text() if (REPO / "BENCHMARKS.md").exists() else ""
    degraded = "\n".join(f"| {name} | {100 * row['eer']:.2f}% |" for name, row in report.get("degradations", {}).items())
    cv = ""
    cv_line = "its error rate on generators it never saw has not been measured (run bench/generalisation.py)"
    choice = ""
    cv_runs = REPO / "bench" / "results" / "generalisation.json"
    arm = args.arm or args.preset
    by_arm = summarise_arms(json.loads(cv_runs.read_text())) if cv_runs.exists() else {}
    if arm in by_arm:
        mean_eer = by_arm[arm]["eer"]
        cv_line = (f"on generators it never saw, from collections it never saw (cross-validation below), it "
                   f"is {mean_eer:.1f}% (mean of {by_arm[arm]['runs']} runs)")
        if "seed" in by_arm:
            cv_line += f", against {by_arm['seed']['eer']:.1f}% for the seed design"
        best_arm = min(by_arm, key=lambda a: by_arm[a]["eer"])
        b, m = by_arm[best_arm], by_arm[arm]
        if best_arm != arm and round(b["eer"], 1) == round(m["eer"], 1):
            choice = (f"**Why this model:** it ties for the lowest cross-validation mean, {m['eer']:.1f}%, with "
                      f"`{best_arm}` ({b['eer']:.1f}% ± {b['sd']:.1f}; `ARMS` in bench/generalisation.py says how "
                      "that arm differs).\n")
        elif best_arm != arm:
            choice = (f"**Why this model:** `{best_arm}` had the lowest cross-validation mean, {b['eer']:.1f}% "
                      f"(± {b['sd']:.1f}), {b['eer'] - m['eer']:+.1f} points from this model's {m['eer']:.1f}% "
                      f"(± {m['sd']:.1f}), a gap {'inside' if abs(b['eer'] - m['eer']) < max(b['sd'], m['sd']) else 'beyond'}"
                      f" the spread over folds and seeds; this model has "
                      f"{m['params']:,} parameters against {b['params']:,} and scored {m['speed']:.0f}x real time "
                      f"against {b['speed']:.0f}x in the same benchmark.\n")
    if choice and info.config.get("band_limited_head"):
        choice = choice.rstrip("\n") + (
            " It is the default anyway for its second classifier for band-limited recordings, which lowers the "
            "error on mp3 and telephone audio (\"Under degradation\" below; the before/after numbers are in "
            f"`presets/{args.preset}.yaml`).\n")
    worst_eer = max(100 * report["eer"], by_arm[arm]["eer"] if arm in by_arm else 0.0)
    systems = report.get("breakdowns", {}).get("system", {})
    hardest_names = sorted((name for name, row in systems.items() if row["n_spoof"] >= 5),
                           key=lambda name: -systems[name]["eer"])[:3]
    hardest = ""
    if hardest_names:
        hardest = "; the validation generators it missed most were " + ", ".join(
            f"{name} ({100 * systems[name]['eer']:.0f}% EER)" for name in hardest_names)
    augmented = _augmentation_sentence(args.preset)
    band_limited = ""
    if info.config.get("band_limited_head"):
        band_limited = (
            f"\n- Recordings whose bandwidth ends below {info.config.get('full_band_hz', 7500.0) / 1000:g} kHz "
            "(lossy codecs, telephone lines, 8 kHz originals) are judged by a second classifier, trained on "
            "statistics whose bands above a random cut were masked; full-band recordings by the first."
        )
    degraded_sentence = _degradation_sentence(report)
    if "<!-- generalisation:begin -->" in benchmarks:
        cv = benchmarks.split("<!-- generalisation:begin -->")[1].split("<!-- generalisation:end -->")[0].strip()
    card = f"""# Model card: bundled default (`{info.model}`)

Generated by `python recipes/bundled_model.py` on {time.strftime('%Y-%m-%d')}; every number below was
measured by that run or by `bench/generalisation.py`.

**Bottom line:** on recordings from collections it never trained on, this model's equal error rate is
{100 * report['eer']:.1f}%; {cv_line}. At the equal-error point that is about one wrong verdict in
{round(100 / worst_eer)} on unfamiliar audio{hardest}. It is evidence to weigh, not a reliable detector: never act
on its verdict alone.

{choice}
## What it is
- Architecture: `{info.model}` ({params:,} parameters), window {info.config['duration']} s at 16 kHz;
  longer audio is scored in windows with a half-window hop and the window scores are averaged.{band_limited}
- Recipe: preset `{args.preset}` (`src/deepfake_audio/presets/{args.preset}.yaml`), seed {args.seed}; best epoch
  {best['epoch']} of {len(metrics)} by validation EER.
- Output: `score` = bona-fide log-odds (higher = more bona fide); threshold {info.threshold:.4f} (the equal-error
  point on validation); `p_fake` = logistic calibration fitted on validation scores (scale
  {info.calibration['scale']:.4f}, offset {info.calibration['offset']:.4f}), with p_fake = 0.5 at the threshold.

## Training data
The project's development corpus (`shared/data/dev`, 2,906 clips, 1,394 bona fide / 1,512 spoof, over 100
generator variants from 2018-2024 paper demo pages and public repositories). **Licences:** several sources
state no licence and one (yourtts_demo) is CC-BY-NC-ND-4.0; the weights are therefore offered for research
and evaluation, not for commercial use, until they are retrained on data with clear terms. The corpus is
English-dominated read speech, mostly LJ Speech, VCTK and LibriSpeech speakers.

## Validation (sources held out from training)
Held-out sources: {', '.join(val_sources)} ({report['num_bonafide']} bona fide, {report['num_spoof']} spoof).
These sources were not trained on, but some of their generator families were (see the cross-validation
below for generators never seen).

| metric | value |
|---|---|
| EER | {100 * report['eer']:.2f}% |
| minDCF (ASVspoof 5 costs) | {report['min_dcf']:.4f} |
| actDCF / CLLR (calibrated) | {report['act_dcf']:.4f} / {report['cllr']:.4f} |
| accuracy / balanced accuracy at the threshold | {100 * at['accuracy']:.2f}% / {100 * at['balanced_accuracy']:.2f}% |
| precision / recall / F1 (spoof = positive) | {at['precision']:.4f} / {at['recall']:.4f} / {at['f1']:.4f} |

Per-system EERs: `runs/bundled/eval/report.md` after running the recipe.

Under degradation (the same validation clips, each degraded before scoring):

| condition | EER |
|---|---|
| clean | {100 * report['eer']:.2f}% |
{degraded}{_bandwidth_sentence(report)}

## Generalisation to unseen generators (leave-generators-out cross-validation, same recipe)
{cv or "(run `python bench/generalisation.py` to fill this in)"}

## Limits
- Trained on a small corpus; expect errors on generators, languages and channels unlike it. Commercial
  2024-25 voice clones (ElevenLabs-class) are not in the training data.
- {degraded_sentence} {augmented}
- A recording with a short generated span inside real speech (partial spoof) may be scored real on
  average: inspect the per-window timeline (`detect --timeline`) or use `--aggregate min`.
- Scores are evidence, not proof. Do not use a verdict alone to accuse anyone.
"""
    (PRETRAINED / "MODEL_CARD.md").write_text(card)


if __name__ == "__main__":
    main()
