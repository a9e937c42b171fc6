"""Make spoofed training clips offline: copy-synthesis of bona fide clips and text-to-speech.

Each generator family lives in its own module and registers itself by name; importing this package
registers them all (cheaply: heavy dependencies are imported only when a generator runs).
"""

from __future__ import annotations

from deepfake_audio.synth import command_tts, griffinlim, hifigan, lpc, piper_tts, world  # noqa: F401
from deepfake_audio.synth.pipeline import SynthesisReport, run_synthesis, synthesize
from deepfake_audio.synth.registry import (
    DEFAULT_GENERATORS,
    GENERATORS,
    Generator,
    Synthesis,
    available_generators,
    default_generators,
    register_generator,
    unavailable_generators,
)
from deepfake_audio.synth.sentences import BUILTIN_SENTENCES, read_texts

__all__ = [
    "BUILTIN_SENTENCES",
    "DEFAULT_GENERATORS",
    "GENERATORS",
    "Generator",
    "Synthesis",
    "SynthesisReport",
    "available_generators",
    "default_generators",
    "read_texts",
    "register_generator",
    "run_synthesis",
    "synthesize",
    "unavailable_generators",
]
