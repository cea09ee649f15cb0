"""rawlive.testing.faults: each fault, on real loopback frames, and what the rawlive client does.

Every test injects its fault in one line and asserts what a user of
:mod:`rawlive` relies on: the error class, code, reason, retryability and
explanation, the partial turn, the reconnect, or that nothing went wrong.
"""

from __future__ import annotations

import asyncio
import json
import time
import wave
from pathlib import Path
from typing import Any

import pytest

import rawlive
from rawlive import (
    ConnectionClosedError,
    HandleRefusedError,
    LintError,
    Reconnected,
    ReconnectPolicy,
    SetupRejectedError,
)
from rawlive.closecodes import CLOSE_REASON_LIMIT
from rawlive.testing import (
    DEADLINE_EXPIRED,
    INTERNAL_ERROR,
    INVALID_ARGUMENT,
    BundleFields,
    CancelToolCall,
    CloseWith,
    DelayTurnComplete,
    DropConnection,
    FakeLiveServer,
    FakeModel,
    GoAwayThenClose,
    InterruptedWithAudio,
    NeverCompleteTurn,
    NotResumableUpdates,
    SlowPongs,
    TextFrames,
    UnknownTopLevelKeys,
    split_text,
)

CHUNK = 24000 * 40 // 1000 * 2  # bytes in one output audio chunk (chunk_ms=40, 24 kHz)
HELLO = "Hello there! How can I help you today?"  # the fake model's answer to "Hello"
BRAZIL = "What is the capital of Brazil?"
FAST = ReconnectPolicy(handover_margin=0.3, backoff_initial=0.05, budget=5.0)
FUTURE = {"someFutureKey": {"level": 3, "note": "from a newer API version"}}
LIGHTS = {
    "functionDeclarations": [{"name": "turn_on_the_lights", "description": "Turn on the lights."}]
}
# The real overload reason (as quoted in a public issue report) before the service cut it.
OVERLOADED = (
    "Request trace id: 21d399562688c813, [ORIGINAL ERROR] extensible_stubs::"
    "OVERLOADED_TOO_MANY_RETRIES_PER_REQUEST: You are most likely sending too many requests."
)


def text_session(server: FakeLiveServer, **kwargs: Any) -> rawlive.connect:
    return rawlive.connect("m", endpoint=server.url, response_modalities=["TEXT"], **kwargs)


def audio_session(server: FakeLiveServer, **kwargs: Any) -> rawlive.connect:
    return rawlive.connect("m", endpoint=server.url, response_modalities=["AUDIO"], **kwargs)


def frames_sent(server: FakeLiveServer, connection: int = 0) -> list[dict[str, Any]]:
    return [json.loads(frame) for frame in server.connections[connection].sent]


