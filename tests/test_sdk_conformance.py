"""The official google-genai SDK as a client of rawlive's replay and fake servers.

The SDK insists on ``wss://`` when it has an API key, so the replay server
runs TLS with a throwaway self-signed certificate, and the SDK is told to
trust it through ``HttpOptions(async_client_args={"ssl": context})``, which
SDK 3.x passes to ``websockets.connect``. The SDK builds the URL as
``wss://`` + the host of ``base_url`` + ``//ws/...`` (a double slash, since
``base_url`` ends in ``/``); the replay server serves any path.

The server records what the SDK really sends (``ReplayServer(record=...)``),
which pins down the SDK's wire quirks (PROTOCOL.md section 8) and shows that
replay matches by shape: the SDK's snake_case, URL-safe-base64 frames match
captures written in camelCase.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

genai = pytest.importorskip(
    "google.genai", reason="the official SDK (google-genai) is not installed"
)
pytest.importorskip("cryptography", reason="the test certificate needs cryptography")

from google.genai import errors, types  # noqa: E402

import rawlive  # noqa: E402
from rawlive.capture.format import CaptureWriter, read_capture  # noqa: E402
from rawlive.capture.replay import ReplayServer  # noqa: E402
from rawlive.capture.tls import SelfSignedCertificate, generate_self_signed_cert  # noqa: E402
from rawlive.testing import FakeLiveServer  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MODEL = "gemini-2.0-flash-live-001"
FAKE_KEY = "test-key-9f8e7d6c5b4a"
FIRST_HANDLE = "CihqdTFxaG1ua2g2aTkweWtiNzB5Ymdzc3V0bW16eDE2ZGkxaXR2d2dt"
LAST_HANDLE = "CihrNGZyMjh4dXY3cXFkYzVmMjR5cnlmZ2w5bnBvNTRhcmoxNW1lN2Fi"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCertificate:
    return generate_self_signed_cert(tmp_path_factory.mktemp("tls"))


def sdk_client(server: ReplayServer, cert: SelfSignedCertificate) -> Any:
    return genai.Client(
        api_key=FAKE_KEY,
        http_options=types.HttpOptions(
            api_version="v1beta",  # SDK 3.x defaults to v1, which has no Live endpoint
            base_url=server.base_url,  # https://127.0.0.1:PORT/
            async_client_args={"ssl": cert.client_context()},
        ),
    )


def user_text(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def one_turn(session: object, text: str) -> list[types.LiveServerMessage]:
    await session.send_client_content(turns=user_text(text))  # type: ignore[attr-defined]
    stream: AsyncIterator[types.LiveServerMessage] = session.receive()  # type: ignore[attr-defined]
    return [message async for message in stream]


def turn_text(messages: list[types.LiveServerMessage]) -> str:
    return "".join(m.text or "" for m in messages)


def assert_no_key_in_captures(folder: Path) -> None:
    captures = list(folder.rglob("*.jsonl"))
    assert captures
    for path in captures:
        assert FAKE_KEY not in path.read_text(encoding="utf-8")


async def test_sdk_replays_the_resumable_session(
    tmp_path: Path, cert: SelfSignedCertificate
) -> None:
    recorded = tmp_path / "sdk_session.jsonl"
    async with ReplayServer(
        FIXTURES / "seed_resumable_session.jsonl",
        ssl_context=cert.server_context(),
        record=recorded,
    ) as server:
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.TEXT],
            session_resumption=types.SessionResumptionConfig(),
        )
        client = sdk_client(server, cert)
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            first = await one_turn(session, "Hello")
            second = await one_turn(session, "What is the capital of Brazil?")
            async for message in session.receive():  # the update after the last turn
                update = message.session_resumption_update
                if update is not None and update.new_handle:
                    break
    server.raise_for_mismatch()

    assert turn_text(first) == "Hello there! How can I help you today?\n"
    assert turn_text(second) == "The capital of Brazil is **Brasília**.\n"
    # receive() stops at turnComplete, which carries the usage.
    assert first[-1].server_content is not None and first[-1].server_content.turn_complete
    usage = [turn[-1].usage_metadata for turn in (first, second)]
    assert [
        (u.prompt_token_count, u.response_token_count, u.total_token_count) for u in usage if u
    ] == [
        (9, 11, 20),
        (37, 10, 47),
    ]
    handles = [
        m.session_resumption_update.new_handle
        for m in second
        if m.session_resumption_update is not None and m.session_resumption_update.new_handle
    ]
    assert handles == [FIRST_HANDLE]
    assert update.new_handle == LAST_HANDLE and update.resumable

    # What the SDK really sent (PROTOCOL.md section 8).
    capture = read_capture(recorded)
    (opened,) = capture.opens()
    assert "//ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent" in (
        opened.endpoint
    )
    assert opened.model == f"models/{MODEL}"
    sent = [orjson.loads(f.text) for f in capture.frames(dir="client")]
    assert [next(iter(frame)) for frame in sent] == ["setup", "client_content", "client_content"]
    assert sent[0]["setup"]["generationConfig"]["responseModalities"] == ["TEXT"]
    assert all(f.type == "text" for f in capture.frames(dir="client"))
    assert all(f.type == "binary" for f in capture.frames(dir="server"))
    assert capture.closes()[-1].by == "client"
    assert_no_key_in_captures(tmp_path)

    # The SDK's capture replays to rawlive's own client: same shapes.
    async with (
        ReplayServer(recorded) as again,
        rawlive.connect(
            MODEL, response_modalities=["TEXT"], session_resumption=True, endpoint=again.url
        ) as ours,
    ):
        await ours.send_text("Hello")
        assert (await ours.receive_turn(timeout=5)).text == turn_text(first)
    again.raise_for_mismatch()


async def test_sdk_sees_a_mismatch_as_an_api_error(
    tmp_path: Path, cert: SelfSignedCertificate
) -> None:
    async with ReplayServer(
        FIXTURES / "seed_resumable_session.jsonl",
        ssl_context=cert.server_context(),
        record=tmp_path / "mismatch.jsonl",
    ) as server:
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.TEXT],
            session_resumption=types.SessionResumptionConfig(),
        )
        async with sdk_client(server, cert).aio.live.connect(model=MODEL, config=config) as session:
            await one_turn(session, "Hello")
            with pytest.raises(errors.APIError) as info:
                await one_turn(session, "What is the capital of France?")
    assert info.value.code == 1007
    assert "replay mismatch" in str(info.value)
    (mismatch,) = server.mismatches
    assert mismatch.expected == "clientContent('What is the capital of Brazil?')"
    assert mismatch.got == "clientContent('What is the capital of France?')"
    assert read_capture(tmp_path / "mismatch.jsonl").closes()[-1].code == 1007
    assert_no_key_in_captures(tmp_path)


async def test_sdk_resumes_with_another_handle(tmp_path: Path, cert: SelfSignedCertificate) -> None:
    async with ReplayServer(
        FIXTURES / "seed_resumed_session.jsonl", ssl_context=cert.server_context()
    ) as server:
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.TEXT],
            session_resumption=types.SessionResumptionConfig(handle="a-different-handle"),
        )
        async with sdk_client(server, cert).aio.live.connect(model=MODEL, config=config) as session:
            turn = await one_turn(session, "what was the last question I asked?")
    server.raise_for_mismatch()
    assert "What is the capital of Brazil?" in turn_text(turn)


async def test_sdk_audio_chunks_match_a_recorded_audio_run(
    tmp_path: Path, cert: SelfSignedCertificate
) -> None:
    # Recorded in camelCase with standard base64 and two chunks; the SDK sends
    # snake_case, URL-safe base64 and five chunks.
    path = tmp_path / "audio.jsonl"
    chunk = base64.b64encode(bytes(640)).decode()
    audio = orjson.dumps(
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": chunk}}}
    ).decode()
    with CaptureWriter(path) as cw:
        cw.open_conn(1, "wss://example.invalid/ws", f"models/{MODEL}", t=0.0)
        cw.frame(
            1,
            "client",
            orjson.dumps(
                {
                    "setup": {
                        "model": f"models/{MODEL}",
                        "generationConfig": {"responseModalities": ["TEXT"]},
                    }
                }
            ).decode(),
            t=0.0,
        )
        cw.frame(1, "server", b'{"setupComplete":{}}', t=0.1)
        cw.frame(1, "client", audio, t=0.2)
        cw.frame(1, "client", audio, t=0.3)
        cw.frame(1, "client", '{"realtimeInput":{"audioStreamEnd":true}}', t=0.4)
        cw.frame(
            1,
            "server",
            b'{"serverContent":{"modelTurn":{"parts":[{"text":"I heard you"}]}}}',
            t=0.5,
        )
        cw.frame(1, "server", b'{"serverContent":{"turnComplete":true}}', t=0.6)
        cw.close_conn(1, 1000, "", "client", t=0.7)
    pcm = bytes([0xFB, 0xFF]) * 320  # URL-safe base64 of this has '-' and '_'
    async with ReplayServer(
        path, ssl_context=cert.server_context(), record=tmp_path / "sdk.jsonl"
    ) as server:
        config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
        async with sdk_client(server, cert).aio.live.connect(model=MODEL, config=config) as session:
            for _ in range(5):
                await session.send_realtime_input(
                    audio=types.Blob(data=pcm, mime_type="audio/pcm;rate=16000")
                )
            await session.send_realtime_input(audio_stream_end=True)
            messages = [m async for m in session.receive()]
    server.raise_for_mismatch()
    assert turn_text(messages) == "I heard you"
    sent = [f.text for f in read_capture(tmp_path / "sdk.jsonl").frames(dir="client")]
    assert sent[1].startswith('{"realtime_input": {"audio": {')
    assert "-" in orjson.loads(sent[1])["realtime_input"]["audio"]["data"]
    assert_no_key_in_captures(tmp_path)


# ------------------------------------------- the SDK against the fake server


def fake_client(server: FakeLiveServer, cert: SelfSignedCertificate) -> Any:
    """An SDK client for the fake: base_url https://HOST:PORT/, Live on v1beta."""
    root = server.url.split("/ws/", 1)[0].replace("wss://", "https://", 1)
    return genai.Client(
        api_key=FAKE_KEY,
        http_options=types.HttpOptions(
            api_version="v1beta",
            base_url=root + "/",
            async_client_args={"ssl": cert.client_context()},
        ),
    )


