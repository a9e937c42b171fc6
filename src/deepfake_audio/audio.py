"""Audio input: decode a file, bytes or array to mono float32 at 16 kHz, stream long files, crop and pad.

Every accepted input kind (`AudioSource`) is normalised here, once; the rest of the package assumes a
`(time,)` float32 tensor at `SAMPLE_RATE`. Files are decoded with soundfile (wav, flac, ogg/vorbis, opus,
mp3) and, when soundfile cannot read them, with PyAV/FFmpeg (m4a, aac, webm, ...).
"""

from __future__ import annotations

import errno
import io
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import soundfile as sf
import soxr
import torch

from deepfake_audio.errors import AudioDecodeError
from deepfake_audio.input_limits import (
    DEFAULT_DECODE_BUDGET,
    AmplitudeLimiter,
    DecodeBudget,
    check_sample_rate,
)
from deepfake_audio.truncation import ogg_cut_reason, shortfall_reason, truncation_warning

SAMPLE_RATE = 16_000
RESAMPLE_QUALITY = "HQ"  # soxr 'high quality': transparent for 16-bit audio and fast

Array = np.ndarray | torch.Tensor
AudioSource = str | os.PathLike | bytes | Array | tuple[Array, int]

# libsndfile logs e.g. "data : 32000 (should be 15978)" when a WAV header promises more data than exists.
_DATA_SHORT = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_UNKNOWN_LENGTHS = {0, 0xFFFFFFFF}  # streaming writers leave these placeholders in the header


# Lossy encodings as libsndfile names them (its subtypes) and as FFmpeg names lossless ones. Lossy
# coding rewrites fine spectral detail, which is where detectors find much of their evidence.
_LOSSY_SUBTYPES = frozenset({
    "VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III", "GSM610", "ULAW", "ALAW", "G721_32",
    "G723_24", "G723_40", "IMA_ADPCM", "MS_ADPCM", "VOX_ADPCM", "NMS_ADPCM_16", "NMS_ADPCM_24", "NMS_ADPCM_32",
})
_LOSSLESS_AV_CODECS = frozenset({"flac", "alac", "wavpack", "ape", "tta", "mlp", "truehd", "s302m"})


@dataclass(frozen=True)
class AudioInfo:
    """Header facts about an audio file (estimated from the container for some compressed formats)."""

    duration: float  # seconds
    sample_rate: int
    channels: int
    num_frames: int
    codec: str = ""  # e.g. "PCM_16" or "MPEG_LAYER_III" (libsndfile), "aac" or "opus" (FFmpeg)
    lossy: bool = False  # the audio went through a lossy codec on its way into this file


@dataclass
class DecodedAudio:
    """A decoded recording: the waveform and what was noticed on the way (truncation, level)."""

    waveform: torch.Tensor  # (time,) float32 at the requested rate
    warnings: list[str] = field(default_factory=list)


def load_audio(
    source: AudioSource,
    sample_rate: int = SAMPLE_RATE,
    *,
    source_sample_rate: int | None = None,
    name: str | None = None,
    max_duration: float | None = None,
    budget: DecodeBudget = DEFAULT_DECODE_BUDGET,
) -> torch.Tensor:
    """Decode any supported audio source to a mono float32 waveform at `sample_rate`.

    Parameters
    ----------
    source : str | os.PathLike | bytes | numpy.ndarray | torch.Tensor | (array, sample_rate)
        A file path, the bytes of an encoded file, or raw samples. Arrays and tensors need
        `source_sample_rate` (or come as an `(array, sample_rate)` tuple). A 1-D array is mono; for a
        2-D array the shorter axis is taken as channels, so both `(channels, time)` and
        `(time, channels)` work. Integer PCM (8-bit unsigned or signed, 16- or 32-bit) is scaled to
        [-1, 1). The caller's array is never modified, and the result never shares its memory.
    sample_rate : int
        Output sample rate; resampling uses soxr at 'HQ' quality.
    source_sample_rate : int, optional
        Sample rate of array/tensor input.
    name : str, optional
        Label used in error messages (defaults to the path, or "<bytes>" / "<array>").
    max_duration : float, optional
        Seconds; longer audio raises instead of being decoded in full (for upload limits).
    budget : DecodeBudget
        The most audio the source may decode to (`input_limits`); checked against the header and
        while decoding, so a file claiming hours of audio is refused after reading a block.

    Returns
    -------
    waveform : (time,) torch.Tensor
        float32, channels averaged. Pure silence is returned as is; audio beyond full scale is scaled
        to a peak of 1 (`decode_audio` also returns a warning saying so).

    Raises
    ------
    AudioDecodeError
        One line, "<name>: <reason>": missing file, directory or special file, empty or truncated
        file, not audio, unsupported format or sample type, sample rate outside the accepted range,
        zero samples, NaN/Inf samples, over `max_duration` or the decode budget.

    Examples
    --------
    >>> import numpy as np
    >>> load_audio(np.zeros(8000, dtype=np.int16), source_sample_rate=8000).shape
    torch.Size([16000])
    """
    return decode_audio(source, sample_rate, source_sample_rate=source_sample_rate, name=name,
                        max_duration=max_duration, budget=budget).waveform


