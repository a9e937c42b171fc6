"""The detector's stages: files decoded ahead in threads give the same results, in the same order."""

from __future__ import annotations

import soundfile as sf
import torch
from conftest import synthetic_speechlike

from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.detector import Detector
from deepfake_audio.models import build_model
from deepfake_audio.pipeline.decode import opened_ahead


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
