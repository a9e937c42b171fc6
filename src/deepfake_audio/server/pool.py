"""Decoding and scoring off the event loop: a fixed set of worker threads behind a bounded queue.

Threads, not processes: all workers share the one loaded model (no copy per worker), and the heavy work
(libsndfile and FFmpeg decoding, soxr resampling, torch ops) runs in C with the GIL released, so two
threads use two cores; the event loop keeps answering `/health` and the page meanwhile. A thread cannot
be stopped, so a request over its time budget is answered 504 while its job runs to the end and keeps
its slot until then: work per job is bounded by the upload and decode limits, and a server full of slow
jobs answers 503, never an unbounded backlog.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class ServerBusy(Exception):
    """Every worker and queue slot is taken; `retry_after` is a guess in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"server busy: every worker and queue slot is taken; retry in {retry_after} s")
        self.retry_after = retry_after


class OverTimeBudget(Exception):
    """The request was not finished within its time budget."""


class ScoringPool:
    """`workers` threads; at most `workers + queue` jobs admitted (running or waiting) at any time; each
    request has `time_budget` seconds from admission."""

    def __init__(self, workers: int, queue: int, time_budget: float) -> None:
        self.workers, self.time_budget = workers, time_budget
        self.capacity = workers + queue
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="deepfake-audio-worker")
        self._lock = threading.Lock()  # slots are released from worker threads
        self._taken = 0
        self._mean_seconds = 0.5  # running mean of a job's time, for Retry-After

    @property
    def taken(self) -> int:
        return self._taken

    def admit(self, slots: int = 1) -> Ticket:
        """Reserve `slots` job slots, or raise ServerBusy; do it before reading the request body."""
        self._take(slots)
        return Ticket(self, slots)

    def _take(self, slots: int) -> None:
        with self._lock:
            if self._taken + slots > self.capacity:
                waiting = max(0, self._taken - self.workers) + slots
                raise ServerBusy(max(1, min(60, math.ceil(waiting * self._mean_seconds / self.workers))))
            self._taken += slots

    def _release(self, slots: int) -> None:
        with self._lock:
            self._taken -= slots

    def _timed(self, fn: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._mean_seconds = 0.9 * self._mean_seconds + 0.1 * (time.perf_counter() - started)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Ticket:
    """Admitted slots of one request; each `submit` uses one, freed when its job ends (or is cancelled
    before it starts). `close` frees the slots never used."""

    def __init__(self, pool: ScoringPool, slots: int) -> None:
        self.pool, self.unused = pool, slots
        self.deadline = time.monotonic() + pool.time_budget

    def extend(self, slots: int) -> None:
        """Reserve more slots for this request (a batch learns its file count after parsing)."""
        if slots > 0:
            self.pool._take(slots)
            self.unused += slots

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        if self.unused < 1:
            raise RuntimeError("no admitted slot left for this job")
        self.unused -= 1
        future = self.pool._executor.submit(self.pool._timed, fn, *args)
        future.add_done_callback(lambda _: self.pool._release(1))
        return future

    def close(self) -> None:
        self.pool._release(self.unused)
        self.unused = 0


async def wait_all(futures: Sequence[Future], deadline: float) -> list[Future]:
    """Wait until every job is done or `deadline` (time.monotonic) passes; jobs not yet started are then
    cancelled. Returns the jobs that finished, in order (finished ones hold a result or an exception)."""
    waiting = [asyncio.wrap_future(f) for f in futures]
    for w in waiting:  # results are read from `futures`; mark these read so asyncio logs nothing
        w.add_done_callback(lambda w: w.cancelled() or w.exception())
    remaining = deadline - time.monotonic()
    if waiting and remaining > 0:
        await asyncio.wait(waiting, timeout=remaining)
    for future in futures:
        if not future.done():
            future.cancel()  # succeeds only for a job still in the queue
    return [f for f in futures if f.done() and not f.cancelled()]
