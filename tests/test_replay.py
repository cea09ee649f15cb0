"""Tests for rawlive.capture.replay and rawlive.capture.tls (the plugin: test_pytest_plugin.py).

Real WebSocket frames over loopback: rawlive's own client (or a bare
websockets client, for frames rawlive would never send) against a
ReplayServer playing a capture.
"""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import websockets
from websockets.sync.client import connect as sync_connect

import rawlive
from rawlive.capture.format import (
    Capture,
    CaptureWriter,
    read_capture,
    redaction_marker,
)
from rawlive.capture.replay import (
    LIVE_PATH,
    MISMATCH_CLOSE_CODE,
    BackgroundReplayServer,
    Pace,
    ReplayServer,
    client_frame_shape,
    replay_server,
)
from rawlive.errors import ConnectionClosedError, ReplayMismatchError, SetupRejectedError
from rawlive.protocol.codec import decode_client, decode_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MODEL = "gemini-2.0-flash-live-001"
SETUP_TEXT = (
    '{"setup":{"model":"models/gemini-2.0-flash-live-001",'
    '"generationConfig":{"responseModalities":["TEXT"]}}}'
)


# -- helpers --------------------------------------------------------------------------


@dataclass
class RecordedTurn:
    prompt: str
    text: str
    audio: bytes


def recorded_turns(capture: Capture) -> list[RecordedTurn]:
    """The prompts of a capture and what the server answered to each."""
    turns: list[RecordedTurn] = []
    for frame in capture.frames(conn=1):
        if frame.dir == "client":
            content = decode_client(frame.text).client_content
            if content is not None:
                prompt = "".join(t.text for t in content.turns or ())
                turns.append(RecordedTurn(prompt, "", b""))
        elif turns:
            message = decode_server(frame.text)
            turns[-1].text += message.text
            turns[-1].audio += message.audio
    return turns


def text_frame(text: str) -> str:
    return orjson.dumps(
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": text}]}],
                "turnComplete": True,
            }
        }
    ).decode()


def model_text(text: str) -> bytes:
    return orjson.dumps({"serverContent": {"modelTurn": {"parts": [{"text": text}]}}})


TURN_COMPLETE = b'{"serverContent":{"turnComplete":true}}'
SETUP_COMPLETE = b'{"setupComplete":{}}'


Script = Sequence[tuple[float, str, str | bytes]]


def write_capture(path: Path, conns: Sequence[Script]) -> Path:
    """Write a capture: per connection, (t, dir, payload) triples, then a client close."""
    with CaptureWriter(path, source="test_replay") as cw:
        for number, frames in enumerate(conns, start=1):
            cw.open_conn(number, "wss://example.invalid/ws", f"models/{MODEL}", t=0.0)
            last = 0.0
            for t, direction, payload in frames:
                if direction == "close":
                    assert isinstance(payload, str)
                    code, _, reason = payload.partition(" ")
                    if code == "dropped":
                        cw.close_conn(number, 1006, "", None, dropped=True, t=t)
                    else:
                        cw.close_conn(number, int(code), reason, "server", t=t)
                    break
                cw.frame(number, direction, payload, t=t)  # type: ignore[arg-type]
                last = t
            else:
                cw.close_conn(number, 1000, "", "client", t=last)
    return path


def simple_turn_capture(path: Path, prompt: str = "Hi", reply: str = "Hello!") -> Path:
    return write_capture(
        path,
        [
            [
                (0.0, "client", SETUP_TEXT),
                (0.01, "server", SETUP_COMPLETE),
                (0.02, "client", text_frame(prompt)),
                (0.03, "server", model_text(reply)),
                (0.04, "server", TURN_COMPLETE),
            ]
        ],
    )


