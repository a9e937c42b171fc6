"""Regenerate README.md's example outputs from real runs on examples/, so the README shows what the
program prints. Each generated block sits between `<!-- readme:NAME:begin -->` and
`<!-- readme:NAME:end -->`; everything else in the README is left alone.

    python scripts/readme_examples.py            # rewrite README.md
    python scripts/readme_examples.py --check    # exit 1 if README.md is not what the program prints now

Run it after changing the output format or the bundled model, and after bench/segments.py (whose
results, bench/results/segments.json, fill the `segments-rates` block).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SEGMENTS_RESULTS = REPO / "bench" / "results" / "segments.json"
FAKE = "examples/fake/matcha_tts_MAT-100_1.flac"
BORDERLINE = "examples/fake/melgan_generated_0.flac"


def cli(*args: str) -> str:
    """stdout of `deepfake-audio ARGS` run from the repository root, as a user would type it."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "deepfake_audio", *args], cwd=REPO, env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"deepfake-audio {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def fenced(language: str, text: str, command: str | None = None) -> str:
    prompt = f"$ {command}\n" if command else ""
    return f"```{language}\n{prompt}{text.rstrip()}\n```"


def detect_table() -> str:
    return fenced("console", cli("detect", "examples/"), "deepfake-audio detect examples/")


def detect_json() -> str:
    return fenced("json", cli("detect", FAKE, BORDERLINE, "--json"))


def explain_window() -> str:
    (row,) = json.loads(cli("detect", FAKE, "--json", "--explain"))
    return fenced("json", json.dumps(row["windows"][0], indent=2))


def explain_table() -> str:
    return fenced("console", cli("detect", FAKE, "--explain"), f"deepfake-audio detect {FAKE} --explain")


def segments_rates() -> str:
    if not SEGMENTS_RESULTS.is_file():
        return "(run `python bench/segments.py` to measure them)"
    results = json.loads(SEGMENTS_RESULTS.read_text())
    chosen, rule = results["chosen"], results["chosen"]["rule"]
    detection = ", ".join(f"{100 * rate:.0f}% of {length} s spans" for length, rate in chosen["detection"].items())
    return (f"Measured by `bench/segments.py` for {results['model']} on held-out development clips (table in "
            f"[BENCHMARKS.md](BENCHMARKS.md#segments)): {chosen['false_per_hour']:.2f} false segments per hour of real "
            f"speech, {chosen['real_recordings_flagged']} of {results['setup']['real_recordings']} "
            f"{results['setup']['real_minutes']:g}-minute real recordings flagged; detected: {detection}. Rule: p_fake >= {rule['min_p_fake']:g} after "
            f"smoothing over {rule['smooth_s']:g} s, for at least {rule['min_span_s']:g} s.")


BLOCKS: dict[str, Callable[[], str]] = {
    "detect-table": detect_table,
    "detect-json": detect_json,
    "explain-window": explain_window,
    "explain-table": explain_table,
    "segments-rates": segments_rates,
}


def replace_block(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- readme:{name}:begin -->", f"<!-- readme:{name}:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"README.md has no {begin} ... {end} block")
    return text[: text.index(begin) + len(begin)] + "\n" + body + "\n" + text[text.index(end):]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when README.md is stale")
    args = parser.parse_args()
    old = README.read_text()
    new = old
    for name, make in BLOCKS.items():
        new = replace_block(new, name, make())
    if args.check:
        if new != old:
            raise SystemExit("README.md's examples differ from what the program prints: run scripts/readme_examples.py")
        print("README.md examples are current")
        return
    README.write_text(new)
    print("README.md examples regenerated" if new != old else "README.md examples were already current")


if __name__ == "__main__":
    main()
