"""``rawlive show CAPTURE``: a capture's timeline of frames, turns, latency and usage."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli._args import capture_file, load_capture

_EPILOG = """\
example:
  rawlive say "Hello" --record session.jsonl && rawlive show session.jsonl
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "show",
        help="a capture's timeline: frames, turns, latency, usage",
        description="Print a capture's timeline: one line per frame (audio runs collapsed), "
        "turn boundaries, time to first output, and token usage.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "capture",
        metavar="CAPTURE",
        type=capture_file,
        help="a capture file (.jsonl), e.g. from --record",
    )
    p.add_argument(
        "--verbose", action="store_true", help="one line per audio chunk (no collapsing)"
    )
    p.set_defaults(run=run, is_async=False)


def run(args: argparse.Namespace) -> int:
    import shutil

    from rawlive.capture.tools import format_timeline

    capture, problem = load_capture(args.capture, partial=True)
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else 0
    text = format_timeline(capture, color=tty, width=width, verbose=args.verbose)
    print(text, end="", flush=True)
    if problem:
        print(f"rawlive: error: {problem}", file=sys.stderr)
        return 1
    return 0
