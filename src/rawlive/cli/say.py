"""``rawlive say TEXT``: one turn; print the reply, or write its audio to a WAV."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli import subcommand
from rawlive.cli._input_audio import add_audio_options
from rawlive.cli._session import (
    add_session_options,
    audio_mode,
    connect_options,
    server_target,
)

SUMMARY = "send one turn (text, or a WAV with --input-audio) and print or save the reply"
DESCRIPTION = "Send one turn (TEXT, or a WAV file with --input-audio) and print the reply."
EPILOG = """\
The reply streams to stdout as it arrives (its text, or the transcript of its
audio); notes, usage and the resume handle go to stderr.

examples:
  rawlive say "Hello? Gemini are you there?" --audio hello.wav
  rawlive say "Hello" --modality text --server demo --frames
  rawlive say --input-audio question.wav --fast --json
  rawlive say "what was the last question I asked?" --server ws://127.0.0.1:8766 --resume HANDLE
"""


def add_parser(sub: Any) -> None:
    p = subcommand(sub, "say", SUMMARY, DESCRIPTION, EPILOG, run)
    p.add_argument("text", nargs="?", metavar="TEXT", help="what to say (omit with --input-audio)")
    add_audio_options(p, single=True)
    add_session_options(p)


async def run(args: argparse.Namespace) -> int:
    import rawlive
    from rawlive.cli._input_audio import audio_turn, open_wav
    from rawlive.cli._output import TurnPrinter
    from rawlive.errors import ConfigurationError

    if args.text is not None:
        try:
            args.text.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigurationError("TEXT is not valid UTF-8; nothing was sent") from None
    audio = audio_mode(args)
    if (args.text is None) == (args.input_audio is None):
        raise ConfigurationError("give TEXT or --input-audio IN.wav (one of them)")
    if args.audio is not None and not audio:
        raise ConfigurationError(
            "--audio needs audio replies: drop --modality text (the default is audio)"
        )
    wav = open_wav(args.input_audio) if args.input_audio is not None else None
    options = connect_options(args, audio)
    if wav is not None:
        options["input_audio_transcription"] = True
    printer = TurnPrinter(sys.stdout, sys.stderr, json_mode=args.json)
    options["observers"] = [*options["observers"], printer]
    try:
        async with server_target(args) as target, rawlive.connect(**target, **options) as session:
            printer.demo = args.server_used == "demo"
            printer.begin_turn(prompt=args.text, input_audio=args.input_audio)
            if wav is None:
                await session.send_text(args.text)
                printer.input_sent()
                turn = await session.receive_turn(wav=args.audio, timeout=args.timeout)
            else:
                turn = await audio_turn(
                    session,
                    wav,
                    fast=args.fast,
                    receive=lambda: session.receive_turn(wav=args.audio, timeout=args.timeout),
                    on_sent=printer.input_sent,
                )
            await printer.end_turn(session, turn, args.audio)
            if args.audio is None and audio and turn.audio_bytes and not args.json:
                printer.note(
                    f"({turn.audio_duration:.2f} s of audio not saved: pass --audio OUT.wav)"
                )
            await printer.print_footer(session)
    finally:
        printer.finish_lines()
    return 0
