"""The codec: fixtures round-trip, both spellings decode, bad input fails clearly."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rawlive
from rawlive import (
    Blob,
    ClientContent,
    Content,
    FunctionCall,
    FunctionResponse,
    GoAway,
    ModalityTokenCount,
    Part,
    RealtimeInput,
    RemoteProtocolError,
    ServerContent,
    ServerMessage,
    SessionResumptionUpdate,
    Setup,
    ToolCall,
    ToolResponse,
    UsageMetadata,
    decode_client,
    decode_server,
    encode,
)
from rawlive.protocol._schema import decode_object

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _frames() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted(FIXTURES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = orjson.loads(line)
            if record.get("kind") == "frame" and "data" in record:
                out.append((path.name, record["dir"], record["data"]))
    return out


FRAMES = _frames()


def _has_snake_keys(value: Any, opaque: bool = False) -> bool:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("args", "response", "parameters"):
                continue
            if "_" in key:
                return True
            if _has_snake_keys(item):
                return True
    elif isinstance(value, list):
        return any(_has_snake_keys(v) for v in value)
    return False


def test_fixtures_exist() -> None:
    assert len(FRAMES) > 40
    assert {d for _, d, _ in FRAMES} == {"client", "server"}


@pytest.mark.parametrize(("name", "direction", "data"), FRAMES)
def test_every_fixture_frame_round_trips(name: str, direction: str, data: str) -> None:
    decode = decode_server if direction == "server" else decode_client
    message = decode(data)
    again = decode(encode(message))
    assert again == message
    original = orjson.loads(data)
    if not _has_snake_keys(original):
        # camelCase frames come back as the very same JSON value
        assert orjson.loads(encode(message)) == original


def test_seed_server_frames_reencode_byte_for_byte() -> None:
    # These fixtures hold the seed tutorial's printed server frames verbatim
    # (fixtures/README.md); compact camelCase frames come back byte for byte.
    printed = [
        data
        for name, direction, data in FRAMES
        if name.startswith("seed_resum") and direction == "server"
    ]
    assert len(printed) >= 20
    for text in printed:
        assert encode(decode_server(text)).decode() == text


def test_seed_end_of_turn_frame_keeps_both_payloads() -> None:
    frame = (
        '{"serverContent":{"turnComplete":true},"usageMetadata":{"promptTokenCount":9,'
        '"responseTokenCount":11,"totalTokenCount":20,"promptTokensDetails":[{"modality":"TEXT",'
        '"tokenCount":9}],"responseTokensDetails":[{"modality":"TEXT","tokenCount":11}]}}'
    )
    message = decode_server(frame.encode())
    assert message.kinds == ("serverContent", "usageMetadata")
    assert message.server_content is not None and message.server_content.turn_complete
    assert message.usage_metadata == UsageMetadata(
        prompt_token_count=9,
        response_token_count=11,
        total_token_count=20,
        prompt_tokens_details=[ModalityTokenCount(modality="TEXT", token_count=9)],
        response_tokens_details=[ModalityTokenCount(modality="TEXT", token_count=11)],
    )


def test_snake_case_client_frames_decode_and_opaque_json_is_verbatim() -> None:
    frame = (
        '{"tool_response": {"function_responses": [{"id": "function-call-12001301744900464704", '
        '"name": "turn_on_the_lights", "response": {"result": {"string_value": "ok"}}}]}}'
    )
    message = decode_client(frame)
    assert message.tool_response is not None
    (response,) = message.tool_response.function_responses or ()
    assert response.id == "function-call-12001301744900464704"
    assert response.response == {"result": {"string_value": "ok"}}
    wire = orjson.loads(encode(message))
    assert wire == {
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


def test_sdk_mixed_casing_setup_decodes() -> None:
    frame = {
        "setup": {
            "model": "models/x",
            "generationConfig": {"responseModalities": ["AUDIO"]},
            "realtimeInputConfig": {"automatic_activity_detection": {"disabled": True}},
            "speechConfig": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Puck"}}},
        }
    }
    message = decode_client(orjson.dumps(frame))
    assert message.setup is not None
    assert message.setup.vad_enabled is False
    # speechConfig at setup level is not a setup field: kept verbatim as unknown
    assert message.setup.extra["speechConfig"]["voice_config"]["prebuilt_voice_config"] == {
        "voice_name": "Puck"
    }
    assert orjson.loads(encode(message))["setup"]["realtimeInputConfig"] == {
        "automaticActivityDetection": {"disabled": True}
    }


def test_function_args_and_schema_property_names_are_not_case_converted() -> None:
    call = FunctionCall(id="1", name="get_weather", args={"location_name": "Paris"})
    decoded = decode_server(encode(ToolCall(function_calls=[call])))
    assert decoded.tool_call is not None
    assert decoded.tool_call.function_calls == (call,)
    setup = decode_client(
        orjson.dumps(
            {
                "setup": {
                    "model": "m",
                    "tools": [
                        {
                            "function_declarations": [
                                {
                                    "name": "f",
                                    "parameters": {
                                        "type": "OBJECT",
                                        "properties": {"location_name": {"type": "STRING"}},
                                    },
                                }
                            ]
                        }
                    ],
                }
            }
        )
    )
    wire = orjson.loads(encode(setup))
    props = wire["setup"]["tools"][0]["functionDeclarations"][0]["parameters"]["properties"]
    assert list(props) == ["location_name"]


def test_unknown_fields_are_kept_at_every_depth() -> None:
    frame = {
        "serverContent": {
            "modelTurn": {"parts": [{"text": "hi", "futurePartField": {"a": [1, 2]}}], "z": 1},
            "brandNewSignal": True,
        },
        "usageMetadata": {"totalTokenCount": 3, "newCounter": 7},
        "someFutureTopLevelKey": {"x": None},
    }
    message = decode_server(orjson.dumps(frame))
    assert message.kinds == ("serverContent", "usageMetadata", "someFutureTopLevelKey")
    assert orjson.loads(encode(message)) == frame


def test_int64_as_string_and_duration() -> None:
    message = decode_server(
        b'{"sessionResumptionUpdate":{"newHandle":"h","resumable":true,'
        b'"lastConsumedClientMessageIndex":"123456789"}}'
    )
    sru = message.session_resumption_update
    assert sru is not None and sru.last_consumed_client_message_index == 123456789
    assert orjson.loads(encode(message)) == orjson.loads(
        b'{"sessionResumptionUpdate":{"newHandle":"h","resumable":true,'
        b'"lastConsumedClientMessageIndex":"123456789"}}'
    )
    for text, seconds in (("50s", 50.0), ("1.5s", 1.5), ("0.000000001s", 1e-9)):
        go = decode_server(orjson.dumps({"goAway": {"timeLeft": text}})).go_away
        assert go is not None and go.time_left == text and go.time_left_seconds == seconds


def test_base64_variants_decode_to_the_same_bytes() -> None:
    raw = bytes(range(251, 256)) + b"\xff\xd8\xff"
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    for text in (std, url, std.rstrip("="), url.rstrip("=")):
        frame = {"realtimeInput": {"video": {"mimeType": "image/jpeg", "data": text}}}
        message = decode_client(orjson.dumps(frame))
        assert message.realtime_input is not None and message.realtime_input.video is not None
        assert message.realtime_input.video.data == raw


BAD_FRAMES = [
    (b"not json", "not valid JSON", ""),
    (b"[1, 2]", "not an object", ""),
    (b'"text"', "not an object", ""),
    (
        b'{"serverContent": {"turnComplete": "yes"}}',
        "expected a boolean",
        "serverContent.turnComplete",
    ),
    (b'{"serverContent": []}', "expected an object", "serverContent"),
    (
        b'{"serverContent":{"modelTurn":{"parts":[{"text":"a"},{"inlineData":{"data":"AAE"}}]}}}',
        "",
        "",
    ),
    (
        b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAEAA"}}]}}}',
        "truncated base64",
        "serverContent.modelTurn.parts[0].inlineData.data",
    ),
    (
        b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"A$B="}}]}}}',
        "invalid base64",
        "serverContent.modelTurn.parts[0].inlineData.data",
    ),
    (b'{"goAway": {"timeLeft": "soon"}}', "duration", "goAway.timeLeft"),
    (b'{"goAway": {"timeLeft": 50}}', "duration", "goAway.timeLeft"),
    (b'{"usageMetadata": {"totalTokenCount": "x"}}', "integer", "usageMetadata.totalTokenCount"),
    (
        b'{"toolCall": {"functionCalls": [{"id": "1", "args": []}]}}',
        "expected an object",
        "toolCall.functionCalls[0].args",
    ),
    (b'{"toolCallCancellation": {"ids": ["a", 2]}}', "string", "toolCallCancellation.ids[1]"),
]


@pytest.mark.parametrize(("frame", "needle", "path"), BAD_FRAMES)
def test_bad_server_frames_raise_remote_protocol_error(
    frame: bytes, needle: str, path: str
) -> None:
    if not needle:  # "AAE" is valid unpadded base64: this frame must decode
        assert decode_server(frame).server_content is not None
        return
    with pytest.raises(RemoteProtocolError) as info:
        decode_server(frame)
    assert needle in str(info.value)
    assert info.value.path == path
    assert info.value.frame == frame


def test_error_text_shortens_huge_frames_but_keeps_them() -> None:
    frame = b'{"serverContent": {"turnComplete": "' + b"x" * 100_000 + b'"}}'
    with pytest.raises(RemoteProtocolError) as info:
        decode_server(frame)
    assert len(str(info.value)) < 600
    assert "more chars" in str(info.value)
    assert info.value.frame == frame


def test_client_encoding_is_compact_camel_case() -> None:
    frame = encode(ClientContent(turns=[Content.user_text("Hello")], turn_complete=True))
    assert frame == (
        b'{"clientContent":{"turns":[{"role":"user","parts":[{"text":"Hello"}]}],'
        b'"turnComplete":true}}'
    )
    assert encode(
        RealtimeInput(audio=Blob(mime_type="audio/pcm;rate=16000", data=b"\x00\x01"))
    ) == (b'{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=16000","data":"AAE="}}}')
    assert encode(Setup(model="models/m")) == b'{"setup":{"model":"models/m"}}'


def test_messages_are_frozen_and_repr_hides_bytes() -> None:
    blob = Blob(mime_type="audio/pcm;rate=24000", data=b"\x00" * 1920)
    with pytest.raises(AttributeError):
        blob.data = b""  # type: ignore[misc]
    assert repr(blob) == "Blob(mime_type='audio/pcm;rate=24000', data=<1920 bytes>)"
    with pytest.raises(TypeError, match="unexpected keyword"):
        Part(txt="x")  # type: ignore[call-arg]


# ------------------------------------------------------------------ properties

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
texts = st.text(max_size=20)

parts = st.one_of(
    st.builds(Part, text=texts),
    st.builds(Part, text=texts, thought=st.booleans()),
    st.builds(
        Part,
        inline_data=st.builds(
            Blob,
            mime_type=st.sampled_from(["audio/pcm;rate=24000", "image/jpeg"]),
            data=st.binary(max_size=64),
        ),
    ),
    st.builds(
        Part,
        function_call=st.builds(FunctionCall, id=texts, name=texts, args=json_objects),
    ),
)
server_payloads = st.one_of(
    st.builds(
        ServerContent,
        model_turn=st.builds(Content, role=st.just("model"), parts=st.lists(parts, max_size=3)),
        turn_complete=st.none() | st.booleans(),
        interrupted=st.none() | st.booleans(),
    ),
    st.builds(GoAway, time_left=st.sampled_from(["50s", "1.5s", "0s"])),
    st.builds(
        SessionResumptionUpdate,
        new_handle=texts,
        resumable=st.booleans(),
        last_consumed_client_message_index=st.none() | st.integers(0, 2**62),
    ),
    st.builds(
        ToolCall,
        function_calls=st.lists(st.builds(FunctionCall, id=texts, args=json_objects), max_size=2),
    ),
    st.builds(
        UsageMetadata,
        prompt_token_count=st.integers(0, 10**6),
        total_token_count=st.integers(0, 10**6),
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(server_payloads, min_size=1, max_size=3, unique_by=lambda p: type(p)), json_objects)
def test_server_messages_round_trip(payloads: list[Any], unknown: dict[str, Any]) -> None:
    unknown = {f"x{key}": value for key, value in unknown.items()}
    message = ServerMessage.bundle(*payloads, **unknown)
    decoded = decode_server(encode(message))
    assert decoded == message
    assert orjson.loads(encode(decoded)) == orjson.loads(encode(message))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.builds(FunctionResponse, id=texts, name=texts, response=json_objects), max_size=3)
)
def test_tool_responses_round_trip(responses: list[FunctionResponse]) -> None:
    message = ToolResponse(function_responses=responses)
    decoded = decode_client(encode(message))
    assert decoded.tool_response == message


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=4000), st.sampled_from(["audio/pcm;rate=24000", "audio/pcm"]), st.booleans()
)
def test_fast_path_matches_generic_decoding(pcm: bytes, mime: str, urlsafe: bool) -> None:
    data = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(pcm).decode()
    value = {
        "serverContent": {
            "modelTurn": {"parts": [{"inlineData": {"mimeType": mime, "data": data}}]}
        }
    }
    fast = decode_server(orjson.dumps(value))
    generic = decode_object(ServerMessage, value)
    assert fast == generic
    assert fast.audio == pcm


def test_pure_layers_do_not_import_asyncio_or_websockets() -> None:
    code = (
        "import sys, rawlive, rawlive.protocol, rawlive.audio, rawlive.protocol.session;"
        "bad = [m for m in ('asyncio', 'websockets') if m in sys.modules];"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_version_and_exports() -> None:
    assert rawlive.__version__
    assert rawlive.__all__ == sorted(rawlive.__all__)
    for name in rawlive.__all__:
        assert getattr(rawlive, name) is not None
