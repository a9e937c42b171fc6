"""A training run killed with SIGKILL at a random step and resumed ends bit-identical to an uninterrupted
run: every random state that affects training (sampler order, dropout, augmentation, Python/NumPy/torch)
is saved with the epoch and restored."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from conftest import make_labelled_folder

import deepfake_audio
from deepfake_audio.training_state import load_training_state

EPOCHS, TRAIN_CLIPS, BATCH = 4, 8, 4
STEPS_PER_EPOCH = TRAIN_CLIPS // BATCH

# The child trains; with a stop step it parks inside that optimizer step (after the update, before the
# epoch ends) and says so in a marker file, so the parent's SIGKILL lands mid-epoch, at a chosen step.
CHILD = """
import logging, sys, time
import torch
torch.set_num_threads(1)
from deepfake_audio.config import load_config
from deepfake_audio.train import train

root, run, stop_at, balance, epochs, batch = sys.argv[1:3] + [int(sys.argv[3])] + sys.argv[4:]
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
if stop_at > 0:
    original, count = torch.optim.Adam.step, [0]

    def step(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        count[0] += 1
        if count[0] == stop_at:
            open(run + ".parked", "w").write(str(count[0]))
            while True:
                time.sleep(1)
        return out

    torch.optim.Adam.step = step
config = load_config(None, [
    f"data.root={root}", "data.dataset=folder", "data.split=random", "data.val_fraction=0.5",
    f"train.epochs={epochs}", f"train.batch_size={batch}", f"train.balance={balance}", "train.scheduler=cosine",
    "model={name: seed-cnn, dropout: 0.5}",
    "train.augment=[{name: gain, p: 0.5, min_gain_db: -6, max_gain_db: 6}, {name: noise, p: 0.5}]",
])
train(config, run, progress=False)
"""


def _env() -> dict[str, str]:
    src = str(Path(deepfake_audio.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _train(root: Path, run: Path, balance: str, stop_at: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(run), str(stop_at), balance,
                             str(EPOCHS), str(BATCH)],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> str:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return err


def _final_state(run: Path) -> dict[str, torch.Tensor]:
    state = load_training_state(run / "resume.safetensors")
    assert state["epoch"] == EPOCHS - 1
    tensors = {f"model.{k}": v for k, v in state["model"].items()}
    for index, slot in state["optimizer"]["state"].items():
        tensors |= {f"adam.{index}.{k}": v for k, v in slot.items() if isinstance(v, torch.Tensor)}
    return tensors


def _metrics(run: Path) -> list[tuple[int, float, float]]:
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["epoch"], r["train_loss"], r["val_eer"]) for r in lines]


def _check_killed_run_resumes_exactly(tmp_path: Path, balance: str) -> None:
    root = make_labelled_folder(tmp_path / "corpus", per_class=TRAIN_CLIPS)  # half of it for validation
    stop_at = random.Random().randrange(STEPS_PER_EPOCH + 1, EPOCHS * STEPS_PER_EPOCH)  # after epoch 1 is saved
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    reference = _train(root, whole, balance)
    killed = _train(root, cut, balance, stop_at)
    marker = Path(str(cut) + ".parked")
    deadline = time.monotonic() + 600
    while not marker.exists():
        assert killed.poll() is None, killed.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the run never reached its stop step"
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    finished_epochs = (stop_at - 1) // STEPS_PER_EPOCH
    assert len(_metrics(cut)) == finished_epochs, f"killed at step {stop_at}"

    log = _finish(_train(root, cut, balance))
    _finish(reference)
    assert f"after epoch {finished_epochs} of {EPOCHS}" in log, log[-2000:]
    assert _metrics(cut) == _metrics(whole), f"killed at step {stop_at}"
    expected, got = _final_state(whole), _final_state(cut)
    assert expected.keys() == got.keys()
    different = [k for k in expected if not torch.equal(expected[k], got[k])]
    assert not different, f"killed at step {stop_at}: {len(different)} tensors differ, e.g. {different[:3]}"


def test_killed_run_resumes_bit_identically(tmp_path):
    # balance=sampler: a seeded WeightedRandomSampler draws with replacement, so clips are first seen
    # (and cached) at different epochs, and its generator's state must carry over
    _check_killed_run_resumes_exactly(tmp_path, "sampler")
