"""Training: one explicit loop from config to a calibrated, best-by-validation-EER checkpoint.

Runs on one device, or under `torchrun` with DistributedDataParallel (one process per GPU, or gloo
processes on CPU). A run folder holds `config.yaml`, `metrics.jsonl`, `best.safetensors` (the release
checkpoint) and `resume.safetensors` (optimizer, scheduler, RNG and epoch), so a killed run continues
from its last finished epoch when started again with the same folder.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from tqdm import tqdm

from deepfake_audio.calibration import fit_calibration
from deepfake_audio.checkpoint import CheckpointInfo, save_checkpoint
from deepfake_audio.config import ExperimentConfig, config_to_dict, save_config
from deepfake_audio.data.corpora import read_dataset
from deepfake_audio.data.dataset import (
    WaveformCache,
    WindowDataset,
    balanced_sampler,
    class_weights,
    source_balanced_sampler,
)
from deepfake_audio.data.provenance import EXTRA_KEY as TRAINING_DATA
from deepfake_audio.data.provenance import VALIDATION_KEY as VALIDATION_DATA
from deepfake_audio.data.provenance import describe_data
from deepfake_audio.data.splits import filter_trials, split_trials
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.detector import Detector
from deepfake_audio.device import resolve_device
from deepfake_audio.errors import ConfigError
from deepfake_audio.metrics import compute_eer
from deepfake_audio.models import DetectorModel, build_model
from deepfake_audio.training_state import (
    capture_rng_states,
    load_training_state,
    restore_rng_states,
    save_training_state,
)

log = logging.getLogger(__name__)

BEST = "best.safetensors"
RESUME = "resume.safetensors"
METRICS = "metrics.jsonl"
# loss: class-weighted cross-entropy; sampler: draw both labels equally; source: draw every
# (collection, label) cell equally; none: neither.
BALANCE_MODES = ("loss", "sampler", "source", "none")


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_name: str) -> tuple[Distributed, torch.device]:
    """Join the process group `torchrun` describes in the environment, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(), resolve_device(device_name)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    return Distributed(rank, world_size, local_rank), device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def load_splits(config: ExperimentConfig) -> tuple[list[Trial], list[Trial]]:
    """Training and validation trials as the data config asks."""
    data = config.data
    if not data.root:
        raise ConfigError("data.root is empty: give the manifest or corpus folder (e.g. --set data.root=PATH)")
    trials = filter_trials(read_dataset(data.dataset, data.root, **data.options),
                           data.exclude_sources, data.exclude_systems)
    if data.val_root:
        val = read_dataset(data.val_dataset or data.dataset, data.val_root, **data.val_options)
        return trials, filter_trials(val, data.exclude_sources, data.exclude_systems)
    return split_trials(trials, data.split, data.val_fraction, seed=config.train.seed)


def validate(detector: Detector, trials: list[Trial], cache: WaveformCache) -> dict[str, Any]:
    """Score whole validation clips with the inference windowing; EER and its threshold."""
    items = ((str(t.path), cache.get(t)) for t in trials)
    predictions = list(detector.score_waveforms(items, withhold_no_speech=False))
    scores = np.array([p.score for p in predictions], dtype=np.float64)
    labels = np.array([t.label is Label.BONAFIDE for t in trials])
    eer, threshold = compute_eer(scores[labels], scores[~labels])
    return {"eer": float(eer), "threshold": float(threshold), "bona": scores[labels], "spoof": scores[~labels]}


def make_lr_lambda(kind: str, total_steps: int) -> Callable[[int], float]:
    if kind == "none":
        return lambda step: 1.0
    if kind == "cosine":
        return lambda step: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / max(1, total_steps)))
    raise ConfigError(f"unknown train.scheduler {kind!r}; choose none or cosine")


@dataclass
class TrainResult:
    best_checkpoint: Path  # best validation EER so far (also over earlier, resumed runs)
    model: DetectorModel  # the weights after the last epoch run (this rank's copy under DDP)
    epochs_run: int


# Keys that may change between a killed run and its resumption (a longer schedule, another device).
RESUMABLE_CHANGES = {("train", "epochs"), ("train", "device"), ("data", "num_workers")}


def check_resumable(run_dir: Path, config: ExperimentConfig) -> None:
    """Refuse to resume (or overwrite) a run folder that holds a run of a different config.

    Resuming loads the folder's weights and optimiser state, so a different model or recipe would
    fail halfway or, worse, silently continue someone else's run; and the old config.yaml would be
    overwritten. Compared after a YAML round trip, so tuples and lists compare equal.
    """
    if not (run_dir / RESUME).exists():
        return
    saved_path = run_dir / "config.yaml"
    if not saved_path.exists():
        raise ConfigError(f"{run_dir} holds a resumable run without its config.yaml; use another --out")
    saved = yaml.safe_load(saved_path.read_text()) or {}
    wanted = yaml.safe_load(yaml.safe_dump(config_to_dict(config)))
    differing = sorted(
        f"{section}.{key}"
        for section in set(saved) | set(wanted)
        for key in set(saved.get(section) or {}) | set(wanted.get(section) or {})
        if (section, key) not in RESUMABLE_CHANGES
        and (saved.get(section) or {}).get(key) != (wanted.get(section) or {}).get(key)
    )
    if differing:
        raise ConfigError(
            f"{run_dir} already holds a run with a different config ({', '.join(differing)}); it would be "
            f"resumed, not replaced: choose another --out, or delete that folder to start over"
        )


