"""Stage 2, analyse: cut a decoded recording into the model's windows, each with the measures the
warnings read (silence, bandwidth, speech over the noise floor; see `deepfake_audio.windows`)."""

from __future__ import annotations

from collections.abc import Iterator

from deepfake_audio.pipeline.decode import Opened
from deepfake_audio.windows import Window, iter_windows


def analyse(opened: Opened, window: int, hop: int, *, tile_short: bool = True) -> Iterator[Window]:
    """The windows of one opened recording, in order; a short recording is tiled unless `tile_short` is
    false (for models that accept variable length)."""
    return iter_windows(opened.blocks, window, hop, tile_short=tile_short)
