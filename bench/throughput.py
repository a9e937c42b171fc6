"""Scoring speed: the project's `detect` path against the seed report's reference pipeline, in one run.

Workloads (seeded speech-like FLAC at 22.05 kHz, so every pipeline must resample): short (1 s clips),
medium (10 s files) and long (10-minute files). Pipelines:
- reference: per file, `librosa.load` + `librosa.feature.mfcc` + the seed CNN one 1 s segment at a time
  (how the seed report's system scores files; on a 1 s clip exactly its pipeline);
- project: `Detector.detect_files` (the engine behind `deepfake-audio detect`) with each bundled model
  (`default`, `fast`), in PyTorch and exported to ONNX.
Every pipeline runs once per round on the same files, rounds interleaved, and the best round counts: on
a shared machine the load drifts, and interleaving keeps the ratios fair. Speed is files per second and
seconds of audio per second of wall time (x real time); compare ratios measured in the same run.

    python bench/throughput.py [--short 400] [--medium 40] [--long 3] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from deepfake_audio.allocator import keep_freed_memory
from deepfake_audio.bundled import BUNDLED, bundled_path
from deepfake_audio.detector import Detector
from deepfake_audio.models import build_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish

SAMPLE_RATE = 22_050


def make_files(folder: Path, count: int, seconds: float, seed: int) -> list[Path]:
    """Seeded speech-like files (harmonics of a random pitch, a slow envelope, a little noise)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        with sf.SoundFile(folder / f"file_{i:04d}.flac", "w", SAMPLE_RATE, 1, subtype="PCM_16") as f:
            for start in np.arange(0.0, seconds, 60.0):  # a minute at a time: long files never sit in memory
                t = start + np.arange(round(min(60.0, seconds - start) * SAMPLE_RATE)) / SAMPLE_RATE
                f0 = rng.uniform(90, 250)
                wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(6 * t))
                f.write((0.2 * wave / np.abs(wave).max() + 0.01 * rng.standard_normal(t.size)).astype(np.float32))
        paths.append(folder / f"file_{i:04d}.flac")
    return paths


