"""``rawlive lint CAPTURE``: a capture's client frames the service would reject."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "lint", help="check a capture's client frames for what the service would reject"
    )
    p.add_argument("capture")
    p.set_defaults(run=run, is_async=False)


def run(args: argparse.Namespace) -> int:
    from rawlive.capture.format import read_capture
    from rawlive.capture.lint import format_findings, lint_capture

    findings = lint_capture(read_capture(args.capture))
    print(format_findings(findings))
    return 1 if findings else 0
