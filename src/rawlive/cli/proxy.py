"""``rawlive proxy``: relay any Live client to the service; watch, record, lint, perturb."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rawlive.cli import subcommand
from rawlive.cli._args import (
    add_key_options,
    add_listen_options,
    add_recording_options,
    input_file,
    listen_ssl_context,
)

SUMMARY = "relay any Live client to the service: watch, record, lint, inject faults"
DESCRIPTION = (
    "Listen on loopback and relay every Live API frame, unchanged, between each client and "
    "the upstream service."
)
EPILOG = """\
Point a client at the proxy by base URL, e.g. for the official Python SDK
  genai.Client(http_options={"base_url": "http://127.0.0.1:8766/"})
and for rawlive
  rawlive say Hi --server ws://127.0.0.1:8766/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent

examples:
  rawlive proxy --frames --record session.jsonl
  rawlive proxy --inject-key --lint            (a keyless browser app, during development)
  rawlive proxy --upstream ws://127.0.0.1:8765 --fault goaway:after-seconds=5
"""


def add_parser(sub: Any) -> None:
    from rawlive.testing.faultspec import FAULT_SYNTAX

    p = subcommand(sub, "proxy", SUMMARY, DESCRIPTION, EPILOG, run)
    add_listen_options(p, port=8766, port_help="TCP port (default 8766; 0: any free port)")
    p.add_argument(
        "--upstream",
        default="google",
        help="google (default), vertex, or a ws:// or wss:// URL of any Live-compatible server",
    )
    p.add_argument(
        "--upstream-ca-file",
        metavar="PEM",
        type=input_file,
        help="trust this CA for a wss:// upstream",
    )
    add_recording_options(
        p, record_help="write a capture per client session (FILE, then FILE-2.jsonl, ...)"
    )
    p.add_argument(
        "--lint", action="store_true", help="flag client frames the service would reject"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help=f"inject a fault: {FAULT_SYNTAX}",
    )
    p.add_argument(
        "--inject-key",
        action="store_true",
        help="add the API key (--api-key, $GEMINI_API_KEY, $GOOGLE_API_KEY, .env) to "
        "connections that bring none",
    )
    add_key_options(p, when="with --inject-key: ")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="with --inject-key: allow a non-loopback --host (anyone reaching it spends the key)",
    )


async def run(args: argparse.Namespace) -> int:
    import asyncio

    from rawlive.cli._session import FramePrinter
    from rawlive.errors import ConfigurationError
    from rawlive.proxy import LiveProxy
    from rawlive.testing.faultspec import parse_fault

    faults = []
    for spec in args.fault:
        try:
            faults.append(parse_fault(spec))
        except ValueError as exc:
            raise ConfigurationError(f"--fault {spec!r}: {exc}") from None
    key = None
    if args.inject_key:
        from rawlive.auth import resolve_credentials

        key = resolve_credentials(args.api_key, env_file=args.env_file).secret
    upstream_ssl = None
    if args.upstream_ca_file:
        from rawlive.capture.tls import client_ssl_context

        upstream_ssl = client_ssl_context(args.upstream_ca_file)

    def on_lint(conn: int, finding: str) -> None:
        print(f"!! #{conn} lint: {finding}", file=sys.stderr, flush=True)

    proxy = LiveProxy(
        upstream=args.upstream,
        host=args.host,
        port=args.port,
        observers=[FramePrinter(sys.stderr)] if args.frames else [],
        record=args.record,
        redact_audio=args.redact_audio,
        lint=args.lint,
        on_lint=on_lint,
        inject_key=key,
        allow_remote=args.allow_remote,
        faults=faults,
        ssl_context=listen_ssl_context(args),
        upstream_ssl=upstream_ssl,
    )
    if key and args.allow_remote and args.host not in ("127.0.0.1", "::1", "localhost"):
        print(
            f"rawlive: warning: anyone who can reach {args.host}:{args.port} spends your API key",
            file=sys.stderr,
        )
    async with proxy:
        print(proxy.url, flush=True)
        print(
            f"rawlive: proxying {proxy.url} -> {proxy.upstream} (SDK base_url {proxy.base_url}; "
            "Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        try:
            await asyncio.Event().wait()
        finally:
            if proxy.recorder is not None and proxy.recorder.paths:
                names = ", ".join(str(p) for p in proxy.recorder.paths)
                print(f"rawlive: wrote {names}", file=sys.stderr, flush=True)
    return 0
