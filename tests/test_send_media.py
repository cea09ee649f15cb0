"""The direct route of audio and video chunks and text turns (``send_audio``/``send_video``/``send_text``).

It writes the frame without envelope records or the encoder: these tests pin
that what goes out is byte for byte what the general route would send, and
that the general route still takes over wherever the direct one does not apply.
"""

from __future__ import annotations

import pytest

import rawlive
from rawlive import Blob, ClientContent, ClientMessage, Content, RealtimeInput, encode
from rawlive.b64 import b64decode_spelled
from rawlive.errors import ConnectionClosedError, LiveError, LocalProtocolError
from rawlive.protocol.codec import MEDIA_FRAME_END, media_frame_start, text_turn_frame
from rawlive.testing import FakeLiveServer


class Frames:
    """A FrameObserver that keeps the client frames."""

    def __init__(self) -> None:
        self.client: list[str] = []

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        pass

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        if direction == "client":
            assert isinstance(payload, str)
            self.client.append(payload)

    def on_close(self, conn: int, code: int, reason: str, by: str | None, dropped: bool) -> None:
        pass


def _general(kind: str, mime: str, data: bytes) -> str:
    blob = Blob(mime_type=mime, data=data)
    payload = RealtimeInput(audio=blob) if kind == "audio" else RealtimeInput(video=blob)
    return encode(ClientMessage.wrap(payload)).decode()


@pytest.mark.parametrize("size", [0, 1, 2, 3, 640, 3201])
def test_media_frame_start_plus_base64_is_the_encoders_frame(size: int) -> None:
    import binascii

    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    for kind, mime in [("audio", "audio/pcm;rate=16000"), ("video", 'image/"odd\\mime"é')]:
        frame = media_frame_start(kind, mime) + binascii.b2a_base64(data, newline=False)
        assert (frame + MEDIA_FRAME_END).decode() == _general(kind, mime, data)


def test_media_frame_start_refuses_other_kinds() -> None:
    with pytest.raises(ValueError, match="'audio' or 'video'"):
        media_frame_start("text", "text/plain")


async def test_audio_and_video_chunks_go_out_as_the_general_route_would_send_them() -> None:
    frames = Frames()
    pcm = bytes(range(256)) * 2 + bytes(128)  # 640 bytes: 20 ms at 16 kHz
    async with FakeLiveServer() as server:
        async with rawlive.connect("m", endpoint=server.url, record=frames) as session:
            before = session.state.sent_count
            await session.send_audio(pcm)
            await session.send_audio(bytearray(pcm[:320]), rate=24000)
            await session.send_audio(memoryview(pcm)[:2])
            await session.send_video(b"\xff\xd8jpeg", mime_type="image/jpeg")
            assert session.state.sent_count == before + 4
            await session.send_audio_stream_end()
            await session.send_text("hi")
            await session.receive_turn()
        received = server.connections[0].received
    assert frames.client[1:5] == [
        _general("audio", "audio/pcm;rate=16000", pcm),
        _general("audio", "audio/pcm;rate=24000", pcm[:320]),
        _general("audio", "audio/pcm;rate=16000", pcm[:2]),
        _general("video", "image/jpeg", b"\xff\xd8jpeg"),
    ]
    chunks = [m.realtime_input for m in received if m.realtime_input is not None]
    assert chunks[0] is not None and chunks[0].audio is not None
    assert chunks[0].audio.data == pcm
    assert chunks[3] is not None and chunks[3].video is not None
    assert chunks[3].video.data == b"\xff\xd8jpeg"


async def test_a_chunk_spelled_another_way_keeps_its_spelling() -> None:
    spelled = b64decode_spelled("YWI")  # unpadded: a bytes subclass that remembers it
    assert type(spelled) is not bytes
    frames = Frames()
    async with FakeLiveServer() as server:
        async with rawlive.connect("m", endpoint=server.url, record=frames) as session:
            await session.send_audio(spelled)
    assert '"data":"YWI"' in frames.client[1]


async def test_a_closed_session_refuses_chunks_as_the_general_route_does() -> None:
    async with FakeLiveServer() as server:
        session = await rawlive.connect("m", endpoint=server.url)
        await session.close()
        with pytest.raises(LocalProtocolError, match="the session is closed"):
            await session.send_audio(bytes(640))
        with pytest.raises(LocalProtocolError, match="the session is closed"):
            await session.send_video(b"x")


