"""Text-to-speech through Debian command-line engines: espeak-ng, flite and festival (one name per voice)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from deepfake_audio.synth.registry import Generator, Synthesis, missing_command, register_generator

TIMEOUT_S = 120
FESTIVAL_VOICE_DIRS = (Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices"))
ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan")
# Whisper/croak and the novelty variants are left out: they are not what a spoofer would use.
ESPEAK_VARIANTS = (
    tuple(f"m{i}" for i in range(1, 8))
    + tuple(f"f{i}" for i in range(1, 6))
    + tuple(f"klatt{i}" if i > 1 else "klatt" for i in range(1, 5))
)


def run_engine(args: list[str], text: str) -> tuple[np.ndarray, int]:
    """Run an engine that reads `{text}` and writes `{wav}` (placeholders in `args`); return its audio."""
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="deepfake_audio_tts_") as tmp:
        text_path, wav_path = Path(tmp) / "input.txt", Path(tmp) / "output.wav"
        text_path.write_text(text + "\n", encoding="utf-8")
        argv = [a.format(text=text_path, wav=wav_path) for a in args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        if result.returncode != 0 or not wav_path.exists():
            message = (result.stderr or result.stdout).strip().splitlines()
            raise RuntimeError(
                f"{argv[0]} failed (exit {result.returncode}): {message[-1] if message else ''}"
            )
        data, sample_rate = sf.read(str(wav_path), dtype="float32", always_2d=True)
    if data.size == 0:
        raise RuntimeError(f"{argv[0]} wrote no audio for text {text!r}")
    return data.mean(axis=1), int(sample_rate)


@register_generator("espeak-ng")
class EspeakNG(Generator):
    """eSpeak NG formant synthesis with a random English accent, voice variant, speed and pitch."""

    description = "text-to-speech: eSpeak NG formant synthesis, random English accent/variant/speed/pitch"
    kind = "tts"
    origin = "Debian espeak-ng"
    license = "GPL-3.0-or-later"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this generator cannot run here, or None."""
        return missing_command("espeak-ng", "espeak-ng")

    def generate(self, source: np.ndarray | str, rng: np.random.Generator) -> Synthesis:
        """Speak a text; returns audio at the engine's rate (22.05 kHz)."""
        assert isinstance(source, str)
        params = {
            "voice": f"{rng.choice(ESPEAK_VOICES)}+{rng.choice(ESPEAK_VARIANTS)}",
            "words_per_minute": int(rng.integers(140, 191)),
            "pitch": int(rng.integers(30, 71)),
        }
        args = ["espeak-ng", "-v", params["voice"], "-s", str(params["words_per_minute"]),
                "-p", str(params["pitch"]), "-f", "{text}", "-w", "{wav}"]  # fmt: skip
        waveform, sample_rate = run_engine(args, source)
        return Synthesis(waveform, sample_rate, params)


class _Flite(Generator):
    """CMU Flite with one built-in voice and a random speaking rate and mean pitch."""

    kind = "tts"
    origin = "Debian flite"
    license = "flite: BSD-style (CMU); see /usr/share/doc/flite/copyright"
    voice: ClassVar[str] = ""
    mean_f0_hz: ClassVar[tuple[int, int]] = (90, 130)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this generator cannot run here, or None."""
        return missing_command("flite", "flite")

    def generate(self, source: np.ndarray | str, rng: np.random.Generator) -> Synthesis:
        """Speak a text; returns audio at the engine's rate (16 kHz)."""
        assert isinstance(source, str)
        params: dict[str, Any] = {
            "voice": self.voice,
            "duration_stretch": round(float(rng.uniform(0.85, 1.2)), 3),
            "mean_f0_hz": int(rng.integers(*self.mean_f0_hz)),
        }
        args = ["flite", "-voice", self.voice, "--setf", f"duration_stretch={params['duration_stretch']}",
                "--setf", f"int_f0_target_mean={params['mean_f0_hz']}", "-f", "{text}", "-o", "{wav}"]  # fmt: skip
        waveform, sample_rate = run_engine(args, source)
        return Synthesis(waveform, sample_rate, params)


@register_generator("flite-kal")
class FliteKal(_Flite):
    """Flite's kal16 diphone voice (male, US)."""

    description = "text-to-speech: CMU Flite kal16 diphone voice, random rate and pitch"
    voice = "kal16"


@register_generator("flite-slt")
class FliteSlt(_Flite):
    """Flite's slt clustergen (statistical parametric) voice (female, US)."""

    description = "text-to-speech: CMU Flite slt clustergen voice, random rate and pitch"
    voice = "slt"
    mean_f0_hz = (150, 210)


@register_generator("flite-awb")
class FliteAwb(_Flite):
    """Flite's awb clustergen voice (male, Scottish English)."""

    description = "text-to-speech: CMU Flite awb clustergen voice, random rate and pitch"
    voice = "awb"


class _Festival(Generator):
    """Festival's text2wave with one installed voice and a random duration stretch."""

    kind = "tts"
    voice: ClassVar[str] = ""  # directory name under voices/<language>/; `voice_<name>` selects it
    apt_package: ClassVar[str] = ""
    license = "festival and voices: free (BSD-style/EST); see /usr/share/doc/<package>/copyright"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this generator cannot run here, or None."""
        missing = missing_command("text2wave", f"festival {cls.apt_package}")
        if missing:
            return missing
        if not any(d.is_dir() and any(d.glob(f"*/{cls.voice}")) for d in FESTIVAL_VOICE_DIRS):
            return f"festival voice {cls.voice} not found: apt-get install --no-install-recommends {cls.apt_package}"
        return None

    def generate(self, source: np.ndarray | str, rng: np.random.Generator) -> Synthesis:
        """Speak a text; returns audio at the voice's rate (16 or 32 kHz)."""
        assert isinstance(source, str)
        stretch = round(float(rng.uniform(0.85, 1.2)), 3)
        setup = f"(begin (voice_{self.voice}) (Parameter.set 'Duration_Stretch {stretch}))"
        waveform, sample_rate = run_engine(["text2wave", "-eval", setup, "-o", "{wav}", "{text}"], source)
        return Synthesis(waveform, sample_rate, {"voice": self.voice, "duration_stretch": stretch})


@register_generator("festival-kal")
class FestivalKal(_Festival):
    """Festival kal_diphone (residual-excited LPC diphones, male US)."""

    description = "text-to-speech: Festival kal_diphone voice (festvox-kallpc16k)"
    voice = "kal_diphone"
    apt_package = "festvox-kallpc16k"
    origin = "Debian festival + festvox-kallpc16k"


@register_generator("festival-ked")
class FestivalKed(_Festival):
    """Festival ked_diphone (residual-excited LPC diphones, male US)."""

    description = "text-to-speech: Festival ked_diphone voice (festvox-kdlpc16k)"
    voice = "ked_diphone"
    apt_package = "festvox-kdlpc16k"
    origin = "Debian festival + festvox-kdlpc16k"


@register_generator("festival-slt-hts")
class FestivalSltHts(_Festival):
    """Festival cmu_us_slt_arctic_hts (HMM-based statistical parametric, female US)."""

    description = "text-to-speech: Festival HTS voice cmu_us_slt_arctic_hts (festvox-us-slt-hts)"
    voice = "cmu_us_slt_arctic_hts"
    apt_package = "festvox-us-slt-hts"
    origin = "Debian festival + festvox-us-slt-hts"
