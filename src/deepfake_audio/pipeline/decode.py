"""Stage 1, decode: a file, an encoded upload or a waveform, made ready for windowing (`Opened`).

Short files are decoded whole and, for models trained on silence-trimmed audio, trimmed as in training;
long files are streamed a block at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

import torch

from deepfake_audio.audio import audio_info, load_audio, silence_bounds, stream_audio

STREAM_BLOCK_SECONDS = 60.0  # long files are decoded a minute at a time
# Models trained on silence-trimmed audio get trimmed input too, as in training. Files longer than this
# are streamed untrimmed instead: their edges weigh little, and trimming would need the whole file.
TRIM_MAX_SECONDS = 180.0


@dataclass
class Opened:
    """A recording ready for windowing: its audio blocks and what is known about it up front."""

    offset: int  # samples trimmed from the start
    total: int | None  # samples in the recording, when known before streaming ends
    blocks: Iterable[torch.Tensor]
    lossy_codec: str | None = None  # the file's codec, when it is a lossy one


def open_file(path: str | os.PathLike, trim_silence: bool) -> Opened:
    """The file's audio: whole and trimmed when the model wants it, else streamed."""
    info = audio_info(path)
    lossy_codec = info.codec if info.lossy else None
    if trim_silence and info.duration <= TRIM_MAX_SECONDS:
        return replace(trimmed(load_audio(path), trim_silence), lossy_codec=lossy_codec)
    return Opened(0, None, stream_audio(path, block_duration=STREAM_BLOCK_SECONDS), lossy_codec)


def open_bytes(data: bytes, label: str, trim_silence: bool) -> Opened:
    """An encoded file held in memory (an upload): decoded whole, its codec read from its header."""
    info = audio_info(data, name=label)
    opened = trimmed(load_audio(data, name=label), trim_silence)
    return replace(opened, lossy_codec=info.codec if info.lossy else None)


def trimmed(waveform: torch.Tensor, trim_silence: bool) -> Opened:
    """A decoded waveform, with leading and trailing silence dropped when `trim_silence`."""
    if not trim_silence:
        return Opened(0, waveform.numel(), [waveform])
    start, end = silence_bounds(waveform)
    return Opened(start, waveform.numel(), [waveform[start:end]])
