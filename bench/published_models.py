"""The field's published detectors on the external test set, beside the bundled model, in one run.

Imports the official clovaai AASIST-L and AASIST weights (`../shared/models/aasist/`) with
`import-checkpoint` into a temporary folder, scores `../shared/data/external/manifest.csv` (TEST ONLY:
nothing here is fitted on it) through `Detector` exactly as `detect` does, and reports per model:
pooled EER (one threshold for all collections), the error rates at the model's own threshold, the EER
inside each collection that has both classes, and the false-alarm rate on the real-only collections.
The bundled model is scored in the same run as the baseline. Per-clip scores go to
bench/results/published-models.json; the table goes into BENCHMARKS.md (section `published-models`).

    nice -n 15 python bench/published_models.py [--arms aasist-l,aasist,bundled] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from deepfake_audio.data.corpora import read_dataset
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.detector import Detector
from deepfake_audio.evaluate import score_trials
from deepfake_audio.importers import import_checkpoint
from deepfake_audio.metrics import compute_eer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EXTERNAL = SHARED / "data" / "external" / "manifest.csv"
WEIGHTS = SHARED / "models" / "aasist"
OFFICIAL = {"aasist-l": "AASIST-L.pth", "aasist": "AASIST.pth"}
RESULTS = REPO / "bench" / "results" / "published-models.json"


def checkpoint_for(arm: str, folder: Path) -> Path | None:
    """The checkpoint an arm scores with: an imported official file, or None for the bundled model."""
    if arm == "bundled":
        return None
    out = folder / f"{arm}.safetensors"
    import_checkpoint("clovaai-aasist", WEIGHTS / OFFICIAL[arm], out)
    return out


def measure(trials: list[Trial], scores: np.ndarray, threshold: float) -> dict:
    """Pooled and per-collection numbers for one model's scores."""
    labels = np.array([t.label is Label.BONAFIDE for t in trials])
    sources = np.array([t.source or "" for t in trials], dtype=object)
    eer, _ = compute_eer(scores[labels], scores[~labels])
    per_source, real_only = {}, {}
    for source in sorted(set(sources)):
        mine = sources == source
        bona, spoof = scores[mine & labels], scores[mine & ~labels]
        if bona.size and spoof.size:
            per_source[source] = {"eer": compute_eer(bona, spoof)[0], "bonafide": int(bona.size), "spoof": int(spoof.size)}
        elif bona.size:
            real_only[source] = {"false_alarm": float((bona < threshold).mean()), "bonafide": int(bona.size)}
    return {
        "eer": float(eer),
        "threshold": threshold,
        "bonafide_called_fake": float((scores[labels] < threshold).mean()),
        "spoof_called_real": float((scores[~labels] >= threshold).mean()),
        "per_source": per_source,
        "real_only": real_only,
    }


def table(results: dict[str, dict], seconds: dict[str, float], num: tuple[int, int]) -> list[str]:
    arms = list(results)
    lines = [
        f"External test set (`../shared/data/external`, {num[0]} bona fide / {num[1]} spoof clips, test only), "
        "scored through `Detector` as `detect` does. The AASIST rows are the official clovaai weights "
        "(ASVspoof 2019 LA training) imported with `import-checkpoint clovaai-aasist`, at their reference "
        "threshold 0 (not re-fitted); `bundled` is the model shipped in the package, measured in the same run. "
        f"Produced by `bench/published_models.py`; scoring time on this shared CPU is indicative only.",
        "",
        "| model | pooled EER | bona fide called fake at its threshold | spoof called real at its threshold "
        "| mean per-collection EER | false alarms on real-only collections | scoring time |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm in arms:
        r = results[arm]
        per = [v["eer"] for v in r["per_source"].values()]
        bona_only = sum(v["bonafide"] for v in r["real_only"].values())
        false_alarms = sum(v["false_alarm"] * v["bonafide"] for v in r["real_only"].values())
        lines.append(
            f"| {arm} | {100 * r['eer']:.1f}% | {100 * r['bonafide_called_fake']:.1f}% | "
            f"{100 * r['spoof_called_real']:.1f}% | {100 * np.mean(per):.1f}% | "
            f"{100 * false_alarms / max(bona_only, 1):.1f}% of {bona_only} | {seconds[arm]:.0f} s |"
        )
    lines += ["", "EER inside each collection with both classes (its own bona fide against its own spoofs):", "",
              "| collection | bona fide / spoof | " + " | ".join(arms) + " |",
              "|---|---|" + "---|" * len(arms)]
    first = results[arms[0]]["per_source"]
    for source, row in first.items():
        cells = " | ".join(f"{100 * results[a]['per_source'][source]['eer']:.1f}%" for a in arms)
        lines.append(f"| {source} | {row['bonafide']} / {row['spoof']} | {cells} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default="bundled,aasist-l,aasist", help="comma-separated: aasist-l, aasist, bundled")
    parser.add_argument("--manifest", type=Path, default=EXTERNAL)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8, help="windows per forward pass")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.manifest.exists() or not (WEIGHTS / "AASIST-L.pth").exists():
        sys.exit(f"needs {args.manifest} and the official weights in {WEIGHTS}")
    trials = read_dataset("csv", args.manifest)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    labels = [t.label is Label.BONAFIDE for t in trials]
    counts = (sum(labels), len(labels) - sum(labels))
    results, seconds, clip_scores = {}, {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for arm in arms:
            detector = Detector.from_pretrained(checkpoint_for(arm, Path(folder)), device="cpu",
                                                batch_size=args.batch_size)
            start = time.perf_counter()
            scored = score_trials(detector, trials, progress=True)
            seconds[arm] = time.perf_counter() - start
            if scored.failed:
                print(f"{arm}: {len(scored.failed)} clip(s) unreadable, left out", file=sys.stderr)
            results[arm] = measure(scored.trials, scored.scores, detector.threshold)
            clip_scores[arm] = {t.utterance_id: float(s) for t, s in zip(scored.trials, scored.scores)}
            print(f"{arm}: pooled EER {100 * results[arm]['eer']:.2f}% ({seconds[arm]:.0f} s)", file=sys.stderr)
            # Written after every arm, so an interrupted run still leaves what it measured.
            if not args.no_write:
                RESULTS.write_text(json.dumps({"manifest": str(args.manifest), "results": results,
                                               "seconds": seconds, "scores": clip_scores}, indent=1))
            publish("published-models", table(results, seconds, counts), write=not args.no_write)

if __name__ == "__main__":
    main()
