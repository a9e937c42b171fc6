"""Fine-tune whisper-stats blocks from audio, drawing fresh crops and augmentation for both classes each epoch.

`recipes/whisper_finetune.py` trains from cached hidden states: cheap, but every epoch sees the same crops
and the same codec settings, and the tuned blocks learn those clips. This recipe runs the encoder on every
step instead, so each epoch draws new crops (a length drawn per batch, independent of the label), a new
view per clip (`recipes/whisper_features.py`'s `clean`, `codec` and `channel` chains, applied to bona fide
and spoof alike) and new augmentation settings. It is the recipe for a GPU; on a CPU one epoch of dev +
pool through three blocks of Whisper base took 9 minutes of two cores here.

1. The model starts from `--init` (the bundled default by default): its standardisation and logistic
   regression, so step 0 is that model. The top `--trainable-layers` of its blocks are trained.
2. Loss: cross-entropy with the classes balanced, plus the initial regression's L2 penalty on the
   classifier, so the head does not drift where the blocks do not lead it.
3. Learning rate: linear warm-up, then cosine decay to zero over `--epochs`; a fixed schedule, so no
   step is chosen on data the benchmark scores.
4. Every `--save-every` steps the run writes `resume.safetensors` (trainable weights, optimiser, step);
   `--resume` continues from it and gives the same weights as an uninterrupted run, because every batch
   and augmentation is a function of (seed, epoch, batch) alone.
5. The threshold and the p_fake calibration are fitted on scores of `--calibration-clips` training clips
   (clean and codec views) after training: in-sample, so expect them to be optimistic; `deepfake-audio
   calibrate` refits them on data of the user's own.

Every clip is held in memory, silence-trimmed (dev + pool: 8,234 clips, 2.8 GB resident here).

Usage:
    python recipes/whisper_finetune_audio.py --manifest DEV/manifest.csv --manifest POOL/manifest.csv --out OUT
Writes OUT/model.safetensors (an ordinary whisper-stats checkpoint with `trainable_layers` set) and
OUT/metrics.jsonl (loss every `--log-every` steps).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from whisper_features import VIEWS, read_manifests
from whisper_finetune import balanced_loss, block_and_head_optimiser, penalised, take_step

from deepfake_audio.augment import build_augmentation
from deepfake_audio.bundled import resolve_model
from deepfake_audio.calibration import fit_calibration
from deepfake_audio.checkpoint import load_checkpoint, save_checkpoint
from deepfake_audio.metrics import compute_eer
from deepfake_audio.models import build_model
from deepfake_audio.training_state import load_training_state, save_training_state

SAMPLE_RATE = 16_000


def load_clips(rows: list[dict]) -> tuple[list[np.ndarray], np.ndarray, list[dict]]:
    """Silence-trimmed waveforms (as the detector trims them) and labels (1 = bona fide); a clip that
    cannot be read is reported and left out."""
    from deepfake_audio.audio import load_audio, trim_silence
    from deepfake_audio.errors import DeepfakeAudioError

    audio, kept = [], []
    for row in rows:
        try:
            audio.append(trim_silence(load_audio(row["path"])).numpy())
            kept.append(row)
        except DeepfakeAudioError as e:
            print(f"skip {row['path']}: {e}", file=sys.stderr)
    return audio, np.array([r["label"] == "bonafide" for r in kept], dtype=np.int64), kept


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


def make_batch(audio: list[np.ndarray], batch: np.ndarray, chains: list, min_crop: float, max_crop: float,
               seed: int, epoch: int, number: int) -> torch.Tensor:
    """`(batch, samples)`: one crop length for the batch (drawn independently of the labels), each clip
    cropped at random and passed through a view's augmentation chain chosen for it (of `chains`), then all
    cut to the shortest."""
    rng = np.random.default_rng([seed, epoch, number])
    crop = int(rng.uniform(min_crop, max_crop) * SAMPLE_RATE)
    out = []
    for i in batch:
        x = audio[i]
        if len(x) > crop:
            start = int(rng.integers(0, len(x) - crop + 1))
            x = x[start : start + crop]
        chain = chains[int(rng.integers(len(chains)))]
        out.append(np.nan_to_num(chain(x, rng)).clip(-4.0, 4.0).astype(np.float32))
    n = min(len(x) for x in out)
    return torch.from_numpy(np.stack([x[:n] for x in out]))


class Batches(torch.utils.data.Dataset):
    """Batch `k` of one epoch, built in a loader worker so augmentation overlaps the training step."""

    def __init__(self, audio, plan, views, min_crop, max_crop, seed, epoch) -> None:
        self.audio, self.plan = audio, plan
        self.chains = [build_augmentation(VIEWS[v]) for v in views]  # built once, not per clip
        self.min_crop, self.max_crop, self.seed, self.epoch = min_crop, max_crop, seed, epoch

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, np.ndarray]:
        batch = self.plan[k]
        return make_batch(self.audio, batch, self.chains, self.min_crop, self.max_crop, self.seed, self.epoch, k), batch


def learning_rate_scale(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def initial_model(init: str, trainable_layers: int) -> tuple[nn.Module, float]:
    """The `--init` model rebuilt with its top blocks trainable, and its regression's C."""
    path = resolve_model(init)
    frozen, info = load_checkpoint(path, device="cpu")
    if info.model != "whisper-stats" or info.config.get("hidden"):
        raise SystemExit(f"{path}: --init must be a linear whisper-stats model")
    model = build_model("whisper-stats", encoder=info.config["encoder"],
                        encoder_layers=info.config["encoder_layers"], trainable_layers=trainable_layers)
    model.load_state_dict(frozen.state_dict(), strict=False)  # head and standardisation; blocks from the wheel
    c = info.extra.get("training", {}).get("classifier", {}).get("C", 0.001)
    return model, float(c)


