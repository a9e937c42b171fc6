"""Calibrate the segment rule (src/deepfake_audio/segments.py): false alarms on long real recordings
against detection of machine-made spans inserted into real speech.

    python bench/segments.py [--model PATH] [--describe TEXT] [--name SECTION] [--no-write]

A bundled model that trained on every development source has no held-out clips of its own; measure a
twin of it instead, trained by the same recipe with some sources left out and naming them in its header
(`recipes/whisper_default.py --hold-out A,B`), and `--describe` it. `--name` picks the BENCHMARKS.md
section and the results file (`bench/results/NAME.json`), so each bundled model keeps its own.

Everything is built from held-out clips of the development corpus (never data/external): bona fide
clips of the sources the checkpoint held out from training (its validation sources, reconstructed from
the training config stored in the checkpoint), and spoof clips of the same sources.

- Long real recordings: `--real-recordings` recordings of `--real-minutes` each, the held-out bona fide
  clips concatenated in seeded random orders (a pool shorter than the total is reused across recordings,
  in different orders, so window boundaries fall differently; the distinct audio is printed).
- Partial fakes: for each span length (10, 20, 40 s), `--trials` recordings of `--context` seconds of
  real speech, a span of one spoof system's clips cut to exactly that length, and `--context` more
  seconds of real speech.

Each recording is scored once; every candidate rule is applied to its window scores. A rule is
admissible when its false segments per hour of long real audio are at most `--max-false-per-hour`;
the admissible rule with the highest mean detection rate (a reported segment overlapping the inserted
span) is chosen. The mean-score verdict (the previous behaviour) and the most-fake-window verdict
(`--aggregate min`) are measured on the same recordings as baselines. Picking and measuring on the
same recordings flatters the chosen rule a little; the table says how many recordings each rate rests on.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish

from deepfake_audio.audio import SAMPLE_RATE, load_audio
from deepfake_audio.detector import Detector, bundled_model_path
from deepfake_audio.segments import SegmentRule, find_segments

DEV_MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev" / "manifest.csv"
SPAN_SECONDS = (10, 20, 40)
RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Clip:
    path: Path
    source: str
    system: str
    seconds: float


@dataclass
class Scored:
    """One built recording's window scores, and where its inserted span lies (None: all real)."""

    starts: list[float]
    ends: list[float]
    scores: list[float]
    silent: list[bool]
    span: tuple[float, float] | None
    seconds: float
    system: str = ""  # the inserted span's spoof system


def held_out_sources(detector: Detector, manifest: Path, bundled: bool) -> tuple[set[str], str]:
    """The sources the checkpoint did not train on, and how that was found out."""
    extra = detector.info.extra
    stored = (extra.get("validation_data") or {}).get("sources")
    if stored:
        return set(stored), "validation sources stored in the checkpoint"
    raw = extra.get("train_config")
    if raw:
        from deepfake_audio.config import config_from_dict
        from deepfake_audio.train import load_splits

        config = config_from_dict(raw)
        if config.data.split == "source" and not config.data.val_root:
            config.data.root = str(manifest)  # the stored path may be another checkout's
            train, val = load_splits(config)
            # A manifest that grew since training splits differently: trust the rebuild only when it
            # reproduces the checkpoint's own counts.
            if (len(train), len(val)) == (extra.get("num_train"), extra.get("num_val")):
                return {t.source for t in val if t.source}, "validation split rebuilt from the checkpoint's training config"
    if bundled:
        card = Path(__file__).resolve().parents[1] / "src" / "deepfake_audio" / "pretrained" / "MODEL_CARD.md"
        if card.is_file():
            for line in card.read_text().splitlines():
                if line.startswith("Held-out sources:"):
                    names = line.removeprefix("Held-out sources:").split("(")[0]
                    return {n.strip() for n in names.split(",") if n.strip()}, "the bundled model's MODEL_CARD.md"
    raise SystemExit("the checkpoint does not say which sources it held out (no validation_data or source-split "
                     "train_config in its extra); pass --sources A,B,... to name held-out sources")


def read_clips(manifest: Path, sources: set[str]) -> tuple[list[Clip], list[Clip]]:
    bona, spoof = [], []
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f):
            if row["source"] not in sources:
                continue
            clip = Clip(manifest.parent / row["path"], row["source"], row.get("system") or "",
                        float(row.get("duration_s") or 0))
            (bona if row["label"] == "bonafide" else spoof).append(clip)
    return bona, spoof


