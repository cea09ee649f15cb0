"""The ``rawlive`` command line (also ``python -m rawlive``).

Commands:
    say      one turn: print the reply text (or write it to a WAV), usage and handle
    chat     several turns in one session, each audio reply to its own numbered WAV
    explain  what a close code and reason usually mean
    lint     check a capture's client frames for what the service would reject
    show     a capture's timeline: frames, turn boundaries, latency, token usage
    wav      the model's (or with --input the user's) audio from a capture
    diff     what differs in shape between two captures (protocol drift)
    serve    replay a capture as a Live API server (ws:// or wss://)

With no API key found, ``say`` and ``chat`` run against the bundled fake
server (``--server demo``), so a first run works offline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from rawlive.errors import LiveError, MissingAPIKeyError

__all__ = ["main"]

DEFAULT_MODEL = "gemini-3.8-live"
DEMO_MODEL = "rawlive-demo"


# ------------------------------------------------------------------ frames


class FramePrinter:
    """Prints every frame both ways (``--frames``), audio payloads shortened."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        print(f"-- open #{conn} {endpoint} ({model})", file=self._out, flush=True)

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        from rawlive.capture.recorder import redact_audio_payloads

        shown = redact_audio_payloads(payload)
        if isinstance(shown, bytes):
            shown = shown.decode("utf-8", "replace")
        arrow = "->" if direction == "client" else "<-"
        kind = "" if isinstance(payload, str) else " [binary]"
        print(f"{arrow} {shown}{kind}", file=self._out, flush=True)

    def on_close(self, conn: int, code: int, reason: str, by: str | None, dropped: bool) -> None:
        what = "dropped" if dropped else f"closed by {by}: {code} {reason!r}"
        print(f"-- #{conn} {what}", file=self._out, flush=True)


# ---------------------------------------------------------------- servers


def _have_key(args: argparse.Namespace) -> bool:
    from rawlive.auth import resolve_credentials

    try:
        resolve_credentials(args.api_key, env_file=args.env_file)
    except MissingAPIKeyError:
        return False
    return True


@contextlib.asynccontextmanager
async def _server(args: argparse.Namespace) -> AsyncIterator[dict[str, Any]]:
    """Yield connect() keyword arguments for the chosen server."""
    server = args.server
    if server == "auto":
        if _have_key(args):
            server = "google"
        else:
            print(
                "rawlive: no API key found (GEMINI_API_KEY, GOOGLE_API_KEY or .env); "
                "using the bundled fake server (--server demo)",
                file=sys.stderr,
            )
            server = "demo"
    if server == "google":
        yield {"model": args.model or DEFAULT_MODEL}
    elif server == "demo":
        from rawlive.testing import FakeLiveServer

        async with FakeLiveServer() as fake:
            yield {"model": args.model or DEMO_MODEL, "endpoint": fake.url}
    else:
        yield {"model": args.model or DEFAULT_MODEL, "endpoint": server}


def _connect_options(args: argparse.Namespace, audio: bool) -> dict[str, Any]:
    options: dict[str, Any] = {
        "response_modalities": ["AUDIO" if audio else "TEXT"],
        "session_resumption": args.resume or True,
        "api_key": args.api_key,
        "env_file": args.env_file,
        "api_version": args.api_version,
        "observers": [FramePrinter(sys.stderr)] if args.frames else [],
    }
    if audio:
        options["output_audio_transcription"] = True
    if args.voice:
        options["voice"] = args.voice
    if args.system:
        options["system_instruction"] = args.system
    if args.record:
        from rawlive.capture.recorder import Recorder

        options["record"] = Recorder(args.record, redact_audio=args.redact_audio)
    return options


def _audio_mode(args: argparse.Namespace) -> bool:
    # AUDIO is the default: every current Live model accepts it (native-audio
    # models refuse TEXT), and the output transcription gives the text.
    return bool(args.modality == "audio")


async def _print_turn_footer(session: Any, out: TextIO) -> None:
    await session.wait_for_handle(timeout=2.0)
    usage = session.usage
    print(
        f"usage: prompt {usage.prompt_tokens}, response {usage.response_tokens}, "
        f"total {usage.total_tokens} tokens",
        file=out,
    )
    if session.handle:
        print(f"resume handle: {session.handle}", file=out)


