"""Read the tensors of a CTranslate2 `model.bin` (the format faster-whisper uses), without ctranslate2.

The layout (binary versions 2-6, as CTranslate2's own `ModelSpec._serialize` writes it), little-endian:
`u32 version`, `string spec_name`, `u32 revision`, `u32 count`, then per variable `string name`, `u8 rank`,
`u32 dims[rank]`, `u8 dtype` (index into `DTYPES`), `u32 nbytes`, the raw bytes; then `u32 aliases` and
their name pairs. A string is `u16 length` (including a trailing NUL) and its bytes.
"""

from __future__ import annotations

import struct

import numpy as np

from deepfake_audio.errors import CheckpointError

DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
SUPPORTED_VERSIONS = range(5, 7)  # dtype ids (not item sizes) are stored from version 5 on


class _Cursor:
    def __init__(self, data: memoryview, label: str) -> None:
        self.data, self.pos, self.label = data, 0, label

    def take(self, size: int) -> memoryview:
        if self.pos + size > len(self.data):
            raise CheckpointError(f"{self.label}: truncated CTranslate2 model file")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def unpack(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        raw = bytes(self.take(self.unpack("H")))
        return raw.rstrip(b"\0").decode("utf-8", errors="replace")


def read_ctranslate2(data: bytes, label: str, prefix: str = "") -> tuple[str, dict[str, np.ndarray]]:
    """The spec name and the variables whose names start with `prefix`, as numpy arrays (float16 stays)."""
    cursor = _Cursor(memoryview(data), label)
    version = cursor.unpack("I")
    if version not in SUPPORTED_VERSIONS:
        raise CheckpointError(f"{label}: CTranslate2 binary version {version} is not supported "
                              f"(supported: {SUPPORTED_VERSIONS.start}-{SUPPORTED_VERSIONS.stop - 1})")
    spec = cursor.string()
    cursor.unpack("I")  # spec revision
    tensors: dict[str, np.ndarray] = {}
    for _ in range(cursor.unpack("I")):
        name = cursor.string()
        shape = tuple(cursor.unpack("I") for _ in range(cursor.unpack("B")))
        dtype_id = cursor.unpack("B")
        raw = cursor.take(cursor.unpack("I"))
        if not name.startswith(prefix):
            continue
        if dtype_id >= len(DTYPES):
            raise CheckpointError(f"{label}: variable {name} has unknown dtype id {dtype_id}")
        dtype = DTYPES[dtype_id]
        if dtype == "bfloat16":  # numpy has no bfloat16: widen the bits to float32
            bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            array = bits.view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=dtype)
        if array.size != int(np.prod(shape)):
            raise CheckpointError(f"{label}: variable {name} holds {array.size} values for shape {shape}")
        tensors[name] = array.reshape(shape)
    return spec, tensors
