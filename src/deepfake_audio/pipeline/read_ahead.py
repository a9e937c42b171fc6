"""Run an iterator a few items ahead of its reader, in a thread.

A long file is one job, so opening files ahead (`decode.opened_ahead`) cannot overlap its decoding with
its scoring. Stage 2 (`analyse.py`) wraps a streamed recording twice: its decoded blocks (decoding and
resampling in one thread) and its windows (the per-window measures in another), while the model scores
earlier windows in the caller's thread (the decoders and torch release the GIL in their native code).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from queue import Full, Queue
from typing import Generic, TypeVar

T = TypeVar("T")


class ReadAhead(Generic[T]):
    """The items of an iterator, produced by a thread up to `depth` items ahead of the reader.

    Errors reach the reader at the item where they happened; a `warnings` list on the source (a decoded
    stream's) is passed through, complete once the items are exhausted; a reader that stops early stops
    the thread.
    """

    def __init__(self, items: Iterable[T], depth: int = 2) -> None:
        self.warnings: list[str] = getattr(items, "warnings", [])
        self._items = items
        self._depth = depth

    def __iter__(self) -> Iterator[T]:
        queue: Queue[tuple[str, object]] = Queue(maxsize=self._depth)
        stop = threading.Event()

        def put(item: tuple[str, object]) -> bool:
            while not stop.is_set():
                try:
                    queue.put(item, timeout=0.05)
                    return True
                except Full:
                    continue
            return False

        def decode() -> None:
            try:
                for item in self._items:
                    if not put(("item", item)):
                        return
                put(("end", None))
            except BaseException as error:  # noqa: BLE001 - handed to the reader, raised there
                put(("error", error))

        thread = threading.Thread(target=decode, name="decode-ahead", daemon=True)
        thread.start()
        try:
            while True:
                kind, value = queue.get()
                if kind == "item":
                    yield value  # type: ignore[misc]
                elif kind == "error":
                    raise value  # type: ignore[misc]
                else:
                    return
        finally:
            stop.set()
            thread.join()
