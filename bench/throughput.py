"""Scoring speed: the project's `detect` path against the seed report's reference pipeline.

Measured in one run, on the same folder of one-second clips and the same CNN weights:
- reference: per file, `librosa.load` + `librosa.feature.mfcc` + the seed CNN on a batch of one
  (how the seed report's system scores files);
- project: `Detector.detect_files` (the engine behind `deepfake-audio detect`) with the `seed-cnn`
  preset, and with the bundled default model.
Speed is seconds of audio scored per second of wall time (x real time); the ratio is what to compare,
the machines are shared and noisy.

    python bench/throughput.py [--clips 400] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.detector import Detector, bundled_model_path
from deepfake_audio.models import build_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish


def make_clips(folder: Path, count: int, seconds: float = 1.0) -> list[Path]:
    """Seeded speech-like one-second clips at 22.05 kHz (so both pipelines must resample)."""
    rng = np.random.default_rng(0)
    sample_rate = 22_050
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    paths = []
    for i in range(count):
        f0 = rng.uniform(90, 250)
        wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(6 * t))
        wave = 0.2 * wave / np.abs(wave).max() + 0.01 * rng.standard_normal(t.size)
        paths.append(folder / f"clip_{i:04d}.flac")
        sf.write(paths[-1], wave.astype(np.float32), sample_rate)
    return paths


def reference_pipeline(model: torch.nn.Module, paths: list[Path]) -> float:
    """The seed report's way: librosa per file, then the CNN on one example at a time."""
    import librosa

    cfg = model.config
    started = time.perf_counter()
    with torch.inference_mode():
        for path in paths:
            wave, _ = librosa.load(path, sr=16_000)
            wave = librosa.util.fix_length(wave, size=16_000)
            mfcc = librosa.feature.mfcc(y=wave, sr=16_000, n_mfcc=cfg.n_mfcc, n_fft=cfg.n_fft, hop_length=cfg.hop_length)
            features = torch.from_numpy(mfcc).float()[None, None]
            model.classifier(model.features(features))
    return time.perf_counter() - started


def project_pipeline(checkpoint: Path, paths: list[Path], batch_size: int) -> float:
    detector = Detector.from_pretrained(checkpoint, device="cpu", batch_size=batch_size)
    started = time.perf_counter()
    results = list(detector.detect_files(paths))
    elapsed = time.perf_counter() - started
    assert all(r.error is None for r in results)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs per pipeline")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--onnx", action="store_true", help="also time the bundled model exported to ONNX")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_clips(folder, args.clips)
        audio_seconds = float(len(paths))
        torch.manual_seed(0)
        seed_model = build_model("seed-cnn").eval()
        seed_checkpoint = save_checkpoint(seed_model, folder / "seed.safetensors")

        # Warm-up: first calls pay for imports, allocator growth and caches.
        reference_pipeline(seed_model, paths[:20])
        project_pipeline(seed_checkpoint, paths[:20], args.batch_size)
        reference = min(reference_pipeline(seed_model, paths) for _ in range(args.repeats))
        project = min(project_pipeline(seed_checkpoint, paths, args.batch_size) for _ in range(args.repeats))
        rows = [("reference: librosa MFCC per file + seed CNN, batch 1", reference),
                ("project: detect, seed-cnn preset", project)]
        bundled = bundled_model_path()
        if bundled.exists():
            project_pipeline(bundled, paths[:20], args.batch_size)
            name = Detector.from_pretrained(bundled).info.model
            rows.append((f"project: detect, bundled default ({name})",
                         min(project_pipeline(bundled, paths, args.batch_size) for _ in range(args.repeats))))
            if args.onnx:
                from deepfake_audio.onnx_export import export_onnx

                export_onnx(bundled, folder / "bundled.onnx")
                project_pipeline(folder / "bundled.onnx", paths[:20], args.batch_size)
                rows.append((f"project: detect, bundled default ({name}) as ONNX",
                             min(project_pipeline(folder / "bundled.onnx", paths, args.batch_size)
                                 for _ in range(args.repeats))))

    lines = [
        f"{len(paths)} one-second clips (22.05 kHz FLAC, resampled by both pipelines), {args.threads} torch threads,"
        f" best of {args.repeats}; measured {time.strftime('%Y-%m-%d')} by `python bench/throughput.py"
        f" {' '.join(sys.argv[1:])}`.",
        "",
        "| pipeline | wall s | x real time | speed vs reference |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {seconds:.3f} | {audio_seconds / seconds:.1f} | {reference / seconds:.2f}x |"
              for name, seconds in rows]
    publish("throughput", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
