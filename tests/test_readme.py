"""README.md documents what the program prints: its JSON examples have the fields and types of real output.

Numbers are not compared (they change with the bundled model); `scripts/readme_examples.py` regenerates
the examples from real runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deepfake_audio.cli import app

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def block(name: str) -> str:
    pattern = rf"<!-- readme:{name}:begin -->\n```json\n(.*?)\n```\n<!-- readme:{name}:end -->"
    match = re.search(pattern, README, re.DOTALL)
    assert match, f"README.md has no JSON block {name!r}"
    return match.group(1)


def shape(value: Any) -> Any:
    """The fields and JSON types of a value: objects by key, lists by their elements' shapes."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes = []
        for item in map(shape, value):
            if item not in shapes:
                shapes.append(item)
        return shapes
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def detect_json(*args: str) -> list[dict]:
    result = CliRunner().invoke(app, ["detect", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(autouse=True)
def _from_repo_root(monkeypatch):
    monkeypatch.chdir(REPO)  # the README's examples name files relative to the repository root


def test_documented_json_has_the_fields_of_real_output():
    documented = json.loads(block("detect-json"))
    real = detect_json(*(row["path"] for row in documented))
    assert [r["path"] for r in real] == [r["path"] for r in documented]
    assert shape(real) == shape(documented)


def test_documented_explanation_has_the_fields_of_real_output():
    documented = json.loads(block("explain-window"))
    real = detect_json("examples/fake/matcha_tts_MAT-100_1.flac", "--explain")[0]["windows"][0]
    assert shape(real) == shape(documented)
    assert set(documented) - {"explanation"} == set(detect_json("examples/fake/matcha_tts_MAT-100_1.flac")[0]
                                                    ["windows"][0])


def test_field_list_in_prose_matches_the_json():
    documented = json.loads(block("detect-json"))[0]
    prose = README[README.index("<!-- readme:detect-json:end -->"):README.index("<!-- readme:explain-window:begin")]
    for key in [*documented, *documented["windows"][0], *documented["segments"][0]]:
        assert f"`{key}`" in prose, f"README's description of the JSON does not mention `{key}`"


def test_readme_names_the_extra_each_optional_command_needs():
    for extra, command in (("onnx", "export-onnx"), ("serve", "deepfake-audio serve"), ("plots", "det.png"),
                           ("synth", "deepfake-audio synth")):
        near = README[max(0, README.index(command) - 600): README.index(command) + 900]
        assert f'".[{extra}]"' in near, f"README does not name the {extra} extra near {command}"
