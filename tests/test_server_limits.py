"""The server's limits, one test each: body size (early 413, chunked cutoff, one part, total), decode
budget, API keys, CORS, Host, security headers, docs switch, queue (503), time budget (504), batch,
and /health answering while a slow request is being scored."""

from __future__ import annotations

import contextlib
import io
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import synthetic_speechlike

from deepfake_audio import Detector
from deepfake_audio.checkpoint import save_checkpoint
from deepfake_audio.models import build_model

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
from fastapi.testclient import TestClient

from deepfake_audio.server import ServerSettings, api_keys_from_env, create_app, hosts_to_accept

KIB = 1024
SECURITY = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


class GatedDetector(Detector):
    """Scores only once `gate` is open, and counts its calls: a slow request we control."""

    gate: threading.Event
    calls: int

    def __call__(self, source, *, name=None, sample_rate=None, explain=False, decode_budget=None):
        type(self).calls += 1
        if not type(self).gate.wait(timeout=20):
            raise AssertionError("gate never opened")
        return super().__call__(source, name=name, sample_rate=sample_rate, explain=explain,
                                decode_budget=decode_budget)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(build_model("seed-cnn"), tmp_path_factory.mktemp("model") / "m.safetensors")


@pytest.fixture(scope="module")
def detector(checkpoint):
    return Detector.from_pretrained(checkpoint, device="cpu")


@pytest.fixture
def gated(checkpoint):
    cls = type("Gated", (GatedDetector,), {"gate": threading.Event(), "calls": 0})
    yield cls.from_pretrained(checkpoint, device="cpu")
    cls.gate.set()  # never leave a worker thread waiting


def wav(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, synthetic_speechlike(seconds), 16_000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def wav_claiming_rate(sample_rate: int, data_bytes: int) -> bytes:
    """A PCM-16 mono WAV whose header claims `sample_rate`: small on disk, hours long if believed."""
    data = (synthetic_speechlike(data_bytes / 2 / 16_000) * 30_000).astype("<i2").tobytes()[:data_bytes]
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE" + b"fmt "
            + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)


def one_file(name: str = "clip.wav", data: bytes | None = None) -> dict:
    return {"file": (name, wav() if data is None else data, "audio/wav")}


