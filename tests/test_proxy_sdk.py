"""The official Python SDK through ``rawlive proxy`` to the bundled fake server.

The SDK insists on ``wss://`` when it has a key, so the proxy serves TLS with a
throwaway certificate; the upstream is the fake server over plain ``ws://``.
The SDK's flows pass through unchanged, and what the proxy recorded replays to
the same SDK code with ``ReplayServer``: record through the proxy, replay in CI.
"""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

genai = pytest.importorskip(
    "google.genai", reason="the official SDK (google-genai) is not installed"
)
pytest.importorskip("cryptography", reason="the test certificate needs cryptography")

from google.genai import types  # noqa: E402

from rawlive.capture.format import read_capture  # noqa: E402
from rawlive.capture.replay import ReplayServer  # noqa: E402
from rawlive.capture.tls import SelfSignedCertificate, generate_self_signed_cert  # noqa: E402
from rawlive.proxy import LiveProxy  # noqa: E402
from rawlive.testing import FakeLiveServer  # noqa: E402

MODEL = "rawlive-demo"
KEY = "AIzaSdkKeyThroughTheProxy0123456"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCertificate:
    return generate_self_signed_cert(tmp_path_factory.mktemp("tls"))


def client(base_url: str, cert: SelfSignedCertificate) -> Any:
    return genai.Client(
        api_key=KEY,
        http_options=types.HttpOptions(
            api_version="v1beta",
            base_url=base_url,
            async_client_args={"ssl": cert.client_context()},
        ),
    )


async def turn(session: Any, text: str) -> list[types.LiveServerMessage]:
    await session.send_client_content(
        turns=types.Content(role="user", parts=[types.Part(text=text)])
    )
    stream: AsyncIterator[types.LiveServerMessage] = session.receive()
    return [message async for message in stream]


def text_of(messages: list[types.LiveServerMessage]) -> str:
    return "".join(m.text or "" for m in messages)


def transcript_of(messages: list[types.LiveServerMessage]) -> str:
    return "".join(
        m.server_content.output_transcription.text or ""
        for m in messages
        if m.server_content is not None and m.server_content.output_transcription is not None
    )


async def seed_flows(base_url: str, cert: SelfSignedCertificate, tmp_path: Path) -> list[str]:
    """The seed tutorial's four flows and a tool round trip, through the SDK."""
    seen: list[str] = []
    sdk = client(base_url, cert)
    text_config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(),
    )
    handle = None
    async with sdk.aio.live.connect(model=MODEL, config=text_config) as session:
        seen.append(text_of(await turn(session, "Hello")))
        seen.append(text_of(await turn(session, "What is the capital of Brazil?")))
        async for message in session.receive():
            update = message.session_resumption_update
            if update is not None and update.new_handle:
                handle = update.new_handle
                break
    assert handle
    resumed = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(handle=handle),
    )
    async with sdk.aio.live.connect(model=MODEL, config=resumed) as session:
        seen.append(text_of(await turn(session, "what was the last question I asked?")))

    audio_config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    async with sdk.aio.live.connect(model=MODEL, config=audio_config) as session:
        for index, question in enumerate(["Hello? Gemini are you there?", "Tell me a joke"]):
            messages = await turn(session, question)
            pcm = b"".join(m.data or b"" for m in messages)
            path = tmp_path / f"audio_response_{index}.wav"
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(24000)
                w.writeframes(pcm)
            with wave.open(str(path), "rb") as r:
                assert r.getnframes() > 0
            seen.append(transcript_of(messages))

    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(name="get_weather", description="the weather in a city")
        ]
    )
    tool_config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT], tools=[tool])
    async with sdk.aio.live.connect(model=MODEL, config=tool_config) as session:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="get weather in Paris")])
        )
        call = None
        async for message in session.receive():
            if message.tool_call is not None:
                call = message.tool_call.function_calls[0]
                break
        assert call is not None and call.name == "get_weather"
        await session.send_tool_response(
            function_responses=[
                types.FunctionResponse(id=call.id, name=call.name, response={"sky": "sunny"})
            ]
        )
        reply = ""
        for _ in range(3):  # the call's own turn may end first, then the answer's
            reply = text_of([m async for m in session.receive()])
            if reply:
                break
        seen.append(reply)
    return seen


async def test_sdk_flows_through_the_proxy_then_replayed(
    tmp_path: Path, cert: SelfSignedCertificate
) -> None:
    capture = tmp_path / "sdk.jsonl"
    async with (
        FakeLiveServer(api_key=KEY) as fake,
        LiveProxy(
            upstream=f"ws://127.0.0.1:{fake.port}", ssl_context=cert.server_context(),
            record=capture,
        ) as proxy,
    ):  # fmt: skip
        direct = await seed_flows(proxy.base_url, cert, tmp_path)
    assert direct[0] == "Hello there! How can I help you today?"
    assert "Brasília" in direct[1]
    assert "Brazil" in direct[2]
    assert direct[3] == "Yes, I am here! How can I help you today?"
    assert direct[4] and "sunny" in direct[5]

    # One capture per session: the resumed connection joined the first one.
    assert proxy.recorder is not None
    paths = proxy.recorder.paths
    assert len(paths) == 3
    assert read_capture(paths[0]).connections() == (1, 2)
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert KEY not in text
        assert "//ws/google.ai.generativelanguage.v1beta" in read_capture(path).opens()[0].endpoint

    # Each session's capture replays to the same SDK code.
    async with ReplayServer(paths[0], ssl_context=cert.server_context()) as replay:
        sdk = client(replay.base_url, cert)
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.TEXT],
            session_resumption=types.SessionResumptionConfig(),
        )
        async with sdk.aio.live.connect(model=MODEL, config=config) as session:
            assert text_of(await turn(session, "Hello")) == direct[0]
    replay.raise_for_mismatch()
