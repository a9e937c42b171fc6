"""Drive a synthesis job: plan (generator x clip/text), skip finished work, generate, write, record."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_audio.audio import SAMPLE_RATE
from deepfake_audio.errors import AudioDecodeError, ConfigError
from deepfake_audio.synth.audio_io import (
    fit_length,
    match_rms,
    peak_normalise,
    read_clip,
    resample,
    rms,
    write_clip,
)
from deepfake_audio.synth.manifest import MANIFEST_NAME, Manifest
from deepfake_audio.synth.registry import Generator, available_generators, generator_class
from deepfake_audio.synth.sentences import BUILTIN_SENTENCES
from deepfake_audio.synth.sources import SourceClip, expand_inputs

logger = logging.getLogger(__name__)

TTS_PEAK_DB = (-12.0, -1.0)  # dBFS range for the random peak level of TTS output
OUTPUT_SUFFIX = ".flac"
MIN_SOURCE_DURATION = 0.1  # seconds; the STFT-based vocoders need a few frames


@dataclass(frozen=True)
class Job:
    """One clip to make: a generator applied to one source clip or one text."""

    generator: str
    source: SourceClip | str
    rel_path: str  # output path relative to out_dir, POSIX style
    seed: tuple[int, int]


@dataclass
class GeneratorStats:
    """What one generator did in a run."""

    made: int = 0
    skipped: int = 0
    failed: int = 0
    audio_s: float = 0.0
    compute_s: float = 0.0

    @property
    def real_time_factor(self) -> float:
        """Seconds of audio made per second of compute (higher is faster)."""
        return self.audio_s / self.compute_s if self.compute_s > 0 else float("nan")


@dataclass
class SynthesisReport:
    """Outcome of `run_synthesis`: the manifest written and per-generator counts and speed."""

    manifest_path: Path
    stats: dict[str, GeneratorStats] = field(default_factory=dict)

    @property
    def made(self) -> int:
        """Clips generated in this run."""
        return sum(s.made for s in self.stats.values())


def plan_jobs(
    sources: list[SourceClip], texts: list[str], generators: list[type[Generator]], seed: int
) -> list[Job]:
    """Every (generator, input) pair, with a stable output path and per-job seed derived from both."""
    jobs = []
    for cls in generators:
        items: list[SourceClip | str] = list(sources) if cls.kind == "copy" else list(dict.fromkeys(texts))
        for item in items:
            ident = str(item.path) if isinstance(item, SourceClip) else f"text:{item}"
            digest = hashlib.sha1(f"{cls.name}|{seed}|{ident}".encode()).hexdigest()
            stem = item.path.stem if isinstance(item, SourceClip) else _slug(item)
            rel_path = f"{cls.name}/{stem}-{digest[:10]}{OUTPUT_SUFFIX}"
            jobs.append(Job(cls.name, item, rel_path, (seed, int(digest[:8], 16))))
    return jobs


def _slug(text: str, max_words: int = 6) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())[:max_words]
    return "_".join(words) or "text"


def run_job(generator: Generator, job: Job, out_dir: Path) -> tuple[dict[str, str], float, float]:
    """Make one clip and write it; returns its manifest row, its duration and the compute time (s)."""
    rng = np.random.default_rng(job.seed)
    started = time.perf_counter()
    if isinstance(job.source, SourceClip):
        waveform, file_rate = read_clip(job.source.path)
        if waveform.size < MIN_SOURCE_DURATION * SAMPLE_RATE:
            raise AudioDecodeError(
                f"{job.source.path}: shorter than {MIN_SOURCE_DURATION} s, too short to vocode"
            )
        original_rate = min(file_rate, job.source.original_sample_rate or file_rate)
        started = time.perf_counter()  # time the generator, not the decoder
        out = generator.generate(waveform, rng)
        # Vocoders round to whole frames: keep the source length so clips stay aligned with their originals.
        result = match_rms(fit_length(resample(out.waveform, out.sample_rate), waveform.size), rms(waveform))
        row = {"speaker": job.source.speaker, "text": job.source.text, "license": job.source.license,
               "source_path": str(job.source.path), "original_sample_rate": str(original_rate)}  # fmt: skip
    else:
        out = generator.generate(job.source, rng)
        result = peak_normalise(resample(out.waveform, out.sample_rate), float(rng.uniform(*TTS_PEAK_DB)))
        row = {"speaker": str(out.params.get("voice", generator.name)), "text": job.source,
               "license": generator.license, "source_repo": generator.origin, "source_path": "",
               "original_sample_rate": str(out.sample_rate)}  # fmt: skip
    compute_s = time.perf_counter() - started
    if result.size == 0 or not np.all(np.isfinite(result)):
        raise ValueError("generator returned empty or non-finite audio")
    write_clip(out_dir / job.rel_path, result, SAMPLE_RATE)
    duration_s = result.size / SAMPLE_RATE
    row.update(path=job.rel_path, label="spoof", system=generator.name, source="synth",
               duration_s=f"{duration_s:.3f}", params=json.dumps(out.params, sort_keys=True))  # fmt: skip
    return row, duration_s, compute_s


def run_synthesis(
    inputs: list[Path] | None,
    texts: list[str] | None,
    generators: list[str],
    out_dir: Path,
    *,
    seed: int = 0,
    resume: bool = True,
    progress: bool = True,
) -> SynthesisReport:
    """`synthesize`, returning per-generator counts and speeds as well as the manifest path."""
    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    if seed < 0:
        raise ConfigError(f"seed must be a non-negative integer; got {seed}")
    classes = _resolve_generators(generators, has_inputs=bool(inputs), has_texts=bool(texts))
    out_dir = Path(out_dir)
    # Our own earlier outputs are spoofs: never feed them back in when out_dir sits inside an input folder.
    sources = [c for c in expand_inputs(list(inputs or [])) if not c.path.is_relative_to(out_dir.resolve())]
    sentences = list(texts) if texts else list(BUILTIN_SENTENCES)
    manifest = Manifest(out_dir / MANIFEST_NAME)
    report = SynthesisReport(manifest.path, {cls.name: GeneratorStats() for cls in classes})
    input_paths = {clip.path for clip in sources}

    todo = []
    for job in plan_jobs(sources, sentences, classes, seed):
        target = (out_dir / job.rel_path).resolve()
        if target in input_paths:
            logger.warning("skipped %s: its output path is an input file, which is never overwritten", target)
        elif resume and job.rel_path in manifest and target.is_file():
            report.stats[job.generator].skipped += 1
        else:
            todo.append(job)

    undecodable: set[Path] = set()  # reported once, then skipped quietly by the other generators
    try:
        with logging_redirect_tqdm(), tqdm(total=len(todo), disable=not progress, unit="clip") as bar:
            for name, group in groupby(todo, key=lambda j: j.generator):
                _run_generator(name, list(group), out_dir, manifest, report.stats[name], bar, undecodable)
    finally:
        manifest.save(force=True)
    for name, s in report.stats.items():
        speed = f", {s.real_time_factor:.1f}x real time" if s.made else ""
        logger.info("%s: made %d, skipped %d existing, failed %d%s", name, s.made, s.skipped, s.failed, speed)
    return report


def _run_generator(
    name: str,
    jobs: list[Job],
    out_dir: Path,
    manifest: Manifest,
    stats: GeneratorStats,
    bar: Any,
    undecodable: set[Path],
) -> None:
    bar.set_postfix_str(name)
    try:
        generator = generator_class(name)()
    except Exception as e:  # noqa: BLE001 - one broken generator must not stop the others
        logger.warning(
            "skipped generator %s (%d clips): cannot start it: %s: %s", name, len(jobs), type(e).__name__, e
        )
        stats.failed += len(jobs)
        bar.update(len(jobs))
        return
    for job in jobs:
        path = job.source.path if isinstance(job.source, SourceClip) else None
        try:
            if path in undecodable:
                raise AudioDecodeError("reported above")
            row, duration_s, compute_s = run_job(generator, job, out_dir)
        except Exception as e:  # noqa: BLE001 - report the input, skip it, keep going
            stats.failed += 1
            if path not in undecodable:
                reason = (str(e).strip().splitlines() or [""])[0]
                logger.warning("skipped %s with %s: %s: %s", path or repr(job.source[:60]), name,
                               type(e).__name__, reason)  # fmt: skip
            if isinstance(e, AudioDecodeError) and path is not None:
                undecodable.add(path)
        else:
            manifest.add(row)
            manifest.save(force=False)
            stats.made += 1
            stats.audio_s += duration_s
            stats.compute_s += compute_s
        bar.update()


def _resolve_generators(names: list[str], *, has_inputs: bool, has_texts: bool) -> list[type[Generator]]:
    if not names:
        raise ConfigError(f"no generators given; usable here: {', '.join(available_generators())}")
    if not has_inputs and not has_texts:
        raise ConfigError("nothing to synthesise: give bona fide input clips and/or texts")
    classes = [generator_class(n) for n in dict.fromkeys(names)]
    if not has_inputs:
        copy = [c.name for c in classes if c.kind == "copy"]
        if len(copy) == len(classes):
            raise ConfigError(f"copy-synthesis generators ({', '.join(copy)}) need bona fide input clips")
        if copy:
            logger.warning(
                "skipped %s: copy-synthesis needs input clips, only texts were given", ", ".join(copy)
            )
        classes = [c for c in classes if c.kind != "copy"]
    return classes


def synthesize(
    inputs: list[Path] | None,
    texts: list[str] | None,
    generators: list[str],
    out_dir: Path,
    *,
    seed: int = 0,
    resume: bool = True,
    progress: bool = True,
) -> Path:
    """Make spoofed training clips offline and record them in `out_dir/manifest.csv`.

    Copy-synthesis generators resynthesise each bona fide input clip (loudness matched to the source);
    text-to-speech generators speak each text (peak-normalised to a random level). Output is 16 kHz mono
    16-bit FLAC under `out_dir/<generator>/`.

    Parameters
    ----------
    inputs : list of Path or None
        Bona fide audio files, folders (searched recursively) or manifest CSVs (bona fide rows are used).
        Metadata (speaker, text, licence) is taken from a corpus `manifest.csv` listing the file.
    texts : list of str or None
        Sentences for the TTS generators; None uses a built-in list of varied sentences.
    generators : list of str
        Generator names; see `available_generators()`.
    out_dir : Path
        Output folder; created if needed. Input files are never modified.
    seed : int
        Seeds every random choice; each clip's parameters depend only on (seed, generator, input).
    resume : bool
        Skip clips already listed in the manifest and present on disk; False regenerates them.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Path
        The manifest, `out_dir/manifest.csv` (columns `path,label,system,speaker,text,source,...`).

    Raises
    ------
    ConfigError
        Unknown or unusable generator names, or nothing to synthesise.
    ProtocolError
        An existing manifest in `out_dir` or an input CSV is malformed.
    """
    report = run_synthesis(inputs, texts, generators, out_dir, seed=seed, resume=resume, progress=progress)
    return report.manifest_path
