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

from deepfake_audio.allocator import keep_freed_memory
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
    # Plain click help: typer's rich panels print every flag as if it took a `<bool>` value.
    rich_markup_mode=None,
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def detect(
    paths: Annotated[list[str], typer.Argument(help="Audio files, folders (searched recursively) or glob patterns.")],
    model: Annotated[str, typer.Option(help="Bundled model by name (default, fast; see `models`), a checkpoint file (.safetensors, .onnx), or hf:FOLDER (a local Hugging Face model).")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array, an object per file.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV: path,label,p_fake,score,duration,error,no_verdict.")] = False,
    timeline: Annotated[bool, typer.Option(help="Also print each file's per-window scores (table output).")] = False,
    explain: Annotated[bool, typer.Option("--explain", help=(
        "Per window, the frequency bands that moved its score most (adds `explanation` to each window; "
        "one extra scoring pass per band, about 9x slower)."))] = False,
    hop: Annotated[float | None, typer.Option(
        help="Window hop as a fraction of the model's window (0-1]; default: the model's own (0.5 unless "
             "its checkpoint sets another).")] = None,
    aggregate: Annotated[str, typer.Option(help="mean (default) or min (most fake-looking window).")] = "mean",
    batch_size: Annotated[int, typer.Option(help="Windows scored per forward pass.")] = 32,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    threads: Annotated[int | None, typer.Option(
        help="Torch threads for the model (default: one per core). Decoding and window analysis of long "
             "files run in threads of their own, so a light model (`--model fast`) is fastest with 1.")] = None,
    ray: Annotated[str | None, typer.Option(
        help="Score on Ray (needs the `ray` extra): local (start one here), auto (the cluster this machine "
             "is in) or an address (ray://head:10001). PATHS may then be a list file or manifest CSV.",
        metavar="ADDRESS")] = None,
    output: Annotated[Path | None, typer.Option(
        help="With --ray: write results to FILE.jsonl (one JSON object per line) or, for any other name, "
             "a folder of Parquet files; without it they are printed as with --json.")] = None,
    actors: Annotated[int, typer.Option(help="With --ray: scoring actors (each loads the model once).")] = 2,
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
    if ray is not None:
        _detect_on_ray(paths, model, ray, output, actors, {"hop": hop, "aggregate": aggregate, "batch_size": batch_size})
        return
    if output is not None:
        raise _fail("--output goes with --ray; for local runs redirect --json or --csv")
    if not max_duration > 0:
        raise _fail(f"--max-duration must be a positive number of seconds; got {max_duration}")
    if threads is not None:
        if threads < 1:
            raise _fail(f"--threads must be at least 1; got {threads}")
        import torch

        torch.set_num_threads(threads)
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
    for prediction in [*unlisted, *detector.detect_files(listing.files, explain=explain)]:
        failed += prediction.error is not None
        if as_json:
            results.append(prediction.to_dict())
        elif writer:
            writer.writerow([prediction.path, prediction.label or "", _fmt(prediction.p_fake),
                             _fmt(prediction.score), _fmt(prediction.duration), prediction.error or "",
                             prediction.no_verdict or ""])
        else:
            _print_prediction(prediction, timeline or explain)
    if as_json:
        typer.echo(strict_json(results))
    if failed:
        total = len(listing.files) + len(listing.errors)
        typer.echo(f"{failed} of {total} input(s) could not be scored", err=True)
        raise typer.Exit(1)


def _detect_on_ray(paths: list[str], model: str, address: str, output: Path | None, actors: int,
                   options: dict) -> None:
    from deepfake_audio.distributed import read_paths, score_with_ray
    from deepfake_audio.inputs import expand_inputs

    try:
        is_listing = len(paths) == 1 and Path(paths[0]).suffix.lower() in (".csv", ".txt", ".lst")
        files = read_paths(paths[0]) if is_listing else expand_inputs(paths)
        if not files:
            raise _fail("no audio files found in " + ", ".join(paths))
        result = score_with_ray(files, model, None if address == "local" else address, output, actors=actors,
                                detector_options=options)
    except DeepfakeAudioError as e:
        raise _fail(str(e)) from None
    if isinstance(result, Path):
        typer.echo(f"wrote {result} ({len(files)} files)", err=True)
        return  # failed files are in the output, with their error
    typer.echo(strict_json(result))
    failed = sum(r["error"] is not None for r in result)
    if failed:
        typer.echo(f"{failed} of {len(files)} file(s) could not be scored", err=True)
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
    for segment in prediction.segments:
        typer.echo(f"  machine-made segment: {segment.start:.1f}-{segment.end:.1f}s  p_fake={segment.p_fake:.3f}")
    for warning in prediction.warnings:
        typer.echo(f"  warning: {warning}")
    if timeline:
        for w in prediction.windows:
            bar = "#" * round(20 * w.p_fake)
            why = ""
            if w.explanation:
                why = "  bands: " + ", ".join(f"{e['band_hz'][0]}-{e['band_hz'][1]} Hz {e['delta']:+.2f}"
                                              for e in w.explanation)
            typer.echo(f"  {w.start:8.2f}-{w.end:8.2f}s  p_fake={w.p_fake:.3f} {bar:20}"
                       f"{' (silent)' if w.silent else ''}{why}")


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
    model: Annotated[str, typer.Option(help="Bundled model by name (default, fast; see `models`) or a checkpoint file (.safetensors, .onnx).")] = "default",
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
    """List the bundled models (for --model NAME) with their measured speed and error rate, then the
    registered architectures (for training) with their parameter counts."""
    from deepfake_audio.bundled import describe_bundled
    from deepfake_audio.models import MODELS, available_models, build_model, count_parameters

    typer.echo("Bundled models (detect --model NAME):")
    for line in describe_bundled():
        typer.echo(f"  {line}")
    typer.echo("")
    typer.echo("Architectures (train --set model.name=NAME):")
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
    model: Annotated[str, typer.Option(help="Bundled model by name (default, fast) or a .safetensors checkpoint.")] = "default",
) -> None:
    """Export a checkpoint to ONNX (needs the `onnx` extra); `detect --model X.onnx` then runs it."""
    from deepfake_audio.bundled import resolve_model
    from deepfake_audio.onnx_export import export_onnx

    try:
        difference = export_onnx(resolve_model(model), out)
    except DeepfakeAudioError as e:
        raise _fail(str(e)) from None
    typer.echo(f"wrote {out} (largest score difference to PyTorch on a test batch: {difference:.2e})")


@app.command("import-checkpoint")
def import_checkpoint_command(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help="Format of IN: clovaai-aasist (official AASIST / AASIST-L).")],
    source: Annotated[Path, typer.Argument(metavar="IN", help="The checkpoint to convert (e.g. AASIST-L.pth).")],
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write our checkpoint (.safetensors).")],
) -> None:
    """Convert another project's checkpoint into ours; `detect --model OUT` then runs it.

    The file is read as plain tensors only (never a full unpickle): one that holds other Python objects
    is refused without running anything from it.
    """
    from deepfake_audio.importers import import_checkpoint

    if out.resolve() == source.resolve():
        raise _fail(f"{out}: OUT must differ from IN")
    try:
        summary = import_checkpoint(fmt, source, out)
    except DeepfakeAudioError as e:
        raise _fail(str(e)) from None
    origin = "the published file" if summary["published_file"] else "not byte-identical to the published file"
    typer.echo(f"wrote {out}: {summary['variant']} as model {summary['model']!r} ({origin}, sha256 "
               f"{summary['sha256'][:12]}); threshold and calibration from the reference training, not re-fitted")


