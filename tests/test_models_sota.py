"""Published detector architectures: shapes, gradients, determinism, reference sizes, weight round trip."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file

from deepfake_audio.errors import ConfigError
from deepfake_audio.models import available_models, build_model, count_parameters
from deepfake_audio.models.blocks.graph import GraphAttention, GraphPool, HeteroGraphAttention
from deepfake_audio.models.blocks.sinc import SincFilterbank, mel_band_edges
from deepfake_audio.models.blocks.specaugment import SpecAugment
from deepfake_audio.models.flat_stats import temporal_log_flatness

SOTA_MODELS = [
    "lfcc-lcnn", "rawnet2", "aasist", "aasist-l", "specrnet", "spectro-transformer", "lfs-resnet", "flat-stats",
]
# Models whose reference code builds a pre-activation BN (`bn1`) it never uses; see `pre_activation`.
PRE_ACTIVATION_MODELS = ["rawnet2", "aasist", "aasist-l", "specrnet"]

# Parameter counts of the reference configurations. AASIST/AASIST-L as published by the authors;
# the others are the reference single-output (or 1-class) counts plus one extra output unit for the
# second logit: SpecRNet 277,963 + 129, LFCC-LCNN 269,729 + 97 (96 weights + bias); RawNet2 already
# has two outputs (ASVspoof 2021 baseline config).
REFERENCE_PARAMETERS = {
    "aasist": 297_866,
    "aasist-l": 85_306,
    "specrnet": 277_963 + 129,
    "lfcc-lcnn": 269_729 + 97,
    "rawnet2": 17_621_410,
}


# Short windows keep the tests fast; SpecRNet needs >= 64 frames (6 halvings of the time axis).
TINY_SECONDS = {"specrnet": 1.0}


def tiny(name: str, **kwargs: object) -> torch.nn.Module:
    """The model with a short window (0.5 s; 1 s for SpecRNet) unless `duration` is given."""
    torch.manual_seed(0)
    return build_model(name, **{"duration": TINY_SECONDS.get(name, 0.5), **kwargs})


def waveforms(model: torch.nn.Module, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """Seeded noise clips of exactly one model window."""
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, model.num_samples, generator=generator)


def test_all_models_registered() -> None:
    assert set(SOTA_MODELS) <= set(available_models())


@pytest.mark.parametrize("name", SOTA_MODELS)
def test_output_shape_in_both_modes(name: str) -> None:
    model = tiny(name)
    x = waveforms(model, batch=3)
    for train in (True, False):
        model.train(train)
        with torch.no_grad():
            logits = model(x)
        assert logits.shape == (3, 2)
        assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", SOTA_MODELS)
def test_default_window_gives_two_logits(name: str) -> None:
    model = build_model(name).eval()
    with torch.no_grad():
        logits = model(waveforms(model, batch=1))
    assert logits.shape == (1, 2)


@pytest.mark.parametrize("name", SOTA_MODELS)
def test_gradients_reach_input_and_first_layer(name: str) -> None:
    model = tiny(name).train()
    x = waveforms(model).requires_grad_(True)
    model(x)[:, 1].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    first_name, first = next(iter(model.named_parameters()))
    assert first.grad is not None and first.grad.abs().sum() > 0, first_name
    # Every parameter learns, except the pre-activation BNs the reference code leaves unused.
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert all(n.split(".")[-2] == "bn1" for n in no_grad), no_grad
    assert bool(no_grad) == (name in PRE_ACTIVATION_MODELS)


@pytest.mark.parametrize("name", PRE_ACTIVATION_MODELS)
def test_pre_activation_uses_every_parameter(name: str) -> None:
    model = tiny(name, pre_activation=True).train()
    plain = tiny(name).eval()
    model(waveforms(model)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert count_parameters(model) == count_parameters(plain)


@pytest.mark.parametrize("name", SOTA_MODELS)
def test_eval_is_deterministic(name: str) -> None:
    model = tiny(name).eval()
    x = waveforms(model)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMETERS))
def test_reference_parameter_counts(name: str) -> None:
    assert count_parameters(build_model(name)) == REFERENCE_PARAMETERS[name]


def test_reference_window_lengths() -> None:
    # The AASIST, RawNet2 and SpecRNet references crop to 64,600 samples (404 LFCC frames).
    for name in ("aasist", "aasist-l", "rawnet2", "specrnet"):
        assert build_model(name).num_samples == 64_600


def test_spectro_transformer_is_small() -> None:
    assert count_parameters(build_model("spectro-transformer")) < 1_000_000


@pytest.mark.parametrize("name", SOTA_MODELS)
def test_safetensors_round_trip(name: str, tmp_path: Path) -> None:
    model = tiny(name).train()
    with torch.no_grad():
        model(waveforms(model, seed=1))  # move BN running statistics away from their initial values
    model.eval()
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous().clone() for k, v in model.state_dict().items()}, str(path))

    torch.manual_seed(123)  # a differently initialised twin
    fresh = build_model(name, duration=model.config.duration).eval()
    x = waveforms(model, seed=2)
    with torch.no_grad():
        assert not torch.allclose(fresh(x), model(x))
        fresh.load_state_dict(load_file(str(path)), strict=True)
        assert torch.equal(fresh(x), model(x))


def test_specrnet_rejects_coefficients_that_do_not_pool_to_one_row() -> None:
    with pytest.raises(ConfigError, match="n_lfcc"):
        build_model("specrnet", n_lfcc=40)


def test_sinc_filters_pass_their_own_band() -> None:
    bank = SincFilterbank(num_filters=20, kernel_size=1024)
    assert bank.kernel_size == 1025  # even sizes become odd: symmetric, linear-phase filters
    assert torch.equal(bank.filters[:, 0], bank.filters[:, 0].flip(-1))
    n_fft = 8192
    response = torch.fft.rfft(bank.filters[:, 0].double(), n=n_fft).abs()  # (20, bins)
    peak_hz = response.argmax(dim=1) * 16_000 / n_fft
    edges = mel_band_edges(20, 16_000)
    assert torch.all(peak_hz >= edges[:-1]) and torch.all(peak_hz <= edges[1:])
    assert "filters" not in bank.state_dict()  # rebuilt from the config, never stored


def test_graph_attention_is_permutation_equivariant() -> None:
    torch.manual_seed(0)
    layer = GraphAttention(8, 6, temperature=2.0).eval()
    x = torch.randn(2, 5, 8)
    order = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        assert torch.allclose(layer(x)[:, order], layer(x[:, order]), atol=1e-6)


def test_hetero_graph_attention_and_pool_shapes() -> None:
    torch.manual_seed(0)
    layer = HeteroGraphAttention(8, 4).eval()
    a, b, master = layer(torch.randn(2, 5, 8), torch.randn(2, 3, 8), torch.randn(1, 1, 8))
    assert a.shape == (2, 5, 4) and b.shape == (2, 3, 4) and master.shape == (2, 1, 4)
    pooled = GraphPool(0.5, 4).eval()(a)
    assert pooled.shape == (2, 2, 4)  # int(5 * 0.5) nodes kept
    assert GraphPool(0.1, 4).eval()(a).shape == (2, 1, 4)  # never fewer than one


def test_spec_augment_masks_only_in_training() -> None:
    torch.manual_seed(0)
    augment = SpecAugment(freq_masks=2, freq_width=8, time_masks=2, time_width=20)
    x = torch.randn(4, 64, 100) + 5.0  # no zeros before masking
    assert augment.eval()(x) is x
    masked = augment.train()(x)
    assert (masked == 0).any()
    assert torch.equal(masked[masked != 0], x[masked != 0])


@pytest.mark.parametrize("options", [{}, {"flatness_change": True}, {"level_flatness": True}])
def test_flat_stats_ignores_gain_and_leading_silence(options: dict) -> None:
    model = tiny("flat-stats", **options).eval()
    speech = waveforms(model, batch=1)
    half = model.num_samples // 2
    padded = torch.cat([torch.zeros(1, half), speech[:, :half]], dim=1)  # silence, then speech
    with torch.no_grad():
        torch.testing.assert_close(model(0.05 * speech), model(speech), atol=1e-4, rtol=0)
        # Frames far below the loudest are left out of the statistics, so silence padding changes little.
        assert (model(padded) - model(speech[:, :half].repeat(1, 2))).abs().max() < 0.05


def test_temporal_log_flatness_reads_only_masked_frames() -> None:
    # Band 0 is steady over the masked frames (flatness 1, log 0); band 1 alternates 1 and 4
    # (geometric mean 2, arithmetic 2.5). The unmasked last frame would change both if it were read.
    power = torch.tensor([[[1.0, 1.0, 1.0, 1.0, 100.0], [1.0, 4.0, 1.0, 4.0, 100.0]]])
    mask = torch.tensor([[True, True, True, True, False]])
    expected = torch.tensor([[0.0, math.log(2.0 / 2.5)]])
    torch.testing.assert_close(temporal_log_flatness(power.log(), mask), expected)


def test_lfs_tcn_flatness_features() -> None:
    model = tiny("lfs-tcn", features="flatness", freq_bands=32, utterance_norm=False)
    assert model(waveforms(model)).shape == (2, 2)
    with pytest.raises(ConfigError, match="features"):
        build_model("lfs-tcn", features="cqt")


def test_flat_stats_members_train_apart_and_average_in_eval() -> None:
    model = tiny("flat-stats", members=3)
    x = waveforms(model, batch=4)
    per_member = model.train()(x)
    assert per_member.shape == (4, 2, 3)
    assert not torch.allclose(per_member[..., 0], per_member[..., 1])  # members start from different weights
    model.eval()
    with torch.no_grad():
        members = torch.stack([m(model.statistics(x)) for m in (model.classifier, *model.more_members)], -1)
        torch.testing.assert_close(model(x), members.mean(dim=-1))
    with pytest.raises(ValueError, match="members"):
        build_model("flat-stats", members=0)


def test_flat_stats_max_frequency_keeps_statistics_below_a_codec_lowpass() -> None:
    full, below_7k = tiny("flat-stats", flatness_change=True), tiny("flat-stats", flatness_change=True,
                                                                    max_frequency_hz=7000)
    x = waveforms(full, batch=1)
    spectrum = torch.fft.rfft(x)
    spectrum[..., int(7300 / 8000 * (spectrum.shape[-1] - 1)):] = 0  # a codec's low-pass at 7.3 kHz
    lowpassed = torch.fft.irfft(spectrum, n=x.shape[-1])
    with torch.no_grad():
        full_stats, full_lowpassed = full.statistics(x), full.statistics(lowpassed)
        kept, kept_lowpassed = below_7k.statistics(x), below_7k.statistics(lowpassed)
    assert kept.shape == (1, 3 * 28)  # 28 bands of 250 Hz lie below 7 kHz
    torch.testing.assert_close(kept[:, :28], full_stats[:, :28])  # the same means of the same bands
    assert (full_lowpassed - full_stats).abs().max() > 1.0  # the top bands move a lot
    assert (kept_lowpassed - kept).abs().max() < 0.1  # the bands kept barely move
    with pytest.raises(ValueError, match="max_frequency_hz"):
        build_model("flat-stats", max_frequency_hz=100)


def _mp3_round_trip(x: torch.Tensor) -> torch.Tensor:
    buffer = io.BytesIO()
    sf.write(buffer, x[0].numpy(), 16_000, format="MP3")
    buffer.seek(0)
    decoded = torch.from_numpy(sf.read(buffer, dtype="float32")[0])[None]
    return decoded[:, : x.shape[1]]


def _telephone_band(x: torch.Tensor) -> torch.Tensor:
    lowpass = scipy.signal.ellip(10, 0.1, 80, 3400, fs=16_000, output="sos")  # steep, 80 dB stop band
    return torch.from_numpy(scipy.signal.sosfilt(lowpass, x.numpy()).astype(np.float32))


def test_flat_stats_band_masking_finds_the_bandwidth_and_ignores_what_lies_above() -> None:
    model = tiny("flat-stats", duration=1.0, flatness_change=True, mask_absent_bands=True).eval()
    x = waveforms(model, batch=1)
    mp3 = _mp3_round_trip(x)
    with torch.no_grad():
        assert model._analyse(x)[1].all()
        present = model._analyse(mp3)[1][0]
        assert present[:28].all() and not present[30:].any()  # the encoder low-passes near 7.5 kHz
        assert 13 <= model._analyse(_telephone_band(x))[1][0].sum() <= 15  # 3.25-3.75 kHz and below
        # Whatever lies above the bandwidth (here noise 110 dB down) does not change the verdict.
        spectrum = torch.fft.rfft(torch.flip(x, [1]))
        spectrum[..., : int(present.sum()) * 250 * spectrum.shape[-1] // 8000 + 8] = 0
        faint = mp3 + 3e-7 * torch.fft.irfft(spectrum, n=x.shape[-1])
        torch.testing.assert_close(model(faint), model(mp3), atol=1e-5, rtol=0)
        assert (model(mp3) - model(x)).abs().max() > 0  # below the cut, it still reads the audio


def test_flat_stats_band_cuts_in_training_only() -> None:
    model = tiny("flat-stats", mask_absent_bands=True, band_cut_p=1.0, min_band_cut=14)
    x = waveforms(model, batch=8)
    torch.manual_seed(0)
    present = model.train()._analyse(x)[1]
    counts = present.sum(dim=1)
    assert ((counts >= 14) & (counts < 32)).all() and len(set(counts.tolist())) > 1
    assert (present.int().diff(dim=1) <= 0).all()  # each mask keeps a run of bands from the bottom
    assert model.eval()._analyse(x)[1].all()
    assert model.train()(x).shape == (8, 2)


def test_flat_stats_band_limited_head_judges_only_band_limited_recordings() -> None:
    model = tiny("flat-stats", duration=1.0, flatness_change=True, band_limited_head=True, band_cut_p=1.0)
    x = waveforms(model, batch=1)
    mp3 = _mp3_round_trip(x)
    assert model.train()(waveforms(model, batch=2)).shape == (2, 2, 2)  # both classifiers learn from every clip
    model.eval()
    with torch.no_grad():
        for clip, judge in ((x, model.classifier), (mp3, model.band_limited)):
            features, present = model._analyse(clip)
            masked = present if judge is model.band_limited else None
            torch.testing.assert_close(model(clip), model._classify(judge, features, masked))
    with pytest.raises(ValueError, match="full_band_hz"):
        build_model("flat-stats", band_limited_head=True, full_band_hz=9000)
