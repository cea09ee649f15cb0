"""Hostile clients against both servers; a well-behaved client is served after each.

Each attack is a raw WebSocket client on loopback. After it, the same server
must still serve a normal session correctly, the attack must not have cost
unbounded memory (measured in-process with ``tracemalloc``), and the server
must close the hostile connection with a protocol close code, never 1011.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import rawlive
from rawlive.capture import replay as replay_module
from rawlive.capture.replay import ReplayServer
from rawlive.testing import FakeLiveServer

KEY = "AIzaSy-ADVERSARY-KEY-987654321"
MODEL = "models/adversarial-model"
SETUP = orjson.dumps(
    {"setup": {"model": MODEL, "generationConfig": {"responseModalities": ["TEXT"]}}}
).decode()
MARKER_LIMIT = 40 * 2**20  # what one attack may cost the server at most


def _marker(digits: str) -> str:
    return f"<redacted {digits} bytes sha256=" + "0" * 64 + ">"


def _audio(data: str) -> str:
    return orjson.dumps(
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": data}}}
    ).decode()


def _deep_part(depth: int) -> str:
    inner = '{"a":' * depth + "1" + "}" * depth
    return (
        '{"clientContent":{"turns":[{"role":"user","parts":[{"functionResponse":'
        '{"name":"f","id":"1","response":' + inner + '}}]}],"turnComplete":true}}'
    )


ATTACKS: dict[str, list[str | bytes]] = {
    "marker_500mb": [SETUP, _audio(_marker("500000000"))],
    "marker_1e15": [SETUP, _audio(_marker(str(10**15)))],
    "marker_5000_digits": [SETUP, _audio(_marker("9" * 5000))],
    "deep_part_980": [SETUP, _deep_part(980)],
    "deep_part_1020": [SETUP, _deep_part(1020)],
    "not_json": [SETUP, "garbage{"],
    "binary_not_utf8": [SETUP, b"\xff\xfe\xfd"],
    "empty": [""],
    "no_setup": ['{"clientContent":{"turnComplete":true}}'],
    "huge_text_mismatch": [SETUP, '{"clientContent":{"turns":[{"parts":[{"text":"'
                          + "x" * (8 * 2**20) + '"}]}],"turnComplete":true}}'],
}  # fmt: skip


def write_capture(path: Path) -> Path:
    """One text turn: setup, "Hi", the reply "Hello!"."""
    frames = [
        (0.0, "client", SETUP),
        (0.01, "server", '{"setupComplete":{}}'),
        (
            0.02,
            "client",
            '{"clientContent":{"turns":[{"role":"user","parts":[{"text":"Hi"}]}],'
            '"turnComplete":true}}',
        ),
        (0.03, "server", '{"serverContent":{"modelTurn":{"parts":[{"text":"Hello!"}]}}}'),
        (0.04, "server", '{"serverContent":{"turnComplete":true}}'),
    ]
    lines = [
        orjson.dumps({"kind": "open", "conn": 1, "t": 0.0, "endpoint": "ws://x/", "model": MODEL})
    ]
    for t, direction, data in frames:
        lines.append(
            orjson.dumps(
                {"kind": "frame", "conn": 1, "t": t, "dir": direction, "type": "text", "data": data}
            )
        )
    lines.append(
        orjson.dumps(
            {"kind": "close", "conn": 1, "t": 0.05, "code": 1000, "reason": "", "by": "client"}
        )
    )
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


async def _attack(url: str, frames: list[str | bytes]) -> int | None:
    """Send the frames; return the close code the server sent (None: still open)."""
    ws = await connect(url, max_size=None, open_timeout=5, close_timeout=1)
    try:
        for frame in frames:
            await ws.send(frame)
        await asyncio.wait_for(_drain(ws), 1.0)
    except (ConnectionClosed, asyncio.TimeoutError):
        pass
    finally:
        # The attacker's own socket may be in any state; only the server matters.
        with contextlib.suppress(Exception):
            await ws.close()
    rcvd = ws.protocol.close_rcvd
    return rcvd.code if rcvd is not None else None


async def _drain(ws: ClientConnection) -> None:
    with pytest.raises(ConnectionClosed):
        while True:
            await ws.recv()


async def _good_fake_client(url: str) -> None:
    async with rawlive.connect("rawlive-demo", endpoint=url, response_modalities=["TEXT"]) as s:
        await s.send_text("Hello")
        turn = await s.receive_turn(timeout=5)
    assert turn.text == "Hello there! How can I help you today?"


async def _good_replay_client(url: str) -> None:
    async with rawlive.connect(MODEL, endpoint=url, response_modalities=["TEXT"]) as s:
        await s.send_text("Hi")
        turn = await s.receive_turn(timeout=5)
    assert turn.text == "Hello!"


async def _measure(coro: Awaitable[Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = await coro
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


async def _run_attack(
    url: str, name: str, good: Callable[[str], Awaitable[None]], baseline: int
) -> int | None:
    code, peak = await _measure(_attack(url, ATTACKS[name]))
    # The attack's own frames are allocated in this process too; beyond them,
    # the server may not allocate more than MARKER_LIMIT.
    sent = sum(len(f) for f in ATTACKS[name])
    # A frame that is decoded costs a bounded multiple of its size (it is at most
    # 16 MiB); a marker costs nothing however many bytes it claims.
    assert peak < baseline + 20 * sent + MARKER_LIMIT, f"{name}: {peak / 2**20:.0f} MiB"
    assert code != 1011, f"{name}: the server failed (1011)"
    await asyncio.wait_for(good(url), 10)
    return code


@pytest.mark.parametrize("name", sorted(ATTACKS))
async def test_fake_server_survives(name: str) -> None:
    async with FakeLiveServer() as server:
        _, baseline = await _measure(_good_fake_client(server.url))
        code = await _run_attack(server.url, name, _good_fake_client, baseline)
    if name.startswith("deep_part"):
        assert code in (None, 1000, 1007)
    assert server.connections[-1].close_code == 1000


@pytest.mark.parametrize("name", sorted(ATTACKS))
async def test_replay_server_survives(name: str, tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "c.jsonl")
    async with ReplayServer(capture, repeat=True) as server:
        _, baseline = await _measure(_good_replay_client(server.url))
        await _run_attack(server.url, name, _good_replay_client, baseline)
    for mismatch in server.mismatches:
        assert len(str(mismatch)) < 5000


@pytest.mark.parametrize("make", ["fake", "replay"])
async def test_oversized_frame_closes_1009(make: str, tmp_path: Path) -> None:
    server: Any = (
        FakeLiveServer()
        if make == "fake"
        else ReplayServer(write_capture(tmp_path / "c.jsonl"), repeat=True)
    )
    async with server:
        code = await _attack(server.url, [SETUP, "x" * (2**24 + 1)])
        assert code == 1009
        good = _good_fake_client if make == "fake" else _good_replay_client
        await asyncio.wait_for(good(server.url), 10)


@pytest.mark.parametrize("make", ["fake", "replay"])
async def test_frame_header_claiming_2_63_bytes_is_refused(make: str, tmp_path: Path) -> None:
    server: Any = (
        FakeLiveServer()
        if make == "fake"
        else ReplayServer(write_capture(tmp_path / "c.jsonl"), repeat=True)
    )
    async with server:
        async with connect(server.url, close_timeout=1) as ws:
            # A masked text frame header announcing 2**63 - 1 bytes, and no payload.
            header = b"\x81\xff" + (2**63 - 1).to_bytes(8, "big") + b"\x00\x00\x00\x00"
            ws.transport.write(header)
            await asyncio.wait_for(ws.wait_closed(), 5)
        good = _good_fake_client if make == "fake" else _good_replay_client
        await asyncio.wait_for(good(server.url), 10)


async def test_replay_mismatches_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_module, "MAX_MISMATCHES", 3)
    capture = write_capture(tmp_path / "c.jsonl")
    async with ReplayServer(capture, repeat=True) as server:
        for _ in range(5):
            await _attack(server.url, [SETUP, '{"clientContent":{"turnComplete":true}}'])
        await _good_replay_client(server.url)
    assert len(server.mismatches) == 3
    assert server.dropped_mismatches == 2
    assert "2 more not kept" in server.report()


async def test_replay_server_frame_limit_is_configurable(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "c.jsonl")
    async with ReplayServer(capture, repeat=True, max_size=1024) as server:
        assert await _attack(server.url, [SETUP, "x" * 2048]) == 1009


async def test_fake_server_records_are_bounded_with_an_opt_out() -> None:
    async with FakeLiveServer(keep_records=2) as bounded, FakeLiveServer(keep_records=None) as all_:
        for _ in range(4):
            await _good_fake_client(bounded.url)
            await _good_fake_client(all_.url)
        await bounded.wait_idle()
        await all_.wait_idle()
    assert [r.index for r in bounded.connections] == [2, 3]
    assert bounded.dropped_records == 2
    assert [r.index for r in all_.connections] == [0, 1, 2, 3]


async def test_fake_server_logs_close_reasons_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rawlive.testing")
    async with FakeLiveServer() as server:
        await _attack(server.url, ["garbage{"])
    assert any(
        r.levelno == logging.INFO and "closing 1007" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize("make", ["fake", "replay"])
async def test_server_debug_logs_never_show_the_key(
    make: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server: Any = (
        FakeLiveServer(api_key=KEY)
        if make == "fake"
        else ReplayServer(write_capture(tmp_path / "c.jsonl"), repeat=True)
    )
    async with server:
        url = server.url + f"?key={KEY}&access_token={KEY}"
        headers = {"x-goog-api-key": KEY, "Authorization": f"Bearer {KEY}"}
        async with connect(url, additional_headers=headers) as ws:
            await ws.send(SETUP)
            await asyncio.wait_for(ws.recv(), 5)
    # The test's own raw client (websockets.client) logs the key; the server must not.
    server_lines = [
        r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client")
    ]
    text = "\n".join(server_lines)
    assert "x-goog-api-key" in text.lower(), "the server's DEBUG handshake log was captured"
    assert KEY not in text


async def _big_turn(url: str, size: int) -> None:
    async with rawlive.connect("rawlive-demo", endpoint=url, response_modalities=["TEXT"]) as s:
        await s.send_text("x" * size)
        await s.receive_turn(timeout=10)


async def test_fake_server_memory_stays_bounded_over_many_connections() -> None:
    """Measured in-process: what the server still holds after 24 closed connections
    of 200 kB each, bounded (keep_records=4) and unbounded (the opt-out)."""
    import gc

    held = {}
    async with FakeLiveServer() as warm:  # imports and caches outside the measure
        await _big_turn(warm.url, 200_000)
    for keep in (4, None):
        gc.collect()
        tracemalloc.start()
        try:
            async with FakeLiveServer(keep_records=keep) as server:
                for _ in range(24):
                    await _big_turn(server.url, 200_000)
                await server.wait_idle()
                gc.collect()  # count what is held, not garbage waiting for a cycle
                held[keep], _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(server.connections) == (4 if keep else 24)
    # 4 of 24 records kept: what is held is a sixth, not all of it.
    assert held[None] > 3 * held[4], (
        f"bounded {held[4] / 2**20:.1f} MiB, all {held[None] / 2**20:.1f} MiB"
    )


async def test_fake_server_keeps_a_bounded_number_of_resumption_handles() -> None:
    async with FakeLiveServer(keep_records=1) as server:
        for _ in range(4):
            async with rawlive.connect(
                "rawlive-demo",
                endpoint=server.url,
                response_modalities=["TEXT"],
                session_resumption=True,
            ) as s:
                await s.send_text("Hello")
                await s.receive_turn(timeout=5)
        issued = [h for r in server.connections for h in r.handles]
        assert len(issued) >= 2, "each connection issues several: 8+ in all, 4 kept"
        assert len(server.histories) == 4  # the newest 4 * keep_records
        assert issued[-1] in server.histories


async def test_replay_record_never_holds_the_clients_key(tmp_path: Path) -> None:
    """The replay server's own capture (record=): the client's key, sent in a
    header or the URL and then typed into a frame, is redacted everywhere."""
    seen = tmp_path / "seen.jsonl"
    capture = write_capture(tmp_path / "c.jsonl")
    async with ReplayServer(capture, repeat=True, record=seen) as server:
        url = server.url + f"?key={KEY}"
        async with connect(url, additional_headers={"x-goog-api-key": KEY}) as ws:
            await ws.send(SETUP)
            await ws.recv()
            await ws.send(
                '{"clientContent":{"turns":[{"role":"user","parts":[{"text":"'
                + KEY
                + '"}]}],"turnComplete":true}}'
            )
            with contextlib.suppress(ConnectionClosed):
                await ws.recv()  # a mismatch: the key is not "Hi"
    text = seen.read_text()
    assert KEY not in text
    assert "REDACTED" in text
    assert server.mismatches and KEY not in server.report()


@pytest.mark.parametrize("make", ["fake", "replay"])
async def test_a_good_client_is_served_while_an_attack_is_in_progress(
    make: str, tmp_path: Path
) -> None:
    """A client that starts a fragmented message and never finishes it (the
    server buffers it, up to max_size) and one that connects and says nothing
    do not stop the server from serving a normal session at the same time."""
    server: Any = (
        FakeLiveServer()
        if make == "fake"
        else ReplayServer(write_capture(tmp_path / "c.jsonl"), repeat=True)
    )
    good = _good_fake_client if make == "fake" else _good_replay_client
    stall = asyncio.Event()

    async def fragments() -> Any:
        yield '{"clientContent":{"turns":[{"parts":[{"text":"'
        for _ in range(64):
            yield "x" * 65536
        await stall.wait()  # never finish the message while the good client runs
        yield '"}]}]}}'

    async with server:
        silent = await connect(server.url)
        slow = await connect(server.url, max_size=None)
        await slow.send(SETUP)
        sender = asyncio.create_task(slow.send(fragments()))
        try:
            await asyncio.wait_for(good(server.url), 10)
            assert not sender.done(), "the attack was still in progress"
        finally:
            stall.set()
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
            for ws in (silent, slow):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 2)


async def test_one_long_connection_keeps_a_bounded_record(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    # The module that bounds the records (rawlive.testing.fake_server re-exports the value).
    monkeypatch.setattr(sys.modules["rawlive.testing.fake_connection"], "MAX_RECORD_MESSAGES", 5)
    async with FakeLiveServer() as server, FakeLiveServer(keep_records=None) as all_:
        for s in (server, all_):
            async with connect(s.url) as ws:
                await ws.send(SETUP)
                await ws.recv()
                for _ in range(12):  # silence: streamed, never answered
                    await ws.send(_audio("AAAAAAAA"))
            await s.wait_idle()
    record = server.connections[0]
    assert len(record.received) == 5 and record.dropped_messages > 7
    assert len(all_.connections[0].received) == 13
