"""Notice compressed files that were cut short, which decoders otherwise play as a shorter clip.

A cut WAV or FLAC is an error (its header states the length; audio.py checks it). Lossy streams decode
frame by frame and simply stop, so two other clues are used: an MP3's Xing/Info header (or an FFmpeg
container) states a duration the decoded audio falls short of, and an Ogg stream (Vorbis, Opus, FLAC in
Ogg) ends with a complete page flagged end-of-stream, which a cut file lacks.
"""

from __future__ import annotations

import os
from typing import BinaryIO

_OGG_PAGE_HEADER = 27  # bytes before the segment table
_OGG_EOS = 0x04  # header_type flag: last page of a logical stream
_OGG_TAIL_BYTES = 65_307 + 4096  # an Ogg page is at most 65,307 bytes


def ogg_cut_reason(file: BinaryIO) -> str | None:
    """Why an Ogg file looks cut (no complete final page flagged end-of-stream), or None if it ends well."""
    size = file.seek(0, os.SEEK_END)
    start = max(0, size - _OGG_TAIL_BYTES)
    file.seek(start)
    tail = file.read()
    position = len(tail)
    while True:
        position = tail.rfind(b"OggS", 0, position)
        if position < 0:
            return "its last Ogg page is incomplete"
        header = tail[position : position + _OGG_PAGE_HEADER]
        if len(header) == _OGG_PAGE_HEADER and header[4] == 0:  # stream structure version 0
            segments = header[26]
            table = tail[position + _OGG_PAGE_HEADER : position + _OGG_PAGE_HEADER + segments]
            end = position + _OGG_PAGE_HEADER + segments + sum(table)
            if len(table) == segments and end == len(tail):  # a page that ends exactly at the end of file
                return None if header[5] & _OGG_EOS else "its last Ogg page is not marked end-of-stream"
        # "OggS" inside packet data, or a page cut short: look further back


def shortfall_reason(declared: int, decoded: int, sample_rate: int) -> str | None:
    """Why `decoded` frames fall short of the `declared` ones by more than codec padding, or None.

    Encoder delay and padding (a few MP3 frames, Opus pre-skip) make decoded lengths differ from headers
    by tens of milliseconds; a cut loses far more.
    """
    if declared <= 0 or decoded >= declared:
        return None
    missing = declared - decoded
    if missing <= max(0.1 * sample_rate, 0.02 * declared):
        return None
    return f"its header declares {declared / sample_rate:.2f} s, only {decoded / sample_rate:.2f} s could be decoded"


def truncation_warning(reason: str) -> str:
    return f"file looks truncated ({reason}): only the audio before the cut was scored"
