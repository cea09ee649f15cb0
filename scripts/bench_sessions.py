#!/usr/bin/env python3
"""Memory and CPU per session at 100, 500 and 1000 concurrent one-turn audio sessions.

Usage::

    python scripts/bench_sessions.py [--quick] [--sizes 100,500,1000] [--seconds 1] [--repeats 2]

The loopback server of ``_bench_common.py`` runs in its own process and
answers each client frame with one turn of ``--seconds`` of 24 kHz audio in
40 ms frames. For each size N, a fresh client process opens N sessions (at
most 50 handshakes in flight), and once all are open every session asks for
one turn at the same moment and keeps the reply's PCM until all N have
theirs (as an application holding ``Turn.audio`` would); then all close.

* **floor**: bare websockets + orjson + base64, no objects: setup, a
  ``clientContent`` frame, ``orjson.loads`` and ``b64decode`` of every frame,
  chunks joined at ``turnComplete``;
* **rawlive**: ``rawlive.connect(..., response_modalities=["AUDIO"])``,
  ``send_text`` and ``receive_turn()`` with its defaults.

Figures per size, each against the floor run next to it: peak memory per
session (``ru_maxrss`` of the client process minus its RSS before the first
session, divided by N), CPU of the whole run (``time.process_time``: open,
turn, close), and the time spent in the cyclic GC (``gc.callbacks``).
Targets: peak memory per session and CPU at 1000 sessions <= 1.15x the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import (
    Series,
    ServerProcess,
    current_rss_mb,
    ensure_rawlive,
    floor_turn,
    floor_ws_options,
    frames_for,
    instructions_of,
    machine_line,
    peak_rss_mb,
    print_table,
    ratio_line,
    run_json,
)

TARGET = 1.15
CONNECT_CONCURRENCY = 50  # stay under the listen backlog while opening
TURN_REQUEST = (
    b'{"clientContent":{"turns":[{"role":"user","parts":[{"text":"go"}]}],"turnComplete":true}}'
)


class GcTimer:
    """Seconds spent in the cyclic GC while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self.by_generation = [0.0, 0.0, 0.0]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            spent = time.perf_counter() - self._t0
            self.seconds += spent
            self.by_generation[info["generation"]] += spent
            self.collections += 1


async def floor_session(
    url: str, opened: asyncio.Semaphore, ready: asyncio.Event, go: asyncio.Event, done: list[Any]
) -> None:
    from websockets.asyncio.client import connect

    async with opened:
        ws = await connect(url, compression=None, max_size=64 * 1024 * 1024, **floor_ws_options())
        await ws.send(b'{"setup":{"model":"models/m"}}', text=True)
        await ws.recv()
    ready.set()
    await go.wait()
    await ws.send(TURN_REQUEST, text=True)
    chunks: list[bytes] = []
    await floor_turn(ws, chunks.append)
    done.append((ws, b"".join(chunks)))


async def rawlive_session(
    url: str, opened: asyncio.Semaphore, ready: asyncio.Event, go: asyncio.Event, done: list[Any]
) -> None:
    import rawlive

    async with opened:
        session = await rawlive.connect(
            "m", endpoint=url, api_key="bench-key", response_modalities=["AUDIO"]
        )
    ready.set()
    await go.wait()
    await session.send_text("go")
    turn = await session.receive_turn()
    done.append((session, turn))


async def run_client(url: str, client: str, sessions: int) -> dict[str, float]:
    if client == "rawlive":
        ensure_rawlive()
        import rawlive  # noqa: F401  (imported before the RSS baseline, like the floor's modules)
        from rawlive.client import connect  # noqa: F401
    import orjson  # noqa: F401
    from websockets.asyncio.client import connect as _ws_connect  # noqa: F401

    one = floor_session if client == "floor" else rawlive_session
    gc.collect()
    base_rss = current_rss_mb()
    timer = GcTimer()
    gc.callbacks.append(timer)
    t0 = time.process_time()
    opened = asyncio.Semaphore(CONNECT_CONCURRENCY)
    go = asyncio.Event()
    done: list[Any] = []
    readies = [asyncio.Event() for _ in range(sessions)]
    tasks = [asyncio.ensure_future(one(url, opened, readies[i], go, done)) for i in range(sessions)]
    for ready in readies:
        await ready.wait()
    go.set()
    await asyncio.gather(*tasks)
    # ru_maxrss and /proc's RSS are both per-CPU cached counters: take the
    # larger, so a small run cannot come out below the base it started from.
    peak = max(peak_rss_mb(), current_rss_mb())
    audio = sum(len(t.audio) if client == "rawlive" else len(t) for _, t in done)
    await asyncio.gather(*(c.close() for c, _ in done))
    cpu = time.process_time() - t0
    gc.callbacks.remove(timer)
    return {
        "cpu": cpu,
        "peak_per_session_kb": (peak - base_rss) * 1024 / sessions,
        "gc": timer.seconds,
        "gc_by_generation": timer.by_generation,
        "collections": timer.collections,
        "audio": audio,
    }


