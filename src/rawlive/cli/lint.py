"""``rawlive lint CAPTURE``: a capture's client frames the service would reject."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli import subcommand
from rawlive.cli._args import add_capture_argument, load_capture

SUMMARY = "check a capture's client frames for what the service would reject"
DESCRIPTION = (
    "Check every client frame of a capture against what the service rejects with 1007/1008. "
    "Exit status 1 when something is found."
)
EPILOG = """\
example:
  rawlive say "Hello" --record session.jsonl && rawlive lint session.jsonl
"""


def add_parser(sub: Any) -> None:
    add_capture_argument(subcommand(sub, "lint", SUMMARY, DESCRIPTION, EPILOG, run))


def run(args: argparse.Namespace) -> int:
    from rawlive.capture.lint import format_findings, lint_capture

    capture, problem = load_capture(args.capture, partial=True)
    findings = lint_capture(capture)
    print(format_findings(findings), flush=True)
    if problem:
        print(f"rawlive: error: {problem}", file=sys.stderr)
        return 1
    return 1 if findings else 0
