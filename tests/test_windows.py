"""Sliding windows: coverage, tail handling, short clips, streaming equals in-memory."""

from __future__ import annotations

import pytest
import torch

from deepfake_audio.windows import (
    aggregate_scores,
    high_band_level_db,
    iter_windows,
    speech_over_floor_db,
    tile_to_length,
    windows_of,
)


def test_short_clip_is_tiled_and_keeps_true_end():
    wave = torch.arange(1, 301, dtype=torch.float32)
    (window,) = windows_of(wave, 1000, 500)
    assert window.start == 0 and window.end == 300
    assert window.samples.numel() == 1000
    assert torch.equal(window.samples[300:600], wave)


def test_exact_window_gives_one_window():
    wave = torch.randn(1000)
    windows = windows_of(wave, 1000, 500)
    assert [(w.start, w.end) for w in windows] == [(0, 1000)]


def test_long_audio_covers_tail_with_end_aligned_window():
    wave = torch.randn(2300)
    windows = windows_of(wave, 1000, 500)
    assert [(w.start, w.end) for w in windows] == [(0, 1000), (500, 1500), (1000, 2000), (1300, 2300)]
    assert torch.equal(windows[-1].samples, wave[1300:])


def test_streamed_blocks_give_the_same_windows():
    wave = torch.randn(10_000)
    whole = windows_of(wave, 1000, 300)
    streamed = list(iter_windows(list(wave.split(777)), 1000, 300))
    assert [(w.start, w.end) for w in whole] == [(w.start, w.end) for w in streamed]
    for a, b in zip(whole, streamed):
        assert torch.equal(a.samples, b.samples)


def test_silent_windows_are_flagged_and_ignored_in_aggregate():
    wave = torch.cat([torch.zeros(1000), 0.3 * torch.randn(1000)])
    windows = windows_of(wave, 1000, 1000)
    assert [w.silent for w in windows] == [True, False]
    scores = torch.tensor([-9.0, 2.0])
    silent = torch.tensor([w.silent for w in windows])
    assert aggregate_scores(scores, silent, "mean") == 2.0
    assert aggregate_scores(scores, torch.tensor([True, True]), "mean") == -3.5
    assert aggregate_scores(torch.tensor([1.0, -2.0, 3.0]), torch.tensor([False] * 3), "min") == -2.0


def test_empty_audio_tiles_to_zeros():
    assert torch.equal(tile_to_length(torch.zeros(0), 5), torch.zeros(5))


def test_high_band_level_separates_full_band_from_telephone_band():
    t = torch.arange(16_000) / 16_000
    low = torch.sin(2 * torch.pi * 300 * t)
    full = low + 0.1 * torch.sin(2 * torch.pi * 6_000 * t)  # -20 dB above 4 kHz
    assert high_band_level_db(full) == pytest.approx(-20.0, abs=0.1)
    assert high_band_level_db(low) < -60
    assert high_band_level_db(torch.zeros(16_000)) == float("-inf")
    assert windows_of(full, 8_000, 4_000)[0].high_band_db == pytest.approx(-20.0, abs=0.5)


def test_speech_over_floor_reads_the_gap_between_loud_and_quiet_frames():
    # Half the 25 ms frames at amplitude 1, half at 0.01: 40 dB between them.
    frames = torch.ones(40, 400)
    frames[1::2] *= 0.01
    assert speech_over_floor_db(frames.flatten()) == pytest.approx(40.0, abs=0.01)
    assert speech_over_floor_db(torch.ones(100)) == float("inf")  # under two frames: no estimate
    assert windows_of(frames.flatten(), 8_000, 4_000)[0].speech_over_floor_db == pytest.approx(40.0, abs=0.01)
