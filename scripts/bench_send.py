#!/usr/bin/env python3
"""Send path: the cost of one 640-byte ``realtimeInput.audio`` chunk, rawlive vs a floor.

Usage::

    python scripts/bench_send.py [--quick] [--chunks 2000] [--repeats 5]

A chunk is 20 ms of 16 kHz 16-bit mono PCM (640 bytes), the hot path of every
voice application (50 a second per session). The floor is bare websockets +
orjson + base64 with no objects::

    await ws.send(orjson.dumps({"realtimeInput": {"audio": {
        "mimeType": "audio/pcm;rate=16000", "data": b64encode(pcm).decode()}}}), text=True)

rawlive is ``await session.send_audio(pcm)`` on a session from
``rawlive.connect`` (no reconnect policy, lint on, no observers). Four figures,
each against the floor measured in the same run:

* **instructions per chunk, socket included** (valgrind, when installed): each
  client runs under ``valgrind --tool=cachegrind --cache-sim=no`` with N and
  with 2N chunks against a sink server in its own process; the difference
  divided by N is one more chunk, start-up excluded. Noise-free.
* **library work alone**: the same sends in-process with the socket replaced by
  a no-op ``send`` coroutine, so only the building of the frame and the
  library's own bookkeeping count: µs per chunk (best of interleaved rounds)
  and, under valgrind, instructions per chunk.
* **CPU per chunk, unpaced and paced** (``time.process_time`` in the client
  process, interleaved runs): unpaced sends back to back; paced sleeps 20 ms
  between chunks as a live microphone does, so the event loop wakes per chunk.

Targets: instructions per chunk socket included <= 1.3x the floor; library
work alone <= 2x the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import (
    Series,
    child_env,
    ensure_rawlive,
    floor_ws_options,
    instructions_of,
    machine_line,
    print_table,
    ratio_line,
    run_json,
)

TARGET_SOCKET = 1.3
TARGET_LIBRARY = 2.0
MIME = "audio/pcm;rate=16000"
CHUNK = bytes(range(256)) * 2 + bytes(range(128))  # 640 bytes: 20 ms at 16 kHz
SETUP_COMPLETE = b'{"setupComplete":{}}'


# ------------------------------------------------------------------ sink server


def serve_main() -> None:
    """A Live endpoint that answers setup and then only reads (in its own process)."""
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        try:
            await ws.recv()
            await ws.send(SETUP_COMPLETE)
            async for _ in ws:
                pass
        except Exception:  # a client going away is normal here
            pass

    async def main() -> None:
        options: dict[str, Any] = {"compression": None, "max_size": None, "ping_interval": None}
        async with serve(handler, "127.0.0.1", 0, **options) as server:
            print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.buffer.read)  # until the parent closes it

    asyncio.run(main())


class Sink:
    def __enter__(self) -> str:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the sink server did not start")
        return f"ws://127.0.0.1:{json.loads(line)['port']}/ws"

    def __exit__(self, *exc: object) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


# ------------------------------------------------------------------ clients


class NoSocket:
    """Stands in for the websockets connection: ``send`` does nothing."""

    async def send(self, message: Any, text: bool | None = None) -> None:
        return None


async def run_client(url: str, client: str, chunks: int, paced: bool, socket: bool) -> float:
    """Send ``chunks`` chunks; return the CPU seconds of the sending loop."""
    from websockets.asyncio.client import connect

    pause = 0.02 if paced else 0.0
    if client == "floor":
        import orjson

        dumps, b64encode = orjson.dumps, base64.b64encode
        async with connect(url, compression=None, **floor_ws_options()) as ws:
            await ws.send(b'{"setup":{"model":"models/m"}}', text=True)
            await ws.recv()
            target: Any = ws if socket else NoSocket()
            t0 = time.process_time()
            for _ in range(chunks):
                frame = dumps(
                    {
                        "realtimeInput": {
                            "audio": {"mimeType": MIME, "data": b64encode(CHUNK).decode()}
                        }
                    }
                )
                await target.send(frame, text=True)
                if pause:
                    await asyncio.sleep(pause)
            return time.process_time() - t0
    ensure_rawlive()
    import rawlive

    async with rawlive.connect("m", endpoint=url, api_key="bench-key") as session:
        conn = session._engine.conn
        assert conn is not None
        if not socket:  # the reader keeps reading the real socket; only writes go nowhere
            conn.ws.send = NoSocket().send  # type: ignore[method-assign]
        send_audio = session.send_audio
        t0 = time.process_time()
        for _ in range(chunks):
            await send_audio(CHUNK)
            if pause:
                await asyncio.sleep(pause)
        cpu = time.process_time() - t0
        if not socket:
            del conn.ws.send  # the real send again, for the close
        return cpu


def client_main(args: argparse.Namespace) -> int:
    cpu = asyncio.run(run_client(args.url, args.client, args.chunks, args.paced, not args.lib))
    print(json.dumps({"cpu": cpu}))
    return 0


async def library_rounds(url: str, chunks: int, rounds: int) -> dict[str, Series]:
    """Library work alone, in this process: µs per chunk, interleaved rounds."""
    out = {"floor": Series("floor"), "rawlive": Series("rawlive")}
    for rep in range(rounds):
        for client in ("floor", "rawlive") if rep % 2 == 0 else ("rawlive", "floor"):
            cpu = await run_client(url, client, chunks, False, False)
            out[client].values.append(cpu / chunks * 1e6)
    return out


# ------------------------------------------------------------------ valgrind


def instructions(url: str, chunks: int) -> dict[tuple[str, bool], float] | None:
    """Instructions per chunk for (client, socket) under valgrind, or None without it."""
    import concurrent.futures

    if shutil.which("valgrind") is None:
        return None

    def count(job: tuple[str, bool, int]) -> int:
        client, socket, n = job
        args = [str(Path(__file__).resolve()), "--client", client]
        args += ["--url", url, "--chunks", str(n)]
        if not socket:
            args.append("--lib")
        return instructions_of(args)

    keys = [(c, s) for s in (True, False) for c in ("floor", "rawlive")]
    jobs = [(c, s, n) for c, s in keys for n in (chunks, 2 * chunks)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(jobs, pool.map(count, jobs), strict=True))
    return {(c, s): (counts[(c, s, 2 * chunks)] - counts[(c, s, chunks)]) / chunks for c, s in keys}


# ------------------------------------------------------------------ driver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--chunks", type=int, default=2000, help="chunks per unpaced run")
    parser.add_argument("--paced-chunks", type=int, default=150, help="chunks per paced run")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats")
    parser.add_argument("--no-valgrind", action="store_true", help="skip the instruction counts")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--paced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lib", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_main()
        return 0
    if args.client:
        return client_main(args)
    if args.quick:
        args.chunks, args.paced_chunks, args.repeats, args.no_valgrind = 200, 10, 1, True

    print(
        f"bench_send: 640-byte realtimeInput.audio chunks (16 kHz, 20 ms), {args.chunks} unpaced "
        f"and {args.paced_chunks} paced per run, {args.repeats} interleaved repeat(s); "
        f"{machine_line()}"
    )
    with Sink() as url:
        cpu = {
            (mode, client): Series(client)
            for mode in ("unpaced", "paced")
            for client in ("floor", "rawlive")
        }
        for rep in range(args.repeats):
            order = ("floor", "rawlive") if rep % 2 == 0 else ("rawlive", "floor")
            for mode, n in (("unpaced", args.chunks), ("paced", args.paced_chunks)):
                for client in order:
                    child = [str(Path(__file__).resolve()), "--client", client, "--url", url]
                    child += ["--chunks", str(n)] + (["--paced"] if mode == "paced" else [])
                    out = run_json(child, timeout=600)
                    cpu[(mode, client)].values.append(out["cpu"] / n * 1e6)
        lib = asyncio.run(library_rounds(url, args.chunks, max(3, args.repeats)))
        counts = None if args.no_valgrind else instructions(url, 500 if args.quick else 1000)

    print()
    rows: list[tuple[object, ...]] = []
    for (mode, client), series in cpu.items():
        rows.append((f"CPU per chunk, {mode}, socket", client, series.min, series.median))
    for client, series in lib.items():
        rows.append(("CPU per chunk, library alone", client, series.min, series.median))
    print_table(["what", "client", "min us", "median us"], rows)
    if counts is not None:
        print()
        print_table(
            ["instructions per chunk", "floor", "rawlive", "rawlive/floor"],
            [
                (
                    "socket included" if socket else "library alone",
                    round(counts[("floor", socket)]),
                    round(counts[("rawlive", socket)]),
                    counts[("rawlive", socket)] / counts[("floor", socket)],
                )
                for socket in (True, False)
            ],
        )
    elif not args.no_valgrind:
        print("note: valgrind is not installed; the instruction counts are skipped")
    print()
    print(
        ratio_line(
            "send CPU per chunk unpaced rawlive/floor",
            cpu[("unpaced", "rawlive")],
            cpu[("unpaced", "floor")],
        )
    )
    print(
        ratio_line(
            "send CPU per chunk paced rawlive/floor",
            cpu[("paced", "rawlive")],
            cpu[("paced", "floor")],
        )
    )
    print(
        ratio_line(
            "send library work alone rawlive/floor",
            lib["rawlive"],
            lib["floor"],
            target=None if counts is not None else TARGET_LIBRARY,
        )
    )
    if counts is not None:
        for socket, label, target in (
            (True, "socket included", TARGET_SOCKET),
            (False, "library alone", TARGET_LIBRARY),
        ):
            print(
                ratio_line(
                    f"send instructions per chunk {label} rawlive/floor",
                    Series("rawlive", [counts[("rawlive", socket)]]),
                    Series("floor", [counts[("floor", socket)]]),
                    target=target,
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