async def test_a_chunk_on_a_dropped_connection_raises_a_rawlive_error() -> None:
    async with FakeLiveServer() as server:
        async with rawlive.connect("m", endpoint=server.url) as session:
            await session._ws.close()
            with pytest.raises(ConnectionClosedError):
                for _ in range(5):  # bounded: the first or second write sees the close
                    await session.send_audio(bytes(640))
            with pytest.raises(LiveError):
                await session.send_audio(bytes(640))


async def test_with_a_reconnect_policy_chunks_are_recorded_in_the_ledger() -> None:
    frames = Frames()
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, reconnect=rawlive.ReconnectPolicy(), record=frames
        ) as session:
            await session.send_audio(bytes(640))
            ledger = session._engine.ledger
            assert ledger is not None and len(ledger) == 1
    assert frames.client[1] == _general("audio", "audio/pcm;rate=16000", bytes(640))


TEXTS = [
    "",
    "Hello",
    'a "quoted" \\ back\\slash',
    "line\nbreak\ttab\x00\x1f",
    "é ünï 日本 😀",
    "x" * 5000,
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("turn_complete", [True, False])
def test_a_text_turn_frame_is_the_encoders_frame(text: str, turn_complete: bool) -> None:
    content = ClientContent(turns=(Content.user_text(text),), turn_complete=turn_complete)
    assert text_turn_frame(text, turn_complete) == encode(ClientMessage.wrap(content))


def test_a_text_turn_frame_with_an_int_flag_does_not_stand_for_the_bool() -> None:
    # 1 == True as a dict key: a cached layout for 1 ("turnComplete":1) once
    # served every later send_text() of the process, and the other way round.
    for flag in (1, True, 0, False, None, 1, True):
        content = ClientContent(turns=(Content.user_text("x"),), turn_complete=flag)  # type: ignore[arg-type]
        assert text_turn_frame("x", flag) == encode(ClientMessage.wrap(content)), flag  # type: ignore[arg-type]
    assert text_turn_frame("x").endswith(b'"turnComplete":true}}')


async def test_text_turns_go_out_as_the_general_route_would_send_them() -> None:
    frames = Frames()
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["TEXT"], record=frames
        ) as session:
            before = session.state.sent_count
            await session.send_text("Hello", turn_complete=False)
            await session.send_text('What\'s "up"? 😀')
            assert session.state.sent_count == before + 2
            turn = await session.receive_turn(timeout=5)
        received = server.connections[0].received
    for sent, (text, complete) in zip(
        frames.client[1:3], [("Hello", False), ('What\'s "up"? 😀', True)], strict=True
    ):
        content = ClientContent(turns=(Content.user_text(text),), turn_complete=complete)
        assert sent == encode(ClientMessage.wrap(content)).decode()
    texts = [m.client_content for m in received if m.client_content is not None]
    assert [c.turns[0].parts[0].text for c in texts] == ["Hello", 'What\'s "up"? 😀']  # type: ignore[index]
    assert turn.text  # the fake answered the completed turn


async def test_text_turns_take_the_general_route_with_a_ledger_or_when_closed() -> None:
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["TEXT"], reconnect=True
        ) as session:
            await session.send_text("Hello")
            ledger = session._engine.ledger
            assert ledger is not None and len(ledger) == 1  # recorded: it may be sent again
        session = await rawlive.connect("m", endpoint=server.url)
        await session.close()
        with pytest.raises(LocalProtocolError, match="the session is closed"):
            await session.send_text("late")


async def test_send_text_refuses_bad_texts_before_sending_or_counting_anything() -> None:
    # A lone surrogate cannot be written as UTF-8 JSON: both routes raise the
    # same LocalProtocolError. What is not a str (None went out as a part with
    # no text, 123 as {"text":123}, closed by the service with 1007) is a
    # TypeError. Either way nothing is sent or counted and the session goes on.
    frames = Frames()
    async with FakeLiveServer() as server:
        async with rawlive.connect(
            "m", endpoint=server.url, response_modalities=["TEXT"], observers=[frames]
        ) as session:
            for send in (
                session.send_text,
                lambda text: session.send(ClientContent(turns=[Content.user_text(text)])),
            ):
                with pytest.raises(LocalProtocolError, match="surrogates not allowed"):
                    await send("a\ud800b")
            for value in (None, 123, b"Hello", ["Hello"]):
                with pytest.raises(TypeError, match=r"send_text\(\) takes a str, not "):
                    await session.send_text(value)  # type: ignore[arg-type]
            assert len(frames.client) == 1 and session.state.sent_count == 0  # the setup only
            await session.send_text(type("Text", (str,), {})("Hello"))  # a str subclass is a str
            turn = await session.receive_turn()
    assert session.state.sent_count == 1 and turn.text
