"""Tests for rawlive.testing: real WebSocket frames over loopback, no mocks."""

from __future__ import annotations

import array
import asyncio
import base64
import datetime
import ipaddress
import json
import logging
import math
import re
import ssl
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rawlive.protocol.messages import Content, FunctionDeclaration, Part
from rawlive.testing import (
    API_KEY_INVALID,
    DEADLINE_EXPIRED,
    INTERNAL_ERROR,
    INVALID_ARGUMENT,
    MEDIA_CHUNKS_DEPRECATED,
    SESSION_NOT_FOUND,
    FakeLiveServer,
    FakeModel,
    fake_server,
    split_text,
)

MODEL = "models/gemini-2.0-flash-live-001"
TEXT_SETUP: dict[str, Any] = {"model": MODEL, "generationConfig": {"responseModalities": ["TEXT"]}}
ARE_YOU_THERE = "Hello? Gemini are you there?"
YES_I_AM_HERE = "Yes, I am here! How can I help you today?"

Frame = dict[str, Any]


# ------------------------------------------------------------------ helpers


@pytest.fixture
async def server() -> AsyncIterator[FakeLiveServer]:
    async with FakeLiveServer(seed=7) as srv:
        yield srv


async def recv(ws: ClientConnection) -> Frame:
    """Receive one frame; the service sends binary frames of one JSON object."""
    frame = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(frame, bytes), f"text frame from the fake server: {frame!r}"
    value = json.loads(frame)
    assert isinstance(value, dict)
    return value


async def open_session(
    server: FakeLiveServer, setup: Frame, **connect_kwargs: Any
) -> ClientConnection:
    ws = await connect(server.url, **connect_kwargs)
    await ws.send(json.dumps({"setup": setup}))
    assert await recv(ws) == {"setupComplete": {}}
    return ws


def user_turn(text: str) -> str:
    return json.dumps(
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": text}]}],
                "turnComplete": True,
            }
        }
    )


async def read_turn(ws: ClientConnection, *, resumable: bool = False) -> list[Frame]:
    """Frames up to the turnComplete frame, plus the handle frame that follows with resumption."""
    frames: list[Frame] = []
    while True:
        frame = await recv(ws)
        frames.append(frame)
        if frame.get("serverContent", {}).get("turnComplete"):
            break
    if resumable:
        frames.append(await recv(ws))
    return frames


def model_text(frames: Sequence[Frame]) -> str:
    return "".join(
        part.get("text", "")
        for f in frames
        for part in f.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    )


def audio_bytes(frames: Sequence[Frame]) -> list[bytes]:
    chunks = []
    for f in frames:
        for part in f.get("serverContent", {}).get("modelTurn", {}).get("parts", []):
            blob = part["inlineData"]
            assert blob["mimeType"] == "audio/pcm;rate=24000"
            assert re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", blob["data"]), "not standard base64"
            chunks.append(base64.b64decode(blob["data"], validate=True))
    return chunks


def transcript(frames: Sequence[Frame], key: str) -> str:
    return "".join(
        f["serverContent"][key]["text"] for f in frames if key in f.get("serverContent", {})
    )


