"""``rawlive chat [TEXT ...]``: several turns in one session (stdin when no TEXT)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rawlive.cli._args import output_dir
from rawlive.cli._session import (
    add_session_options,
    audio_mode,
    connect_options,
    print_turn_footer,
    server_target,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("chat", help="several turns in one session (stdin when no TEXT given)")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument(
        "--audio-dir",
        metavar="DIR",
        type=output_dir,
        help="ask for audio; write audio_response_N.wav files here",
    )
    add_session_options(p)
    p.set_defaults(run=run, is_async=True)


async def run(args: argparse.Namespace) -> int:
    import asyncio

    import rawlive

    audio = audio_mode(args)
    options = connect_options(args, audio)
    texts: Sequence[str] = args.texts
    interactive = not texts
    out_dir = Path(args.audio_dir) if args.audio_dir else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    async with server_target(args) as target, rawlive.connect(**target, **options) as session:
        position = 0  # the next TEXT argument or stdin line
        turn_number = 0  # numbers the WAV files
        try:
            while True:
                position += 1
                if interactive:
                    line = await asyncio.to_thread(_prompt)
                    if line is None:
                        break
                    text = line
                else:
                    if position > len(texts):
                        break
                    text = texts[position - 1]
                if _has_bad_bytes(text):
                    print(
                        f"rawlive: warning: input {position} is not valid UTF-8; skipped",
                        file=sys.stderr,
                    )
                    continue
                if not text.strip():
                    continue
                print(f"> {text}", file=sys.stderr)
                await session.send_text(text)
                wav = out_dir / f"audio_response_{turn_number}.wav" if out_dir is not None else None
                turn = await session.receive_turn(wav=wav, timeout=args.timeout)
                reply = turn.text or turn.output_transcript
                if reply:
                    print(reply)
                if wav is not None:
                    print(f"audio saved to {wav} ({turn.audio_duration:.2f} s)", file=sys.stderr)
                turn_number += 1
        except BaseException:
            # Whatever went wrong, the handle lets the user resume (--resume).
            if session.handle:
                print(f"resume handle: {session.handle}", file=sys.stderr)
            raise
        await print_turn_footer(session, sys.stderr)
    return 0


def _has_bad_bytes(text: str) -> bool:
    """Whether ``text`` came from bytes that are not UTF-8 (argv keeps them as surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _prompt() -> str | None:
    if sys.stdin.isatty():
        try:
            return input("you> ")
        except EOFError:
            return None
        except UnicodeDecodeError:
            return "\udcff"  # reported and skipped by the loop
    raw = sys.stdin.buffer.readline()
    if not raw:
        return None
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return "\udcff"  # reported and skipped by the loop