def audio_frame(pcm: bytes, *, urlsafe: bool = False, snake: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    blob = {
        "mime_type" if snake else "mimeType": "audio/pcm;rate=16000",
        "data": encode(pcm).decode(),
    }
    return orjson.dumps({"realtime_input" if snake else "realtimeInput": {"audio": blob}}).decode()


# -- the seed fixtures through rawlive's own client -------------------------------------


SEEDS = {
    # fixture: (modalities, resumption, literal check on the last turn)
    "seed_text_session": (["TEXT"], None, "How can I help you today?"),
    "seed_resumable_session": (["TEXT"], True, "Brasília"),
    "seed_resumed_session": (
        ["TEXT"],
        "CihrNGZyMjh4dXY3cXFkYzVmMjR5cnlmZ2w5bnBvNTRhcmoxNW1lN2Fi",
        "What is the capital of Brazil?",
    ),
    "seed_audio_turns": (["AUDIO"], None, ""),
}


@pytest.mark.parametrize("name", sorted(SEEDS))
async def test_seed_fixtures_replay_to_rawlive(name: str) -> None:
    modalities, resumption, literal = SEEDS[name]
    capture = read_capture(FIXTURES / f"{name}.jsonl")
    expected = recorded_turns(capture)
    assert expected, "the fixture has turns"
    async with (
        ReplayServer(capture) as server,
        rawlive.connect(
            MODEL,
            response_modalities=modalities,
            session_resumption=resumption,
            endpoint=server.url,
            setup_timeout=5,
        ) as session,
    ):
        for turn in expected:
            await session.send_text(turn.prompt)
            got = await session.receive_turn(timeout=5)
            assert got.text == turn.text
            assert got.audio == turn.audio
        assert literal in got.text
    server.raise_for_mismatch()
    if name == "seed_audio_turns":
        assert len(expected) == 3
        assert all(len(t.audio) == 10 * 1920 for t in expected)


async def test_resumable_session_gives_usage_and_final_handle() -> None:
    async with (
        replay_server(FIXTURES / "seed_resumable_session.jsonl") as server,
        rawlive.connect(
            MODEL, response_modalities=["TEXT"], session_resumption=True, endpoint=server.url
        ) as session,
    ):
        await session.send_text("Hello")
        await session.receive_turn(timeout=5)
        await session.send_text("What is the capital of Brazil?")
        await session.receive_turn(timeout=5)
        last = await asyncio.wait_for(session.receive(), 5)
        assert isinstance(last, rawlive.ServerMessage)
        assert last.session_resumption_update is not None
        assert session.handle == "CihrNGZyMjh4dXY3cXFkYzVmMjR5cnlmZ2w5bnBvNTRhcmoxNW1lN2Fi"
        assert session.usage.total_tokens == 20 + 47
    assert server.mismatches == []


# -- matching by shape ----------------------------------------------------------------


async def test_snake_case_and_urlsafe_base64_frames_match(tmp_path: Path) -> None:
    pcm = bytes([0xFB, 0xFF, 0xFE, 0xFF]) * 8  # base64 has '+' and '/', URL-safe '-' and '_'
    assert "-" in base64.urlsafe_b64encode(pcm).decode()
    path = write_capture(
        tmp_path / "c.jsonl",
        [
            [
                (0.0, "client", SETUP_TEXT),
                (0.01, "server", SETUP_COMPLETE),
                (0.02, "client", text_frame("Hi")),
                (0.03, "server", model_text("Hello!")),
                (0.04, "server", TURN_COMPLETE),
                (0.05, "client", audio_frame(pcm)),
                (0.06, "client", '{"realtimeInput":{"audioStreamEnd":true}}'),
                (0.07, "server", model_text("heard")),
                (0.08, "server", TURN_COMPLETE),
            ]
        ],
    )
    async with ReplayServer(path) as server, websockets.connect(server.url) as ws:
        await ws.send(
            '{"setup": {"model": "gemini-2.0-flash-live-001", '
            '"generation_config": {"response_modalities": ["text"]}}}'
        )
        assert orjson.loads(await ws.recv()) == {"setupComplete": {}}
        await ws.send(
            '{"client_content": {"turns": [{"role": "user", "parts": [{"text": "Hi"}]}],'
            ' "turn_complete": true}}'
        )
        assert orjson.loads(await ws.recv())["serverContent"]["modelTurn"]["parts"][0] == {
            "text": "Hello!"
        }
        await ws.recv()
        await ws.send(audio_frame(pcm, urlsafe=True, snake=True))
        await ws.send('{"realtime_input": {"audio_stream_end": true}}')
        assert b"heard" in await ws.recv()
    server.raise_for_mismatch()


def test_shape_ignores_what_may_differ() -> None:
    camel = client_frame_shape(
        '{"setup":{"model":"models/m","generationConfig":{"responseModalities":["AUDIO"]},'
        '"sessionResumption":{"handle":"abc"}}}'
    )
    snake = client_frame_shape(
        b'{"setup":{"model":"m","session_resumption":{"handle":"other"},"tools":[]}}'
    )
    assert camel == snake  # bare model id, default AUDIO, different handle, extra config
    no_handle = client_frame_shape('{"setup":{"model":"m","sessionResumption":{}}}')
    assert no_handle != camel
    assert "handle" in camel.description and "handle" not in no_handle.description

    tools_a = client_frame_shape(
        '{"toolResponse":{"functionResponses":[{"id":"a","name":"f","response":{}},'
        '{"id":"b","name":"g","response":{"output":1}}]}}'
    )
    tools_b = client_frame_shape(
        '{"tool_response":{"function_responses":[{"id":"b","name":"g","response":{}},'
        '{"id":"a","name":"f","response":{"output":2}}]}}'
    )
    assert tools_a == tools_b
    assert tools_a != client_frame_shape(
        '{"toolResponse":{"functionResponses":[{"id":"c","name":"f","response":{}}]}}'
    )
    assert client_frame_shape(text_frame("a")) != client_frame_shape(text_frame("b"))
    assert client_frame_shape('{"realtimeInput":{"text":"a"}}') != client_frame_shape(
        '{"realtimeInput":{"text":"b"}}'
    )
    assert client_frame_shape(audio_frame(b"\x00\x01")).audio
    assert not client_frame_shape('{"realtimeInput":{"audioStreamEnd":true}}').audio
    assert not client_frame_shape("not json").audio


def audio_run_capture(path: Path) -> Path:
    """Four recorded audio chunks with a transcription in the middle, then the answer."""
    chunk = bytes(640)
    return write_capture(
        path,
        [
            [
                (0.0, "client", SETUP_TEXT),
                (0.01, "server", SETUP_COMPLETE),
                (0.02, "client", audio_frame(chunk)),
                (0.04, "client", audio_frame(chunk)),
                (0.05, "server", b'{"serverContent":{"inputTranscription":{"text":"hi"}}}'),
                (0.06, "client", audio_frame(chunk)),
                (0.08, "client", audio_frame(chunk)),
                (0.09, "client", '{"realtimeInput":{"audioStreamEnd":true}}'),
                (0.10, "server", model_text("Hello from the run")),
                (0.11, "server", TURN_COMPLETE),
                (0.12, "client", text_frame("bye")),
                (0.13, "server", model_text("Bye!")),
                (0.14, "server", TURN_COMPLETE),
            ]
        ],
    )


@pytest.mark.parametrize("chunks", [1, 3, 4, 11])
async def test_any_number_of_audio_chunks_matches_an_audio_run(tmp_path: Path, chunks: int) -> None:
    path = audio_run_capture(tmp_path / "run.jsonl")
    async with (
        ReplayServer(path) as server,
        rawlive.connect(MODEL, response_modalities=["TEXT"], endpoint=server.url) as session,
    ):
        for _ in range(chunks):
            await session.send_audio(bytes(320 * (1 + chunks % 3)))
        await session.send_audio_stream_end()
        turn = await session.receive_turn(timeout=5)
        assert turn.text == "Hello from the run"
        assert turn.input_transcript == "hi"
        await session.send_text("bye")
        assert (await session.receive_turn(timeout=5)).text == "Bye!"
    server.raise_for_mismatch()


async def test_audio_run_ends_at_a_frame_that_is_not_audio(tmp_path: Path) -> None:
    path = audio_run_capture(tmp_path / "run.jsonl")
    async with ReplayServer(path) as server:
        with pytest.raises(ConnectionClosedError) as info:
            async with rawlive.connect(
                MODEL, response_modalities=["TEXT"], endpoint=server.url
            ) as session:
                await session.send_audio(bytes(640))
                await session.send_text("bye")  # the capture has audioStreamEnd here
                await session.receive_turn(timeout=5)
    assert info.value.code == MISMATCH_CLOSE_CODE
    (mismatch,) = server.mismatches
    assert mismatch.expected == "realtimeInput.audioStreamEnd"
    assert mismatch.got == "clientContent('bye')"


# -- mismatches -----------------------------------------------------------------------


async def test_mismatch_closes_1007_and_is_reported() -> None:
    async with ReplayServer(FIXTURES / "seed_text_session.jsonl") as server:
        with pytest.raises(ConnectionClosedError) as info:
            async with rawlive.connect(
                MODEL, response_modalities=["TEXT"], endpoint=server.url
            ) as session:
                await session.send_text("Something else entirely")
                await session.receive_turn(timeout=5)
    error = info.value
    assert error.code == MISMATCH_CLOSE_CODE == 1007
    assert error.by_server is True
    assert error.reason.startswith("replay mismatch: expected clientContent(")
    assert "Something else entirely" in error.reason
    assert not error.retryable
    with pytest.raises(ReplayMismatchError) as raised:
        server.raise_for_mismatch()
    assert raised.value.expected == "clientContent('Hello? Gemini are you there?')"
    assert raised.value.got == "clientContent('Something else entirely')"
    assert "connection #1, client frame #2" in str(raised.value)
    assert "1 mismatch" in server.report()


async def test_setup_mismatch_rejects_the_setup() -> None:
    async with ReplayServer(FIXTURES / "seed_text_session.jsonl") as server:
        with pytest.raises(SetupRejectedError) as info:
            await rawlive.connect(MODEL, response_modalities=["AUDIO"], endpoint=server.url)
    assert info.value.code == 1007
    assert server.mismatches[0].expected.startswith("setup(model='models/gemini-2.0-flash-live")
    assert "modalities=AUDIO" in server.mismatches[0].got


async def test_long_multibyte_reason_is_cut_to_123_bytes(tmp_path: Path) -> None:
    path = simple_turn_capture(tmp_path / "c.jsonl", prompt="é" * 200)
    async with ReplayServer(path) as server:
        with pytest.raises(ConnectionClosedError) as info:
            async with rawlive.connect(
                MODEL, response_modalities=["TEXT"], endpoint=server.url
            ) as session:
                await session.send_text("ü" * 200)
                await session.receive_turn(timeout=5)
    reason = info.value.reason
    assert reason.startswith("replay mismatch: expected clientContent('éé")
    assert ", got clientContent('üü" in reason
    assert len(reason.encode("utf-8")) <= 123
    assert server.mismatches[0].got == "clientContent('" + "ü" * 200 + "')"  # not cut


async def test_frame_after_the_capture_ends_is_a_mismatch(tmp_path: Path) -> None:
    path = simple_turn_capture(tmp_path / "c.jsonl")
    async with ReplayServer(path) as server:
        with pytest.raises(ConnectionClosedError) as info:
            async with rawlive.connect(
                MODEL, response_modalities=["TEXT"], endpoint=server.url
            ) as session:
                await session.send_text("Hi")
                assert (await session.receive_turn(timeout=5)).text == "Hello!"
                await session.send_text("one more")
                await session.receive_turn(timeout=5)
    assert info.value.code == 1007
    assert server.mismatches[0].expected == "no more client frames"


async def test_capture_end_keeps_the_socket_open(tmp_path: Path) -> None:
    path = simple_turn_capture(tmp_path / "c.jsonl")
    async with ReplayServer(path) as server, websockets.connect(server.url) as ws:
        await ws.send(SETUP_TEXT)
        await ws.recv()
        await ws.send(text_frame("Hi"))
        await ws.recv()
        await ws.recv()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)
        assert ws.state is websockets.protocol.State.OPEN  # websockets.State: 14.2+
    assert server.mismatches == []


