"""Keep memory freed between batches inside the process (glibc malloc), rather than handing it back.

Each batch of windows allocates and frees spectrogram buffers of tens of megabytes. Above glibc's mmap
threshold every such buffer is a fresh mapping whose pages fault in again, and on long files that kernel
time was up to a third of the fast model's run here (bench/throughput.py). Raising the thresholds lets the
buffers be reused. Called by our own processes (the CLI's `detect`, `serve`), never on import: a
library must not change its host's allocator.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024  # free memory kept at the top of the heap before trimming


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; False where there is no glibc (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
