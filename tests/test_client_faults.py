"""The client against servers that misbehave: every fault gets a clear error."""

from __future__ import annotations

import asyncio
import base64
import logging
import wave
from pathlib import Path
from typing import Any

import orjson
import pytest

import rawlive
from rawlive import (
    ConcurrentReadError,
    ConnectionClosedError,
    LintError,
    RemoteProtocolError,
    SetupRejectedError,
    SetupTimeoutError,
)

KEY = "AIzaSy-SECRET-KEY-never-shown-42"
SETUP_COMPLETE = b'{"setupComplete":{}}'


def audio_frame(pcm: bytes) -> bytes:
    data = base64.b64encode(pcm).decode()
    return orjson.dumps(
        {
            "serverContent": {
                "modelTurn": {
                    "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}]
                }
            }
        }
    )


async def test_setup_complete_and_text_frames(scripted_server: Any, tmp_path: Path) -> None:
    seen: list[Any] = []

    async def handler(ws: Any) -> None:
        seen.append(orjson.loads(await ws.recv()))
        await ws.send(SETUP_COMPLETE.decode())  # a TEXT frame: must work too
        seen.append(orjson.loads(await ws.recv()))
        await ws.send('{"serverContent":{"modelTurn":{"parts":[{"text":"hi"}]}}}')
        await ws.send('{"serverContent":{"turnComplete":true}}')
        await ws.wait_closed()

    async with scripted_server(handler) as url:
        async with rawlive.connect("m", endpoint=url, response_modalities=["TEXT"]) as session:
            await session.send_text("Hello")
            turn = await session.receive_turn()
    assert turn.text == "hi" and turn.turn_complete
    assert seen[0] == {
        "setup": {"model": "models/m", "generationConfig": {"responseModalities": ["TEXT"]}}
    }
    assert seen[1] == {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": "Hello"}]}],
            "turnComplete": True,
        }
    }


async def test_api_key_goes_in_header_never_url_logs_or_errors(
    scripted_server: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers: dict[str, str] = {}

    async def handler(ws: Any) -> None:
        headers.update(ws.request.headers)
        headers["path"] = ws.request.path
        await ws.recv()
        await ws.close(1007, f"API key {KEY} expired. Please renew the API key.")

    caplog.set_level(logging.DEBUG)
    async with scripted_server(handler) as url:
        with pytest.raises(SetupRejectedError) as info:
            async with rawlive.connect("m", endpoint=url, api_key=KEY):
                pass
    assert headers["x-goog-api-key"] == KEY
    assert KEY not in headers["path"]
    error = info.value
    assert error.code == 1007
    assert KEY not in str(error) and KEY not in error.reason and "REDACTED" in error.reason
    assert "renew the api key" in str(error).lower()
    # (the test's own server logs the header it received; only the client's logs count)
    client_logs = "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(("websockets.client", "rawlive"))
    )
    assert KEY not in client_logs
    assert "x-goog-api-key: REDACTED" in client_logs  # the header was logged, redacted
    assert KEY not in repr(rawlive.connect("m", endpoint=url, api_key=KEY))


async def test_close_during_setup_is_setup_rejected(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.close(
            1008,
            "models/gemini-live-2.5-flash-preview is not found for API version v1alpha, or is not supported for bidiGenerateContent",
        )

    async with scripted_server(handler) as url:
        with pytest.raises(SetupRejectedError) as info:
            await rawlive.connect("gemini-live-2.5-flash-preview", endpoint=url)
    assert info.value.code == 1008
    assert info.value.retryable is False
    assert "model not served" in str(info.value)


async def test_setup_timeout(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()  # the setup, never answered
        await ws.wait_closed()  # until the client gives up and closes

    async with scripted_server(handler) as url:
        with pytest.raises(SetupTimeoutError, match="no setupComplete within 0.2 s"):
            await rawlive.connect("m", endpoint=url, setup_timeout=0.2)


async def test_malformed_server_frame_is_a_remote_protocol_error(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.send(
            b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "AAEAA"}}]}}}'
        )
        await ws.send(b"{oops")
        await ws.wait_closed()

    async with scripted_server(handler) as url, rawlive.connect("m", endpoint=url) as session:
        with pytest.raises(RemoteProtocolError) as info:
            await session.receive()
        assert info.value.path == "serverContent.modelTurn.parts[0].inlineData.data"
        assert b"AAEAA" in info.value.frame  # type: ignore[operator]
        with pytest.raises(RemoteProtocolError, match="not valid JSON"):
            await session.receive()