@torch.no_grad()
def clip_scores(model: nn.Module, audio: list[np.ndarray], indices: np.ndarray, view: str, seed: int) -> np.ndarray:
    model.eval()
    out = np.zeros(len(indices))
    chain = build_augmentation(VIEWS[view])
    for j, i in enumerate(indices):
        x = chain(audio[i], np.random.default_rng([seed, int(i)]))
        logits = model.logits(torch.from_numpy(np.nan_to_num(x).astype(np.float32))[None])
        out[j] = float(logits[0, 1] - logits[0, 0])
    return out


def run_steps(args, model: nn.Module, optimiser: torch.optim.Optimizer, audio: list[np.ndarray],
              labels: np.ndarray, c: float, step: int, log, resume_path: Path) -> int:
    """Train from `step` to the end of the schedule (or `--stop-after`); returns the step reached. The
    resume state is written every `--save-every` steps and where the run stops."""
    views = args.views.split(",")
    base_lrs = [args.lr, args.head_lr]
    loss_fn = balanced_loss(labels, args.device)
    l2 = 1.0 / (2 * c * len(labels))  # the logistic regression's penalty, per training clip
    per_epoch = len(labels) // args.batch_size
    total = args.epochs * per_epoch
    model.train()
    running, clock = 0.0, time.time()
    while step < total:
        epoch, first = divmod(step, per_epoch)
        plan = epoch_batches(len(labels), args.batch_size, args.seed, epoch)[:per_epoch]
        loader = torch.utils.data.DataLoader(
            torch.utils.data.Subset(Batches(audio, plan, views, args.min_crop, args.max_crop, args.seed, epoch),
                                    range(first, per_epoch)),
            batch_size=None, num_workers=args.workers)
        for waveform, batch in loader:
            torch.manual_seed(args.seed * 1_000_003 + step)  # dropout masks depend on the step alone
            logits = model.logits(waveform.to(args.device))
            target = torch.from_numpy(labels[np.asarray(batch)]).to(args.device)
            loss = penalised(loss_fn(logits, target), model, l2)
            running += take_step(optimiser, loss, base_lrs, learning_rate_scale(step, total, args.warmup_steps))
            step += 1
            if step % args.log_every == 0 or step == total:
                record = {"step": step, "epoch": epoch, "loss": running / args.log_every,
                          "seconds": round(time.time() - clock, 1)}
                log.write(json.dumps(record) + "\n")
                log.flush()
                print(json.dumps(record), flush=True)
                running = 0.0
            stopping = step == args.stop_after
            if step % args.save_every == 0 or step == total or stopping:
                save_training_state({"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                                     "step": step}, resume_path)
            if stopping:
                return step
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", action="append", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--init", default="default", help="a linear whisper-stats checkpoint, or a bundled name")
    parser.add_argument("--trainable-layers", type=int, default=3)
    parser.add_argument("--views", default="clean,codec,channel")
    parser.add_argument("--min-crop", type=float, default=1.0)
    parser.add_argument("--max-crop", type=float, default=4.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-5, help="for the trainable blocks")
    parser.add_argument("--head-lr", type=float, default=3e-5)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--save-every", type=int, default=100, help="steps between resume states")
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--calibration-clips", type=int, default=1000)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/resume.safetensors")
    parser.add_argument("--stop-after", type=int, default=0,
                        help="leave after this many steps, resume state written (a time-boxed session)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="loader processes building batches")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, default=0, help="first N clips only (smoke runs)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    views = args.views.split(",")
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise SystemExit(f"--views: unknown view {unknown[0]} (choose from {', '.join(VIEWS)})")

    rows = read_manifests(args.manifest)[: args.limit or None]
    started = time.time()
    audio, labels, rows = load_clips(rows)
    print(f"{len(audio)} clips loaded in {time.time() - started:.0f} s", flush=True)

    model, c = initial_model(args.init, args.trainable_layers)
    model.to(args.device)
    optimiser = block_and_head_optimiser(model, args.lr, args.head_lr)
    step = 0
    resume_path = args.out / "resume.safetensors"
    if args.resume and resume_path.exists():
        state = load_training_state(resume_path)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step = int(state["step"])
        print(f"resumed at step {step}", flush=True)
    total = args.epochs * (len(labels) // args.batch_size)
    with open(args.out / "metrics.jsonl", "a", encoding="utf-8") as log:
        step = run_steps(args, model, optimiser, audio, labels, c, step, log, resume_path)
    if step < total:
        print(f"stopped at step {step} of {total}; continue with --resume", flush=True)
        return

    model.to("cpu")
    pick = np.random.default_rng(args.seed).permutation(len(labels))[: args.calibration_clips]
    scores = np.concatenate([clip_scores(model, audio, pick, v, args.seed) for v in ("clean", "codec")])
    cal_labels = np.concatenate([labels[pick]] * 2)
    eer, threshold = compute_eer(scores[cal_labels == 1], scores[cal_labels == 0])
    calibration = fit_calibration(scores[cal_labels == 1], scores[cal_labels == 0])
    extra = {
        "trim_silence": True,
        "training": {
            "recipe": "recipes/whisper_finetune_audio.py",
            "init": str(args.init),
            "views": views,
            "clips": len(labels),
            "sources": sorted({r["source"] for r in rows}),
            "optimiser": {"lr": args.lr, "head_lr": args.head_lr, "batch_size": args.batch_size,
                          "epochs": args.epochs, "warmup_steps": args.warmup_steps, "schedule": "cosine",
                          "crop_s": [args.min_crop, args.max_crop], "classifier_l2_C": c},
            "threshold_and_calibration": f"in-sample: {len(pick)} training clips, clean and codec views",
            "in_sample_eer": float(eer),
        },
    }
    out = args.out / "model.safetensors"
    save_checkpoint(model, out, threshold=float(threshold), calibration=calibration.to_dict(), extra=extra)
    print(f"wrote {out}: in-sample EER {100 * eer:.2f}%, threshold {threshold:.4f}", flush=True)


if __name__ == "__main__":
    main()