class AudioCache:
    def __init__(self) -> None:
        self._audio: dict[Path, torch.Tensor] = {}
        self.used: set[Path] = set()

    def get(self, clip: Clip) -> torch.Tensor:
        if clip.path not in self._audio:
            self._audio[clip.path] = load_audio(clip.path)
        self.used.add(clip.path)
        return self._audio[clip.path]


def real_speech(pool: list[Clip], seconds: float, rng: random.Random, audio: AudioCache) -> torch.Tensor:
    """`seconds` of bona fide clips joined end to end, in a seeded order, each clip used once per pass."""
    parts, total, order = [], 0, []
    while total < seconds * SAMPLE_RATE:
        if not order:
            order = list(pool)
            rng.shuffle(order)
        wave = audio.get(order.pop())
        parts.append(wave)
        total += wave.numel()
    return torch.cat(parts)[: round(seconds * SAMPLE_RATE)]


def spoof_span(by_system: dict[str, list[Clip]], seconds: float, rng: random.Random,
               audio: AudioCache) -> tuple[torch.Tensor, str]:
    """`seconds` of one spoof system's clips (a system with enough audio, drawn at random), and its name."""
    systems = sorted(s for s, clips in by_system.items() if sum(c.seconds for c in clips) >= seconds)
    system = rng.choice(systems)
    clips = list(by_system[system])
    rng.shuffle(clips)
    parts, total = [], 0
    for clip in clips:
        parts.append(audio.get(clip))
        total += parts[-1].numel()
        if total >= seconds * SAMPLE_RATE:
            break
    return torch.cat(parts)[: round(seconds * SAMPLE_RATE)], system


def score(detector: Detector, waveform: torch.Tensor, span: tuple[float, float] | None, system: str = "") -> Scored:
    (p,) = detector.score_waveforms([("built", waveform)])
    return Scored([w.start for w in p.windows], [w.end for w in p.windows], [w.score for w in p.windows],
                  [w.silent for w in p.windows], span, waveform.numel() / SAMPLE_RATE, system)


def candidate_rules(window_s: float, hop_s: float) -> list[SegmentRule]:
    """Evidence levels x minimum spans (one to eleven windows long) x smoothing (none, +-1 to +-4 hops)."""
    return [SegmentRule(p, window_s + n * hop_s, smooth)
            for p in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
            for n in range(11)
            for smooth in (0.0, 2 * hop_s, 4 * hop_s, 6 * hop_s, 8 * hop_s)]


def evaluate_rule(detector: Detector, rule: SegmentRule, real: list[Scored], trials: list[Scored]) -> dict:
    def segments(r: Scored) -> list:
        return find_segments(r.starts, r.ends, r.scores, r.silent, detector.p_fake, rule)

    false_real = [len(segments(r)) for r in real]
    hours = sum(r.seconds for r in real) / 3600
    detected: dict[int, list[bool]] = {}
    by_system: dict[str, list[bool]] = {}
    false_in_trials = 0
    for t in trials:
        lo, hi = t.span
        found = segments(t)
        hit = [s for s in found if s.start < hi and s.end > lo]
        false_in_trials += len(found) - len(hit)
        detected.setdefault(round(hi - lo), []).append(bool(hit))
        by_system.setdefault(t.system, []).append(bool(hit))
    rates = {length: sum(v) / len(v) for length, v in sorted(detected.items())}
    # The real speech around the inserted spans is real audio too: a segment there is a false alarm.
    context_hours = sum(t.seconds - (t.span[1] - t.span[0]) for t in trials) / 3600
    return {"rule": rule.to_dict(), "false_per_hour": (sum(false_real) + false_in_trials) / (hours + context_hours),
            "false_per_hour_long": sum(false_real) / hours,
            "real_recordings_flagged": sum(n > 0 for n in false_real), "detection": rates,
            "mean_detection": sum(rates.values()) / len(rates), "false_in_trials": false_in_trials,
            "by_system": {k: [sum(v), len(v)] for k, v in sorted(by_system.items())}}