async def test_lenient_mode_reports_and_goes_on(tmp_path: Path) -> None:
    path = simple_turn_capture(tmp_path / "c.jsonl")
    async with (
        ReplayServer(path, strict=False) as server,
        rawlive.connect(MODEL, response_modalities=["TEXT"], endpoint=server.url) as session,
    ):
        await session.send_text("not what was recorded")
        assert (await session.receive_turn(timeout=5)).text == "Hello!"
    assert [m.got for m in server.mismatches] == ["clientContent('not what was recorded')"]


# -- connections, paths, closes -----------------------------------------------------------


async def test_connections_are_played_in_order_on_any_path(tmp_path: Path) -> None:
    first: Script = [
        (0.0, "client", SETUP_TEXT),
        (0.01, "server", SETUP_COMPLETE),
        (0.02, "client", text_frame("one")),
        (0.03, "server", model_text("first connection")),
        (0.04, "server", TURN_COMPLETE),
    ]
    second: Script = [
        (1.0, "client", SETUP_TEXT),
        (1.01, "server", SETUP_COMPLETE),
        (1.02, "client", text_frame("two")),
        (1.03, "server", model_text("second connection")),
        (1.04, "server", TURN_COMPLETE),
    ]
    path = write_capture(tmp_path / "two.jsonl", [first, second])
    async with ReplayServer(path) as server:
        assert server.url.endswith(LIVE_PATH)
        base = server.url.removesuffix(LIVE_PATH)
        for url, prompt, reply in (
            (f"{base}/{LIVE_PATH}", "one", "first connection"),  # the SDK's double slash
            (f"{base}/anything/else", "two", "second connection"),
        ):
            async with rawlive.connect(
                MODEL, response_modalities=["TEXT"], endpoint=url
            ) as session:
                await session.send_text(prompt)
                assert (await session.receive_turn(timeout=5)).text == reply
        with pytest.raises(SetupRejectedError) as info:
            await rawlive.connect(MODEL, response_modalities=["TEXT"], endpoint=server.url)
    assert info.value.code == 1007
    assert server.served == 3
    assert server.mismatches[0].expected == "at most 2 connection(s)"