async def next_turn(session: Any) -> list[types.LiveServerMessage]:
    async with asyncio.timeout(10):
        return [message async for message in session.receive()]


async def test_sdk_tool_round_trip_against_the_fake(cert: SelfSignedCertificate) -> None:
    weather = types.FunctionDeclaration(
        name="get_weather",
        description="Get the current weather in a city",
        parameters=types.Schema(
            type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}
        ),
    )
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        tools=[types.Tool(function_declarations=[weather])],
    )
    async with FakeLiveServer(ssl_context=cert.server_context(), api_key=FAKE_KEY) as server:
        client = fake_client(server, cert)
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(turns=user_text("Get the weather in Paris, please."))
            asked = await next_turn(session)
            (call,) = [c for m in asked if m.tool_call for c in m.tool_call.function_calls or ()]
            await session.send_tool_response(
                function_responses=[
                    types.FunctionResponse(
                        id=call.id, name=call.name, response={"output": "sunny, 21 C"}
                    )
                ]
            )
            answer = await next_turn(session)
        await server.wait_idle()
    assert call.name == "get_weather"
    assert turn_text(answer) == 'Done: {"output":"sunny, 21 C"}'
    record = server.connections[0]
    # What the Python SDK sends: //ws/... (base_url ends in /), the key in a header.
    assert record.path.startswith("//ws/google.ai.generativelanguage.v1beta.")
    assert record.headers["x-goog-api-key"] == "REDACTED"