def decode_audio(
    source: AudioSource,
    sample_rate: int = SAMPLE_RATE,
    *,
    source_sample_rate: int | None = None,
    name: str | None = None,
    max_duration: float | None = None,
    budget: DecodeBudget = DEFAULT_DECODE_BUDGET,
) -> DecodedAudio:
    """`load_audio`, also returning the warnings found while decoding (a truncated stream, a level beyond
    full scale)."""
    budget = _with_max_duration(budget, max_duration)
    warnings: list[str] = []
    if isinstance(source, tuple):
        if len(source) != 2:
            raise TypeError("tuple audio sources must be (array, sample_rate)")
        source, source_sample_rate = source
    if isinstance(source, (np.ndarray, torch.Tensor)):
        label = name or "<array>"
        if source_sample_rate is None:
            raise ValueError(f"{label}: source_sample_rate is required for array or tensor input")
        rate = check_sample_rate(label, source_sample_rate)
        samples = _as_array(source)
        mono = _array_to_mono(samples, label)
        if np.shares_memory(mono, samples):  # float32 mono passes through: copy, never alias the caller
            mono = mono.copy()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
        if len(source) == 0:
            raise AudioDecodeError(f"{label}: empty input (0 bytes)")
        data = bytes(source)
        mono, rate = _decode(lambda: io.BytesIO(data), label, budget, warnings)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = name or str(path)
        _check_path(path, label)
        # _decode opens the file in a with block: the lambda only defers opening.
        mono, rate = _decode(lambda: open(path, "rb"), label, budget, warnings)  # noqa: SIM115
    else:
        raise TypeError(f"unsupported audio source type {type(source).__name__}")
    waveform = torch.from_numpy(_finish(mono, rate, sample_rate, label, budget, warnings))
    return DecodedAudio(waveform, warnings)


def audio_info(
    source: str | os.PathLike | bytes, *, name: str | None = None, budget: DecodeBudget = DEFAULT_DECODE_BUDGET
) -> AudioInfo:
    """Read duration, sample rate, channels and codec from a file's header (or an encoded file's bytes),
    without decoding it all (a container that states no duration is decoded within `budget`)."""
    if isinstance(source, bytes):
        label = name or "<bytes>"
    else:
        label = name or str(source)
        _check_path(Path(source), label)

    def opener() -> BinaryIO:  # the file is read twice when libsndfile cannot, so each read opens it afresh
        return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")

    try:
        with opener() as file, sf.SoundFile(file) as f:
            _check_not_truncated(f, label)
            rate = check_sample_rate(label, f.samplerate)
            return AudioInfo(f.frames / rate, rate, f.channels, f.frames,
                             codec=f.subtype, lossy=f.subtype in _LOSSY_SUBTYPES)
    except sf.LibsndfileError as sf_error:
        with opener() as file:
            return _av_info(file, label, sf_error, budget)
    except OSError as e:
        raise AudioDecodeError(f"{label}: cannot read file ({e.strerror or e})") from e


class AudioStream:
    """Iterator over a file's mono blocks (see `stream_audio`); `warnings` fills in while iterating."""

    def __init__(self, blocks: Iterator[torch.Tensor], warnings: list[str]) -> None:
        self._blocks = blocks
        self.warnings = warnings

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self._blocks

    def __next__(self) -> torch.Tensor:
        return next(self._blocks)


