"""evaluate on a base install (no plots extra), the confusion matrix in report.md, training-overlap warnings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.data.provenance import describe_data, training_overlap
from deepfake_audio.data.trial import Label, Trial
from deepfake_audio.models import build_model

SRC = Path(__file__).resolve().parents[1] / "src"

# Runs the CLI with matplotlib unimportable, as on an install without the `plots` extra.
WITHOUT_MATPLOTLIB = """
import sys

class NoMatplotlib:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoMatplotlib())
from deepfake_audio.cli import main
sys.argv = ["deepfake-audio", *sys.argv[1:]]
main()
"""


def test_evaluate_without_the_plots_extra_exits_0_with_every_report(labelled_folder, tmp_path):
    torch.manual_seed(0)
    model = save_checkpoint(build_model("seed-cnn"), tmp_path / "m.safetensors")
    out = tmp_path / "eval"
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", WITHOUT_MATPLOTLIB, "evaluate", str(labelled_folder),
                             "--model", str(model), "--out", str(out)],
                            check=False, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} == {"report.json", "report.md", "scores.txt"}
    notes = [line for line in result.stderr.splitlines() if "plots skipped" in line]
    assert len(notes) == 1 and "deepfake-audio[plots]" in notes[0]
    assert "Traceback" not in result.stderr
    report = json.loads((out / "report.json").read_text())
    markdown = (out / "report.md").read_text()
    cm = report["at_threshold"]["confusion_matrix"]
    assert "## Confusion matrix" in markdown
    assert (f"| bona fide | {cm['true_bonafide']['pred_bonafide']} | {cm['true_bonafide']['pred_spoof']} |"
            in markdown)
    assert f"| spoof | {cm['true_spoof']['pred_bonafide']} | {cm['true_spoof']['pred_spoof']} |" in markdown


def _trials(root: Path, names: list[str]) -> list[Trial]:
    return [Trial(n, root / "corpus" / "clips" / f"{n}.flac", Label.BONAFIDE, source="s") for n in names]


def test_overlap_is_counted_clip_by_clip_wherever_the_corpus_lies(tmp_path):
    trained = _trials(tmp_path / "a", ["c1", "c2", "c3", "c4"])
    extra = {"training_data": describe_data(trained, tmp_path / "a" / "manifest.csv")}
    assert extra["training_data"]["count"] == 4 and extra["training_data"]["manifest"] == "manifest.csv"
    elsewhere = _trials(tmp_path / "copy", ["c3", "c4", "new1", "new2"])  # the same clips unpacked elsewhere
    warning = training_overlap(elsewhere, tmp_path / "copy", extra)
    assert warning is not None and warning.startswith("2 of 4 evaluated clips (50%)")
    assert training_overlap(_trials(tmp_path / "b", ["x", "y"]), tmp_path / "b", extra) is None
    # Without per-clip keys (very large corpora), only an identical set of clips can be told.
    del extra["training_data"]["path_keys"]
    assert training_overlap(trained, tmp_path / "a", extra).startswith("4 of 4")
    assert training_overlap(elsewhere, tmp_path / "copy", extra) is None


def test_older_checkpoints_warn_when_evaluated_on_the_corpus_in_their_config(tmp_path):
    manifest = tmp_path / "dev" / "manifest.csv"
    extra = {"num_train": 1986, "train_config": {"data": {"root": str(manifest)}}}
    warning = training_overlap(_trials(tmp_path, ["a"]), manifest, extra)
    assert warning is not None and "1986 clips" in warning and str(manifest) in warning
    assert training_overlap(_trials(tmp_path, ["a"]), tmp_path / "dev" / "melgan", extra) is not None  # a part
    assert training_overlap(_trials(tmp_path, ["a"]), tmp_path / "other" / "x.csv", extra) is None
