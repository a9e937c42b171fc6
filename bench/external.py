"""The headline benchmark: models trained on dev (and the pool), scored on collections they never saw.

`../shared/data/external/` holds 704 clips of 23 collections that are in neither dev nor the pool (test
only: nothing is tuned on it). Each arm is a checkpoint; every arm is scored in this run, through the same
path as `detect`, under one threshold (the model's own) and these conditions:

- `clean`: the clips as distributed (up to 5 s); `crop-4s`: a centred 4 s crop;
- `mp3-64`: every clip through an mp3 round trip at 64 kbit/s;
- mixed conditions, from those scores: real clean against fake mp3 (a compressed fake must not pass as
  real), and real mp3 against fake clean;
- the mp3-64 score shift (mean over clips of mp3 score minus clean score) in units of the gap between the
  class means on clean audio: a shift near the gap moves verdicts wholesale;
- false alarms at the model's threshold on the real-only collections (8 collections, varied channels).

Usage:
    python bench/external.py --arm default=src/deepfake_audio/pretrained/default.safetensors --arm fast=...
    [--jobs 2 --threads 1]   # arms in parallel processes: a slow arm (AASIST) keeps one core to itself
Writes the table into BENCHMARKS.md (section `external`) and the numbers to bench/results/external.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heldout import EXTERNAL, eer, load_waveforms, read_clips, score_condition
from report import publish

CONDITIONS = ("clean", "crop-4s", "mp3-64")


def measure_arm(name: str, checkpoint: str, clips, waveforms) -> dict:
    from deepfake_audio.detector import Detector

    detector = Detector.from_pretrained(checkpoint, device="cpu")
    bona = np.array([c.bonafide for c in clips])
    started = time.time()
    scores = {cond: score_condition(detector, waveforms, cond) for cond in CONDITIONS}
    seconds = time.time() - started
    clean, mp3 = scores["clean"], scores["mp3-64"]
    gap = float(clean[bona].mean() - clean[~bona].mean())
    real_only = {c.source for c in clips} - {c.source for c in clips if not c.bonafide}
    in_real_only = np.array([c.source in real_only for c in clips])
    threshold = detector.threshold
    per_collection = {}
    for source in sorted({c.source for c in clips} - real_only):
        mask = np.array([c.source == source for c in clips])
        if (mask & bona).any() and (mask & ~bona).any():
            per_collection[source] = eer(clean[mask & bona], clean[mask & ~bona])
    return {
        "arm": name,
        "checkpoint": checkpoint,
        "model": detector.info.model,
        "threshold": threshold,
        "eer": {cond: eer(s[bona], s[~bona]) for cond, s in scores.items()},
        "eer_real_clean_vs_fake_mp3": eer(clean[bona], mp3[~bona]),
        "eer_real_mp3_vs_fake_clean": eer(mp3[bona], clean[~bona]),
        "mp3_64_shift_over_gap": float((mp3 - clean).mean() / gap) if gap else float("nan"),
        "class_gap": gap,
        "false_alarms_real_only": float((clean[in_real_only] < threshold).mean()),
        "false_alarms_bonafide": float((clean[bona] < threshold).mean()),
        "misses_spoof": float((clean[~bona] >= threshold).mean()),
        "per_collection_eer": per_collection,
        "scoring_seconds": seconds,
        "audio_seconds": float(sum(w.size for w in waveforms) / 16_000 * len(CONDITIONS)),
    }


def arm_checkpoint(spec: str) -> tuple[str, str]:
    """NAME=CHECKPOINT, where CHECKPOINT may be a bundled model's name."""
    name, _, checkpoint = spec.partition("=")
    if not Path(checkpoint).is_file():
        from deepfake_audio.bundled import bundled_path

        checkpoint = str(bundled_path(checkpoint))
    return name, checkpoint


def measure_arm_in_process(name: str, checkpoint: str, manifest: Path) -> dict:
    clips = read_clips(manifest)
    return measure_arm(name, checkpoint, clips, load_waveforms(clips))


