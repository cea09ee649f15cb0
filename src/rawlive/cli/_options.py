"""Session flags that map to what ``connect()`` already does, and their checks.

``--allow-insecure``, ``--ca-file`` and ``--setup-timeout`` become connect()
keyword arguments; :func:`check_session_args` refuses what cannot work with
one clear line (a :class:`~rawlive.errors.ConfigurationError`) before any
connection is opened or any file is written.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from rawlive.errors import ConfigurationError


def add_connection_options(p: argparse.ArgumentParser) -> None:
    """Declare ``--allow-insecure``, ``--ca-file`` and ``--setup-timeout``."""
    p.add_argument(
        "--allow-insecure",
        action="store_true",
        help="allow plain ws:// to a host that is not loopback (the key travels in clear)",
    )
    p.add_argument(
        "--ca-file",
        metavar="CA_FILE",
        help="PEM file of certificates to trust for wss:// (e.g. a test server's own)",
    )
    p.add_argument(
        "--base-url",
        metavar="URL",
        help="http(s):// or ws(s)://HOST:PORT instead of the service's, keeping its path and "
        "auth rules (a gateway, a proxy, a rawlive fake)",
    )
    p.add_argument(
        "--vertex",
        action="store_true",
        default=None,
        help="connect to Vertex AI (default: $GOOGLE_GENAI_USE_VERTEXAI); with --api-key and "
        "no --access-token it is Vertex express mode",
    )
    p.add_argument("--project", help="Vertex AI project (default $GOOGLE_CLOUD_PROJECT)")
    p.add_argument("--location", help="Vertex AI region (default $GOOGLE_CLOUD_LOCATION)")
    p.add_argument(
        "--access-token",
        metavar="TOKEN",
        help="Vertex AI access token (default: Application Default Credentials, then "
        "gcloud auth print-access-token)",
    )
    p.add_argument(
        "--setup-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds to wait for setupComplete (default 10)",
    )


def check_session_args(args: argparse.Namespace) -> None:
    """Refuse flags that cannot work, before connecting.

    Raises:
        ConfigurationError: an empty or blank ``--api-key``, a missing
            ``--env-file`` or ``--ca-file``, or a bad timeout.
    """
    if args.access_token is not None and not args.access_token.strip():
        raise ConfigurationError("--access-token is empty or only spaces")
    if args.api_key is not None and not args.api_key.strip():
        raise ConfigurationError("--api-key is empty or only spaces: give a key, or leave it out")
    if args.env_file is not None and not Path(args.env_file).is_file():
        raise ConfigurationError(f"--env-file {args.env_file}: no such file")
    if args.ca_file is not None and not Path(args.ca_file).is_file():
        raise ConfigurationError(f"--ca-file {args.ca_file}: no such file")
    server = getattr(args, "server", "")
    if server.startswith("ws://") and not args.allow_insecure:
        from urllib.parse import urlsplit

        from rawlive.auth import is_loopback_host

        try:
            host = urlsplit(server).hostname
        except ValueError:
            host = None  # connect() says what is wrong with the URL
        if host is not None and not is_loopback_host(host):
            raise ConfigurationError(
                f"refusing plain ws:// to {host}: the API key would travel in clear text; "
                "use wss:// or pass --allow-insecure"
            )
    for name in ("setup_timeout", "timeout"):
        value = getattr(args, name, None)
        if value is not None and not (math.isfinite(value) and value > 0):
            flag = "--" + name.replace("_", "-")
            raise ConfigurationError(f"{flag} must be a positive number of seconds, got {value}")


def connection_options(args: argparse.Namespace) -> dict[str, Any]:
    """The connect() keyword arguments of these flags."""
    options: dict[str, Any] = {
        "allow_insecure": args.allow_insecure,
        "setup_timeout": args.setup_timeout,
        "vertex": args.vertex,
        "project": args.project,
        "location": args.location,
        "access_token": args.access_token,
        "base_url": args.base_url,
    }
    if args.ca_file is not None:
        from rawlive.capture.tls import client_ssl_context

        try:
            options["ssl"] = client_ssl_context(args.ca_file)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise ConfigurationError(
                f"--ca-file {args.ca_file}: not a PEM certificate file ({exc})"
            ) from None
    return options
