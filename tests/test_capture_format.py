"""Tests for rawlive.capture.format: records, reader, writer and the fixtures."""

from __future__ import annotations

import base64
import os
import stat
import struct
from pathlib import Path

import orjson
import pytest

from rawlive.capture.format import (
    FORMAT_VERSION,
    Capture,
    CaptureFormatError,
    CaptureMeta,
    CaptureWriter,
    CloseRecord,
    FrameRecord,
    JSONObject,
    OpenRecord,
    UnknownRecord,
    iter_capture,
    parse_redaction_marker,
    read_capture,
    record_from_json,
    redact_endpoint,
    redaction_marker,
    write_capture,
)
from rawlive.errors import LiveError, LocalProtocolError, WriterClosedError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SEED = FIXTURES / "sources" / "live_api_quickstart_output.txt"

FIXTURE_NAMES = (
    "close_goaway.jsonl",
    "fake_handover_audio.jsonl",
    "fake_tool_call.jsonl",
    "real_messages.jsonl",
    "sdk_repr_messages.jsonl",
    "seed_audio_turns.jsonl",
    "seed_resumable_session.jsonl",
    "seed_resumed_session.jsonl",
    "seed_text_session.jsonl",
)
ALL_FIXTURES = sorted(FIXTURES.glob("*.jsonl"))


def _fixture(name: str) -> Capture:
    return read_capture(FIXTURES / name)


def _lines(*objs: object) -> list[str]:
    return [orjson.dumps(o).decode() for o in objs]


META: JSONObject = {"kind": "meta", "format": "rawlive-capture", "version": 1}
FRAME: JSONObject = {
    "kind": "frame",
    "conn": 1,
    "t": 0.5,
    "dir": "server",
    "type": "binary",
    "data": "{}",
}


# -- fixtures ---------------------------------------------------------------------------


def test_every_expected_fixture_exists() -> None:
    assert sorted(p.name for p in ALL_FIXTURES) == sorted(FIXTURE_NAMES)


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_fixture_reads_and_frames_are_json_objects(path: Path) -> None:
    capture = read_capture(path)
    assert capture.meta is not None
    assert capture.meta.version == FORMAT_VERSION
    assert capture.meta.note, "every fixture says what is verbatim and what is not"
    frames = capture.frames()
    assert frames
    for frame in frames:
        assert isinstance(orjson.loads(frame.payload), dict)
        if frame.dir == "client":
            assert frame.type == "text"


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_fixture_round_trip_is_lossless(path: Path, tmp_path: Path) -> None:
    capture = read_capture(path)
    out = tmp_path / path.name
    with CaptureWriter.with_meta(out, capture.meta or CaptureMeta()) as writer:
        for record in capture.records:
            writer.write(record)
    again = read_capture(out)
    assert again == capture
    # The fixtures were written by CaptureWriter, so the bytes match too.
    assert out.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_fixture_endpoints_carry_no_secrets(path: Path) -> None:
    for record in read_capture(path).opens():
        assert redact_endpoint(record.endpoint) == record.endpoint


def _seed_received_messages() -> list[str]:
    prefix = "Received message: "
    text = SEED.read_text(encoding="utf-8")
    return [line[len(prefix) :] for line in text.split("\n") if line.startswith(prefix)]


def test_seed_fixtures_hold_the_seed_server_frames_byte_for_byte() -> None:
    printed = _seed_received_messages()
    first = _fixture("seed_resumable_session.jsonl").frames(dir="server")
    resumed = _fixture("seed_resumed_session.jsonl").frames(dir="server")
    assert len(printed) == len(first) + len(resumed) == 20
    for frame, line in zip(first + resumed, printed, strict=True):
        assert frame.type == "binary"
        assert frame.payload == line.encode("utf-8")


def test_seed_resumable_session_shape() -> None:
    capture = _fixture("seed_resumable_session.jsonl")
    client = [orjson.loads(f.payload) for f in capture.frames(dir="client")]
    assert client[0] == {
        "setup": {
            "model": "models/gemini-2.0-flash-live-001",
            "generationConfig": {"responseModalities": ["TEXT"]},
            "sessionResumption": {},
        }
    }
    texts = [c["clientContent"]["turns"][0]["parts"][0]["text"] for c in client[1:]]
    assert texts == ["Hello", "What is the capital of Brazil?"]
    # The second turn goes out right after the first turnComplete.
    kinds = [(r.dir, orjson.loads(r.payload)) for r in capture.frames()]
    brazil = next(i for i, (d, m) in enumerate(kinds) if d == "client" and "Brazil" in str(m))
    assert kinds[brazil - 1][1]["serverContent"] == {"turnComplete": True}
    assert capture.closes() == (
        CloseRecord(conn=1, t=capture.closes()[0].t, by="client", code=1000),
    )


