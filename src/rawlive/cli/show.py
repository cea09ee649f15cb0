"""``rawlive show CAPTURE``: a capture's timeline of frames, turns, latency and usage.

With ``--html OUT.html`` it writes the same capture as one self-contained web
page instead (see :mod:`rawlive.capture.html`); ``--compare B`` puts a second
capture next to it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli import subcommand
from rawlive.cli._args import add_capture_argument, capture_file, load_capture, output_file

SUMMARY = "a capture's timeline: frames, turns, latency, usage"
DESCRIPTION = (
    "Print a capture's timeline: one line per frame (audio runs collapsed), turn boundaries, "
    "time to first output, and token usage. With --html, write it as one self-contained web "
    "page instead: lanes, turns, latency, audio players, frames."
)
EPILOG = """\
examples:
  rawlive say "Hello" --record session.jsonl && rawlive show session.jsonl
  rawlive show session.jsonl --html session.html
  rawlive show a.jsonl --html compare.html --compare b.jsonl
"""


def add_parser(sub: Any) -> None:
    p = subcommand(sub, "show", SUMMARY, DESCRIPTION, EPILOG, run)
    add_capture_argument(p)
    p.add_argument(
        "--verbose", action="store_true", help="one line per audio chunk (no collapsing)"
    )
    p.add_argument(
        "--html",
        metavar="OUT.html",
        type=output_file,
        help="write a self-contained web page instead of text",
    )
    p.add_argument(
        "--compare",
        metavar="B",
        type=capture_file,
        help="with --html: a second capture, side by side by turn",
    )
    p.add_argument(
        "--audio-budget",
        metavar="MB",
        type=float,
        help="with --html: megabytes of audio to embed as players (default 12); "
        "later turns get a waveform only",
    )


def run(args: argparse.Namespace) -> int:
    import shutil

    if args.html is None and args.compare is not None:
        print("rawlive: error: --compare needs --html OUT.html", file=sys.stderr)
        return 2
    captures = []
    problems = []
    for path in (args.capture, args.compare):
        if path is not None:
            # A capture cut by a crash is shown up to the cut, then the cut is named.
            capture, problem = load_capture(path, partial=True)
            captures.append(capture)
            if problem:
                problems.append(problem)
    if args.html is None:
        from rawlive.capture.tools import format_timeline

        tty = sys.stdout.isatty()
        width = shutil.get_terminal_size().columns if tty else 0
        text = format_timeline(captures[0], color=tty, width=width, verbose=args.verbose)
        print(text, end="", flush=True)
        status = 0
    else:
        status = _write_html(args, captures)
    for problem in problems:
        print(f"rawlive: error: {problem}", file=sys.stderr)
    return status or (1 if problems else 0)


def _write_html(args: argparse.Namespace, captures: list[Any]) -> int:
    from pathlib import Path

    from rawlive.capture.html import DEFAULT_AUDIO_BUDGET, render_html

    budget = DEFAULT_AUDIO_BUDGET
    if args.audio_budget is not None:
        if not args.audio_budget >= 0:
            print("rawlive: error: --audio-budget must be 0 or more megabytes", file=sys.stderr)
            return 2
        budget = int(args.audio_budget * 1_000_000)
    page = render_html(
        captures[0],
        name=Path(args.capture).name,
        audio_budget=budget,
        compare=captures[1] if len(captures) > 1 else None,
        compare_name=Path(args.compare).name if args.compare is not None else "B",
    )
    out = Path(args.html)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        print(f"rawlive: error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    size = len(page.encode("utf-8"))
    print(f"wrote {out} ({size / 1e6:.1f} MB)")
    return 0
