"""rawlive.wire: every message reaches the session as it arrives, whole and in order.

The client connection hands each data message to the session in the callback
that read it (no reader task); these tests drive it with real frames over
loopback, written below websockets' own send() where a test needs fragments,
bad bytes or several frames in one TCP write.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

import rawlive
from rawlive.errors import ConnectionClosedError
from rawlive.testing import FakeLiveServer
from rawlive.wire import SinkConnection

SETUP_COMPLETE = b'{"setupComplete":{}}'
TURN_COMPLETE = b'{"serverContent":{"turnComplete":true}}'


def text_part(text: str) -> bytes:
    return b'{"serverContent":{"modelTurn":{"parts":[{"text":"' + text.encode() + b'"}]}}}'


async def test_fragmented_text_and_binary_messages_arrive_whole(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE.decode())
        await ws.recv()  # the question
        first, second = text_part("Hello, fragmented"), text_part(" world")
        ws.protocol.send_text(first[:10], fin=False)
        ws.protocol.send_continuation(first[10:40], fin=False)
        ws.protocol.send_continuation(first[40:], fin=True)
        ws.protocol.send_binary(second[:5], fin=False)
        ws.protocol.send_continuation(second[5:], fin=True)
        ws.protocol.send_text(TURN_COMPLETE)
        ws.send_data()
        await ws.wait_closed()

    async with (
        scripted_server(handler) as url,
        rawlive.connect("m", endpoint=url, response_modalities=["TEXT"]) as session,
    ):
        await session.send_text("hi")
        turn = await session.receive_turn(timeout=5)
    assert turn.text == "Hello, fragmented world"


async def test_frames_in_the_same_write_as_setup_complete_are_kept_in_order(
    scripted_server: Any,
) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        # One TCP write: the client reads all of it before its session starts.
        for frame in (SETUP_COMPLETE, text_part("early "), text_part("bird"), TURN_COMPLETE):
            ws.protocol.send_text(frame)
        ws.send_data()
        await ws.wait_closed()

    async with (
        scripted_server(handler) as url,
        rawlive.connect("m", endpoint=url, response_modalities=["TEXT"]) as session,
    ):
        turn = await session.receive_turn(timeout=5)
    assert turn.text == "early bird"


async def test_a_fragmented_text_message_that_is_not_utf8_fails_with_1007(
    scripted_server: Any,
) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE.decode())
        ws.protocol.send_text(b'{"serverContent":', fin=False)
        ws.protocol.send_continuation(b'{"x":"\xff"}}', fin=True)
        ws.send_data()
        await ws.wait_closed()

    async with scripted_server(handler) as url, rawlive.connect("m", endpoint=url) as session:
        with pytest.raises(ConnectionClosedError) as info:
            await session.receive()
    assert info.value.code == 1007 and info.value.by_server is False


async def test_a_full_buffer_stops_reading_the_socket_until_the_application_reads() -> None:
    limit = 20_000
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["AUDIO"], receive_buffer=limit
        ) as session:
            conn = session._engine.conn
            assert conn is not None
            await session.send_text("Can you tell me a joke?")
            for _ in range(200):  # bounded: at most 4 s
                if conn.paused:
                    break
                await asyncio.sleep(0.02)
            assert conn.paused and not conn.ws.transport.is_reading()
            assert limit <= session._engine.inbox.bytes < limit + 10_000  # one read past it
            turn = await session.receive_turn(timeout=5)
            assert not conn.paused and conn.ws.transport.is_reading()
    joke = "Why don't scientists trust atoms? Because they make up everything!"
    assert turn.audio == server.model.speak(joke)  # nothing lost while paused


class Callbacks:
    """A sink made of two functions."""

    def __init__(self, on_data: Any, on_lost: Any) -> None:
        self.on_data, self.on_lost = on_data, on_lost


def _bare_connection(held: list[tuple[bytes, bool]], lost: bool) -> SinkConnection:
    # attach() and detach() touch only these attributes: no socket needed.
    ws = SinkConnection.__new__(SinkConnection)
    ws.sink, ws.held, ws._lost_told = None, held, False
    ws.lost = ConnectionClosed(None, None) if lost else None
    return ws


def test_attach_hands_over_the_held_messages_then_the_loss_once() -> None:
    seen: list[object] = []
    ws = _bare_connection([(b"a", True), (b"b", False)], lost=True)
    ws.attach(Callbacks(lambda d, t: seen.append((d, t)), lambda e: seen.append("lost")))
    assert seen == [(b"a", True), (b"b", False), "lost"]
    ws._report_lost()
    assert seen.count("lost") == 1


def test_a_sink_that_detaches_leaves_the_rest_held_for_the_next() -> None:
    seen: list[object] = []
    ws = _bare_connection([(b"a", True), (b"b", True)], lost=True)

    def first(data: bytes, text: bool) -> None:
        seen.append(data)
        ws.detach()  # like the handshake at setupComplete

    ws.attach(Callbacks(first, lambda e: seen.append("lost too early")))
    assert seen == [b"a"] and ws.held == [(b"b", True)]
    ws.attach(Callbacks(lambda d, t: seen.append(d), lambda e: seen.append("lost")))
    assert seen == [b"a", b"b", "lost"]


def test_an_emptied_hold_is_dropped_for_the_shared_empty_one() -> None:
    # A session must not keep an empty list per connection once the held
    # messages are handed over (objects per session are what the GC walks).
    ws = _bare_connection([(b"a", True)], lost=False)
    ws.attach(Callbacks(lambda d, t: None, lambda e: None))
    assert ws.held is SinkConnection._NOTHING_HELD and ws.held == []


async def test_the_connection_keeps_no_recv_queue_and_recv_says_why() -> None:
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["TEXT"]
        ) as session:
            conn = session._engine.conn
            assert conn is not None
            # websockets' own queue (an Assembler per connection) is not kept
            assert type(conn.ws.recv_messages).__name__ == "_NoQueue"
            with pytest.raises(RuntimeError, match="recv"):  # 13.x words it its own way
                await conn.ws.recv()
            await session.send_text("Hello")  # the session still reads every frame
            turn = await session.receive_turn(timeout=5)
    assert turn.turn_complete and turn.text