async def test_close_mid_turn_keeps_a_readable_partial_wav(
    scripted_server: Any, tmp_path: Path
) -> None:
    chunk = bytes(range(256)) * 15  # 3840 bytes = 80 ms

    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.recv()
        for _ in range(5):
            await ws.send(audio_frame(chunk))
        await ws.close(1011, "Internal error encountered.")

    out = tmp_path / "partial.wav"
    async with scripted_server(handler) as url, rawlive.connect("m", endpoint=url) as session:
        await session.send_text("tell me a story")
        with pytest.raises(ConnectionClosedError) as info:
            await session.receive_turn(wav=out)
    error = info.value
    assert (error.code, error.reason, error.retryable, error.by_server) == (
        1011,
        "Internal error encountered.",
        True,
        True,
    )
    partial = error.partial_turn  # type: ignore[attr-defined]
    assert partial.audio_bytes == 5 * len(chunk) and not partial.turn_complete
    with wave.open(str(out), "rb") as w:
        assert w.getframerate() == 24000
        assert w.readframes(w.getnframes()) == chunk * 5


async def test_dropped_connection_is_1006_and_retryable(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.recv()
        await ws.send(audio_frame(b"\x00\x00" * 960))
        ws.transport.abort()

    async with scripted_server(handler) as url, rawlive.connect("m", endpoint=url) as session:
        await session.send_text("hi")
        with pytest.raises(ConnectionClosedError) as info:
            async for _ in session:
                pass
    assert info.value.code == 1006
    assert info.value.retryable and info.value.by_server is None
    assert "dropped" in str(info.value)


async def test_reason_cut_at_123_bytes_is_shown_as_cut(scripted_server: Any) -> None:
    reason = (
        "Request trace id: 21d399562688c813, [ORIGINAL ERROR] extensible_stubs::"
        "OVERLOADED_TOO_MANY_RETRIES_PER_REQUEST: You are mos"
    )

    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.close(1011, reason)

    async with scripted_server(handler) as url, rawlive.connect("m", endpoint=url) as session:
        with pytest.raises(ConnectionClosedError) as info:
            await session.receive()
    assert info.value.truncated
    assert "cut at 123 bytes" in str(info.value)
    assert "overloaded" in str(info.value)


async def test_second_concurrent_reader_gets_a_clear_error(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.wait_closed()

    async with scripted_server(handler) as url, rawlive.connect("m", endpoint=url) as session:
        first = asyncio.ensure_future(session.receive())
        await asyncio.sleep(0.05)
        with pytest.raises(ConcurrentReadError):
            await session.receive_turn()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first


async def test_tool_handler_answers_with_echoed_ids(scripted_server: Any) -> None:
    responses: list[Any] = []

    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.recv()
        await ws.send(
            b'{"toolCall":{"functionCalls":[{"name":"turn_on_the_lights","args":{},'
            b'"id":"function-call-12001301744900464704"}]}}'
        )
        responses.append(orjson.loads(await ws.recv()))
        await ws.send(
            b'{"serverContent":{"modelTurn":{"parts":[{"text":"OK. The lights are now on."}]}}}'
        )
        await ws.send(b'{"serverContent":{"turnComplete":true}}')
        await ws.wait_closed()

    calls: list[str] = []

    def lights(call: rawlive.FunctionCall) -> dict[str, Any]:
        calls.append(call.name or "")
        return {"result": {"string_value": "ok"}}

    async with scripted_server(handler) as url:
        async with rawlive.connect("m", endpoint=url, tool_handler=lights) as session:
            await session.send_text("Turn on the lights")
            turn = await session.receive_turn()
    assert calls == ["turn_on_the_lights"]
    assert turn.tool_calls[0].id == "function-call-12001301744900464704"
    assert turn.text == "OK. The lights are now on."
    assert responses == [
        {
            "toolResponse": {
                "functionResponses": [
                    {
                        "id": "function-call-12001301744900464704",
                        "name": "turn_on_the_lights",
                        "response": {"result": {"string_value": "ok"}},
                    }
                ]
            }
        }
    ]


async def test_lint_refuses_frames_the_service_would_reject(scripted_server: Any) -> None:
    sent: list[bytes] = []

    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        async for frame in ws:
            sent.append(frame)

    async with scripted_server(handler) as url, rawlive.connect("m", endpoint=url) as session:
        with pytest.raises(LintError) as info:
            await session.send(
                {"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm", "data": "AAAA"}]}}
            )
        assert info.value.rule == "media-chunks"
        with pytest.raises(LintError) as info:
            await session.send_activity_start()  # automatic VAD is on
        assert info.value.rule == "activity-with-vad"
        with pytest.raises(LintError) as info:
            await session.send_tool_response(
                rawlive.FunctionResponse(id="nope", name="f", response={})
            )
        assert info.value.rule == "tool-response-id"
        with pytest.raises(LintError) as info:
            await session.send(
                {"clientContent": {"turnComplete": True}, "realtimeInput": {"text": "x"}}
            )
        assert info.value.rule == "one-key"
        with pytest.raises(LintError) as info:
            await session.send(rawlive.Setup(model="models/m"))
        assert info.value.rule == "second-setup"
        await session.send_realtime_text("fine")
        await asyncio.sleep(0.05)
    assert sent == [b'{"realtimeInput":{"text":"fine"}}'] or sent == [
        '{"realtimeInput":{"text":"fine"}}'
    ]


