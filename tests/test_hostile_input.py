"""Hostile and careless inputs (tests/hostile_corpus.py, 50 kinds): each gets its expected outcome, in
one batch that never dies, through the library and through `detect --json` (strict JSON)."""

from __future__ import annotations

import json

import pytest
import torch
from hostile_corpus import KINDS, Kind, build
from typer.testing import CliRunner

from deepfake_audio import Detector
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.cli import app
from deepfake_audio.detector import Prediction
from deepfake_audio.input_limits import SERVER_DECODE_BUDGET
from deepfake_audio.models import build_model

BUDGET_SECONDS = SERVER_DECODE_BUDGET.max_seconds  # the hour-long FLAC must be refused, not decoded


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(build_model("seed-cnn"), tmp_path_factory.mktemp("model") / "m.safetensors")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def results(model_path, corpus):
    detector = Detector.from_pretrained(model_path, device="cpu", decode_budget=SERVER_DECODE_BUDGET)
    return list(detector.detect_files([path for _, path in corpus]))  # one batch: a bad file must not stop it


def test_the_corpus_has_at_least_40_kinds():
    assert len(KINDS) >= 40 and len({k.name for k in KINDS}) == len(KINDS)
    assert {k.outcome for k in KINDS} == {"error", "verdict", "no_verdict"}


def _check(kind: Kind, path, result: Prediction) -> None:
    d = result.to_dict()
    json.dumps(d, allow_nan=False)  # strict JSON, whatever the outcome
    assert result.path == str(path)
    if kind.outcome == "error":
        assert result.error is not None, f"{kind.name}: expected an error, got {d}"
        assert "\n" not in result.error and result.error.count(str(path)) == 1, result.error
        assert result.error.startswith(f"{path}: "), result.error
        assert "Traceback" not in result.error and "unexpected" not in result.error, result.error
        assert result.label is None and result.p_fake is None and result.score is None
    else:
        assert result.error is None, f"{kind.name}: {result.error}"
    if kind.outcome == "verdict":
        assert result.label in ("real", "fake") and 0.0 <= result.p_fake <= 1.0, f"{kind.name}: {d}"
        assert result.no_verdict is None
    if kind.outcome == "no_verdict":
        assert result.label is None and result.p_fake is None and result.score is None, f"{kind.name}: {d}"
        assert result.no_verdict and "no speech" in result.no_verdict
    if kind.reason:
        assert kind.reason in (result.error or result.no_verdict or "").lower(), f"{kind.name}: {d}"
    if kind.warning:
        assert any(kind.warning in w for w in result.warnings), f"{kind.name}: {result.warnings}"


@pytest.mark.parametrize("index", range(len(KINDS)), ids=[k.name for k in KINDS])
def test_each_kind_gets_its_outcome(index, corpus, results):
    kind, path = corpus[index]
    _check(kind, path, results[index])


def test_intact_files_carry_no_truncation_warning(corpus, results):
    for (kind, _), result in zip(corpus, results):
        if kind.outcome != "error" and kind.warning != "truncated":
            assert not any("truncated" in w for w in result.warnings), kind.name


def test_detect_json_reports_every_input_in_strict_json(model_path, corpus):
    paths = [str(path) for _, path in corpus]
    result = CliRunner().invoke(app, ["detect", *paths, "--model", str(model_path), "--json", "--device", "cpu",
                                      "--max-duration", str(BUDGET_SECONDS)])
    assert result.exit_code == 1, result.output  # some inputs failed, the others were scored
    assert result.exception is None or isinstance(result.exception, SystemExit)

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    rows = json.loads(result.stdout, parse_constant=refuse)
    by_path = {row["path"]: row for row in rows}
    assert set(by_path) == set(paths)  # every name given is reported, once
    for kind, path in corpus:
        row = by_path[str(path)]
        expected = {"error": row["error"] is not None, "verdict": row["label"] in ("real", "fake"),
                    "no_verdict": row["no_verdict"] is not None}
        assert expected[kind.outcome], f"{kind.name}: {row}"
    assert "Traceback" not in result.stderr
