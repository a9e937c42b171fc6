"""The detector's stages: files decoded ahead in threads give the same results, in the same order."""

from __future__ import annotations

import time

import pytest
import soundfile as sf
import torch
from conftest import synthetic_speechlike

from deepfake_audio.audio import load_audio
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.detector import Detector
from deepfake_audio.models import build_model
from deepfake_audio.pipeline.decode import opened_ahead
from deepfake_audio.pipeline.read_ahead import ReadAhead


def test_decoding_ahead_in_threads_changes_nothing_but_speed(tmp_path):
    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_model("flat-stats"), tmp_path / "m.safetensors", extra={"trim_silence": True})
    paths = []
    for i, seconds in enumerate([1.0, 0.5, 6.0, 2.0, 1.0, 3.0] * 4):
        paths.append(tmp_path / f"c{i}.flac")
        sf.write(paths[-1], synthetic_speechlike(seconds, seed=i), 22_050)
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    paths[5:5] = [tmp_path / "bad.wav", tmp_path / "missing.wav"]
    in_turn = [p.to_dict() for p in Detector.from_pretrained(checkpoint, device="cpu", decode_workers=0,
                                                             batch_size=4).detect_files(paths)]
    ahead = [p.to_dict() for p in Detector.from_pretrained(checkpoint, device="cpu", decode_workers=3,
                                                           batch_size=4).detect_files(paths)]
    assert ahead == in_turn
    assert [r["path"] for r in ahead] == [str(p) for p in paths]
    assert ahead[5]["error"] and ahead[6]["error"] and "missing.wav" in ahead[6]["error"]


def test_opened_ahead_keeps_order_and_raises_where_the_job_is_opened():
    def job(i):
        def open_audio():
            if i == 3:
                raise ValueError("three")
            return i
        return f"j{i}", open_audio

    seen = []
    for name, open_audio in opened_ahead((job(i) for i in range(10)), workers=2, ahead=3):
        try:
            seen.append((name, open_audio()))
        except ValueError as e:
            seen.append((name, str(e)))
    assert seen == [(f"j{i}", "three" if i == 3 else i) for i in range(10)]


def test_read_ahead_gives_every_block_in_order_and_the_streams_warnings():
    class Stream:
        def __init__(self):
            self.warnings: list[str] = []

        def __iter__(self):
            for i in range(7):
                yield torch.full((3,), float(i))
            self.warnings.append("cut short")

    ahead = ReadAhead(Stream(), depth=2)
    assert [int(b[0]) for b in ahead] == list(range(7))
    assert ahead.warnings == ["cut short"]


def test_read_ahead_raises_at_the_failing_block_and_stops_when_the_reader_does():
    produced = []

    def failing():
        for i in range(3):
            produced.append(i)
            yield torch.zeros(1)
        raise ValueError("corrupt block")

    seen = []
    with pytest.raises(ValueError, match="corrupt block"):
        for _block in ReadAhead(failing()):
            seen.append(_block.numel())
    assert seen == [1, 1, 1]  # every block before the failure, then the error itself

    produced.clear()

    def endless():
        i = 0
        while True:
            produced.append(i)
            i += 1
            yield torch.zeros(1)

    blocks = iter(ReadAhead(endless(), depth=2))
    next(blocks)
    blocks.close()  # the reader gives up: the thread must stop, not decode the whole stream
    count = len(produced)
    assert count <= 5
    time.sleep(0.2)
    assert len(produced) == count


def test_a_long_file_read_ahead_scores_as_decoding_in_turn(tmp_path):
    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_model("flat-stats"), tmp_path / "m.safetensors", extra={"trim_silence": True})
    path = tmp_path / "long.flac"
    sf.write(path, synthetic_speechlike(200.0, seed=3), 22_050)  # over TRIM_MAX_SECONDS: streamed
    detector = Detector.from_pretrained(checkpoint, device="cpu")
    (streamed,) = detector.detect_files([path])
    whole = load_audio(path)
    (in_memory,) = detector.score_waveforms([("long", whole)])
    assert len(streamed.windows) == len(in_memory.windows) > 40
    assert streamed.score == pytest.approx(in_memory.score, abs=1e-5)


def test_the_checkpoint_sets_the_window_hop_and_an_explicit_hop_overrides_it(tmp_path):
    model = build_model("flat-stats")
    plain = save_checkpoint(model, tmp_path / "plain.safetensors")
    own = save_checkpoint(model, tmp_path / "own.safetensors", extra={"window_hop": 1.0})
    window = model.num_samples
    assert Detector.from_pretrained(plain, device="cpu").hop == window // 2
    assert Detector.from_pretrained(own, device="cpu").hop == window
    assert Detector.from_pretrained(own, device="cpu", hop=0.25).hop == window // 4
    with pytest.raises(ValueError, match="hop"):
        save_checkpoint(model, tmp_path / "bad.safetensors", extra={"window_hop": 0.0})
        Detector.from_pretrained(tmp_path / "bad.safetensors", device="cpu")