async def test_goaway_then_1011_close_is_retryable() -> None:
    async with (
        ReplayServer(FIXTURES / "close_goaway.jsonl") as server,
        rawlive.connect(MODEL, response_modalities=["AUDIO"], endpoint=server.url) as session,
    ):
        message = await asyncio.wait_for(session.receive(), 5)
        assert isinstance(message, rawlive.ServerMessage)
        assert message.go_away is not None
        assert message.go_away.time_left_seconds == 50
        with pytest.raises(ConnectionClosedError) as info:
            await asyncio.wait_for(session.receive(), 5)
    error = info.value
    assert error.code == 1011
    assert error.reason == "Deadline expired before operation could complete."
    assert error.retryable is True
    assert error.by_server is True
    server.raise_for_mismatch()


async def test_dropped_close_is_seen_as_1006(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "drop.jsonl",
        [
            [
                (0.0, "client", SETUP_TEXT),
                (0.01, "server", SETUP_COMPLETE),
                (0.02, "client", text_frame("Hi")),
                (0.03, "server", model_text("Hel")),
                (0.04, "close", "dropped"),
            ]
        ],
    )
    assert read_capture(path).closes()[0].dropped
    async with (
        ReplayServer(path) as server,
        rawlive.connect(MODEL, response_modalities=["TEXT"], endpoint=server.url) as session,
    ):
        await session.send_text("Hi")
        with pytest.raises(ConnectionClosedError) as info:
            await session.receive_turn(timeout=5)
    assert info.value.code == 1006
    assert info.value.by_server is None
    assert info.value.partial_turn.text == "Hel"  # type: ignore[attr-defined]


