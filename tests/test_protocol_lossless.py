"""The codec's lossless guarantee, one rule at a time.

Numbers keep their JSON type, base64 keeps its alphabet and padding, whatever
decodes also encodes, a field under both spellings is refused, and a frame's
repeated items are bounded. The corpus test (test_protocol_sdk_corpus.py)
checks the same rules against the official SDKs' frames.
"""

from __future__ import annotations

import base64
import pickle

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlive import (
    Blob,
    ContextWindowCompression,
    GenerationConfig,
    LocalProtocolError,
    RealtimeInput,
    RemoteProtocolError,
    SessionResumptionUpdate,
    Setup,
    SlidingWindow,
    decode_client,
    decode_server,
    encode,
)
from rawlive.protocol._schema import MAX_ITEMS_PER_FRAME


def server_roundtrip(frame: bytes) -> bytes:
    return encode(decode_server(frame))


def client_roundtrip(frame: bytes) -> bytes:
    return encode(decode_client(frame))


# ------------------------------------------------------------------ numbers

INT64_FRAMES = [
    # (frame, direction) - every int64 field in both JSON types
    (b'{"sessionResumptionUpdate":{"lastConsumedClientMessageIndex":5}}', "server"),
    (b'{"sessionResumptionUpdate":{"lastConsumedClientMessageIndex":"5"}}', "server"),
    (b'{"setup":{"contextWindowCompression":{"triggerTokens":"1000"}}}', "client"),
    (b'{"setup":{"contextWindowCompression":{"triggerTokens":1000}}}', "client"),
    (b'{"setup":{"contextWindowCompression":{"slidingWindow":{"targetTokens":"10"}}}}', "client"),
    (b'{"setup":{"contextWindowCompression":{"slidingWindow":{"targetTokens":10}}}}', "client"),
    (b'{"setup":{"contextWindowCompression":{"triggerTokens":"0007"}}}', "client"),
    (b'{"setup":{"contextWindowCompression":{"triggerTokens":"-3"}}}', "client"),
]


@pytest.mark.parametrize(("frame", "direction"), INT64_FRAMES)
def test_int64_keeps_its_json_type_and_stays_an_int(frame: bytes, direction: str) -> None:
    roundtrip = server_roundtrip if direction == "server" else client_roundtrip
    assert roundtrip(frame) == frame


def test_int64_values_are_ints_equal_to_plain_ints() -> None:
    sru = decode_server(
        b'{"sessionResumptionUpdate":{"lastConsumedClientMessageIndex":"5"}}'
    ).session_resumption_update
    assert sru is not None
    index = sru.last_consumed_client_message_index
    assert isinstance(index, int) and index == 5 and hash(index) == hash(5)
    assert index + 1 == 6 and type(index + 1) is int  # arithmetic gives plain ints
    assert sru == SessionResumptionUpdate(last_consumed_client_message_index=5)
    assert repr(sru) == "SessionResumptionUpdate(last_consumed_client_message_index=5)"
    again = pickle.loads(pickle.dumps(sru))
    assert encode(again) == b'{"sessionResumptionUpdate":{"lastConsumedClientMessageIndex":"5"}}'
    odd = decode_client(b'{"setup":{"contextWindowCompression":{"triggerTokens":"007"}}}')
    assert encode(pickle.loads(pickle.dumps(odd))) == encode(odd)


def test_python_built_int64_use_the_proto3_default() -> None:
    assert encode(SessionResumptionUpdate(last_consumed_client_message_index=5)) == (
        b'{"sessionResumptionUpdate":{"lastConsumedClientMessageIndex":"5"}}'
    )
    setup = Setup(
        context_window_compression=ContextWindowCompression(
            trigger_tokens=1000, sliding_window=SlidingWindow(target_tokens=10)
        )
    )
    assert encode(setup) == (
        b'{"setup":{"contextWindowCompression":{"triggerTokens":1000,'
        b'"slidingWindow":{"targetTokens":10}}}}'
    )


@settings(max_examples=100, deadline=None)
@given(st.integers(-(2**63), 2**64 - 1), st.booleans())
def test_int64_spelling_round_trips(value: int, as_string: bool) -> None:
    spelled = orjson.dumps(str(value) if as_string else value)
    frame = b'{"setup":{"contextWindowCompression":{"triggerTokens":' + spelled + b"}}}"
    message = decode_client(frame)
    assert message.setup is not None and message.setup.context_window_compression is not None
    assert message.setup.context_window_compression.trigger_tokens == value
    assert encode(message) == frame


