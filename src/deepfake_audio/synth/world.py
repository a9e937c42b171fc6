"""WORLD vocoder copy-synthesis: F0, spectral envelope and aperiodicity, then resynthesis (pyworld)."""

from __future__ import annotations

import numpy as np

from deepfake_audio.audio import SAMPLE_RATE
from deepfake_audio.synth.registry import (
    Generator,
    Synthesis,
    missing_module,
    register_generator,
)


@register_generator("world")
class World(Generator):
    """WORLD analysis (DIO or Harvest + StoneMask, CheapTrick, D4C) and synthesis."""

    description = "copy-synthesis: WORLD vocoder analysis/resynthesis (pyworld; DIO or Harvest F0)"
    kind = "copy"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this generator cannot run here, or None."""
        return missing_module("pyworld", "pyworld-prebuilt")

    def generate(self, source: np.ndarray | str, rng: np.random.Generator) -> Synthesis:
        """Copy-synthesise a (time,) float32 16 kHz waveform."""
        import pyworld

        assert isinstance(source, np.ndarray)
        x = source.astype(np.float64)
        frame_period = float(rng.choice([5.0, 10.0]))  # ms
        # Harvest is the better but slower F0 tracker; mixing both widens the artefact range.
        estimator = "harvest" if rng.random() < 0.3 else "dio"
        track = pyworld.harvest if estimator == "harvest" else pyworld.dio
        f0, times = track(x, SAMPLE_RATE, frame_period=frame_period)
        f0 = pyworld.stonemask(x, f0, times, SAMPLE_RATE)
        envelope = pyworld.cheaptrick(x, f0, times, SAMPLE_RATE)
        aperiodicity = pyworld.d4c(x, f0, times, SAMPLE_RATE)
        y = pyworld.synthesize(f0, envelope, aperiodicity, SAMPLE_RATE, frame_period)
        params = {"f0_estimator": estimator, "frame_period_ms": frame_period}
        return Synthesis(y.astype(np.float32), SAMPLE_RATE, params)
