"""Tests for rawlive.capture.markers: the one place redaction markers are expanded."""

from __future__ import annotations

import base64

import orjson

from rawlive.capture.format import FrameRecord
from rawlive.capture.markers import (
    MAX_REDACTED_BYTES,
    decode_frame,
    decode_received_client,
    neutral_markers,
    redaction_marker,
    unredact_audio,
)
from rawlive.errors import CaptureFormatError
from rawlive.protocol import ClientMessage, ServerMessage, json_type

PCM = b"\x01\x02" * 480


def _audio(data: str, *, server: bool = True) -> str:
    blob = {"mimeType": "audio/pcm;rate=24000", "data": data}
    if server:
        return orjson.dumps(
            {"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}}
        ).decode()
    return orjson.dumps({"realtimeInput": {"audio": blob}}).decode()


def _frame(payload: str | bytes, direction: str = "server") -> FrameRecord:
    return FrameRecord.from_payload(conn=1, t=0.0, dir=direction, payload=payload)  # type: ignore[arg-type]


def test_decode_frame_turns_a_marker_into_silence_of_its_length() -> None:
    decoded = decode_frame(_frame(_audio(redaction_marker(PCM))))
    assert decoded.error is None and decoded.redacted == 1
    assert isinstance(decoded.message, ServerMessage)
    assert [blob.data for blob in decoded.message.audio_chunks()] == [bytes(len(PCM))]


def test_decode_frame_reads_binary_frames_and_client_frames() -> None:
    decoded = decode_frame(_frame(_audio(redaction_marker(PCM), server=False).encode(), "client"))
    assert decoded.redacted == 1
    assert isinstance(decoded.message, ClientMessage)
    assert decoded.message.realtime_input is not None
    assert decoded.message.realtime_input.audio is not None
    assert decoded.message.realtime_input.audio.data == bytes(len(PCM))


def test_a_marker_outside_a_data_value_is_text() -> None:
    marker = redaction_marker(PCM)
    text = orjson.dumps({"clientContent": {"turns": [{"parts": [{"text": marker}]}]}}).decode()
    assert unredact_audio(text) is text
    decoded = decode_frame(_frame(text, "client"))
    assert decoded.redacted == 0
    assert isinstance(decoded.message, ClientMessage)
    assert decoded.message.client_content is not None
    assert decoded.message.client_content.turns is not None
    assert decoded.message.client_content.turns[0].text == marker


def test_silence_is_bounded_per_frame() -> None:
    big = f"<redacted {MAX_REDACTED_BYTES} bytes sha256={'0' * 64}>"
    text = orjson.dumps(
        {"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm", "data": big}] * 3}}
    ).decode()
    values = orjson.loads(unredact_audio(text))["realtimeInput"]["mediaChunks"]
    sizes = [len(base64.b64decode(v["data"])) for v in values]
    assert sizes == [MAX_REDACTED_BYTES, 0, 0]
    # A claim past the bound is not a marker: it stays as it is.
    too_big = big.replace(str(MAX_REDACTED_BYTES), str(MAX_REDACTED_BYTES + 1))
    assert unredact_audio(_audio(too_big)) == _audio(too_big)


def test_neutral_markers_give_empty_audio_and_never_expand() -> None:
    text = _audio(redaction_marker(PCM), server=False)
    assert orjson.loads(neutral_markers(text))["realtimeInput"]["audio"]["data"] == ""
    plain = _audio(base64.b64encode(PCM).decode(), server=False)
    assert neutral_markers(plain) is plain


def test_a_marker_received_from_a_client_is_never_expanded() -> None:
    frame = _audio(redaction_marker(PCM), server=False).encode()
    message = decode_received_client(frame)
    assert message.realtime_input is not None and message.realtime_input.audio is not None
    assert message.realtime_input.audio.data == b""


def test_a_frame_that_does_not_decode_says_why() -> None:
    decoded = decode_frame(_frame("[1, 2]"))
    assert (
        decoded.message is None and decoded.error is not None and "not an object" in decoded.error
    )


def test_record_errors_name_json_types_as_the_shape_diff_does() -> None:
    assert json_type(1) == json_type(1.5) == "number"
    try:
        FrameRecord.from_json({"kind": "frame", "conn": 1, "t": 0, "dir": 1, "type": "text"})
    except CaptureFormatError as exc:
        assert "got number" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a numeric 'dir' was accepted")
