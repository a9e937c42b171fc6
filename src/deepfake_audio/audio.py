"""Audio input: decode a file, bytes or array to mono float32 at 16 kHz, stream long files, crop and pad.

Every accepted input kind (`AudioSource`) is normalised here, once; the rest of the package assumes a
`(time,)` float32 tensor at `SAMPLE_RATE`. Files are decoded with soundfile (wav, flac, ogg/vorbis, opus,
mp3) and, when soundfile cannot read them, with PyAV/FFmpeg (m4a, aac, webm, ...).
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import soundfile as sf
import soxr
import torch

from deepfake_audio.errors import AudioDecodeError

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


def load_audio(
    source: AudioSource,
    sample_rate: int = SAMPLE_RATE,
    *,
    source_sample_rate: int | None = None,
    name: str | None = None,
    max_duration: float | None = None,
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

    Returns
    -------
    waveform : (time,) torch.Tensor
        float32, channels averaged. Pure silence is returned as is.

    Raises
    ------
    AudioDecodeError
        One line, "<name>: <reason>": missing file, directory, empty or truncated file, not audio,
        unsupported format or sample type, zero samples, NaN/Inf samples, longer than `max_duration`.

    Examples
    --------
    >>> import numpy as np
    >>> load_audio(np.zeros(8000, dtype=np.int16), source_sample_rate=8000).shape
    torch.Size([16000])
    """
    if isinstance(source, tuple):
        if len(source) != 2:
            raise TypeError("tuple audio sources must be (array, sample_rate)")
        source, source_sample_rate = source
    if isinstance(source, (np.ndarray, torch.Tensor)):
        label = name or "<array>"
        if source_sample_rate is None:
            raise ValueError(f"{label}: source_sample_rate is required for array or tensor input")
        samples = _as_array(source)
        mono, rate = _array_to_mono(samples, label), int(source_sample_rate)
        if np.shares_memory(mono, samples):  # float32 mono passes through: copy, never alias the caller
            mono = mono.copy()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
        if len(source) == 0:
            raise AudioDecodeError(f"{label}: empty input (0 bytes)")
        mono, rate = _decode(lambda: io.BytesIO(bytes(source)), label, max_duration)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = name or str(path)
        _check_path(path, label)
        # _decode opens the file in a with block: the lambda only defers opening.
        mono, rate = _decode(lambda: open(path, "rb"), label, max_duration)  # noqa: SIM115
    else:
        raise TypeError(f"unsupported audio source type {type(source).__name__}")
    return torch.from_numpy(_finish(mono, rate, sample_rate, label, max_duration))


def audio_info(source: str | os.PathLike | bytes, *, name: str | None = None) -> AudioInfo:
    """Read duration, sample rate, channels and codec from a file's header (or an encoded file's bytes),
    without decoding it all."""
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
            return AudioInfo(f.frames / f.samplerate, f.samplerate, f.channels, f.frames,
                             codec=f.subtype, lossy=f.subtype in _LOSSY_SUBTYPES)
    except sf.LibsndfileError as sf_error:
        with opener() as file:
            return _av_info(file, label, sf_error)


def stream_audio(
    path: str | os.PathLike, block_duration: float = 60.0, sample_rate: int = SAMPLE_RATE
) -> Iterator[torch.Tensor]:
    """Yield consecutive mono float32 blocks of about `block_duration` seconds, resampled to `sample_rate`.

    Only about one block of raw samples is held at a time, and the resampler carries its state across
    blocks, so the concatenated blocks equal `load_audio(path, sample_rate)`. The path is checked
    immediately; decode errors are raised while iterating.
    """
    if block_duration <= 0:
        raise ValueError(f"block_duration must be > 0 seconds; got {block_duration}")
    path = Path(path)
    label = str(path)
    _check_path(path, label)
    return _stream(path, label, block_duration, sample_rate)


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
    power = waveform.detach().float().reshape(-1, length).pow(2).mean(dim=0)
    rms = power.unfold(0, frame, hop).mean(dim=-1).sqrt()
    peak = rms.max()
    if peak <= 0:
        return 0, length
    loud = torch.nonzero(20 * torch.log10(rms / peak + 1e-20) > -top_db).flatten()
    return int(loud[0]) * hop, min(length, int(loud[-1]) * hop + frame)


