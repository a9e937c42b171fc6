"""Which kind of worker the server should score in: threads sharing one model, or processes each with
its own, measured on the same uploads in one run.

Each configuration runs the server's own job (`server.jobs.score_upload`: header check, decode,
score) on `--uploads` copies of one clip's bytes: one thread (the baseline), N threads sharing one
loaded model, and N spawned processes that each load the model once; the kinds take turns, round by
round, so a shift in the machine's load touches each of them. Torch gets its thread count (the cores,
or OMP_NUM_THREADS) divided by N per worker, as `deepfake-audio serve` sets it. Reported: uploads/s,
the ratio to one thread, and resident memory of what holds the model (this process for threads; the
worker processes together for processes, where the server's own process would come on top).

    python bench/workers.py [--uploads 60] [--repeats 3] [--workers 2] [--clip-seconds 3] [--no-write]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import torch

from deepfake_audio.detector import Detector
from deepfake_audio.server.jobs import UploadLimits, score_upload

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import rss_mb, speechlike_wav
from report import publish

BUDGET = UploadLimits(600.0, 4_000, 384_000)
_detector: Detector | None = None  # one per process: set by `_load` in each worker process


def _load(model: str | None, threads: int) -> None:
    global _detector
    torch.set_num_threads(threads)
    _detector = Detector.from_pretrained(model, device="cpu")


def _score_in_process(data: bytes) -> bool:
    assert _detector is not None
    return score_upload(_detector, data, "clip.wav", BUDGET).error is None


def _run(executor: Executor, job: object, uploads: list[bytes]) -> float:
    list(executor.map(job, uploads[:4]))  # warm-up: first calls pay one-off costs
    started = time.perf_counter()
    ok = list(executor.map(job, uploads))
    elapsed = time.perf_counter() - started
    assert all(ok), "an upload failed"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=60, help="uploads per round and kind")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clip-seconds", type=float, default=3.0)
    parser.add_argument("--model", default=None, help="checkpoint; default: the bundled model")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load_average = os.getloadavg()[0]
    uploads = [speechlike_wav(args.clip_seconds)] * args.uploads
    threads_all = torch.get_num_threads()  # the cores, or OMP_NUM_THREADS
    threads_each = max(1, threads_all // args.workers)

    _load(args.model, threads_all)
    detector = _detector

    def job(data: bytes) -> bool:
        return score_upload(detector, data, "clip.wav", BUDGET).error is None

    # The three kinds run interleaved, `--repeats` rounds, so a change in the machine's load hits all
    # of them alike; the median round is reported.
    single_pool, thread_pool = ThreadPoolExecutor(1), ThreadPoolExecutor(args.workers)
    context = multiprocessing.get_context("spawn")
    process_pool = ProcessPoolExecutor(args.workers, mp_context=context, initializer=_load,
                                       initargs=(args.model, threads_each))
    kinds = {
        "1 thread (baseline)": (single_pool, job, threads_all),
        f"{args.workers} threads, one shared model": (thread_pool, job, threads_each),
        f"{args.workers} processes, a model each": (process_pool, _score_in_process, threads_each),
    }
    times: dict[str, list[float]] = {label: [] for label in kinds}
    memory: dict[str, float] = {}
    with single_pool, thread_pool, process_pool:
        for _ in range(args.repeats):
            for label, (pool, work, threads) in kinds.items():
                torch.set_num_threads(threads)
                times[label].append(_run(pool, work, uploads))
                memory[label] = (sum(rss_mb(p.pid)[0] for p in multiprocessing.active_children())
                                 if pool is process_pool else rss_mb(os.getpid())[0])
    rows = [(label, statistics.median(elapsed), memory[label]) for label, elapsed in times.items()]
    single = rows[0][1]

    lines = [f"`python bench/workers.py --uploads {args.uploads} --repeats {args.repeats} --workers {args.workers}`: "
             f"the server's job (header check, decode, score) on {args.uploads} uploads of a {args.clip_seconds:g} s "
             f"WAV per round, median of {args.repeats} interleaved rounds, "
             f"model {'bundled' if args.model is None else Path(args.model).name}, {os.cpu_count()} cores, "
             f"torch threads {threads_all} (1 worker) and {threads_each} (each of {args.workers}), "
             f"load average {load_average:.1f} at the start (shared machine: compare the ratios).", "",
             "| workers | uploads/s | vs 1 thread | RSS of the process(es) holding the model |", "|---|---|---|---|"]
    for label, elapsed, rss in rows:
        lines.append(f"| {label} | {args.uploads / elapsed:.1f} | {single / elapsed:.2f}x | {rss:.0f} MB |")
    publish("Server workers: threads or processes (bench/workers.py)", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
