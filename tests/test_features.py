"""Feature front-ends: librosa parity for MFCC, shapes, LFCC deltas, pooling, dtype/device, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import synthetic_speechlike

from deepfake_audio.features import (
    FRONTENDS,
    LFCC,
    MFCC,
    BandFlatness,
    LinearSpectrogram,
    LogMel,
    build_frontend,
    mel_filterbank,
)

librosa = pytest.importorskip("librosa", reason="librosa is the test-only reference for MFCC parity")


def _clips() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(16_000) / 16_000
    return {
        "speechlike": synthetic_speechlike(1.0, seed=1),
        "speechlike_2": synthetic_speechlike(1.0, seed=2),
        "loud_clipped": np.clip(4 * synthetic_speechlike(1.0, seed=3), -1, 1),
        "white_noise": rng.uniform(-1, 1, 16_000),
        "tone_440": 0.9 * np.sin(2 * np.pi * 440 * t),
        "quiet": 1e-5 * synthetic_speechlike(1.0, seed=4),
        "silence_ish": 1e-7 * rng.standard_normal(16_000),
        "digital_silence": np.zeros(16_000),
    }


CLIPS = {name: clip.astype(np.float32) for name, clip in _clips().items()}


def librosa_mfcc(clip: np.ndarray) -> np.ndarray:
    return librosa.feature.mfcc(y=clip, sr=16_000, n_mfcc=20, n_fft=512, hop_length=160)


@pytest.mark.parametrize("name", list(CLIPS))
def test_mfcc_matches_librosa(name: str) -> None:
    clip = CLIPS[name]
    ours = MFCC()(torch.from_numpy(clip)[None])[0].numpy()
    reference = librosa_mfcc(clip)
    assert ours.shape == reference.shape == (20, 101)
    assert np.abs(ours - reference).max() <= 1e-3


def test_mfcc_batch_equals_single_clips() -> None:
    """top_db is applied per clip, so a quiet clip batched with loud ones is unchanged."""
    names = ["loud_clipped", "quiet", "speechlike", "silence_ish"]
    mfcc = MFCC()
    batch = mfcc(torch.from_numpy(np.stack([CLIPS[n] for n in names])))
    for i, name in enumerate(names):
        torch.testing.assert_close(batch[i], mfcc(torch.from_numpy(CLIPS[name])[None])[0], atol=1e-4, rtol=0)
        assert np.abs(batch[i].numpy() - librosa_mfcc(CLIPS[name])).max() <= 1e-3


def test_mel_filterbank_matches_librosa() -> None:
    for kwargs in ({"n_mels": 128}, {"n_mels": 40, "fmin": 50.0, "fmax": 7000.0}):
        reference = librosa.filters.mel(sr=16_000, n_fft=512, **kwargs)
        ours = mel_filterbank(16_000, 512, kwargs["n_mels"], kwargs.get("fmin", 0.0), kwargs.get("fmax"))
        np.testing.assert_allclose(ours, reference, atol=1e-7)


def test_logmel_matches_librosa() -> None:
    clip = CLIPS["speechlike"]
    mel = librosa.feature.melspectrogram(y=clip, sr=16_000, n_fft=512, hop_length=160, n_mels=80)
    reference = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)
    ours = LogMel(n_mels=80)(torch.from_numpy(clip)[None])[0].numpy()
    assert np.abs(ours - reference).max() <= 1e-3


def test_output_shapes_and_frame_counts() -> None:
    waveform = torch.from_numpy(np.stack([CLIPS["speechlike"], CLIPS["white_noise"]]))
    expected = {
        "mfcc": (20, {}),
        "logmel": (80, {}),
        "lfcc": (60, {}),
        "linear_spectrogram": (257, {}),
    }
    for name, (features, kwargs) in expected.items():
        frontend = build_frontend(name, **kwargs)
        assert frontend(waveform).shape == (2, features, 101), name
        assert frontend.num_features == features and frontend.num_frames(16_000) == 101
    assert LFCC(with_deltas=False)(waveform).shape == (2, 20, 101)
    assert MFCC(n_mfcc=13)(waveform[:, :4000]).shape == (2, 13, 26)


def test_lfcc_deltas_are_frame_differences() -> None:
    out = LFCC()(torch.from_numpy(CLIPS["speechlike"])[None])[0].double().numpy()
    static, delta, delta2 = out[:20], out[20:40], out[40:]
    np.testing.assert_allclose(
        static, LFCC(with_deltas=False)(torch.from_numpy(CLIPS["speechlike"])[None])[0]
    )
    for base, diff in ((static, delta), (delta, delta2)):
        edged = np.pad(base, ((0, 0), (1, 1)), mode="edge")
        np.testing.assert_allclose(diff, edged[:, 2:] - edged[:, :-2], atol=1e-5)
    assert np.abs(delta).max() > 0.1  # the clip is not stationary


def test_lfcc_static_matches_a_numpy_reference() -> None:
    """Independent numpy/scipy LFCC: pre-emphasis, Hamming, power, linear triangles, log10, DCT, energy."""
    import scipy.fft  # a librosa dependency
    import scipy.signal

    clip = CLIPS["speechlike_2"].astype(np.float64)
    emphasised = np.concatenate([clip[:1], clip[1:] - 0.97 * clip[:-1]])
    padded = np.pad(emphasised, 256)
    window = np.zeros(512)
    window[96:416] = scipy.signal.get_window("hamming", 320, fftbins=True)
    frames = np.stack([padded[i * 160 : i * 160 + 512] * window for i in range(101)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (frames, 257)
    freqs = np.linspace(0, 8000, 257)
    edges = np.linspace(0, 8000, 22)
    fbank = np.stack([np.interp(freqs, edges[i : i + 3], [0, 1, 0]) for i in range(20)])
    eps = np.finfo(np.float32).eps
    reference = scipy.fft.dct(np.log10(power @ fbank.T + eps), type=2, norm="ortho", axis=1).T
    reference[0] = np.log10(power.sum(axis=1) / 512 + eps)
    ours = LFCC(with_deltas=False)(torch.from_numpy(CLIPS["speechlike_2"])[None])[0].numpy()
    np.testing.assert_allclose(ours, reference, atol=2e-4, rtol=0)


def test_linear_spectrogram_pooling() -> None:
    waveform = torch.from_numpy(CLIPS["white_noise"])[None]
    full = LinearSpectrogram()(waveform)
    pooled = LinearSpectrogram(freq_bins=60)(waveform)
    assert full.shape == (1, 257, 101) and pooled.shape == (1, 60, 101)
    power = 10 ** (full.double() / 10)
    expected = 10 * torch.log10(F.adaptive_avg_pool1d(power.transpose(1, 2), 60).transpose(1, 2))
    torch.testing.assert_close(pooled.double(), expected, atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="freq_bins"):
        LinearSpectrogram(freq_bins=300)


@pytest.mark.parametrize("name", sorted(FRONTENDS))
def test_dtype_device_buffers_and_gradients(name: str) -> None:
    frontend = build_frontend(name)
    assert frontend.state_dict() == {}  # filterbanks/windows are rebuilt, never checkpointed
    clip = torch.from_numpy(np.stack([CLIPS["speechlike"], CLIPS["tone_440"]]))
    out64 = frontend(clip.double())
    out32 = frontend(clip)
    assert out64.dtype == torch.float64 and out32.dtype == torch.float32
    # float32 FFT rounding sets a noise floor ~100 dB under the peak; compare above it
    audible = out64 > out64.amax(dim=(-2, -1), keepdim=True) - 60
    torch.testing.assert_close(out32.double()[audible], out64[audible], atol=1e-2, rtol=1e-3)
    waveform = clip.clone().requires_grad_()
    frontend(waveform).sum().backward()
    assert waveform.grad is not None and torch.isfinite(waveform.grad).all() and waveform.grad.abs().sum() > 0
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        moved = frontend.to(device)
        assert moved(clip.to(device)).device.type == device


def test_build_frontend_passes_options_and_rejects_unknown_names() -> None:
    assert build_frontend("mfcc", n_mfcc=13).num_features == 13
    with pytest.raises(ValueError) as excinfo:
        build_frontend("cqcc")
    for name in FRONTENDS:
        assert name in str(excinfo.value)


def test_band_flatness_ignores_gain_and_tells_noise_from_harmonics() -> None:
    frontend = BandFlatness(bands=16)
    speech = torch.from_numpy(CLIPS["speechlike"])[None].double()
    torch.testing.assert_close(frontend(0.01 * speech), frontend(speech), atol=1e-4, rtol=0)
    t = torch.arange(16_000, dtype=torch.float64) / 16_000
    harmonics = sum(torch.sin(2 * torch.pi * 125 * k * t) for k in range(1, 64))[None]  # up to 7.9 kHz
    noise = torch.from_numpy(CLIPS["white_noise"]).double()[None]
    flat_noise = frontend(noise)[..., 5:-5].mean(dim=-1)
    flat_harmonics = frontend(harmonics)[..., 5:-5].mean(dim=-1)
    assert (flat_noise > -1.0).all() and (flat_noise <= 0).all()  # noise: geometric ~ arithmetic mean
    assert (flat_harmonics < flat_noise - 0.5).all()  # harmonic lines: far less flat, in every band
    assert torch.isfinite(frontend(torch.zeros(1, 16_000, dtype=torch.float64))).all()
    with pytest.raises(ValueError, match="bands"):
        BandFlatness(bands=257)


def test_band_flatness_floor_hides_detail_below_it_and_a_deeper_floor_shows_it() -> None:
    t = torch.arange(16_000, dtype=torch.float64) / 16_000
    loud = torch.sin(2 * torch.pi * 300 * t)  # band 0 of 16 (0-500 Hz)
    # Harmonic lines 100 dB below the loud tone, in the top band only (7.5-8 kHz).
    faint = 1e-5 * sum(torch.sin(2 * torch.pi * f * t) for f in (7_600, 7_700, 7_800, 7_900))
    clip = (loud + faint)[None]
    floored = BandFlatness(bands=16, floor_db=-80.0)(clip)[0, -1, 5:-5].mean()
    deep = BandFlatness(bands=16, floor_db=-140.0)
    assert floored > -0.05  # the floor swamps the faint lines: the band reads as flat
    assert deep(clip)[0, -1, 5:-5].mean() < -1.0  # under a deeper floor the faint harmonic lines are seen
    torch.testing.assert_close(deep(0.01 * clip), deep(clip), atol=1e-4, rtol=0)
    assert torch.isfinite(deep(torch.zeros(1, 16_000, dtype=torch.float64))).all()
    with pytest.raises(ValueError, match="floor_db"):
        BandFlatness(floor_db=10.0)