async def test_pace_original_keeps_the_recorded_gaps(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "paced.jsonl",
        [
            [
                (0.0, "client", SETUP_TEXT),
                (0.0, "server", SETUP_COMPLETE),
                (1.0, "client", text_frame("Hi")),
                (1.0, "server", model_text("one")),
                (1.2, "server", model_text(" two")),
                (1.2, "server", TURN_COMPLETE),
            ]
        ],
    )
    took: dict[Pace, float] = {}
    for pace in ("original", "fast"):
        async with (
            ReplayServer(path, pace=pace) as server,
            rawlive.connect(MODEL, response_modalities=["TEXT"], endpoint=server.url) as session,
        ):
            started = time.monotonic()
            await session.send_text("Hi")
            turn = await session.receive_turn(timeout=5)
            elapsed = time.monotonic() - started
        assert turn.text == "one two"
        took[pace] = elapsed
    # A lower bound (a loaded machine is only slower) and an ordering, no upper bound.
    assert took["original"] >= 0.19, took
    assert took["fast"] < took["original"], took


async def test_redacted_audio_is_replayed_as_zero_pcm(tmp_path: Path) -> None:
    spoken = bytes(range(256)) * 15  # 3840 bytes that are not silence
    marker = redaction_marker(spoken)
    server_audio = orjson.dumps(
        {
            "serverContent": {
                "modelTurn": {
                    "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": marker}}]
                }
            }
        }
    )
    client_audio = orjson.dumps(
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": marker}}}
    ).decode()
    path = write_capture(
        tmp_path / "redacted.jsonl",
        [
            [
                (0.0, "client", SETUP_TEXT.replace("TEXT", "AUDIO")),
                (0.01, "server", SETUP_COMPLETE),
                (0.02, "client", client_audio),
                (0.03, "client", '{"realtimeInput":{"audioStreamEnd":true}}'),
                (0.04, "server", server_audio),
                (0.05, "server", TURN_COMPLETE),
            ]
        ],
    )
    assert marker in path.read_text()
    async with (
        ReplayServer(path) as server,
        rawlive.connect(MODEL, response_modalities=["AUDIO"], endpoint=server.url) as session,
    ):
        await session.send_audio(spoken)
        await session.send_audio_stream_end()
        turn = await session.receive_turn(timeout=5)
    assert turn.audio == bytes(len(spoken))
    server.raise_for_mismatch()


