"""Batch scoring on a local Ray cluster of two workers gives exactly what a local `detect --json` gives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import soundfile as sf
from conftest import synthetic_speechlike
from typer.testing import CliRunner

pytest.importorskip("ray")
pytest.importorskip("pyarrow")
import ray

from deepfake_audio.cli import app
from deepfake_audio.detector import Detector
from deepfake_audio.distributed import read_paths, score_with_ray

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_cluster():
    # Two worker CPUs and a small object store: light enough for CI. The workers import this checkout.
    src = str(Path(__file__).resolve().parents[1] / "src")
    # On a busy machine the raylet can take longer to register than Ray's default wait.
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "180")
    os.environ.setdefault("RAY_agent_register_timeout_ms", "180000")
    ray.init(num_cpus=2, object_store_memory=100 * 1024 * 1024, include_dashboard=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
                                       "OMP_NUM_THREADS": "1"}},
             log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    paths = []
    for i, (seconds, rate) in enumerate([(1.0, 16_000), (5.5, 22_050), (0.4, 16_000), (2.5, 8_000), (9.0, 16_000)]):
        paths.append(folder / f"clip_{i}.flac")
        sf.write(paths[-1], synthetic_speechlike(seconds, sample_rate=rate, seed=i), rate)
    paths.insert(2, folder / "broken.wav")
    paths[2].write_bytes(b"RIFF....not audio")
    return paths


def test_ray_results_equal_local_detect(local_cluster, clips, tmp_path):
    local = [p.to_dict() for p in Detector.from_pretrained("fast", device="cpu").detect_files(clips)]
    remote = score_with_ray(clips, model="fast", actors=2, files_per_batch=2)
    assert remote == local
    assert remote[2]["error"] and "broken.wav" in remote[2]["error"]

    # From a manifest, to JSONL: the same objects, one per line, in the manifest's order.
    manifest = tmp_path / "manifest.csv"  # paths relative to the manifest's folder
    manifest.write_text("path,label\n" + "".join(f"{os.path.relpath(p, tmp_path)},x\n" for p in clips))
    assert read_paths(manifest) == [str(p) for p in clips]
    written = score_with_ray(manifest, model="fast", output=tmp_path / "out.jsonl", actors=2, files_per_batch=2)
    lines = [json.loads(line) for line in Path(written).read_text().splitlines()]
    assert lines == local

    # Parquet, for big jobs: the scalar fields as columns and the whole object as JSON.
    import pyarrow.parquet as pq

    folder = score_with_ray(clips, model="fast", output=tmp_path / "out_parquet", actors=2, files_per_batch=2)
    table = pq.read_table(str(folder)).to_pylist()
    by_path = {row["path"]: row for row in table}
    assert sorted(by_path) == sorted(r["path"] for r in local)
    for result in local:
        assert json.loads(by_path[result["path"]]["json"]) == result
        assert by_path[result["path"]]["score"] == result["score"]


def test_detect_ray_cli_prints_what_detect_json_prints(local_cluster, clips, tmp_path):
    listing = tmp_path / "files.txt"
    listing.write_text("# to score\n" + "\n".join(str(p) for p in clips) + "\n")
    runner = CliRunner()
    local = runner.invoke(app, ["detect", *map(str, clips), "--model", "fast", "--json"])
    remote = runner.invoke(app, ["detect", str(listing), "--model", "fast", "--ray", "local"])
    assert local.exit_code == remote.exit_code == 1  # one file is broken; the others were scored
    assert json.loads(remote.stdout) == json.loads(local.stdout)