def train(
    config: ExperimentConfig,
    run_dir: str | Path,
    *,
    progress: bool = True,
    splits: tuple[list[Trial], list[Trial]] | None = None,
    cache: WaveformCache | None = None,
) -> TrainResult:
    """Train as `config` says, writing into `run_dir`.

    `splits` gives (training, validation) trials directly instead of reading `config.data` (the
    cross-validation benchmark uses it); `cache` shares decoded audio between runs.
    """
    run_dir = Path(run_dir)
    cfg = config.train
    ddp, device = init_distributed(cfg.device)
    seed_everything(cfg.seed + ddp.rank)
    check_resumable(run_dir, config)
    if ddp.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.yaml")

    train_trials, val_trials = splits if splits is not None else load_splits(config)
    if not train_trials or not val_trials:
        raise ConfigError(f"empty split: {len(train_trials)} training and {len(val_trials)} validation trials")
    for name, part in (("training", train_trials), ("validation", val_trials)):
        if len({t.label for t in part}) < 2:
            raise ConfigError(f"the {name} split holds only one class; change data.split or add data")
    if ddp.is_main:
        write_manifest(val_trials, run_dir / "validation.csv")
    model_args = dict(config.model)
    model = build_model(model_args.pop("name"), **model_args).to(device)
    log.info("model %s: %d training / %d validation clips", model.name, len(train_trials), len(val_trials))

    augment = None
    if cfg.augment:
        from deepfake_audio.augment import build_augmentation

        augment = build_augmentation(cfg.augment)
    if cache is None or cache.trim != config.data.trim_silence:
        cache = WaveformCache(trim=config.data.trim_silence)
    dataset = WindowDataset(train_trials, model.num_samples, crop=config.data.crop, augment=augment,
                            cache=cache, seed=cfg.seed)
    if cfg.balance not in BALANCE_MODES:
        raise ConfigError(f"unknown train.balance {cfg.balance!r}; choose one of {', '.join(BALANCE_MODES)}")
    if ddp.enabled:
        if cfg.balance in ("sampler", "source"):
            log.warning("train.balance=%s is not available under DDP; use train.balance=loss", cfg.balance)
        sampler = DistributedSampler(dataset, ddp.world_size, ddp.rank, shuffle=True, seed=cfg.seed)
    elif cfg.balance == "sampler":
        sampler = balanced_sampler(train_trials, cfg.seed)
    elif cfg.balance == "source":
        sampler = source_balanced_sampler(train_trials, cfg.seed)
    else:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(cfg.seed))
    # Persistent workers draw their seed once per run, not once per epoch: from the global generator
    # that dropout uses, that draw would shift dropout's stream on resuming, so they get their own.
    # (In-process loading draws once per epoch from the global generator, the same in a resumed run.)
    workers = config.data.num_workers
    loader_generator = torch.Generator().manual_seed(cfg.seed + 1) if workers > 0 else None
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, drop_last=False,
                        num_workers=workers, persistent_workers=workers > 0, generator=loader_generator)
    generators = {"loader": loader_generator} if loader_generator is not None else {}
    if getattr(sampler, "generator", None) is not None:  # DistributedSampler derives its order from the epoch
        generators["sampler"] = sampler.generator

    weight = class_weights(train_trials).to(device) if cfg.balance == "loss" else None
    criterion = nn.CrossEntropyLoss(weight=weight)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = len(loader) if not cfg.max_steps_per_epoch else min(len(loader), cfg.max_steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, make_lr_lambda(cfg.scheduler, steps_per_epoch * cfg.epochs))

    start_epoch, best_eer, stale = 0, math.inf, 0
    resume_path = run_dir / RESUME
    if resume_path.exists():
        state = load_training_state(resume_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if ddp.is_main and "rng" in state:
            restore_rng_states(state["rng"], generators)
        elif "torch_rng" in state and ddp.is_main:  # a run folder from before every RNG was saved
            torch.set_rng_state(state["torch_rng"])
        else:  # other DDP ranks: only rank 0's states are saved; give each rank its own stream again
            seed_everything(cfg.seed + ddp.rank + 1000 * (state["epoch"] + 1))
        start_epoch, best_eer, stale = state["epoch"] + 1, state["best_eer"], state["stale"]
        keep_metrics_up_to(run_dir / METRICS, start_epoch)
        log.info("resuming %s after epoch %d of %d (best validation EER %.4f)", run_dir, start_epoch, cfg.epochs,
                 best_eer)

    net: nn.Module = DistributedDataParallel(model) if ddp.enabled else model
    use_amp = cfg.mixed_precision and device.type == "cuda"
    eval_detector = Detector(model, CheckpointInfo(model.name, model.config_dict()), device=device, hop=cfg.val_hop)

    best_path = run_dir / BEST
    epochs_run = 0
    for epoch in range(start_epoch, cfg.epochs):
        epochs_run += 1
        started = time.perf_counter()
        net.train()
        dataset.set_epoch(epoch)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        total_loss, seen = 0.0, 0
        bar = tqdm(loader, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=None if (progress and ddp.is_main) else True, leave=False)
        for step, (waves, targets) in enumerate(bar):
            if step >= steps_per_epoch:
                break
            waves, targets = waves.to(device), targets.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = net(waves)
            # An ensemble returns one set of logits per member in training (models/base.py): each
            # member is trained on the loss by itself, which keeps them diverse.
            member_targets = targets if logits.dim() == 2 else targets.unsqueeze(1).expand(-1, logits.shape[-1])
            loss = criterion(logits.float(), member_targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * targets.numel()
            seen += targets.numel()
            bar.set_postfix(loss=f"{total_loss / seen:.4f}")
        train_seconds = time.perf_counter() - started

        stop = torch.zeros(1)
        if ddp.is_main:
            model.eval()
            result = validate(eval_detector, val_trials, cache)
            improved = result["eer"] < best_eer
            record = {"epoch": epoch + 1, "train_loss": total_loss / max(1, seen), "val_eer": result["eer"],
                      "val_threshold": result["threshold"], "lr": scheduler.get_last_lr()[0],
                      "train_seconds": round(train_seconds, 2), "best": improved}
            with open(run_dir / METRICS, "a") as f:
                f.write(json.dumps(record) + "\n")
            log.info("epoch %d: loss %.4f, validation EER %.2f%%%s", epoch + 1, record["train_loss"],
                     100 * result["eer"], " (best)" if improved else "")
            if improved:
                best_eer, stale = result["eer"], 0
                save_release(model, best_path, result, config, epoch + 1, train_trials, val_trials)
            else:
                stale += 1
            save_training_state({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                 "scheduler": scheduler.state_dict(), "rng": capture_rng_states(generators),
                                 "epoch": epoch, "best_eer": best_eer, "stale": stale}, resume_path)
            if cfg.early_stopping_patience and stale >= cfg.early_stopping_patience:
                log.info("early stop: no better validation EER for %d epochs", stale)
                stop[0] = 1
        if ddp.enabled:
            dist.broadcast(stop, src=0)
        if stop.item():
            break
    if ddp.enabled:
        dist.barrier()
    return TrainResult(best_path, model, epochs_run)


def keep_metrics_up_to(path: Path, epochs: int) -> None:
    """Drop metric lines of epochs after the resume point: a run killed between writing an epoch's line
    and its resume state would otherwise log that epoch twice."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line).get("epoch", 0) <= epochs]
    if len(kept) != len(lines):
        path.write_text("".join(line + "\n" for line in kept))


def write_manifest(trials: list[Trial], path: Path) -> None:
    """The validation clips as a CSV manifest (absolute paths), so `evaluate` can score exactly them."""
    import csv

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "system", "speaker", "source"])
        for t in trials:
            writer.writerow([Path(t.path).resolve(), t.label.value, t.system or "", t.speaker or "", t.source or ""])


def save_release(model: DetectorModel, path: Path, result: dict[str, Any], config: ExperimentConfig,
                 epoch: int, train_trials: list[Trial], val_trials: list[Trial]) -> None:
    """Best checkpoint: threshold at the validation EER point, calibration fitted on validation scores.

    The calibration's slope comes from a class-balanced logistic fit; its offset is then set so that
    p_fake = 0.5 exactly at the EER threshold, keeping label and probability consistent.
    """
    calibration = fit_calibration(result["bona"], result["spoof"])
    scale = float(calibration.scale)
    threshold = result["threshold"]
    save_checkpoint(model, path, threshold=threshold,
                    calibration={"scale": scale, "offset": -scale * threshold},
                    extra={"val_eer": result["eer"], "epoch": epoch, "num_train": len(train_trials),
                           "trim_silence": config.data.trim_silence,
                           "num_val": len(val_trials), "train_config": config_to_dict(config),
                           # What it saw, so `evaluate` can warn when scored on its own training clips.
                           TRAINING_DATA: describe_data(train_trials, config.data.root),
                           VALIDATION_DATA: describe_data(val_trials, config.data.val_root or config.data.root)})
