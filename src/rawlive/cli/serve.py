"""``rawlive serve CAPTURE``: replay a capture as a Live API server, for any client."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli import subcommand
from rawlive.cli._args import add_capture_argument, add_listen_options

SUMMARY = "replay a capture as a Live API server, for any client"
DESCRIPTION = (
    "Replay a capture as a Live API server until Ctrl-C. The first line on stdout is its URL. "
    "Replay is exact: a client frame that differs from the capture closes the connection "
    "with 1007 and says what differs."
)
EPILOG = """\
example:
  rawlive say "Hello" --server demo --record rec.jsonl
  rawlive serve rec.jsonl --port 8765 &      # stderr names the model the capture expects
  rawlive say "Hello" --server ws://127.0.0.1:8765 --model rawlive-demo
"""


def add_parser(sub: Any) -> None:
    p = subcommand(sub, "serve", SUMMARY, DESCRIPTION, EPILOG, run)
    add_capture_argument(p, help="the capture file (.jsonl) to replay, e.g. from --record")
    add_listen_options(p, port=8765, port_help="TCP port (default 8765; 0: any free port)")
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


async def run(args: argparse.Namespace) -> int:
    from rawlive.capture.replay import serve_capture_forever
    from rawlive.cli._interrupt import serve_until_interrupted
    from rawlive.errors import ReplayMismatchError

    expects = _expected_setup(args.capture)

    def ready(url: str) -> None:
        print(url, flush=True)
        print(
            f"rawlive: replaying {args.capture} at {url} (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        if expects:
            print(f"rawlive: {expects}", file=sys.stderr, flush=True)

    def mismatch(error: ReplayMismatchError) -> None:
        print(f"rawlive: replay mismatch: {error}", file=sys.stderr, flush=True)

    await serve_until_interrupted(
        serve_capture_forever(
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
    )
    return 0


def _expected_setup(path: str) -> str:
    """Say which model (and modality) the capture's first setup names, and the flags to match.

    Replay is exact, so a client must send the recorded setup; this line tells
    a ``rawlive say`` user what to pass. Empty when the capture has no setup.
    """
    from rawlive.capture.format import FrameRecord, OpenRecord, iter_capture
    from rawlive.errors import LiveError
    from rawlive.protocol.codec import decode_client

    model: str | None = None
    try:
        for record in iter_capture(path):
            if isinstance(record, OpenRecord) and model is None:
                model = record.model
            if isinstance(record, FrameRecord) and record.dir == "client":
                setup = decode_client(record.text).setup
                if setup is None:
                    break
                name = (setup.model or model or "").removeprefix("models/")
                modality = "+".join(m.upper() for m in setup.response_modalities) or "AUDIO"
                flags = f"--model {name}" + (
                    f" --modality {modality.lower()}" if modality in ("AUDIO", "TEXT") else ""
                )
                return f"the capture expects model {name}, modality {modality}: pass {flags}"
    except (LiveError, OSError, ValueError, RecursionError):
        return ""  # serving reports the problem itself
    if model:
        name = model.removeprefix("models/")
        return f"the capture expects model {name}: pass --model {name}"
    return ""
