"""``rawlive chat [TEXT ...]``: several turns in one session (stdin when no TEXT)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rawlive.cli import subcommand
from rawlive.cli._input_audio import add_audio_options
from rawlive.cli._session import (
    add_session_options,
    audio_mode,
    connect_options,
    server_target,
)

SUMMARY = "several turns in one session (stdin when no TEXT given)"
DESCRIPTION = "Several turns in one session: each TEXT (or WAV file) is a turn."
EPILOG = """\
Each TEXT is one turn; a TEXT that ends in .wav and names a file is sent as
audio (16-bit PCM WAV, any rate). With no TEXT, turns are read from stdin,
one per line. Replies stream to stdout; the last resume handle goes to stderr.

examples:
  rawlive chat "Hello" "What is the capital of Brazil?" --modality text
  rawlive chat "Hello" question.wav --audio-dir out/ --fast
  printf 'Hello\\nCan you tell me a joke?\\n' | rawlive chat --json
"""


def add_parser(sub: Any) -> None:
    p = subcommand(sub, "chat", SUMMARY, DESCRIPTION, EPILOG, run)
    p.add_argument(
        "texts",
        nargs="*",
        metavar="TEXT",
        help="the turns, in order: text, or a .wav file to send as audio (default: stdin lines)",
    )
    add_audio_options(p, single=False)
    add_session_options(p)


async def run(args: argparse.Namespace) -> int:
    import asyncio

    import rawlive
    from rawlive.cli._input_audio import audio_turn, is_wav_turn, open_wav
    from rawlive.cli._output import TurnPrinter
    from rawlive.errors import ConfigurationError, LiveError

    audio = audio_mode(args)
    if args.audio_dir is not None and not audio:
        raise ConfigurationError(
            "--audio-dir needs audio replies: drop --modality text (the default is audio)"
        )
    texts: Sequence[str] = args.texts
    interactive = not texts
    wavs = {t: open_wav(t.strip()) for t in texts if is_wav_turn(t)}  # checked before connecting
    options = connect_options(args, audio)
    options["input_audio_transcription"] = bool(wavs) or interactive
    printer = TurnPrinter(sys.stdout, sys.stderr, json_mode=args.json)
    options["observers"] = [*options["observers"], printer]
    out_dir = Path(args.audio_dir) if args.audio_dir else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    async with server_target(args) as target, rawlive.connect(**target, **options) as session:
        printer.demo = args.server_used == "demo"
        try:
            index = 0
            while True:
                if interactive:
                    line = await _read_line()
                    if line is None:
                        break
                    text = line
                else:
                    if index >= len(texts):
                        break
                    text = texts[index]
                if _has_bad_bytes(text):
                    printer.note(f"rawlive: warning: input {index + 1} is not valid UTF-8; skipped")
                    index += 1
                    continue
                if not text.strip():
                    index += 1  # without it, an empty TEXT argument loops forever
                    continue
                wav = out_dir / f"audio_response_{index}.wav" if out_dir is not None else None
                try:
                    audio_in = wavs.get(text)
                    if audio_in is None and is_wav_turn(text):  # a line on stdin
                        try:
                            audio_in = open_wav(text.strip())
                        except LiveError as exc:  # one line; the session goes on
                            printer.note(f"rawlive: error: {exc}")
                            index += 1
                            continue
                    if audio_in is None:
                        printer.begin_turn(prompt=text)
                        if not args.json:
                            printer.note(f"> {text}")
                        await session.send_text(text)
                        printer.input_sent()
                        turn = await session.receive_turn(wav=wav, timeout=args.timeout)
                    else:
                        printer.begin_turn(input_audio=text.strip())
                        if not args.json:
                            printer.note(f"> [{text.strip()}: {audio_in.duration:.2f} s of audio]")
                        turn = await audio_turn(
                            session,
                            audio_in,
                            fast=args.fast,
                            receive=lambda wav=wav: session.receive_turn(
                                wav=wav, timeout=args.timeout
                            ),
                            on_sent=printer.input_sent,
                        )
                    await printer.end_turn(session, turn, wav)
                finally:
                    printer.finish_lines()
                index += 1
        except asyncio.CancelledError:  # Ctrl-C: leave at once, with the handle to resume
            if session.handle:
                print(f"\nresume handle: {session.handle}", file=sys.stderr)
            raise
        await printer.print_footer(session)
    return 0


def _has_bad_bytes(text: str) -> bool:
    """Whether ``text`` came from bytes that are not UTF-8 (argv keeps them as surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
        except UnicodeDecodeError:
            return "\udcff"  # reported and skipped by the loop
    raw = _read_raw_line()
    if not raw:
        return None
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return "\udcff"  # reported and skipped by the loop


_pending = bytearray()


def _read_raw_line() -> bytes:
    """One line of stdin, read from its file descriptor when it has one.

    The prompt thread is a daemon so that Ctrl-C never waits for it; blocked
    in ``sys.stdin.buffer`` it would hold the buffer's lock, and the
    interpreter aborts at exit when it finds that lock taken.
    """
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.stdin.buffer.readline()
    while True:
        end = _pending.find(b"\n")
        if end >= 0:
            line = bytes(_pending[: end + 1])
            del _pending[: end + 1]
            return line
        chunk = os.read(fd, 65536)
        if not chunk:
            line = bytes(_pending)
            _pending.clear()
            return line
        _pending.extend(chunk)