async def test_tls_replay_with_a_self_signed_certificate(tmp_path: Path) -> None:
    pytest.importorskip("cryptography", reason="the certificate helper needs cryptography")
    from rawlive.capture.tls import generate_self_signed_cert

    cert = generate_self_signed_cert(tmp_path / "tls")
    assert stat.S_IMODE(os.stat(cert.key_file).st_mode) == 0o600
    path = simple_turn_capture(tmp_path / "c.jsonl")
    async with ReplayServer(path, ssl_context=cert.server_context()) as server:
        assert server.url.startswith("wss://127.0.0.1:")
        assert server.base_url == f"https://127.0.0.1:{server.port}/"
        async with rawlive.connect(
            MODEL, response_modalities=["TEXT"], endpoint=server.url, ssl=cert.client_context()
        ) as session:
            await session.send_text("Hi")
            assert (await session.receive_turn(timeout=5)).text == "Hello!"
    server.raise_for_mismatch()


def test_background_server_serves_synchronous_clients(tmp_path: Path) -> None:
    path = simple_turn_capture(tmp_path / "c.jsonl")
    with BackgroundReplayServer(path) as replay, sync_connect(replay.url) as ws:
        ws.send(SETUP_TEXT)
        assert ws.recv() == SETUP_COMPLETE  # binary, exactly as recorded
        ws.send(text_frame("Hi"))
        assert ws.recv() == model_text("Hello!")
    assert replay.mismatches == ()
    replay.stop()  # idempotent


# -- record, then replay ----------------------------------------------------------------


