"""The transform contract, the `Compose` chain, the registry and `build_augmentation`.

Every transform is a callable ``t(waveform, rng) -> waveform``: `waveform` is a ``(time,)`` float32 array at
16 kHz and `rng` a ``numpy.random.Generator`` that supplies all randomness, so the same seed always gives
the same output (in any data-loader worker). Transforms never modify their input and always return a new
float32 array.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from deepfake_audio.errors import ConfigError

SAMPLE_RATE = 16_000  # the package-wide rate; transforms take `sample_rate` only to stay testable at others

__all__ = [
    "AUGMENTATIONS",
    "SAMPLE_RATE",
    "AugmentationConfigError",
    "BaseTransform",
    "Compose",
    "Transform",
    "available_augmentations",
    "build_augmentation",
    "register_augmentation",
]


class AugmentationConfigError(ConfigError, ValueError):
    """An augmentation list from a config names an unknown transform, key or an invalid value."""


@runtime_checkable
class Transform(Protocol):
    """Anything that maps ``(waveform (time,) float32, rng) -> new waveform`` and has a probability `p`."""

    p: float

    def __call__(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


def check_probability(p: float) -> float:
    """Return `p` as a float, or raise ValueError when it is outside [0, 1]."""
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"p must be in [0, 1]; got p={p}")
    return float(p)


def check_range(
    min_name: str,
    min_value: float,
    max_name: str,
    max_value: float,
    *,
    low: float | None = None,
    high: float | None = None,
) -> tuple[float, float]:
    """Check ``low <= min_value <= max_value <= high``; return the pair as floats, naming values on error."""
    lo, hi = float(min_value), float(max_value)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(
            f"{min_name} and {max_name} must be finite; got {min_name}={min_value}, {max_name}={max_value}"
        )
    if lo > hi:
        raise ValueError(
            f"{min_name} must not exceed {max_name}; got {min_name}={min_value}, {max_name}={max_value}"
        )
    if low is not None and lo < low:
        raise ValueError(f"{min_name} must be >= {low}; got {min_name}={min_value}")
    if high is not None and hi > high:
        raise ValueError(f"{max_name} must be <= {high}; got {max_name}={max_value}")
    return lo, hi


def check_choices(name: str, value: str | Sequence[str], valid: Sequence[str]) -> tuple[str, ...]:
    """Normalise a choice or list of choices to a tuple, raising ValueError on unknown or empty values."""
    values = (value,) if isinstance(value, str) else tuple(value)
    if not values:
        raise ValueError(f"{name} must name at least one of {', '.join(valid)}; got an empty list")
    unknown = [v for v in values if v not in valid]
    if unknown:
        raise ValueError(f"unknown {name} {unknown!r}; valid: {', '.join(valid)}")
    return values


def rms(waveform: np.ndarray) -> float:
    """Root-mean-square level of a waveform, computed in float64."""
    return float(np.sqrt(np.mean(np.square(waveform, dtype=np.float64)))) if waveform.size else 0.0


def fit_length(waveform: np.ndarray, num_samples: int) -> np.ndarray:
    """Trim the end or zero-pad the end so the waveform has exactly `num_samples` samples."""
    if waveform.shape[0] >= num_samples:
        return waveform[:num_samples]
    return np.pad(waveform, (0, num_samples - waveform.shape[0]))


class BaseTransform:
    """Base class: draws "apply or not" with probability `p`, checks input and output, prints its arguments.

    Subclasses implement :meth:`apply`, which receives a read-only float32 view of the input (so an accidental
    in-place edit raises instead of corrupting the caller's array) and returns a new array.
    """

    name: ClassVar[str] = ""
    changes_length: ClassVar[bool] = False  # only time stretch may return a different length

    def __init__(self, p: float = 0.5) -> None:
        self.p = check_probability(p)

    def __call__(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Apply the transform with probability `p`; always return a new float32 ``(time,)`` array."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
        waveform = np.asarray(waveform)
        if waveform.ndim != 1:
            raise ValueError(f"{type(self).__name__} expects a (time,) waveform; got shape {waveform.shape}")
        source = waveform.astype(np.float32, copy=False)
        # The coin is drawn even for empty input so that the rng stream does not depend on the clip length.
        if rng.random() >= self.p or source.size == 0:
            return source.copy()
        view = source.view()
        view.flags.writeable = False
        out = np.asarray(self.apply(view, rng), dtype=np.float32)
        if np.shares_memory(out, waveform):
            out = out.copy()
        assert out.ndim == 1, f"{type(self).__name__} returned shape {out.shape}"
        assert self.changes_length or out.shape == source.shape, (
            f"{type(self).__name__} changed the length {source.shape[0]} -> {out.shape[0]}"
        )
        return out

    def apply(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Transform `waveform` (read-only, float32, ``(time,)``) using only `rng` for randomness."""
        raise NotImplementedError

    def _repr_value(self, name: str) -> str:
        return repr(getattr(self, name))

    def __repr__(self) -> str:
        params = [
            f"{name}={self._repr_value(name)}"
            for name in inspect.signature(type(self).__init__).parameters
            if name != "self" and hasattr(self, name)
        ]
        return f"{type(self).__name__}({', '.join(params)})"


class Compose:
    """Apply transforms in order; each step applies itself with its own probability `p`.

    Parameters
    ----------
    transforms
        The steps, applied left to right.
    p
        Probability that the whole chain runs at all (1.0: always consider every step).

    Examples
    --------
    >>> import numpy as np
    >>> from deepfake_audio.augment import Compose, Gain, AddNoise
    >>> chain = Compose([Gain(min_gain_db=-6, max_gain_db=6, p=1.0), AddNoise(p=0.5)])
    >>> out = chain(np.zeros(16_000, dtype=np.float32), np.random.default_rng(0))
    >>> out.shape, out.dtype
    ((16000,), dtype('float32'))
    """

    def __init__(self, transforms: Sequence[Transform], p: float = 1.0) -> None:
        for t in transforms:
            if not callable(t) or not hasattr(t, "p"):
                raise TypeError(f"Compose steps must be transforms with a `p`; got {t!r}")
        self.transforms = list(transforms)
        self.p = check_probability(p)

    def __call__(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Run the chain on a ``(time,)`` waveform; the input array is never modified."""
        out = np.asarray(waveform, dtype=np.float32).copy()
        if rng.random() >= self.p:
            return out
        for transform in self.transforms:
            out = transform(out, rng)
        return out

    def __len__(self) -> int:
        return len(self.transforms)

    def __iter__(self) -> Iterator[Transform]:
        return iter(self.transforms)

    def __repr__(self) -> str:
        if not self.transforms:
            return f"Compose([], p={self.p})"
        steps = ",\n".join(f"    {t!r}" for t in self.transforms)
        return f"Compose([\n{steps},\n], p={self.p})"


AUGMENTATIONS: dict[str, type[BaseTransform]] = {}

_T = TypeVar("_T", bound=type[BaseTransform])


def register_augmentation(name: str) -> Callable[[_T], _T]:
    """Class decorator adding a transform to :data:`AUGMENTATIONS` under `name` (used in configs)."""

    def decorator(cls: _T) -> _T:
        if name in AUGMENTATIONS and AUGMENTATIONS[name] is not cls:
            raise ValueError(f"augmentation {name!r} is already registered to {AUGMENTATIONS[name].__name__}")
        cls.name = name
        AUGMENTATIONS[name] = cls
        return cls

    return decorator


def available_augmentations() -> list[str]:
    """Names accepted in an augmentation config, sorted."""
    import deepfake_audio.augment  # noqa: F401 - importing the package registers every family

    return sorted(AUGMENTATIONS)


def build_augmentation(
    config: Sequence[Mapping[str, Any]] | None,
    *,
    noise_bank: Sequence[np.ndarray] | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> Compose:
    """Build a :class:`Compose` chain from a list of ``{"name": ..., **arguments}`` dicts.

    Parameters
    ----------
    config
        One dict per step, in order, e.g. ``[{"name": "noise", "p": 0.5, "min_snr_db": 5, "max_snr_db": 30},
        {"name": "rawboost", "p": 0.5, "algo": 5}]``. ``None`` or ``[]`` gives an empty (identity) chain.
    noise_bank
        Clips (``(time,)`` float arrays at `sample_rate`) handed to every step that accepts a ``noise_bank``
        argument (babble noise); the dataset supplies them, e.g. other bona fide training clips.
    sample_rate
        Passed to every step that takes a ``sample_rate`` argument.

    Returns
    -------
    Compose
        The chain; call it as ``chain(waveform, rng)``.

    Raises
    ------
    AugmentationConfigError
        (a ``ValueError`` and a ``ConfigError``) for an unknown name or key, or an invalid value; the message
        gives the step index and lists the valid names or keys.
    """
    valid_names = available_augmentations()
    steps: list[Transform] = []
    for index, entry in enumerate(config or []):
        if not isinstance(entry, Mapping):
            raise AugmentationConfigError(
                f"augmentation step {index} must be a mapping with a 'name'; got {entry!r}"
            )
        name = entry.get("name")
        if name not in AUGMENTATIONS:
            raise AugmentationConfigError(
                f"augmentation step {index}: unknown name {name!r}; valid: {', '.join(valid_names)}"
            )
        cls = AUGMENTATIONS[name]
        accepted = [k for k in inspect.signature(cls.__init__).parameters if k != "self"]
        kwargs = {k: v for k, v in entry.items() if k != "name"}
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise AugmentationConfigError(
                f"augmentation step {index} ({name!r}): unknown key(s) {', '.join(unknown)}; "
                f"valid: {', '.join(['name', *accepted])}"
            )
        if "sample_rate" in accepted:
            kwargs.setdefault("sample_rate", sample_rate)
        if "noise_bank" in accepted and noise_bank is not None:
            kwargs.setdefault("noise_bank", noise_bank)
        try:
            steps.append(cls(**kwargs))
        except (TypeError, ValueError) as e:
            raise AugmentationConfigError(f"augmentation step {index} ({name!r}): {e}") from e
    return Compose(steps)
