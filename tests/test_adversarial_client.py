"""A hostile server against the client: every reply ends in a rawlive error or a turn.

Each case is one scripted loopback server that answers the setup, then sends
something hostile. The client runs with every observer that reads frames
(``--frames`` printing, a recorder with audio redaction), so those paths see
the hostile frames too. Nothing may raise anything but a ``LiveError``, and
nothing may take longer than the turn timeout it was given.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

import rawlive
from rawlive.capture.recorder import Recorder
from rawlive.cli._session import FramePrinter
from rawlive.errors import (
    ConnectionClosedError,
    LiveError,
    RemoteProtocolError,
    TurnTimeoutError,
)

KEY = "AIzaSy-HOSTILE-KEY-0123456789"
SETUP_COMPLETE = '{"setupComplete":{}}'
TURN_TIMEOUT = 1.0  # the documented bound each case must respect


def _deep(depth: int) -> str:
    return (
        '{"serverContent":{"modelTurn":{"parts":[{"text":"x","extra":'
        + ("[" * depth + "]" * depth)
        + "}]}}}"
    )


HOSTILE: dict[str, list[str | bytes]] = {
    "goaway_newline": ['{"goAway":{"timeLeft":"50s\\n"}}'],
    "goaway_number": ['{"goAway":{"timeLeft":50}}'],
    "deep_300": [_deep(300)],
    "deep_1000": [_deep(1000)],
    "deep_2000": [_deep(2000)],
    "not_json": ["this is not json"],
    "binary_not_utf8": [b"\xff\xfe\x00garbage"],
    "empty_text": [""],
    "json_array": ["[1,2,3]"],
    "json_null": ["null"],
    "parts_not_list": ['{"serverContent":{"modelTurn":{"parts":5}}}'],
    "both_spellings": ['{"serverContent":{"turnComplete":true,"turn_complete":false}}'],
    "big_numbers": [
        '{"usageMetadata":{"totalTokenCount":18446744073709551616}}',
        '{"serverContent":{"turnComplete":true}}',
    ],
    "bad_handle": ['{"sessionResumptionUpdate":{"newHandle":5,"resumable":"yes"}}'],
    "bad_tool_call": ['{"toolCall":{"functionCalls":[{"name":5,"args":[]}]}}'],
    "marker_bomb": [
        '{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm",'
        '"data":"<redacted 500000000 bytes sha256=' + "0" * 64 + '>"}}]}}}'
    ],
    "bad_base64": [
        '{"serverContent":{"modelTurn":{"parts":[{"inlineData":'
        '{"mimeType":"audio/pcm","data":"@@@"}}]}}}'
    ],
    "odd_pcm": [
        '{"serverContent":{"modelTurn":{"parts":[{"inlineData":'
        '{"mimeType":"audio/pcm;rate=0","data":"AAA="}}]}}}',
        '{"serverContent":{"turnComplete":true}}',
    ],
    "key_echoed": [
        '{"serverContent":{"modelTurn":{"parts":[{"text":"your key ' + KEY + '"}]}}}',
        '{"serverContent":{"turnComplete":true}}',
    ],
    "close_with_key": [],
    "silence": [],
}
# The error some cases must give (others may give any LiveError, or a turn).
EXPECTED: dict[str, type[LiveError]] = {
    "goaway_newline": RemoteProtocolError,
    "goaway_number": RemoteProtocolError,
    "not_json": RemoteProtocolError,
    "json_array": RemoteProtocolError,
    "bad_base64": RemoteProtocolError,
    "close_with_key": ConnectionClosedError,
    "silence": TurnTimeoutError,
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_server_gives_a_rawlive_error_or_a_turn(
    case: str, scripted_server: Any, tmp_path: Path
) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.recv()
        for frame in HOSTILE[case]:
            await ws.send(frame)
        if case == "close_with_key":
            await ws.close(1011, f"internal error for key {KEY}")
        await asyncio.wait_for(ws.wait_closed(), TURN_TIMEOUT + 2)

    printed = io.StringIO()
    record = tmp_path / "r.jsonl"

    async def client(url: str) -> None:
        async with rawlive.connect(
            "m",
            endpoint=url,
            api_key=KEY,
            response_modalities=["AUDIO"],
            observers=[FramePrinter(printed, (KEY,))],
            record=Recorder(record, secrets=(KEY,), redact_audio=True),
        ) as session:
            await session.send_text("Hello")
            turn = await session.receive_turn(timeout=TURN_TIMEOUT)
            assert turn is not None

    async with scripted_server(handler) as url:
        try:
            await asyncio.wait_for(client(url), TURN_TIMEOUT + 5)
        except LiveError as exc:
            assert KEY not in str(exc) and KEY not in repr(exc)
            assert isinstance(exc, EXPECTED.get(case, LiveError)), repr(exc)
        else:
            assert case not in EXPECTED, f"{case}: no error"
    assert KEY not in printed.getvalue()
    assert KEY not in record.read_text(encoding="utf-8", errors="replace")


async def test_oversized_frame_is_a_clean_close(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.recv()
        await ws.send('{"x":"' + "a" * (2**20 + 10) + '"}')
        await asyncio.wait_for(ws.wait_closed(), 5)

    async def client(url: str) -> None:
        async with rawlive.connect("m", endpoint=url, max_size=2**20) as session:
            await session.send_text("Hello")
            await session.receive_turn(timeout=TURN_TIMEOUT)

    async with scripted_server(handler) as url:
        with pytest.raises(LiveError):
            await asyncio.wait_for(client(url), 10)


async def test_hostile_frames_are_recorded_verbatim(scripted_server: Any, tmp_path: Path) -> None:
    """Nothing lost: an undecodable frame still reaches the capture file as sent."""

    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.recv()
        await ws.send("this is not json")
        await asyncio.wait_for(ws.wait_closed(), 5)

    record = tmp_path / "r.jsonl"

    async def client(url: str) -> None:
        async with rawlive.connect("m", endpoint=url, record=str(record)) as session:
            await session.send_text("Hello")
            await session.receive_turn(timeout=TURN_TIMEOUT)

    async with scripted_server(handler) as url:
        with pytest.raises(LiveError):
            await asyncio.wait_for(client(url), 10)
    datas = [orjson.loads(line).get("data") for line in record.read_text().splitlines()]
    assert "this is not json" in datas


@pytest.mark.parametrize(
    ("resolved", "trusted"),
    [(["127.0.0.1"], True), (["::1"], True), (["203.0.113.7"], False),
     (["127.0.0.1", "203.0.113.7"], False), (None, False)],
)  # fmt: skip
def test_dot_localhost_names_are_trusted_only_when_they_resolve_to_loopback(
    resolved: list[str] | None, trusted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from rawlive.auth import check_endpoint, is_loopback_host
    from rawlive.errors import ConfigurationError

    def fake_getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "app.localhost"
        if resolved is None:
            raise socket.gaierror(-2, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0)) for ip in resolved]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert is_loopback_host("app.localhost") is trusted
    if trusted:
        assert check_endpoint("ws://app.localhost:9/x") == "ws://app.localhost:9/x"
    else:
        with pytest.raises(ConfigurationError, match="clear text"):
            check_endpoint("ws://app.localhost:9/x")
    assert is_loopback_host("localhost") and is_loopback_host("127.0.0.2")
    assert is_loopback_host("[::1]") and not is_loopback_host("example.com")


RAW_REPLIES = {
    "close at once": b"",
    "http 500 with the key": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 40\r\n\r\n"
    + f"bad key {KEY} .............".encode()[:40],
    "garbage": b"\x00\x01\x02 not http at all\r\n\r\n",
    "101 without websocket headers": b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    "no answer": None,
}


@pytest.mark.parametrize("case", sorted(RAW_REPLIES))
async def test_hostile_handshakes_give_a_connection_error(case: str) -> None:
    """Below the WebSocket layer: a TCP server that answers the upgrade badly."""
    reply = RAW_REPLIES[case]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if reply is None:
            await asyncio.sleep(5)
        else:
            writer.write(reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ConnectionClosedError) as info:
            await asyncio.wait_for(
                rawlive.connect(
                    "m", endpoint=f"ws://127.0.0.1:{port}/", api_key=KEY, open_timeout=1
                ),
                10,
            )
    finally:
        server.close()
    assert KEY not in str(info.value) and KEY not in repr(info.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ws://127.0.0.1:", "port after ':' is empty"),
        ("ws://127.0.0.1:notaport/", "not a number"),
        ("ws://127.0.0.1:70000/", "out of range"),
        ("ws://127.0.0.1:0/", "port 0"),
        ("ws://[::1", "invalid endpoint"),
        ("http://127.0.0.1:1/", "ws:// or wss://"),
        (f"ws://user:{KEY}@example.com/", "clear text"),
    ],
)
def test_connect_refuses_bad_endpoints_before_dialling(url: str, message: str) -> None:
    from rawlive.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=message) as info:
        rawlive.connect("m", endpoint=url)
    assert KEY not in str(info.value)