class FrameLog:
    """A client frame observer: every server frame with its arrival time and type."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, str | bytes]] = []

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        pass

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        if direction == "server":
            self.frames.append((time.monotonic(), payload))

    def on_close(self, conn: int, code: int, reason: str, by: str | None, dropped: bool) -> None:
        pass


# ------------------------------------------------------------------ goAway


async def test_go_away_then_close_ends_the_connection_as_its_lifetime() -> None:
    async with FakeLiveServer(faults=[GoAwayThenClose("0.5s", after_turn=1)]) as server:
        async with text_session(server) as session:
            await session.send_text("Hello")
            await session.receive_turn()
            time_left = None
            with pytest.raises(ConnectionClosedError) as info:
                async for message in session:
                    assert not isinstance(message, Reconnected)
                    if message.go_away is not None:
                        time_left = session.go_away_time_left
                        started = time.monotonic()
            waited = time.monotonic() - started
    error = info.value
    assert time_left is not None and 0 < time_left <= 0.5
    # The close came no earlier than announced (a lower bound: load only adds time).
    assert waited >= 0.4
    assert (error.code, error.reason, error.by_server) == (1011, DEADLINE_EXPIRED, True)
    assert error.retryable and not error.truncated
    assert "connection lifetime reached" in str(error)
    assert "reconnect with the latest resumption handle" in error.explanation


async def test_go_away_mid_reply_hands_over_once_the_turn_is_done() -> None:
    fault = GoAwayThenClose("0.5s", on_turn=2, after_chunks=1)
    async with FakeLiveServer(faults=[fault]) as server:
        async with text_session(server, reconnect=FAST) as session:
            await session.send_text("Hello")
            await session.receive_turn()
            await session.wait_for_handle(2.0)
            await session.send_text("Can you tell me a joke?")
            joke = await session.receive_turn(keep_messages=True)  # the goAway arrives in it
            events = []
            async for message in session:
                events.append(message)
                if isinstance(message, Reconnected):
                    break
            await session.send_text(BRAZIL)
            answer = await session.receive_turn()
    assert any(m.go_away is not None for m in joke.messages)
    assert joke.turn_complete and joke.generation_complete  # the reply was not cut off
    reconnected = events[-1]
    assert isinstance(reconnected, Reconnected)
    assert (reconnected.cause, reconnected.connection, reconnected.resent) == ("goAway", 2, 0)
    assert "Brasília" in answer.text
    first, second = server.connections
    assert (first.closed_by, first.close_code) == ("client", 1000)  # before the deadline
    assert second.resumed_from == first.handles[-1]


async def test_go_away_followed_by_an_early_close_reconnects_once() -> None:
    fault = GoAwayThenClose("1s", close_after=0.1, after_turn=1)
    async with FakeLiveServer(faults=[fault]) as server:
        async with text_session(server, reconnect=FAST) as session:
            await session.send_text("Hello")
            await session.receive_turn()
            events = []

            async def read() -> None:
                async for message in session:
                    events.append(message)

            reader = asyncio.ensure_future(read())
            await asyncio.sleep(1.5)  # past the announced deadline
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    assert [e.cause for e in events if isinstance(e, Reconnected)] == ["close"]
    assert len(server.connections) == 2


# ------------------------------------------------------------------ closes


@pytest.mark.parametrize(
    ("code", "reason", "title", "retryable"),
    [
        (1007, INVALID_ARGUMENT, "invalid argument", False),
        (1008, "Operation is not implemented, or supported, or enabled.", "feature", False),
        (1011, INTERNAL_ERROR, "internal error", True),
    ],
)
async def test_close_mid_reply_is_an_error_with_the_partial_turn(
    code: int, reason: str, title: str, retryable: bool
) -> None:
    async with FakeLiveServer(faults=[CloseWith(code, reason, after_chunks=2)]) as server:
        async with text_session(server) as session:
            await session.send_text("Hello")
            with pytest.raises(ConnectionClosedError) as info:
                await session.receive_turn()
    error = info.value
    assert type(error) is ConnectionClosedError  # not a SetupRejectedError: setup was done
    assert (error.code, error.reason, error.by_server) == (code, reason, True)
    assert error.retryable is retryable and not error.truncated
    assert title in str(error)
    partial = error.partial_turn
    assert partial.text == "".join(split_text(HELLO)[:2]) and not partial.turn_complete


@pytest.mark.parametrize(
    ("reason", "wire"),
    [
        # cut exactly where the real capture is cut
        (OVERLOADED, OVERLOADED[:CLOSE_REASON_LIMIT]),
        # a two-byte character straddles byte 123: it is dropped whole
        ("Internal error: " + "é" * 60, "Internal error: " + "é" * 53),
    ],
)
async def test_a_long_close_reason_arrives_cut_at_123_bytes(reason: str, wire: str) -> None:
    fault = CloseWith(1011, reason)
    assert fault.wire_reason == wire
    assert len(wire.encode()) <= CLOSE_REASON_LIMIT < len(reason.encode())
    async with FakeLiveServer(faults=[fault]) as server:
        async with text_session(server) as session:
            await session.send_text("Hello")
            with pytest.raises(ConnectionClosedError) as info:
                await session.receive_turn()
    error = info.value
    assert (error.code, error.reason) == (1011, wire)
    assert error.truncated and "(cut at 123 bytes)" in str(error)
    assert error.retryable
    assert server.connections[0].close_reason == wire


async def test_close_right_after_setup_is_not_a_setup_rejection() -> None:
    async with FakeLiveServer(faults=[CloseWith(1011, INTERNAL_ERROR, after_turn=0)]) as server:
        async with text_session(server) as session:
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(session.receive(), 5)
    assert not isinstance(info.value, SetupRejectedError)
    assert (info.value.code, info.value.reason) == (1011, INTERNAL_ERROR)


# ------------------------------------------------------------------- drops


async def test_drop_mid_reply_is_1006_and_the_partial_wav_is_valid(tmp_path: Path) -> None:
    out = tmp_path / "partial.wav"
    async with FakeLiveServer(faults=[DropConnection(after_chunks=3)]) as server:
        async with audio_session(server) as session:
            await session.send_text("Hello")
            with pytest.raises(ConnectionClosedError) as info:
                await session.receive_turn(wav=out)
    error = info.value
    assert (error.code, error.reason, error.by_server) == (1006, "", None)
    assert error.retryable and error.dropped
    assert "connection dropped with no close frame" in str(error)
    partial = error.partial_turn
    assert partial.audio_bytes == 3 * CHUNK and not partial.turn_complete
    with wave.open(str(out), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        pcm = w.readframes(w.getnframes())
    assert pcm == FakeModel().speak(HELLO)[: 3 * CHUNK]
    assert server.connections[0].close_code == 1006


async def test_drop_mid_reply_reconnects_and_the_conversation_goes_on() -> None:
    async with FakeLiveServer(faults=[DropConnection(on_turn=2, after_chunks=1)]) as server:
        async with text_session(server, reconnect=FAST) as session:
            await session.send_text("Hello")
            await session.receive_turn()
            await session.wait_for_handle(2.0)
            await session.send_text(BRAZIL)
            events = []
            async for message in session:
                events.append(message)
                sc = None if isinstance(message, Reconnected) else message.server_content
                if sc is not None and sc.turn_complete:
                    break
            await session.send_text("what was the last question I asked?")
            recall = await session.receive_turn()
    (reconnected,) = [e for e in events if isinstance(e, Reconnected)]
    assert (reconnected.cause, reconnected.code, reconnected.connection) == ("drop", 1006, 2)
    assert reconnected.resent == 1  # the question the dropped connection had not answered
    text = "".join(m.text for m in events if not isinstance(m, Reconnected))
    first_piece = split_text("The capital of Brazil is **Brasília**.")[0]
    assert text == first_piece + "The capital of Brazil is **Brasília**."
    assert recall.text == f'The last question you asked was: "{BRAZIL}"'


# ------------------------------------------------------------ turn endings


async def test_a_late_turn_complete_keeps_the_turn_open() -> None:
    log = FrameLog()
    async with FakeLiveServer(faults=[DelayTurnComplete(0.5)]) as server:
        async with text_session(server, observers=[log]) as session:
            await session.send_text("Hello")
            turn = await session.receive_turn(timeout=5)
    assert turn.text == HELLO
    assert turn.generation_complete and turn.turn_complete and turn.usage is not None
    times = {}
    for at, frame in log.frames:
        content = json.loads(frame).get("serverContent", {})
        for key in ("generationComplete", "turnComplete"):
            if content.get(key):
                times[key] = at
    assert times["turnComplete"] - times["generationComplete"] >= 0.45


async def test_a_turn_that_never_completes_times_out_and_the_session_goes_on() -> None:
    async with FakeLiveServer(faults=[NeverCompleteTurn()]) as server:
        async with text_session(server, session_resumption=True) as session:
            await session.send_text("Hello")
            seen = []
            async for message in session:
                seen.append(message)
                if message.server_content and message.server_content.generation_complete:
                    break
            with pytest.raises(TimeoutError):
                await session.receive_turn(timeout=0.3)
            assert session.handle is None  # no handle: the turn never completed
            await session.send_text(BRAZIL)
            turn = await session.receive_turn(timeout=5)
    assert "".join(m.text for m in seen if not isinstance(m, Reconnected)) == HELLO
    assert "Brasília" in turn.text and turn.turn_complete


# -------------------------------------------------------------- keepalive


async def test_slow_pongs_trip_a_tight_client_keepalive() -> None:
    async with FakeLiveServer(faults=[SlowPongs(1.0)]) as server:
        async with text_session(server, ping_interval=0.2, ping_timeout=0.3) as session:
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(session.receive(), 5)
    error = info.value
    # the client gave up and closed, not the server
    assert (error.code, error.reason, error.by_server) == (1011, "keepalive ping timeout", False)
    assert error.retryable
    assert "keepalive timeout" in str(error) and "raise ping_timeout" in error.explanation


async def test_slow_pongs_are_tolerated_by_a_patient_keepalive() -> None:
    # rawlive's default ping_timeout is 60 s; 2 s is enough for pongs up to 1 s late.
    async with FakeLiveServer(faults=[SlowPongs(1.0)]) as server:
        async with text_session(server, ping_interval=0.3, ping_timeout=2.0) as session:
            started = time.monotonic()
            await session.send_text("Hello")
            first = await session.receive_turn(timeout=5)
            stalled = time.monotonic() - started
            await asyncio.sleep(0.1)
            # Session has no public latency: ask its websockets connection directly.
            latency = await (await session._ws.ping())
            await asyncio.sleep(0.5)
            await session.send_text(BRAZIL)
            second = await session.receive_turn(timeout=5)
            assert not session.closed
    assert latency > 0.5  # this pong really was slow (a lower bound only)
    assert stalled > 0.5  # the request waited behind the stalled link too
    assert first.text == HELLO and "Brasília" in second.text


# ------------------------------------------------------------- resumption


async def test_a_handle_marked_not_resumable_is_not_adopted() -> None:
    async with FakeLiveServer() as server:
        async with text_session(server, session_resumption=True) as session:
            await session.send_text("Hello")
            await session.receive_turn()
            kept = await session.wait_for_handle(2.0)
            armed = server.inject(NotResumableUpdates())  # at run time: the next turn
            await session.send_text(BRAZIL)
            await session.receive_turn()
            message = await session.receive()
            assert not isinstance(message, Reconnected)
            update = message.session_resumption_update
            assert update is not None and update.resumable is False
            assert update.new_handle and update.new_handle != kept
            assert session.handle == kept
        assert armed.fired == [(1, 2)]
        # Adopting it would have been fatal: the service refuses it; the kept one resumes.
        with pytest.raises(HandleRefusedError):
            await text_session(server, session_resumption=update.new_handle)
        async with text_session(server, session_resumption=kept):
            pass
        assert server.connections[-1].resumed_from == kept


# ------------------------------------------------------ forward compatible


async def test_unknown_top_level_keys_are_kept_and_the_session_goes_on() -> None:
    async with FakeLiveServer(faults=[UnknownTopLevelKeys(FUTURE)]) as server:
        async with audio_session(server) as session:
            await session.send_text("Hello")
            turn = await session.receive_turn(keep_messages=True)
            await session.send_text(BRAZIL)
            second = await session.receive_turn(keep_messages=True)
    alone, *rest = turn.messages
    assert alone.kinds == ("someFutureKey",) and alone.extra == FUTURE
    assert rest and all(m.extra == FUTURE and m.payloads for m in rest)
    assert turn.turn_complete and turn.audio == FakeModel().speak(HELLO)
    assert not any(m.extra for m in second.messages)  # once: only the first turn
    assert second.turn_complete and second.audio_bytes > 0


async def test_bundled_payloads_give_the_same_turn() -> None:
    async def one_turn(server: FakeLiveServer) -> tuple[rawlive.Turn, str | None]:
        async with audio_session(
            server, output_audio_transcription=True, session_resumption=True
        ) as session:
            await session.send_text("Hello")
            turn = await session.receive_turn(keep_messages=True)
            return turn, session.handle

    async with FakeLiveServer(seed=1) as plain_server:
        plain, _ = await one_turn(plain_server)
    async with FakeLiveServer(seed=1, faults=[BundleFields()]) as server:
        bundled, handle = await one_turn(server)
    assert (bundled.audio, bundled.output_transcript) == (plain.audio, plain.output_transcript)
    assert bundled.output_transcript == HELLO
    assert bundled.usage == plain.usage and bundled.usage is not None
    assert bundled.generation_complete and bundled.turn_complete
    assert len(bundled.messages) < len(plain.messages)
    assert handle == server.connections[0].handles[0]  # it came in the turnComplete frame
    frames = frames_sent(server)
    last = frames[-1]
    assert set(last) == {"serverContent", "usageMetadata", "sessionResumptionUpdate"}
    assert {"generationComplete", "turnComplete"} <= set(last["serverContent"])
    assert any(
        {"modelTurn", "outputTranscription"} <= set(f.get("serverContent", {})) for f in frames
    )


async def test_interrupted_bundled_with_audio_keeps_that_audio() -> None:
    async with FakeLiveServer(faults=[InterruptedWithAudio(after_chunks=2)]) as server:
        async with audio_session(server) as session:
            await session.send_text("Hello")
            turn = await session.receive_turn(keep_messages=True)
            await session.send_text(BRAZIL)
            second = await session.receive_turn()
    assert turn.interrupted and turn.turn_complete and not turn.generation_complete
    assert turn.audio == FakeModel().speak(HELLO)[: 3 * CHUNK]
    (flagged,) = [m for m in turn.messages if m.server_content and m.server_content.interrupted]
    assert len(flagged.audio) == CHUNK  # the interrupted frame carried the third chunk
    assert not second.interrupted and second.generation_complete


# ------------------------------------------------------------------ tools


async def test_a_cancelled_tool_call_is_no_longer_pending() -> None:
    async with FakeLiveServer(faults=[CancelToolCall()]) as server:
        async with text_session(server, tools=[LIGHTS]) as session:
            await session.send_text("Turn on the lights")
            turn = await session.receive_turn()
            (call,) = turn.tool_calls
            assert turn.cancelled_tool_calls == (call.id,)
            assert call.id not in session.state.pending_calls
            with pytest.raises(LintError) as info:
                await session.send_tool_response(
                    rawlive.FunctionResponse(id=call.id, name=call.name, response={"output": 1})
                )
            assert info.value.rule == "tool-response-id"
            await session.send_text(BRAZIL)
            answer = await session.receive_turn()
    assert "Brasília" in answer.text
    assert server.received_count("toolResponse") == 0


# ------------------------------------------------------------- text frames


async def test_text_frames_are_read_like_binary_ones() -> None:
    log = FrameLog()
    async with FakeLiveServer(faults=[TextFrames()]) as server:
        async with text_session(server, observers=[log]) as session:
            await session.send_text("Hello")
            turn = await session.receive_turn()
    assert turn.text == HELLO and turn.turn_complete
    assert log.frames and all(isinstance(frame, str) for _, frame in log.frames)


# ------------------------------------------------------------------- API


def test_triggers_are_checked() -> None:
    with pytest.raises(ValueError, match="does not take after_turn"):
        DelayTurnComplete(1.0, after_turn=1)
    with pytest.raises(ValueError, match="cannot be combined"):
        CloseWith(1011, "x", on_turn=1, after_turn=1)
    with pytest.raises(ValueError, match="use DropConnection"):
        CloseWith(1006, "x")
    with pytest.raises(ValueError, match="known ones"):
        UnknownTopLevelKeys({"serverContent": {}})
    with pytest.raises(ValueError, match="Duration"):
        GoAwayThenClose("soon")
    assert GoAwayThenClose("1.5s").close_delay == 1.5


async def test_faults_act_only_where_their_trigger_says() -> None:
    drop = DropConnection(connection=2, on_turn=1)
    async with FakeLiveServer(faults=[drop]) as server:
        async with text_session(server, session_resumption=True, reconnect=FAST) as session:
            await session.send_text("Hello")
            await session.receive_turn()
            await session.wait_for_handle(2.0)
            server.open_connections[0].ws.transport.abort()  # the client moves to connection 2
            await session.send_text(BRAZIL)  # turn 1 of connection 2: dropped, then retried
            events = []
            async for message in session:
                events.append(message)
                sc = None if isinstance(message, Reconnected) else message.server_content
                if sc is not None and sc.turn_complete:
                    break
    assert server.faults[0].fired == [(2, 1)]
    assert [e.connection for e in events if isinstance(e, Reconnected)] == [2, 3]
    assert "Brasília" in "".join(m.text for m in events if not isinstance(m, Reconnected))


async def test_setup_complete_is_kept_losslessly(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(b'{"setupComplete":{"sessionId":"abc-123","futureField":1}}')
        await ws.wait_closed()

    async with scripted_server(handler) as url:
        async with rawlive.connect("m", endpoint=url) as session:
            assert session.setup_complete is not None
            assert session.setup_complete.session_id == "abc-123"
            assert session.setup_complete.extra == {"futureField": 1}


async def test_turn_timeout_is_a_timeout_error_with_the_partial_turn() -> None:
    async with FakeLiveServer(faults=[NeverCompleteTurn()]) as server:
        async with text_session(server) as session:
            await session.send_text("Hello")
            with pytest.raises(rawlive.TurnTimeoutError) as info:
                await session.receive_turn(timeout=0.3)
    assert isinstance(info.value, TimeoutError)
    assert info.value.partial_turn is not None
    assert info.value.partial_turn.generation_complete
    assert info.value.partial_turn.text == "Hello there! How can I help you today?"


# ------------------------------------------------- the immediate trigger


async def test_strike_does_a_point_fault_now_on_every_open_session() -> None:
    async with FakeLiveServer() as server:
        async with text_session(server) as first, text_session(server) as second:
            await first.send_text("Hello")
            await first.receive_turn()
            armed = await server.strike(CloseWith(1011, INTERNAL_ERROR, connection=1))
            assert armed.fired == [(1, 1)]  # connection 1, after its first turn
            assert not armed.active  # acted once; the triggers never consult it
            assert server.faults[-1] is armed
            with pytest.raises(ConnectionClosedError) as info:
                await first.receive_turn(timeout=5)
            await second.send_text("Hello")
            assert (await second.receive_turn(timeout=5)).text == HELLO
    assert info.value.code == 1011
    assert [r.close_code for r in server.connections] == [1011, 1000]


async def test_strike_refuses_a_turn_fault() -> None:
    async with FakeLiveServer() as server:
        with pytest.raises(ValueError, match="inject"):
            await server.strike(NeverCompleteTurn())
        assert server.faults == []
