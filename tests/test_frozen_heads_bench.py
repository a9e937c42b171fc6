"""bench/frozen_heads.py on small synthetic caches: every head is fitted and scored, a separable problem
is separated, the numbers land in the results file it names, and a missing cache is one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

BENCH = Path(__file__).resolve().parents[1] / "bench" / "frozen_heads.py"
COLUMNS = 256  # the bench reads --columns of them; 4096 would only make the test slow


def _write_cache(folder: Path, views: tuple[str, ...], clips: int, seed: int, shift: float) -> None:
    """Clips whose first 64 statistics move with the label (1 = bona fide); coded views add a common offset."""
    rng = np.random.default_rng(seed)
    label = np.arange(clips) % 2
    source = np.array([f"src{i % 5}" for i in range(clips)])
    system = np.where(label == 1, "bonafide", np.array([f"gen{i % 3}" for i in range(clips)]))
    base = rng.normal(size=(clips, COLUMNS)).astype(np.float32)
    base[:, :64] += shift * (label[:, None] - 0.5)
    folder.mkdir(parents=True)
    for k, view in enumerate(views):
        np.savez(folder / f"{view}.npz", stats=base + 0.1 * k, label=label, source=source, system=system,
                 path=np.array([f"clip{i}.flac" for i in range(clips)]))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, check=False)


def test_every_head_is_scored_and_a_separable_problem_is_separated(tmp_path):
    _write_cache(tmp_path / "train", ("clean", "codec"), clips=300, seed=0, shift=3.0)
    _write_cache(tmp_path / "ext", ("clean", "mp3_64"), clips=80, seed=1, shift=3.0)
    results = tmp_path / "heads.json"
    done = _run("--cache", str(tmp_path / "train"), "--external-cache", str(tmp_path / "ext"),
                "--results", str(results), "--columns", str(COLUMNS), "--no-write")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {row["arm"]: row for row in json.loads(results.read_text())}
    assert len(rows) == 13 and all(0.0 <= row["clean"] <= 1.0 for row in rows.values())
    assert rows["logistic regression C=0.001 (the default's)"]["clean"] < 0.1
    assert rows["shrinkage LDA 0.5"]["clean"] < 0.1
    assert rows["LR, score minus that of 50 bona fide clips recorded alike"]["clean"] < 0.1
    assert "| head | external clean |" in done.stdout


def test_a_missing_cache_is_one_line_naming_it(tmp_path):
    _write_cache(tmp_path / "train", ("clean",), clips=20, seed=0, shift=1.0)
    done = _run("--cache", str(tmp_path / "train"), "--external-cache", str(tmp_path / "ext"), "--no-write")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [f"{tmp_path / 'train'}: no codec.npz "
                                                "(write them with recipes/whisper_features.py)"]
