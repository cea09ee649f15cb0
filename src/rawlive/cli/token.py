"""``rawlive token create``: mint an ephemeral token for a browser or phone client."""

from __future__ import annotations

import argparse
from typing import Any

from rawlive.cli import subcommand
from rawlive.cli._args import add_key_options

SUMMARY = "mint an ephemeral token (auth_tokens/...) from your API key"
DESCRIPTION = "Ask the Gemini API for a short-lived token (POST v1alpha/auth_tokens)."
EPILOG = """\
The token is printed on stdout; hand it to the client, which connects with it
(rawlive: --api-key auth_tokens/...; a browser: the JS SDK's apiKey). The real
key never leaves this machine.

examples:
  rawlive token create
  rawlive token create --uses 0 --expire 2h --new-session-expire 5m --json
  rawlive token create --model gemini-3.8-live      (lock the token to one model)
"""


def add_parser(sub: Any) -> None:
    p = subcommand(sub, "token", SUMMARY, DESCRIPTION, EPILOG, run)
    actions = p.add_subparsers(dest="action", required=True, help="create: mint one token")
    create = actions.add_parser(
        "create", help="mint one token", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    create.add_argument("--uses", type=int, default=1, help="sessions it may start (0: unlimited)")
    create.add_argument("--expire", default="30m", help="lifetime, e.g. 30m, 2h (default 30m)")
    create.add_argument(
        "--new-session-expire",
        default="1m",
        help="how long it may start new sessions (default 1m)",
    )
    create.add_argument("--model", help="lock the token to this model (the whole setup)")
    create.add_argument("--json", action="store_true", help="print the token as a JSON object")
    create.add_argument(
        "--base-url", help="http(s)://host:port to ask instead of the service (tests, gateways)"
    )
    add_key_options(create)


def run(args: argparse.Namespace) -> int:
    import json

    from rawlive.auth import normalize_model
    from rawlive.tokens import create_ephemeral_token

    constraints = {"model": normalize_model(args.model)} if args.model else None
    token = create_ephemeral_token(
        args.api_key,
        uses=args.uses,
        expire_time=args.expire,
        new_session_expire_time=args.new_session_expire,
        live_constraints=constraints,
        base_url=args.base_url,
        env_file=args.env_file,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "name": token.name,
                    "expireTime": token.expire_time,
                    "newSessionExpireTime": token.new_session_expire_time,
                    "uses": token.uses,
                }
            )
        )
    else:
        print(token.name)
    return 0
