"""Train a whisper-attentive head on cached frames (recipes/whisper_features.py --frames N), on a CPU.

Validation holds out whole sources (collections), chosen at random with a fixed seed until they hold
`--val-fraction` of the clips; all views of a clip stay on one side. The epoch with the lowest validation
EER (all views pooled, one threshold) is kept; the threshold (equal-error point) and the p_fake
calibration are fitted on its validation scores. Classes are balanced in the loss.

Usage:
    python recipes/whisper_attentive.py --cache CACHE_DIR --views clean,codec --out runs/wa/model.safetensors
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepfake_audio.calibration import fit_calibration
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.metrics import compute_eer
from deepfake_audio.models import build_model


class CachedFrames:
    """Clips of several views: `(offset, count)` rows into each view's memory-mapped frame array."""

    def __init__(self, cache: Path, views: list[str]) -> None:
        self.frames, self.rows, labels, sources, self.view = [], [], [], [], []
        for v, view in enumerate(views):
            meta = np.load(cache / f"{view}.npz")
            self.frames.append(np.load(cache / f"{view}.frames.npy", mmap_mode="r"))
            self.rows += [(v, int(o), int(n)) for o, n in meta["stats"]]
            labels.append(meta["label"])
            sources.append(meta["source"])
            self.view += [view] * len(meta["label"])
        self.label = np.concatenate(labels).astype(int)
        self.source = np.concatenate(sources)
        self.view = np.array(self.view)

    def batch(self, indices: np.ndarray, max_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded states `(batch, frames, states, width)` float32 and the mask of real frames."""
        rows = [self.rows[i] for i in indices]
        longest = min(max_frames, max(n for _, _, n in rows))
        first = self.frames[rows[0][0]]
        out = np.zeros((len(rows), longest, *first.shape[1:]), dtype=np.float32)
        mask = np.zeros((len(rows), longest), dtype=bool)
        for j, (v, offset, count) in enumerate(rows):
            count = min(count, longest)
            out[j, :count] = self.frames[v][offset : offset + count]
            mask[j, :count] = True
        return torch.from_numpy(out), torch.from_numpy(mask)


def split_sources(sources: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """True for rows of the validation sources."""
    rng = np.random.default_rng(seed)
    names = np.unique(sources)
    rng.shuffle(names)
    chosen, total = [], 0
    for name in names:
        if total >= fraction * len(sources):
            break
        chosen.append(name)
        total += int((sources == name).sum())
    return np.isin(sources, chosen)


def score(model, data: CachedFrames, indices: np.ndarray, batch: int) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(indices), batch):
            x, mask = data.batch(indices[start : start + batch], 10**9)
            logits = model.head(x, mask)
            out.append((logits[:, 1] - logits[:, 0]).numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--views", default="clean,codec")
    parser.add_argument("--encoder", default="whisper-base")
    parser.add_argument("--encoder-layers", type=int, default=3)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-2)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    data = CachedFrames(args.cache, args.views.split(","))
    val = split_sources(data.source, args.val_fraction, args.seed)
    train_idx, val_idx = np.nonzero(~val)[0], np.nonzero(val)[0]
    print(f"{len(data.label)} rows; validation sources: {', '.join(sorted(set(data.source[val])))} "
          f"({len(val_idx)} rows)", flush=True)
    model = build_model("whisper-attentive", encoder=args.encoder, encoder_layers=args.encoder_layers)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    steps = max(1, args.epochs * (len(train_idx) // args.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=args.lr, total_steps=steps)
    share = data.label[train_idx].mean()
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor([0.5 / (1 - share), 0.5 / share], dtype=torch.float32))
    rng = np.random.default_rng(args.seed)
    best = (2.0, None, None, -1)
    history = []
    for epoch in range(args.epochs):
        started = time.time()
        model.train()
        order = rng.permutation(train_idx)
        total = 0.0
        for start in range(0, len(order) - args.batch_size + 1, args.batch_size):
            batch = order[start : start + args.batch_size]
            x, mask = data.batch(batch, 200)
            loss = loss_fn(model.head(x, mask), torch.from_numpy(data.label[batch]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            total += float(loss.detach()) * len(batch)
        scores = score(model, data, val_idx, 256)
        labels = data.label[val_idx]
        eer = compute_eer(scores[labels == 1], scores[labels == 0])[0]
        by_view = {v: float(compute_eer(scores[(labels == 1) & (data.view[val_idx] == v)],
                                        scores[(labels == 0) & (data.view[val_idx] == v)])[0])
                   for v in np.unique(data.view[val_idx])}
        history.append({"epoch": epoch + 1, "loss": total / len(order), "val_eer": float(eer), "by_view": by_view})
        print(f"epoch {epoch + 1}: loss {total / len(order):.4f}, validation EER {100 * eer:.2f}% "
              f"({', '.join(f'{v} {100 * e:.1f}' for v, e in by_view.items())}) in {time.time() - started:.0f} s",
              flush=True)
        if eer < best[0]:
            state = {k: v.clone() for k, v in model.state_dict().items()}
            best = (float(eer), state, scores, epoch + 1)
    eer, state, scores, epoch = best
    model.load_state_dict(state)
    training = {"recipe": "recipes/whisper_attentive.py", "views": args.views.split(","), "rows": len(train_idx),
                "best_epoch": epoch, "validation_eer": eer, "history": history}
    save_validated(model, args.out, scores, data.label[val_idx], data.source, val, training)
    print(json.dumps({"best_epoch": epoch, "validation_eer": eer}))


def save_validated(model, out: Path, scores: np.ndarray, labels: np.ndarray, sources: np.ndarray,
                   val: np.ndarray, training: dict) -> None:
    """Write the kept model with its threshold (equal-error point) and p_fake calibration fitted on its scores
    on the held-out sources, and record which sources it trained and was validated on."""
    threshold = float(compute_eer(scores[labels == 1], scores[labels == 0])[1])
    calibration = fit_calibration(scores[labels == 1], scores[labels == 0])
    held_out = sorted(set(sources[val].tolist()))
    extra = {
        "trim_silence": True,
        "training": {
            **training,
            "validation_sources": held_out,
            "training_sources": sorted(set(sources[~val].tolist())),
            "threshold_and_calibration": "validation sources (held out from training), all views",
        },
        "validation_data": {"sources": held_out, "how": "held out from training for validation"},
    }
    save_checkpoint(model, out, threshold=threshold, calibration=calibration.to_dict(), extra=extra)
    print(f"wrote {out}: threshold {threshold:.4f}, calibration {calibration.to_dict()}")


if __name__ == "__main__":
    main()
