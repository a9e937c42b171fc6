"""Stage 2, analyse: cut a decoded recording into the model's windows, each with the measures the
warnings read (silence, bandwidth, speech over the noise floor; see `deepfake_audio.windows`)."""

from __future__ import annotations

from collections.abc import Iterator

from deepfake_audio.pipeline.decode import Opened
from deepfake_audio.pipeline.read_ahead import ReadAhead
from deepfake_audio.windows import Window, iter_windows

# How far a streamed recording is decoded (blocks of STREAM_BLOCK_SECONDS) and analysed (windows, a
# batch's worth) ahead of the model. Measured on 10-minute files with the fast model (bench/throughput.py):
# a longer line only adds start-up and drain time per file.
BLOCKS_AHEAD = 4
WINDOWS_AHEAD = 32


def analyse(opened: Opened, window: int, hop: int, *, tile_short: bool = True) -> Iterator[Window]:
    """The windows of one opened recording, in order; a short recording is tiled unless `tile_short` is
    false (for models that accept variable length). A streamed (long) recording is decoded and analysed
    in a thread ahead of the caller."""
    if opened.total is not None:
        return iter_windows(opened.blocks, window, hop, tile_short=tile_short)
    # Streamed: three threads in a line, decoding a block ahead, analysing windows ahead, and the caller
    # scoring; on two cores that balances better than decoding and analysing in one.
    blocks = ReadAhead(opened.blocks, depth=BLOCKS_AHEAD)
    return iter(ReadAhead(iter_windows(blocks, window, hop, tile_short=tile_short), depth=WINDOWS_AHEAD))
