"""Generator families: which spoof systems share an architecture, so "unseen" really means unseen.

Corpora name systems inconsistently (`tacotron2_hifigan_v1_ft`, `glow_tts_hifigan`, `pwg_repo_hifigan`),
and a model that trained on HiFi-GAN output has seen HiFi-GAN artefacts whatever the acoustic model in
front of it. A system belongs to every family whose keyword its name contains; two systems are related
when they share a family. Names with no known keyword form a family of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from deepfake_audio.data.trial import Label, Trial

# Keywords are matched inside lower-cased names with separators removed. Order does not matter.
FAMILY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "hifigan": ("hifigan",),
    "melgan": ("melgan",),
    "wavegan": ("wavegan", "pwg"),
    "waveglow": ("waveglow",),
    "wavenet": ("wavenet", "clarinet"),
    "wavernn": ("wavernn",),
    "waveflow": ("waveflow",),
    "diffusion-vocoder": ("wavegrad", "diffwave", "priorgrad", "specgrad"),
    "univnet": ("univnet",),
    "bigvgan": ("bigvgan",),
    "neural-codec": ("dac", "hificodec", "sqcodec", "codecresynth", "vaecodec"),
    "griffinlim": ("griffinlim",),
    "tacotron": ("tacotron",),
    "glowtts": ("glowtts",),
    "gradtts": ("gradtts",),
    "matcha": ("matcha", "cfmbaseline"),
    "fastspeech": ("fastspeech",),
    "vits": ("vits", "yourtts", "piper"),  # piper's voices are VITS models
    "deepvoice": ("deepvoice", "dctts"),
    "voicebox": ("voicebox",),
    "voicecraft": ("voicecraft",),
    "flashspeech": ("flashspeech",),
    "clamtts": ("clamtts",),
    "dittotts": ("dittotts",),
    "simplespeech": ("simplespeech", "simpletts"),
    "mobilespeech": ("mobilespeech",),
    "fluentspeech": ("fluentspeech",),
    "pflow": ("pflow",),
    "e3tts": ("e3tts",),
    "ardit": ("ardit",),
    "chattts": ("chattts",),
    "style-tts": ("instructtts", "promptstyle", "vstts"),
}


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def generator_families(system: str) -> frozenset[str]:
    """Families a spoof system belongs to, e.g. `tacotron2_hifigan_v1` -> {tacotron, hifigan}."""
    key = _normalise(system)
    found = {family for family, words in FAMILY_KEYWORDS.items() if any(w in key for w in words)}
    return frozenset(found or {f"other:{key}"})


def spoof_families(trials: Iterable[Trial]) -> set[str]:
    """Every family of the spoofs among `trials`: what a held-out set's generators are."""
    return set().union(*(generator_families(t.system or "") for t in trials if t.label is Label.SPOOF))
