"""The ``rawlive`` command line (also ``python -m rawlive``).

Each subcommand lives in a module of its own in this package, with two
functions: ``add_parser(sub)`` declares it (with :func:`subcommand`) and its
arguments, and ``run(args)`` does the work. A subcommand module imports what
it needs inside ``run`` so that ``rawlive explain`` does not pay for asyncio,
websockets or the codec.

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
    token    mint an ephemeral token (auth_tokens/...) for a browser or phone client
    completion  print a bash, zsh or fish completion script

With no API key found, ``say`` and ``chat`` run against the bundled fake
server (``--server demo``), so a first run works offline.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # not from typing: rawlive explain does not import typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

__all__ = ["build_parser", "main", "subcommand"]

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
    "token",
    "completion",
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of the ``rawlive`` command.

    With ``only`` (a name in :data:`COMMANDS`), just that subcommand is
    declared: ``main`` does this when the first argument names a command, so
    ``rawlive explain 1008`` does not import the modules (and the help texts)
    of the other eleven.
    """
    from rawlive import __version__

    parser = _Parser(prog="rawlive", description="A raw WebSocket client for the Gemini Live API.")
    parser.add_argument("--version", action="version", version=f"rawlive {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f"rawlive.cli.{name}")
        module.add_parser(sub)
    return parser


def subcommand(
    sub: Any, name: str, summary: str, description: str, epilog: str, run: Callable[..., Any]
) -> argparse.ArgumentParser:
    """Declare the subcommand ``name`` and the function that runs it.

    Args:
        sub: the ``add_subparsers()`` object of the ``rawlive`` parser.
        name: the subcommand's name.
        summary: its line in ``rawlive --help``.
        description: the paragraph at the top of ``rawlive NAME --help``.
        epilog: the examples at its end, printed as written.
        run: ``run(args)``, returning the exit status, or a coroutine
            (an async command) that returns it.

    Returns:
        The subcommand's parser, to declare its arguments on.
    """
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Every error ends as one ``rawlive: error: ...`` line on stderr and a
    non-zero status, never a traceback: 2 for a bad argument (argparse), 1
    for everything else, 130 for Ctrl-C.
    """
    from rawlive.errors import LiveError

    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
    args = parser.parse_args(words)
    try:
        status = args.run(args)
        if not isinstance(status, int):  # an async command: run its coroutine
            import asyncio

            status = asyncio.run(status)
        return int(status)
    except LiveError as exc:
        _error(str(exc))
        explanation = getattr(exc, "explanation", "")
        if explanation and explanation not in str(exc):
            print(f"rawlive: {explanation}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        _error(describe_os_error(exc))
        return 1
    except UnicodeError as exc:
        _error(f"text is not valid UTF-8 ({_one_line(str(exc))})")
        return 1
    except RecursionError:
        _error("the input is nested too deeply")
        return 1
    except MemoryError:
        _error("out of memory")
        return 1
    except Exception as exc:  # the last resort: one line, never a traceback
        _error(f"unexpected {type(exc).__name__}: {_one_line(str(exc))} (please report it)")
        return 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()


def describe_os_error(exc: OSError) -> str:
    """Return one line for an OSError: what failed and on which file or address."""
    from rawlive.redact import redact_text

    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        target = os.fsdecode(exc.filename)
        if exc.filename2 is not None:
            target += f" -> {os.fsdecode(exc.filename2)}"
        return redact_text(f"{target}: {what}")
    return redact_text(_one_line(str(exc)) or what)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error(message: str) -> None:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    print(f"rawlive: error: {_one_line(message, 2000)}", file=sys.stderr)
