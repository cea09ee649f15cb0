"""``rawlive lint CAPTURE``: a capture's client frames the service would reject."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli._args import capture_file, load_capture

_EPILOG = """\
example:
  rawlive say "Hello" --record session.jsonl && rawlive lint session.jsonl
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "lint",
        help="check a capture's client frames for what the service would reject",
        description="Check every client frame of a capture against what the service rejects "
        "with 1007/1008. Exit status 1 when something is found.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "capture",
        metavar="CAPTURE",
        type=capture_file,
        help="a capture file (.jsonl), e.g. from --record",
    )
    p.set_defaults(run=run, is_async=False)


def run(args: argparse.Namespace) -> int:
    from rawlive.capture.lint import format_findings, lint_capture

    capture, problem = load_capture(args.capture, partial=True)
    findings = lint_capture(capture)
    print(format_findings(findings), flush=True)
    if problem:
        print(f"rawlive: error: {problem}", file=sys.stderr)
        return 1
    return 1 if findings else 0
