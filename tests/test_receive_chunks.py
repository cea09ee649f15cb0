"""Audio chunks travel from the reader to ``receive_turn`` as ``(mime, pcm)``, not records."""

from __future__ import annotations

import base64
import gc

import orjson
import pytest

import rawlive
from rawlive.protocol.codec import chunk_message, decode_server, decode_server_chunk
from rawlive.protocol.session import TurnAssembler
from rawlive.testing import FakeLiveServer


def _frame(mime: str, data: bytes) -> bytes:
    blob = {"mimeType": mime, "data": base64.b64encode(data).decode()}
    return orjson.dumps({"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}})


@pytest.mark.parametrize("mime", ["audio/pcm;rate=24000", "image/png", ""])
def test_an_inline_data_chunk_stays_a_plain_tuple_and_rebuilds_the_same_message(
    mime: str,
) -> None:
    frame = _frame(mime, b"\x01\x02" * 10)
    chunk = decode_server_chunk(frame)
    assert type(chunk) is tuple and chunk == (mime, b"\x01\x02" * 10)
    gc.collect()
    assert not gc.is_tracked(chunk)  # no work for the cyclic GC while buffered
    assert isinstance(chunk, tuple)
    assert chunk_message(chunk) == decode_server(frame)


def test_other_frames_decode_as_messages() -> None:
    text = orjson.dumps({"serverContent": {"modelTurn": {"parts": [{"text": "hi"}]}}})
    assert decode_server_chunk(text) == decode_server(text)
    done = b'{"serverContent":{"turnComplete":true}}'
    assert decode_server_chunk(done) == decode_server(done)
    bad = b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"a","data":"@"}}]}}}'
    with pytest.raises(rawlive.RemoteProtocolError):
        decode_server_chunk(bad)


def test_a_chunk_fed_as_a_tuple_makes_the_same_turn_as_its_message() -> None:
    chunks = [("audio/pcm;rate=16000", b"\x00\x01" * 8), ("image/png", b"png"), ("x", b"")]
    by_tuple, by_message = TurnAssembler(), TurnAssembler()
    for mime, data in chunks:
        by_tuple.feed_chunk(mime, data)
        by_message.feed(chunk_message((mime, data)))
    assert by_tuple.started and by_message.started
    assert by_tuple.build() == by_message.build()
    assert by_tuple.build().sample_rate == 16000 and by_tuple.build().audio == b"\x00\x01" * 8


async def test_iterating_a_session_still_yields_messages_for_audio_chunks() -> None:
    async with FakeLiveServer() as server:
        async with rawlive.connect("m", endpoint=server.url) as session:
            await session.send_text("Hello? Gemini are you there?")
            pcm = b""
            async for message in session:
                assert isinstance(message, rawlive.ServerMessage)
                pcm += message.audio
                sc = message.server_content
                if sc is not None and sc.turn_complete:
                    break
            await session.send_text("Hello? Gemini are you there?")
            turn = await session.receive_turn()
    assert pcm and pcm == turn.audio
