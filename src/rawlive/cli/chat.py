"""``rawlive chat [TEXT ...]``: several turns in one session (stdin when no TEXT)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
        "--audio-dir", metavar="DIR", help="ask for audio; write audio_response_N.wav files here"
    )
    add_session_options(p)
    p.set_defaults(run=run, is_async=True)


async def run(args: argparse.Namespace) -> int:
    import asyncio

    import rawlive

    audio = audio_mode(args)
    options = connect_options(args, audio)
    texts: Sequence[str] = args.texts
    out_dir = Path(args.audio_dir) if args.audio_dir else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    async with server_target(args) as target, rawlive.connect(**target, **options) as session:
        try:
            await _converse(session, args, texts, out_dir)
        except asyncio.CancelledError:  # Ctrl-C: leave at once, with the handle to resume
            if session.handle:
                print(f"\nresume handle: {session.handle}", file=sys.stderr)
            raise
        await print_turn_footer(session, sys.stderr)
    return 0


async def _converse(
    session: Any, args: argparse.Namespace, texts: Sequence[str], out_dir: Path | None
) -> None:
    pending = list(texts)
    interactive = not pending
    index = 0
    while True:
        if interactive:
            line = await _read_line()
            if line is None:
                break
            text = line
        elif pending:
            text = pending.pop(0)
        else:
            break
        if not text.strip():
            continue
        print(f"> {text}", file=sys.stderr)
        await session.send_text(text)
        wav = out_dir / f"audio_response_{index}.wav" if out_dir is not None else None
        turn = await session.receive_turn(wav=wav, timeout=args.timeout)
        reply = turn.text or turn.output_transcript
        if reply:
            print(reply)
        if wav is not None:
            print(f"audio saved to {wav} ({turn.audio_duration:.2f} s)", file=sys.stderr)
        index += 1


async def _read_line() -> str | None:
    """The next input line, read by a daemon thread: Ctrl-C never waits for it."""
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()

    def deliver(line: str | None) -> None:
        if not future.done():
            future.set_result(line)

    def read() -> None:
        try:
            line = _prompt()
        except (OSError, ValueError):
            line = None
        loop.call_soon_threadsafe(deliver, line)

    threading.Thread(target=read, name="rawlive-prompt", daemon=True).start()
    return await future


def _prompt() -> str | None:
    if sys.stdin.isatty():
        try:
            return input("you> ")
        except EOFError:
            return None
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None
