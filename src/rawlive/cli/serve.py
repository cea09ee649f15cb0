"""``rawlive serve CAPTURE``: replay a capture as a Live API server, for any client."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="replay a capture as a Live API server, for any client")
    p.add_argument("capture")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument(
        "--port", type=int, default=8765, help="TCP port (default 8765; 0: any free port)"
    )
    p.add_argument(
        "--tls-cert", metavar="C", help="PEM certificate: serve wss:// (needs --tls-key)"
    )
    p.add_argument("--tls-key", metavar="K", help="PEM private key of --tls-cert")
    p.add_argument(
        "--pace",
        choices=("original", "fast"),
        default="fast",
        help="fast: send server frames at once (default); original: keep the recorded gaps",
    )
    p.add_argument(
        "--rules",
        choices=("service", "lenient"),
        default="service",
        help="service: close on what the Live API refuses, as it does (default); "
        "lenient: only compare with the capture",
    )
    p.set_defaults(run=run, is_async=True)


async def run(args: argparse.Namespace) -> int:
    from rawlive.capture.replay import serve_capture_forever
    from rawlive.errors import ReplayMismatchError

    def ready(url: str) -> None:
        print(url, flush=True)
        print(
            f"rawlive: replaying {args.capture} at {url} (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )

    def mismatch(error: ReplayMismatchError) -> None:
        print(f"rawlive: replay mismatch: {error}", file=sys.stderr, flush=True)

    await serve_capture_forever(
        args.capture,
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        pace=args.pace,
        rules=args.rules,
        on_ready=ready,
        on_mismatch=mismatch,
    )
    return 0
