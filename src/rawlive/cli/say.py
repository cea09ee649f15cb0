"""``rawlive say TEXT``: one turn; print the reply, or write its audio to a WAV."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli._args import output_file
from rawlive.cli._session import (
    add_session_options,
    audio_mode,
    connect_options,
    print_turn_footer,
    server_target,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("say", help="send one text turn and print or save the reply")
    p.add_argument("text")
    p.add_argument(
        "--audio",
        metavar="OUT.wav",
        type=output_file,
        help="ask for audio and write it to this WAV",
    )
    add_session_options(p)
    p.set_defaults(run=run, is_async=True)


async def run(args: argparse.Namespace) -> int:
    import rawlive
    from rawlive.errors import ConfigurationError

    try:
        args.text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError("TEXT is not valid UTF-8; nothing was sent") from None
    audio = audio_mode(args)
    options = connect_options(args, audio)
    async with server_target(args) as target, rawlive.connect(**target, **options) as session:
        await session.send_text(args.text)
        turn = await session.receive_turn(wav=args.audio, timeout=args.timeout)
        text = turn.text or turn.output_transcript
        if text:
            print(text)
        if args.audio is not None:
            print(f"audio saved to {args.audio} ({turn.audio_duration:.2f} s)", file=sys.stderr)
        elif audio and turn.audio_bytes:
            print(
                f"({turn.audio_duration:.2f} s of audio not saved: pass --audio OUT.wav)",
                file=sys.stderr,
            )
        await print_turn_footer(session, sys.stderr)
    return 0
