"""The models shipped inside the package, by name: `--model default` (the accurate one) and `--model fast`
(for screening at volume).

This table is the one place that maps a name to its file. What each model has been measured to do
(error rate, speed) is not written here: it travels in the checkpoint's own header, under
`extra["measured"]`, next to the weights it describes (see `record_measurement`).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from deepfake_audio.errors import MissingExtraError

DEFAULT_NAME = "default"


@dataclass(frozen=True)
class BundledModel:
    name: str
    file: str  # in deepfake_audio/pretrained/
    card: str  # its model card, beside it
    purpose: str
    # Python modules the model needs beyond the core install, each with the pip extra that provides it.
    requires: tuple[tuple[str, str], ...] = ()


BUNDLED: dict[str, BundledModel] = {
    model.name: model
    for model in (
        BundledModel("default", "default.safetensors", "MODEL_CARD.md", "accurate; the default"),
        BundledModel("fast", "fast.safetensors", "FAST_MODEL_CARD.md", "screening at volume"),
    )
}


def bundled_names() -> list[str]:
    return list(BUNDLED)


def is_bundled_name(spec: str | os.PathLike | None) -> bool:
    """True when `spec` names a bundled model (a plain name, not a path to a file)."""
    return isinstance(spec, str) and spec in BUNDLED


def bundled_path(name: str = DEFAULT_NAME) -> Path:
    """The checkpoint file of a bundled model."""
    if name not in BUNDLED:
        raise KeyError(f"no bundled model {name!r}; bundled: {', '.join(BUNDLED)}")
    return Path(str(resources.files("deepfake_audio") / "pretrained" / BUNDLED[name].file))


def missing_requirement(name: str) -> tuple[str, str] | None:
    """The first `(module, pip extra)` a bundled model needs that is not installed, or None."""
    for module, extra in BUNDLED[name].requires:
        if importlib.util.find_spec(module) is None:
            return module, extra
    return None


def missing_extra_message(name: str, need: str) -> str:
    alternatives = [other for other in BUNDLED if other != name and not BUNDLED[other].requires]
    hint = f", or use --model {alternatives[0]}" if alternatives else ""
    return f"the bundled model '{name}' needs {need}{hint}"


def resolve_model(spec: str | os.PathLike | None) -> Path:
    """The checkpoint a `--model` value means: None is the default bundled model, a bundled name is that
    model, anything else is a path (a file named like a bundled model is reached as `./fast`)."""
    if spec is None:
        spec = DEFAULT_NAME
    if is_bundled_name(spec):
        assert isinstance(spec, str)
        missing = missing_requirement(spec)
        if missing:
            module, extra = missing
            message = missing_extra_message(spec, f"'{module}': pip install 'deepfake-audio[{extra}]'")
            raise MissingExtraError(message, module=module, extra=extra)
        return bundled_path(spec)
    return Path(spec)


def explain_missing_extra(spec: str | os.PathLike | None, error: MissingExtraError) -> MissingExtraError:
    """The error to show when loading `spec` stopped at a missing optional dependency: for a bundled
    model, one line naming the model, the pip extra, and a bundled model that needs nothing more."""
    if spec is not None and not is_bundled_name(spec):
        return error
    name = DEFAULT_NAME if spec is None else str(spec)
    need = f"'{error.module}': pip install 'deepfake-audio[{error.extra}]'" if error.extra else str(error)
    return MissingExtraError(missing_extra_message(name, need), module=error.module, extra=error.extra)


def measured(name: str) -> dict[str, Any]:
    """What the bundled model's header says was measured about it (`extra["measured"]`); {} when nothing."""
    from deepfake_audio.checkpoint import read_checkpoint_info

    return dict(read_checkpoint_info(bundled_path(name)).extra.get("measured") or {})


def describe_bundled() -> list[str]:
    """A table of the bundled models: architecture, measured EER and speed (from each header), purpose."""
    from deepfake_audio.checkpoint import read_checkpoint_info
    from deepfake_audio.errors import CheckpointError

    rows = [("name", "architecture", "EER (external test set)", "x real time (10-min files)", "purpose")]
    for name, model in BUNDLED.items():
        try:
            info = read_checkpoint_info(bundled_path(name))
        except CheckpointError as e:
            rows.append((name, "unreadable", "-", "-", str(e)))
            continue
        facts = info.extra.get("measured") or {}
        eer = facts.get("external_eer")
        speed = facts.get("realtime_factor")
        purpose = model.purpose
        missing = missing_requirement(name)
        if missing:
            purpose += f" (needs pip install 'deepfake-audio[{missing[1]}]')"
        rows.append((name, info.model, "not measured" if eer is None else f"{100 * eer:.1f}%",
                     "not measured" if speed is None else f"{speed:,.0f}x", purpose))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4] for row in rows]


def record_measurement(path: str | os.PathLike, **values: Any) -> None:
    """Add measured facts (e.g. `external_eer=0.31, realtime_factor=1500.0`) to a checkpoint's header,
    under `extra["measured"]`, keeping its weights and everything else in the header as they are."""
    from deepfake_audio.checkpoint import update_header_extra

    def merge(extra: dict[str, Any]) -> dict[str, Any]:
        extra = dict(extra)
        extra["measured"] = {**(extra.get("measured") or {}), **values}
        return extra

    update_header_extra(path, merge)