def baseline(detector: Detector, how: str, real: list[Scored], trials: list[Scored]) -> dict:
    """The recording-level verdict without segments: mean (previous default) or min window score."""
    def fake(r: Scored) -> bool:
        voiced = [s for s, q in zip(r.scores, r.silent) if not q] or r.scores
        value = sum(voiced) / len(voiced) if how == "mean" else min(voiced)
        return value < detector.threshold

    detected: dict[int, list[bool]] = {}
    for t in trials:
        detected.setdefault(round(t.span[1] - t.span[0]), []).append(fake(t))
    rates = {length: sum(v) / len(v) for length, v in sorted(detected.items())}
    return {"real_recordings_flagged": sum(fake(r) for r in real), "detection": rates,
            "mean_detection": sum(rates.values()) / len(rates)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="checkpoint (.safetensors or .onnx); default: the bundled model")
    parser.add_argument("--manifest", type=Path, default=DEV_MANIFEST)
    parser.add_argument("--sources", help="comma-separated held-out sources (default: from the checkpoint)")
    parser.add_argument("--real-recordings", type=int, default=6)
    parser.add_argument("--real-minutes", type=float, default=10.0)
    parser.add_argument("--trials", type=int, default=30, help="recordings per inserted span length")
    parser.add_argument("--context", type=float, default=30.0, help="seconds of real speech each side of a span")
    parser.add_argument("--max-false-per-hour", type=float, default=0.5,
                        help="false segments per hour of real audio a rule may make (long recordings and the "
                             "real speech around inserted spans together)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--describe", help="how to name the model in the table (default: its path)")
    parser.add_argument("--name", default="segments", help="BENCHMARKS.md section and bench/results/NAME.json")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md as it is")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.manifest.is_file():
        raise SystemExit(f"{args.manifest}: development manifest not found")

    started = time.perf_counter()
    detector = Detector.from_pretrained(args.model, device="cpu")
    if args.sources:
        sources, how_found = set(args.sources.split(",")), "named with --sources"
    else:
        sources, how_found = held_out_sources(detector, args.manifest, bundled=args.model is None or Path(args.model).resolve() == bundled_model_path().resolve())
    bona, spoof = read_clips(args.manifest, sources)
    by_system: dict[str, list[Clip]] = {}
    for clip in spoof:
        by_system.setdefault(clip.system, []).append(clip)
    if not bona or not any(sum(c.seconds for c in v) >= max(SPAN_SECONDS) for v in by_system.values()):
        raise SystemExit(f"held-out sources {sorted(sources)} lack bona fide clips or a spoof system with "
                         f"{max(SPAN_SECONDS)} s of audio")
    rng = random.Random(args.seed)
    audio = AudioCache()
    real = [score(detector, real_speech(bona, 60 * args.real_minutes, rng, audio), None)
            for _ in range(args.real_recordings)]
    trials = []
    for length in SPAN_SECONDS:
        for _ in range(args.trials):
            before = real_speech(bona, args.context, rng, audio)
            span, system = spoof_span(by_system, length, rng, audio)
            after = real_speech(bona, args.context, rng, audio)
            trials.append(score(detector, torch.cat([before, span, after]),
                                (args.context, args.context + length), system))
    window_s, hop_s = detector.window / SAMPLE_RATE, detector.hop / SAMPLE_RATE
    results = [evaluate_rule(detector, r, real, trials) for r in candidate_rules(window_s, hop_s)]
    admissible = [r for r in results if r["false_per_hour"] <= args.max_false_per_hour]
    if not admissible:
        raise SystemExit(f"no candidate rule keeps false alarms at or under {args.max_false_per_hour} per hour")
    best = max(admissible, key=lambda r: (r["mean_detection"], -r["false_per_hour"], r["rule"]["min_p_fake"],
                                          r["rule"]["min_span_s"]))
    current = evaluate_rule(detector, detector.segment_rule, real, trials)
    baselines = {how: baseline(detector, how, real, trials) for how in ("mean", "min")}
    elapsed = time.perf_counter() - started

    real_hours = sum(r.seconds for r in real) / 3600
    bona_used = sorted({c.path for c in bona} & audio.used)
    spoof_used = sorted({c.path for c in spoof} & audio.used)
    distinct_real_s = sum(c.seconds for c in bona if c.path in audio.used)
    model_name = args.describe or args.model or "the bundled model"
    lines = [
        f"Model: {model_name} ({detector.info.model}, {window_s:g} s windows, hop {hop_s:g} s). Held-out sources "
        f"({how_found}): {', '.join(sorted(sources))}. {len(bona_used)} bona fide clips "
        f"({distinct_real_s / 60:.1f} min of distinct audio) and {len(spoof_used)} spoof clips of those sources, "
        f"all from the development corpus.",
        "",
        f"Long real recordings: {len(real)} x {args.real_minutes:g} min ({real_hours:.2f} h of windows). Partial fakes: "
        f"{args.trials} recordings per span length, {args.context:g} s of real speech each side of one spoof "
        f"system's span. Seed {args.seed}; {len(results)} candidate rules; measured in {elapsed:.0f} s.",
        "",
        "| verdict rule | false segments / h of real audio | real 10-min recordings flagged | "
        + " | ".join(f"{s} s span detected" for s in SPAN_SECONDS) + " |",
        "|---|---|---|" + "---|" * len(SPAN_SECONDS),
    ]

    def rule_text(r: dict) -> str:
        rule = r["rule"]
        return (f"segments: p_fake >= {rule['min_p_fake']:g} over >= {rule['min_span_s']:g} s, "
                f"smoothed over {rule['smooth_s']:g} s")

    def row(name: str, r: dict, per_hour: str) -> str:
        return (f"| {name} | {per_hour} | {r['real_recordings_flagged']} of {len(real)} | "
                + " | ".join(f"{100 * r['detection'][s]:.0f}% ({round(r['detection'][s] * args.trials)}/{args.trials})"
                             for s in SPAN_SECONDS) + " |")

    lines.append(row(f"**chosen** {rule_text(best)}", best, f"{best['false_per_hour']:.2f}"))
    if current["rule"] != best["rule"]:
        lines.append(row(f"in use ({'checkpoint extra' if detector.info.extra.get('segment_rule') else 'segments.py defaults'}) "
                         f"{rule_text(current)}", current, f"{current['false_per_hour']:.2f}"))
    for other in sorted(results, key=lambda r: -r["mean_detection"])[:1]:
        if other["rule"] != best["rule"]:
            lines.append(row(f"most sensitive candidate {rule_text(other)}", other, f"{other['false_per_hour']:.2f}"))
    lines.append(row("no segments, mean window score (previous verdict)", baselines["mean"], "n/a"))
    lines.append(row("no segments, most fake window (`--aggregate min`)", baselines["min"], "n/a"))
    context_hours = sum(t.seconds - (t.span[1] - t.span[0]) for t in trials) / 3600
    lines += ["", f"False segments per hour count the long real recordings ({real_hours:.2f} h) and the real speech "
              f"around the inserted spans ({context_hours:.2f} h) together. Chosen: highest mean detection among the "
              f"rules with at most {args.max_false_per_hour:g} false segments per hour ({len(admissible)} of "
              f"{len(results)} rules qualify); it made {best['false_in_trials']} false segment(s) in the real speech "
              f"around the spans and {best['false_per_hour_long'] * real_hours:.0f} in the long real recordings. "
              "Spans detected by the chosen rule, per spoof system (all lengths): "
              + ", ".join(f"{k} {hit}/{n}" for k, (hit, n) in best["by_system"].items()) + "."]
    lines.append(f"Caveats: every recording is built from the same {distinct_real_s / 60:.1f} min of distinct bona fide "
                 "audio (in different orders), so the false-alarm rate rests on that much real speech, not on "
                 "independent hours; spans join clips of different speakers; the rule is picked and measured on the "
                 "same recordings.")
    if current["rule"] == best["rule"]:
        lines.append("The rule in use is the chosen one.")
    else:
        lines.append(f"To use it: `extra[\"segment_rule\"] = {json.dumps(best['rule'])}` in the checkpoint, "
                     "or as SegmentRule's defaults in src/deepfake_audio/segments.py for the bundled model.")
    publish(args.name, lines, write=not args.no_write)
    results_file = RESULTS_DIR / f"{args.name}.json"
    RESULTS_DIR.mkdir(exist_ok=True)
    if not args.no_write:
        setup = {"sources": sorted(sources), "how_sources_were_found": how_found, "real_recordings": len(real),
                 "real_minutes": args.real_minutes, "trials_per_span": args.trials, "context_s": args.context,
                 "max_false_per_hour": args.max_false_per_hour, "seed": args.seed,
                 "distinct_real_minutes": round(distinct_real_s / 60, 2), "seconds": round(elapsed)}
        head = json.dumps({"model": model_name, "setup": setup, "chosen": best, "in_use": current,
                           "baselines": baselines}, indent=1)
        # One line per candidate rule: 330 of them would be 35,000 lines indented.
        rows = ",\n".join("  " + json.dumps(r) for r in results)
        results_file.write_text(head[:-2] + f',\n "candidates": [\n{rows}\n ]\n}}\n')
    print("clips used (relative to the manifest):")
    for path in bona_used + spoof_used:
        print("  " + str(path.relative_to(args.manifest.parent)))


if __name__ == "__main__":
    main()
