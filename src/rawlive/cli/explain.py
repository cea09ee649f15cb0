"""``rawlive explain CODE [REASON]``: what a close code and reason usually mean."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("explain", help="what a close code and reason usually mean")
    p.add_argument("code", type=int)
    p.add_argument("reason", nargs="*")
    p.set_defaults(run=run, is_async=False)


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
