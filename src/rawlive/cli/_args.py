"""Argument types that check at parse time, so each mistake gets its own message.

argparse turns an ``ArgumentTypeError`` into one ``rawlive CMD: error: ...``
line and exit status 2, before any work starts. Files are checked for what
the command will do with them (read a capture, write a WAV); the command
still handles the error if the file changes in between.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

    from rawlive.capture.format import Capture

__all__ = [
    "add_capture_argument",
    "add_key_options",
    "add_listen_options",
    "capture_file",
    "host_name",
    "input_file",
    "listen_ssl_context",
    "load_capture",
    "output_dir",
    "output_file",
    "port_number",
    "server_choice",
]

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")


def input_file(text: str) -> str:
    """A file that exists and can be read."""
    path = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("the file name is empty")
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder, not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: permission denied (cannot read it)")
    return text


capture_file = input_file
"""A capture file that exists and can be read."""


def output_file(text: str) -> str:
    """A file that can be created: its folder exists and it is not a folder."""
    if not text:
        raise argparse.ArgumentTypeError("the file name is empty")
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder; name a file in it")
    parent = path.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the folder {str(parent)!r} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: permission denied (cannot write it)")
    if not path.exists() and not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: permission denied (cannot write in {parent})")
    return text


def output_dir(text: str) -> str:
    """A folder to write into: it may not exist yet, but must not be a file."""
    if not text:
        raise argparse.ArgumentTypeError("the folder name is empty")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a file, not a folder")
    return text


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (0: any free port)."""
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (0 to 65535)")
    return port


def host_name(text: str) -> str:
    """An IP address or a host name to listen on."""
    candidate = text.strip("[]")
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        pass
    else:
        return text
    # Dotted numbers that are not an address (256.1.1.1) are a typo, not a name.
    if re.fullmatch(r"[0-9.]+", candidate) or not candidate:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid IP address")
    labels = candidate.rstrip(".").split(".")
    if len(candidate) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid host name or address")
    return text


def server_choice(text: str) -> str:
    """``auto``, ``demo``, ``google`` or a ws(s):// URL with a valid port."""
    if text in ("auto", "demo", "google"):
        return text
    from rawlive.auth import check_endpoint
    from rawlive.errors import ConfigurationError

    if not text.startswith(("ws://", "wss://")):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected 'demo', 'google' or a ws:// or wss:// URL"
        )
    try:
        # Only the URL itself here; plain ws:// to a remote host is refused
        # later, unless --allow-insecure (see rawlive.cli._options).
        check_endpoint(text, allow_insecure=True)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def load_capture(path: str, *, partial: bool = False) -> tuple[Capture, str | None]:
    """Read a capture for a command; refuse an empty one.

    Args:
        path: the capture file.
        partial: keep the records before a malformed line (a file cut by a
            crash) and return the error as text instead of raising it.

    Returns:
        ``(capture, problem)``: ``problem`` says where the file was cut, or
        is ``None``.

    Raises:
        CaptureFormatError: the file is empty, or malformed (when not ``partial``).
        OSError: the file cannot be read.
    """
    from rawlive.capture.format import CaptureFormatError, read_capture_partial

    capture, error = read_capture_partial(path)
    if capture.meta is None and not capture.records:
        if error is not None:
            raise error
        raise CaptureFormatError("the file is empty: no capture records", filename=path)
    if error is not None and not partial:
        raise error
    problem = None
    if error is not None:
        problem = f"the capture is cut or broken at {error}; everything before it is shown"
    return capture, problem


def add_listen_options(p: argparse.ArgumentParser, *, port: int, port_help: str) -> None:
    """Declare ``--host``, ``--port``, ``--tls-cert`` and ``--tls-key`` of a server command."""
    p.add_argument(
        "--host",
        default="127.0.0.1",
        type=host_name,
        help="address to listen on (default 127.0.0.1)",
    )
    p.add_argument("--port", type=port_number, default=port, help=port_help)
    p.add_argument(
        "--tls-cert",
        metavar="CERT.pem",
        type=input_file,
        help="PEM certificate: serve wss:// (needs --tls-key)",
    )
    p.add_argument(
        "--tls-key", metavar="KEY.pem", type=input_file, help="PEM private key of --tls-cert"
    )


def add_recording_options(p: argparse.ArgumentParser, *, record_help: str) -> None:
    """Declare ``--frames``, ``--record`` and ``--redact-audio``: show and keep every frame.

    ``--record`` is checked when the command line is read (its folder exists
    and can be written), so a bad path is one error line before anything runs.
    """
    p.add_argument("--frames", action="store_true", help="print every frame both ways on stderr")
    p.add_argument("--record", metavar="FILE", type=output_file, help=record_help)
    p.add_argument(
        "--redact-audio",
        action="store_true",
        help="with --record: store audio length and hash only",
    )


def add_capture_argument(
    p: argparse.ArgumentParser, help: str = "a capture file (.jsonl), e.g. from --record"
) -> None:
    """Declare the ``CAPTURE`` positional argument: a capture file to read."""
    p.add_argument("capture", metavar="CAPTURE", type=capture_file, help=help)


def listen_ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The TLS context of ``--tls-cert`` and ``--tls-key``; ``None`` without them (ws://).

    Raises:
        ConfigurationError: only one of the two is given, or they do not load
            (not PEM, or a key that does not match the certificate).
    """
    from rawlive.errors import ConfigurationError

    if (args.tls_cert is None) != (args.tls_key is None):
        raise ConfigurationError("give both --tls-cert and --tls-key, or neither")
    if args.tls_cert is None:
        return None
    from rawlive.capture.tls import server_ssl_context

    try:
        return server_ssl_context(args.tls_cert, args.tls_key)
    except OSError as exc:  # ssl.SSLError too
        raise ConfigurationError(f"cannot load the TLS certificate or key: {exc}") from None


def add_key_options(p: argparse.ArgumentParser, *, when: str = "") -> None:
    """Declare ``--api-key`` and ``--env-file``: the key, or the .env file to find it in.

    ``when`` starts the help of a command that uses the key only with another
    flag (``proxy --inject-key``).
    """
    if when:
        p.add_argument("--api-key", help=f"{when}the key to add")
        p.add_argument("--env-file", help=f"{when}the .env file to read")
    else:
        p.add_argument(
            "--api-key", help="API key (default: $GEMINI_API_KEY, $GOOGLE_API_KEY, .env)"
        )
        p.add_argument("--env-file", help=".env file to read (default: nearest one upwards)")
