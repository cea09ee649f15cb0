"""What ``say`` and ``chat`` share: session options, the server choice, frame printing."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

from rawlive.cli._args import add_key_options, add_recording_options, server_choice
from rawlive.errors import MissingAPIKeyError

DEFAULT_MODEL = "gemini-3.8-live"
DEMO_MODEL = "rawlive-demo"


class FramePrinter:
    """Prints every frame both ways (``--frames``), audio payloads shortened."""

    def __init__(self, out: TextIO, secrets: tuple[str, ...] = ()) -> None:
        self._out = out
        self._secrets = secrets

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        from rawlive.redact import redact_url

        shown = redact_url(endpoint, *self._secrets)
        print(f"-- open #{conn} {shown} ({model})", file=self._out, flush=True)

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        from rawlive.capture.recorder import redact_audio_payloads
        from rawlive.redact import redact

        shown = redact_audio_payloads(payload)
        if isinstance(shown, bytes):
            shown = shown.decode("utf-8", "replace")
        shown = redact(shown, *self._secrets)
        arrow = "->" if direction == "client" else "<-"
        kind = "" if isinstance(payload, str) else " [binary]"
        print(f"{arrow} {shown}{kind}", file=self._out, flush=True)

    def on_close(self, conn: int, code: int, reason: str, by: str | None, dropped: bool) -> None:
        what = "dropped" if dropped else f"closed by {by}: {code} {reason!r}"
        from rawlive.redact import redact

        print(f"-- #{conn} {redact(what, *self._secrets)}", file=self._out, flush=True)


def _have_key(args: argparse.Namespace) -> bool:
    from rawlive.auth import resolve_credentials

    try:
        resolve_credentials(args.api_key, env_file=args.env_file)
    except MissingAPIKeyError:
        return False
    return True


@contextlib.asynccontextmanager
async def server_target(args: argparse.Namespace) -> AsyncIterator[dict[str, Any]]:
    """Yield connect() keyword arguments for the chosen server."""
    server = args.server
    if server == "auto":
        from rawlive.auth import vertex_settings

        vertex = vertex_settings(args.vertex, None, None)[0]
        if vertex or args.base_url or args.access_token or _have_key(args):
            server = "google"
        else:
            print(
                "rawlive: no API key found (GEMINI_API_KEY, GOOGLE_API_KEY or .env); "
                "using the bundled fake server (--server demo)",
                file=sys.stderr,
            )
            server = "demo"
    args.server_used = server  # the printer says when a handle dies with the demo
    if server == "google":
        yield {"model": args.model or DEFAULT_MODEL}
    elif server == "demo":
        from rawlive.testing import FakeLiveServer

        async with FakeLiveServer() as fake:
            yield {"model": args.model or DEMO_MODEL, "endpoint": fake.url}
    else:
        yield {"model": args.model or DEFAULT_MODEL, "endpoint": server}


def cli_secrets(args: argparse.Namespace) -> tuple[str, ...]:
    """Every secret the command knows: the API key, and any user part of --server."""
    from rawlive.auth import resolve_credentials
    from rawlive.redact import url_secrets

    found: list[str] = []
    with contextlib.suppress(MissingAPIKeyError):
        found.append(resolve_credentials(args.api_key, env_file=args.env_file).secret)
    if getattr(args, "access_token", None):
        found.append(args.access_token.strip())
    return (*found, *url_secrets(args.server))


def connect_options(args: argparse.Namespace, audio: bool) -> dict[str, Any]:
    """The connect() keyword arguments the session options ask for."""
    from rawlive.cli._options import check_session_args, connection_options

    check_session_args(args)
    secrets = cli_secrets(args)
    options: dict[str, Any] = {
        **connection_options(args),
        "response_modalities": ["AUDIO" if audio else "TEXT"],
        "session_resumption": args.resume or True,
        "api_key": args.api_key,
        "env_file": args.env_file,
        "api_version": args.api_version,
        "observers": [FramePrinter(sys.stderr, secrets)] if args.frames else [],
    }
    if args.reconnect:
        options["reconnect"] = True
    if audio:
        options["output_audio_transcription"] = True
    if args.voice:
        options["voice"] = args.voice
    if args.system:
        options["system_instruction"] = args.system
    if args.record:
        from rawlive.capture.recorder import Recorder

        options["record"] = Recorder(args.record, secrets=secrets, redact_audio=args.redact_audio)
    return options


def audio_mode(args: argparse.Namespace) -> bool:
    """Whether the reply is asked for as AUDIO.

    AUDIO is the default: every current Live model accepts it (native-audio
    models refuse TEXT), and the output transcription gives the text.
    """
    return bool(args.modality == "audio")


def add_session_options(p: argparse.ArgumentParser) -> None:
    """Declare the options every session command takes."""
    p.add_argument("--model", help=f"model id (default {DEFAULT_MODEL}; demo: {DEMO_MODEL})")
    p.add_argument(
        "--server",
        default="auto",
        type=server_choice,
        help="'demo' (the bundled fake server), 'google' (the real service), or a ws(s):// URL; "
        "default: google when an API key is found, else demo",
    )
    p.add_argument("--resume", metavar="HANDLE", help="resume the session of this handle")
    p.add_argument(
        "--reconnect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the conversation across connections: hand over on goAway, "
        "resume after drops (default: on)",
    )
    p.add_argument(
        "--modality",
        choices=("audio", "text"),
        default="audio",
        help="response modality (default audio, printed through its transcription)",
    )
    p.add_argument("--voice", help="prebuilt voice name, e.g. Puck")
    p.add_argument("--system", help="system instruction text")
    add_recording_options(p, record_help="record every frame to a capture file")
    add_key_options(p)
    p.add_argument("--api-version", default="v1beta", help="v1beta (default) or v1alpha")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a turn")
    from rawlive.cli._options import add_connection_options
    from rawlive.cli._output import add_output_options

    add_connection_options(p)
    add_output_options(p)
