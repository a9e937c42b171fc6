"""synth without --generators: the default generators usable on this install, the others named as skipped."""

from __future__ import annotations

import soundfile as sf
from conftest import synthetic_speechlike
from typer.testing import CliRunner

from deepfake_audio.cli import app
from deepfake_audio.synth import DEFAULT_GENERATORS, GENERATORS, default_generators


def test_defaults_skip_a_generator_that_cannot_run_here(tmp_path, monkeypatch):
    # As on a base install, where pyworld (the `synth` extra) is missing.
    monkeypatch.setattr(GENERATORS["world"], "unavailable_reason",
                        classmethod(lambda cls: "pyworld-prebuilt not installed: pip install 'deepfake-audio[synth]'"))
    usable, skipped = default_generators()
    assert usable == [n for n in DEFAULT_GENERATORS if n != "world"] and set(skipped) == {"world"}
    inputs = tmp_path / "real"
    inputs.mkdir()
    sf.write(inputs / "a.wav", synthetic_speechlike(0.6), 16_000)
    result = CliRunner().invoke(app, ["synth", "--inputs", str(inputs), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "skipped generator world: pyworld-prebuilt not installed" in result.output
    assert f"{len(usable)} clips made" in result.stdout
    rows = (tmp_path / "out" / "manifest.csv").read_text().splitlines()[1:]
    assert sorted(r.split("/")[0] for r in rows) == sorted(usable)