@pytest.mark.parametrize(
    "frame",
    [
        b'{"usageMetadata":{"totalTokenCount":18446744073709551616}}',
        b'{"usageMetadata":{"totalTokenCount":1e300}}',
        b'{"usageMetadata":{"totalTokenCount":5.0}}',
        b'{"usageMetadata":{"newCounter":18446744073709551616}}',
        b'{"toolCall":{"functionCalls":[{"args":{"n":18446744073709551616,"f":1e300}}]}}',
    ],
)
def test_huge_and_float_numbers_encode_to_the_same_value_and_type(frame: bytes) -> None:
    again = server_roundtrip(frame)
    assert orjson.loads(again) == orjson.loads(frame)
    assert orjson.dumps(orjson.loads(again)) == orjson.dumps(orjson.loads(frame))


def test_integral_floats_in_int_fields_are_ints_that_print_as_floats() -> None:
    usage = decode_server(b'{"usageMetadata":{"totalTokenCount":20.0}}').usage_metadata
    assert usage is not None and usage.total_token_count == 20
    assert isinstance(usage.total_token_count, int)
    assert encode(usage) == b'{"usageMetadata":{"totalTokenCount":20.0}}'


# ----------------------------------------------------------------- nesting


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"[1]" + b"}" * depth


@pytest.mark.parametrize("depth", [250, 256, 600, 1023])
def test_deeply_nested_free_form_json_encodes(depth: int) -> None:
    # depth counts every level of the frame, as the JSON parser does (limit 1024)
    frame = b'{"toolCall":{"functionCalls":[{"id":"1","args":' + nested(depth - 5) + b"}]}}"
    assert server_roundtrip(frame) == frame
    unknown = b'{"serverContent":{"future":' + nested(depth - 3) + b"}}"
    assert server_roundtrip(unknown) == unknown


def test_nesting_beyond_the_parser_limit_is_a_remote_protocol_error() -> None:
    frame = b'{"x":' + nested(2000) + b"}"
    with pytest.raises(RemoteProtocolError, match="not valid JSON"):
        decode_server(frame)


def test_values_built_in_python_that_are_not_json_raise_a_rawlive_error() -> None:
    with pytest.raises(LocalProtocolError, match="cannot encode"):
        encode(Setup(labels={"a": {1, 2}}))  # type: ignore[dict-item]
    # Python ints beyond 64 bits have an exact JSON spelling, so they encode.
    assert encode(Setup(generation_config=GenerationConfig(seed=2**70))) == (
        b'{"setup":{"generationConfig":{"seed":1180591620717411303424}}}'
    )


@pytest.mark.parametrize("value", [b"bytes", b'1,"injected":true', bytearray(b"x")])
def test_a_bytes_value_is_refused_never_written_raw(value: bytes) -> None:
    # The writer behind encode() once emitted a bytes value as it was: the
    # frame was not JSON ({"text":bytes}), or carried fields nobody built.
    from rawlive import ClientContent, Content
    from rawlive.protocol.codec import encode_json

    with pytest.raises(LocalProtocolError, match="cannot encode"):
        encode(ClientContent(turns=(Content.user_text(value),)))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="cannot encode"):
        encode_json({"toolResponse": {"functionResponses": [{"response": {"r": value}}]}})


# ------------------------------------------------------------------ base64

RAW = bytes([0xFB, 0xFF, 0x00, 0x01, 0xFF, 0xFE, 0xFB])


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(RAW).decode(),
        base64.urlsafe_b64encode(RAW).decode(),
        base64.b64encode(RAW).decode().rstrip("="),
        base64.urlsafe_b64encode(RAW).decode().rstrip("="),
        "+_8A",  # mixed alphabets: kept verbatim
        "AB",  # non-zero trailing bits in unpadded text: kept verbatim
    ],
)
def test_base64_keeps_the_alphabet_and_padding_it_came_in(text: str) -> None:
    for frame in (
        b'{"realtime_input":{"audio":{"data":"' + text.encode() + b'"}}}',
        b'{"realtimeInput":{"mediaChunks":[{"data":"' + text.encode() + b'"}]}}',
    ):
        assert orjson.loads(client_roundtrip(frame))["realtimeInput"] == (
            orjson.loads(frame).get("realtime_input") or orjson.loads(frame)["realtimeInput"]
        )
    server = b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm",'
    server += b'"data":"' + text.encode() + b'"}}]}}}'  # the fast path
    assert server_roundtrip(server) == server
    assert encode(pickle.loads(pickle.dumps(decode_server(server)))) == server