def trim_silence(
    waveform: torch.Tensor, sample_rate: int = SAMPLE_RATE, top_db: float = 40.0
) -> torch.Tensor:
    """Drop leading and trailing silence (see `silence_bounds`); at least one frame is always kept."""
    start, end = silence_bounds(waveform, sample_rate, top_db)
    return waveform if (start, end) == (0, waveform.shape[-1]) else waveform[..., start:end]


# ---------------------------------------------------------------------------------------------------
# decoding


def _check_path(path: Path, label: str) -> None:
    if path.is_dir():
        raise AudioDecodeError(f"{label}: is a directory, not an audio file")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise AudioDecodeError(f"{label}: file not found") from None
    except OSError as e:
        raise AudioDecodeError(f"{label}: cannot read file ({e.strerror})") from e
    if size == 0:
        raise AudioDecodeError(f"{label}: empty file (0 bytes)")


def _decode(opener: Callable[[], BinaryIO], label: str, max_duration: float | None) -> tuple[np.ndarray, int]:
    """Decode a whole file (opened anew by `opener` for each decoder) to mono float32."""
    try:
        with opener() as file:
            with sf.SoundFile(file) as f:
                _check_not_truncated(f, label)
                _check_duration(f.frames / f.samplerate, max_duration, label)
                raw = f.read(dtype="float32", always_2d=True)
            return _downmix(raw.T), f.samplerate
    except sf.LibsndfileError as sf_error:
        with opener() as file:
            chunks, rate, total = [], 0, 0
            for chunk, rate in _av_chunks(file, label, sf_error):
                chunks.append(chunk)
                total += chunk.size
                _check_duration(total / rate, max_duration, label)
            return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), rate
    except OSError as e:
        raise AudioDecodeError(f"{label}: cannot read file ({e.strerror or e})") from e


def _check_not_truncated(f: sf.SoundFile, label: str) -> None:
    match = _DATA_SHORT.search(f.extra_info)
    if match:
        declared, present = int(match.group(1)), int(match.group(2))
        if present < declared and declared not in _UNKNOWN_LENGTHS:
            raise AudioDecodeError(
                f"{label}: truncated file: header declares {declared} bytes of audio, only {present} present"
            )


def _check_duration(duration: float, max_duration: float | None, label: str) -> None:
    if max_duration is not None and duration > max_duration:
        raise AudioDecodeError(
            f"{label}: audio is longer than the {max_duration:g} s limit (at least {duration:.1f} s)"
        )