async def close_of(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes; return its close code and reason."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    # ws.protocol: ClientConnection.close_code only exists since websockets 14.1.
    return ws.protocol.close_code, ws.protocol.close_reason


def sine_pcm(seconds: float, rate: int = 16000, freq: float = 300.0) -> bytes:
    n = round(seconds * rate)
    return array.array(
        "h", (int(8000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    ).tobytes()


def audio_frames(pcm: bytes, chunk_bytes: int = 1600) -> list[str]:
    return [
        json.dumps(
            {
                "realtimeInput": {
                    "audio": {
                        "mimeType": "audio/pcm;rate=16000",
                        "data": base64.b64encode(pcm[i : i + chunk_bytes]).decode(),
                    }
                }
            }
        )
        for i in range(0, len(pcm), chunk_bytes)
    ]


# ---------------------------------------------------------------- basics


async def test_setup_complete_is_binary_and_snake_case_frames_work(server: FakeLiveServer) -> None:
    async with connect(server.url) as ws:
        await ws.send(
            json.dumps(
                {"setup": {"model": MODEL, "generation_config": {"response_modalities": ["TEXT"]}}}
            )
        )
        raw = await ws.recv()
        assert raw == b'{"setupComplete":{}}'
        await ws.send(
            json.dumps(
                {
                    "client_content": {
                        "turns": [{"role": "user", "parts": [{"text": "Hello"}]}],
                        "turn_complete": True,
                    }
                }
            )
        )
        frames = await read_turn(ws)
    assert model_text(frames) == "Hello there! How can I help you today?"
    assert server.connections[0].path.endswith("GenerativeService.BidiGenerateContent")
    assert server.received_count("client_content") == 1
    assert server.received_count("clientContent.turns") == 1


async def test_text_flow_order_and_usage(server: FakeLiveServer) -> None:
    async with await open_session(server, TEXT_SETUP) as ws:
        await ws.send(user_turn(ARE_YOU_THERE))
        first = await read_turn(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "Can you tell me a joke?"}}))
        second = await read_turn(ws)

    pieces = [f["serverContent"]["modelTurn"]["parts"][0]["text"] for f in first[:-2]]
    assert len(pieces) >= 2
    assert "".join(pieces) == YES_I_AM_HERE
    assert first[-2] == {"serverContent": {"generationComplete": True}}
    last = first[-1]
    assert set(last) == {"serverContent", "usageMetadata"}
    assert last["serverContent"] == {"turnComplete": True}
    usage = last["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["responseTokenCount"]
    assert usage["responseTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": usage["responseTokenCount"]}
    ]
    assert usage["promptTokensDetails"][0]["modality"] == "TEXT"
    # The prompt is the whole context, so it grows every turn.
    assert second[-1]["usageMetadata"]["promptTokenCount"] > usage["totalTokenCount"]
    assert "atoms" in model_text(second)


async def test_audio_flow_pcm_chunks_and_transcription(server: FakeLiveServer) -> None:
    setup = {"model": MODEL, "outputAudioTranscription": {}}  # AUDIO is the default modality
    async with await open_session(server, setup) as ws:
        await ws.send(user_turn(ARE_YOU_THERE))
        frames = await read_turn(ws)

    chunks = audio_bytes(frames)
    assert all(len(c) % 2 == 0 for c in chunks)
    assert all(len(c) == 1920 for c in chunks[:-1])  # 40 ms at 24 kHz, 16-bit
    pcm = b"".join(chunks)
    expected_ms = FakeModel().speech_ms(YES_I_AM_HERE)
    assert len(pcm) == expected_ms * 24 * 2
    samples = array.array("h", pcm)
    assert max(samples) > 1000, "speech-like audio, not silence"
    assert transcript(frames, "outputTranscription") == YES_I_AM_HERE
    assert frames[-2] == {"serverContent": {"generationComplete": True}}
    usage = frames[-1]["usageMetadata"]
    assert usage["responseTokensDetails"][0]["modality"] == "AUDIO"
    assert usage["responseTokenCount"] == math.ceil(expected_ms / 1000 * 25)


@pytest.mark.parametrize("end", ["audioStreamEnd", "activityEnd", "silence"])
async def test_realtime_audio_turn(end: str) -> None:
    setup: Frame = {**TEXT_SETUP, "inputAudioTranscription": {}}
    if end == "activityEnd":
        setup["realtimeInputConfig"] = {"automaticActivityDetection": {"disabled": True}}
    async with FakeLiveServer(vad_silence=0.1) as server:
        async with await open_session(server, setup) as ws:
            if end == "activityEnd":
                await ws.send(json.dumps({"realtimeInput": {"activityStart": {}}}))
            for frame in audio_frames(sine_pcm(1.2)):
                await ws.send(frame)
            if end == "audioStreamEnd":
                await ws.send(json.dumps({"realtimeInput": {"audioStreamEnd": True}}))
            elif end == "activityEnd":
                await ws.send(json.dumps({"realtimeInput": {"activityEnd": {}}}))
            frames = await read_turn(ws)
    assert transcript(frames, "inputTranscription") == "(1.2 s of audio)"
    assert model_text(frames) == 'You said: "(1.2 s of audio)".'
    details = frames[-1]["usageMetadata"]["promptTokensDetails"]
    assert {"modality": "AUDIO", "tokenCount": 30} in details
    assert server.received_count("realtimeInput.audio") == 24


