"""Every way a key can travel, and every place it must never appear.

A key travels in a header (``x-goog-api-key``, ``Authorization: Token`` for
an ephemeral token), in the URL (``?key=``, ``?access_token=``, the user
part), from a ``.env`` file, and back from the server inside a frame (the
fake model echoes the user's text). For each, a real session runs on
loopback with DEBUG logging, a recorder and ``--frames`` printing, and the
key must be absent from logs, the capture, the printed frames, reprs,
errors and the fake server's records.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest

import rawlive
from rawlive.capture.recorder import Recorder
from rawlive.cli._session import FramePrinter
from rawlive.errors import LiveError
from rawlive.redact import (
    REDACTED,
    RedactingLogger,
    redact,
    redact_header,
    redact_text,
    redact_url,
    redacting_logger,
    url_secrets,
)
from rawlive.testing import FakeLiveServer

KEY = "AIzaSy-TRAVELLING-KEY-0123456789"
TOKEN = "auth_tokens/EPHEMERAL-TOKEN-0123456789"

# -- the one module: each rule, each spelling ---------------------------------------------

URLS = {
    "ws://h/p?key=K": "ws://h/p?key=REDACTED",
    "ws://h/p?a=1&KEY=K#f": "ws://h/p?a=1&KEY=REDACTED#f",
    "ws://h/p?access_token=K&x=2": "ws://h/p?access_token=REDACTED&x=2",
    "ws://h/p?token=K": "ws://h/p?token=REDACTED",
    "ws://h/p;key=K": "ws://h/p;key=REDACTED",
    "ws://h/p?api_key=K": "ws://h/p?api_key=REDACTED",
    "ws://user:K@h:1/p": "ws://REDACTED@h:1/p",
    "ws://K@h/p": "ws://REDACTED@h/p",
    "wss://h/p?monkey=1": "wss://h/p?monkey=1",
    "not a url ?key=K and more": "not a url ?key=REDACTED and more",
    "ws://[::1": "ws://[::1",
}


@pytest.mark.parametrize("url", sorted(URLS))
def test_redact_url(url: str) -> None:
    assert redact_url(url) == URLS[url]


def test_redact_header_keeps_only_the_scheme() -> None:
    assert redact_header("x-goog-api-key", KEY) == REDACTED
    assert redact_header("Authorization", f"Bearer {KEY}") == f"Bearer {REDACTED}"
    assert redact_header("authorization", f"Token {TOKEN}") == f"Token {REDACTED}"
    assert redact_header("authorization", KEY) == REDACTED
    assert redact_header("user-agent", f"app {KEY}", KEY) == f"app {REDACTED}"
    assert redact_header("user-agent", "rawlive/0.1") == "rawlive/0.1"


def test_redact_text_covers_log_lines() -> None:
    lines = [
        f"> GET /ws?key={KEY} HTTP/1.1",
        f"> x-goog-api-key: {KEY}",
        f"> Authorization: Bearer {KEY}",
        f"> authorization: Token {TOKEN}",
        f"connecting to ws://user:{KEY}@127.0.0.1:1/",
    ]
    for line in lines:
        assert KEY not in redact_text(line) and TOKEN not in redact_text(line), line
    assert redact_text("closed 1000 OK") == "closed 1000 OK"


@pytest.mark.parametrize(
    "query", ["?%6Bey=", "?%6b%65%79=", "?access%5Ftoken=", "&TOKEN=", ";Key=", "?api%5fkey="]
)
def test_a_secret_query_name_spelled_with_percent_escapes_is_still_secret(query: str) -> None:
    # A server decodes %6B to k: ?%6Bey=KEY carries the key as ?key=KEY does.
    url = f"wss://h/ws?a=1{query}{KEY}"
    assert KEY not in redact_url(url) and REDACTED in redact_url(url)
    assert KEY in url_secrets(url)
    assert redact_url("wss://h/ws?monkey=not-a-secret-value") == (
        "wss://h/ws?monkey=not-a-secret-value"
    )


def test_url_secrets_and_redact() -> None:
    url = f"ws://u:{KEY}@h/p?access_token={KEY[:-1]}X&x=short"
    secrets = url_secrets(url)
    assert KEY in secrets and KEY[:-1] + "X" in secrets
    assert "short" not in secrets and "u" not in secrets
    assert redact(f"a {KEY} b", *secrets) == f"a {REDACTED} b"


def test_redacting_logger_survives_bad_format_args(caplog: pytest.LogCaptureFixture) -> None:
    log = RedactingLogger(logging.getLogger("rawlive.test"), [KEY])
    with caplog.at_level(logging.DEBUG, logger="rawlive.test"):
        log.debug("%s %s", KEY)  # one argument short
        log.debug("key %s", KEY)
    assert KEY not in caplog.text and "REDACTED" in caplog.text


def test_connections_with_the_same_secrets_share_one_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    one = redacting_logger("rawlive.test", [KEY, None, ""])
    assert redacting_logger("rawlive.test", [KEY]) is one  # a thousand sessions, one logger
    other = redacting_logger("rawlive.test", [KEY + "2"])
    assert other is not one and other.secrets == (KEY + "2",)
    with caplog.at_level(logging.DEBUG, logger="rawlive.test"):
        one.debug("> GET /ws?x=%s", KEY)
        other.debug("header %s", KEY + "2")
    assert KEY not in caplog.text and caplog.text.count(REDACTED) == 2


# -- a real session for every way a key travels ------------------------------------------


def _ways(tmp_path: Path, url: str) -> dict[str, tuple[dict[str, Any], str]]:
    # Out of the working folder's way: only the ".env file" way reads it.
    (tmp_path / "conf").mkdir(exist_ok=True)
    env = tmp_path / "conf" / ".env"
    env.write_text(f"GEMINI_API_KEY={KEY}\n")
    host = url.split("://", 1)[1]
    # Ephemeral tokens work only on the v1alpha constrained method (the fake checks).
    constrained = url.split("/ws/", 1)[0] + (
        "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
    )
    return {
        # way: (connect() keywords, the secret the server accepts)
        "header": ({"endpoint": url, "api_key": KEY}, KEY),
        "query key": ({"endpoint": f"{url}?key={KEY}"}, KEY),
        "query access_token": ({"endpoint": f"{url}?access_token={KEY}"}, KEY),
        "authorization token": ({"endpoint": constrained, "api_key": TOKEN}, TOKEN),
        "userinfo": ({"endpoint": f"ws://user:{KEY}@{host}"}, ""),
        ".env file": ({"endpoint": url, "env_file": str(env)}, KEY),
    }


WAYS = ["header", "query key", "query access_token", "authorization token", "userinfo", ".env file"]


@pytest.mark.parametrize("way", WAYS)
async def test_a_key_never_leaks(
    way: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")  # no .env here or upwards
    caplog.set_level(logging.DEBUG)
    printed = io.StringIO()
    record = tmp_path / "r.jsonl"
    secret = _ways(tmp_path, "ws://x")[way][1]
    async with FakeLiveServer(api_key=secret or None) as server:
        options, secret = _ways(tmp_path, server.url)[way]
        shown = secret or KEY
        conn = rawlive.connect(
            "rawlive-demo",
            response_modalities=["TEXT"],
            observers=[FramePrinter(printed, (shown,))],
            record=str(record),
            **options,
        )
        async with conn as session:
            # The fake model echoes the text: the key comes back in a frame.
            await session.send_text(f"my key is {shown}")
            turn = await session.receive_turn(timeout=5)
            reprs = repr(conn) + repr(session)
        assert shown in turn.text, "the echo carries the key (the test can fail)"
    places = {
        "logs": caplog.text,
        "capture": record.read_text(),
        "--frames": printed.getvalue(),
        "reprs": reprs,
        "server records": repr([(r.target, r.query, r.headers) for r in server.connections]),
    }
    for place, text in places.items():
        assert shown not in text, f"{way}: the key is in the {place}"
    assert "REDACTED" in places["capture"]


async def test_a_key_in_a_close_reason_or_an_error_is_redacted(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.close(1008, f"API key {KEY} not valid. Please pass a valid API key.")

    async with scripted_server(handler) as url:
        with pytest.raises(LiveError) as info:
            await rawlive.connect("m", endpoint=f"{url}?key={KEY}")
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert KEY not in str(getattr(info.value, "reason", ""))


def test_cli_record_and_frames_never_hold_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rawlive.cli import main

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    record = tmp_path / "r.jsonl"
    code = main(
        [
            "say",
            f"my key is {KEY}",
            "--server",
            "demo",
            "--modality",
            "text",
            "--record",
            str(record),
            "--frames",
        ]
    )
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "my key is REDACTED" in err  # --frames shows the frame, without the key
    assert KEY not in err
    text = record.read_text()
    assert KEY not in text and "my key is REDACTED" in text


def test_recorder_scrubs_binary_frames(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    recorder = Recorder(path, secrets=(KEY,))
    recorder.on_open(1, f"ws://u:{KEY}@h/p?key={KEY}", "m")
    recorder.on_frame(1, "server", f'{{"x":"{KEY}"}}'.encode())
    recorder.on_frame(1, "server", b"\xff" + KEY.encode())
    recorder.on_close(1, 1000, f"bye {KEY}", "server", False)
    recorder.close()
    assert KEY.encode() not in path.read_bytes()
    assert KEY not in str(rawlive.capture.read_capture(path).records)


def test_cli_key_in_the_url_user_part_is_never_printed_or_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--server ws://user:KEY@host`` with --frames and --record, against a fake
    server running in its own thread (the CLI runs its own event loop)."""
    import asyncio
    import threading

    from rawlive.cli import main

    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    loop = asyncio.new_event_loop()
    server = FakeLiveServer()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
        url = server.url.replace("ws://", f"ws://user:{KEY}@")
        record = tmp_path / "r.jsonl"
        code = main(
            [
                "say",
                f"my key is {KEY}",
                "--server",
                url,
                "--model",
                "rawlive-demo",
                "--modality",
                "text",
                "--frames",
                "--record",
                str(record),
            ]
        )
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "-- open #1 ws://REDACTED@127.0.0.1" in err
    assert KEY not in err
    assert KEY not in record.read_text()
