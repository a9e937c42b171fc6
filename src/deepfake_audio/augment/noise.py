"""Additive noise at a target signal-to-noise ratio: white, pink, brown, or babble from other clips."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepfake_audio.augment.base import BaseTransform, check_choices, check_range, register_augmentation

NOISE_KINDS = ("white", "pink", "brown", "babble")

# Power-spectrum slope per kind: power ~ 1 / f**exponent (white 0, pink 1, brown 2).
_SPECTRAL_EXPONENT = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def coloured_noise(num_samples: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f**exponent, zero mean, unit RMS, float64."""
    if exponent == 0.0:
        noise = rng.standard_normal(num_samples)
    else:
        spectrum = rng.standard_normal(num_samples // 2 + 1) + 1j * rng.standard_normal(num_samples // 2 + 1)
        freqs = np.fft.rfftfreq(num_samples)
        scale = np.zeros_like(freqs)
        # DC is dropped: a 1/f shape would make it infinite, and an offset is not noise.
        scale[1:] = freqs[1:] ** (-exponent / 2.0)
        noise = np.fft.irfft(spectrum * scale, n=num_samples)
    noise = noise - noise.mean()
    level = np.sqrt(np.mean(noise**2))
    return noise / level if level > 0 else noise


def babble_noise(
    num_samples: int, bank: Sequence[np.ndarray], num_talkers: int, rng: np.random.Generator
) -> np.ndarray:
    """Sum of `num_talkers` random crops from `bank`, each at unit RMS (looped when shorter), float64."""
    total = np.zeros(num_samples)
    for index in rng.choice(len(bank), size=num_talkers, replace=len(bank) < num_talkers):
        clip = np.asarray(bank[int(index)], dtype=np.float64).reshape(-1)
        if clip.size == 0:
            continue
        if clip.size < num_samples:
            clip = np.tile(clip, -(-num_samples // clip.size))
        start = int(rng.integers(0, clip.size - num_samples + 1))
        crop = clip[start : start + num_samples]
        level = np.sqrt(np.mean(crop**2))
        if level > 0:
            total += crop / level
    total -= total.mean()
    level = np.sqrt(np.mean(total**2))
    return total / level if level > 0 else total


@register_augmentation("noise")
class AddNoise(BaseTransform):
    """Add noise so that the clip's signal-to-noise ratio is a random value in ``[min_snr_db, max_snr_db]``.

    The SNR is measured over the whole clip (signal power over noise power). Silent input is returned
    unchanged, since no SNR can be defined for it.

    Parameters
    ----------
    min_snr_db, max_snr_db
        SNR range in dB, drawn uniformly.
    kind
        ``"white"``, ``"pink"``, ``"brown"`` or ``"babble"``, or a list of them (one picked per call).
    noise_bank
        For ``"babble"`` only: a list of ``(time,)`` float arrays at the same sample rate, usually other
        bona fide training clips that the dataset passes in (``build_augmentation(..., noise_bank=clips)``
        forwards them).
        Random crops of `min_talkers`..`max_talkers` of them, each scaled to the same RMS, are summed; short
        clips are looped. The arrays are only read.
    min_talkers, max_talkers
        Number of babble clips mixed, drawn uniformly (inclusive).
    p
        Probability of applying.
    """

    def __init__(
        self,
        min_snr_db: float = 5.0,
        max_snr_db: float = 30.0,
        kind: str | Sequence[str] = "white",
        noise_bank: Sequence[np.ndarray] | None = None,
        min_talkers: int = 3,
        max_talkers: int = 6,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        self.min_snr_db, self.max_snr_db = check_range("min_snr_db", min_snr_db, "max_snr_db", max_snr_db)
        kinds = check_choices("kind", kind, NOISE_KINDS)
        self.kind = kinds[0] if isinstance(kind, str) else list(kinds)
        self._kinds = kinds
        lo, hi = check_range("min_talkers", min_talkers, "max_talkers", max_talkers, low=1)
        if lo != int(lo) or hi != int(hi):
            raise ValueError(
                f"min_talkers and max_talkers must be integers; got {min_talkers}, {max_talkers}"
            )
        self.min_talkers, self.max_talkers = int(lo), int(hi)
        self.noise_bank = list(noise_bank) if noise_bank is not None else None

    def _repr_value(self, name: str) -> str:
        if name == "noise_bank" and self.noise_bank is not None:
            return f"<{len(self.noise_bank)} clips>"
        return super()._repr_value(name)

    def apply(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Add noise of a randomly chosen kind at a random SNR."""
        kind = self._kinds[int(rng.integers(len(self._kinds)))]
        snr_db = rng.uniform(self.min_snr_db, self.max_snr_db)
        if kind == "babble":
            if not self.noise_bank:
                raise ValueError(
                    "babble noise needs a non-empty noise_bank of clips: pass noise_bank=[...] "
                    "(build_augmentation(..., noise_bank=clips) forwards the dataset's clips)"
                )
            talkers = int(rng.integers(self.min_talkers, self.max_talkers + 1))
            noise = babble_noise(waveform.shape[0], self.noise_bank, talkers, rng)
        else:
            noise = coloured_noise(waveform.shape[0], _SPECTRAL_EXPONENT[kind], rng)
        signal_power = np.mean(np.square(waveform, dtype=np.float64))
        noise_power = np.mean(noise**2)
        if signal_power == 0.0 or noise_power == 0.0:
            return waveform.copy()
        gain = np.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10.0)))
        return (waveform + gain * noise).astype(np.float32)
