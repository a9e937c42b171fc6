"""Cache Whisper-stats statistics of training clips under augmentation, so heads train in seconds on a CPU.

For every clip of the given manifests and every view, the clip is silence-trimmed (as the detector trims
it), cropped to a random length of `--min-crop`..`--max-crop` seconds drawn independently of its label (so
crop length says nothing about the class), passed through that view's augmentation chain, and encoded by
the frozen encoder; the model's own `statistics()` are stored. Views apply to **both** classes:

- `clean`: the crop only;
- `codec`: gain, then mp3 / opus / aac at 24-128 kbit/s (what real fakes reach people as);
- `channel`: a random mix of resampling round trips, band limits, telephone, reverb, noise, RawBoost,
  gain, and a codec.

Usage:
    python recipes/whisper_features.py --manifest DEV_MANIFEST --manifest POOL_MANIFEST --out CACHE_DIR
Output: `CACHE_DIR/<view>.npz` with `stats (clips, num_stats) float32`, `label` (1 = bona fide), `source`,
`system`, `path`, `crop_s`; re-running skips views already written. Deterministic for a given `--seed`.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

VIEWS: dict[str, list[dict]] = {
    "clean": [],
    "codec": [
        {"name": "gain", "min_gain_db": -20.0, "max_gain_db": 10.0, "p": 0.5},
        {"name": "codec", "codecs": ["mp3", "mp3", "opus", "aac"], "min_bitrate_kbps": 24.0,
         "max_bitrate_kbps": 128.0, "p": 1.0},
    ],
    "channel": [
        {"name": "resample", "p": 0.3},
        {"name": "band_limit", "min_highpass_hz": 0.0, "max_highpass_hz": 200.0, "min_lowpass_hz": 3_400.0,
         "max_lowpass_hz": 7_800.0, "p": 0.25},
        {"name": "telephone", "p": 0.1},
        {"name": "reverb", "min_rt60_s": 0.2, "max_rt60_s": 0.8, "p": 0.25},
        {"name": "noise", "min_snr_db": 10.0, "max_snr_db": 40.0, "kind": ["white", "pink", "brown"], "p": 0.3},
        {"name": "rawboost", "algo": 3, "p": 0.2},
        {"name": "gain", "min_gain_db": -20.0, "max_gain_db": 10.0, "p": 0.5},
        {"name": "codec", "codecs": ["mp3", "opus", "aac"], "min_bitrate_kbps": 24.0, "max_bitrate_kbps": 128.0,
         "p": 0.3},
    ],
    # Fixed conditions, for scoring held-out data the way the benchmark degrades it.
    "mp3_64": [{"name": "codec", "codecs": ["mp3"], "min_bitrate_kbps": 64.0, "max_bitrate_kbps": 64.0, "p": 1.0}],
}


def read_manifests(manifests: list[str], drop_sources_of_later: bool = True) -> list[dict]:
    """Rows of every manifest with absolute paths. A source present in a later manifest (the pool holds
    the full versions of the clips dev samples) is dropped from the earlier ones, so no clip counts twice."""
    tables = []
    for manifest in manifests:
        root = Path(manifest).parent
        with open(manifest, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            row["path"] = str(root / row["path"])
        tables.append(rows)
    out: list[dict] = []
    for i, rows in enumerate(tables):
        later = {r["source"] for t in tables[i + 1 :] for r in t} if drop_sources_of_later else set()
        out += [r for r in rows if r["source"] not in later]
    return out


_MODEL = None
_FRAMES = 0


def _init(encoder: str, frames: int) -> None:
    global _MODEL, _FRAMES
    import torch

    torch.set_num_threads(1)
    from deepfake_audio.models import build_model

    _MODEL = build_model("whisper-stats", encoder=encoder, encoder_layers=frames).eval()
    _FRAMES = frames


def _width(encoder: str) -> int:
    from deepfake_audio.frontends.whisper import load_encoder_weights

    return load_encoder_weights(encoder).dims.width


def _work(task: tuple[int, str, str, float, float, int]) -> tuple[int, np.ndarray | None, float]:
    import torch

    from deepfake_audio.audio import load_audio, trim_silence
    from deepfake_audio.augment import build_augmentation
    from deepfake_audio.errors import DeepfakeAudioError

    index, path, view, min_crop, max_crop, seed = task
    rng = np.random.default_rng([seed, index, list(VIEWS).index(view)])
    try:
        waveform = trim_silence(load_audio(path))
    except DeepfakeAudioError as e:  # a bad clip is reported and left out
        print(f"skip {path}: {e}", file=sys.stderr)
        return index, None, 0.0
    crop = int(rng.uniform(min_crop, max_crop) * 16_000) if max_crop > 0 else waveform.numel()
    if waveform.numel() > crop:
        start = int(rng.integers(0, waveform.numel() - crop + 1))
        waveform = waveform[start : start + crop]
    audio = build_augmentation(VIEWS[view])(waveform.numpy(), rng)
    audio = np.nan_to_num(audio).clip(-4.0, 4.0)
    with torch.inference_mode():
        batch = torch.from_numpy(audio)[None]
        if _FRAMES:  # every frame of the lowest blocks' states, (frames, states, width), half precision
            out = _MODEL.hidden_states(batch)[0].transpose(0, 1).numpy().astype(np.float16)
        else:
            out = _MODEL.statistics(batch).numpy()[0].astype(np.float32)
    return index, out, audio.shape[0] / 16_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", action="append", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--views", default="clean,codec,channel")
    parser.add_argument("--encoder", default="whisper-base")
    parser.add_argument("--min-crop", type=float, default=1.0)
    parser.add_argument("--max-crop", type=float, default=4.0, help="0: whole clips (held-out data)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="first N clips only (smoke runs)")
    parser.add_argument("--frames", type=int, default=0,
                        help="store every frame of the states of the lowest N blocks instead of statistics")
    args = parser.parse_args()

    rows = read_manifests(args.manifest)
    if args.limit:
        rows = rows[: args.limit]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for view in args.views.split(","):
        target = out / f"{view}.npz"
        if target.exists():
            print(f"{target} exists; skipped")
            continue
        started = time.time()
        tasks = [(i, r["path"], view, args.min_crop, args.max_crop, args.seed) for i, r in enumerate(rows)]
        stats: list[np.ndarray | None] = [None] * len(rows)
        crops = np.zeros(len(rows), dtype=np.float32)
        frames = written = None
        if args.frames:
            # Ragged frames go straight into one memory-mapped array (an upper bound on its size, cut at the
            # end); each clip's `stats` row is then its (offset, count) in it.
            bound = sum(int(min(float(r["duration_s"]), max(args.max_crop, 0) or 1e9) * 50) + 2 for r in rows)
            frames = np.lib.format.open_memmap(out / f"{view}.frames.tmp.npy", mode="w+", dtype=np.float16,
                                               shape=(bound, args.frames + 1, _width(args.encoder)))
            written = 0
        with mp.get_context("spawn").Pool(args.workers, initializer=_init, initargs=(args.encoder, args.frames)) as pool:
            for n, (i, s, crop) in enumerate(pool.imap_unordered(_work, tasks, chunksize=8)):
                if frames is not None and s is not None:
                    frames[written : written + len(s)] = s
                    s, written = np.array([written, len(s)]), written + len(s)
                stats[i], crops[i] = s, crop
                if n % 500 == 0:
                    print(f"{view}: {n}/{len(rows)} clips, {time.time() - started:.0f} s", flush=True)
        keep = [i for i, s in enumerate(stats) if s is not None]
        if frames is not None:
            frames.flush()
            np.save(out / f"{view}.frames.npy", frames[:written])
            del frames
            os.remove(out / f"{view}.frames.tmp.npy")
        np.savez(
            str(target) + ".tmp.npz",
            stats=np.stack([stats[i] for i in keep]),
            label=np.array([rows[i]["label"] == "bonafide" for i in keep]),
            source=np.array([rows[i]["source"] for i in keep]),
            system=np.array([rows[i]["system"] for i in keep]),
            path=np.array([rows[i]["path"] for i in keep]),
            crop_s=crops[keep],
        )
        os.replace(str(target) + ".tmp.npz", target)
        print(f"{view}: {len(keep)} clips in {time.time() - started:.0f} s -> {target}", flush=True)


if __name__ == "__main__":
    main()