async def test_sdk_realtime_audio_with_transcription_against_the_fake(
    cert: SelfSignedCertificate,
) -> None:
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    chunk = bytes(3200)  # 100 ms of 16 kHz PCM16
    async with FakeLiveServer(ssl_context=cert.server_context()) as server:
        client = fake_client(server, cert)
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            for _ in range(5):
                await session.send_realtime_input(
                    audio=types.Blob(data=chunk, mime_type="audio/pcm;rate=16000")
                )
            await session.send_realtime_input(audio_stream_end=True)
            messages = await next_turn(session)
    heard = "".join(
        m.server_content.input_transcription.text or ""
        for m in messages
        if m.server_content and m.server_content.input_transcription
    )
    said = "".join(
        m.server_content.output_transcription.text or ""
        for m in messages
        if m.server_content and m.server_content.output_transcription
    )
    audio = b"".join(m.data or b"" for m in messages)
    assert heard == "(0.5 s of audio)"
    assert said == 'You said: "(0.5 s of audio)".'
    assert len(audio) > 0 and len(audio) % 2 == 0


async def test_sdk_resumption_with_recall_against_the_fake(cert: SelfSignedCertificate) -> None:
    async with FakeLiveServer(ssl_context=cert.server_context()) as server:
        client = fake_client(server, cert)
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.TEXT],
            session_resumption=types.SessionResumptionConfig(),
        )
        handle = None
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(turns=user_text("What is the capital of Brazil?"))
            await next_turn(session)
            async with asyncio.timeout(10):
                async for message in session.receive():
                    update = message.session_resumption_update
                    if update is not None and update.resumable and update.new_handle:
                        handle = update.new_handle
                        break
        assert handle is not None
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.TEXT],
            session_resumption=types.SessionResumptionConfig(handle=handle),
        )
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(
                turns=user_text("what was the last question I asked?")
            )
            recall = turn_text(await next_turn(session))
    assert recall == 'The last question you asked was: "What is the capital of Brazil?"'
    assert server.connections[1].resumed_from == handle


