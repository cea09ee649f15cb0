#!/usr/bin/env python3
"""Peak memory while streaming a long reply to a WAV file with ``receive_turn(wav=...)``.

Usage::

    python scripts/bench_memory.py [--quick] [--minutes 5,15,30]

For each reply length a fresh client process connects to the loopback server
(its own process, fast pacing), asks for one turn of that many minutes of
24 kHz audio, streams it into a WAV with ``Session.receive_turn(wav=path)``
and reports its peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``) and its RSS
just before the turn started. Two modes run per length:

default
    ``receive_turn(wav=path)``, as a user would call it (it keeps no messages).
keep_messages=True
    ``receive_turn(wav=path, keep_messages=True)``: every decoded message,
    with its audio, stays in ``Turn.messages``; for comparison only.

Memory is flat when the peak does not grow with the length: the ``RATIO``
lines print peak(longest)/peak(shortest) for both modes; flat is close to 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import (
    Series,
    ServerProcess,
    current_rss_mb,
    ensure_rawlive,
    frames_for,
    machine_line,
    peak_rss_mb,
    print_table,
    ratio_line,
    run_json,
)

FLAT = 1.2  # peak(longest) / peak(shortest) at most this counts as flat


async def stream_reply(url: str, seconds: float, path: Path, keep: bool | None) -> dict[str, float]:
    import rawlive

    async with rawlive.connect(
        "m",
        endpoint=f"{url}/ws?seconds={seconds:g}",
        api_key="bench-key",
        response_modalities=["AUDIO"],
    ) as session:
        before = current_rss_mb()
        await session.send_text("talk for a while")
        if keep is None:
            turn = await session.receive_turn(wav=path)
        else:
            turn = await session.receive_turn(wav=path, keep_messages=keep)
        peak = peak_rss_mb()
        nbytes = turn.audio_bytes
        del turn
    with wave.open(str(path), "rb") as w:
        frames_in_file = w.getnframes()
    return {"before": before, "peak": peak, "bytes": nbytes, "wav_frames": frames_in_file}


def client_main(url: str, seconds: float, keep: bool | None) -> int:
    ensure_rawlive()
    with tempfile.TemporaryDirectory() as tmp:
        out = asyncio.run(stream_reply(url, seconds, Path(tmp) / "reply.wav", keep))
    print(json.dumps(out))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--minutes", default="5,15,30", help="comma-separated reply lengths")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--keep", type=int, default=-1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(args.url, args.seconds, None if args.keep < 0 else bool(args.keep))
    minutes = [float(m) for m in args.minutes.split(",") if m.strip()]
    if args.quick:
        minutes = [0.1, 0.3]

    print(
        f"bench_memory: one reply of {', '.join(f'{m:g}' for m in minutes)} minute(s) "
        f"of 24 kHz audio per fresh client process, streamed to a WAV; {machine_line()}"
    )
    modes = {"default": -1, "keep_messages=True": 1}
    peaks: dict[str, Series] = {mode: Series(mode) for mode in modes}
    rows = []
    with ServerProcess(seconds=60) as server:
        for mode, keep in modes.items():
            for m in minutes:
                seconds = m * 60
                child = [str(Path(__file__).resolve()), "--client", "rawlive"]
                child += ["--url", server.ws_url, "--seconds", f"{seconds:g}", "--keep", str(keep)]
                out = run_json(child, timeout=900)
                want = frames_for(seconds) * 1920
                if out["bytes"] != want or out["wav_frames"] * 2 != want:
                    raise SystemExit(f"{mode} {m:g} min: got {out}, expected {want} PCM bytes")
                peaks[mode].values.append(out["peak"])
                rows.append(
                    (
                        mode,
                        f"{m:g}",
                        want / 1e6,
                        out["before"],
                        out["peak"],
                        out["peak"] - out["before"],
                    )
                )
    print()
    print_table(["mode", "minutes", "audio MB", "RSS before MB", "peak RSS MB", "growth MB"], rows)
    print()
    label = f"{minutes[-1]:g}min/{minutes[0]:g}min"
    for mode, s in peaks.items():
        last, first = Series("last", [s.values[-1]]), Series("first", [s.values[0]])
        target = FLAT if mode == "default" else None
        print(ratio_line(f"memory {mode} peak RSS {label}", last, first, target=target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
