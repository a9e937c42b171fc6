"""Stage 1, decode: a file, an encoded upload or a waveform, made ready for windowing (`Opened`).

Short files are decoded whole and, for models trained on silence-trimmed audio, trimmed as in training;
long files are streamed a block at a time. `opened_ahead` opens the next files in a few threads while
the model scores the current ones.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from deepfake_audio.audio import AudioSource, audio_info, decode_audio, silence_bounds, stream_audio
from deepfake_audio.errors import AudioDecodeError
from deepfake_audio.input_limits import AmplitudeLimiter, DecodeBudget

STREAM_BLOCK_SECONDS = 10.0  # long files are decoded 10 s at a time: small blocks keep the read-ahead threads busy from the start of a file
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
    warnings: list[str] = field(default_factory=list)  # from decoding; a stream adds to it as it is read


def open_file(path: str | os.PathLike, trim_silence: bool, budget: DecodeBudget) -> Opened:
    """The file's audio: whole and trimmed when the model wants it, else streamed; within `budget`."""
    info = audio_info(path, budget=budget)
    lossy_codec = info.codec if info.lossy else None
    if trim_silence and info.duration <= TRIM_MAX_SECONDS:
        decoded = decode_audio(path, budget=budget)
        return replace(trimmed(decoded.waveform, trim_silence), lossy_codec=lossy_codec, warnings=decoded.warnings)
    stream = stream_audio(path, block_duration=STREAM_BLOCK_SECONDS, budget=budget)
    return Opened(0, None, stream, lossy_codec, warnings=getattr(stream, "warnings", []))


def open_bytes(data: bytes, label: str, trim_silence: bool, budget: DecodeBudget) -> Opened:
    """An encoded file held in memory (an upload): decoded whole, its codec read from its header."""
    info = audio_info(data, name=label, budget=budget)
    decoded = decode_audio(data, name=label, budget=budget)
    return replace(trimmed(decoded.waveform, trim_silence), lossy_codec=info.codec if info.lossy else None,
                   warnings=decoded.warnings)


def open_array(source: AudioSource, sample_rate: int | None, label: str, trim_silence: bool,
               budget: DecodeBudget) -> Opened:
    """An array or tensor at `sample_rate`, through the same checks and resampling as a decoded file."""
    decoded = decode_audio(source, source_sample_rate=sample_rate, name=label, budget=budget)
    return replace(trimmed(decoded.waveform, trim_silence), warnings=decoded.warnings)


def checked_waveform(waveform: torch.Tensor, name: str, trim_silence: bool) -> Opened:
    """A 16 kHz waveform handed over directly gets the checks decoding applies: finite, within full scale."""
    samples = waveform.detach().cpu().float().reshape(-1).numpy()
    if samples.size == 0:
        raise AudioDecodeError(f"{name}: no audio samples (zero-length audio)")
    if not np.isfinite(samples).all():
        raise AudioDecodeError(f"{name}: audio contains NaN or Inf samples")
    limiter = AmplitudeLimiter()
    limited = limiter(samples)
    if limited is samples:
        return trimmed(waveform.reshape(-1), trim_silence)
    return replace(trimmed(torch.from_numpy(limited), trim_silence), warnings=limiter.warnings)


def trimmed(waveform: torch.Tensor, trim_silence: bool) -> Opened:
    """A decoded waveform, with leading and trailing silence dropped when `trim_silence`."""
    if not trim_silence:
        return Opened(0, waveform.numel(), [waveform])
    start, end = silence_bounds(waveform)
    return Opened(start, waveform.numel(), [waveform[start:end]])


def opened_ahead(
    jobs: Iterable[tuple[str, Callable[[], Opened]]], workers: int, ahead: int
) -> Iterator[tuple[str, Callable[[], Opened]]]:
    """The same jobs, in order, with up to `ahead` of them opened (decoded, resampled, trimmed) by
    `workers` threads while the caller scores earlier ones.

    Each job comes back as `(name, open)`, where `open()` returns the opened recording or raises what
    opening it raised, so failures surface where the caller handles them. The decoders and the model
    release the GIL in their native code, so the threads overlap with scoring; `workers=0` opens each
    job in the caller's thread, when it is reached. Streamed (long) files are only opened here: their
    blocks are decoded as the caller reads them.
    """
    if workers <= 0:
        yield from jobs
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="decode") as pool:
        queue: deque[tuple[str, Future[Opened]]] = deque()
        for name, open_audio in jobs:
            queue.append((name, pool.submit(open_audio)))
            if len(queue) > ahead:
                first, future = queue.popleft()
                yield first, future.result
        while queue:
            first, future = queue.popleft()
            yield first, future.result
