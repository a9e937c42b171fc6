"""The upload page end to end in headless Chromium: the real `serve` command with the bundled model.

Driven by the `playwright` package pointed at the system's Chromium (Debian's `chromium`; no browser is
downloaded). Skipped with the reason when either is missing, unless DEEPFAKE_AUDIO_REQUIRE_BROWSER is set
(CI sets it), in which case a missing browser fails the test instead. Screenshots are written under the
test's tmp dir and to `test-artifacts/` in the repository root.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
ARTIFACTS = REPO / "test-artifacts"
SAMPLE_RATE = 16_000
# Scoring on a shared 2-core CI machine, with whatever model is bundled: generous, never a speed test.
ANALYSIS_TIMEOUT_MS = 300_000

pytest.importorskip("fastapi", reason="the web page needs the `serve` extra")


def _browser_or_skip() -> tuple[object, str]:
    """The playwright module and a Chromium executable, or a skip (a failure when CI requires them)."""
    required = os.environ.get("DEEPFAKE_AUDIO_REQUIRE_BROWSER") == "1"
    try:
        from playwright import sync_api
    except ImportError:
        reason = "the browser test needs the `playwright` package (in the dev extra)"
        pytest.fail(reason) if required else pytest.skip(reason)
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        reason = "the browser test needs Chromium (Debian: apt-get install chromium), none found on PATH"
        pytest.fail(reason) if required else pytest.skip(reason)
    return sync_api, executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`deepfake-audio serve` with the bundled model on a free local port; yields its base URL."""
    log_path = tmp_path_factory.mktemp("server") / "serve.log"
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "deepfake_audio", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser():
    sync_api, executable = _browser_or_skip()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=["--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


def _example(name: str) -> np.ndarray:
    wave, rate = sf.read(EXAMPLES / name, dtype="float32")
    assert rate == SAMPLE_RATE
    return wave


def _three_minute_recording(path: Path) -> Path:
    """Three minutes of real example speech with 40 s of the machine-made examples spliced in at 2:00."""
    real = [_example("real/ljspeech_original_0.flac"), _example("real/librispeech_198-209-0000.flac")]
    fake = [_example("fake/melgan_generated_0.flac"), _example("fake/matcha_tts_MAT-100_1.flac")]
    parts, seconds = [], 0.0
    while seconds < 180.0:
        pool = fake if 120.0 <= seconds < 160.0 else real
        clip = pool[len(parts) % 2]
        parts.append(clip)
        seconds += clip.size / SAMPLE_RATE
    wave = np.concatenate(parts)[: 180 * SAMPLE_RATE]
    sf.write(path, wave, SAMPLE_RATE)
    return path


def _expected_verdict(report: dict) -> tuple[str, str]:
    """The headline and sureness the page must show, from the page's published bands (its guide table)."""
    no_speech = report.get("no_verdict") or any(w.startswith("no speech found") for w in report["warnings"])
    if no_speech or report["label"] is None:
        return "No speech found", ""
    p = report["p_fake"]
    if report["label"] == "fake" and report.get("segments"):
        p = max([p] + [s["p_fake"] for s in report["segments"]])
    chance = p if report["label"] == "fake" else 1 - p
    sure = "Very sure" if chance >= 0.9 else "Fairly sure" if chance >= 0.7 else "Unsure: a close call"
    return ("Likely machine-made" if report["label"] == "fake" else "Likely real"), sure


def _ticks(card) -> list[str]:
    return [t.strip() for t in card.locator('[data-testid="timeline"] .tick').all_inner_texts()]


def _assert_inside(card) -> None:
    """Everything on the timeline lies within its width: nothing runs past the right edge."""
    timeline = card.locator('[data-testid="timeline"]')
    box = timeline.bounding_box()
    overflow = timeline.evaluate(
        "(t) => [...t.querySelectorAll('.bar, .tick')].map((e) => e.getBoundingClientRect())"
        ".filter((r) => r.left < t.getBoundingClientRect().left - 1 || r.right > t.getBoundingClientRect().right + 1)"
        ".length"
    )
    assert box["width"] > 0 and overflow == 0


def _save(page, name: str, tmp_path: Path) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    assert shot.stat().st_size > 10_000  # a real rendering, not an empty page
    return shot


def _wait_for_result(page, card, errors: list[str], timeout_ms: int) -> None:
    """Wait for a card's verdict and timeline; a script error on the page fails at once, with its text."""
    deadline = time.monotonic() + timeout_ms / 1000
    verdict = card.locator('[data-testid="verdict"]')
    ticks = card.locator('[data-testid="timeline"] .tick')
    while not (verdict.is_visible() and ticks.count()):
        assert not errors, f"script error on the page: {errors}"
        status = card.locator(".status").inner_text()
        assert "Could not" not in status, status
        assert time.monotonic() < deadline, f"no result after {timeout_ms / 1000:.0f} s; status: {status!r}"
        page.wait_for_timeout(250)


def _download_report(page, card) -> dict:
    with page.expect_download() as info:
        card.get_by_role("button", name="Download report (JSON)").click()
    return json.loads(Path(info.value.path()).read_text())


def test_page_analyses_a_clip_a_long_recording_and_silence(browser, server, tmp_path):
    clip = EXAMPLES / "real" / "ljspeech_original_0.flac"
    long_recording = _three_minute_recording(tmp_path / "three_minutes.wav")
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(3 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # A Content-Security-Policy that blocked the page's own script or style would show up here.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(server)
    # No Analyse button: choosing the files starts the analysis.
    assert page.get_by_role("button", name="Analyse").count() == 0
    page.set_input_files("#file", [str(clip), str(long_recording), str(silence)])

    cards = page.locator("article.card")
    assert cards.count() == 3
    for i in range(3):
        _wait_for_result(page, cards.nth(i), errors, ANALYSIS_TIMEOUT_MS)
    page.wait_for_timeout(300)  # let the waveforms, decoded in the browser, paint

    reports = [_download_report(page, cards.nth(i)) for i in range(3)]
    assert [r["path"] for r in reports] == ["ljspeech_original_0.flac", "three_minutes.wav", "silence.wav"]
    for card, report in zip([cards.nth(i) for i in range(3)], reports):
        headline, sure = _expected_verdict(report)
        verdict = card.locator('[data-testid="verdict"]').inner_text()
        assert verdict.startswith(headline) and sure in verdict, (verdict, report)
        # One bar per scored window, and every segment the server reported is marked on the timeline.
        assert card.locator(".bar").count() == len(report["windows"])
        expected_marks = 0 if headline == "No speech found" else len(report.get("segments") or [])
        assert card.locator(".bars .segment").count() == expected_marks
        _assert_inside(card)

    clip_card, long_card, silence_card = (cards.nth(i) for i in range(3))
    # A 4 s clip has a single window and still gets its timeline, with labels every second.
    assert len(reports[0]["windows"]) == 1
    assert _ticks(clip_card) == ["0 s", "1 s", "2 s", "3 s", "4 s"]
    assert abs(reports[1]["duration"] - 180.0) < 0.01
    assert {"0:00", "1:00", "2:00", "3:00"} <= set(_ticks(long_card))
    assert "No speech found" in silence_card.locator('[data-testid="verdict"]').inner_text()
    # The waveform was decoded and drawn in the browser (not the fallback note).
    assert clip_card.locator(".wave-note").is_hidden() and long_card.locator(".wave-note").is_hidden()
    # The all-files report is the `detect --json` array: the same objects as the per-file ones.
    with page.expect_download() as info:
        page.get_by_role("button", name="Download all reports (JSON)").click()
    assert json.loads(Path(info.value.path()).read_text()) == reports
    assert "3 files · 3 analysed" in page.locator("#summary").inner_text()
    assert errors == []
    # Nothing is loaded from anywhere but this server (and the page's own blob: URLs): it works offline.
    assert requested and all(url.startswith((server, "blob:", "data:")) for url in requested), requested
    _save(page, "web_page.png", tmp_path)

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    for card in (clip_card, long_card):
        _assert_inside(card)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert set(_ticks(long_card)) >= {"0:00", "1:00", "2:00", "3:00"}
    _save(page, "web_page_phone.png", tmp_path)
    page.close()


def _ten_minute_result() -> dict:
    """What a server with segments and explanations answers for a 10-minute edited recording."""
    # Each window lists its three strongest bands (band occlusion), as `explain=true` gives them.
    flagged_bands = [([5500, 8000], 0.30), ([4000, 5500], 0.08), ([0, 300], -0.02)]
    real_bands = [([5500, 8000], -0.05), ([300, 700], -0.03), ([2000, 3000], 0.01)]
    windows = []
    for k in range(299):
        start = 2.0 * k
        inside = 120 <= start + 2 < 160
        p = 0.93 if inside else 0.08
        windows.append({
            "start": start, "end": start + 4.0, "score": 0.0, "p_fake": p, "silent": False,
            "explanation": [{"band_hz": b, "delta": d} for b, d in (flagged_bands if inside else real_bands)],
        })
    return {
        "path": "ten_minutes.flac", "label": "fake", "p_fake": 0.21, "score": 0.5, "threshold": -0.375,
        "duration": 600.0, "windows": windows, "segments": [{"start": 120.0, "end": 160.0, "p_fake": 0.93}],
        "warnings": ["lossy-compressed audio (mp3): compression rewrites the fine spectral detail"],
        "error": None,
    }


def test_page_shows_segments_why_and_no_verdict(browser, server, tmp_path):
    """New fields of the JSON (segments, per-window explanation, no_verdict) as the page renders them."""
    # Ten minutes at 8 kHz in FLAC keeps the upload small; the answer is canned, only the waveform uses it.
    long_file = tmp_path / "ten_minutes.flac"
    sf.write(long_file, np.tile(_example("real/ljspeech_original_0.flac")[::2], 150), SAMPLE_RATE // 2)
    silent_file = tmp_path / "quiet.wav"
    sf.write(silent_file, np.zeros(SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    no_verdict = {"path": "quiet.wav", "label": None, "p_fake": None, "score": None, "threshold": -0.375,
                  "duration": 1.0, "windows": [{"start": 0.0, "end": 1.0, "score": 0.0, "p_fake": 0.5,
                                                "silent": True}],
                  "no_verdict": "no speech found: the audio is silent (every window is below -60 dBFS)", "warnings": [], "error": None}
    sent: list[str] = []

    def answer(route):
        body = route.request.post_data_buffer or b""
        sent.append(route.request.url)
        result = no_verdict if b'filename="quiet.wav"' in body else _ten_minute_result()
        route.fulfill(status=200, content_type="application/json", body=json.dumps(result))

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/detect?*", answer)
    page.goto(server)
    page.check("#explain")
    page.set_input_files("#file", str(long_file))
    # The second file arrives by drag-and-drop onto the zone, as from a file manager.
    page.evaluate(
        """async ([name, b64]) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], name, { type: 'audio/wav' }));
          const zone = document.querySelector('#drop');
          for (const type of ['dragenter', 'dragover', 'drop']) {
            zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
          }
        }""",
        [silent_file.name, base64.b64encode(silent_file.read_bytes()).decode()],
    )
    cards = page.locator("article.card")
    for i in range(2):
        _wait_for_result(page, cards.nth(i), errors, 60_000)
    assert cards.count() == 2  # each file once, whichever way it came
    long_card, quiet_card = cards.nth(0), cards.nth(1)
    assert sent == [server + "detect?explain=true"] * 2

    verdict = long_card.locator('[data-testid="verdict"]').inner_text()
    # Called machine-made on the strength of its segment, though the whole-file average is low.
    assert verdict.startswith("Likely machine-made") and "Very sure" in verdict and "93%" in verdict
    assert "2:00 to 2:40" in long_card.locator(".segments").inner_text()
    assert long_card.locator(".bar").count() == 299
    timeline = long_card.locator('[data-testid="timeline"]')
    mark = long_card.locator(".bars .segment").bounding_box()
    box = timeline.bounding_box()
    assert abs((mark["x"] - box["x"]) / box["width"] - 0.2) < 0.01  # 120 s of 600 s
    assert _ticks(long_card) == ["0:00", "2:00", "4:00", "6:00", "8:00", "10:00"]
    _assert_inside(long_card)
    assert "The file is compressed (mp3)" in long_card.locator(".warnings").inner_text()
    assert errors == []

    long_card.locator(".why summary").click()
    why = long_card.locator(".why-body").inner_text()
    assert "Averaged over the 20 moments" in why and "5.5 kHz–8 kHz\ntoward machine-made" in why, why
    # Choosing one moment on the timeline shows that moment's bands (here 1:00, a real-sounding one).
    box = timeline.bounding_box()
    page.mouse.click(box["x"] + 0.1 * box["width"], box["y"] + 20)
    why = long_card.locator(".why-body").inner_text()
    assert "For 0:58 to 1:02" in why and "5.5 kHz–8 kHz\ntoward real" in why, why
    quiet_verdict = quiet_card.locator('[data-testid="verdict"]').inner_text()
    assert quiet_verdict.startswith("No speech found")
    assert quiet_card.locator(".why").is_hidden()
    long_card.get_by_role("link", name="How to read this").click()
    assert page.locator("#guide table").is_visible()
    _save(page, "web_page_segments.png", tmp_path)
    page.close()


def test_page_asks_for_an_access_key_and_sends_it(browser, server, tmp_path):
    """A server started with API keys answers 401; the page asks for the key and sends it next time."""
    clip = EXAMPLES / "real" / "ljspeech_original_0.flac"
    seen: list[str | None] = []

    def answer(route):
        key = route.request.headers.get("x-api-key")
        seen.append(key)
        if key != "s3cret":
            route.fulfill(status=401, content_type="application/json",
                          body=json.dumps({"detail": "an API key is required"}))
        else:
            route.continue_()

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.route("**/detect", answer)
    page.goto(server)
    assert page.locator("#key-row").is_hidden()  # this server needs no key, and /health says so
    page.set_input_files("#file", str(clip))
    first = page.locator("article.card").nth(0)
    first.locator(".status.error").wait_for(timeout=60_000)
    assert "needs an access key" in first.locator(".status").inner_text()
    assert page.locator("#key-row").is_visible()
    page.fill("#api-key", "s3cret")
    page.set_input_files("#file", str(clip))
    second = page.locator("article.card").nth(1)
    _wait_for_result(page, second, [], ANALYSIS_TIMEOUT_MS)
    assert seen == [None, "s3cret"]
    assert "1 could not be analysed" in page.locator("#summary").inner_text()
    page.close()