def client_main(args: argparse.Namespace) -> int:
    out = asyncio.run(run_client(args.url, args.client, args.sessions))
    print(json.dumps(out))
    return 0


def instructions_main(n: int, seconds: float) -> int:
    """Instructions one more session costs, counted by valgrind: a noise-free cross-check.

    Each client runs ``n`` and then ``2n`` sessions under cachegrind; the
    difference divided by ``n`` is what one more session costs (open, one turn,
    close, and its share of the GC), start-up and imports excluded.
    """
    import concurrent.futures
    import shutil

    if shutil.which("valgrind") is None:
        print("note: valgrind is not installed; --instructions is skipped")
        return 0
    print(f"bench_sessions --instructions: {n} then {2 * n} sessions; {machine_line()}")
    clients = ("floor", "rawlive")
    with ServerProcess(seconds=seconds) as server:
        url = server.ws_url + "/ws"

        def count(job: tuple[str, int]) -> int:
            client, sessions = job
            args = [str(Path(__file__).resolve()), "--client", client]
            return instructions_of([*args, "--url", url, "--sessions", str(sessions)])

        jobs = [(c, k) for c in clients for k in (n, 2 * n)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            counts = dict(zip(jobs, pool.map(count, jobs), strict=True))
    per = {c: (counts[(c, 2 * n)] - counts[(c, n)]) / n for c in clients}
    print()
    print_table(
        ["client", "instructions/session", "x floor"],
        [(c, round(per[c]), per[c] / per["floor"]) for c in clients],
    )
    ratio = per["rawlive"] / per["floor"]
    print()
    print(
        f"RATIO sessions instructions per session rawlive/floor: min {ratio:.2f}x  "
        f"median {ratio:.2f}x  (n=1)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--sizes", default="100,500,1000", help="comma-separated session counts")
    parser.add_argument("--seconds", type=float, default=1.0, help="audio seconds per reply")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats per size")
    parser.add_argument(
        "--instructions",
        type=int,
        metavar="N",
        help="count instructions per session under valgrind (N, then 2N sessions)",
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--sessions", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(args)
    if args.instructions:
        return instructions_main(args.instructions, args.seconds)
    if args.quick:
        args.sizes, args.seconds, args.repeats = "20", 0.4, 1
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    expected_audio = frames_for(args.seconds) * 1920

    print(
        f"bench_sessions: {sizes} concurrent sessions, one turn of {args.seconds:g} s of 24 kHz "
        f"audio each, {args.repeats} interleaved repeat(s); {machine_line()}"
    )
    results: dict[tuple[int, str], dict[str, Series]] = {}
    with ServerProcess(seconds=args.seconds) as server:
        for n in sizes:
            for rep in range(args.repeats):
                order = ("floor", "rawlive") if rep % 2 == 0 else ("rawlive", "floor")
                for client in order:
                    child = [str(Path(__file__).resolve()), "--client", client]
                    child += ["--url", server.ws_url + "/ws", "--sessions", str(n)]
                    out = run_json(child, timeout=900)
                    if out["audio"] != expected_audio * n:
                        raise SystemExit(
                            f"{client} x {n} received {out['audio']} PCM bytes, "
                            f"expected {expected_audio * n}"
                        )
                    series = results.setdefault(
                        (n, client),
                        {k: Series(client) for k in ("cpu", "peak_per_session_kb", "gc")},
                    )
                    for key, s in series.items():
                        s.values.append(out[key])
    print()
    print_table(
        ["sessions", "client", "peak kB/session", "CPU s", "GC s"],
        [
            (n, c, r["peak_per_session_kb"].median, r["cpu"].median, r["gc"].median)
            for (n, c), r in results.items()
        ],
    )
    print()
    for n in sizes:
        raw, floor = results[(n, "rawlive")], results[(n, "floor")]
        target = TARGET if n == max(sizes) else None
        print(
            ratio_line(
                f"sessions {n} peak memory per session rawlive/floor",
                raw["peak_per_session_kb"],
                floor["peak_per_session_kb"],
                target=target,
            )
        )
        print(
            ratio_line(f"sessions {n} CPU rawlive/floor", raw["cpu"], floor["cpu"], target=target)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
