"""The no-speech rule's threshold (detector.STEADY_DB), measured: speech must never fall under it, steady
signals must.

For each development-corpus clip (silence-trimmed, 4 s windows at a 2 s hop, as the bundled model
scores), the loudest voiced window's level span (`windows.speech_over_floor_db`): a clip loses its
verdict only if every voiced window is under STEADY_DB. Measured clean and with white noise added at
0 and -5 dB SNR, and for synthetic signals that hold no speech.

    python bench/no_speech_rule.py [--clips 800] [--no-write]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

from deepfake_audio.audio import load_audio, trim_silence
from deepfake_audio.detector import STEADY_DB
from deepfake_audio.windows import windows_of

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev"
WINDOW, HOP, RATE = 64_000, 32_000, 16_000


def loudest_span(waveform: torch.Tensor) -> float:
    voiced = [w.speech_over_floor_db for w in windows_of(waveform, WINDOW, HOP) if not w.silent]
    return max(voiced, default=float("nan"))


def with_noise(waveform: torch.Tensor, snr_db: float, seed: int) -> torch.Tensor:
    noise = torch.from_numpy(np.random.default_rng(seed).standard_normal(waveform.numel()).astype(np.float32))
    return waveform + noise * float(waveform.pow(2).mean().sqrt()) * 10 ** (-snr_db / 20)


def synthetic() -> dict[str, np.ndarray]:
    t = np.arange(8 * RATE) / RATE
    rng = np.random.default_rng(0)
    return {"440 Hz tone": 0.5 * np.sin(2 * np.pi * 440 * t), "50 Hz hum": 0.5 * np.sin(2 * np.pi * 50 * t),
            "square wave": np.sign(np.sin(2 * np.pi * 441 * t)), "DC offset": np.full(t.size, 0.5),
            "sweep 100 Hz-8 kHz": 0.5 * np.sin(2 * np.pi * (100 + 500 * t) * t),
            "tone + noise at 20 dB": 0.5 * np.sin(2 * np.pi * 440 * t) + 0.035 * rng.standard_normal(t.size),
            "white noise": 0.3 * rng.standard_normal(t.size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=800, help="clips drawn (seeded) from the corpus")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not (DEV / "manifest.csv").exists():
        raise SystemExit(f"needs the development corpus at {DEV}")
    rows = list(csv.DictReader((DEV / "manifest.csv").read_text(encoding="utf-8").splitlines()))
    chosen = np.random.default_rng(0).permutation(len(rows))[: args.clips]
    spans: dict[str, list[float]] = {"clean": [], "white noise at 0 dB SNR": [], "white noise at -5 dB SNR": []}
    lowest: list[tuple[float, str]] = []
    for index in chosen:
        waveform = trim_silence(load_audio(DEV / rows[index]["path"]))
        clean = loudest_span(waveform)
        spans["clean"].append(clean)
        spans["white noise at 0 dB SNR"].append(loudest_span(with_noise(waveform, 0.0, int(index))))
        spans["white noise at -5 dB SNR"].append(loudest_span(with_noise(waveform, -5.0, int(index))))
        lowest.append((clean, rows[index]["path"]))
    lines = [f"STEADY_DB = {STEADY_DB} dB; {len(chosen)} development clips (seeded draw), loudest voiced "
             "window's level span:", "",
             "| condition | min dB | 0.1% | 1% | 5% | clips under STEADY_DB (lose their verdict) |",
             "|---|---|---|---|---|---|"]
    for name, values in spans.items():
        a = np.array([v for v in values if np.isfinite(v)])
        p01, p1, p5 = np.percentile(a, [0.1, 1, 5])
        lines.append(f"| {name} | {a.min():.2f} | {p01:.2f} | {p1:.2f} | {p5:.2f} | {int((a < STEADY_DB).sum())} |")
    lines += ["", "Lowest clean clips: " + ", ".join(f"{p} ({v:.2f} dB)" for v, p in sorted(lowest)[:3]), "",
              "| signal without speech | loudest span dB | no verdict |", "|---|---|---|"]
    for name, wave in synthetic().items():
        span = loudest_span(torch.from_numpy(wave.astype(np.float32)))
        lines.append(f"| {name} | {span:.2f} | {'yes' if span < STEADY_DB else 'no'} |")
    publish("No-speech rule", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