@contextlib.contextmanager
def live_server(app: object) -> Iterator[tuple[str, int]]:
    """The app on a real uvicorn socket on 127.0.0.1 (raw-socket tests need a real HTTP server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def raw_exchange(address: tuple[str, int], head: bytes, body_parts: list[bytes], timeout: float = 10.0) -> bytes:
    """Send a request head and some body bytes, then read whatever the server answers (until it closes
    or `timeout`): a server waiting for the rest of the body makes this time out, and the test fail.

    A server that answers early and closes makes further sends fail with a broken pipe or a reset; like a
    real client, this stops sending then and reads the answer, which Linux keeps queued after the reset."""
    with socket.create_connection(address, timeout=timeout) as conn:
        conn.sendall(head)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for part in body_parts:
                conn.sendall(part)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
    return answer


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


# ---- body size ------------------------------------------------------------------------------------


def test_huge_content_length_is_refused_before_the_body_is_read(detector):
    head = (b"POST /detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 1073741824\r\n\r\n")
    with live_server(create_app(detector, max_upload_mb=1)) as address:
        answer = raw_exchange(address, head, [b"--x\r\n"])  # 5 of the 1 GB promised
    assert status_of(answer) == 413
    assert b"connection: close" in answer.lower() and b"nosniff" in answer


def test_chunked_body_is_cut_off_at_the_limit(detector):
    head = (b"POST /detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    part = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    chunks = [b"%x\r\n%s\r\n" % (len(data), data) for data in [part] + [b"a" * 16 * KIB] * 10]
    # 160 KiB against a limit of 64 KiB + the form allowance, and no final chunk: only a cut answers.
    with live_server(create_app(detector, max_upload_mb=1 / 16)) as address:
        answer = raw_exchange(address, head, chunks)
    assert status_of(answer) == 413


def test_exactly_one_file_part(detector):
    client = TestClient(create_app(detector))
    two = client.post("/detect", files=[("file", ("a.wav", wav(), "audio/wav")), ("file", ("b.wav", wav(), "audio/wav"))])
    assert two.status_code == 400 and "exactly one" in two.json()["detail"]
    extra_field = client.post("/detect", files=one_file(), data={"note": "x" * 1000})
    assert extra_field.status_code == 400
    wrong_name = client.post("/detect", files={"upload": ("a.wav", wav(), "audio/wav")})
    assert wrong_name.status_code == 400 and "'file'" in wrong_name.json()["detail"]
    not_multipart = client.post("/detect", content=wav(), headers={"content-type": "audio/wav"})
    assert not_multipart.status_code == 400
    assert client.post("/detect", files=one_file()).status_code == 200


def test_total_body_limit(detector):
    client = TestClient(create_app(detector, max_upload_mb=0.5, max_batch_mb=0.5))
    # the case: a valid file plus extra large parts
    padded = [("file", ("a.wav", wav(), "audio/wav"))] + [("pad", ("p.bin", b"0" * 200 * KIB, "x/y"))] * 5
    assert client.post("/detect", files=padded).status_code == 413
    batch = [("files", (f"{i}.wav", wav(4.0), "audio/wav")) for i in range(5)]  # 5 x 128 KB > 0.5 MiB
    assert client.post("/detect/batch", files=batch).status_code == 413
    assert client.post("/detect/batch", files=batch[:3]).status_code == 200


def test_decode_budget_refuses_a_tiny_file_claiming_1_hz(detector):
    client = TestClient(create_app(detector))
    started = time.perf_counter()
    one_hz = client.post("/detect", files=one_file("1hz.wav", wav_claiming_rate(1, 16 * KIB)))
    assert one_hz.status_code == 400 and "1hz.wav" in one_hz.json()["detail"]
    assert "sample rate 1 Hz" in one_hz.json()["detail"]
    assert time.perf_counter() - started < 30  # refused from the header; decoding it took minutes
    # A plausible rate but a long claimed duration: 10 s at 4 kHz against a 5 s budget
    long = TestClient(create_app(detector, max_audio_seconds=5)).post(
        "/detect", files=one_file("long.wav", wav_claiming_rate(4000, 80_000)))
    assert long.status_code == 400 and "at most 5 s" in long.json()["detail"]
    silence = io.BytesIO()  # 11 minutes of digital silence: 30 KB of FLAC
    sf.write(silence, np.zeros(660 * 4000, dtype=np.int16), 4000, format="FLAC")
    eleven_minutes = client.post("/detect", files=one_file("quiet.flac", silence.getvalue()))
    assert eleven_minutes.status_code == 400 and "at most 600 s" in eleven_minutes.json()["detail"]


# ---- API keys, CORS, Host -------------------------------------------------------------------------


def test_api_key_required_and_accepted(detector):
    client = TestClient(create_app(detector, api_keys=("k1-secret", "k2-secret")))
    assert client.get("/").status_code == 200  # the page loads, to ask for the key
    assert client.get("/health").json() == {"status": "ok", "api_key_required": True}
    missing = client.post("/detect", files=one_file())
    assert missing.status_code == 401 and "www-authenticate" in missing.headers
    assert client.post("/detect", files=one_file(), headers={"x-api-key": "k1-secreT"}).status_code == 401
    assert client.get("/info").status_code == 401
    assert client.post("/detect", files=one_file(), headers={"x-api-key": "k2-secret"}).status_code == 200
    bearer = {"authorization": "Bearer k1-secret"}
    assert client.post("/detect", files=one_file(), headers=bearer).status_code == 200
    assert client.get("/info", headers=bearer).status_code == 200


def test_api_keys_from_environment():
    assert api_keys_from_env({"DEEPFAKE_AUDIO_API_KEYS": " a1, b2 c3,,"}) == ("a1", "b2", "c3")
    assert api_keys_from_env({}) == ()
    with pytest.raises(ValueError):
        ServerSettings(api_keys=("",))


def test_cross_origin_post_refused_unless_allowed(gated):
    type(gated).gate.set()
    closed = TestClient(create_app(gated))
    refused = closed.post("/detect", files=one_file(), headers={"origin": "https://evil.example"})
    assert refused.status_code == 403 and type(gated).calls == 0  # refused before scoring
    assert "access-control-allow-origin" not in refused.headers
    same = closed.post("/detect", files=one_file(), headers={"origin": "http://testserver"})
    assert same.status_code == 200  # the page itself
    assert closed.post("/detect", files=one_file()).status_code == 200  # no Origin: curl, scripts

    opened = TestClient(create_app(gated, allow_origins=("https://app.example",)))
    allowed = opened.post("/detect", files=one_file(), headers={"origin": "https://app.example"})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://app.example"
    preflight = opened.options("/detect", headers={"origin": "https://app.example",
                                                   "access-control-request-method": "POST",
                                                   "access-control-request-headers": "x-api-key"})
    assert preflight.status_code == 204 and "x-api-key" in preflight.headers["access-control-allow-headers"]
    assert opened.post("/detect", files=one_file(), headers={"origin": "https://other.example"}).status_code == 403


def test_hosts_to_accept():
    assert hosts_to_accept("127.0.0.1") == ("127.0.0.1", "localhost", "::1")
    assert hosts_to_accept("0.0.0.0") is None
    assert hosts_to_accept("127.0.0.1", ["detect.example"])[-1] == "detect.example"
    assert hosts_to_accept("127.0.0.1", ["*"]) is None


def test_serve_refuses_bad_settings_with_one_line():
    from typer.testing import CliRunner

    from deepfake_audio.cli import app

    result = CliRunner().invoke(app, ["serve", "--workers", "0"])
    assert result.exit_code == 2 and "workers must be at least 1" in result.output


def test_host_header_checked_when_a_list_is_given(detector):
    client = TestClient(create_app(detector, allowed_hosts=("127.0.0.1", "localhost")), base_url="http://localhost:8000")
    assert client.get("/health").status_code == 200
    rebound = client.get("/health", headers={"host": "attacker.example:8000"})
    assert rebound.status_code == 400


# ---- headers and docs -----------------------------------------------------------------------------


def test_security_headers_on_every_response(detector):
    client = TestClient(create_app(detector, max_upload_mb=0.1, api_keys=("key",)))
    key = {"x-api-key": "key"}
    responses = {
        "page": client.get("/"),
        "health": client.get("/health"),
        "info": client.get("/info", headers=key),
        "scored": client.post("/detect", files=one_file(), headers=key),
        "bad audio 400": client.post("/detect", files=one_file("x.wav", b"not audio"), headers=key),
        "no key 401": client.post("/detect", files=one_file()),
        "cross-origin 403": client.post("/detect", headers={"origin": "https://evil.example", **key}),
        "404": client.get("/nowhere", headers=key),
        "405": client.get("/detect", headers=key),
        "413": client.post("/detect", files=one_file(data=wav(10.0)), headers=key),
    }
    expected_status = {"page": 200, "health": 200, "info": 200, "scored": 200, "bad audio 400": 400,
                       "no key 401": 401, "cross-origin 403": 403, "404": 404, "405": 405, "413": 413}
    for what, response in responses.items():
        assert response.status_code == expected_status[what], what
        for name, value in SECURITY.items():
            assert response.headers.get(name) == value, (what, name)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, what
        assert "http" not in csp, (what, csp)  # nothing external may load
    page_csp = responses["page"].headers["content-security-policy"]
    assert "'sha256-" in page_csp and "unsafe-inline" not in page_csp


def test_inline_csp_allows_exactly_the_page_blocks():
    from deepfake_audio.server.guards import inline_csp

    csp = inline_csp("<style>b{}</style><script>1</script><script src='x.js'></script>")
    # sha256 of "1" and of "b{}", base64: the blocks as written, and only those
    assert "script-src 'self' 'sha256-a4ayc/80/OGda4BO/1o/V0etpOqiLx1JwB5S3beHW0s='" in csp
    assert "style-src 'self' 'sha256-7yqHVAesot11p6HczDsgKRipvI5UPgs97z80zNXlans='" in csp
    assert csp.count("'sha256-") == 2


def test_docs_off_by_default_and_on_by_switch(detector):
    closed = TestClient(create_app(detector))
    assert closed.get("/docs").status_code == 404 and closed.get("/openapi.json").status_code == 404
    opened = TestClient(create_app(detector, docs=True, api_keys=("key",)))
    assert opened.get("/docs").status_code == 200
    assert "/detect/batch" in opened.get("/openapi.json").json()["paths"]
    assert "cdn.jsdelivr.net" in opened.get("/docs").headers["content-security-policy"]


# ---- workers, queue, time budget, batch -----------------------------------------------------------


@contextlib.contextmanager
def serving(gated: GatedDetector, **settings) -> Iterator[TestClient]:
    """A started TestClient on a gated app. When the block ends, even by a failed assertion, the gate opens
    and the requests still in flight (`_post_in_thread`) finish before the client shuts the app down:
    shutting down under a request that is still being answered never returns."""
    with TestClient(create_app(gated, **settings)) as client:
        client.in_flight = []
        try:
            yield client
        finally:
            type(gated).gate.set()
            for thread in client.in_flight:
                thread.join(20)


def _post_in_thread(client: TestClient) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(client.post("/detect", files=one_file())))
    thread.start()
    client.in_flight.append(thread)
    return thread, out


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    stop = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < stop, "condition never met"
        time.sleep(0.01)


def test_health_answers_while_a_slow_request_is_scored(gated):
    cls = type(gated)
    with serving(gated, workers=1, max_batch_files=1) as client:
        thread, out = _post_in_thread(client)
        _wait_until(lambda: cls.calls == 1)  # the upload is inside the (blocked) worker
        assert client.get("/health").status_code == 200
        assert client.get("/").status_code == 200
        assert not cls.gate.is_set() and not out  # answered while the scoring still waits
        cls.gate.set()
        thread.join(20)
    assert out[0].status_code == 200


def test_queue_full_answers_503_with_retry_after(gated):
    cls = type(gated)
    with serving(gated, workers=1, queue=1, max_batch_files=2) as client:
        first, out1 = _post_in_thread(client)
        _wait_until(lambda: cls.calls == 1)
        assert client.get("/info").json()["load"] == {"jobs": 1, "capacity": 2}
        second, out2 = _post_in_thread(client)  # waits in the queue
        _wait_until(lambda: client.get("/info").json()["load"]["jobs"] == 2)  # the worker and queue are full
        busy = client.post("/detect", files=one_file())
        assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
        assert busy.headers["x-content-type-options"] == "nosniff"
        cls.gate.set()
        first.join(20)
        second.join(20)
        assert out1[0].status_code == 200 and out2[0].status_code == 200
        assert client.post("/detect", files=one_file()).status_code == 200  # slots were given back


def test_time_budget_answers_504(gated):
    cls = type(gated)
    with serving(gated, workers=1, time_budget=0.3, max_batch_files=2) as client:
        late = client.post("/detect", files=one_file("slow.wav"))
        assert late.status_code == 504 and "slow.wav" in late.json()["detail"]
        cls.gate.set()


def test_batch_in_order_with_a_bad_file(detector):
    client = TestClient(create_app(detector, max_batch_files=4))
    files = [("files", ("a.wav", wav(1.0), "audio/wav")), ("files", ("bad.wav", b"junk", "audio/wav")),
             ("files", ("1hz.wav", wav_claiming_rate(1, 4 * KIB), "audio/wav")),
             ("files", ("c.wav", wav(2.5), "audio/wav"))]
    response = client.post("/detect/batch", files=files)
    assert response.status_code == 200
    results = response.json()
    assert [r["path"] for r in results] == ["a.wav", "bad.wav", "1hz.wav", "c.wav"]
    assert results[0]["label"] in ("real", "fake") and results[3]["label"] in ("real", "fake")
    assert results[1]["label"] is None and "bad.wav" in results[1]["error"]
    assert "sample rate 1 Hz" in results[2]["error"]
    single = client.post("/detect", files=one_file("c.wav", wav(2.5))).json()
    assert results[3] == single  # the same object as /detect gives
    too_many = client.post("/detect/batch", files=files + [files[0]])
    assert too_many.status_code == 400 and "1 to 4 files" in too_many.json()["detail"]


def test_concurrent_workers_give_the_same_scores_as_one(detector):
    files = [("files", (f"{i}.wav", wav(2.5), "audio/wav")) for i in range(4)]
    parallel = TestClient(create_app(detector, workers=4)).post("/detect/batch", files=files).json()
    serial = TestClient(create_app(detector, workers=1)).post("/detect/batch", files=files).json()
    assert [r["error"] for r in parallel] == [None] * 4
    assert [{**r, "path": ""} for r in parallel] == [{**r, "path": ""} for r in serial]
    assert all(r["score"] == parallel[0]["score"] for r in parallel)


def test_batch_larger_than_the_queue_is_a_configuration_error():
    with pytest.raises(ValueError, match="max_batch_files"):
        ServerSettings(workers=2, queue=4, max_batch_files=16)


def test_batch_file_over_the_file_limit_is_reported_alone(detector):
    client = TestClient(create_app(detector, max_upload_mb=0.05))
    files = [("files", ("small.wav", wav(1.0), "audio/wav")), ("files", ("big.wav", wav(3.0), "audio/wav"))]
    results = client.post("/detect/batch", files=files).json()
    assert results[0]["error"] is None and "upload larger" in results[1]["error"]


def test_batch_over_the_time_budget_reports_each_file(gated):
    with serving(gated, workers=1, time_budget=0.3, max_batch_files=2) as client:
        results = client.post("/detect/batch", files=[("files", (f"{i}.wav", wav(), "audio/wav"))
                                                       for i in range(2)]).json()
    assert all("time budget" in r["error"] for r in results)
