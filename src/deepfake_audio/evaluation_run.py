"""The whole `evaluate` job: read a corpus, score it (clean and degraded), write every output file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from deepfake_audio.data.corpora import DATASET_BREAKDOWNS, read_dataset, write_score_file
from deepfake_audio.data.dataset import WaveformCache
from deepfake_audio.data.provenance import training_overlap
from deepfake_audio.detector import Detector
from deepfake_audio.errors import ConfigError
from deepfake_audio.evaluate import score_trials, summarize, write_report

log = logging.getLogger(__name__)

# Each --degrade name maps to one augmentation step applied with certainty.
DEGRADATIONS: dict[str, dict[str, Any]] = {
    "mp3": {"name": "codec", "codecs": ["mp3"]},
    "opus": {"name": "codec", "codecs": ["opus"]},
    "aac": {"name": "codec", "codecs": ["aac"]},
    "gsm": {"name": "codec", "codecs": ["gsm"]},
    "telephone": {"name": "telephone"},
    "reverb": {"name": "reverb"},
    "noise": {"name": "noise"},  # noise:SNR sets the SNR in dB
    # lowpass:HZ: a steep low-pass and nothing else, to tell a codec's loss of the top band from the
    # rest of what it does.
    "lowpass": {"name": "band_limit", "min_highpass_hz": 0.0, "max_highpass_hz": 0.0},
}


def parse_degradation(spec: str) -> dict[str, Any]:
    """`noise:10` -> white noise at 10 dB SNR; `mp3:128` -> MP3 at 128 kbit/s (a codec without a rate
    draws one per clip from the augmentation's default range); `lowpass:7000` -> a low-pass at 7 kHz;
    other names as in DEGRADATIONS."""
    name, _, arg = spec.strip().partition(":")
    if name not in DEGRADATIONS:
        raise ConfigError(f"unknown degradation {name!r}; choose from {', '.join(DEGRADATIONS)}")
    step = {**DEGRADATIONS[name], "p": 1.0}
    try:
        value = float(arg) if arg else None
    except ValueError:
        raise ConfigError(f"degradation {spec!r}: {arg!r} is not a number") from None
    if name == "noise":
        snr = 10.0 if value is None else value
        step.update(min_snr_db=snr, max_snr_db=snr)
    elif step["name"] == "codec" and value is not None:
        step.update(min_bitrate_kbps=value, max_bitrate_kbps=value)
    elif name == "lowpass" and value is not None:
        step.update(min_lowpass_hz=value, max_lowpass_hz=value)
    elif value is not None:
        raise ConfigError(f"degradation {name!r} takes no argument; got {spec!r}")
    return step


def run_evaluation(
    model: Path | None,
    dataset: str,
    root: str,
    out: Path,
    *,
    subset: str | None = None,
    degrade: str | None = None,
    asv_scores: Path | None = None,
    device: str = "auto",
    progress: bool = True,
) -> str:
    """Evaluate and write `out/`; returns a short human summary."""
    degradations = {spec: parse_degradation(spec) for spec in (degrade or "").split(",") if spec.strip()}
    detector = Detector.from_pretrained(model, device=device)
    options = {"subset": subset} if subset else {}
    trials = read_dataset(dataset, root, **options)
    overlap = training_overlap(trials, root, detector.info.extra)
    if overlap:
        log.warning("warning: %s", overlap)
    cache = WaveformCache()
    scored = score_trials(detector, trials, cache=cache, progress=progress)
    report = summarize(scored, detector, DATASET_BREAKDOWNS.get(dataset, ()))
    report["dataset"], report["root"] = dataset, str(root)
    report["warnings"] = [overlap] if overlap else []
    out.mkdir(parents=True, exist_ok=True)
    write_score_file(dataset, scored.trials, scored.scores, out / "scores.txt")
    if asv_scores is not None:
        report["min_tdcf"] = compute_tdcf(dataset, scored, asv_scores)
    if degradations:
        from deepfake_audio.augment import build_augmentation

        report["degradations"] = {}
        for spec, step in degradations.items():
            chain = build_augmentation([step])
            degraded = score_trials(detector, scored.trials, degrade=chain, cache=cache, progress=progress)
            report["degradations"][spec] = {k: summarize(degraded, detector)[k] for k in ("eer", "min_dcf")}
    write_report(report, out, scored, title=f"Evaluation on {dataset}: {root}")
    lines = [f"EER {100 * report['eer']:.2f}% over {report['num_trials']} trials"
             f" ({report['num_failed']} unreadable); report in {out}"]
    for spec, row in report.get("degradations", {}).items():
        lines.append(f"  {spec}: EER {100 * row['eer']:.2f}%")
    return "\n".join(lines)


def compute_tdcf(dataset: str, scored: Any, asv_path: Path) -> float:
    """min t-DCF with the organisers' ASV scores (`<speaker> <target|nontarget|spoof> <score>`)."""
    import numpy as np

    from deepfake_audio.data.trial import Label
    from deepfake_audio.errors import ProtocolError
    from deepfake_audio.metrics import compute_min_tdcf_2019, compute_min_tdcf_2021
    from deepfake_audio.text_input import read_utf8

    groups: dict[str, list[float]] = {"target": [], "nontarget": [], "spoof": []}
    for lineno, line in enumerate(read_utf8(asv_path).splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 3 or fields[-2] not in groups:
            raise ProtocolError(f"{asv_path}:{lineno}: expected '<id> <target|nontarget|spoof> <score>'")
        groups[fields[-2]].append(float(fields[-1]))
    labels = np.array([t.label is Label.BONAFIDE for t in scored.trials])
    args = (scored.scores[labels], scored.scores[~labels], *(np.array(groups[k]) for k in ("target", "nontarget", "spoof")))
    return float(compute_min_tdcf_2019(*args) if dataset == "asvspoof2019-la" else compute_min_tdcf_2021(*args))
