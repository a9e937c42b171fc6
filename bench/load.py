"""Load on the HTTP server: N concurrent clients uploading one clip, on loopback, for a bounded time.

Starts `deepfake-audio serve` as a child process on 127.0.0.1 (only), waits for /health, then measures:
- idle: /health latency before any load (the baseline, same run);
- load: `--clients` clients, each POSTing the clip to /detect in a loop for `--seconds` (and at most
  `--max-requests` in all), while a separate prober process GETs /health every 50 ms;
  requests/s, upload latency p50/p99, /health p50/p99, errors, server RSS before/after (and peak);
- abuse: a 16 KB WAV whose header claims 1 Hz, a small FLAC of one hour of silence, and a request head
  announcing a 1 GB body followed by a few bytes: status, time to answer, server RSS after.
Several `--workers` values (e.g. `--workers 1,2`) run one after another, each on a fresh server, so the
thread scaling is measured in the same run. The clients share the machine's cores with the server.

    python bench/load.py [--clients 24] [--seconds 15] [--workers 2] [--model PATH] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish

HOST = "127.0.0.1"  # loopback only: this benchmark never talks to another machine
HEALTH_INTERVAL = 0.05
STARTUP_TIMEOUT = 120.0


def speechlike_wav(seconds: float, sample_rate: int = 16_000) -> bytes:
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    wave = 0.3 * wave / np.abs(wave).max() + 0.01 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, wave.astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def wav_claiming_rate(sample_rate: int, data_bytes: int) -> bytes:
    """PCM-16 mono WAV with `data_bytes` of samples and a header claiming `sample_rate`."""
    data = np.random.default_rng(1).integers(-3000, 3000, data_bytes // 2, dtype=np.int16).tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE" + b"fmt "
            + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)


def silent_flac(seconds: float, sample_rate: int = 8_000) -> bytes:
    """FLAC of digital silence: tiny on disk (about 50 KB per hour), long once decoded."""
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", sample_rate, 1, format="FLAC", subtype="PCM_16") as f:
        block = np.zeros(60 * sample_rate, dtype=np.int16)
        for _ in range(int(seconds // 60)):
            f.write(block)
    return buffer.getvalue()


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---- the server -----------------------------------------------------------------------------------


def start_server(port: int, workers: int, queue: int, model: str | None, log: BinaryIO) -> subprocess.Popen:
    """The server as a child process; its stderr goes to `log` (a file: a full pipe would stall it)."""
    command = [sys.executable, "-m", "deepfake_audio", "serve", "--host", HOST, "--port", str(port),
               "--workers", str(workers), "--queue", str(queue)]
    if model:
        command += ["--model", model]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    stop = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < stop:
        if server.poll() is not None:
            log.seek(0)
            raise SystemExit(f"server exited: {log.read().decode()[-2000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("server did not start in time")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()


# ---- /health prober (its own process, so the load generator's own delays are not counted) ----------


def probe_health(port: int, seconds: float, out: multiprocessing.Queue) -> None:
    import http.client

    latencies, failures = [], 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
            conn.request("GET", "/health")
            ok = conn.getresponse().status == 200
            conn.close()
        except OSError:
            ok = False
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            failures += 1
        time.sleep(HEALTH_INTERVAL)
    out.put((latencies, failures))


def health_during(port: int, seconds: float) -> tuple[multiprocessing.Process, multiprocessing.Queue]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=probe_health, args=(port, seconds, queue), daemon=True)
    process.start()
    return process, queue


# ---- load -----------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0


async def run_clients(port: int, clip: bytes, clients: int, seconds: float, max_requests: int) -> LoadResult:
    import httpx

    result = LoadResult()
    budget = {"left": max_requests}
    stop = time.monotonic() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop and budget["left"] > 0:
            budget["left"] -= 1
            started = time.perf_counter()
            try:
                response = await http.post("/detect", files={"file": ("clip.wav", clip, "audio/wav")})
                if response.status_code == 200 and response.json().get("label") in ("real", "fake"):
                    result.latencies.append(time.perf_counter() - started)
                    continue
                key = f"HTTP {response.status_code}"
            except httpx.HTTPError as e:
                key = type(e).__name__
            result.errors[key] = result.errors.get(key, 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", limits=limits, timeout=120) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        result.elapsed = time.perf_counter() - started
    return result


# ---- abuse ----------------------------------------------------------------------------------------


def timed_upload(port: int, name: str, data: bytes) -> tuple[int, float]:
    import httpx

    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=600) as http:  # made before the clock starts
        started = time.perf_counter()
        response = http.post("/detect", files={"file": (name, data, "audio/wav")})
        return response.status_code, time.perf_counter() - started


def timed_huge_content_length(port: int) -> tuple[int, float]:
    """Announce a 1 GB body, send 64 bytes of it, and time the answer (a server reading the body first
    would wait here until the 120 s socket timeout)."""
    head = (b"POST /detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 1073741824\r\n\r\n")
    started = time.perf_counter()
    with socket.create_connection((HOST, port), timeout=120) as conn:
        conn.sendall(head + b"--x\r\n" + b"a" * 59)
        try:
            answer = conn.recv(4096)
        except TimeoutError:
            return 0, time.perf_counter() - started
    elapsed = time.perf_counter() - started
    return (int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0), elapsed


# ---- one configuration ----------------------------------------------------------------------------


def measure(workers: int, args: argparse.Namespace, clip: bytes, silent_hour: bytes) -> dict:
    port = free_port()
    with tempfile.TemporaryFile() as log:
        server = start_server(port, workers, args.queue, args.model, log)
        return _measure(server, port, workers, args, clip, silent_hour)


def _measure(server: subprocess.Popen, port: int, workers: int, args: argparse.Namespace, clip: bytes,
             silent_hour: bytes) -> dict:
    try:
        idle_probe, idle_queue = health_during(port, 3.0)
        idle_probe.join()
        idle, _ = idle_queue.get()
        timed_upload(port, "warmup.wav", clip)  # the first request pays one-off costs
        rss_before, _ = rss_mb(server.pid)
        probe, probe_queue = health_during(port, args.seconds)
        load = asyncio.run(run_clients(port, clip, args.clients, args.seconds, args.max_requests))
        health, health_failures = probe_queue.get()
        probe.join()
        rss_after, rss_peak = rss_mb(server.pid)
        one_hz_status, one_hz_time = timed_upload(port, "1hz.wav", wav_claiming_rate(1, 16 * 1024))
        rss_one_hz, _ = rss_mb(server.pid)
        hour_status, hour_time = timed_upload(port, "hour.flac", silent_hour)
        rss_hour, _ = rss_mb(server.pid)
        huge_status, huge_time = timed_huge_content_length(port)
        rss_huge, peak_end = rss_mb(server.pid)
        health_after = health_during(port, 1.0)
        health_after[0].join()
        alive = bool(health_after[1].get()[0])
    finally:
        stop_server(server)
    done = len(load.latencies)
    return {
        "workers": workers, "requests": done, "rps": done / load.elapsed if load.elapsed else 0.0,
        "p50": percentile(load.latencies, 50), "p99": percentile(load.latencies, 99),
        "errors": sum(load.errors.values()), "error_kinds": load.errors,
        "health_idle_p99": percentile(idle, 99), "health_p50": percentile(health, 50),
        "health_p99": percentile(health, 99), "health_max": max(health, default=float("nan")),
        "health_probes": len(health), "health_failures": health_failures,
        "rss_before": rss_before, "rss_after": rss_after, "rss_peak": rss_peak,
        "one_hz": (one_hz_status, one_hz_time, rss_one_hz), "hour": (hour_status, hour_time, rss_hour), "huge": (huge_status, huge_time, rss_huge),
        "peak_end": peak_end, "alive_after": alive,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=15.0, help="load duration per configuration")
    parser.add_argument("--clip-seconds", type=float, default=3.0)
    parser.add_argument("--workers", default="2", help="comma-separated worker counts, one server each")
    parser.add_argument("--queue", type=int, default=32, help="the server's --queue")
    parser.add_argument("--max-requests", type=int, default=20_000, help="cap on uploads per configuration")
    parser.add_argument("--model", default=None, help="checkpoint to serve; default: the bundled model")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if not 1 <= args.clients <= 256 or not 0 < args.seconds <= 600:
        raise SystemExit("--clients must be 1-256 and --seconds 0-600: this is a bounded benchmark")
    clip = speechlike_wav(args.clip_seconds)
    silent_hour = silent_flac(3600)
    load_average = os.getloadavg()[0]
    runs = [measure(int(w), args, clip, silent_hour) for w in args.workers.split(",")]

    lines = [
        f"`python bench/load.py --clients {args.clients} --seconds {args.seconds:g} --workers {args.workers}`: "
        f"{args.clients} concurrent clients uploading a {args.clip_seconds:g} s 16 kHz WAV "
        f"({len(clip) // 1024} KB) to `POST /detect` for {args.seconds:g} s, on 127.0.0.1, "
        f"{os.cpu_count()} cores shared by server, clients and the health prober; "
        f"load average {load_average:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. /health is probed every "
        f"{HEALTH_INTERVAL * 1000:.0f} ms from its own process; 'idle' is the same probe before the load.",
        "",
        "| workers | uploads | req/s | p50 s | p99 s | errors | /health p99 idle | /health p50 | /health p99 "
        "| /health max | RSS before / after / peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['workers']} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{r['errors']}{' ' + str(r['error_kinds']) if r['errors'] else ''} | "
            f"{1000 * r['health_idle_p99']:.0f} ms | {1000 * r['health_p50']:.0f} ms | "
            f"{1000 * r['health_p99']:.0f} ms | {1000 * r['health_max']:.0f} ms | "
            f"{r['rss_before']:.0f} / {r['rss_after']:.0f} / {r['rss_peak']:.0f} |")
    lines += ["", "Abuse, after the load (same servers):", "",
              "| workers | request | status | time to answer | server RSS after | /health after |",
              "|---|---|---|---|---|---|"]
    for r in runs:
        for label, (status, seconds, rss) in (("16 KB WAV whose header claims 1 Hz", r["one_hz"]),
                                              (f"{len(silent_hour) // 1024} KB FLAC of 1 h of silence",
                                               r["hour"]),
                                              ("`Content-Length: 1073741824`, 64 bytes sent", r["huge"])):
            lines.append(f"| {r['workers']} | {label} | {status or 'no answer'} | {1000 * seconds:.0f} ms | "
                         f"{rss:.0f} MB | {'ok' if r['alive_after'] else 'NO ANSWER'} |")
    if any(r["health_failures"] for r in runs):
        lines.append("")
        lines.append("/health probes without an answer: " + ", ".join(
            f"{r['health_failures']} of {r['health_failures'] + r['health_probes']} ({r['workers']} workers)"
            for r in runs))
    publish("Server under load (bench/load.py)", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