async def _say(args: argparse.Namespace) -> int:
    import rawlive

    audio = _audio_mode(args)
    options = _connect_options(args, audio)
    async with _server(args) as target, rawlive.connect(**target, **options) as session:
        await session.send_text(args.text)
        turn = await session.receive_turn(wav=args.audio, timeout=args.timeout)
        text = turn.text or turn.output_transcript
        if text:
            print(text)
        if args.audio is not None:
            print(f"audio saved to {args.audio} ({turn.audio_duration:.2f} s)", file=sys.stderr)
        elif audio and turn.audio_bytes:
            print(
                f"({turn.audio_duration:.2f} s of audio not saved: pass --audio OUT.wav)",
                file=sys.stderr,
            )
        await _print_turn_footer(session, sys.stderr)
    return 0


async def _chat(args: argparse.Namespace) -> int:
    import rawlive

    audio = _audio_mode(args)
    options = _connect_options(args, audio)
    texts: Sequence[str] = args.texts
    interactive = not texts
    out_dir = Path(args.audio_dir) if args.audio_dir else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    async with _server(args) as target, rawlive.connect(**target, **options) as session:
        index = 0
        while True:
            if interactive:
                line = await asyncio.to_thread(_prompt)
                if line is None:
                    break
                text = line
            else:
                if index >= len(texts):
                    break
                text = texts[index]
            if not text.strip():
                continue
            print(f"> {text}", file=sys.stderr)
            await session.send_text(text)
            wav = out_dir / f"audio_response_{index}.wav" if out_dir is not None else None
            turn = await session.receive_turn(wav=wav, timeout=args.timeout)
            reply = turn.text or turn.output_transcript
            if reply:
                print(reply)
            if wav is not None:
                print(f"audio saved to {wav} ({turn.audio_duration:.2f} s)", file=sys.stderr)
            index += 1
        await _print_turn_footer(session, sys.stderr)
    return 0


def _prompt() -> str | None:
    if sys.stdin.isatty():
        try:
            return input("you> ")
        except EOFError:
            return None
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None


def _explain(args: argparse.Namespace) -> int:
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


def _show(args: argparse.Namespace) -> int:
    import shutil

    from rawlive.capture.format import read_capture
    from rawlive.capture.tools import format_timeline

    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else 0
    text = format_timeline(read_capture(args.capture), color=tty, width=width, verbose=args.verbose)
    print(text, end="")
    return 0


def _wav(args: argparse.Namespace) -> int:
    from rawlive.capture.format import read_capture
    from rawlive.capture.tools import extract_wav

    info = extract_wav(
        read_capture(args.capture), args.out, direction="client" if args.input else "server"
    )
    line = (
        f"wrote {info.path}: {info.duration:.2f} s of {info.rate} Hz audio from "
        f"{info.chunks} chunks"
    )
    if info.redacted_chunks:
        line += f" ({info.redacted_chunks} redacted chunks written as silence)"
    print(line)
    if info.skipped_frames:
        print(
            f"rawlive: warning: {info.skipped_frames} frames could not be decoded and were skipped",
            file=sys.stderr,
        )
    return 0


def _diff(args: argparse.Namespace) -> int:
    from rawlive.capture.format import read_capture
    from rawlive.capture.tools import diff_captures, format_diff

    diff = diff_captures(read_capture(args.a), read_capture(args.b), a_name=args.a, b_name=args.b)
    print(format_diff(diff), end="" if format_diff(diff).endswith("\n") else "\n")
    return 0 if diff.same else 1


async def _serve(args: argparse.Namespace) -> int:
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
        on_ready=ready,
        on_mismatch=mismatch,
    )
    return 0


def _lint(args: argparse.Namespace) -> int:
    from rawlive.capture.format import read_capture
    from rawlive.capture.lint import format_findings, lint_capture

    findings = lint_capture(read_capture(args.capture))
    print(format_findings(findings))
    return 1 if findings else 0


# ------------------------------------------------------------------ parser


