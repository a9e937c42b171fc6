"""The `deepfake-audio` command line. Each command parses options, calls one library function and
prints; it is the only place that turns errors into exit codes.

Exit codes: 0 success; 1 some input failed (the others were still processed); 2 bad usage or a fatal
error (the message says which file and why).
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deepfake_audio.errors import DeepfakeAudioError
from deepfake_audio.input_limits import DEFAULT_DECODE_BUDGET

DEFAULT_MAX_SECONDS = DEFAULT_DECODE_BUDGET.max_seconds or 12 * 3600.0

if TYPE_CHECKING:  # for annotations only; each command imports what it uses when it runs
    from deepfake_audio.detector import Prediction

app = typer.Typer(
    help="Tell whether speech recordings are real (bona fide) or machine-made (TTS, voice conversion, vocoded).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def detect(
    paths: Annotated[list[str], typer.Argument(help="Audio files, folders (searched recursively) or glob patterns.")],
    model: Annotated[Path | None, typer.Option(help="Checkpoint (.safetensors); default: the bundled model.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array, an object per file.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV: path,label,p_fake,score,duration,error,no_verdict.")] = False,
    timeline: Annotated[bool, typer.Option(help="Also print each file's per-window scores (table output).")] = False,
    hop: Annotated[float, typer.Option(help="Window hop as a fraction of the model's window (0-1].")] = 0.5,
    aggregate: Annotated[str, typer.Option(help="mean (default) or min (most fake-looking window).")] = "mean",
    batch_size: Annotated[int, typer.Option(help="Windows scored per forward pass.")] = 32,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    max_duration: Annotated[float, typer.Option(
        help="Longest audio one input may decode to, in seconds; longer inputs are refused early.")] = DEFAULT_MAX_SECONDS,
) -> None:
    """Score recordings: a verdict (real/fake), a calibrated probability of fake, and the raw score.

    Long audio is scored in sliding windows and aggregated; nothing is truncated. Files that cannot be
    read are reported and skipped; the exit code is then 1. Audio without speech (silence, a steady
    tone) gets no verdict and the reason.
    """
    from deepfake_audio.detector import Detector, Prediction
    from deepfake_audio.errors import one_line_error
    from deepfake_audio.input_limits import DecodeBudget
    from deepfake_audio.inputs import list_inputs

    if as_json and as_csv:
        raise _fail("choose one of --json and --csv")
    if not max_duration > 0:
        raise _fail(f"--max-duration must be a positive number of seconds; got {max_duration}")
    try:
        detector = Detector.from_pretrained(model, device=device, hop=hop, aggregate=aggregate, batch_size=batch_size,
                                            decode_budget=DecodeBudget.for_duration(max_duration))
    except (DeepfakeAudioError, ValueError) as e:
        raise _fail(str(e)) from None
    except Exception as e:  # noqa: BLE001 - a checkpoint or device problem still gets one line, exit 2
        raise _fail(one_line_error(str(model or "bundled model"), e)) from None
    listing = list_inputs(paths)
    if not listing.files and not listing.errors:
        raise _fail("no audio files found in " + ", ".join(paths))
    summary = listing.skipped_summary()
    if summary:
        typer.echo(f"note: {summary}", err=True)
    failed = 0
    results = []
    writer = csv.writer(sys.stdout) if as_csv else None
    if writer:
        writer.writerow(["path", "label", "p_fake", "score", "duration", "error", "no_verdict"])
    unlisted = [Prediction(path=name, label=None, p_fake=None, score=None, threshold=detector.threshold, error=error)
                for name, error in listing.errors]
    for prediction in [*unlisted, *detector.detect_files(listing.files)]:
        failed += prediction.error is not None
        if as_json:
            results.append(prediction.to_dict())
        elif writer:
            writer.writerow([prediction.path, prediction.label or "", _fmt(prediction.p_fake),
                             _fmt(prediction.score), _fmt(prediction.duration), prediction.error or "",
                             prediction.no_verdict or ""])
        else:
            _print_prediction(prediction, timeline)
    if as_json:
        typer.echo(strict_json(results))
    if failed:
        total = len(listing.files) + len(listing.errors)
        typer.echo(f"{failed} of {total} input(s) could not be scored", err=True)
        raise typer.Exit(1)


def strict_json(value: object) -> str:
    """JSON that every parser accepts: a non-finite number (never expected) becomes null, not NaN."""
    try:
        return json.dumps(value, indent=2, allow_nan=False)
    except ValueError:
        return json.dumps(_finite_or_none(value), indent=2, allow_nan=False)


def _finite_or_none(value: object) -> object:
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _print_prediction(prediction: Prediction, timeline: bool) -> None:
    if prediction.error:
        typer.echo(f"{prediction.path}\tERROR\t{prediction.error}")
        return
    if prediction.no_verdict:
        typer.echo(f"{prediction.path}\tNO VERDICT\t{prediction.no_verdict}\t{prediction.duration:.1f}s")
    else:
        typer.echo(f"{prediction.path}\t{prediction.label.upper()}\tp_fake={prediction.p_fake:.3f}"
                   f"\tscore={prediction.score:+.3f}\t{prediction.duration:.1f}s")
    for warning in prediction.warnings:
        typer.echo(f"  warning: {warning}")
    if timeline:
        for w in prediction.windows:
            bar = "#" * round(20 * w.p_fake)
            typer.echo(f"  {w.start:8.2f}-{w.end:8.2f}s  p_fake={w.p_fake:.3f} {bar}{' (silent)' if w.silent else ''}")


@app.command()
def train(
    config: Annotated[Path | None, typer.Argument(help="YAML config; values not given keep their defaults.")] = None,
    out: Annotated[Path, typer.Option(help="Run folder: checkpoints, metrics, resolved config.")] = Path("runs/latest"),
    preset: Annotated[str | None, typer.Option(help="Start from a bundled preset (e.g. seed) instead of a file.")] = None,
    data: Annotated[str | None, typer.Option(help="Shortcut for --set data.root=PATH (manifest CSV or folder).")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override a value: --set train.epochs=10")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train a detector (single device, or several under torchrun); resumes if OUT holds a killed run."""
    from deepfake_audio.config import load_config
    from deepfake_audio.presets import preset_path
    from deepfake_audio.train import train as run_training

    _log_to_stderr()
    try:
        if config and preset:
            raise _fail("give a config file or --preset, not both")
        settings = list(overrides or [])
        if data:
            settings.insert(0, f"data.root={data}")
            if Path(data).is_dir():
                settings.insert(0, "data.dataset=folder")
        cfg = load_config(preset_path(preset) if preset else config, settings)
        result = run_training(cfg, out, progress=not quiet)
    except DeepfakeAudioError as e:
        raise _fail(str(e)) from None
    typer.echo(f"best checkpoint: {result.best_checkpoint}")


