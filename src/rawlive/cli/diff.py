"""``rawlive diff A B``: what differs in shape between two captures (protocol drift)."""

from __future__ import annotations

import argparse
from typing import Any

from rawlive.cli import subcommand
from rawlive.cli._args import capture_file, load_capture

SUMMARY = "what differs in shape between two captures"
DESCRIPTION = (
    "Compare the shape of two captures (message kinds, fields, order), not their values: "
    "protocol drift shows up here. Exit status 1 when they differ."
)
EPILOG = """\
example:
  rawlive diff old.jsonl new.jsonl
"""


def add_parser(sub: Any) -> None:
    p = subcommand(sub, "diff", SUMMARY, DESCRIPTION, EPILOG, run)
    p.add_argument(
        "a", metavar="A", type=capture_file, help="the first capture file (e.g. last month's)"
    )
    p.add_argument(
        "b", metavar="B", type=capture_file, help="the second capture file (e.g. today's)"
    )


def run(args: argparse.Namespace) -> int:
    from rawlive.capture.tools import diff_captures, format_diff

    a, _ = load_capture(args.a)
    b, _ = load_capture(args.b)
    diff = diff_captures(a, b, a_name=args.a, b_name=args.b)
    text = format_diff(diff)
    print(text, end="" if text.endswith("\n") else "\n")
    return 0 if diff.same else 1