# -------------------------------------------------------------- resumption


async def test_resumption_restores_history(server: FakeLiveServer) -> None:
    setup = {**TEXT_SETUP, "sessionResumption": {}}
    handle: str | None = None
    async with await open_session(server, setup) as ws:
        for text in ("Hello", "What is the capital of Brazil?"):
            await ws.send(user_turn(text))
            frames = await read_turn(ws, resumable=True)
            assert frames[0] == {"sessionResumptionUpdate": {}}
            update = frames[-1]["sessionResumptionUpdate"]
            assert update["resumable"] is True
            assert update["newHandle"] != handle
            assert re.fullmatch(r"[A-Za-z0-9_-]+", update["newHandle"])
            handle = update["newHandle"]
        assert model_text(frames) == "The capital of Brazil is **Brasília**."
        first_prompt = frames[-2]["usageMetadata"]["promptTokenCount"]

    assert handle is not None
    resumed = {**TEXT_SETUP, "sessionResumption": {"handle": handle}}
    async with await open_session(server, resumed) as ws:
        await ws.send(user_turn("what was the last question I asked?"))
        frames = await read_turn(ws, resumable=True)
    assert model_text(frames) == 'The last question you asked was: "What is the capital of Brazil?"'
    assert frames[-2]["usageMetadata"]["promptTokenCount"] > first_prompt
    assert server.connections[1].resumed_from == handle
    assert [c.text for c in server.histories[handle]] == [
        "Hello",
        "Hello there! How can I help you today?",
        "What is the capital of Brazil?",
        "The capital of Brazil is **Brasília**.",
    ]


async def test_unknown_handle_closes_1008(server: FakeLiveServer) -> None:
    async with connect(server.url) as ws:
        await ws.send(
            json.dumps({"setup": {**TEXT_SETUP, "sessionResumption": {"handle": "Cgxub3Bl"}}})
        )
        assert await close_of(ws) == (1008, SESSION_NOT_FOUND)


# ------------------------------------------------------------ error closes


@pytest.mark.parametrize(
    ("frames", "code", "reason"),
    [
        pytest.param([user_turn("Hello")], 1007, INVALID_ARGUMENT, id="message-before-setup"),
        pytest.param([json.dumps({"setup": {}})], 1011, INTERNAL_ERROR, id="setup-without-model"),
        pytest.param(["{not json"], 1007, INVALID_ARGUMENT, id="malformed-json"),
        pytest.param([json.dumps({"bogus": {}})], 1007, INVALID_ARGUMENT, id="unknown-key"),
        pytest.param(
            [json.dumps({"setup": TEXT_SETUP}), json.dumps({"setup": TEXT_SETUP})],
            1007,
            INVALID_ARGUMENT,
            id="second-setup",
        ),
        pytest.param(
            [
                json.dumps({"setup": TEXT_SETUP}),
                json.dumps(
                    {"clientContent": {"turnComplete": True}, "realtimeInput": {"text": "x"}}
                ),
            ],
            1007,
            INVALID_ARGUMENT,
            id="two-top-level-keys",
        ),
        pytest.param(
            [
                json.dumps({"setup": TEXT_SETUP}),
                json.dumps(
                    {"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm", "data": "AAA="}]}}
                ),
            ],
            1007,
            MEDIA_CHUNKS_DEPRECATED,
            id="media-chunks",
        ),
    ],
)
async def test_error_closes(
    server: FakeLiveServer, frames: list[str], code: int, reason: str
) -> None:
    async with connect(server.url) as ws:
        for frame in frames:
            await ws.send(frame)
        assert await close_of(ws) == (code, reason)
    await server.wait_idle()
    record = server.connections[0]
    assert (record.close_code, record.close_reason, record.closed_by) == (code, reason, "server")


KEY = "AIzaSy-fake-test-key-0123456789"
WRONG = "AIzaSy-wrong-key-9876543210"


