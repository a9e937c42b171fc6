"""Hostile inputs: the acceptance table of issue 12, measured on this checkout and, optionally, a baseline.

Builds the hostile-input corpus of tests/hostile_corpus.py (each kind with its expected outcome), then
scores every kind with the bundled model in a worker process per source tree, each kind alone under a
time limit (with the server's decode budget, as the tests, where the tree has one), and the whole corpus
once through `detect --json` (default budget). Counted per tree: kinds whose outcome is
the expected one, clean errors (one line, naming the file once, no unexpected exception), verdicts, no
verdicts, tracebacks (an exception escaping the library), hangs (over the time limit), results that are
not strict JSON; and the cost of the two amplification uploads (16 KB WAV claiming 1 Hz, 1 h of silence
as FLAC) given as bytes, as the HTTP server passes them, with the server's decode budget where the tree
has one. Times are wall clock on a shared machine: compare the two trees' numbers from the same run.

    python bench/hostile_inputs.py [--baseline-src DIR] [--timeout 60] [--no-write]

DIR is a `src` folder of another checkout, e.g. `git archive <commit> src | tar -x -C /tmp/base`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))


class _Timeout(Exception):
    pass


def _alarm(signum, frame):  # the signal handler signature
    raise _Timeout


def _classify(result, path: str) -> str:
    """error / verdict / no_verdict, or what is wrong with the result."""
    d = result.to_dict()
    try:
        json.dumps(d, allow_nan=False)
    except ValueError:
        return "not strict JSON"
    if result.error is not None:
        clean = ("\n" not in result.error and result.error.count(path) == 1 and "unexpected" not in result.error)
        return "error" if clean else "unclean error"
    if getattr(result, "no_verdict", None):
        return "no_verdict"
    return "verdict" if result.label in ("real", "fake") else "no_verdict"


def worker(folder: Path, timeout: float, start: int = 0) -> None:
    """Score each kind alone (in this tree's package) and print one JSON line per kind."""
    import torch

    torch.set_num_threads(1)
    from hostile_corpus import KINDS

    from deepfake_audio import Detector

    detector = Detector.from_pretrained(device="cpu")
    try:  # the budget the tests use (and the server's): the corpus holds an hour-long FLAC to refuse
        from deepfake_audio.input_limits import SERVER_DECODE_BUDGET

        detector.decode_budget = SERVER_DECODE_BUDGET
    except ImportError:
        pass  # a tree without a decode budget decodes everything
    signal.signal(signal.SIGALRM, _alarm)
    for index, kind in enumerate(KINDS):
        if index < start:
            continue
        path = str(json.loads((folder / "paths.json").read_text())[index])
        started = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            (result,) = list(detector.detect_files([path]))
            outcome = _classify(result, path)
        except _Timeout:
            outcome = "hang"
        except Exception:  # noqa: BLE001 - counting exceptions that escape is the point
            outcome = "traceback: " + traceback.format_exc().strip().splitlines()[-1][:120]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        print(json.dumps({"kind": kind.name, "expected": kind.outcome, "outcome": outcome,
                          "seconds": round(time.perf_counter() - started, 3)}), flush=True)


def amplification(name: str, data_path: Path, timeout: float) -> None:
    """Score one upload given as bytes, as the server does; print seconds and peak memory growth."""
    import torch

    torch.set_num_threads(1)
    from deepfake_audio import Detector

    detector = Detector.from_pretrained(device="cpu")
    data = data_path.read_bytes()
    kwargs = {}
    try:
        from deepfake_audio.input_limits import SERVER_DECODE_BUDGET

        kwargs["decode_budget"] = SERVER_DECODE_BUDGET
    except ImportError:
        pass
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        result = detector(data, name=name, **kwargs)
        outcome = result.error or result.label or getattr(result, "no_verdict", None)
    except _Timeout:
        outcome = f"still running after {timeout:g} s"
    except Exception as e:  # noqa: BLE001 - an escaping exception is a measured outcome
        outcome = f"{type(e).__name__}: {str(e)[:100]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    seconds = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"seconds": round(seconds, 3), "peak_mb": round(grown, 1), "outcome": str(outcome)[:140]}))


def _run(src: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{HERE.parent / 'tests'}", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], check=False, env=env, capture_output=True, text=True, timeout=timeout)


def _worker_rows(src: Path, folder: Path, timeout: float, start: int) -> list[dict]:
    """Rows a worker prints until it finishes, or until it goes quiet for longer than a kind may take."""
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{HERE.parent / 'tests'}", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, __file__, "--worker", str(folder), "--timeout", str(timeout),
                                "--start", str(start)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    rows, quiet_limit = [], timeout + 120  # the first row also waits for the model to load
    while True:
        ready, _, _ = select.select([process.stdout], [], [], quiet_limit)
        if not ready:
            process.kill()
            process.wait()
            return rows
        line = process.stdout.readline()
        if not line:
            process.wait()
            return rows
        if line.startswith("{"):
            rows.append(json.loads(line))


def measure(src: Path, folder: Path, paths: list[Path], timeout: float, cli_timeout: float) -> dict:
    from hostile_corpus import KINDS

    rows: list[dict] = []
    while len(rows) < len(KINDS):  # a kind stuck in C code, deaf to the alarm, is killed and counted a hang
        rows += _worker_rows(src, folder, timeout, start=len(rows))
        if len(rows) < len(KINDS):
            kind = KINDS[len(rows)]
            rows.append({"kind": kind.name, "expected": kind.outcome, "outcome": "hang", "seconds": None})
    try:
        cli = _run(src, ["-m", "deepfake_audio", "detect", *map(str, paths), "--json", "--device", "cpu"],
                   cli_timeout)
        cli_exit, cli_traceback = cli.returncode, "Traceback" in cli.stderr
        try:
            listed = json.loads(cli.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
            cli_json = f"strict, {len(listed)} of {len(paths)} inputs listed"
        except ValueError as e:
            cli_json = f"not strict JSON ({str(e)[:40]})" if cli.stdout.strip() else "empty stdout"
    except subprocess.TimeoutExpired:
        cli_exit, cli_traceback, cli_json = "none", False, f"hung: killed after {cli_timeout:g} s"
    amplified = {}
    for name, file in (("1 Hz WAV", folder / "one_hz.wav"), ("1 h FLAC", folder / "hour_of_silence.flac")):
        try:
            out = _run(src, [__file__, "--amplify", str(file), "--name", name, "--timeout", str(timeout)],
                       timeout + 60)
            lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
            amplified[name] = json.loads(lines[-1]) if lines else {"outcome": out.stderr[-200:]}
        except subprocess.TimeoutExpired:  # stuck inside C code (resampling hours of audio), deaf to the alarm
            amplified[name] = {"seconds": f"> {timeout + 60:g}", "outcome": "still running: killed"}
    return {"rows": rows, "cli_exit": cli_exit, "cli_json": cli_json, "cli_traceback": cli_traceback,
            "amplified": amplified}


def summary_row(label: str, m: dict) -> str:
    rows = m["rows"]
    count = lambda pred: sum(1 for r in rows if pred(r))
    return (f"| {label} | {len(rows)} | {count(lambda r: r['outcome'] == r['expected'])} | "
            f"{count(lambda r: r['outcome'] == 'error')} | {count(lambda r: r['outcome'] == 'verdict')} | "
            f"{count(lambda r: r['outcome'] == 'no_verdict')} | {count(lambda r: r['outcome'].startswith('traceback'))} | "
            f"{count(lambda r: r['outcome'] == 'hang')} | {count(lambda r: r['outcome'] in ('unclean error', 'not strict JSON'))} | "
            f"exit {m['cli_exit']}, {m['cli_json']}{', traceback' if m['cli_traceback'] else ''} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-src", type=Path, help="a src/ folder of another checkout to compare with")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one kind may take before it counts as a hang")
    parser.add_argument("--cli-timeout", type=float, default=300.0, help="seconds `detect` on all kinds may take")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--amplify", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--name", default="upload", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.timeout, args.start)
    if args.amplify:
        return amplification(args.name, args.amplify, args.timeout)

    from hostile_corpus import build
    from report import publish

    here_src = HERE.parent / "src"
    trees = [("this checkout", here_src)] + ([("baseline", args.baseline_src.resolve())] if args.baseline_src else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        built = build(folder)
        paths = [path for _, path in built]
        (folder / "paths.json").write_text(json.dumps([str(p) for p in paths]))
        results = {label: measure(src, folder, paths, args.timeout, args.cli_timeout) for label, src in trees}

    lines = [f"Kinds of input: {len(paths)} (tests/hostile_corpus.py), bundled model, each kind alone with a "
             f"{args.timeout:g} s limit, then all at once through `detect --json`.", "",
             "| code | kinds tried | expected outcome | clean errors | verdicts | no verdict | tracebacks | hangs "
             "| unclean / non-strict | `detect --json` on all |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [summary_row(label, m) for label, m in results.items()]
    lines += ["", "Amplification uploads, scored from bytes as the HTTP server does (server decode budget where "
              "the code has one; peak memory growth of the process):", "",
              "| code | input | seconds | peak MB | result |", "|---|---|---|---|---|"]
    for label, m in results.items():
        for name, a in m["amplified"].items():
            lines.append(f"| {label} | {name} | {a.get('seconds', '')} | {a.get('peak_mb', '')} | {a['outcome']} |")
    if "baseline" in results:
        lines += ["", "Kinds whose outcome changed from the baseline:", "",
                  "| kind | expected | baseline | this checkout |", "|---|---|---|---|"]
        for now, before in zip(results["this checkout"]["rows"], results["baseline"]["rows"]):
            if now["outcome"] != before["outcome"]:
                lines.append(f"| {now['kind']} | {now['expected']} | {before['outcome']} | {now['outcome']} |")
    publish("Hostile inputs", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
