"""``rawlive explain CODE [REASON]``: what a close code and reason usually mean."""

from __future__ import annotations

import argparse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SUMMARY = "what a close code and reason usually mean"
DESCRIPTION = (
    "Explain a WebSocket close code (and reason) of the Live API: what it usually means, "
    "and whether retrying can help."
)
EPILOG = """\
examples:
  rawlive explain 1008 "BidiGenerateContent session not found"
  rawlive explain 1011
"""


def add_parser(sub: Any) -> None:
    from rawlive.cli import subcommand

    p = subcommand(sub, "explain", SUMMARY, DESCRIPTION, EPILOG, run)
    p.add_argument("code", type=int, metavar="CODE", help="the close code, e.g. 1007 or 1011")
    p.add_argument(
        "reason", nargs="*", metavar="REASON", help="the close reason, if any (words are joined)"
    )


def run(args: argparse.Namespace) -> int:
    from rawlive.closecodes import explain_close

    info = explain_close(args.code, " ".join(args.reason))
    print(f"{info.code} {info.title}")
    print(f"  meaning: {info.meaning}")
    print(f"  retry:   {'can help' if info.retryable else 'will not help as is'}")
    if info.normal_end:
        print("  this is the normal end of a connection: reconnect with the latest handle")
    if info.truncated:
        print("  the reason looks cut at the 123-byte limit of a close frame")
    return 0
