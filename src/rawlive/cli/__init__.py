"""The ``rawlive`` command line (also ``python -m rawlive``).

Each subcommand lives in a module of its own in this package, with two
functions: ``add_parser(sub)`` declares its arguments and ``run(args)`` does the
work. A subcommand module imports what it needs inside ``run`` so that
``rawlive explain`` does not pay for asyncio, websockets or the codec.

Commands:
    say      one turn: print the reply text (or write it to a WAV), usage and handle
    chat     several turns in one session, each audio reply to its own numbered WAV
    explain  what a close code and reason usually mean
    lint     check a capture's client frames for what the service would reject
    show     a capture's timeline: frames, turn boundaries, latency, token usage
    wav      the model's (or with --input the user's) audio from a capture
    diff     what differs in shape between two captures (protocol drift)
    serve    replay a capture as a Live API server (ws:// or wss://)
    fake     run the bundled fake Live server on its own, until Ctrl-C
    proxy    relay any Live client to the service: watch, record, lint, inject faults
    completion  print a bash, zsh or fish completion script

With no API key found, ``say`` and ``chat`` run against the bundled fake
server (``--server demo``), so a first run works offline.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

# The subcommands in the order ``--help`` lists them; each names its module.
COMMANDS: tuple[str, ...] = (
    "say",
    "chat",
    "explain",
    "lint",
    "serve",
    "fake",
    "proxy",
    "show",
    "wav",
    "diff",
    "completion",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``rawlive`` command."""
    from rawlive import __version__

    parser = argparse.ArgumentParser(
        prog="rawlive", description="A raw WebSocket client for the Gemini Live API."
    )
    parser.add_argument("--version", action="version", version=f"rawlive {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"rawlive.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    from rawlive.errors import LiveError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.is_async:
            import asyncio

            return int(asyncio.run(args.run(args)))
        return int(args.run(args))
    except LiveError as exc:
        print(f"rawlive: error: {exc}", file=sys.stderr)
        explanation = getattr(exc, "explanation", "")
        if explanation and explanation not in str(exc):
            print(f"rawlive: {explanation}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
