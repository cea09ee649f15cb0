#!/usr/bin/env python3
"""The limits of ``rawlive show --html`` on a long capture: render CPU, page size, open time.

Usage::

    python scripts/bench_viewer.py [--minutes 30] [--quick] [--keep DIR] [--no-browser]

Writes a synthetic capture of a spoken conversation of ``--minutes`` minutes
(each ~10 s cycle: 3 s of 16 kHz user audio in 100 ms ``realtimeInput``
chunks, an input transcript, 6 s of 24 kHz model audio in 40 ms chunks with
output transcripts, ``generationComplete``, ``turnComplete`` with usage and a
new handle; every 10 minutes a ``goAway`` and a handover to a new
connection), then measures:

* ``CPU render``: ``time.process_time`` of :func:`rawlive.capture.html.render_html`
  (the capture already read), median of 3; next to it the CPU of reading the
  capture and of the text timeline (``format_timeline``) as a floor from the
  same run (``RATIO``);
* ``PAGE``: the page's size in MB and how much of it is embedded audio;
* ``OPEN``: in Debian's ``chromium`` (headless), the milliseconds from
  navigation start until the page's script has drawn everything
  (``performance.now()`` it writes into ``data-ready-ms``), and the wall time
  of the browser run next to a run on a blank page (the floor).

The issue's limits are: under 5 s CPU to render a 30-minute capture, a page
under 15 MB, open in under 2 s.
"""

from __future__ import annotations

import argparse
import base64
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import orjson  # noqa: E402

from rawlive.capture.format import CaptureWriter, read_capture  # noqa: E402
from rawlive.capture.html import DEFAULT_AUDIO_BUDGET, render_html  # noqa: E402
from rawlive.capture.tools import format_timeline  # noqa: E402

ENDPOINT = "wss://example.invalid/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=REDACTED"
MODEL = "models/bench-live"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def speech(seconds: float, rate: int, pitch: float) -> bytes:
    """A tone under a syllable-like envelope: a waveform that looks like speech."""
    n = int(seconds * rate)
    out = bytearray()
    for i in range(n):
        t = i / rate
        env = abs(math.sin(math.pi * t * 3.1)) * (0.4 + 0.6 * abs(math.sin(t * 0.7)))
        out += int(9000 * env * math.sin(2 * math.pi * pitch * t)).to_bytes(
            2, "little", signed=True
        )
    return bytes(out)


def dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def write_capture(path: Path, minutes: float) -> dict[str, int]:
    user = speech(3.0, 16_000, 180.0)
    reply = speech(6.0, 24_000, 220.0)
    user_chunks = [base64.b64encode(user[i : i + 3200]).decode() for i in range(0, len(user), 3200)]
    reply_chunks = [
        base64.b64encode(reply[i : i + 1920]).decode() for i in range(0, len(reply), 1920)
    ]
    counts = {"turns": 0, "frames": 0, "connections": 1}
    end = minutes * 60
    t = 0.0
    conn = 1
    conn_started = 0.0
    handle = "h0"
    with CaptureWriter(path, source="scripts/bench_viewer.py (synthetic)") as cw:
        cw.open_conn(conn, ENDPOINT, MODEL, t)

        def frame(direction: str, value: object, dt: float) -> None:
            nonlocal t
            t += dt
            payload: str | bytes = dumps(value)
            if direction == "server":
                payload = payload.encode()
            cw.frame(conn, direction, payload, t)
            counts["frames"] += 1

        setup = {"setup": {"model": MODEL, "generationConfig": {"responseModalities": ["AUDIO"]},
                           "sessionResumption": {}, "inputAudioTranscription": {},
                           "outputAudioTranscription": {}}}  # fmt: skip
        frame("client", setup, 0.001)
        frame("server", {"setupComplete": {}}, 0.3)
        while t < end:
            if t - conn_started > 600:  # the ~10 minute connection lifetime: hand over
                frame("server", {"goAway": {"timeLeft": "50s"}}, 0.01)
                conn += 1
                counts["connections"] += 1
                cw.open_conn(conn, ENDPOINT, MODEL, t + 0.2)
                resume = {"setup": {**setup["setup"], "sessionResumption": {"handle": handle}}}
                frame("client", resume, 0.2)
                frame("server", {"setupComplete": {}}, 0.3)
                cw.close_conn(conn - 1, 1000, "handover", "client", t=t + 0.01)
                conn_started = t
            for data in user_chunks:
                audio = {
                    "realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": data}}
                }
                frame("client", audio, 0.1)
            frame("server", {"serverContent": {"inputTranscription": {"text": "a question"}}}, 0.2)
            for i, data in enumerate(reply_chunks):
                part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}
                frame(
                    "server",
                    {"serverContent": {"modelTurn": {"parts": [part]}}},
                    0.3 if i == 0 else 0.04,
                )
                if i % 12 == 0:
                    text = {"outputTranscription": {"text": f" words {i}"}}
                    frame("server", {"serverContent": text}, 0.0)
            frame("server", {"serverContent": {"generationComplete": True}}, 0.01)
            usage = {"promptTokenCount": 100 + counts["turns"] * 250, "responseTokenCount": 150,
                     "totalTokenCount": 250 + counts["turns"] * 250}  # fmt: skip
            frame("server", {"serverContent": {"turnComplete": True}, "usageMetadata": usage}, 0.01)
            handle = f"h{counts['turns']}"
            frame(
                "server",
                {"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}},
                0.01,
            )
            counts["turns"] += 1
            t += 0.5
        cw.close_conn(conn, 1000, "", "client", t=t + 0.2)
    return counts


def cpu(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    """CPU seconds of each of ``repeat`` calls, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        times.append(time.process_time() - start)
    return times, result


def ratio(label: str, top: list[float], bottom: list[float]) -> str:
    """A ``RATIO`` line: best over best, and the median of the per-round ratios."""
    rounds = [a / max(b, 1e-9) for a, b in zip(top, bottom, strict=True)]
    best = min(top) / max(min(bottom), 1e-9)
    return f"RATIO {label}: min {best:.2f}x  median {statistics.median(rounds):.2f}x  (n={len(rounds)})"


def open_in_browser(
    chromium: str, page: Path, work: Path
) -> tuple[float | None, float | None, float]:
    """Return ms until the page's script was done, ms until its load event, wall seconds."""
    profile = tempfile.mkdtemp(dir=work)
    cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    wall = time.perf_counter() - start
    shutil.rmtree(profile, ignore_errors=True)
    ready = re.search(r'data-ready-ms="([0-9.]+)"', done.stdout)
    load = re.search(r'data-load-ms="([0-9.]+)"', done.stdout)
    return (
        float(ready.group(1)) if ready else None,
        float(load.group(1)) if load else None,
        wall,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="a 1-minute capture, one repeat")
    parser.add_argument("--keep", type=Path, help="keep the capture and page in this folder")
    parser.add_argument("--no-browser", action="store_true", help="skip the chromium part")
    args = parser.parse_args(argv)
    minutes = 1.0 if args.quick else args.minutes
    repeat = 1 if args.quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        capture_path = work / f"bench_{minutes:g}min.jsonl"
        counts = write_capture(capture_path, minutes)
        size_mb = capture_path.stat().st_size / 1e6
        print(f"CAPTURE {minutes:g} min: {counts['turns']} turns, {counts['frames']} frames, "
              f"{counts['connections']} connections, {size_mb:.1f} MB")  # fmt: skip
        start = time.process_time()
        capture = read_capture(capture_path)
        read_s = time.process_time() - start
        text_times: list[float] = []
        render_times: list[float] = []
        page_text = ""
        for _ in range(repeat):  # interleaved, so both see the same machine load
            text_times += cpu(lambda: format_timeline(capture), 1)[0]
            times, result = cpu(lambda: render_html(capture, name=capture_path.name), 1)
            render_times += times
            page_text = str(result)
        text_s = statistics.median(text_times)
        render_s = statistics.median(render_times)
        page = work / "bench_viewer.html"
        page.write_text(str(page_text), encoding="utf-8")
        page_mb = page.stat().st_size / 1e6
        audio_mb = (
            sum(
                len(m) for m in re.findall(r"data:audio/wav;base64,[A-Za-z0-9+/=]*", str(page_text))
            )
            / 1e6
        )
        print(f"CPU read capture: {read_s:.2f} s")
        print(f"CPU text timeline (floor): {text_s:.2f} s")
        print(f"CPU render html: {render_s:.2f} s (limit 5 s)")
        print(ratio("render html / text timeline CPU", render_times, text_times))
        print(f"PAGE {page_mb:.1f} MB (limit 15 MB), of which embedded audio {audio_mb:.1f} MB "
              f"(budget {DEFAULT_AUDIO_BUDGET / 1e6:.0f} MB)")  # fmt: skip
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if args.no_browser or chromium is None:
            print("OPEN skipped (" + ("--no-browser" if args.no_browser else "no chromium") + ")")
            return 0
        blank = work / "blank.html"
        blank.write_text(
            '<!DOCTYPE html><html><body><main id="app" data-ready-ms="0"></main></body></html>'
        )
        runs = []
        floors = []
        for _ in range(repeat):
            runs.append(open_in_browser(chromium, page, work))
            floors.append(open_in_browser(chromium, blank, work)[2])
        ready = [r[0] for r in runs if r[0] is not None]
        loaded = [r[1] for r in runs if r[1] is not None]
        if not ready:
            print("OPEN the page did not report data-ready-ms (did its script fail?)")
            return 1
        wall = statistics.median(r[2] for r in runs)
        floor = statistics.median(floors)
        print(
            f"OPEN page drawn (script done) {statistics.median(ready):.0f} ms after navigation start (limit 2000 ms)"
        )
        if loaded:
            print(f"OPEN load event {statistics.median(loaded):.0f} ms after navigation start")
        print(
            f"OPEN whole headless run (start, load, dump the DOM, quit) {wall:.2f} s vs blank page {floor:.2f} s"
        )
        print(ratio("open headless run page/blank", [r[2] for r in runs], floors))
    return 0


if __name__ == "__main__":
    if os.environ.get("RAWLIVE_BENCH_PROFILE"):
        import cProfile

        cProfile.run("main()", sort="cumtime")
    else:
        raise SystemExit(main())
