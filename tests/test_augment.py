"""Tests for deepfake_audio.augment: each transform does what it promises, seeded, without side effects."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy")
pytest.importorskip("pedalboard")
pytest.importorskip("av")

from conftest import synthetic_speechlike

from deepfake_audio.augment import (
    AUGMENTATIONS,
    CODECS,
    RAWBOOST_ALGOS,
    AddNoise,
    AugmentationConfigError,
    BandLimit,
    Codec,
    Compose,
    Gain,
    PitchShift,
    RawBoost,
    Reverb,
    Telephone,
    TimeStretch,
    build_augmentation,
)
from deepfake_audio.augment.channel import a_law_roundtrip, mu_law_roundtrip
from deepfake_audio.errors import ConfigError

SR = 16_000


def power_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2))


def band_energy(x: np.ndarray, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(np.asarray(x, dtype=np.float64))) ** 2
    freqs = np.fft.rfftfreq(x.shape[0], 1 / SR)
    return float(spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum())


def peak_hz(x: np.ndarray) -> float:
    n = 8 * x.shape[0]  # zero-padding: 0.25 Hz bins on one second
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.shape[0]), n))
    return float(np.argmax(spectrum) * SR / n)


def tone(freq_hz: float, duration: float = 1.0) -> np.ndarray:
    t = np.arange(round(duration * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def white(duration: float = 1.0, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(round(duration * SR))).astype(np.float32)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return synthetic_speechlike(1.0, seed=3)


@pytest.fixture(scope="module")
def bank() -> list[np.ndarray]:
    return [synthetic_speechlike(0.7 + 0.2 * i, seed=10 + i) for i in range(4)]


def default_instance(name: str, bank: list[np.ndarray]):
    """Every registered transform, with its defaults and p=1 (babble needs a bank, so noise gets one)."""
    if name == "noise":
        return AddNoise(kind=["white", "pink", "brown", "babble"], noise_bank=bank, p=1.0)
    return AUGMENTATIONS[name](p=1.0)


# Contract shared by every transform.


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_seeded_and_input_untouched(name, clip, bank):
    transform = default_instance(name, bank)
    original = clip.copy()
    first = transform(clip, np.random.default_rng(7))
    again = transform(clip, np.random.default_rng(7))
    other = transform(clip, np.random.default_rng(8))
    np.testing.assert_array_equal(clip, original)
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.float32 and first.ndim == 1 and np.isfinite(first).all()
    assert not np.shares_memory(first, clip)
    if not transform.changes_length:
        assert first.shape == clip.shape
    assert first.shape != other.shape or not np.array_equal(first, other)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_p_zero_returns_an_unchanged_copy(name, clip, bank):
    transform = default_instance(name, bank)
    transform.p = 0.0
    out = transform(clip, np.random.default_rng(0))
    np.testing.assert_array_equal(out, clip)
    assert not np.shares_memory(out, clip)


def test_float64_input_is_converted_not_modified(clip):
    x64 = clip.astype(np.float64)
    before = x64.copy()
    out = Gain(min_gain_db=6, max_gain_db=6, p=1.0)(x64, np.random.default_rng(0))
    np.testing.assert_array_equal(x64, before)
    assert out.dtype == np.float32


def test_rejects_bad_inputs(clip):
    with pytest.raises(ValueError, match="shape"):
        Gain(p=1.0)(np.stack([clip, clip]), np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        Gain(p=1.0)(clip, 0)


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (lambda: AddNoise(min_snr_db=30, max_snr_db=5), "min_snr_db=30"),
        (lambda: AddNoise(kind="purple"), "purple"),
        (lambda: AddNoise(min_talkers=0), "min_talkers"),
        (lambda: Gain(p=1.5), "p=1.5"),
        (lambda: Gain(min_gain_db=6, max_gain_db=-6), "max_gain_db=-6"),
        (lambda: PitchShift(min_semitones=3, max_semitones=-3), "min_semitones=3"),
        (lambda: TimeStretch(min_rate=0.0, max_rate=1.0), "min_rate"),
        (lambda: BandLimit(max_highpass_hz=4000, min_lowpass_hz=3000), "min_lowpass_hz=3000"),
        (lambda: BandLimit(max_lowpass_hz=9000), "max_lowpass_hz=9000"),
        (lambda: Telephone(low_hz=3500, high_hz=300), "low_hz=3500"),
        (lambda: Telephone(companding="g729"), "g729"),
        (lambda: Codec(codecs=["flac"]), "flac"),
        (lambda: Codec(codecs=[]), "empty"),
        (lambda: Codec(min_bitrate_kbps=64, max_bitrate_kbps=16), "min_bitrate_kbps=64"),
        (lambda: Reverb(min_rt60_s=-1.0), "min_rt60_s=-1"),
        (lambda: RawBoost(algo=9), "algo=9"),
        (lambda: RawBoost(min_snr_db=40, max_snr_db=10), "min_snr_db=40"),
        (lambda: RawBoost(max_impulse_percent=150), "max_impulse_percent=150"),
    ],
)
def test_bad_ranges_raise_naming_the_values(factory, expected):
    with pytest.raises(ValueError, match=expected):
        factory()


def test_repr_shows_arguments():
    assert (
        repr(Gain(min_gain_db=-3, max_gain_db=3, p=0.25)) == "Gain(min_gain_db=-3.0, max_gain_db=3.0, p=0.25)"
    )
    text = repr(Compose([Gain(p=1.0), AddNoise(noise_bank=[np.zeros(5)])]))
    assert "Gain(" in text and "AddNoise(" in text and "<1 clips>" in text


# Noise.


@pytest.mark.parametrize("kind", ["white", "pink", "brown", "babble"])
@pytest.mark.parametrize("snr_db", [0.0, 12.0, 30.0])
def test_noise_lands_at_the_requested_snr(kind, snr_db, clip, bank):
    noisy = AddNoise(min_snr_db=snr_db, max_snr_db=snr_db, kind=kind, noise_bank=bank, p=1.0)(
        clip, np.random.default_rng(1)
    )
    measured = power_db(clip) - power_db(noisy.astype(np.float64) - clip)
    assert abs(measured - snr_db) < 0.5


def test_noise_snr_stays_in_range(clip):
    transform = AddNoise(min_snr_db=5, max_snr_db=30, kind="pink", p=1.0)
    measured = [
        power_db(clip) - power_db(transform(clip, np.random.default_rng(s)).astype(np.float64) - clip)
        for s in range(20)
    ]
    assert 5 - 0.5 <= min(measured) and max(measured) <= 30 + 0.5
    assert max(measured) - min(measured) > 10  # actually drawn across the range


def test_noise_colours_tilt_the_spectrum():
    silent_free = tone(1000.0)  # the tone sits at 1 kHz; measure the added noise elsewhere
    tilt = {}
    for kind in ("white", "pink", "brown"):
        noisy = AddNoise(min_snr_db=0, max_snr_db=0, kind=kind, p=1.0)(silent_free, np.random.default_rng(2))
        noise = noisy - silent_free
        tilt[kind] = 10 * np.log10(band_energy(noise, 50, 400) / band_energy(noise, 4000, 7600))
    # Per-bin power: white flat; 50-400 Hz band is 350 Hz wide, 4-7.6 kHz band 3.6 kHz wide.
    assert tilt["white"] == pytest.approx(10 * np.log10(350 / 3600), abs=1.5)
    assert tilt["white"] + 10 < tilt["pink"] < tilt["brown"] - 10


def test_babble_needs_a_bank(clip):
    with pytest.raises(ValueError, match="noise_bank"):
        AddNoise(kind="babble", p=1.0)(clip, np.random.default_rng(0))


def test_silent_input_stays_silent():
    out = AddNoise(p=1.0)(np.zeros(1000, dtype=np.float32), np.random.default_rng(0))
    assert not out.any()


# Gain, pitch, time.


@pytest.mark.parametrize("gain_db", [-12.0, -3.0, 0.0, 6.0])
def test_gain_changes_rms_by_the_requested_db(gain_db, clip):
    out = Gain(min_gain_db=gain_db, max_gain_db=gain_db, p=1.0)(clip, np.random.default_rng(0))
    assert power_db(out) - power_db(clip) == pytest.approx(gain_db, abs=1e-3)


@pytest.mark.parametrize("semitones", [-3.0, 4.0])
def test_pitch_shift_moves_a_tone(semitones):
    x = tone(200.0)
    out = PitchShift(min_semitones=semitones, max_semitones=semitones, p=1.0)(x, np.random.default_rng(0))
    assert out.shape == x.shape
    expected = 200.0 * 2 ** (semitones / 12)
    assert peak_hz(out[2000:-2000]) == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_time_stretch_changes_length_not_pitch(rate):
    x = tone(200.0)
    out = TimeStretch(min_rate=rate, max_rate=rate, p=1.0)(x, np.random.default_rng(0))
    assert out.shape[0] == round(x.shape[0] / rate)
    assert peak_hz(out[2000:-2000]) == pytest.approx(200.0, rel=0.02)
    kept = TimeStretch(min_rate=rate, max_rate=rate, keep_length=True, p=1.0)(x, np.random.default_rng(0))
    assert kept.shape == x.shape


# Channel.


@pytest.mark.parametrize("law", ["mu-law", "a-law"])
def test_telephone_removes_energy_above_4_khz(law):
    x = white()
    out = Telephone(companding=law, p=1.0)(x, np.random.default_rng(0))
    assert out.shape == x.shape
    above = 10 * np.log10(band_energy(out, 4000, 8001) / band_energy(x, 4000, 8001))
    kept = 10 * np.log10(band_energy(out, 500, 3000) / band_energy(x, 500, 3000))
    assert above < -30.0
    assert abs(kept) < 2.0  # speech band passes at about the same level


@pytest.mark.parametrize("roundtrip", [mu_law_roundtrip, a_law_roundtrip])
def test_companding_is_8_bit_and_keeps_quiet_signals(roundtrip):
    x = np.sin(2 * np.pi * np.arange(8000) * 440 / 8000) * 10 ** (-30 / 20)  # -30 dBFS tone
    y = roundtrip(x)
    assert len(np.unique(y)) <= 256
    assert not np.allclose(x, y)
    assert power_db(x) - power_db(y - x) > 25.0  # log companding keeps SNR high even at low level


def test_band_limit_removes_energy_above_and_below_its_cutoffs():
    x = white()
    out = BandLimit(
        min_highpass_hz=500, max_highpass_hz=500, min_lowpass_hz=3000, max_lowpass_hz=3000, p=1.0
    )(x, np.random.default_rng(0))
    assert 10 * np.log10(band_energy(out, 3600, 8001) / band_energy(x, 3600, 8001)) < -30.0
    assert 10 * np.log10(band_energy(out, 0, 400) / band_energy(x, 0, 400)) < -20.0
    assert abs(10 * np.log10(band_energy(out, 800, 2500) / band_energy(x, 800, 2500))) < 1.0


def test_band_limit_draws_its_cutoff():
    x = white()
    transform = BandLimit(
        min_highpass_hz=0, max_highpass_hz=0, min_lowpass_hz=1000, max_lowpass_hz=7000, p=1.0
    )
    energies = [band_energy(transform(x, np.random.default_rng(s)), 1500, 8001) for s in range(8)]
    assert max(energies) > 5 * min(energies)


# Codecs.


def frame_rms(x: np.ndarray, frame: int = 320) -> np.ndarray:
    frames = np.asarray(x[: x.shape[0] // frame * frame], dtype=np.float64).reshape(-1, frame)
    return np.sqrt(np.mean(frames**2, axis=1))


def best_lag(y: np.ndarray, x: np.ndarray, max_lag: int = 200) -> int:
    lags = range(-max_lag, max_lag + 1)
    scores = [np.dot(np.roll(y, -lag)[max_lag:-max_lag], x[max_lag:-max_lag]) for lag in lags]
    return list(lags)[int(np.argmax(scores))]


@pytest.mark.parametrize("codec", CODECS)
def test_codec_is_lossy_aligned_and_same_length(codec, clip):
    out = Codec(codecs=[codec], min_bitrate_kbps=24, max_bitrate_kbps=24, p=1.0)(
        clip, np.random.default_rng(4)
    )
    assert out.shape == clip.shape
    assert np.isfinite(out).all()
    assert np.max(np.abs(out - clip)) > 1e-3  # lossy
    # AMR-NB (CELP) keeps the spectrum but not the waveform of this synthetic voice (measured r = 0.54-0.57).
    assert np.corrcoef(out, clip)[0, 1] > (0.4 if codec == "amr" else 0.5)
    assert np.corrcoef(frame_rms(out), frame_rms(clip))[0, 1] > 0.8  # loudness contour follows (AMR: 0.88)
    assert abs(best_lag(out, clip)) <= 2  # encoder delay removed


def test_codec_keeps_level_of_loud_input(clip):
    loud = 4.0 * clip / np.max(np.abs(clip))  # peaks at 4x full scale
    out = Codec(codecs=["mp3"], min_bitrate_kbps=64, max_bitrate_kbps=64, p=1.0)(
        loud, np.random.default_rng(0)
    )
    assert power_db(out) == pytest.approx(power_db(loud), abs=1.0)


# Reverb.


def decay_time_s(x: np.ndarray, burst_end: int, drop_db: float = 30.0) -> float:
    """Seconds after `burst_end` until the 10-ms frame energy falls `drop_db` below the burst's mean level."""
    frame = SR // 100
    frames = np.asarray(x[: x.shape[0] // frame * frame], dtype=np.float64).reshape(-1, frame)
    level_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    reference = np.mean(level_db[: burst_end // frame])
    after = np.nonzero(level_db[burst_end // frame :] < reference - drop_db)[0]
    return after[0] * frame / SR


def test_reverb_lengthens_the_decay_and_keeps_alignment():
    burst_end = SR // 4
    x = np.zeros(SR, dtype=np.float32)
    x[:burst_end] = white(0.25, seed=5)
    out = Reverb(min_rt60_s=0.6, max_rt60_s=0.6, min_drr_db=0, max_drr_db=0, p=1.0)(
        x, np.random.default_rng(0)
    )
    assert out.shape == x.shape
    assert decay_time_s(x, burst_end) < 0.02
    assert decay_time_s(out, burst_end) > 0.1
    assert best_lag(out, x) == 0  # the direct path stays at sample 0
    assert power_db(out) == pytest.approx(power_db(x), abs=0.1)


# RawBoost.


@pytest.mark.parametrize("algo", sorted(RAWBOOST_ALGOS))
def test_rawboost_algorithms_run_seeded_and_keep_length(algo, clip):
    transform = RawBoost(algo=algo, p=1.0)
    out = transform(clip, np.random.default_rng(0))
    assert out.shape == clip.shape and np.isfinite(out).all()
    np.testing.assert_array_equal(out, transform(clip, np.random.default_rng(0)))
    if algo == 0:
        np.testing.assert_array_equal(out, clip)
    else:
        assert not np.array_equal(out, clip)
        assert not np.array_equal(out, transform(clip, np.random.default_rng(1)))


def test_rawboost_ssi_adds_noise_within_its_snr_range(clip):
    transform = RawBoost(algo=3, p=1.0)
    measured = [
        power_db(clip) - power_db(transform(clip, np.random.default_rng(s)).astype(np.float64) - clip)
        for s in range(20)
    ]
    assert 10.0 - 0.05 <= min(measured) and max(measured) <= 40.0 + 0.05
    fixed = RawBoost(algo=3, min_snr_db=20, max_snr_db=20, p=1.0)(clip, np.random.default_rng(0))
    assert power_db(clip) - power_db(fixed.astype(np.float64) - clip) == pytest.approx(20.0, abs=0.05)


def test_rawboost_isd_touches_at_most_p_percent_of_samples(clip):
    out = RawBoost(algo=2, max_impulse_percent=5, p=1.0)(clip, np.random.default_rng(0))
    changed = np.mean(out != clip)
    assert 0 < changed <= 0.05


# Chain and config.


def test_chain_applies_each_step_with_its_probability():
    x = np.full(64, 0.1, dtype=np.float32)
    chain = Compose([Gain(min_gain_db=6, max_gain_db=6, p=0.3), Gain(min_gain_db=3, max_gain_db=3, p=0.7)])
    rng = np.random.default_rng(123)
    draws = 4000
    outcomes = np.array([round(power_db(chain(x, rng)) - power_db(x)) for _ in range(draws)])
    assert set(np.unique(outcomes)) <= {0, 3, 6, 9}
    tolerance = 4 * np.sqrt(0.25 / draws)  # four binomial standard deviations
    assert np.mean(np.isin(outcomes, [6, 9])) == pytest.approx(0.3, abs=tolerance)
    assert np.mean(np.isin(outcomes, [3, 9])) == pytest.approx(0.7, abs=tolerance)
    assert np.mean(outcomes == 9) == pytest.approx(0.21, abs=tolerance)
    gated = Compose([Gain(min_gain_db=6, max_gain_db=6, p=1.0)], p=0.25)
    gated_rate = np.mean([power_db(gated(x, rng)) > power_db(x) + 1 for _ in range(draws)])
    assert gated_rate == pytest.approx(0.25, abs=tolerance)


def test_build_augmentation_from_config(clip, bank):
    chain = build_augmentation(
        [
            {"name": "noise", "p": 0.5, "min_snr_db": 5, "max_snr_db": 30, "kind": ["white", "babble"]},
            {"name": "codec", "p": 0.3, "codecs": ["mp3", "opus", "aac", "gsm"]},
            {"name": "rawboost", "p": 0.5, "algo": 5},
        ],
        noise_bank=bank,
    )
    assert [type(t) for t in chain] == [AddNoise, Codec, RawBoost]
    assert [t.p for t in chain] == [0.5, 0.3, 0.5]
    assert chain.transforms[0].noise_bank is not None and len(chain.transforms[0].noise_bank) == len(bank)
    out = chain(clip, np.random.default_rng(0))
    assert out.shape == clip.shape
    assert len(build_augmentation([])) == 0 and len(build_augmentation(None)) == 0


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ([{"name": "nosie"}], r"unknown name 'nosie'; valid: .*codec.*noise.*rawboost"),
        ([{"name": "noise", "snr": 3}], r"unknown key\(s\) snr; valid: name, min_snr_db, max_snr_db"),
        (
            [{"name": "gain"}, {"name": "noise", "min_snr_db": 9, "max_snr_db": 1}],
            r"step 1 \('noise'\).*min_snr_db=9",
        ),
        ([{"p": 0.5}], "unknown name None"),
    ],
)
def test_build_augmentation_rejects_bad_configs(config, expected):
    with pytest.raises(AugmentationConfigError, match=expected) as info:
        build_augmentation(config)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ConfigError)