def test_seed_resumed_session_uses_the_last_handle_of_the_first() -> None:
    first = _fixture("seed_resumable_session.jsonl").frames(dir="server")
    handle = orjson.loads(first[-1].payload)["sessionResumptionUpdate"]["newHandle"]
    setup = orjson.loads(_fixture("seed_resumed_session.jsonl").frames(dir="client")[0].payload)
    assert setup["setup"]["sessionResumption"] == {"handle": handle}


def test_seed_text_session_carries_the_printed_texts() -> None:
    capture = _fixture("seed_text_session.jsonl")
    parts = [
        orjson.loads(f.payload)["serverContent"]["modelTurn"]["parts"][0]["text"]
        for f in capture.frames(dir="server")
        if "modelTurn" in f.text
    ]
    assert parts == ["Yes, I am", "here! How can I help you today?"]
    last = orjson.loads(capture.frames(dir="server")[-1].payload)
    assert last["serverContent"] == {"turnComplete": True}
    assert last["usageMetadata"]["totalTokenCount"] == 27


def test_seed_audio_turns_are_24khz_pcm_in_40ms_chunks() -> None:
    capture = _fixture("seed_audio_turns.jsonl")
    turns: list[bytes] = []
    current = b""
    for frame in capture.frames(dir="server"):
        msg = orjson.loads(frame.payload)
        content = msg.get("serverContent", {})
        if "modelTurn" in content:
            blob = content["modelTurn"]["parts"][0]["inlineData"]
            assert blob["mimeType"] == "audio/pcm;rate=24000"
            chunk = base64.b64decode(blob["data"], validate=True)
            assert len(chunk) == 1920  # 40 ms of 16-bit mono at 24 kHz
            current += chunk
        elif content.get("turnComplete"):
            assert msg["usageMetadata"]["responseTokensDetails"] == [
                {"modality": "AUDIO", "tokenCount": 10}
            ]
            turns.append(current)
            current = b""
    assert [len(t) for t in turns] == [19200, 19200, 19200]
    samples = struct.unpack(f"<{len(turns[0]) // 2}h", turns[0])
    assert max(samples) > 1000  # a tone, not silence
    prompts = [
        orjson.loads(f.payload)["clientContent"]["turns"][0]["parts"][0]["text"]
        for f in capture.frames(dir="client")[1:]
    ]
    assert prompts == [
        "Hello? Gemini are you there?",
        "Can you tell me a joke?",
        "What is the weather like today?",
    ]


def test_real_messages_fixture_keeps_sources() -> None:
    capture = _fixture("real_messages.jsonl")
    frames = capture.frames()
    assert capture.connections() == (1,)
    assert all(isinstance(f.extra.get("source"), str) for f in frames)
    assert {f.type for f in capture.frames(dir="client")} == {"text"}
    assert {f.type for f in capture.frames(dir="server")} == {"binary"}
    assert b'{"goAway":{"timeLeft":"50s"}}' in [f.payload for f in frames]


def _keys(value: object, path: str = "") -> list[str]:
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            found.append(f"{path}.{key}")
            if key not in ("args", "response"):
                found += _keys(item, f"{path}.{key}")
        return found
    if isinstance(value, list):
        return [k for item in value for k in _keys(item, path)]
    return []


def test_sdk_repr_fixture_is_in_wire_form() -> None:
    frames = _fixture("sdk_repr_messages.jsonl").frames()
    messages = [orjson.loads(f.payload) for f in frames]
    snake = [k for m in messages for k in _keys(m) if "_" in k.rsplit(".", 1)[-1]]
    assert snake == []
    assert all("source" in f.extra for f in frames)
    assert {"sessionResumptionUpdate": {"newHandle": "CgxpZ3BlMWFzcjA2eWU", "resumable": True}} in (
        messages
    )
    parts = [m["serverContent"]["modelTurn"]["parts"][0] for m in messages if "modelTurn" in str(m)]
    assert {next(iter(p)) for p in parts} == {"executableCode", "codeExecutionResult"}
    calls = [m["toolCall"]["functionCalls"][0] for m in messages if "toolCall" in m]
    assert calls and all(c["args"] == {} and c["name"] == "get_weather_vegas" for c in calls)


