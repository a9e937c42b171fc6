"""Short clips: a model that accepts variable length scores a short clip as it is (no tiling), and a
zero-padded batch of clips of different lengths scores each exactly as that clip alone."""

from __future__ import annotations

import soundfile as sf
import torch
from conftest import synthetic_speechlike

from deepfake_audio.audio import load_audio, pad_or_trim
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.detector import Detector
from deepfake_audio.models import build_model
from deepfake_audio.windows import windows_of

# Every option that changes which frames or bands the statistics see.
ALL_OPTIONS = {"flatness_change": True, "level_flatness": True, "band_limited_head": True, "mask_absent_bands": True}
LENGTHS = [400, 7_999, 16_000, 16_130, 20_000, 47_000]  # samples: from under one STFT frame to nearly the window


def _clips() -> list[torch.Tensor]:
    clips = [torch.from_numpy(synthetic_speechlike(n / 16_000, seed=i)) for i, n in enumerate(LENGTHS)]
    clips[2] = clips[2].clone()
    clips[2][:4000] = 0.0  # digital silence at the start: all-quiet frames must not change the statistics
    lowpassed = torch.fft.irfft(torch.fft.rfft(clips[3]) * (torch.arange(clips[3].numel() // 2 + 1) < 3_600),
                                n=clips[3].numel())
    clips[3] = lowpassed.float()  # band-limited: the bandwidth finder must see the same frames too
    return clips


def _model(**options):
    torch.manual_seed(0)
    return build_model("flat-stats", **options).eval()


def test_zero_padded_batch_with_lengths_scores_each_clip_as_alone():
    for options in ({}, ALL_OPTIONS):
        model = _model(**options)
        assert model.accepts_variable_length
        clips = _clips()
        with torch.inference_mode():
            alone = torch.cat([model.score(clip[None]) for clip in clips])
            padded = torch.zeros(len(clips), model.num_samples)
            for row, clip in enumerate(clips):
                padded[row, : clip.numel()] = clip
            together = model.score(padded, torch.tensor([c.numel() for c in clips]))
            full = torch.stack([pad_or_trim(c, model.num_samples) for c in clips])
            # Full-length rows with their full length are scored as without lengths.
            assert torch.allclose(model.score(full, torch.full((len(clips),), model.num_samples)), model.score(full),
                                  atol=1e-5)
        assert torch.allclose(together, alone, atol=1e-4), (together - alone).abs().max()


def test_models_without_variable_length_refuse_lengths():
    model = build_model("seed-cnn").eval()
    assert not model.accepts_variable_length
    try:
        model.score(torch.zeros(1, model.num_samples), torch.tensor([100]))
    except ValueError as e:
        assert "lengths" in str(e)
    else:
        raise AssertionError("lengths were accepted by a fixed-window model")


def test_detector_scores_short_clip_untiled_for_flat_stats_and_tiled_otherwise(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, synthetic_speechlike(1.0, seed=3), 16_000)
    clip = load_audio(path)
    flat = _model(**ALL_OPTIONS)
    seed = build_model("seed-cnn", duration=2.0).eval()
    for model, tiled in ((flat, False), (seed, True)):
        checkpoint = save_checkpoint(model, tmp_path / f"{model.name}.safetensors")
        prediction = Detector.from_pretrained(checkpoint, device="cpu")(path)
        given = pad_or_trim(clip, model.num_samples) if tiled else clip
        with torch.inference_mode():
            expected = model.score(given[None]).item()
        assert len(prediction.windows) == 1 and abs(prediction.score - expected) < 1e-4
        assert prediction.windows[0].end == 1.0  # the clip's true end, tiled or not


def test_mixed_lengths_batched_across_files_equal_one_at_a_time(tmp_path):
    checkpoint = save_checkpoint(_model(**ALL_OPTIONS), tmp_path / "m.safetensors")
    paths = []
    for i, seconds in enumerate([0.7, 1.3, 6.0, 2.2, 0.3, 3.9, 1.25, 9.0]):
        paths.append(tmp_path / f"c{i}.wav")
        sf.write(paths[-1], synthetic_speechlike(seconds, seed=i), 16_000)
    batched = list(Detector.from_pretrained(checkpoint, device="cpu", batch_size=64).detect_files(paths))
    single = [Detector.from_pretrained(checkpoint, device="cpu", batch_size=1)(p) for p in paths]
    assert [p.path for p in batched] == [str(p) for p in paths]
    for a, b in zip(batched, single):
        assert abs(a.score - b.score) < 1e-4 and len(a.windows) == len(b.windows)
        assert all(abs(x.score - y.score) < 1e-4 for x, y in zip(a.windows, b.windows))


def test_untiled_short_window_keeps_the_tiled_windows_warning_measures():
    clip = torch.from_numpy(synthetic_speechlike(1.1, seed=5))
    (tiled,) = windows_of(clip, 64_000, 32_000)
    (untiled,) = windows_of(clip, 64_000, 32_000, tile_short=False)
    assert tiled.samples.numel() == 64_000 and torch.equal(untiled.samples, clip)
    assert (tiled.start, tiled.end, tiled.silent) == (untiled.start, untiled.end, untiled.silent)
    assert tiled.high_band_db == untiled.high_band_db
    assert tiled.speech_over_floor_db == untiled.speech_over_floor_db
