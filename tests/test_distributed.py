"""Two gloo processes under torch.distributed train a few steps and end with identical weights."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from conftest import make_labelled_folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, root: str, run_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size))
    torch.set_num_threads(1)
    import torch.distributed as dist

    from deepfake_audio.config import load_config
    from deepfake_audio.train import train
    from deepfake_audio.training_state import save_training_state

    cfg = load_config(None, [f"data.root={root}", "data.dataset=folder", "data.split=random",
                             "data.val_fraction=0.5", "train.epochs=1", "train.batch_size=2", "train.device=cpu"])
    result = train(cfg, run_dir, progress=False)
    # Each rank dumps its final weights for the parent process to compare.
    save_training_state({"model": result.model.state_dict()}, os.path.join(run_dir, f"rank{rank}.safetensors"))
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_ddp_ranks_agree(tmp_path):
    root = make_labelled_folder(tmp_path / "corpus", per_class=4)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(root), str(run_dir)), nprocs=2, join=True)
    from deepfake_audio.training_state import load_training_state

    a = load_training_state(run_dir / "rank0.safetensors")["model"]
    b = load_training_state(run_dir / "rank1.safetensors")["model"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert (run_dir / "best.safetensors").exists()