@app.command()
def evaluate(
    data: Annotated[str | None, typer.Argument(help="A labelled folder (real/ fake/) or a CSV manifest.")] = None,
    model: Annotated[Path | None, typer.Option(help="Checkpoint; default: the bundled model.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.md, plots and the score file.")] = Path("eval"),
    dataset: Annotated[str | None, typer.Option(help="Corpus format, e.g. asvspoof2019-la, in-the-wild, csv.")] = None,
    root: Annotated[str | None, typer.Option(help="Corpus folder as distributed (with --dataset).")] = None,
    subset: Annotated[str | None, typer.Option(help="Corpus part where it has several (e.g. eval).")] = None,
    degrade: Annotated[str | None, typer.Option(
        help="Also score under degradations, e.g. mp3:128,opus:24,noise:10,telephone,reverb,lowpass:7000 "
             "(codec:kbit/s, noise:SNR in dB, lowpass:Hz)")] = None,
    asv_scores: Annotated[Path | None, typer.Option(help="ASVspoof ASV score file, for min t-DCF.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
) -> None:
    """Score a labelled corpus: EER, DCFs, accuracy/precision/recall/F1, per-attack breakdown, plots."""
    from deepfake_audio.evaluation_run import run_evaluation

    _log_to_stderr()
    if data and (dataset or root):
        raise _fail("give DATA, or --dataset with --root, not both")
    if not data and not root:
        raise _fail("give DATA (folder or CSV), or --dataset NAME --root PATH")
    if data:
        dataset, root = ("folder" if Path(data).is_dir() else "csv"), data
    try:
        summary = run_evaluation(model, dataset or "csv", root, out, subset=subset, degrade=degrade,
                                 asv_scores=asv_scores, device=device)
    except (DeepfakeAudioError, ValueError) as e:
        raise _fail(str(e)) from None
    typer.echo(summary)


@app.command()
def models() -> None:
    """List registered detector architectures with their parameter counts."""
    from deepfake_audio.models import MODELS, available_models, build_model, count_parameters

    typer.echo(f"{'name':24} {'parameters':>12} {'window':>8}  description")
    for name in available_models():
        cls = MODELS[name]
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        if cls.needs_local_weights:  # its size depends on the pretrained model the user supplies
            typer.echo(f"{name:24} {'(yours)':>12} {cls.Config().duration:>7.2f}s  {doc}")
            continue
        model = build_model(name)
        typer.echo(f"{name:24} {count_parameters(model):>12,} {model.config.duration:>7.2f}s  {doc}")


@app.command("export-onnx")
def export_onnx_command(
    out: Annotated[Path, typer.Argument(help="Where to write the .onnx file.")],
    model: Annotated[Path | None, typer.Option(help="Checkpoint; default: the bundled model.")] = None,
) -> None:
    """Export a checkpoint to ONNX (needs the `onnx` extra); `detect --model X.onnx` then runs it."""
    from deepfake_audio.detector import bundled_model_path
    from deepfake_audio.onnx_export import export_onnx

    try:
        difference = export_onnx(model or bundled_model_path(), out)
    except DeepfakeAudioError as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {out} (largest score difference to PyTorch on a test batch: {difference:.2e})")


@app.command()
def serve(
    model: Annotated[Path | None, typer.Option(help="Checkpoint; default: the bundled model.")] = None,
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless behind a proxy.")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    max_upload_mb: Annotated[float, typer.Option(help="Largest accepted upload.")] = 50.0,
) -> None:
    """Serve the HTTP API and a small web page (needs the `serve` extra)."""
    from deepfake_audio.errors import require

    try:
        uvicorn = require("uvicorn", "serve")
        from deepfake_audio.server import create_app

        application = create_app(model, max_upload_mb=max_upload_mb)
    except DeepfakeAudioError as e:
        raise _fail(str(e)) from None
    uvicorn.run(application, host=host, port=port)


@app.command()
def synth(
    inputs: Annotated[list[Path] | None, typer.Option("--inputs", help="Bona fide clips, folders or manifests to copy-synthesise.")] = None,
    texts: Annotated[Path | None, typer.Option(help="Text file, one sentence per line, for TTS generators.")] = None,
    generators: Annotated[str, typer.Option(help="Comma-separated generator names (see --list).")] = "griffinlim,world,lpc",
    out: Annotated[Path, typer.Option(help="Output folder: audio under <generator>/ and manifest.csv.")] = Path("synth"),
    seed: Annotated[int, typer.Option()] = 0,
    fresh: Annotated[bool, typer.Option(help="Regenerate clips already in the manifest instead of resuming.")] = False,
    list_generators: Annotated[bool, typer.Option("--list", help="List generators usable here, and the missing ones.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Make spoofed training clips offline from real clips (copy-synthesis) or text (TTS)."""
    from deepfake_audio.synth import available_generators, read_texts, run_synthesis, unavailable_generators

    if list_generators:
        for name, description in available_generators().items():
            typer.echo(f"{name:20} {description}")
        for name, reason in unavailable_generators().items():
            typer.echo(f"{name:20} (unavailable) {reason}")
        return
    _log_to_stderr()
    try:
        sentences = read_texts(texts) if texts else None
        report = run_synthesis(list(inputs or []), sentences, [g.strip() for g in generators.split(",") if g.strip()],
                               out, seed=seed, resume=not fresh, progress=not quiet)
    except DeepfakeAudioError as e:
        raise _fail(str(e)) from None
    failed = sum(s.failed for s in report.stats.values())
    typer.echo(f"manifest: {report.manifest_path} ({report.made} clips made)")
    if failed:
        typer.echo(f"{failed} clip(s) failed; see the messages above", err=True)
        raise typer.Exit(1)


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)


def main() -> None:
    app()