async def test_bad_api_key_closes_1008_without_leaking(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rawlive.testing")
    async with FakeLiveServer(api_key=KEY) as server:
        attempts: list[dict[str, Any]] = [
            {"additional_headers": {"x-goog-api-key": WRONG}},
            {"uri": f"{server.url}?key={WRONG}"},
            {},
        ]
        for kwargs in attempts:
            uri = kwargs.pop("uri", server.url)
            async with connect(uri, **kwargs) as ws:
                await ws.send(json.dumps({"setup": TEXT_SETUP}))
                assert await close_of(ws) == (1008, API_KEY_INVALID)
        await server.wait_idle()
        records = repr(server.connections)
    assert server.connections[0].headers["x-goog-api-key"] == "REDACTED"
    assert server.connections[1].query == {"key": "REDACTED"}
    assert server.connections[1].target.endswith("?key=REDACTED")
    for secret in (KEY, WRONG):
        assert secret not in records
        assert secret not in caplog.text
    assert "key=REDACTED" in caplog.text  # websockets' request line was logged, redacted


@pytest.mark.parametrize(
    ("suffix", "headers"),
    [
        ("", {"x-goog-api-key": KEY}),
        (f"?key={KEY}", {}),
        (f"?access_token={KEY}", {}),
        ("", {"Authorization": f"Token {KEY}"}),
    ],
)
async def test_good_api_key_is_accepted(suffix: str, headers: dict[str, str]) -> None:
    async with FakeLiveServer(api_key=KEY) as server:
        async with connect(server.url + suffix, additional_headers=headers) as ws:
            await ws.send(json.dumps({"setup": TEXT_SETUP}))
            assert await recv(ws) == {"setupComplete": {}}
        await server.wait_idle()
    assert KEY not in repr(server.connections)


# ------------------------------------------------------------------- tools

LIGHTS_SETUP: Frame = {
    **TEXT_SETUP,
    "tools": [
        {"functionDeclarations": [{"name": "turn_on_the_lights"}, {"name": "turn_off_the_lights"}]}
    ],
}


async def test_tool_call_round_trip(server: FakeLiveServer) -> None:
    async with await open_session(server, LIGHTS_SETUP) as ws:
        await ws.send(user_turn("Turn on the lights"))
        frames = await read_turn(ws)
        (call,) = frames[0]["toolCall"]["functionCalls"]
        assert call["name"] == "turn_on_the_lights"
        assert call["args"] == {}
        assert re.fullmatch(r"function-call-\d+", call["id"])
        assert "usageMetadata" in frames[-1]
        await ws.send(
            json.dumps(
                {
                    "tool_response": {
                        "function_responses": [
                            {"id": call["id"], "name": call["name"], "response": {"result": "ok"}}
                        ]
                    }
                }
            )
        )
        reply = await read_turn(ws)
        assert model_text(reply) == "OK. The lights are now on."
        assert reply[-2] == {"serverContent": {"generationComplete": True}}

        await ws.send(
            json.dumps(
                {
                    "toolResponse": {
                        "functionResponses": [
                            {"id": "function-call-1", "name": "x", "response": {}}
                        ]
                    }
                }
            )
        )
        assert await close_of(ws) == (1007, INVALID_ARGUMENT)


async def test_new_input_cancels_pending_call(server: FakeLiveServer) -> None:
    async with await open_session(server, LIGHTS_SETUP) as ws:
        await ws.send(user_turn("Turn off the lights"))
        call = (await read_turn(ws))[0]["toolCall"]["functionCalls"][0]
        assert call["name"] == "turn_off_the_lights"
        await ws.send(user_turn("Hello"))
        frames = await read_turn(ws)
        assert frames[0] == {"toolCallCancellation": {"ids": [call["id"]]}}
        assert model_text(frames) == "Hello there! How can I help you today?"


async def test_context_update_replaces_tools(server: FakeLiveServer) -> None:
    async with await open_session(server, TEXT_SETUP) as ws:
        await ws.send(json.dumps({"contextUpdate": {"tools": {"tools": LIGHTS_SETUP["tools"]}}}))
        await ws.send(json.dumps({"realtimeInput": {"text": "Turn on the lights"}}))
        frames = await read_turn(ws)
    assert frames[0]["toolCall"]["functionCalls"][0]["name"] == "turn_on_the_lights"


# ------------------------------------------------------------ interruption


class QuickSpeech(FakeModel):
    ms_per_char = 20  # keeps realtime-paced replies short


async def test_interrupt_audio_reply_with_text() -> None:
    joke = "Can you tell me a joke?"
    async with FakeLiveServer(realtime=True, model=QuickSpeech()) as server:
        async with await open_session(server, {"model": MODEL, "sessionResumption": {}}) as ws:
            await ws.send(user_turn(joke))
            assert await recv(ws) == {"sessionResumptionUpdate": {}}
            first = await recv(ws)
            assert "inlineData" in first["serverContent"]["modelTurn"]["parts"][0]
            await ws.send(user_turn("Hello"))
            interrupted = await read_turn(ws, resumable=True)
            after = await read_turn(ws, resumable=True)
    # interrupted, then turnComplete (with usage), and no generationComplete
    assert interrupted[-3] == {"serverContent": {"interrupted": True}}
    assert interrupted[-2]["serverContent"] == {"turnComplete": True}
    assert {"serverContent": {"generationComplete": True}} not in interrupted
    full = QuickSpeech().reply([], joke)
    assert len(b"".join(audio_bytes([first, *interrupted]))) < QuickSpeech().speech_ms(full) * 48
    assert after[-3] == {"serverContent": {"generationComplete": True}}
    # The history keeps what was said before the interruption.
    history = server.histories[after[-1]["sessionResumptionUpdate"]["newHandle"]]
    said = [c.text for c in history]
    assert said[0] == joke and said[2:] == ["Hello", "Hello there! How can I help you today?"]
    assert said[1] and full.startswith(said[1]) and said[1] != full


async def test_barge_in_with_speech_audio() -> None:
    async with FakeLiveServer(realtime=True, model=QuickSpeech(), vad_silence=0.1) as server:
        async with await open_session(
            server, {"model": MODEL, "inputAudioTranscription": {}}
        ) as ws:
            await ws.send(json.dumps({"realtimeInput": {"text": "Can you tell me a joke?"}}))
            await recv(ws)
            for frame in audio_frames(sine_pcm(0.3)):
                await ws.send(frame)
            interrupted = await read_turn(ws)
            answer = await read_turn(ws)
    assert {"serverContent": {"interrupted": True}} in interrupted
    assert transcript(answer, "inputTranscription") == "(0.3 s of audio)"


async def test_history_seeding_does_not_answer(server: FakeLiveServer) -> None:
    setup = {**TEXT_SETUP, "historyConfig": {"initialHistoryInClientContent": True}}
    seed = {
        "clientContent": {
            "turns": [
                {"role": "user", "parts": [{"text": "What is the capital of Brazil?"}]},
                {"role": "model", "parts": [{"text": "Brasília."}]},
            ],
            "turnComplete": True,
        }
    }
    async with await open_session(server, setup) as ws:
        await ws.send(json.dumps(seed))
        await ws.send(json.dumps({"realtimeInput": {"text": "What did I ask before?"}}))
        frames = await read_turn(ws)
    assert model_text(frames) == 'The last question you asked was: "What is the capital of Brazil?"'


async def test_unknown_model_closes_1008() -> None:
    async with FakeLiveServer(known_models=[MODEL]) as server:
        async with connect(server.url) as ws:
            await ws.send(json.dumps({"setup": {"model": "models/retired"}}))
            code, reason = await close_of(ws)
    assert code == 1008
    assert reason is not None and reason.startswith(
        "models/retired is not found for API version v1beta"
    )


# --------------------------------------------------------- goAway and TLS


async def test_go_away_then_deadline_close(server: FakeLiveServer) -> None:
    async with await open_session(server, TEXT_SETUP) as ws:
        assert await server.go_away("50s", close_after=0.05) == 1
        assert await recv(ws) == {"goAway": {"timeLeft": "50s"}}
        assert await close_of(ws) == (1011, DEADLINE_EXPIRED)


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509", reason="needs the cryptography package")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls(tmp_path: Path) -> None:
    cert_path, key_path = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_path, key_path)
    client_ctx = ssl.create_default_context(cafile=str(cert_path))
    async with fake_server(ssl_context=server_ctx) as server:
        assert server.url.startswith("wss://127.0.0.1:")
        async with await open_session(server, TEXT_SETUP, ssl=client_ctx) as ws:
            await ws.send(user_turn(ARE_YOU_THERE))
            assert model_text(await read_turn(ws)) == YES_I_AM_HERE