def report(r: dict) -> dict:
    print(f"{r['arm']}: clean {100 * r['eer']['clean']:.1f}%, mp3 mixed {100 * r['eer_real_clean_vs_fake_mp3']:.1f}"
          f" / {100 * r['eer_real_mp3_vs_fake_clean']:.1f}% ({r['scoring_seconds']:.0f} s)", file=sys.stderr)
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", action="append", required=True, help="NAME=CHECKPOINT (repeatable)")
    parser.add_argument("--manifest", type=Path, default=EXTERNAL / "manifest.csv")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument("--jobs", type=int, default=1, help="arms scored at once, each in its own process")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md as it is")
    parser.add_argument("--record", action="store_true",
                        help="store each bundled model's measured clean EER in its header (`deepfake-audio models`)")
    args = parser.parse_args()
    if not args.manifest.is_file():
        sys.exit(f"{args.manifest}: not found (the external test set lives in ../shared/data/external)")
    torch.set_num_threads(args.threads)
    clips = read_clips(args.manifest)
    arms = [arm_checkpoint(spec) for spec in args.arm]
    if args.jobs > 1:
        # Each process reads the clips itself (fork-free start), scores its arms, and returns the results;
        # the slowest arms go first so they are not left running alone at the end.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=context, initializer=torch.set_num_threads,
                                 initargs=(args.threads,)) as pool:
            futures = [pool.submit(measure_arm_in_process, name, checkpoint, args.manifest)
                       for name, checkpoint in arms]
            results = [report(f.result()) for f in futures]
    else:
        waveforms = load_waveforms(clips)
        results = [report(measure_arm(name, checkpoint, clips, waveforms)) for name, checkpoint in arms]

    n_bona = sum(c.bonafide for c in clips)
    lines = [
        f"`python bench/external.py {' '.join('--arm ' + a for a in args.arm)}`: {len(clips)} clips "
        f"({n_bona} bona fide, {len(clips) - n_bona} spoof) of {len({c.source for c in clips})} collections never "
        "used in training; pooled EER under one threshold, in %; false alarms at each model's own threshold.",
        "",
        "| arm | model | clean | 4 s crops | mp3-64 | real clean vs fake mp3 | real mp3 vs fake clean "
        "| mp3-64 shift / class gap | false alarms, real-only collections | bona fide called fake | spoof passed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['arm']} | {r['model']} | {100 * r['eer']['clean']:.1f} | {100 * r['eer']['crop-4s']:.1f} | "
            f"{100 * r['eer']['mp3-64']:.1f} | {100 * r['eer_real_clean_vs_fake_mp3']:.1f} | "
            f"{100 * r['eer_real_mp3_vs_fake_clean']:.1f} | {r['mp3_64_shift_over_gap']:+.2f} | "
            f"{100 * r['false_alarms_real_only']:.1f} | {100 * r['false_alarms_bonafide']:.1f} | "
            f"{100 * r['misses_spoof']:.1f} |")
    lines += ["", "Per collection (clean EER %, collections with both classes):", "",
              "| collection | " + " | ".join(r["arm"] for r in results) + " |",
              "|---|" + "---|" * len(results)]
    for source in results[0]["per_collection_eer"]:
        lines.append(f"| {source} | " + " | ".join(f"{100 * r['per_collection_eer'][source]:.1f}" for r in results)
                     + " |")
    publish("external", lines, write=not args.no_write)
    if not args.no_write:
        out = Path(__file__).resolve().parent / "results" / "external.json"
        out.write_text(json.dumps(results, indent=1) + "\n")
    if args.record:
        from deepfake_audio.bundled import BUNDLED, bundled_path, record_measurement

        for r in results:
            for name in BUNDLED:
                if Path(r["checkpoint"]).resolve() == bundled_path(name).resolve():
                    record_measurement(bundled_path(name), external_eer=round(r["eer"]["clean"], 4))


if __name__ == "__main__":
    main()
