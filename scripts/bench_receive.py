#!/usr/bin/env python3
"""Client CPU to receive streamed audio turns: floor, rawlive, rawlive+WAV, google-genai.

Usage::

    python scripts/bench_receive.py [--quick] [--turns 3] [--seconds 60] [--repeats 9]
                                    [--no-sdk] [--transports ws,wss] [--instructions]

A loopback server in its own process (see ``_bench_common.py``) answers each
client frame with one turn: ``--seconds`` of 24 kHz audio in 40 ms binary
frames, then ``generationComplete`` and ``turnComplete`` + ``usageMetadata``.
Every client runs in a fresh subprocess and measures only its own CPU
(``time.process_time``) from after the handshake to the end of the last turn:

floor
    a bare ``websockets`` loop: ``orjson.loads`` + ``base64.b64decode``,
    PCM chunks collected in a list, no objects.
rawlive
    ``Session.receive_turn()`` (PCM in ``Turn.audio``).
rawlive-wav
    ``Session.receive_turn(wav=path)`` (PCM streamed into a WAV file).
rawlive-lean
    ``Session.receive_turn(keep_messages=False)``, for information.
floor-file
    the floor, appending each PCM chunk to a plain file: the baseline for
    rawlive-wav, which also writes to disk.
sdk
    the official ``google-genai`` SDK, ``client.aio.live.connect`` pointed at
    the loopback server (wss:// only: the SDK always rewrites the scheme to
    wss when it has an API key). Skipped when the SDK is not importable.

Variants run interleaved (one of each per repeat) and ratios are taken
against the floor of the same repeat. Targets: rawlive within 1.2x of the
floor; the SDK at least 3x rawlive's CPU. The server sends no
permessage-deflate, so no client pays for inflating.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import ssl
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import (
    Series,
    ServerProcess,
    child_env,
    ensure_rawlive,
    floor_turn,
    floor_ws_options,
    frames_for,
    have_cryptography,
    instructions_of,
    machine_line,
    make_certs,
    print_table,
    ratio_line,
    run_json,
)

TARGET_RAWLIVE = 1.2
TARGET_INSTRUCTIONS = 1.15
TARGET_SDK = 3.0
# str, not bytes with text=True: send(text=) needs websockets 14, rawlive supports 13.
TURN_REQUEST = (
    '{"clientContent":{"turns":[{"role":"user","parts":[{"text":"go"}]}],"turnComplete":true}}'
)


# ------------------------------------------------------------------ clients
# Each returns (cpu seconds, wall seconds, PCM bytes received).


def _client_ssl(url: str, cafile: str | None) -> ssl.SSLContext | None:
    if not url.startswith("wss:"):
        return None
    return ssl.create_default_context(cafile=cafile)


async def run_floor(
    url: str, cafile: str | None, turns: int, to_file: bool = False
) -> tuple[float, float, int]:
    from websockets.asyncio.client import connect

    total = 0
    tmp = tempfile.TemporaryDirectory()
    async with connect(
        url + "/ws",
        ssl=_client_ssl(url, cafile),
        compression=None,
        max_size=64 * 1024 * 1024,
        **floor_ws_options(),
    ) as ws:
        await ws.send('{"setup":{"model":"models/m"}}')
        await ws.recv()
        t0, w0 = time.process_time(), time.perf_counter()
        for i in range(turns):
            await ws.send(TURN_REQUEST)
            chunks: list[bytes] = []
            # floor-file: raw PCM appended to a file, the baseline for rawlive-wav
            out = open(Path(tmp.name) / f"turn{i}.pcm", "wb") if to_file else None  # noqa: SIM115
            await floor_turn(ws, out.write if out is not None else chunks.append)
            if out is not None:
                total += out.tell()
                out.close()
            else:
                total += len(b"".join(chunks))
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    tmp.cleanup()
    return cpu, wall, total


async def run_rawlive(
    url: str, cafile: str | None, turns: int, mode: str
) -> tuple[float, float, int]:
    import rawlive

    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        async with rawlive.connect(
            "m",
            endpoint=url + "/ws",
            api_key="bench-key",
            response_modalities=["AUDIO"],
            ssl=_client_ssl(url, cafile),
        ) as session:
            t0, w0 = time.process_time(), time.perf_counter()
            for i in range(turns):
                await session.send_text("go")
                if mode == "wav":
                    turn = await session.receive_turn(wav=Path(tmp) / f"turn{i}.wav")
                elif mode == "lean":
                    turn = await session.receive_turn(keep_messages=False)
                else:
                    turn = await session.receive_turn()
                total += turn.audio_bytes
            cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    return cpu, wall, total


async def run_sdk(url: str, cafile: str | None, turns: int) -> tuple[float, float, int]:
    from google import genai
    from google.genai import types

    base = url.replace("wss://", "https://").replace("ws://", "http://")
    client = genai.Client(
        api_key="bench-key", http_options={"api_version": "v1beta", "base_url": base}
    )
    total = 0
    request = types.Content(role="user", parts=[types.Part(text="go")])
    async with client.aio.live.connect(
        model="m", config=types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    ) as session:
        t0, w0 = time.process_time(), time.perf_counter()
        for _ in range(turns):
            await session.send_client_content(turns=request, turn_complete=True)
            chunks: list[bytes] = []
            async for message in session.receive():
                sc = message.server_content
                if sc is not None and sc.model_turn is not None and sc.model_turn.parts:
                    for part in sc.model_turn.parts:
                        if part.inline_data is not None and part.inline_data.data:
                            chunks.append(part.inline_data.data)
            total += len(b"".join(chunks))
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    return cpu, wall, total


def client_main(args: argparse.Namespace) -> int:
    if args.client in ("floor", "floor-file"):
        coro = run_floor(args.url, args.cafile, args.turns, to_file=args.client == "floor-file")
    elif args.client == "sdk":
        coro = run_sdk(args.url, args.cafile, args.turns)
    else:
        ensure_rawlive()
        mode = {"rawlive": "pcm", "rawlive-wav": "wav", "rawlive-lean": "lean"}[args.client]
        coro = run_rawlive(args.url, args.cafile, args.turns, mode)
    cpu, wall, nbytes = asyncio.run(coro)
    print(json.dumps({"cpu": cpu, "wall": wall, "bytes": nbytes}))
    return 0


# ------------------------------------------------------------------ driver


def sdk_available() -> bool:
    try:
        return importlib.util.find_spec("google.genai") is not None
    except ModuleNotFoundError:
        return False


def instructions_main(seconds: float, with_sdk: bool) -> int:
    """Count client instructions per frame under valgrind: a noise-free cross-check.

    Each client runs under ``valgrind --tool=cachegrind --cache-sim=no`` once
    with one turn and once with three; the difference divided by the frames
    of two turns is what one more frame costs, start-up excluded. The SDK
    (wss:// only) is compared with rawlive over wss:// too.
    """
    import concurrent.futures
    import shutil

    if shutil.which("valgrind") is None:
        print("note: valgrind is not installed; --instructions is skipped")
        return 0
    per_turn = frames_for(seconds) + 2
    print("bench_receive --instructions: client instructions per frame (valgrind)")
    jobs_of = [("ws", "floor"), ("ws", "rawlive"), ("ws", "rawlive-lean")]
    if with_sdk and have_cryptography():
        jobs_of += [("wss", "rawlive"), ("wss", "sdk")]
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_certs(Path(tmp) / "certs") if len(jobs_of) > 3 else None
        env = child_env(SSL_CERT_FILE=str(certs.ca)) if certs else child_env()
        with ServerProcess(seconds=seconds, certs=certs) as server:

            def count(job: tuple[str, str, int]) -> int:
                transport, variant, turns = job
                url = server.wss_url if transport == "wss" else server.ws_url
                args = [str(Path(__file__).resolve()), "--client", variant]
                args += ["--url", str(url), "--turns", str(turns)]
                if certs is not None:
                    args += ["--cafile", str(certs.ca)]
                return instructions_of(args, env)

            jobs = [(t, v, n) for t, v in jobs_of for n in (1, 3)]
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                counts = dict(zip(jobs, pool.map(count, jobs), strict=True))
    per_frame = {
        (t, v): (counts[(t, v, 3)] - counts[(t, v, 1)]) / (2 * per_turn) for t, v in jobs_of
    }
    floor = per_frame[("ws", "floor")]
    print()
    print_table(
        ["transport", "client", "instructions/frame", "x ws floor"],
        [(t, v, round(n), n / floor) for (t, v), n in per_frame.items()],
    )
    print()

    def one(key: tuple[str, str]) -> Series:
        return Series(key[1], [per_frame[key]])

    base = one(("ws", "floor"))
    print(
        ratio_line(
            "receive ws instructions rawlive/floor",
            one(("ws", "rawlive")),
            base,
            target=TARGET_INSTRUCTIONS,
        )
    )
    print(
        ratio_line("receive ws instructions rawlive-lean/floor", one(("ws", "rawlive-lean")), base)
    )
    if ("wss", "sdk") in per_frame:
        print(
            ratio_line(
                "receive wss instructions sdk/rawlive",
                one(("wss", "sdk")),
                one(("wss", "rawlive")),
                target=TARGET_SDK,
                higher=True,
            )
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--turns", type=int, default=3, help="turns per client run")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio seconds per turn")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved repeats")
    parser.add_argument("--transports", default="ws,wss", help="comma-separated: ws, wss")
    parser.add_argument("--no-sdk", action="store_true", help="skip the google-genai client")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="instead, count client instructions per frame under valgrind (ws:// only)",
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--cafile", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(args)
    if args.instructions:
        return instructions_main(
            10.0 if args.quick else args.seconds, not args.no_sdk and sdk_available()
        )
    if args.quick:
        args.turns, args.seconds, args.repeats = 1, 4.0, 1

    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    if "wss" in transports and not have_cryptography():
        print("note: the cryptography package is missing; wss:// is skipped")
        transports.remove("wss")
    sdk = not args.no_sdk and sdk_available()
    if not args.no_sdk and not sdk:
        print("note: google-genai is not importable; the SDK client is skipped")
    expected = frames_for(args.seconds) * 1920 * args.turns

    print(
        f"bench_receive: {args.turns} turn(s) x {args.seconds:g} s of 24 kHz audio in 40 ms "
        f"binary frames per run, {args.repeats} interleaved repeat(s); {machine_line()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        certs = make_certs(Path(tmp) / "certs") if "wss" in transports else None
        env = child_env(SSL_CERT_FILE=str(certs.ca)) if certs else child_env()
        results: dict[str, dict[str, Series]] = {}
        walls: dict[str, dict[str, Series]] = {}
        with ServerProcess(seconds=args.seconds, certs=certs) as server:
            for transport in transports:
                url = server.wss_url if transport == "wss" else server.ws_url
                assert url is not None
                variants = ["floor", "rawlive", "rawlive-lean", "floor-file", "rawlive-wav"]
                if sdk and transport == "wss":
                    variants.append("sdk")
                cpu = results.setdefault(transport, {v: Series(v) for v in variants})
                wall = walls.setdefault(transport, {v: Series(v) for v in variants})
                for rep in range(args.repeats):
                    # Rotate the order so no variant always runs first.
                    order = variants[rep % len(variants) :] + variants[: rep % len(variants)]
                    for variant in order:
                        child = [str(Path(__file__).resolve()), "--client", variant]
                        child += ["--url", url, "--turns", str(args.turns)]
                        if certs is not None:
                            child += ["--cafile", str(certs.ca)]
                        out = run_json(child, env=env, timeout=600)
                        if out["bytes"] != expected:
                            raise SystemExit(
                                f"{variant} over {transport} received {out['bytes']} PCM bytes, "
                                f"expected {expected}"
                            )
                        cpu[variant].values.append(out["cpu"])
                        wall[variant].values.append(out["wall"])

    frames = frames_for(args.seconds) * args.turns
    print()
    rows = []
    for transport, series in results.items():
        for variant, s in series.items():
            rows.append(
                (
                    transport,
                    variant,
                    s.min,
                    s.median,
                    s.median / frames * 1e6,
                    walls[transport][variant].median,
                    s.median / series["floor"].median,
                )
            )
    print_table(
        ["transport", "client", "cpu min s", "cpu med s", "us/frame", "wall med s", "x floor"],
        rows,
    )
    print()
    for transport, series in results.items():
        floor = series["floor"]
        print(
            ratio_line(
                f"receive {transport} rawlive/floor",
                series["rawlive"],
                floor,
                target=TARGET_RAWLIVE,
            )
        )
        print(ratio_line(f"receive {transport} rawlive-lean/floor", series["rawlive-lean"], floor))
        print(ratio_line(f"receive {transport} rawlive-wav/floor", series["rawlive-wav"], floor))
        print(
            ratio_line(
                f"receive {transport} rawlive-wav/floor-file",
                series["rawlive-wav"],
                series["floor-file"],
            )
        )
        if "sdk" in series:
            print(ratio_line(f"receive {transport} sdk/floor", series["sdk"], floor))
            print(
                ratio_line(
                    f"receive {transport} sdk/rawlive",
                    series["sdk"],
                    series["rawlive"],
                    target=TARGET_SDK,
                    higher=True,
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
