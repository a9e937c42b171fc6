"""Resume state for interrupted training, stored without pickle.

Nested dicts/lists of tensors and plain values (model, optimizer and scheduler state, RNG states,
epoch counters) are flattened: tensors go into a safetensors file under their path, everything else
into a JSON tree in the file's header.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

_TENSOR = "__tensor__"
_KEY = "training_state"


def _flatten(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu().contiguous().clone()
        return {_TENSOR: path}
    if isinstance(obj, dict):
        return {"__dict__": [[_flatten(k, f"{path}.k{i}", tensors), _flatten(v, f"{path}.{i}", tensors)]
                             for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {path} in training state")


def _unflatten(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, dict):
        if _TENSOR in node:
            return tensors[node[_TENSOR]]
        if "__dict__" in node:
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in node["__dict__"]}
        if "__list__" in node:
            items = [_unflatten(v, tensors) for v in node["__list__"]]
            return tuple(items) if node.get("tuple") else items
    return node


def save_training_state(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write `state` atomically, so a kill during the write leaves the previous state intact."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _flatten(state, "s", tensors)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={_KEY: json.dumps(tree)})
    os.replace(tmp, path)


def load_training_state(path: str | os.PathLike) -> dict[str, Any]:
    tensors: dict[str, torch.Tensor] = {}
    with safe_open(str(path), framework="pt") as f:
        tree = json.loads((f.metadata() or {})[_KEY])
        for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
            tensors[key] = f.get_tensor(key)
    return _unflatten(tree, tensors)


def capture_rng_states(generators: dict[str, torch.Generator]) -> dict[str, Any]:
    """Every random state that decides what training does next: Python's, NumPy's and torch's global
    generators (dropout, model-side augmentation), CUDA's, and the named `generators` (the sampler's
    order, the data loader's worker seeds). Restored by `restore_rng_states`, a resumed run continues
    exactly as an uninterrupted one would."""
    version, mt_state, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(mt_state), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "generators": {name: g.get_state() for name, g in generators.items()},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_states(state: dict[str, Any], generators: dict[str, torch.Generator]) -> None:
    """Put back what `capture_rng_states` saved (a generator missing from `state` keeps its seed)."""
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    for name, saved in state.get("generators", {}).items():
        if name in generators:
            generators[name].set_state(saved)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
