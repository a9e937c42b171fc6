"""The record every corpus reader produces: one labelled recording."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class Label(str, Enum):
    """Ground truth, spelled as in ASVspoof protocols."""

    BONAFIDE = "bonafide"
    SPOOF = "spoof"

    @classmethod
    def parse(cls, text: str) -> Label:
        """Accept the spellings corpora use: bonafide/bona-fide/real/genuine, spoof/fake/synthetic."""
        key = text.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
        if key in {"bonafide", "real", "genuine", "human", "original", "0"}:
            return cls.BONAFIDE
        if key in {"spoof", "fake", "synthetic", "generated", "deepfake", "1"}:
            return cls.SPOOF
        raise ValueError(f"unknown label {text!r}; expected bonafide/real or spoof/fake")

    @property
    def target(self) -> int:
        """Class index used by the models: 1 = bona fide, 0 = spoof."""
        return 1 if self is Label.BONAFIDE else 0


@dataclass(frozen=True)
class Trial:
    """One recording with its label and whatever metadata its corpus provides.

    `system` names the generator (attack id for ASVspoof, TTS model for MLAAD, ...) and is
    `"bonafide"` for real speech. Unknown metadata stays `None`.
    """

    utterance_id: str
    path: Path
    label: Label
    system: str | None = None
    speaker: str | None = None
    source: str | None = None
    codec: str | None = None
    transmission: str | None = None
    subset: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
