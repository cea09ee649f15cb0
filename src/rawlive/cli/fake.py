"""``rawlive fake``: run the bundled fake Live server on its own, until Ctrl-C.

This is the server a JavaScript, Go or any other client tests against, and
the one the CLI's resume flow needs: a handle stays valid as long as this
process runs, across any number of ``rawlive say --server URL`` commands.
The URL is the first line on stdout (flushed), so a script can read it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli import subcommand
from rawlive.cli._args import add_listen_options, listen_ssl_context

SUMMARY = "run the bundled fake Live server until Ctrl-C (prints its URL)"
DESCRIPTION = (
    "Run the bundled fake Live server (FakeLiveServer) on its own. The first line on stdout "
    "is its ws:// (or wss://) URL; it serves until Ctrl-C."
)
EPILOG = """\
example:
  rawlive fake --port 8766 &                  # prints ws://127.0.0.1:8766/ws/...
  rawlive say "Hello" --modality text --server ws://127.0.0.1:8766
  rawlive say "what was the last question I asked?" --modality text \\
      --server ws://127.0.0.1:8766 --resume HANDLE

Resumption handles stay valid while this server runs; they die with it.
"""


def add_parser(sub: Any) -> None:
    p = subcommand(sub, "fake", SUMMARY, DESCRIPTION, EPILOG, run)
    add_listen_options(p, port=0, port_help="TCP port (default 0: any free port, printed)")
    p.add_argument(
        "--api-key",
        metavar="KEY",
        help="require this key from clients (else any key or none is accepted)",
    )
    p.add_argument(
        "--realtime",
        action="store_true",
        help="pace audio replies at playback speed (default: as fast as possible)",
    )
    p.add_argument(
        "--vertex",
        action="store_true",
        help="speak as Vertex AI: the Vertex path and Vertex usage names",
    )
    p.add_argument(
        "--access-token",
        metavar="TOKEN",
        help="accept this Vertex AI access token (Authorization: Bearer)",
    )
    p.add_argument(
        "--mint-tokens",
        action="store_true",
        help="also mint ephemeral tokens (POST /v1alpha/auth_tokens; its URL on stderr)",
    )


async def run(args: argparse.Namespace) -> int:
    from rawlive.cli._interrupt import until_interrupted
    from rawlive.errors import ConfigurationError
    from rawlive.testing import FakeLiveServer

    if args.api_key is not None and not args.api_key.strip():
        raise ConfigurationError("--api-key is empty")
    server = FakeLiveServer(
        host=args.host,
        port=args.port,
        ssl_context=listen_ssl_context(args),
        api_key=args.api_key,
        realtime=args.realtime,
        vertex=args.vertex,
        access_token=args.access_token,
        mint_tokens=args.mint_tokens,
    )
    try:
        await server.start()
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    try:
        print(server.url, flush=True)
        print(
            f"rawlive: fake Live server at {server.url} (model: any; Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        if args.mint_tokens:
            print(
                f"rawlive: ephemeral tokens at {server.token_url} "
                f"(rawlive token create --base-url {server.token_url})",
                file=sys.stderr,
                flush=True,
            )
        await until_interrupted()
    finally:
        await server.close()
        served = len(server.connections)
        print(f"rawlive: fake server stopped after {served} connection(s)", file=sys.stderr)
    return 0
