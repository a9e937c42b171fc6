"""Every limit and switch of the HTTP server in one frozen record, with the defaults the CLI shows."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

API_KEYS_ENV = "DEEPFAKE_AUDIO_API_KEYS"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """Limits and switches of `create_app`; `deepfake-audio serve --help` lists the same names."""

    max_upload_mb: float = 50.0  # one uploaded file
    max_batch_files: int = 16  # files in one POST /detect/batch
    max_batch_mb: float = 100.0  # the whole body of one POST /detect/batch
    # Decode budget, checked from the file's header before any decoding: a tiny file whose header
    # claims a 1 Hz sample rate would otherwise be resampled into hours of audio.
    max_audio_seconds: float = 600.0
    min_sample_rate: int = 4_000
    max_sample_rate: int = 384_000
    workers: int = 2  # threads that decode and score (they share the one loaded model)
    queue: int = 32  # requests that may wait for a worker; beyond workers + queue the answer is 503
    time_budget: float = 30.0  # seconds per request, waiting included; then 504
    api_keys: tuple[str, ...] = ()  # empty: no key needed
    allow_origins: tuple[str, ...] = ()  # cross-origin browser requests allowed from these ("*": any)
    allowed_hosts: tuple[str, ...] | None = None  # Host header values accepted; None: any
    docs: bool = False  # serve /docs and /openapi.json

    def __post_init__(self) -> None:
        for name in ("max_upload_mb", "max_batch_mb", "max_audio_seconds", "time_budget"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)}")
        for name in ("max_batch_files", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")
        if self.queue < 0:
            raise ValueError(f"queue must be >= 0; got {self.queue}")
        if self.max_batch_files > self.workers + self.queue:  # a batch takes a slot per file
            raise ValueError(f"max_batch_files ({self.max_batch_files}) must not exceed workers + queue "
                             f"({self.workers + self.queue}): such a batch could never be admitted")
        if not 0 < self.min_sample_rate <= self.max_sample_rate:
            raise ValueError(f"need 0 < min_sample_rate <= max_sample_rate; got {self.min_sample_rate}, "
                             f"{self.max_sample_rate}")
        if any(not key or not key.isascii() or not key.isprintable() for key in self.api_keys):
            raise ValueError("API keys must be non-empty printable ASCII")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MIB)

    @property
    def max_batch_bytes(self) -> int:
        return int(self.max_batch_mb * MIB)

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


def api_keys_from_env(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """Keys from DEEPFAKE_AUDIO_API_KEYS (separated by commas or whitespace): they stay out of `ps`."""
    return tuple(key for key in re.split(r"[,\s]+", environ.get(API_KEYS_ENV, "")) if key)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def hosts_to_accept(bind: str, extra: Iterable[str] = ()) -> tuple[str, ...] | None:
    """Host headers a server bound to `bind` accepts (None: any). Bound to loopback, only loopback names
    and `extra`: a web page whose name re-resolves to 127.0.0.1 (DNS rebinding) is then refused."""
    extra = tuple(extra)
    if "*" in extra:
        return None
    if extra or is_loopback(bind):
        return (*LOOPBACK_HOSTS, *extra)
    return None
