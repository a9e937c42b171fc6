"""Read a PyTorch `.pth`/`.pt` state dict without ever running code from the file.

`torch.load(weights_only=True)` unpickles only tensors, plain containers and numbers; a file that needs
any other Python object (a pickled model class, or a crafted payload) fails inside the restricted
unpickler before anything it names is imported or called. That failure becomes a one-line refusal.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import pickletools
import re
import warnings
import zipfile
from pathlib import Path

import torch

from deepfake_audio.errors import CheckpointError

# Training scripts often wrap the weights; these keys hold the state dict itself.
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")


def load_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a saved state dict, on the CPU; refuses anything that needs a full unpickle."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    _check_zip_integrity(path)
    try:
        # map_location: checkpoints saved on a GPU (the official AASIST ones are) load on any machine.
        with warnings.catch_warnings():  # e.g. about the pickle protocol: noise next to the one-line answer
            warnings.simplefilter("ignore")
            loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if not _imports_objects(e, path):
            raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({_unpickler_reason(e)})") from None
        raise CheckpointError(
            f"{path}: refused: the file holds pickled Python objects, not only tensors, and reading it "
            f"would run code from it ({_unpickler_reason(e)})"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError) as e:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({_first_line(e)})") from None
    for key in _WRAPPER_KEYS:
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
            break
    if not isinstance(loaded, dict) or not loaded:
        raise CheckpointError(f"{path}: expected a state dict (name -> tensor), found {type(loaded).__name__}")
    for name, value in loaded.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: entry {name!r} is a {type(value).__name__}, not a tensor")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or infinite values")
    return dict(loaded)


def _check_zip_integrity(path: Path) -> None:
    """Since torch 1.6 `.pth` files are zip archives with a CRC-32 per record, which torch itself does not
    verify on load: a flipped byte in the weights would load silently. Legacy (non-zip) files pass."""
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: damaged checkpoint archive ({_first_line(e)})") from None
    if bad is not None:
        raise CheckpointError(f"{path}: damaged or modified after saving (checksum mismatch in record {bad})")


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, recorded in imported checkpoints so their source can be checked."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _imports_objects(error: BaseException, path: Path) -> bool:
    """Whether the rejected file asks for Python objects (classes, functions), not just garbage bytes.

    Decided from torch's message when it names a global, else by listing the pickle's opcodes with
    `pickletools`, which reads the stream without executing any of it.
    """
    if "Unsupported global" in str(error):
        return True
    try:
        return any(op.name in _OBJECT_OPCODES for op, _, _ in pickletools.genops(path.read_bytes()))
    except (ValueError, EOFError, IndexError, TypeError, UnicodeDecodeError):  # not a pickle stream at all
        return False


_OBJECT_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD"}


def _unpickler_reason(error: BaseException) -> str:
    """The one useful sentence of torch's long weights-only message, e.g. 'Unsupported global: ...'."""
    found = re.search(r"WeightsUnpickler error:\s*([^\n]*?\.?)(?:\s*\n|\s*$|(?<=\.)\s)", str(error))
    return found.group(1) if found and found.group(1) else "the restricted unpickler rejected it"


def _first_line(error: BaseException) -> str:
    """The first sentence of an exception's message (torch's run to several lines of advice)."""
    text = str(error).strip()
    if not text:
        return type(error).__name__
    return re.split(r"(?<=\.)\s", text.splitlines()[0].strip(), maxsplit=1)[0]
