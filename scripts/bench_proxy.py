"""What ``rawlive proxy`` costs on top of a bare websockets relay.

Three processes: an upstream that answers every 20 ms chunk of 16 kHz input
audio (``realtimeInput.audio``, 640 bytes of PCM) with 20 ms of 24 kHz output
audio (``serverContent.modelTurn`` ``inlineData``, 960 bytes); a relay (either a
bare websockets relay written here, the floor, or :class:`rawlive.proxy.LiveProxy`
with no observers); and the client, this process, which sends a chunk, waits
for its answer, and repeats. The relay reports its own CPU seconds, so the
figure is the relay's alone. Runs alternate bare/rawlive, so noise mostly
cancels in the paired ratios.

    python scripts/bench_proxy.py            # 3 rounds of 2000 chunks
    python scripts/bench_proxy.py --quick    # a smoke run

Prints:
    RATIO proxy relay CPU per frame rawlive/bare: ...
    LATENCY added per round trip: bare ... ms, rawlive ... ms (direct ... ms)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import (
    Series,
    child_env,
    ensure_rawlive,
    floor_ws_options,
    machine_line,
    ratio_line,
)

INPUT = json.dumps(
    {
        "realtimeInput": {
            "audio": {
                "mimeType": "audio/pcm;rate=16000",
                "data": base64.b64encode(os.urandom(640)).decode(),
            }
        }
    },
    separators=(",", ":"),
)
OUTPUT = json.dumps(
    {
        "serverContent": {
            "modelTurn": {
                "parts": [
                    {
                        "inlineData": {
                            "mimeType": "audio/pcm;rate=24000",
                            "data": base64.b64encode(os.urandom(960)).decode(),
                        }
                    }
                ]
            }
        }
    },
    separators=(",", ":"),
).encode()
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


# ------------------------------------------------------------ child roles


async def _upstream() -> None:
    from websockets.asyncio.server import serve

    async def handler(ws: object) -> None:
        await ws.recv()  # type: ignore[attr-defined]
        await ws.send(b'{"setupComplete":{}}')  # type: ignore[attr-defined]
        async for _ in ws:  # type: ignore[attr-defined]
            await ws.send(OUTPUT)  # type: ignore[attr-defined]

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=2**24) as server:
        print(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.to_thread(sys.stdin.read)


async def _bare_relay(upstream: str) -> None:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve

    async def handler(client: object) -> None:
        async with connect(
            upstream + client.request.path,  # type: ignore[attr-defined]
            compression=None,
            max_size=2**24,
            **floor_ws_options(),
        ) as up:

            async def pump(a: object, b: object) -> None:
                async for message in a:  # type: ignore[attr-defined]
                    await b.send(message)  # type: ignore[attr-defined]

            await asyncio.wait(
                {asyncio.create_task(pump(client, up)), asyncio.create_task(pump(up, client))},
                return_when=asyncio.FIRST_COMPLETED,
            )

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=2**24) as server:
        print(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await _report_cpu_at_eof()


async def _rawlive_relay(upstream: str) -> None:
    from rawlive.proxy import LiveProxy

    async with LiveProxy(upstream=upstream) as proxy:
        print(proxy.url, flush=True)
        await _report_cpu_at_eof()


async def _report_cpu_at_eof() -> None:
    start = time.process_time()
    line = await asyncio.to_thread(sys.stdin.readline)  # "reset" after the warm-up
    if line.strip() == "reset":
        start = time.process_time()
    await asyncio.to_thread(sys.stdin.read)
    print(json.dumps({"cpu": time.process_time() - start}), flush=True)


def _child(role: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--role", role, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


# ------------------------------------------------------------------ client


async def _round_trips(url: str, chunks: int) -> list[float]:
    from websockets.asyncio.client import connect

    rtts: list[float] = []
    async with connect(url + PATH, compression=None, max_size=2**24, **floor_ws_options()) as ws:
        await ws.send('{"setup":{"model":"models/bench"}}')
        await ws.recv()
        for _ in range(chunks):
            t0 = time.perf_counter()
            await ws.send(INPUT)
            await ws.recv()
            rtts.append(time.perf_counter() - t0)
    return rtts


def _measure(kind: str, upstream: str, chunks: int) -> tuple[float, float]:
    """Return (relay CPU seconds per frame, median round trip in seconds)."""
    proc, url = _child(kind, upstream)
    assert proc.stdin is not None and proc.stdout is not None
    asyncio.run(_round_trips(url, max(50, chunks // 10)))  # warm-up
    proc.stdin.write("reset\n")
    proc.stdin.flush()
    rtts = asyncio.run(_round_trips(url, chunks))
    proc.stdin.close()
    cpu = json.loads(proc.stdout.readline())["cpu"]
    proc.wait(timeout=30)
    return cpu / (2 * chunks), statistics.median(rtts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("upstream", "bare", "rawlive"))
    parser.add_argument("upstream", nargs="?")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round, 200 chunks")
    args = parser.parse_args()
    if args.role == "upstream":
        asyncio.run(_upstream())
        return
    if args.role == "bare":
        asyncio.run(_bare_relay(args.upstream))
        return
    if args.role == "rawlive":
        asyncio.run(_rawlive_relay(args.upstream))
        return

    ensure_rawlive()
    rounds, chunks = (1, 200) if args.quick else (args.rounds, args.chunks)
    print(machine_line())
    print(f"{rounds} rounds of {chunks} chunks (16 kHz in, 24 kHz out, 20 ms each)")
    upstream, upstream_url = _child("upstream")
    try:
        bare_cpu, ours_cpu = Series("bare"), Series("rawlive")
        bare_rtt, ours_rtt, direct_rtt = [], [], []
        for _ in range(rounds):
            direct_rtt.append(statistics.median(asyncio.run(_round_trips(upstream_url, chunks))))
            cpu, rtt = _measure("bare", upstream_url, chunks)
            bare_cpu.values.append(cpu)
            bare_rtt.append(rtt)
            cpu, rtt = _measure("rawlive", upstream_url, chunks)
            ours_cpu.values.append(cpu)
            ours_rtt.append(rtt)
    finally:
        assert upstream.stdin is not None
        upstream.stdin.close()
        upstream.wait(timeout=30)
    print(
        f"relay CPU per frame: bare {bare_cpu.min * 1e6:.1f} us, "
        f"rawlive {ours_cpu.min * 1e6:.1f} us (best of {rounds})"
    )
    print(ratio_line("proxy relay CPU per frame rawlive/bare", ours_cpu, bare_cpu, target=1.3))
    direct = statistics.median(direct_rtt)
    print(
        f"LATENCY added per round trip: bare {(statistics.median(bare_rtt) - direct) * 1e3:.3f} ms,"
        f" rawlive {(statistics.median(ours_rtt) - direct) * 1e3:.3f} ms"
        f" (direct {direct * 1e3:.3f} ms)"
    )


if __name__ == "__main__":
    main()
