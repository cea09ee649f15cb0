"""``rawlive lint CAPTURE``: a capture's client frames the service would reject."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli._args import capture_file, load_capture


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "lint", help="check a capture's client frames for what the service would reject"
    )
    p.add_argument("capture", type=capture_file)
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