@app.command()
def calibrate(
    model: Annotated[str, typer.Argument(help="Checkpoint (.safetensors or .onnx) or hf:FOLDER; 'bundled' for the bundled model.")],
    data: Annotated[str, typer.Argument(help="Labelled data: a folder with real/ and fake/, or a CSV manifest (path,label).")],
    out: Annotated[Path, typer.Argument(help="Where to write the calibrated model (a folder for hf: models).")],
    dataset: Annotated[str | None, typer.Option(help="Read DATA as this corpus format instead (e.g. asvspoof2019-la).")] = None,
    subset: Annotated[str | None, typer.Option(help="Corpus part where it has several (e.g. dev).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Fit a model's threshold (EER point) and p_fake calibration to your labelled data; no retraining.

    Writes a new model; the header records what it was calibrated on. Use data from the conditions you
    will score, and not the data you report results on.
    """
    from deepfake_audio.recalibrate import calibrate_model

    reader = dataset or ("folder" if Path(data).is_dir() else "csv")
    try:
        result = calibrate_model(None if model == "bundled" else model, reader, data, out, subset=subset,
                                 device=device, progress=not quiet)
    except (DeepfakeAudioError, ValueError) as e:
        raise _fail(str(e)) from None
    typer.echo(result.summary())


@app.command()
def serve(
    model: Annotated[str, typer.Option(help="Bundled model by name (default, fast; see `models`) or a checkpoint file (.safetensors, .onnx).")] = "default",
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless behind a proxy.")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    max_upload_mb: Annotated[float, typer.Option(help="Largest accepted file, in MiB.")] = 50.0,
    max_batch_files: Annotated[int, typer.Option(help="Most files in one POST /detect/batch.")] = 16,
    max_batch_mb: Annotated[float, typer.Option(help="Largest POST /detect/batch body, in MiB.")] = 100.0,
    max_audio_seconds: Annotated[float, typer.Option(help="Longest audio scored (from the file header, "
                                                          "checked before decoding).")] = 600.0,
    workers: Annotated[int, typer.Option(help="Threads that decode and score (sharing one model).")] = 2,
    queue: Annotated[int, typer.Option(help="Requests that may wait for a worker; more get 503.")] = 32,
    time_budget: Annotated[float, typer.Option(help="Seconds per request, waiting included; then 504.")] = 30.0,
    api_keys: Annotated[list[str] | None, typer.Option(
        "--api-key", help="Require this key (repeatable); also read from DEEPFAKE_AUDIO_API_KEYS, "
                          "comma-separated, which keeps keys out of the process list.")] = None,
    allow_origins: Annotated[list[str] | None, typer.Option(
        "--allow-origin", help="Let web pages from this origin (e.g. https://app.example) call the API; "
                               "repeatable; '*' for any. Default: same origin only.")] = None,
    allowed_hosts: Annotated[list[str] | None, typer.Option(
        "--allowed-host", help="Also accept this Host header (repeatable; '*' for any), e.g. the public name "
                               "a reverse proxy passes on. Default: loopback names when bound to loopback.")] = None,
    docs: Annotated[bool, typer.Option(help="Serve /docs (Swagger UI, loaded from a CDN) and /openapi.json.")] = False,
) -> None:
    """Serve the HTTP API and a small web page (needs the `serve` extra)."""
    from deepfake_audio.errors import require

    try:
        uvicorn = require("uvicorn", "serve")
        import torch

        from deepfake_audio.server import ServerSettings, api_keys_from_env, create_app, hosts_to_accept

        settings = ServerSettings(
            max_upload_mb=max_upload_mb, max_batch_files=max_batch_files, max_batch_mb=max_batch_mb,
            max_audio_seconds=max_audio_seconds, workers=workers, queue=queue, time_budget=time_budget,
            api_keys=tuple(api_keys or ()) + api_keys_from_env(), allow_origins=tuple(allow_origins or ()),
            allowed_hosts=hosts_to_accept(host, allowed_hosts or ()), docs=docs)
        # Each worker runs the model in its own thread: split the intra-op threads (the cores, or
        # OMP_NUM_THREADS) between them, or they oversubscribe the cores and stall in OpenMP barriers.
        torch.set_num_threads(max(1, torch.get_num_threads() // workers))
        keep_freed_memory()
        application = create_app(model, settings)
    except (DeepfakeAudioError, ValueError) as e:
        raise _fail(str(e)) from None
    uvicorn.run(application, host=host, port=port, server_header=False)


@app.command()
def synth(
    inputs: Annotated[list[Path] | None, typer.Option("--inputs", help="Bona fide clips, folders or manifests to copy-synthesise.")] = None,
    texts: Annotated[Path | None, typer.Option(help="Text file, one sentence per line, for TTS generators.")] = None,
    generators: Annotated[str | None, typer.Option(
        help="Comma-separated generator names (see --list); default: griffinlim,world,lpc, those usable here.")] = None,
    out: Annotated[Path, typer.Option(help="Output folder: audio under <generator>/ and manifest.csv.")] = Path("synth"),
    seed: Annotated[int, typer.Option()] = 0,
    fresh: Annotated[bool, typer.Option(help="Regenerate clips already in the manifest instead of resuming.")] = False,
    list_generators: Annotated[bool, typer.Option("--list", help="List generators usable here, and the missing ones.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Make spoofed training clips offline from real clips (copy-synthesis) or text (TTS)."""
    from deepfake_audio.synth import (
        available_generators,
        default_generators,
        read_texts,
        run_synthesis,
        unavailable_generators,
    )

    if list_generators:
        for name, description in available_generators().items():
            typer.echo(f"{name:20} {description}")
        for name, reason in unavailable_generators().items():
            typer.echo(f"{name:20} (unavailable) {reason}")
        return
    _log_to_stderr()
    if generators is None:
        names, skipped = default_generators()
        for name, reason in skipped.items():
            typer.echo(f"skipped generator {name}: {reason}", err=True)
    else:
        names = [g.strip() for g in generators.split(",") if g.strip()]
    try:
        sentences = read_texts(texts) if texts else None
        report = run_synthesis(list(inputs or []), sentences, names, out, seed=seed, resume=not fresh,
                               progress=not quiet)
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