async def test_sdk_seeded_history_then_a_nudge_answers_the_question(
    cert: SelfSignedCertificate,
) -> None:
    # The frameworks' start-up: seed the history (no reply), then a content-free nudge.
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        history_config=types.HistoryConfig(initial_history_in_client_content=True),
    )
    async with FakeLiveServer(ssl_context=cert.server_context()) as server:
        client = fake_client(server, cert)
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(
                turns=[user_text("What is the capital of Brazil?")], turn_complete=True
            )
            await session.send_realtime_input(text=" ")  # pipecat's nudge
            answer = await next_turn(session)
    assert turn_text(answer) == "The capital of Brazil is **Brasília**."
    assert not any(m.server_content and m.server_content.interrupted for m in answer)


async def test_sdk_default_api_version_is_refused_as_the_service_does(
    cert: SelfSignedCertificate,
) -> None:
    async with FakeLiveServer(ssl_context=cert.server_context()) as server:
        root = server.url.split("/ws/", 1)[0].replace("wss://", "https://", 1)
        client = genai.Client(
            api_key=FAKE_KEY,
            http_options=types.HttpOptions(
                base_url=root + "/", async_client_args={"ssl": cert.client_context()}
            ),
        )
        config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
        with pytest.raises(errors.APIError) as info:
            async with client.aio.live.connect(model=MODEL, config=config) as session:
                await session.send_client_content(turns=user_text("Hello"))
                await next_turn(session)
    assert info.value.code == 1008
    assert "is not found for API version v1," in str(info.value)


def doc_block(marker: str) -> str:
    """The fenced block of docs/testing.md that contains ``marker``."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text("utf-8")
    (block,) = [b for b in text.split("```")[1::2] if marker in b]
    return block.split("\n", 1)[1]


def test_the_python_sdk_snippet_of_the_docs_runs() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", doc_block("# conformance: python-sdk")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Yes, I am here! How can I help you today?\n"