async def test_record_against_the_fake_server_then_replay(tmp_path: Path) -> None:
    from rawlive.testing import FakeLiveServer

    path = tmp_path / "recorded.jsonl"
    async with (
        FakeLiveServer() as fake,
        rawlive.connect(
            "rawlive-demo",
            response_modalities=["TEXT"],
            session_resumption=True,
            endpoint=fake.url,
            api_key="secret-key-123",
            record=path,
        ) as session,
    ):
        await session.send_text("Hello? Gemini are you there?")
        live = await session.receive_turn(timeout=5)
    assert live.text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "secret-key-123" not in path.read_text()
    capture = read_capture(path)
    assert [f.dir for f in capture.frames()][:2] == ["client", "server"]

    async with (
        ReplayServer(path) as server,
        rawlive.connect(
            "rawlive-demo",
            response_modalities=["TEXT"],
            session_resumption=True,
            endpoint=server.url,
            api_key="secret-key-123",
        ) as session,
    ):
        await session.send_text("Hello? Gemini are you there?")
        replayed = await session.receive_turn(timeout=5)
    assert replayed.text == live.text
    assert replayed.usage == live.usage
    server.raise_for_mismatch()
    server_frames = [f.payload for f in capture.frames(dir="server")]
    assert all(isinstance(p, bytes) for p in server_frames)


# -- the server's own recording, and the CLI entry point -----------------------------------


async def test_server_records_what_really_crossed_the_wire(tmp_path: Path) -> None:
    path = simple_turn_capture(tmp_path / "c.jsonl")
    recorded = tmp_path / "served.jsonl"
    async with ReplayServer(path, record=recorded) as server:
        async with rawlive.connect(
            MODEL,
            response_modalities=["TEXT"],
            endpoint=f"{server.url}?key=secret-key-123",
            api_key="secret-key-123",
        ) as session:
            await session.send_text("Hi")
            await session.receive_turn(timeout=5)
        with pytest.raises(ConnectionClosedError):  # an extra connection is recorded too
            await rawlive.connect(MODEL, response_modalities=["TEXT"], endpoint=server.url)
    assert stat.S_IMODE(os.stat(recorded).st_mode) == 0o600
    assert "secret-key-123" not in recorded.read_text()
    capture = read_capture(recorded)
    first, second = capture.opens()
    assert first.endpoint.endswith(f"{LIVE_PATH}?key=REDACTED")
    assert first.model == second.model == f"models/{MODEL}"
    assert [f.dir for f in capture.frames(conn=1)] == [
        "client",
        "server",
        "client",
        "server",
        "server",
    ]
    assert capture.frames(conn=1)[3].payload == model_text("Hello!")
    closes = capture.closes()
    assert (closes[0].by, closes[0].code) == ("client", 1000)
    assert (closes[1].by, closes[1].code) == ("server", 1007)


def test_bad_pace_is_a_configuration_error() -> None:
    with pytest.raises(rawlive.ConfigurationError, match="pace"):
        ReplayServer(FIXTURES / "seed_text_session.jsonl", pace="slow")  # type: ignore[arg-type]


async def test_serve_capture_forever_wraps_around(tmp_path: Path) -> None:
    pytest.importorskip("cryptography", reason="the certificate helper needs cryptography")
    from rawlive.capture.replay import serve_capture_forever
    from rawlive.capture.tls import generate_self_signed_cert

    cert = generate_self_signed_cert(tmp_path / "tls")
    path = simple_turn_capture(tmp_path / "c.jsonl")
    ready: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(
        serve_capture_forever(
            path, tls_cert=cert.cert_file, tls_key=cert.key_file, on_ready=ready.put_nowait
        )
    )
    try:
        url = await asyncio.wait_for(ready.get(), 5)
        assert url.startswith("wss://127.0.0.1:")
        for _ in range(2):  # the second client gets connection 1 again
            async with rawlive.connect(
                MODEL, response_modalities=["TEXT"], endpoint=url, ssl=cert.client_context()
            ) as session:
                await session.send_text("Hi")
                assert (await session.receive_turn(timeout=5)).text == "Hello!"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    with pytest.raises(rawlive.ConfigurationError, match="both"):
        await serve_capture_forever(path, tls_cert=cert.cert_file)


async def test_closing_the_server_interrupts_a_long_recorded_gap(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "slow.jsonl",
        [[(0.0, "client", SETUP_TEXT), (600.0, "server", SETUP_COMPLETE)]],
    )
    server = await ReplayServer(path, pace="original").start()
    async with websockets.connect(server.url) as ws:
        await ws.send(SETUP_TEXT)
        await asyncio.wait_for(server.close(), 5)  # not the recorded 600 s
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1001
    assert server.mismatches == []
