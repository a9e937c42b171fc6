"""Does int8 or ONNX pay for a bundled model? Time its scoring of a batch of windows in PyTorch, PyTorch
with dynamically quantized linear layers, ONNX, and ONNX with dynamic int8 quantization, interleaved in
one run, with each variant's largest score difference to PyTorch.

    python bench/quantization.py [--model fast] [--batch 64] [--rounds 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from deepfake_audio.bundled import bundled_path
from deepfake_audio.checkpoint import load_checkpoint
from deepfake_audio.onnx_export import OnnxScorer, export_onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish


def speechlike_batch(count: int, samples: int) -> torch.Tensor:
    rng = np.random.default_rng(0)
    t = np.arange(samples) / 16_000
    rows = []
    for _ in range(count):
        f0 = rng.uniform(90, 250)
        wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(6 * t))
        rows.append(0.2 * wave / np.abs(wave).max() + 0.01 * rng.standard_normal(samples))
    return torch.from_numpy(np.stack(rows).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fast")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model, _ = load_checkpoint(bundled_path(args.model))
    batch = speechlike_batch(args.batch, model.num_samples)
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(bundled_path(args.model), Path(tmp) / "m.onnx")
        quantize_dynamic(str(Path(tmp) / "m.onnx"), str(Path(tmp) / "q.onnx"), weight_type=QuantType.QInt8)
        onnx, onnx_int8 = OnnxScorer(Path(tmp) / "m.onnx", args.threads), OnnxScorer(Path(tmp) / "q.onnx", args.threads)
        torch_int8 = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        variants = {"PyTorch": model.score, "PyTorch, int8 linear layers (dynamic)": torch_int8.score,
                    "ONNX": onnx.score, "ONNX, int8 (onnxruntime dynamic)": onnx_int8.score}
        times: dict[str, list[float]] = {name: [] for name in variants}
        with torch.inference_mode():
            expected = model.score(batch)
            difference = {name: float((score(batch) - expected).abs().max()) for name, score in variants.items()}
            for _ in range(args.rounds):
                for name, score in variants.items():
                    started = time.perf_counter()
                    score(batch)
                    times[name].append(time.perf_counter() - started)
    base = float(np.median(times["PyTorch"]))
    lines = [f"`--model {args.model}`: {args.batch} windows of {model.num_samples / 16_000:g} s, median of "
             f"{args.rounds} interleaved rounds, {args.threads} thread(s); measured {time.strftime('%Y-%m-%d')} "
             f"by `python bench/quantization.py {' '.join(sys.argv[1:])}`.", "",
             "| variant | ms per batch | speed vs PyTorch | largest score difference |", "|---|---|---|---|"]
    for name in variants:
        median = float(np.median(times[name]))
        lines.append(f"| {name} | {1000 * median:.1f} | {base / median:.2f}x | {difference[name]:.2e} |")
    publish("quantization", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
