#!/usr/bin/env python3
"""Many concurrent rawlive sessions in one process against the bundled fake server.

Usage::

    python scripts/bench_scale.py [--quick] [--sessions 200] [--turns 2] [--modality AUDIO]

The fake server (:class:`rawlive.testing.FakeLiveServer`, or this folder's
loopback server when that is missing) runs in its own process. One client
process then:

1. opens ``--sessions`` sessions at once and reports the RSS they add;
2. runs ``--baseline`` more sessions one after another (each ``--turns``
   turns): the per-turn CPU of a lone session;
3. runs all the open sessions' turns concurrently: errors (must be 0), turns/s,
   frames/s, and CPU per turn.

A second client process opens the same number of bare ``websockets``
connections (setup and setupComplete only) as the memory floor. The
``RATIO`` lines: CPU per turn concurrent/alone (1.0 means no overhead from
concurrency), and RSS per session rawlive/bare websockets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import (
    Series,
    ServerProcess,
    child_env,
    current_rss_mb,
    ensure_rawlive,
    floor_ws_options,
    machine_line,
    peak_rss_mb,
    print_table,
    ratio_line,
    run_json,
)

PROMPTS = ["Hello? Gemini are you there?", "Tell me a joke", "What is the capital of Brazil?"]
CONNECT_CONCURRENCY = 50  # stay under the listen backlog while opening


# ------------------------------------------------------------------ server


def serve_main() -> int:
    """Run FakeLiveServer until stdin closes; print its URL as JSON first."""
    ensure_rawlive()
    from rawlive.testing import FakeLiveServer

    async def run() -> None:
        async with FakeLiveServer(seed=0) as server:
            print(json.dumps({"url": server.url}), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)

    asyncio.run(run())
    return 0


class FakeServerProcess:
    """The bundled fake server in its own process (context manager)."""

    def __init__(self) -> None:
        self.url = ""
        self._proc: Any = None

    def __enter__(self) -> FakeServerProcess:
        import subprocess

        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
        )
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake server did not start")
        self.url = json.loads(line)["url"]
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except Exception:
            self._proc.kill()
            self._proc.wait()


def fake_server_available() -> bool:
    ensure_rawlive()
    try:
        from rawlive.testing import FakeLiveServer  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------ clients


async def talk(session: Any, turns: int, offset: int) -> tuple[int, int]:
    """Run ``turns`` turns on an open session; return (turns, frames)."""
    frames = 0
    for t in range(turns):
        await session.send_text(PROMPTS[(offset + t) % len(PROMPTS)])
        turn = await session.receive_turn()
        frames += len(turn.messages)
    return turns, frames


async def rawlive_client(url: str, sessions: int, turns: int, baseline: int, modality: str) -> Any:
    import rawlive

    def dial() -> Any:
        return rawlive.connect(
            "m", endpoint=url, api_key="bench-key", response_modalities=[modality]
        )

    async with dial() as warm:  # imports and first-use costs, not measured
        await talk(warm, 1, 0)

    # 1. Open every session at once; the RSS they add.
    rss_before = current_rss_mb()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one() -> Any:
        async with gate:
            return await dial()

    opened = await asyncio.gather(*(open_one() for _ in range(sessions)), return_exceptions=True)
    live = [s for s in opened if not isinstance(s, BaseException)]
    errors = [repr(e) for e in opened if isinstance(e, BaseException)]
    rss_open = current_rss_mb()

    # 2. Lone sessions, one after another: CPU per turn without concurrency.
    alone_cpu = 0.0
    done = 0
    for i in range(baseline):
        async with dial() as session:
            t0 = time.process_time()
            n, _ = await talk(session, turns, i)
            alone_cpu += time.process_time() - t0
            done += n
    alone_cpu_per_turn = alone_cpu / max(done, 1)

    # 3. All the open sessions' turns concurrently.
    c0, w0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(
        *(talk(s, turns, i) for i, s in enumerate(live)), return_exceptions=True
    )
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    total_turns = sum(r[0] for r in results if not isinstance(r, BaseException))
    total_frames = sum(r[1] for r in results if not isinstance(r, BaseException))
    errors += [repr(r) for r in results if isinstance(r, BaseException)]
    peak = peak_rss_mb()
    await asyncio.gather(*(s.close() for s in live), return_exceptions=True)
    return {
        "alone_cpu_per_turn": alone_cpu_per_turn,
        "rss_before": rss_before,
        "rss_open": rss_open,
        "peak": peak,
        "opened": len(live),
        "turns": total_turns,
        "frames": total_frames,
        "cpu": cpu,
        "wall": wall,
        "errors": errors[:5],
        "error_count": len(errors),
    }


async def bare_client(url: str, sessions: int) -> Any:
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    setup = json.dumps({"setup": {"model": "models/m"}})

    async def open_one() -> Any:
        async with gate:
            ws = await connect(
                url,
                compression=None,
                additional_headers={"x-goog-api-key": "k"},
                **floor_ws_options(),
            )
            await ws.send(setup)
            await ws.recv()
            return ws

    await (await open_one()).close()  # first-use costs, not measured
    rss_before = current_rss_mb()
    conns = await asyncio.gather(*(open_one() for _ in range(sessions)))
    rss_open = current_rss_mb()
    await asyncio.gather(*(ws.close() for ws in conns))
    return {"rss_before": rss_before, "rss_open": rss_open}


# ------------------------------------------------------------------ driver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--sessions", type=int, default=200, help="concurrent sessions")
    parser.add_argument("--turns", type=int, default=2, help="turns per session")
    parser.add_argument("--baseline", type=int, default=10, help="lone sessions, in sequence")
    parser.add_argument("--modality", default="AUDIO", choices=["AUDIO", "TEXT"])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve_main()
    if args.client:
        ensure_rawlive()
        if args.client == "bare":
            out = asyncio.run(bare_client(args.url, args.sessions))
        else:
            out = asyncio.run(
                rawlive_client(args.url, args.sessions, args.turns, args.baseline, args.modality)
            )
        print(json.dumps(out))
        return 0
    if args.quick:
        args.sessions, args.turns, args.baseline = 20, 1, 2

    use_fake = fake_server_available()
    print(
        f"bench_scale: {args.sessions} concurrent sessions x {args.turns} {args.modality} turn(s) "
        f"against {'FakeLiveServer' if use_fake else 'the loopback server'} "
        f"(own process); {machine_line()}"
    )
    server: Any = FakeServerProcess() if use_fake else ServerProcess(seconds=2.0)
    with server:
        url = server.url if use_fake else server.ws_url + "/ws"
        common = [str(Path(__file__).resolve()), "--url", url, "--sessions", str(args.sessions)]
        options = ["--turns", str(args.turns), "--baseline", str(args.baseline)]
        options += ["--modality", args.modality]
        ours = run_json([*common, "--client", "rawlive", *options], timeout=900)
        bare = run_json([*common, "--client", "bare"], timeout=300)

    n = max(ours["opened"], 1)
    per_session = (ours["rss_open"] - ours["rss_before"]) / n
    bare_per = (bare["rss_open"] - bare["rss_before"]) / args.sessions
    conc_cpu_per_turn = ours["cpu"] / max(ours["turns"], 1)
    print()
    print_table(
        ["measure", "value"],
        [
            ("sessions opened", ours["opened"]),
            ("errors", ours["error_count"]),
            ("turns", ours["turns"]),
            ("frames received", ours["frames"]),
            ("wall s (all turns)", ours["wall"]),
            ("turns/s", ours["turns"] / ours["wall"]),
            ("frames/s", ours["frames"] / ours["wall"]),
            ("client CPU ms/turn, concurrent", conc_cpu_per_turn * 1e3),
            ("client CPU ms/turn, alone", ours["alone_cpu_per_turn"] * 1e3),
            ("RSS MB added per open session", per_session),
            ("RSS MB per bare websockets connection", bare_per),
            ("peak RSS MB (client process)", ours["peak"]),
        ],
    )
    for err in ours["errors"]:
        print("error:", err)
    print()
    print(
        ratio_line(
            "scale CPU per turn concurrent/alone",
            Series("c", [conc_cpu_per_turn]),
            Series("a", [ours["alone_cpu_per_turn"]]),
        )
    )
    if bare_per > 0:
        print(
            ratio_line(
                "scale RSS per session rawlive/bare websockets",
                Series("r", [per_session]),
                Series("b", [bare_per]),
            )
        )
    print(f"ERRORS {ours['error_count']}")
    return 1 if ours["error_count"] else 0


if __name__ == "__main__":
    sys.exit(main())