def reference_pipeline(model: torch.nn.Module) -> Callable[[list[Path]], None]:
    """The seed report's way: librosa per file, then the CNN on one 1 s segment at a time."""
    import librosa

    cfg = model.config

    def run(paths: list[Path]) -> None:
        with torch.inference_mode():
            for path in paths:
                wave, _ = librosa.load(path, sr=16_000)
                wave = librosa.util.fix_length(wave, size=max(16_000, -(-wave.size // 16_000) * 16_000))
                for start in range(0, wave.size, 16_000):
                    mfcc = librosa.feature.mfcc(y=wave[start : start + 16_000], sr=16_000, n_mfcc=cfg.n_mfcc,
                                                n_fft=cfg.n_fft, hop_length=cfg.hop_length)
                    model.classifier(model.features(torch.from_numpy(mfcc).float()[None, None]))

    return run


def project_pipeline(checkpoint: Path, batch_size: int, threads: int | None = None) -> Callable[[list[Path]], None]:
    """`detect` on the files; with `threads`, torch's intra-op threads while it runs (`detect --threads`)."""
    detector = Detector.from_pretrained(checkpoint, device="cpu", batch_size=batch_size)

    def run(paths: list[Path]) -> None:
        before = torch.get_num_threads()
        torch.set_num_threads(threads or before)
        try:
            failed = [r.error for r in detector.detect_files(paths) if r.error]
        finally:
            torch.set_num_threads(before)
        if failed:
            raise RuntimeError(f"{len(failed)} file(s) failed, e.g. {failed[0]}")

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", type=int, default=400, help="1 s clips")
    parser.add_argument("--medium", type=int, default=40, help="10 s files")
    parser.add_argument("--long", type=int, default=3, help="10-minute files")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best counts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32, help="windows per forward pass (detect's default)")
    parser.add_argument("--models", default=",".join(BUNDLED), help="bundled models to time")
    parser.add_argument("--single-thread", default="fast",
                        help="bundled models also timed with one torch thread (`detect --threads 1`): a light "
                             "model gains more from its decode and analysis threads having a core than from a "
                             "second torch thread")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX exports")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--record", action="store_true",
                        help="store each timed bundled model's x real time on the long files (PyTorch) in its "
                             "checkpoint header (extra.measured), which `deepfake-audio models` shows")
    parser.add_argument("--note", default="", help="a line about the machine (e.g. its load) for the table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as `deepfake-audio detect` does (src/deepfake_audio/allocator.py)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        workloads = {name: (make_files(folder / name, count, seconds, seed), seconds)
                     for seed, (name, count, seconds) in enumerate(
                         [("short (1 s)", args.short, 1.0), ("medium (10 s)", args.medium, 10.0),
                          ("long (10 min)", args.long, 600.0)]) if count > 0}
        torch.manual_seed(0)
        pipelines: dict[str, Callable[[list[Path]], None]] = {
            "reference: librosa MFCC per file + seed CNN, batch 1": reference_pipeline(build_model("seed-cnn").eval())}
        for name in args.models.split(","):
            checkpoint = bundled_path(name)
            architecture = Detector.from_pretrained(checkpoint, device="cpu").info.model
            pipelines[f"detect --model {name} ({architecture}), PyTorch"] = project_pipeline(checkpoint, args.batch_size)
            if name in args.single_thread.split(",") and args.threads != 1:
                pipelines[f"detect --model {name} ({architecture}), PyTorch, --threads 1"] = project_pipeline(
                    checkpoint, args.batch_size, threads=1)
            if not args.no_onnx:
                from deepfake_audio.onnx_export import export_onnx

                try:
                    export_onnx(checkpoint, folder / f"{name}.onnx")
                except Exception as e:  # noqa: BLE001 (a model the exporter cannot trace is reported, not fatal)
                    print(f"{name}: ONNX export failed ({str(e).splitlines()[0]})", file=sys.stderr)
                    continue
                pipelines[f"detect --model {name} ({architecture}), ONNX"] = project_pipeline(
                    folder / f"{name}.onnx", args.batch_size)

        best: dict[tuple[str, str], float] = {}
        for workload, (paths, _) in workloads.items():
            for run in pipelines.values():  # warm-up: imports, allocator growth, caches
                run(paths[:2])
            for _ in range(args.rounds):
                for name, run in pipelines.items():
                    started = time.perf_counter()
                    run(paths)
                    elapsed = time.perf_counter() - started
                    best[workload, name] = min(elapsed, best.get((workload, name), float("inf")))
                    print(f"{workload:14} {name:60} {elapsed:8.2f} s", file=sys.stderr)

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} by `python bench/throughput.py {' '.join(sys.argv[1:])}`: "
        f"{args.threads} torch threads, best of {args.rounds} interleaved rounds, 22.05 kHz FLAC resampled "
        "by every pipeline." + (f" {args.note}" if args.note else ""),
        "",
        "| files | pipeline | wall s | files/s | x real time | files/s vs reference |",
        "|---|---|---|---|---|---|",
    ]
    for workload, (paths, seconds) in workloads.items():
        reference = best[workload, next(iter(pipelines))]
        for name in pipelines:
            wall = best[workload, name]
            lines.append(f"| {len(paths)} x {workload} | {name} | {wall:.2f} | {len(paths) / wall:.1f} | "
                         f"{len(paths) * seconds / wall:.0f} | {reference / wall:.2f}x |")
    publish("throughput", lines, write=not args.no_write)
    if args.record and "long (10 min)" in workloads:
        from deepfake_audio.bundled import record_measurement

        paths, seconds = workloads["long (10 min)"]
        for name in args.models.split(","):
            # The model's fastest PyTorch configuration on the long files, named with the setting it needs.
            keys = [k for k in pipelines if k.startswith(f"detect --model {name} (") and "PyTorch" in k]
            key = min(keys, key=lambda k: best["long (10 min)", k])
            setting = f"{args.threads} threads" if key.endswith("PyTorch") else "--threads 1"
            record_measurement(bundled_path(name), realtime_factor=round(len(paths) * seconds / best["long (10 min)", key]),
                               realtime_factor_measured=f"bench/throughput.py, 10-minute files, {setting}, "
                                                        f"{time.strftime('%Y-%m-%d')}")

if __name__ == "__main__":
    main()