async def test_ephemeral_token_on_a_plain_endpoint_is_refused() -> None:
    with pytest.raises(LintError) as info:
        rawlive.connect("m", endpoint="wss://example.com/ws", api_key="auth_tokens/abc")
    assert info.value.rule == "ephemeral-endpoint"


def test_missing_key_without_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(rawlive.MissingAPIKeyError, match="GEMINI_API_KEY"):
        rawlive.connect("m", env_file=tmp_path / "absent.env")


async def test_streaming_a_long_reply_to_wav_keeps_memory_flat(
    scripted_server: Any, tmp_path: Path
) -> None:
    import tracemalloc

    chunk = audio_frame(b"\x01\x02" * 960)  # 40 ms

    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.recv()
        for _ in range(1500):  # 60 s of audio, 2.9 MB of PCM
            await ws.send(chunk)
        await ws.send(b'{"serverContent":{"turnComplete":true}}')
        await ws.wait_closed()

    out = tmp_path / "long.wav"
    async with scripted_server(handler) as url:
        async with rawlive.connect("m", endpoint=url) as session:
            await session.send_text("a long story")
            tracemalloc.start()
            turn = await session.receive_turn(wav=out)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    assert turn.audio_bytes == 1500 * 1920 and turn.messages == ()
    assert peak < 1_000_000, f"peak {peak} bytes while streaming 2.9 MB to a WAV"
    with wave.open(str(out), "rb") as w:
        assert w.getnframes() == 1500 * 960


# ------------------------------------------------------- error classes


async def test_a_second_setup_complete_is_a_remote_protocol_error(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        await ws.send(SETUP_COMPLETE)
        await ws.send(b'{"serverContent":{"turnComplete":true}}')
        await ws.wait_closed()

    async with scripted_server(handler) as url, rawlive.connect("m", endpoint=url) as session:
        with pytest.raises(RemoteProtocolError, match="setupComplete out of order"):
            await session.receive()
        after = await session.receive()  # the session goes on
    assert after.server_content is not None and after.server_content.turn_complete


async def test_our_own_1007_on_invalid_utf8_says_the_server_sent_it(scripted_server: Any) -> None:
    async def handler(ws: Any) -> None:
        await ws.recv()
        await ws.send(SETUP_COMPLETE)
        # A text frame whose payload is not UTF-8, written below websockets' checks.
        ws.protocol.send_text(b'{"serverContent":{"x":"\xff"}}')
        ws.send_data()
        await ws.wait_closed()

    async with scripted_server(handler) as url, rawlive.connect("m", endpoint=url) as session:
        with pytest.raises(ConnectionClosedError) as info:
            await session.receive()
    error = info.value
    assert error.code == 1007 and error.by_server is False
    assert "rawlive closed the connection with 1007" in str(error)
    assert "not valid UTF-8" in error.explanation and "your messages were not at fault" in str(
        error
    )


@pytest.mark.parametrize("code", [1000, 1008])
async def test_a_close_right_after_the_handshake_is_a_rawlive_error(
    scripted_server: Any, code: int
) -> None:
    async def handler(ws: Any) -> None:
        await ws.close(code, "go away")

    async with scripted_server(handler) as url:
        for _ in range(10):  # the race between our setup send and their close
            with pytest.raises(ConnectionClosedError) as info:
                await rawlive.connect("m", endpoint=url)
            assert info.value.code in (code, 1006)