def _av_open(file: BinaryIO, label: str, sf_error: Exception | None) -> tuple[Any, Any]:
    """(container, audio stream) of an FFmpeg-readable file."""
    import av

    try:
        container = av.open(file, mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as av_error:
        raise AudioDecodeError(
            f"{label}: not a readable audio file (unsupported format, or truncated or corrupt): "
            f"soundfile: {_reason(sf_error) if sf_error else 'not tried'}; ffmpeg: {_reason(av_error)}"
        ) from av_error
    if not container.streams.audio:
        container.close()
        raise AudioDecodeError(f"{label}: unsupported file: no audio stream in {container.format.name} data")
    return container, container.streams.audio[0]


def _av_chunks(file: BinaryIO, label: str, sf_error: Exception | None) -> Iterator[tuple[np.ndarray, int]]:
    """Decode frame by frame with PyAV, yielding (mono float32 chunk, sample_rate)."""
    import av

    container, stream = _av_open(file, label, sf_error)
    with container:
        rate = None
        try:
            for frame in container.decode(stream):
                if rate is None:
                    rate = frame.sample_rate
                elif frame.sample_rate != rate:
                    raise AudioDecodeError(f"{label}: unsupported file: sample rate changes mid-stream")
                yield _frame_to_mono(frame, label), rate
        except av.error.FFmpegError as e:
            raise AudioDecodeError(f"{label}: truncated or corrupt audio data ({_reason(e)})") from e


def _av_info(file: BinaryIO, label: str, sf_error: Exception) -> AudioInfo:
    import av

    container, stream = _av_open(file, label, sf_error)
    with container:
        rate = stream.codec_context.sample_rate
        channels = stream.codec_context.channels
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
    if duration is None:  # some raw streams carry no duration: count the samples
        file.seek(0)
        duration = sum(chunk.size for chunk, _ in _av_chunks(file, label, sf_error)) / rate
    codec = stream.codec_context.name
    lossy = not (codec.startswith("pcm_") or codec in _LOSSLESS_AV_CODECS)
    return AudioInfo(duration, rate, channels, round(duration * rate), codec=codec, lossy=lossy)


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
    """Scale integer PCM to [-1, 1) float32; float input is only cast."""
    kind, bits = samples.dtype.kind, samples.dtype.itemsize * 8
    if kind == "f":
        return samples if samples.dtype == np.float32 else samples.astype(np.float32)
    if kind == "u" and bits == 8:  # 8-bit WAV PCM is unsigned, centred on 128
        return (samples.astype(np.float32) - 128.0) / 128.0
    if kind == "i" and bits in (8, 16, 32):
        return (samples.astype(np.float64) / 2 ** (bits - 1)).astype(np.float32)
    raise AudioDecodeError(f"{label}: unsupported sample type {samples.dtype} (use float or 8/16/32-bit PCM)")


def _downmix(samples: np.ndarray) -> np.ndarray:
    """(channels, time) or (time,) -> (time,), averaging channels."""
    if samples.ndim == 2:
        samples = samples[0] if samples.shape[0] == 1 else samples.mean(axis=0, dtype=np.float32)
    return np.ascontiguousarray(samples)


def _finish(
    mono: np.ndarray, rate: int, sample_rate: int, label: str, max_duration: float | None
) -> np.ndarray:
    """Validate decoded mono samples and resample them."""
    if rate <= 0:
        raise ValueError(f"{label}: sample rate must be positive; got {rate}")
    if mono.size == 0:
        raise AudioDecodeError(f"{label}: no audio samples (zero-length audio)")
    if not np.isfinite(mono).all():
        raise AudioDecodeError(f"{label}: audio contains NaN or Inf samples")
    _check_duration(mono.size / rate, max_duration, label)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality=RESAMPLE_QUALITY)
    return np.ascontiguousarray(mono, dtype=np.float32)


# ---------------------------------------------------------------------------------------------------
# streaming


def _stream(path: Path, label: str, block_duration: float, sample_rate: int) -> Iterator[torch.Tensor]:
    try:
        f = sf.SoundFile(path)
    except sf.LibsndfileError as sf_error:
        yield from _stream_av(path, label, block_duration, sample_rate, sf_error)
        return
    if f.format == "MP3":
        # libsndfile 1.2's MP3 decoder returns wrong samples (runs of zeros) when read in several calls
        f.close()
        yield from _stream_av(path, label, block_duration, sample_rate, None)
        return
    with f:
        _check_not_truncated(f, label)
        if f.frames == 0:
            raise AudioDecodeError(f"{label}: no audio samples (zero-length audio)")
        block = max(1, round(block_duration * f.samplerate))
        resample = _Resampler(f.samplerate, sample_rate)
        while True:
            try:
                raw = f.read(block, dtype="float32", always_2d=True)
            except sf.LibsndfileError as e:
                raise AudioDecodeError(f"{label}: truncated or corrupt audio data ({_reason(e)})") from e
            last = len(raw) < block or f.tell() >= f.frames
            out = resample(_checked(_downmix(raw.T), label), last)
            if out.size:
                yield torch.from_numpy(out)
            if last:
                return


def _stream_av(
    path: Path, label: str, block_duration: float, sample_rate: int, sf_error: Exception | None
) -> Iterator[torch.Tensor]:
    with open(path, "rb") as file:
        pending: list[np.ndarray] = []
        held, resample, block = 0, None, 0
        for chunk, rate in _av_chunks(file, label, sf_error):
            if resample is None:
                resample, block = _Resampler(rate, sample_rate), max(1, round(block_duration * rate))
            pending.append(_checked(chunk, label))
            held += chunk.size
            if held >= block:
                out = resample(np.concatenate(pending), False)
                pending, held = [], 0
                if out.size:
                    yield torch.from_numpy(out)
        if resample is None:
            raise AudioDecodeError(f"{label}: no audio samples (zero-length audio)")
        tail = np.concatenate(pending) if pending else np.zeros(0, np.float32)
        out = resample(tail, True)
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