# ------------------------------------------------------ model and records


class Pong(FakeModel):
    def reply(self, history: Sequence[Content], user_text: str) -> str:
        return f"pong {len(history)}"


async def test_pluggable_model_and_records() -> None:
    async with fake_server(model=Pong()) as server:
        async with await open_session(server, TEXT_SETUP) as ws:
            for text in ("ping", "ping"):
                await ws.send(json.dumps({"realtimeInput": {"text": text}}))
                frames = await read_turn(ws)
        await server.wait_idle()
    assert model_text(frames) == "pong 2"
    record = server.connections[0]
    assert record.setup is not None and record.setup.model == MODEL
    assert [m.kinds for m in record.received] == [
        ("setup",),
        ("realtimeInput",),
        ("realtimeInput",),
    ]
    assert record.sent_messages[0].setup_complete is not None
    assert record.closed_by == "client" and record.close_code == 1000


class Broken(FakeModel):
    def reply(self, history: Sequence[Content], user_text: str) -> str:
        raise RuntimeError("boom")


async def test_model_failure_closes_1011() -> None:
    async with fake_server(model=Broken()) as server:
        async with await open_session(server, TEXT_SETUP) as ws:
            await ws.send(user_turn("Hello"))
            assert await close_of(ws) == (1011, INTERNAL_ERROR)


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("Hello", "Hello there! How can I help you today?"),
        (ARE_YOU_THERE, YES_I_AM_HERE),
        ("What is the capital of Brazil?", "The capital of Brazil is **Brasília**."),
        ("What is the weather like today?", None),
        ("Something else", 'You said: "Something else".'),
        ("what was the last question I asked?", "You haven't asked me anything yet."),
    ],
)
def test_model_replies(text: str, reply: str | None) -> None:
    got = FakeModel().reply([], text)
    if reply is None:
        assert got.startswith("I can't check live weather")
    else:
        assert got == reply