def test_close_goaway_fixture_ends_with_goaway_then_server_1011() -> None:
    capture = _fixture("close_goaway.jsonl")
    assert capture.frames()[-1].payload == b'{"goAway":{"timeLeft":"50s"}}'
    assert isinstance(capture.records[-1], CloseRecord)
    close = capture.closes()[-1]
    assert (close.by, close.code, close.reason, close.dropped) == (
        "server",
        1011,
        "Deadline expired before operation could complete.",
        False,
    )
    assert close.t - capture.frames()[-1].t == 50.0


# -- records ----------------------------------------------------------------------------


def test_frame_from_payload_text_and_utf8_binary() -> None:
    text = FrameRecord.from_payload(conn=1, t=0.0, dir="client", payload='{"a":"é"}')
    assert (text.type, text.data, text.payload) == ("text", '{"a":"é"}', '{"a":"é"}')
    raw = '{"a":"é"}'.encode()
    binary = FrameRecord.from_payload(conn=1, t=0.0, dir="server", payload=raw)
    assert (binary.type, binary.data, binary.data_b64) == ("binary", '{"a":"é"}', None)
    assert binary.payload == raw
    assert binary.text == '{"a":"é"}'


def test_frame_non_utf8_binary_uses_base64() -> None:
    raw = b"\xff\xfe\x00\x80"
    frame = FrameRecord.from_payload(conn=2, t=1.0, dir="server", payload=raw)
    assert frame.data is None
    assert frame.data_b64 == base64.b64encode(raw).decode()
    assert frame.payload == raw
    with pytest.raises(CaptureFormatError, match="not UTF-8"):
        _ = frame.text


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dir": "up"}, "'dir'"),
        ({"type": "ping"}, "'type'"),
        ({"data": None}, "exactly one"),
        ({"data_b64": "AA=="}, "exactly one"),
        ({"conn": 0}, "'conn'"),
        ({"t": -1.0}, "'t'"),
        ({"t": float("nan")}, "'t'"),
        ({"extra": {"dir": "x"}}, "shadow"),
    ],
)
def test_frame_rejects_bad_fields(kwargs: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {"conn": 1, "t": 0.0, "dir": "client", "type": "text", "data": "{}"}
    fields.update(kwargs)
    with pytest.raises(CaptureFormatError, match=match):
        FrameRecord(**fields)  # type: ignore[arg-type]


def test_text_frame_cannot_carry_base64() -> None:
    with pytest.raises(CaptureFormatError, match="text frame"):
        FrameRecord(conn=1, t=0.0, dir="client", type="text", data_b64="AA==")


def test_close_record_dropped_invariants() -> None:
    dropped = CloseRecord(conn=1, t=2.0, by=None, code=1006, dropped=True)
    assert dropped.to_json() == {
        "kind": "close",
        "conn": 1,
        "t": 2.0,
        "by": None,
        "code": 1006,
        "reason": "",
        "dropped": True,
    }
    with pytest.raises(CaptureFormatError, match="dropped"):
        CloseRecord(conn=1, t=2.0, by="server", code=1006, dropped=True)
    with pytest.raises(CaptureFormatError, match="dropped"):
        CloseRecord(conn=1, t=2.0, by=None, code=1011, dropped=True)


def test_unknown_kinds_and_keys_are_preserved() -> None:
    capture = read_capture(
        _lines(
            {**META, "future": {"x": [1, 2]}},
            {"kind": "mark", "t": 1.0, "label": "barge-in"},
            {**FRAME, "source": "somewhere", "latency_ms": 12},
            {"kind": "open", "conn": 2, "t": 3.0, "endpoint": "wss://x", "tls": "1.3"},
        )
    )
    assert capture.meta is not None
    assert capture.meta.extra == {"future": {"x": [1, 2]}}
    mark, frame, opened = capture.records
    assert mark == UnknownRecord(kind="mark", extra={"t": 1.0, "label": "barge-in"})
    assert isinstance(frame, FrameRecord)
    assert frame.extra == {"source": "somewhere", "latency_ms": 12}
    assert isinstance(opened, OpenRecord)
    assert opened.model is None
    assert opened.extra == {"tls": "1.3"}
    assert mark.to_json() == {"kind": "mark", "t": 1.0, "label": "barge-in"}
    assert frame.to_json() == {**FRAME, "source": "somewhere", "latency_ms": 12}


def test_record_from_json_dispatches_on_kind() -> None:
    assert isinstance(record_from_json(META), CaptureMeta)
    assert isinstance(record_from_json(FRAME), FrameRecord)
    assert isinstance(record_from_json({"kind": "x"}), UnknownRecord)
    with pytest.raises(CaptureFormatError, match="no 'kind'"):
        record_from_json({"conn": 1})
    with pytest.raises(CaptureFormatError, match="known record kind"):
        UnknownRecord(kind="frame")


def test_capture_helpers() -> None:
    capture = read_capture(
        _lines(
            {"kind": "open", "conn": 1, "t": 0.0, "endpoint": "wss://a", "model": "models/m"},
            {**FRAME, "dir": "client", "type": "text", "t": 0.1},
            {**FRAME, "t": 0.2},
            {"kind": "close", "conn": 1, "t": 0.3, "by": None, "code": 1006, "dropped": True},
            {"kind": "open", "conn": 2, "t": 1.0, "endpoint": "wss://a"},
            {**FRAME, "conn": 2, "t": 1.1},
            {"kind": "close", "conn": 2, "t": 1.2, "by": "server", "code": 1011, "reason": "x"},
        )
    )
    assert capture.meta is None
    assert capture.version == 1
    assert capture.connections() == (1, 2)
    assert [f.t for f in capture.frames()] == [0.1, 0.2, 1.1]
    assert [f.t for f in capture.frames(dir="server")] == [0.2, 1.1]
    assert [f.t for f in capture.frames(dir="server", conn=1)] == [0.2]
    assert [c.code for c in capture.closes()] == [1006, 1011]
    assert [o.conn for o in capture.opens()] == [1, 2]


# -- reader errors ----------------------------------------------------------------------


def _frame_without(key: str) -> JSONObject:
    return {k: v for k, v in FRAME.items() if k != key}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (_frame_without("dir"), "frame record has no 'dir'"),
        ({**FRAME, "t": "0.5"}, "'t' must be a number of seconds, got string"),
        ({**FRAME, "t": True}, "'t' must be a number of seconds, got boolean"),
        ({**FRAME, "conn": "1"}, "'conn' must be an integer"),
        ({**FRAME, "data": 5}, "'data' must be a string"),
        ({**_frame_without("data"), "data_b64": "@@"}, "not standard base64"),
        ({"kind": "close", "conn": 1, "t": 0.5, "by": "server"}, "no 'code'"),
        ({"kind": "close", "conn": 1, "t": 0.5, "by": "x", "code": 1000}, "'by'"),
        ({"kind": "open", "conn": 1, "t": 0.5}, "no 'endpoint'"),
        ({"kind": 7}, "'kind' must be a string"),
        (META, "only on the first line"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad: object, match: str) -> None:
    path = tmp_path / "bad.jsonl"
    bad_line = bad if isinstance(bad, str) else orjson.dumps(bad).decode()
    good = [orjson.dumps(META).decode(), orjson.dumps(FRAME).decode(), ""]
    path.write_text("\n".join([*good, bad_line]) + "\n", encoding="utf-8")
    with pytest.raises(CaptureFormatError, match=match) as info:
        read_capture(path)
    err = info.value
    assert err.lineno == 4  # the blank line still counts
    assert err.filename == str(path)
    assert str(err).startswith(f"{path}, line 4: ")
    assert isinstance(err, LiveError)
    assert isinstance(err, ValueError)


def test_newer_version_is_refused_clearly() -> None:
    with pytest.raises(CaptureFormatError, match="version 2 is newer") as info:
        read_capture(_lines({**META, "version": 2}, FRAME), name="future.jsonl")
    assert info.value.lineno == 1
    assert str(info.value).startswith("future.jsonl, line 1: ")


def test_other_format_is_refused() -> None:
    with pytest.raises(CaptureFormatError, match="not a rawlive capture"):
        read_capture(_lines({**META, "format": "har"}))


def test_iter_capture_streams_bytes_lines() -> None:
    lines = [orjson.dumps(META) + b"\n", orjson.dumps(FRAME) + b"\n", b"{oops\n"]
    stream = iter_capture(lines)
    assert isinstance(next(stream), CaptureMeta)
    assert isinstance(next(stream), FrameRecord)
    with pytest.raises(CaptureFormatError, match=r"^<lines>, line 3: not valid JSON"):
        next(stream)


# -- writer -----------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writer_creates_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    old_umask = os.umask(0)
    try:
        with CaptureWriter(path):
            pass
    finally:
        os.umask(old_umask)
    assert _mode(path) == 0o600


def test_writer_tightens_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    path.write_text("old contents\n")
    path.chmod(0o644)
    with CaptureWriter(path, source="s"):
        pass
    assert _mode(path) == 0o600
    capture = read_capture(path)
    assert capture.records == ()
    assert capture.meta is not None and capture.meta.source == "s"


def test_writer_flushes_every_record(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    writer = CaptureWriter(path, note="n")
    try:
        meta = read_capture(path).meta
        assert meta is not None and meta.note == "n" and meta.created and meta.tool
        writer.open_conn(1, "wss://h/ws?key=sekrit", "models/m", t=0.0)
        assert len(read_capture(path).records) == 1
        writer.frame(1, "client", '{"setup":{}}', t=0.1)
        on_disk = read_capture(path).records
        assert on_disk[-1] == FrameRecord(
            conn=1, t=0.1, dir="client", type="text", data='{"setup":{}}'
        )
        writer.frame(1, "server", b'{"setupComplete":{}}', t=0.2)
        assert read_capture(path).frames()[-1].payload == b'{"setupComplete":{}}'
    finally:
        writer.close()


def test_writer_round_trips_non_utf8_binary(tmp_path: Path) -> None:
    path = tmp_path / "bin.jsonl"
    raw = bytes(range(256))
    with CaptureWriter(path) as writer:
        record = writer.frame(1, "server", raw, t=0.0)
    assert record.data_b64 is not None
    line = orjson.loads(path.read_bytes().splitlines()[1])
    assert "data" not in line
    assert base64.b64decode(line["data_b64"]) == raw
    frame = read_capture(path).frames()[0]
    assert (frame.type, frame.payload) == ("binary", raw)


def test_writer_redacts_secrets_in_endpoints(tmp_path: Path) -> None:
    path = tmp_path / "secret.jsonl"
    with CaptureWriter(path) as writer:
        writer.open_conn(1, "wss://h/ws?alt=1&key=AIzaSECRET", None, t=0.0)
        writer.write(OpenRecord(conn=2, t=1.0, endpoint="wss://h/ws?access_token=auth_tokens/x"))
    assert b"SECRET" not in path.read_bytes()
    assert b"auth_tokens" not in path.read_bytes()
    assert [o.endpoint for o in read_capture(path).opens()] == [
        "wss://h/ws?alt=1&key=REDACTED",
        "wss://h/ws?access_token=REDACTED",
    ]


def test_writer_default_times_come_from_the_clock(tmp_path: Path) -> None:
    ticks = iter([100.0, 100.25, 101.5])
    with CaptureWriter(tmp_path / "t.jsonl", clock=lambda: next(ticks)) as writer:
        assert writer.frame(1, "client", "{}").t == 0.25
        assert writer.close_conn(1, 1000, "", "client").t == 1.5


def test_writer_refuses_writes_after_close(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path / "c.jsonl")
    writer.close()
    writer.close()  # idempotent
    assert writer.closed
    with pytest.raises(LocalProtocolError, match="closed") as raised:
        writer.frame(1, "client", "{}", t=0.0)
    # One error for every closed writer, capture or WAV (and a ValueError too).
    assert isinstance(raised.value, WriterClosedError)
    assert isinstance(raised.value, ValueError)


def test_writer_refuses_meta_as_a_record(tmp_path: Path) -> None:
    with (
        CaptureWriter(tmp_path / "m.jsonl") as writer,
        pytest.raises(CaptureFormatError, match="CaptureMeta"),
    ):
        writer.write(CaptureMeta())  # type: ignore[arg-type]


def test_write_capture_is_lossless_without_meta(tmp_path: Path) -> None:
    capture = read_capture(_lines(FRAME, {"kind": "mark", "n": 1}))
    path = tmp_path / "w.jsonl"
    write_capture(path, capture)
    again = read_capture(path)
    assert again.meta == CaptureMeta()
    assert again.records == capture.records


# -- redaction helpers ------------------------------------------------------------------


def test_redaction_marker_round_trip() -> None:
    audio = b"\x00\x01" * 960
    marker = redaction_marker(audio)
    assert marker.startswith("<redacted 1920 bytes sha256=")
    nbytes, digest = parse_redaction_marker(marker) or (0, "")
    assert nbytes == 1920
    assert len(digest) == 64
    assert parse_redaction_marker(base64.b64encode(audio).decode()) is None


def test_redact_endpoint_leaves_other_urls_alone() -> None:
    url = "wss://h/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    assert redact_endpoint(url) == url
    assert redact_endpoint(url + "?KEY=abc&monkey=1") == url + "?KEY=REDACTED&monkey=1"
