"""CPU training cost of every registered model on the development corpus: seconds per epoch.

For each model, times `--steps` optimiser steps on real 4 s-ish crops of dev-corpus clips (its own
window length, batch 32, decoded audio cached beforehand so only the model is timed), after one warm-up
step, and extrapolates to one epoch over the whole corpus (2,906 clips). Also reports inference speed
(x real time) on the same batches. Full epochs of the raw-waveform models take hours on a CPU, which is
why they are extrapolated; the cheap models can be checked against bench/generalisation.py's measured
seconds per epoch.

    python bench/train_speed.py [--steps 3] [--threads 2] [--models seed-cnn,lfs-tcn,...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from deepfake_audio.data.corpora import read_dataset
from deepfake_audio.data.dataset import WaveformCache, crop_window
from deepfake_audio.models import MODELS, available_models, build_model, count_parameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish

MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev" / "manifest.csv"
BATCH = 32


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: torch.nn.Module,
               batch: torch.Tensor, targets: torch.Tensor) -> None:
    optimizer.zero_grad()
    loss_fn(model(batch), targets).backward()
    optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    # Models on user-supplied pretrained weights (ssl-sls) need a path, so they are not in the default list.
    parser.add_argument("--models", default=",".join(
        m for m in available_models() if not MODELS[m].needs_local_weights))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not args.manifest.exists():
        sys.exit(f"skipped: the development corpus is not at {args.manifest}")
    torch.set_num_threads(args.threads)
    trials = read_dataset("csv", args.manifest)
    cache = WaveformCache()
    sample = [cache.get(t) for t in trials[:: max(1, len(trials) // (BATCH * 2))][: BATCH * 2]]
    generator = torch.Generator().manual_seed(0)

    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        torch.manual_seed(0)
        model = build_model(name)
        batches = [torch.stack([crop_window(w, model.num_samples, "random", generator) for w in sample[i::2]])
                   for i in range(2)]
        targets = torch.arange(BATCH) % 2
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        loss_fn = torch.nn.CrossEntropyLoss()

        model.train()
        train_step(model, optimizer, loss_fn, batches[0], targets)  # warm-up
        started = time.perf_counter()
        for i in range(args.steps):
            train_step(model, optimizer, loss_fn, batches[i % 2], targets)
        per_step = (time.perf_counter() - started) / args.steps
        model.eval()
        with torch.inference_mode():
            model(batches[0])
            started = time.perf_counter()
            model(batches[1])
            infer = time.perf_counter() - started
        epoch = per_step * len(trials) / BATCH
        rows.append((name, count_parameters(model), model.config.duration, per_step, epoch,
                     BATCH * model.config.duration / infer))
        print(f"{name}: {per_step:.2f} s/step, ~{epoch:.0f} s/epoch", flush=True)

    lines = [
        f"Training cost on CPU ({args.threads} torch threads, batch {BATCH}, each model's own window, {args.steps} timed"
        f" steps after a warm-up, extrapolated to one epoch over {len(trials):,} clips); measured"
        f" {time.strftime('%Y-%m-%d')} by `python bench/train_speed.py {' '.join(sys.argv[1:])}`.",
        "",
        "| model | params | window s | s/step | s/epoch (extrapolated) | inference x real time |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {p:,} | {d:g} | {s:.2f} | {e:,.0f} | {x:,.0f} |" for n, p, d, s, e, x in rows]
    publish("training cost", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