def test_model_previous_question_from_history() -> None:
    history = [
        Content.user_text("What is the capital of Brazil?"),
        Content(role="model", parts=(Part(text="The capital of Brazil is **Brasília**."),)),
        Content.user_text("Thanks"),
    ]
    assert FakeModel().reply(history, "What did I ask before") == (
        'The last question you asked was: "What is the capital of Brazil?"'
    )
    assert FakeModel().previous_question(history[-1:]) == "Thanks"


def test_model_function_matching() -> None:
    decls = [FunctionDeclaration(name="turn_on_the_lights"), FunctionDeclaration(name="getWeather")]
    model = FakeModel()
    assert model.match_function(decls, "Please turn on the lights!") is decls[0]
    assert model.match_function(decls, "Get the weather") is decls[1]
    assert model.match_function(decls, "Turn off the lights") is None


@pytest.mark.parametrize(
    "text", ["", "one", "Yes, I am here! How can I help you today?", " a  b \n"]
)
def test_split_text_round_trips(text: str) -> None:
    assert "".join(split_text(text)) == text


def test_an_unstarted_server_raises_a_rawlive_error_that_is_still_a_runtime_error() -> None:
    from rawlive.errors import LiveError, ServerNotStartedError

    server = FakeLiveServer()
    for read in (lambda: server.port, lambda: server.url, lambda: server.token_url):
        with pytest.raises(ServerNotStartedError) as info:
            read()
        assert isinstance(info.value, LiveError) and isinstance(info.value, RuntimeError)
    with pytest.raises(ServerNotStartedError, match="not started"):
        server.port  # noqa: B018