def stream_audio(
    path: str | os.PathLike,
    block_duration: float = 60.0,
    sample_rate: int = SAMPLE_RATE,
    *,
    budget: DecodeBudget = DEFAULT_DECODE_BUDGET,
) -> AudioStream:
    """Yield consecutive mono float32 blocks of about `block_duration` seconds, resampled to `sample_rate`.

    Only about one block of raw samples is held at a time, and the resampler carries its state across
    blocks, so the concatenated blocks equal `load_audio(path, sample_rate)` (except for audio beyond
    full scale, which a stream scales by the loudest sample seen so far). The path is checked
    immediately; decode errors, including an exhausted `budget`, are raised while iterating.
    """
    if block_duration <= 0:
        raise ValueError(f"block_duration must be > 0 seconds; got {block_duration}")
    path = Path(path)
    label = str(path)
    _check_path(path, label)
    warnings: list[str] = []
    return AudioStream(_stream(path, label, block_duration, sample_rate, budget, warnings), warnings)


def pad_or_trim(waveform: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Cut `(..., time)` to `num_samples`, or repeat it end to end (tiling, as AASIST does) until it fits.

    Tiling rather than zero padding keeps short clips free of long silent tails that a detector could
    learn as a shortcut.
    """
    if num_samples <= 0:
        raise ValueError(f"num_samples must be > 0; got {num_samples}")
    length = waveform.shape[-1]
    if length == 0:
        raise ValueError("cannot pad an empty waveform")
    if length < num_samples:
        repeats = math.ceil(num_samples / length)
        waveform = waveform.repeat(*([1] * (waveform.dim() - 1)), repeats)
    return waveform[..., :num_samples]


def random_crop(waveform: torch.Tensor, num_samples: int, generator: torch.Generator) -> torch.Tensor:
    """Take a random `num_samples` window from `(..., time)`; shorter audio is tiled by `pad_or_trim`."""
    length = waveform.shape[-1]
    if length <= num_samples:
        return pad_or_trim(waveform, num_samples)
    start = int(torch.randint(0, length - num_samples + 1, (1,), generator=generator))
    return waveform[..., start : start + num_samples]


def silence_bounds(
    waveform: torch.Tensor, sample_rate: int = SAMPLE_RATE, top_db: float = 40.0
) -> tuple[int, int]:
    """`(start, end)` samples of the audio left after dropping leading and trailing silence.

    Silence is audio quieter than `top_db` below the loudest 25 ms frame. Works on `(..., time)` (leading
    axes share one cut). Audio that is entirely silent, or shorter than one frame, keeps its full span.
    """
    frame = max(1, round(0.025 * sample_rate))
    hop = max(1, frame // 4)
    length = waveform.shape[-1]
    if length < frame:
        return 0, length
    # float64: squares of loud float audio overflow float32, and NaN frames would then match nothing
    power = waveform.detach().double().reshape(-1, length).pow(2).mean(dim=0)
    rms = power.unfold(0, frame, hop).mean(dim=-1).sqrt()
    peak = rms.max()
    if not torch.isfinite(peak) or peak <= 0:
        return 0, length
    loud = torch.nonzero(20 * torch.log10(rms / peak + 1e-20) > -top_db).flatten()
    if loud.numel() == 0:
        return 0, length
    return int(loud[0]) * hop, min(length, int(loud[-1]) * hop + frame)


def trim_silence(
    waveform: torch.Tensor, sample_rate: int = SAMPLE_RATE, top_db: float = 40.0
) -> torch.Tensor:
    """Drop leading and trailing silence (see `silence_bounds`); at least one frame is always kept."""
    start, end = silence_bounds(waveform, sample_rate, top_db)
    return waveform if (start, end) == (0, waveform.shape[-1]) else waveform[..., start:end]


# ---------------------------------------------------------------------------------------------------
# decoding

_READ_BLOCK_FRAMES = 1 << 20  # frames per libsndfile read: the budget is counted while reading


def _with_max_duration(budget: DecodeBudget, max_duration: float | None) -> DecodeBudget:
    if max_duration is None or (budget.max_seconds is not None and budget.max_seconds <= max_duration):
        return budget
    return DecodeBudget(float(max_duration), budget.max_samples)


def _check_path(path: Path, label: str) -> None:
    """Refuse anything but a readable regular file, before opening it: opening a FIFO would block."""
    try:
        status = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise AudioDecodeError(f"{label}: broken symbolic link (its target {os.readlink(path)} is missing)") from None
        raise AudioDecodeError(f"{label}: file not found") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise AudioDecodeError(f"{label}: symbolic link loop") from None
        raise AudioDecodeError(f"{label}: cannot read file ({e.strerror})") from e
    if stat.S_ISDIR(status.st_mode):
        raise AudioDecodeError(f"{label}: is a directory, not an audio file")
    if not stat.S_ISREG(status.st_mode):
        kind = _SPECIAL_FILES.get(stat.S_IFMT(status.st_mode), "special file")
        raise AudioDecodeError(f"{label}: is a {kind}, not a regular audio file")
    if status.st_size == 0:
        raise AudioDecodeError(f"{label}: empty file (0 bytes)")


_SPECIAL_FILES = {stat.S_IFIFO: "named pipe (FIFO)", stat.S_IFSOCK: "socket", stat.S_IFCHR: "character device",
                  stat.S_IFBLK: "block device"}


def _decode(
    opener: Callable[[], BinaryIO], label: str, budget: DecodeBudget, warnings: list[str]
) -> tuple[np.ndarray, int]:
    """Decode a whole file (opened anew by `opener` for each decoder) to mono float32."""
    try:
        with opener() as file:
            with sf.SoundFile(file) as f:
                _check_not_truncated(f, label)
                rate = check_sample_rate(label, f.samplerate)
                budget.check(label, f.frames, f.channels, rate, declared=True)
                mono = _sf_read_all(f, label, budget)
                _note_shortfall(f.frames, mono.size, rate, warnings)
                if f.format == "OGG":
                    _note_ogg_cut(file, warnings)
            return mono, rate
    except sf.LibsndfileError as sf_error:
        with opener() as file:
            chunks, rate = [], 0
            for chunk, rate in _av_chunks(file, label, sf_error, budget, warnings):
                chunks.append(chunk)
            return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), rate
    except OSError as e:
        raise AudioDecodeError(f"{label}: cannot read file ({e.strerror or e})") from e


def _sf_read_all(f: sf.SoundFile, label: str, budget: DecodeBudget) -> np.ndarray:
    if f.format == "MP3":
        # libsndfile 1.2's MP3 decoder returns wrong samples (runs of zeros) when read in several calls;
        # its frame count comes from the header, which the budget has already been checked against.
        return _downmix(f.read(dtype="float32", always_2d=True).T)
    blocks, frames = [], 0
    while True:
        raw = f.read(_READ_BLOCK_FRAMES, dtype="float32", always_2d=True)
        if not len(raw):
            break
        frames += len(raw)
        budget.check(label, frames, f.channels, f.samplerate)  # a header may understate the length
        blocks.append(_downmix(raw.T))
        if len(raw) < _READ_BLOCK_FRAMES:
            break
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def _note_shortfall(declared: int, decoded: int, rate: int, warnings: list[str]) -> None:
    reason = shortfall_reason(declared, decoded, rate)
    if reason:
        warnings.append(truncation_warning(reason))


def _note_ogg_cut(file: BinaryIO, warnings: list[str]) -> None:
    reason = ogg_cut_reason(file)
    if reason:
        warnings.append(truncation_warning(reason))


def _check_not_truncated(f: sf.SoundFile, label: str) -> None:
    match = _DATA_SHORT.search(f.extra_info)
    if match:
        declared, present = int(match.group(1)), int(match.group(2))
        if present < declared and declared not in _UNKNOWN_LENGTHS:
            raise AudioDecodeError(
                f"{label}: truncated file: header declares {declared} bytes of audio, only {present} present"
            )


def _av_open(file: BinaryIO, label: str, sf_error: Exception | None) -> tuple[Any, Any]:
    """(container, audio stream) of an FFmpeg-readable file."""
    import av

    try:
        container = av.open(file, mode="r")
    except Exception as av_error:  # PyAV raises many types on junk, not only FFmpegError
        raise AudioDecodeError(
            f"{label}: not a readable audio file (unsupported format, or truncated or corrupt): "
            f"soundfile: {_reason(sf_error) if sf_error else 'not tried'}; ffmpeg: {_reason(av_error)}"
        ) from av_error
    if not container.streams.audio:
        container.close()
        raise AudioDecodeError(f"{label}: unsupported file: no audio stream in {container.format.name} data")
    stream = container.streams.audio[0]
    if stream.codec_context is None:  # FFmpeg found a stream but has no decoder for its codec
        container.close()
        raise AudioDecodeError(f"{label}: unsupported audio codec in {container.format.name} data")
    return container, stream


def _av_chunks(
    file: BinaryIO, label: str, sf_error: Exception | None, budget: DecodeBudget, warnings: list[str] | None
) -> Iterator[tuple[np.ndarray, int]]:
    """Decode frame by frame with PyAV, yielding (mono float32 chunk, sample_rate); the budget is
    counted frame by frame, and a stream that ends before its stated length adds a warning."""
    import av

    container, stream = _av_open(file, label, sf_error)
    with container:
        rate, frames, channels = None, 0, 1
        try:
            for frame in container.decode(stream):
                if rate is None:
                    rate = check_sample_rate(label, frame.sample_rate)
                elif frame.sample_rate != rate:
                    raise AudioDecodeError(f"{label}: unsupported file: sample rate changes mid-stream")
                channels = max(channels, len(frame.layout.channels))
                frames += frame.samples
                budget.check(label, frames, channels, rate)
                yield _frame_to_mono(frame, label), rate
        except av.error.FFmpegError as e:
            raise AudioDecodeError(f"{label}: truncated or corrupt audio data ({_reason(e)})") from e
        if warnings is None or rate is None:
            return
        declared = _av_declared_frames(container, stream, rate)
        if declared is not None:
            _note_shortfall(declared, frames, rate, warnings)
        if container.format.name == "ogg":
            _note_ogg_cut(file, warnings)


def _av_declared_frames(container: Any, stream: Any, rate: int) -> int | None:
    import av

    if stream.duration is not None and stream.time_base is not None:
        return round(float(stream.duration * stream.time_base) * rate)
    if container.duration is not None:
        return round(container.duration / av.time_base * rate)
    return None


def _av_info(file: BinaryIO, label: str, sf_error: Exception, budget: DecodeBudget) -> AudioInfo:
    container, stream = _av_open(file, label, sf_error)
    with container:
        rate = check_sample_rate(label, stream.codec_context.sample_rate)
        channels = stream.codec_context.channels
        declared = _av_declared_frames(container, stream, rate)
    if declared is None:  # some raw streams carry no duration: count the samples, within the budget
        file.seek(0)
        declared = sum(chunk.size for chunk, _ in _av_chunks(file, label, sf_error, budget, None))
    codec = stream.codec_context.name
    lossy = not (codec.startswith("pcm_") or codec in _LOSSLESS_AV_CODECS)
    return AudioInfo(declared / rate, rate, channels, declared, codec=codec, lossy=lossy)


def _frame_to_mono(frame: Any, label: str) -> np.ndarray:  # frame: an av.AudioFrame
    samples = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:  # packed frames come as (1, time * channels), interleaved
        samples = samples.reshape(-1, channels).T
    return _downmix(_to_float(samples, label))


def _reason(error: Exception) -> str:
    text = getattr(error, "error_string", None) or getattr(error, "strerror", None) or str(error)
    return " ".join(str(text).split())


# ---------------------------------------------------------------------------------------------------
# arrays


def _as_array(source: Array) -> np.ndarray:
    if isinstance(source, torch.Tensor):
        tensor = source.detach().cpu()
        if tensor.dtype in (torch.float16, torch.bfloat16):
            tensor = tensor.float()
        return tensor.numpy()
    return source


def _array_to_mono(samples: np.ndarray, label: str) -> np.ndarray:
    if samples.ndim == 2:
        # the shorter axis holds the channels: (channels, time) and (time, channels) both work
        samples = samples if samples.shape[0] <= samples.shape[1] else samples.T
    elif samples.ndim != 1:
        raise AudioDecodeError(f"{label}: expected a 1-D or 2-D array, got shape {tuple(samples.shape)}")
    return _downmix(_to_float(samples, label))


def _to_float(samples: np.ndarray, label: str) -> np.ndarray:
    """Scale integer PCM to [-1, 1) float32; float input is only cast (float64 beyond the float32 range
    is scaled to a peak of 1 first, as `AmplitudeLimiter` would, instead of overflowing to Inf)."""
    kind, bits = samples.dtype.kind, samples.dtype.itemsize * 8
    if kind == "f":
        if samples.dtype == np.float32:
            return samples
        if samples.size and np.isfinite(samples).all():
            peak = float(np.max(np.abs(samples)))
            if peak > np.finfo(np.float32).max:
                samples = samples / peak
        return samples.astype(np.float32)
    if kind == "u" and bits == 8:  # 8-bit WAV PCM is unsigned, centred on 128
        return (samples.astype(np.float32) - 128.0) / 128.0
    if kind == "i" and bits in (8, 16, 32):
        return (samples.astype(np.float64) / 2 ** (bits - 1)).astype(np.float32)
    raise AudioDecodeError(f"{label}: unsupported sample type {samples.dtype} (use float or 8/16/32-bit PCM)")


def _downmix(samples: np.ndarray) -> np.ndarray:
    """(channels, time) or (time,) -> (time,), averaging channels (in float64: loud float channels would
    overflow a float32 sum)."""
    if samples.ndim == 2:
        samples = samples[0] if samples.shape[0] == 1 else samples.mean(axis=0, dtype=np.float64).astype(np.float32)
    return np.ascontiguousarray(samples)


def _finish(
    mono: np.ndarray, rate: int, sample_rate: int, label: str, budget: DecodeBudget, warnings: list[str]
) -> np.ndarray:
    """Validate decoded mono samples, bring their level into range and resample them."""
    if mono.size == 0:
        raise AudioDecodeError(f"{label}: no audio samples (zero-length audio)")
    if not np.isfinite(mono).all():
        raise AudioDecodeError(f"{label}: audio contains NaN or Inf samples")
    budget.check(label, mono.size, 1, rate)
    limiter = AmplitudeLimiter()
    mono = limiter(mono)
    warnings += limiter.warnings
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality=RESAMPLE_QUALITY)
    return np.ascontiguousarray(mono, dtype=np.float32)


# ---------------------------------------------------------------------------------------------------
# streaming


def _stream(
    path: Path, label: str, block_duration: float, sample_rate: int, budget: DecodeBudget, warnings: list[str]
) -> Iterator[torch.Tensor]:
    try:
        f = sf.SoundFile(path)
    except sf.LibsndfileError as sf_error:
        yield from _stream_av(path, label, block_duration, sample_rate, sf_error, budget, warnings)
        return
    if f.format == "MP3":
        # libsndfile 1.2's MP3 decoder returns wrong samples (runs of zeros) when read in several calls
        f.close()
        yield from _stream_av(path, label, block_duration, sample_rate, None, budget, warnings)
        return
    with f:
        _check_not_truncated(f, label)
        rate = check_sample_rate(label, f.samplerate)
        budget.check(label, f.frames, f.channels, rate, declared=True)
        if f.frames == 0:
            raise AudioDecodeError(f"{label}: no audio samples (zero-length audio)")
        block = max(1, round(block_duration * rate))
        resample, limit = _Resampler(rate, sample_rate), AmplitudeLimiter()
        frames = 0
        while True:
            try:
                raw = f.read(block, dtype="float32", always_2d=True)
            except sf.LibsndfileError as e:
                raise AudioDecodeError(f"{label}: truncated or corrupt audio data ({_reason(e)})") from e
            frames += len(raw)
            budget.check(label, frames, f.channels, rate)
            last = len(raw) < block or f.tell() >= f.frames
            out = resample(limit(_checked(_downmix(raw.T), label)), last)
            if out.size:
                yield torch.from_numpy(out)
            if last:
                break
        warnings += limit.warnings
        _note_shortfall(f.frames, frames, rate, warnings)
        is_ogg = f.format == "OGG"
    if is_ogg:
        with open(path, "rb") as file:
            _note_ogg_cut(file, warnings)


def _stream_av(
    path: Path, label: str, block_duration: float, sample_rate: int, sf_error: Exception | None,
    budget: DecodeBudget, warnings: list[str],
) -> Iterator[torch.Tensor]:
    with open(path, "rb") as file:
        pending: list[np.ndarray] = []
        held, resample, block = 0, None, 0
        limit = AmplitudeLimiter()
        for chunk, rate in _av_chunks(file, label, sf_error, budget, warnings):
            if resample is None:
                resample, block = _Resampler(rate, sample_rate), max(1, round(block_duration * rate))
            pending.append(_checked(chunk, label))
            held += chunk.size
            if held >= block:
                out = resample(limit(np.concatenate(pending)), False)
                pending, held = [], 0
                if out.size:
                    yield torch.from_numpy(out)
        if resample is None:
            raise AudioDecodeError(f"{label}: no audio samples (zero-length audio)")
        tail = np.concatenate(pending) if pending else np.zeros(0, np.float32)
        out = resample(limit(tail), True)
        warnings += limit.warnings
        if out.size:
            yield torch.from_numpy(out)


def _checked(mono: np.ndarray, label: str) -> np.ndarray:
    if not np.isfinite(mono).all():
        raise AudioDecodeError(f"{label}: audio contains NaN or Inf samples")
    return mono


class _Resampler:
    """Stateful soxr resampler; a pass-through copy when the rates already match."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.stream = None
        if in_rate != out_rate:
            self.stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)

    def __call__(self, mono: np.ndarray, last: bool) -> np.ndarray:
        if self.stream is None:
            return np.array(mono, dtype=np.float32)
        return np.ascontiguousarray(self.stream.resample_chunk(mono, last=last))
