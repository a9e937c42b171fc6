"""Batch scoring on a Ray cluster with Ray Data: `score_with_ray`, behind `deepfake-audio detect --ray`.

Ray Data splits the list of files into batches and hands them to a pool of actors; each actor loads the
model once and scores its batches with the same `Detector` as a local `detect`, so every result is the
JSON object `detect --json` prints for that file. Scheduling, retries and scaling are Ray's: this module
only says what one actor does. The files and the model must be readable at the same path on every node
(a shared file system, or the bundled models, which travel with the package).

Examples
--------
>>> from deepfake_audio.distributed import score_with_ray        # doctest: +SKIP
>>> score_with_ray("clips.csv", model="fast", output="scores.jsonl")  # local Ray; address="auto" joins one
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from deepfake_audio.errors import ProtocolError, require

# The columns of the Parquet output: the fields of `detect --json` that are scalars, plus the whole
# object as JSON (windows, warnings and any later fields), so nothing is lost and no schema drifts.
_COLUMNS = ("path", "label", "p_fake", "score", "duration", "error")


def read_paths(source: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """The audio files to score: a list of paths, or a file listing them.

    A `.csv` file is a manifest with a `path` column (paths relative to the manifest's folder, as in
    `evaluate`); any other file holds one path per line (blank lines and `#` comments skipped).
    """
    if not isinstance(source, (str, os.PathLike)):
        return [str(p) for p in source]
    listing = Path(source)
    if not listing.is_file():
        raise ProtocolError(f"{listing}: list of files not found")
    if listing.suffix.lower() == ".csv":
        with open(listing, newline="") as f:
            reader = csv.DictReader(f)
            if "path" not in (reader.fieldnames or []):
                raise ProtocolError(f"{listing}: manifest has no 'path' column (columns: {reader.fieldnames})")
            return [os.path.normpath(listing.parent / row["path"]) for row in reader if row["path"]]
    lines = (line.strip() for line in listing.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class _ScoringActor:
    """One Ray actor: loads the model once, then scores batch after batch of paths."""

    def __init__(self, model: str, options: dict[str, Any], threads: int) -> None:
        import torch

        from deepfake_audio.detector import Detector

        torch.set_num_threads(threads)
        self.detector = Detector.from_pretrained(model, device="cpu", **options)

    def __call__(self, batch: dict[str, Any]) -> Any:
        import pyarrow as pa

        results = [p.to_dict() for p in self.detector.detect_files([str(p) for p in batch["path"]])]
        # An explicit schema: a batch whose files all failed has only nulls, which must not change types.
        return pa.table(
            {
                "path": pa.array([r["path"] for r in results], pa.string()),
                "label": pa.array([r["label"] for r in results], pa.string()),
                "p_fake": pa.array([r["p_fake"] for r in results], pa.float64()),
                "score": pa.array([r["score"] for r in results], pa.float64()),
                "duration": pa.array([r["duration"] for r in results], pa.float64()),
                "error": pa.array([r["error"] for r in results], pa.string()),
                "json": pa.array([json.dumps(r) for r in results], pa.string()),
            }
        )


def score_with_ray(
    paths_or_manifest: str | os.PathLike | Sequence[str | os.PathLike],
    model: str = "default",
    address: str | None = None,
    output: str | os.PathLike | None = None,
    *,
    actors: int = 2,
    cpus_per_actor: int = 1,
    files_per_batch: int = 64,
    detector_options: dict[str, Any] | None = None,
    ray_init: dict[str, Any] | None = None,
) -> list[dict[str, Any]] | Path:
    """Score files on Ray; every result is the object `detect --json` gives for that file, in input order.

    Parameters
    ----------
    paths_or_manifest
        Paths, a text file with one path per line, or a manifest CSV with a `path` column (`read_paths`).
    model
        A bundled model name (`default`, `fast`) or a checkpoint path readable on every node.
    address
        The Ray cluster to join (`"auto"`, `"ray://head:10001"`); None starts a local one, unless this
        process is already connected to Ray (then that connection is used).
    output
        None: return the results as a list of dicts. A path ending in `.jsonl`: one JSON object per line,
        written by this process as results stream in (memory stays flat). Any other path: a folder of
        Parquet files written by the workers (columns path, label, p_fake, score, duration, error, and
        the whole object as `json`), for jobs too big to pass through one process.
    actors, cpus_per_actor
        Size of the actor pool, and CPUs (torch threads) each actor takes.
    files_per_batch
        Files an actor scores per call (windows are batched across them, as in `detect`).
    detector_options
        Keyword arguments for `Detector.from_pretrained` (hop, aggregate, batch_size).
    ray_init
        Extra arguments for `ray.init` (e.g. `num_cpus`, `object_store_memory`).

    Returns
    -------
    The list of result objects, or the path written.
    """
    ray = require("ray", "ray")
    require("pyarrow", "ray")
    paths = read_paths(paths_or_manifest)
    if not paths:
        raise ProtocolError("no files to score")
    if not ray.is_initialized():
        ray.init(address=address, **(ray_init or {}))
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # results come back in the order of the input
    dataset = ray.data.from_items([{"path": p} for p in paths]).map_batches(
        _ScoringActor,
        fn_constructor_args=(model, detector_options or {}, cpus_per_actor),
        batch_size=files_per_batch,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus_per_actor,
    )
    if output is None:
        return list(_objects(dataset))
    output = Path(output)
    if output.suffix.lower() == ".jsonl":
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        with open(tmp, "w") as f:
            f.writelines(json.dumps(result) + "\n" for result in _objects(dataset))
        os.replace(tmp, output)
        return output
    dataset.write_parquet(str(output))
    return output


def _objects(dataset: Any) -> Iterator[dict[str, Any]]:
    for row in dataset.iter_rows():
        yield json.loads(row["json"])
