#!/usr/bin/env python3
"""Decode cost of server audio frames: rawlive against a plain orjson + base64 floor.

Usage::

    python scripts/bench_codec.py [--quick] [--seconds 60] [--rounds 41] [--passes 2]
    python scripts/bench_codec.py --instructions

Decodes 60 s of 24 kHz audio (1500 frames of 40 ms, as the service streams
them) into PCM with ``rawlive.decode_server(frame).audio`` and, in the same
run, with the floor ``base64.b64decode(orjson.loads(frame)[...]["data"])``.
Runs are interleaved (floor, rawlive, floor, rawlive, ...) and each round's
ratio is taken from its own back-to-back pair, so machine noise mostly
cancels; the min and median over the rounds are printed.

``--instructions`` counts instructions per frame of the fast path under
valgrind instead (floor and rawlive, N then 2N frames, start-up cancelled):
a cross-check that does not depend on the machine's load.

Target: the fast path within 1.3x of the floor (CPU). For information it also
measures the generic path: an audio frame carrying an unknown key (which the
fast path refuses, so the generic table walk decodes it), and a text frame
with an unknown top-level key.
"""

from __future__ import annotations

import argparse
import base64
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import (
    MIME,
    Series,
    audio_frames,
    ensure_rawlive,
    instructions_of,
    machine_line,
    pcm_chunks,
    print_table,
    ratio_line,
)

ensure_rawlive()
import rawlive  # noqa: E402

TARGET = 1.3


def generic_audio_frames(seconds: float) -> list[bytes]:
    """Audio frames with one unknown key inside serverContent (not the fast path)."""
    out = []
    for pcm in pcm_chunks(seconds, seed=2):
        part = {"inlineData": {"mimeType": MIME, "data": base64.b64encode(pcm).decode()}}
        out.append(
            orjson.dumps({"serverContent": {"modelTurn": {"parts": [part]}, "futureField": 1}})
        )
    return out


def generic_text_frames(count: int) -> list[bytes]:
    """Text frames with an unknown top-level key (the generic walk at every level)."""
    return [
        orjson.dumps(
            {
                "serverContent": {"modelTurn": {"parts": [{"text": f"word {i} of the reply "}]}},
                "futureTopLevel": {"n": i},
            }
        )
        for i in range(count)
    ]


def floor_audio(frames: list[bytes]) -> None:
    loads, b64decode = orjson.loads, base64.b64decode
    for f in frames:
        b64decode(loads(f)["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"])


def rawlive_audio(frames: list[bytes]) -> None:
    decode = rawlive.decode_server
    for f in frames:
        _ = decode(f).audio


def floor_text(frames: list[bytes]) -> None:
    loads = orjson.loads
    for f in frames:
        loads(f)["serverContent"]["modelTurn"]["parts"][0]["text"]


def rawlive_text(frames: list[bytes]) -> None:
    decode = rawlive.decode_server
    for f in frames:
        _ = decode(f).text


def timed(fn: Callable[[list[bytes]], None], frames: list[bytes], passes: int) -> float:
    """CPU seconds for ``passes`` passes of ``fn`` over ``frames``."""
    gc.collect()
    t0 = time.process_time()
    for _ in range(passes):
        fn(frames)
    return time.process_time() - t0


def compare(
    name: str,
    floor: Callable[[list[bytes]], None],
    ours: Callable[[list[bytes]], None],
    frames: list[bytes],
    rounds: int,
    passes: int,
) -> tuple[Series, Series]:
    base, mine = Series(f"{name} floor"), Series(f"{name} rawlive")
    timed(floor, frames, 1)  # warm up both (caches, specialisation)
    timed(ours, frames, 1)
    for i in range(rounds):
        # Alternate which goes first so neither always gets the warmer cache.
        if i % 2:
            mine.values.append(timed(ours, frames, passes))
            base.values.append(timed(floor, frames, passes))
        else:
            base.values.append(timed(floor, frames, passes))
            mine.values.append(timed(ours, frames, passes))
    return base, mine


def check(frames: list[bytes], generic: list[bytes]) -> None:
    """The two decoders must agree, or the comparison means nothing."""
    for f in frames[:50] + generic[:50]:
        value = orjson.loads(f)
        want = base64.b64decode(
            value["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"]
        )
        if rawlive.decode_server(f).audio != want:
            raise SystemExit("rawlive and the floor decoded different PCM")


def count_main(client: str, passes: int) -> int:
    """Decode 500 fast-path frames ``passes`` times with one decoder (run under valgrind).

    The frames are made once, whatever the passes: only decoding grows with them.
    """
    data = audio_frames(20.0)  # 500 frames of 40 ms
    decode = floor_audio if client == "floor" else rawlive_audio
    for _ in range(passes):
        decode(data)
    return 0


def instructions_main() -> int:
    """Instructions per fast-path frame, floor and rawlive, counted by valgrind."""
    import shutil

    if shutil.which("valgrind") is None:
        print("note: valgrind is not installed; --instructions is skipped")
        return 0
    passes, frames = 10, 500
    me = str(Path(__file__).resolve())
    per = {
        client: (
            instructions_of([me, "--count", client, str(2 * passes)])
            - instructions_of([me, "--count", client, str(passes)])
        )
        / (passes * frames)
        for client in ("floor", "rawlive")
    }
    print(
        f"bench_codec --instructions: {passes * frames} then {2 * passes * frames} "
        f"fast-path frames; {machine_line()}"
    )
    print_table(
        ["client", "instructions/frame", "x floor"],
        [(c, round(per[c]), per[c] / per["floor"]) for c in per],
    )
    print()
    print(
        ratio_line(
            "codec audio fast path instructions rawlive/floor",
            Series("rawlive", [per["rawlive"]]),
            Series("floor", [per["floor"]]),
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for smoke tests")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of audio")
    parser.add_argument("--rounds", type=int, default=41, help="interleaved pairs")
    parser.add_argument("--passes", type=int, default=2, help="passes over the frames per run")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per frame (valgrind)"
    )
    parser.add_argument("--count", nargs=2, metavar=("CLIENT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.count:
        return count_main(args.count[0], int(args.count[1]))
    if args.instructions:
        return instructions_main()
    if args.quick:
        args.seconds, args.rounds, args.passes = 10.0, 5, 2

    frames = audio_frames(args.seconds)
    generic = generic_audio_frames(args.seconds)
    texts = generic_text_frames(len(frames))
    check(frames, generic)

    print(f"bench_codec: {len(frames)} audio frames ({args.seconds:g} s of 24 kHz PCM),")
    print(f"{args.rounds} interleaved rounds x {args.passes} passes; {machine_line()}")
    print()

    cases = [
        ("audio fast path", floor_audio, rawlive_audio, frames, TARGET),
        ("audio generic path", floor_audio, rawlive_audio, generic, None),
        ("text + unknown key", floor_text, rawlive_text, texts, None),
    ]
    results = []
    for label, floor, ours, data, target in cases:
        base, mine = compare(label, floor, ours, data, args.rounds, args.passes)
        results.append((label, base, mine, target))
    per_frame = args.passes * len(frames) / 1e6
    rows = []
    for label, base, mine, _ in results:
        rows.append(
            (
                label,
                base.min / per_frame,
                base.median / per_frame,
                mine.min / per_frame,
                mine.median / per_frame,
            )
        )
    print_table(["case", "floor min us", "floor med us", "rawlive min us", "rawlive med us"], rows)
    print()
    for label, base, mine, target in results:
        print(ratio_line(f"codec {label} rawlive/floor", mine, base, target=target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
