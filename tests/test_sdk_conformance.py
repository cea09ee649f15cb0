"""The official google-genai SDK as a client of rawlive's replay server.

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