def test_spelled_bytes_are_plain_bytes_to_the_user() -> None:
    url = base64.urlsafe_b64encode(RAW).decode()
    message = decode_client(b'{"realtimeInput":{"audio":{"data":"' + url.encode() + b'"}}}')
    assert message.realtime_input is not None and message.realtime_input.audio is not None
    data = message.realtime_input.audio.data
    assert data == RAW and hash(data) == hash(RAW) and isinstance(data, bytes)
    assert type(data[1:]) is bytes and type(data + b"") is bytes
    assert message.realtime_input.audio == Blob(data=RAW)
    again = pickle.loads(pickle.dumps(message))
    assert orjson.loads(encode(again))["realtimeInput"]["audio"]["data"] == url


def test_messages_built_in_python_use_standard_base64() -> None:
    frame = encode(RealtimeInput(audio=Blob(mime_type="audio/pcm", data=RAW)))
    assert orjson.loads(frame)["realtimeInput"]["audio"]["data"] == base64.b64encode(RAW).decode()
    frame = encode(RealtimeInput(audio=Blob(data=bytearray(RAW))))
    assert orjson.loads(frame)["realtimeInput"]["audio"]["data"] == base64.b64encode(RAW).decode()


# ------------------------------------------------------- two spellings, one field


@pytest.mark.parametrize(
    ("frame", "path"),
    [
        (b'{"serverContent":{"turnComplete":true,"turn_complete":false}}', "turn_complete"),
        (b'{"serverContent":{"turnComplete":true,"turn_complete":true}}', "turn_complete"),
        (b'{"client_content":{"turns":[]},"clientContent":null}', "clientContent"),
        (b'{"clientContent":null,"client_content":{"turns":[]}}', "client_content"),
        (
            b'{"toolCall":{"functionCalls":[{"id":"a","name":"f"},{"id":"b","id":"c"}]}}',
            "",  # orjson keeps the last of two equal keys: not a spelling problem
        ),
    ],
)
def test_a_field_given_under_both_spellings_is_refused(frame: bytes, path: str) -> None:
    decode = decode_client if b"client" in frame else decode_server
    if not path:
        decode(frame)
        return
    with pytest.raises(RemoteProtocolError, match="field given twice") as info:
        decode(frame)
    assert info.value.path.endswith(path)
    assert info.value.frame == frame


def test_explicit_nulls_are_kept_verbatim() -> None:
    for frame in (
        b'{"serverContent":{"turnComplete":null,"turn_complete":null}}',
        b'{"serverContent":{"turnComplete":null,"interrupted":true}}',
        b'{"clientContent":null}',
    ):
        decode = decode_client if b"client" in frame else decode_server
        assert orjson.loads(encode(decode(frame))) == orjson.loads(frame)


# ----------------------------------------------------------------- amplification


def parts_frame(n: int) -> bytes:
    return b'{"serverContent":{"modelTurn":{"parts":[' + b",".join([b"{}"] * n) + b"]}}}"


def test_a_frame_may_hold_max_items_repeated_items() -> None:
    message = decode_server(parts_frame(MAX_ITEMS_PER_FRAME))
    assert message.server_content is not None and message.server_content.model_turn is not None
    assert len(message.server_content.model_turn.parts or ()) == MAX_ITEMS_PER_FRAME


def test_more_repeated_items_than_the_bound_are_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="too many items") as info:
        decode_server(parts_frame(MAX_ITEMS_PER_FRAME + 1))
    assert info.value.path == "serverContent.modelTurn.parts"
    # The bound is per frame, not per list: 11 turns of 10,000 parts each.
    turn = b'{"parts":[' + b",".join([b"{}"] * 10_000) + b"]}"
    frame = b'{"clientContent":{"turns":[' + b",".join([turn] * 11) + b"]}}"
    with pytest.raises(RemoteProtocolError, match="too many items"):
        decode_client(frame)
    # ...and it starts afresh with every frame.
    decode_server(parts_frame(MAX_ITEMS_PER_FRAME))


# ------------------------------------------------------------------- decisions


def test_resumable_as_a_string_is_refused() -> None:
    # The service sends a JSON boolean. A string would be truthy even as "false",
    # so rawlive refuses it (with the path) rather than guess.
    for text in (b'"true"', b'"false"'):
        with pytest.raises(RemoteProtocolError, match="expected a boolean") as info:
            decode_server(b'{"sessionResumptionUpdate":{"resumable":' + text + b"}}")
        assert info.value.path == "sessionResumptionUpdate.resumable"


def test_standard_base64_with_stray_trailing_bits_comes_back_canonical() -> None:
    # Documented in docs/capture-format.md: no encoder writes "AB==", and
    # checking for it would cost the audio hot path.
    frame = b'{"realtimeInput":{"audio":{"data":"AB=="}}}'
    assert client_roundtrip(frame) == b'{"realtimeInput":{"audio":{"data":"AA=="}}}'