def _add_session_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help=f"model id (default {DEFAULT_MODEL}; demo: {DEMO_MODEL})")
    p.add_argument(
        "--server",
        default="auto",
        help="'demo' (the bundled fake server), 'google' (the real service), or a ws(s):// URL; "
        "default: google when an API key is found, else demo",
    )
    p.add_argument("--resume", metavar="HANDLE", help="resume the session of this handle")
    p.add_argument(
        "--modality",
        choices=("audio", "text"),
        default="audio",
        help="response modality (default audio, printed through its transcription)",
    )
    p.add_argument("--voice", help="prebuilt voice name, e.g. Puck")
    p.add_argument("--system", help="system instruction text")
    p.add_argument("--frames", action="store_true", help="print every frame both ways on stderr")
    p.add_argument("--record", metavar="FILE", help="record every frame to a capture file")
    p.add_argument(
        "--redact-audio",
        action="store_true",
        help="with --record: store audio length and hash only",
    )
    p.add_argument("--api-key", help="API key (default: $GEMINI_API_KEY, $GOOGLE_API_KEY, .env)")
    p.add_argument("--env-file", help=".env file to read (default: nearest one upwards)")
    p.add_argument("--api-version", default="v1beta", help="v1beta (default) or v1alpha")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a turn")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``rawlive`` command."""
    parser = argparse.ArgumentParser(
        prog="rawlive", description="A raw WebSocket client for the Gemini Live API."
    )
    parser.add_argument("--version", action="version", version="rawlive 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True)

    say = sub.add_parser("say", help="send one text turn and print or save the reply")
    say.add_argument("text")
    say.add_argument("--audio", metavar="OUT.wav", help="ask for audio and write it to this WAV")
    _add_session_options(say)
    say.set_defaults(run=_say, is_async=True)

    chat = sub.add_parser("chat", help="several turns in one session (stdin when no TEXT given)")
    chat.add_argument("texts", nargs="*", metavar="TEXT")
    chat.add_argument(
        "--audio-dir", metavar="DIR", help="ask for audio; write audio_response_N.wav files here"
    )
    _add_session_options(chat)
    chat.set_defaults(run=_chat, is_async=True)

    explain = sub.add_parser("explain", help="what a close code and reason usually mean")
    explain.add_argument("code", type=int)
    explain.add_argument("reason", nargs="*")
    explain.set_defaults(run=_explain, is_async=False)

    lint = sub.add_parser(
        "lint", help="check a capture's client frames for what the service would reject"
    )
    lint.add_argument("capture")
    lint.set_defaults(run=_lint, is_async=False)

    serve = sub.add_parser("serve", help="replay a capture as a Live API server, for any client")
    serve.add_argument("capture")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=int, default=8765, help="TCP port (default 8765; 0: any free port)"
    )
    serve.add_argument(
        "--tls-cert", metavar="C", help="PEM certificate: serve wss:// (needs --tls-key)"
    )
    serve.add_argument("--tls-key", metavar="K", help="PEM private key of --tls-cert")
    serve.add_argument(
        "--pace",
        choices=("original", "fast"),
        default="fast",
        help="fast: send server frames at once (default); original: keep the recorded gaps",
    )
    serve.set_defaults(run=_serve, is_async=True)

    show = sub.add_parser("show", help="a capture's timeline: frames, turns, latency, usage")
    show.add_argument("capture")
    show.add_argument(
        "--verbose", action="store_true", help="one line per audio chunk (no collapsing)"
    )
    show.set_defaults(run=_show, is_async=False)

    wav = sub.add_parser("wav", help="write a capture's audio to a WAV file")
    wav.add_argument("capture")
    wav.add_argument("out", metavar="OUT.wav")
    wav.add_argument("--input", action="store_true", help="the user's audio instead of the model's")
    wav.set_defaults(run=_wav, is_async=False)

    diff = sub.add_parser("diff", help="what differs in shape between two captures")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.set_defaults(run=_diff, is_async=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.is_async:
            return int(asyncio.run(args.run(args)))
        return int(args.run(args))
    except LiveError as exc:
        print(f"rawlive: error: {exc}", file=sys.stderr)
        explanation = getattr(exc, "explanation", "")
        if explanation and explanation not in str(exc):
            print(f"rawlive: {explanation}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
