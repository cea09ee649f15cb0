"""``rawlive diff A B``: what differs in shape between two captures (protocol drift)."""

from __future__ import annotations

import argparse
from typing import Any

from rawlive.cli._args import capture_file, load_capture


def add_parser(sub: Any) -> None:
    p = sub.add_parser("diff", help="what differs in shape between two captures")
    p.add_argument("a", type=capture_file)
    p.add_argument("b", type=capture_file)
    p.set_defaults(run=run, is_async=False)


def run(args: argparse.Namespace) -> int:
    from rawlive.capture.tools import diff_captures, format_diff

    a, _ = load_capture(args.a)
    b, _ = load_capture(args.b)
    diff = diff_captures(a, b, a_name=args.a, b_name=args.b)
    text = format_diff(diff)
    print(text, end="" if text.endswith("\n") else "\n")
    return 0 if diff.same else 1
