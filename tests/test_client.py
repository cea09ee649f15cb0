"""The seed tutorial's flows, end to end, over real WebSocket frames on loopback."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import pytest

import rawlive
from rawlive import ClientMessage, ConnectionClosedError, GenerationConfig, ResumptionError, Setup
from rawlive.protocol import encode
from rawlive.testing import FakeLiveServer


async def test_text_to_text() -> None:
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "gemini-2.0-flash-live-001", endpoint=server.url, response_modalities=["TEXT"]
        ) as session:
            await session.send_text("Hello? Gemini are you there?")
            turn = await session.receive_turn(keep_messages=True)
    assert turn.text == "Yes, I am here! How can I help you today?"
    assert turn.generation_complete and turn.turn_complete and not turn.interrupted
    assert turn.usage is not None and turn.usage.total_token_count
    assert turn.audio == b""
    # the final frame carried both serverContent.turnComplete and usageMetadata
    assert turn.messages[-1].kinds == ("serverContent", "usageMetadata")
    assert turn.messages[0].server_content is not None
    record = server.connections[0]
    assert record.setup is not None and record.setup.model == "models/gemini-2.0-flash-live-001"


async def test_text_to_audio_saved_as_wav(tmp_path: Path) -> None:
    out = tmp_path / "text_to_audio_response.wav"
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["AUDIO"]
        ) as session:
            await session.send_text("Hello? Gemini are you there?")
            turn = await session.receive_turn(wav=out)
    assert turn.audio == b"" and turn.audio_bytes > 0
    with wave.open(str(out), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        assert w.getnframes() * 2 == turn.audio_bytes
        pcm = w.readframes(w.getnframes())
    assert any(pcm[i] for i in range(0, len(pcm), 97))  # speech-like, not silence
    assert turn.audio_duration == pytest.approx(len(pcm) / 48000)


async def test_audio_in_memory_matches_wav(tmp_path: Path) -> None:
    async with FakeLiveServer() as server:
        async with rawlive.connect("m", endpoint=server.url) as session:
            await session.send_text("Can you tell me a joke?")
            in_memory = await session.receive_turn()
            await session.send_text("Can you tell me a joke?")
            to_file = await session.receive_turn(wav=tmp_path / "joke.wav")
    with wave.open(str(tmp_path / "joke.wav"), "rb") as w:
        assert w.readframes(w.getnframes()) == in_memory.audio
    assert to_file.audio_bytes == len(in_memory.audio)


async def test_three_turns_in_one_session_three_wavs(tmp_path: Path) -> None:
    prompts = [
        "Hello? Gemini are you there?",
        "Can you tell me a joke?",
        "What is the weather like today?",
    ]
    durations = []
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["AUDIO"], output_audio_transcription=True
        ) as session:
            for i, prompt in enumerate(prompts):
                await session.send_text(prompt)
                turn = await session.receive_turn(wav=tmp_path / f"audio_response_{i}.wav")
                assert turn.output_transcript
                durations.append(turn.audio_duration)
            assert session.usage.turns == 3
    assert len(server.connections) == 1
    for i, seconds in enumerate(durations):
        with wave.open(str(tmp_path / f"audio_response_{i}.wav"), "rb") as w:
            assert w.getnframes() / w.getframerate() == pytest.approx(seconds)
            assert w.getnframes() > 0


async def test_resumable_session_recalls_the_last_question() -> None:
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["TEXT"], session_resumption=True
        ) as first:
            assert first.handle is None
            await first.send_text("Hello")
            hello = await first.receive_turn()
            await first.send_text("What is the capital of Brazil?")
            brazil = await first.receive_turn()
            # a non-resumable (empty) update must not replace the handle
            async for message in first:
                if message.session_resumption_update is not None:
                    break
            handle = first.handle
            usage_first = first.usage.total_tokens
        assert hello.text == "Hello there! How can I help you today?"
        assert "Brasília" in brazil.text
        assert handle

        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["TEXT"], session_resumption=handle
        ) as second:
            assert second.setup.session_resumption is not None
            assert second.setup.session_resumption.handle == handle
            await second.send_text("what was the last question I asked?")
            recall = await second.receive_turn()
        assert recall.text == 'The last question you asked was: "What is the capital of Brazil?"'
        assert recall.usage is not None and recall.usage.prompt_token_count
        # the resumed context is larger than the first session's last prompt
        assert usage_first > 0


async def test_unknown_handle_is_refused_with_1008() -> None:
    async with FakeLiveServer() as server:
        with pytest.raises(ConnectionClosedError) as info:
            await rawlive.connect(
                "m", endpoint=server.url, session_resumption="CgxpZ3BlMWFzcjA2eWU"
            )
    assert info.value.code == 1008
    assert "session not found" in info.value.reason
    assert not info.value.retryable
    assert "resumption handle refused" in str(info.value)
    assert isinstance(info.value, rawlive.SetupRejectedError)
    assert isinstance(info.value, ResumptionError)  # HandleRefusedError is both


async def test_iteration_does_not_stop_at_turn_end() -> None:
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["TEXT"]
        ) as session:
            await session.send_text("Hello")
            await session.send_text("What is the capital of Brazil?")
            completes = 0
            texts = []
            async for message in session:
                texts.append(message.text)
                sc = message.server_content
                if sc is not None and sc.turn_complete:
                    completes += 1
                    if completes == 2:
                        break
    assert completes == 2
    assert "Brasília" in "".join(texts)


async def test_setup_message_and_escape_hatch() -> None:
    setup = Setup(model="models/custom")
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            setup=setup,
            endpoint=server.url,
            response_modalities=["TEXT"],
            system_instruction="You are terse.",
            extra_setup={"brandNewField": {"on": True}},
        ) as session:
            await session.send_text("Hello")
            await session.receive_turn()
    received = server.connections[0].setup
    assert received is not None
    assert received.model == "models/custom"
    assert received.extra["brandNewField"] == {"on": True}
    assert received.system_instruction is not None
    assert received.system_instruction.text == "You are terse."


async def test_realtime_text_and_audio_input(tmp_path: Path) -> None:
    from rawlive.audio.wav import WavWriter

    source = tmp_path / "question.wav"
    with WavWriter(source, rate=16000) as writer:
        writer.write(b"\x10\x00\xf0\xff" * 8000)  # 1 s at 16 kHz
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["TEXT"], input_audio_transcription=True
        ) as session:
            await session.send_realtime_text("What is the capital of Brazil?")
            turn = await session.receive_turn()
            assert "Brasília" in turn.text
            seconds = await session.stream_wav(source, chunk_ms=100)
            audio_turn = await session.receive_turn()
    assert seconds == pytest.approx(1.0)
    assert audio_turn.input_transcript
    assert server.connections[0].received_count("realtimeInput") >= 11


async def test_a_turn_keeps_no_messages_by_default_so_audio_is_held_once() -> None:
    async with FakeLiveServer() as server:
        async with rawlive.connect("m", endpoint=server.url) as session:
            await session.send_text("Hello? Gemini are you there?")
            turn = await session.receive_turn()
            await session.send_text("Tell me a joke")
            kept = await session.receive_turn(keep_messages=True)
    assert turn.audio_bytes > 0 and turn.audio and turn.messages == ()
    assert kept.messages and b"".join(m.audio for m in kept.messages) == kept.audio


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"response_modalities": ["audio"]},
        {"voice": "Kore", "system_instruction": "Be brief.", "session_resumption": True},
        {"tools": [{"googleSearch": {}}], "context_window_compression": 4096},
        {"input_audio_transcription": True, "extra_setup": {"futureField": 1}},
        {"generation_config": GenerationConfig(temperature=0.5), "response_modalities": ["TEXT"]},
    ],
)
def test_a_setup_built_from_nothing_equals_one_built_on_an_empty_setup(
    options: dict[str, Any],
) -> None:
    # build_setup constructs a fresh record when no setup is given (fast) and
    # copies the given one otherwise: both routes must give the same setup.
    from rawlive.setup import build_setup

    fresh = build_setup("m", **options)
    on_empty = build_setup("m", setup=Setup(), **options)
    assert fresh == on_empty
    assert encode(ClientMessage(setup=fresh)) == encode(ClientMessage(setup=on_empty))


def test_every_connect_keyword_is_declared_once_and_others_are_refused() -> None:
    # connect() takes the setup fields and the target options by keyword;
    # each is declared once (SetupOptions, TargetOptions) and a misspelt
    # keyword is refused as Python refuses one, before any I/O.
    from rawlive.setup import SETUP_OPTIONS, build_setup
    from rawlive.vertex import TARGET_OPTIONS, resolve_target

    assert not SETUP_OPTIONS & TARGET_OPTIONS
    assert {"voice", "tools", "session_resumption"} <= SETUP_OPTIONS
    assert {"api_key", "endpoint", "vertex", "base_url"} <= TARGET_OPTIONS
    with pytest.raises(
        TypeError,
        match=r"^connect\(\) got an unexpected keyword argument 'voise'; did you mean 'voice'\?$",
    ):
        rawlive.connect("m", endpoint="ws://127.0.0.1:9/", voise="Kore")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'api_key'"):
        build_setup("m", api_key="k")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'voice'"):
        resolve_target("m", voice="Kore")  # type: ignore[call-arg]
    # both groups reach their place
    target = resolve_target("m", endpoint="ws://127.0.0.1:9/")
    assert target.url == "ws://127.0.0.1:9/" and target.model == "models/m"
    opened = rawlive.connect("m", endpoint="ws://127.0.0.1:9/", voice="Kore", api_key="k")
    assert opened._setup.generation_config.speech_config is not None  # type: ignore[union-attr]
    credentials = opened._target.credentials
    assert credentials is not None and credentials.secret == "k"


def test_the_option_typeddicts_resolve_at_run_time() -> None:
    # A user's tool that reads connect()'s keywords (a config loader, a
    # validator) calls typing.get_type_hints; every name the types use must exist.
    import os
    import typing

    from rawlive.client import ConnectOptions
    from rawlive.setup import SETUP_OPTIONS, SetupOptions
    from rawlive.vertex import TARGET_OPTIONS, TargetOptions

    assert set(typing.get_type_hints(SetupOptions)) == SETUP_OPTIONS
    assert set(typing.get_type_hints(TargetOptions)) == TARGET_OPTIONS
    hints = typing.get_type_hints(ConnectOptions)
    assert set(hints) == SETUP_OPTIONS | TARGET_OPTIONS
    assert hints["env_file"] == str | os.PathLike[str] | None


def test_response_modalities_as_a_bare_string_is_refused_with_the_fix() -> None:
    # A str is a Sequence[str] to type checkers, and "TEXT" would become the
    # four modalities T, E, X, T: refused before any I/O, naming the fix.
    from rawlive.errors import ConfigurationError
    from rawlive.setup import build_setup

    with pytest.raises(ConfigurationError, match=r"a list, e\.g\. \['TEXT'\]"):
        rawlive.connect("m", endpoint="ws://127.0.0.1:9/", response_modalities="TEXT")
    assert build_setup("m", response_modalities=["text"]).generation_config == GenerationConfig(
        response_modalities=("TEXT",)
    )
