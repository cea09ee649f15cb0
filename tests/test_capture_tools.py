"""Tests for rawlive.capture.tools: show (timeline), wav extraction and shape diff."""

from __future__ import annotations

import base64
import dataclasses
import math
import re
import struct
import wave
from pathlib import Path

import orjson
import pytest

from rawlive.capture.format import (
    Capture,
    CaptureRecord,
    CaptureWriter,
    CloseRecord,
    FrameRecord,
    OpenRecord,
    read_capture,
    redaction_marker,
)
from rawlive.capture.tools import (
    UNDECODABLE,
    capture_shape,
    diff_captures,
    extract_wav,
    format_diff,
    format_timeline,
    summarize,
    timeline,
)
from rawlive.closecodes import explain_close
from rawlive.errors import AudioFormatError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENDPOINT = (
    "wss://generativelanguage.googleapis.com/ws/"
    "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=SECRET"
)
LAST_HANDLE = "CihrNGZyMjh4dXY3cXFkYzVmMjR5cnlmZ2w5bnBvNTRhcmoxNW1lN2Fi"


def _fixture(name: str) -> Capture:
    return read_capture(FIXTURES / f"{name}.jsonl")


def _frame_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"^\s*[\d.]+s\s+(#\d+ )?(->|<-) ", line)]


def _separators(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("---- turn")]


def _server_pcm(capture: Capture) -> bytes:
    """The model's audio, decoded straight from the frames' JSON (not via rawlive)."""
    out = b""
    for frame in capture.frames(dir="server"):
        msg = orjson.loads(frame.text)
        for part in msg.get("serverContent", {}).get("modelTurn", {}).get("parts", []):
            if "inlineData" in part:
                assert part["inlineData"]["mimeType"] == "audio/pcm;rate=24000"
                out += base64.b64decode(part["inlineData"]["data"])
    return out


def _tone(n: int, freq: float, rate: int) -> bytes:
    samples = (int(6000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    return b"".join(struct.pack("<h", s) for s in samples)


def _audio_frame(pcm: bytes | str, rate: int, *, client: bool) -> str:
    data = pcm if isinstance(pcm, str) else base64.b64encode(pcm).decode()
    blob = {"mimeType": f"audio/pcm;rate={rate}", "data": data}
    if client:
        return orjson.dumps({"realtimeInput": {"audio": blob}}).decode()
    return orjson.dumps(
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}}
    ).decode()


# ------------------------------------------------------------------ show


def test_show_resumable_session_lists_every_frame_and_two_turns() -> None:
    capture = _fixture("seed_resumable_session")
    text = format_timeline(capture, width=0)

    frame_lines = _frame_lines(text)
    assert len(frame_lines) == len(capture.frames()) == 16
    for frame, line in zip(capture.frames(), frame_lines, strict=True):
        assert line.lstrip().startswith(f"{frame.t:.3f}s")
        assert ("->" if frame.dir == "client" else "<-") in line
    assert "#1 ->" not in text  # one connection: no connection column

    assert len(_separators(text)) == 2
    assert "serverContent+usageMetadata" in text
    assert '"Hello there! How"' in text
    assert "(not resumable)" in text
    assert "handle CihqdTFxaG1u... (resumable)" in text
    assert "tokens:      67 total (prompt 46, response 21)" in text
    assert f"last resumable handle: {LAST_HANDLE}" in text

    summary = summarize(capture)
    assert summary.total_tokens == 20 + 47
    assert summary.last_handle == LAST_HANDLE
    assert (summary.frames_client, summary.frames_server) == (3, 13)
    assert [t.total_tokens for t in summary.turns] == [20, 47]
    assert all(t.complete for t in summary.turns)
    # Turn 1: "Hello" at 0.307 s, first text at 0.647 s.
    assert summary.turns[0].latency == pytest.approx(0.34)
    assert summary.turns[0].text_chars == len("Hello there! How can I help you today?\n")
    assert summary.turns[0].first_audio_t is None
    assert summary.connections[0].close is not None
    assert "normal closure" in summary.connections[0].describe()


def test_timeline_rows_carry_decoded_kinds() -> None:
    rows = timeline(_fixture("seed_resumable_session"))
    assert [r.record for r in rows][:2] == ["open", "frame"]
    assert rows[-1].record == "close"
    frames = [r for r in rows if r.record == "frame"]
    assert frames[0].kind == "setup" and frames[0].dir == "client"
    assert "model models/gemini-2.0-flash-live-001" in frames[0].summary
    assert "modalities TEXT" in frames[0].summary
    assert "resumption on" in frames[0].summary
    complete = [r for r in frames if r.turn_complete]
    assert [r.kind for r in complete] == ["serverContent+usageMetadata"] * 2
    assert [r.turn for r in complete] == [1, 2]


def test_show_snake_case_client_frames_reads_camel_case_kinds() -> None:
    rows = timeline(_fixture("real_messages"))
    kinds = {r.kind for r in rows if r.dir == "client"}
    assert {"clientContent", "toolResponse", "setup"} <= kinds
    tool_calls = [r for r in rows if r.kind == "toolCall"]
    assert tool_calls[0].summary == "turn_off_the_lights({}) id=function-call-1061054218196002212"


def test_show_goaway_close_is_explained() -> None:
    capture = _fixture("close_goaway")
    reason = "Deadline expired before operation could complete."
    title = explain_close(1011, reason).title
    assert title == "connection lifetime reached"

    text = format_timeline(capture)
    close_line = next(line for line in text.splitlines() if "== close" in line)
    assert "by server 1011" in close_line
    assert f"\u2014 {title}" in close_line
    assert '"Deadline expired' in close_line
    assert re.search(r"550\.000s  <- goAway\s+time left 50s", text)
    assert "1 goAway" in text
    # The summary repeats how the connection ended, with the full reason.
    assert f"closed by server 1011 \u2014 {title}; reason {orjson.dumps(reason).decode()}" in (
        format_timeline(capture, width=0)
    )
    assert summarize(capture).turns == ()


def test_show_audio_turns_reports_audio_seconds_and_latency() -> None:
    capture = _fixture("seed_audio_turns")
    summary = summarize(capture)
    assert summary.audio_seconds_server == pytest.approx(1.2)
    assert summary.audio_seconds_client == 0
    assert len(summary.turns) == 3
    for turn in summary.turns:
        assert turn.audio_chunks == 10
        assert turn.audio_seconds == pytest.approx(0.4)
        assert turn.latency == pytest.approx(0.45)
        assert turn.audio_latency == pytest.approx(0.45)
    assert summary.total_tokens == 25 + 42 + 60

    text = format_timeline(capture)
    assert "audio:       1.20 s received, 0.00 s sent" in text
    assert text.count("first audio +0.450 s") == 3
    assert text.count("audio x10 (0.40 s)") == 3  # consecutive chunks collapsed
    assert len(_separators(text)) == 3

    verbose = format_timeline(capture, verbose=True)
    assert verbose.count("audio 1920 B (40 ms)") == 30
    assert "audio x10" not in verbose


def test_show_width_and_color() -> None:
    capture = _fixture("close_goaway")
    for line in format_timeline(capture, width=60).splitlines():
        assert len(line) <= 60 or line.startswith("last resumable handle")
    colored = format_timeline(capture, color=True)
    assert "\x1b[" in colored
    assert "\x1b[" not in format_timeline(capture)
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == format_timeline(capture)


def test_show_numbers_connections_and_keeps_the_last_handle(tmp_path: Path) -> None:
    first = _fixture("seed_resumable_session")
    second = _fixture("seed_resumed_session")
    path = tmp_path / "two.jsonl"
    with CaptureWriter(path, source="test") as cw:
        for conn, (capture, offset) in enumerate(((first, 0.0), (second, 10.0)), start=1):
            for record in capture.records:
                assert isinstance(record, (OpenRecord, FrameRecord, CloseRecord))
                cw.write(dataclasses.replace(record, conn=conn, t=record.t + offset))
    capture = read_capture(path)
    text = format_timeline(capture, width=0)
    assert "#1 ->" in text and "#2 <-" in text
    summary = summarize(capture)
    assert [c.conn for c in summary.connections] == [1, 2]
    assert "resuming handle CihrNGZyMjh4..." in text
    assert summary.last_handle == "CihmcW04ZzVnZnZwczU2ZnkwN2h1NHpmajFxZmgwcmhieTZ3Zmo3OWt6"
    assert [t.conn for t in summary.turns] == [1, 1, 2]
    assert len(_separators(text)) == 3


def test_show_undecodable_frames_are_shown_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    with CaptureWriter(path, source="test") as cw:
        cw.open_conn(1, ENDPOINT, "models/x", t=0.0)
        cw.frame(1, "client", '{"setup":{"model":"models/x"}}', t=0.01)
        cw.frame(1, "server", b"not json at all", t=0.1)
        cw.frame(1, "server", b'{"serverContent":{"turnComplete":"yes"}}', t=0.2)
        cw.frame(1, "server", b"\xff\xfe\x00", t=0.3)
        cw.frame(1, "server", b'{"serverContent":{"modelTurn":{"parts":[{"text":"ok"}]}}}', t=0.4)
        cw.close_conn(1, 1007, "Request contains an invalid argument.", "server", t=0.5)
    capture = read_capture(path)

    text = format_timeline(capture, width=0)
    bad = [line for line in text.splitlines() if UNDECODABLE in line]
    assert len(bad) == 3
    assert "not valid JSON" in bad[0]
    assert "serverContent.turnComplete" in bad[1]
    assert '"ok"' in text
    assert "invalid argument" in text
    rows = timeline(capture)
    assert [r.error is not None for r in rows if r.record == "frame"] == [
        False, True, True, True, False,
    ]  # fmt: skip
    assert summarize(capture).undecodable == 3
    assert summarize(capture).turns[0].complete is False  # closed before turnComplete

    # The other tools cope too.
    diff = diff_captures(capture, _fixture("seed_text_session"))
    assert any(e.section == "decoding" and e.sign == "-" for e in diff.entries)
    assert "(not a JSON object)" in diff.a.kind_counts["server"]
    with pytest.raises(AudioFormatError, match="no server audio"):
        extract_wav(capture, tmp_path / "none.wav")


def test_show_redacted_audio_uses_the_recorded_length(tmp_path: Path) -> None:
    path = tmp_path / "redacted.jsonl"
    pcm = _tone(960, 440, 24000)
    with CaptureWriter(path, source="test") as cw:
        cw.frame(1, "client", '{"clientContent":{"turnComplete":true}}', t=0.0)
        cw.frame(1, "server", _audio_frame(redaction_marker(pcm), 24000, client=False), t=0.5)
    text = format_timeline(read_capture(path))
    assert "audio 1920 B (40 ms) [1 redacted]" in text
    assert summarize(read_capture(path)).redacted_chunks == 1


# ------------------------------------------------------------------ wav


def test_wav_from_audio_turns_is_the_exact_pcm(tmp_path: Path) -> None:
    capture = _fixture("seed_audio_turns")
    expected = _server_pcm(capture)
    assert len(expected) == 30 * 1920

    out = tmp_path / "reply.wav"
    info = extract_wav(capture, out)
    assert (info.rate, info.chunks, info.redacted_chunks, info.skipped_frames) == (24000, 30, 0, 0)
    assert info.frames == len(expected) // 2
    assert info.duration == pytest.approx(1.2)
    assert info.direction == "server" and info.path == out

    with wave.open(str(out), "rb") as wav:
        assert wav.getframerate() == 24000
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        assert wav.readframes(wav.getnframes()) == expected


def test_wav_input_direction_without_client_audio_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "input.wav"
    with pytest.raises(AudioFormatError, match="no client audio") as excinfo:
        extract_wav(_fixture("seed_audio_turns"), out, direction="client")
    assert isinstance(excinfo.value, ValueError)
    assert not out.exists()
    with pytest.raises(AudioFormatError, match="no server audio"):
        extract_wav(_fixture("seed_text_session"), out)


def test_wav_input_direction_with_realtime_audio(tmp_path: Path) -> None:
    path = tmp_path / "mic.jsonl"
    chunks = [_tone(1600, 300 + 50 * i, 16000) for i in range(3)]
    with CaptureWriter(path, source="test") as cw:
        cw.open_conn(1, ENDPOINT, "models/x", t=0.0)
        cw.frame(1, "client", '{"setup":{"model":"models/x"}}', t=0.0)
        cw.frame(1, "server", b'{"setupComplete":{}}', t=0.1)
        for i, chunk in enumerate(chunks):
            cw.frame(1, "client", _audio_frame(chunk, 16000, client=True), t=0.2 + 0.1 * i)
        # A redacted chunk: it comes back as silence of its length.
        cw.frame(1, "client", _audio_frame(redaction_marker(chunks[0]), 16000, client=True), t=0.5)
        cw.frame(1, "client", '{"realtimeInput":{"audioStreamEnd":true}}', t=0.6)
        cw.frame(1, "server", _audio_frame(_tone(480, 440, 24000), 24000, client=False), t=0.9)
        cw.close_conn(1, 1000, "", "client", t=1.0)
    capture = read_capture(path)

    out = tmp_path / "mic.wav"
    info = extract_wav(capture, out, direction="client")
    assert (info.rate, info.chunks, info.redacted_chunks) == (16000, 4, 1)
    assert info.duration == pytest.approx(0.4)
    with wave.open(str(out), "rb") as wav:
        assert wav.getframerate() == 16000
        assert wav.readframes(wav.getnframes()) == b"".join(chunks) + bytes(len(chunks[0]))

    text = format_timeline(capture)
    assert re.search(r"0\.200s  -> realtimeInput +audio x4 \(0\.40 s @16k\) \[1 redacted\]", text)
    assert "audio 3200 B (100 ms @16k) [1 redacted]" in format_timeline(capture, verbose=True)
    assert "audioStreamEnd" in text
    summary = summarize(capture)
    assert summary.audio_seconds_client == pytest.approx(0.4)
    # The last client frame before the model's audio is the audioStreamEnd at 0.6 s.
    assert summary.turns[0].audio_latency == pytest.approx(0.3)


def test_wav_rate_change_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "rates.jsonl"
    with CaptureWriter(path, source="test") as cw:
        cw.frame(1, "server", _audio_frame(bytes(480), 24000, client=False), t=0.1)
        cw.frame(1, "server", _audio_frame(bytes(320), 16000, client=False), t=0.2)
    out = tmp_path / "out.wav"
    with pytest.raises(AudioFormatError, match=r"from 24000 hz .* to 16000 hz at t=0\.200s"):
        extract_wav(read_capture(path), out)
    assert not out.exists()


# ------------------------------------------------------------------ diff


def test_diff_of_a_capture_with_itself_is_same() -> None:
    for name in ("seed_resumable_session", "seed_audio_turns", "real_messages"):
        diff = diff_captures(_fixture(name), _fixture(name))
        assert diff.same, diff.entries
        assert "same shape" in format_diff(diff)
    # Other content and length, same protocol: only the resuming setup differs.
    diff = diff_captures(_fixture("seed_resumable_session"), _fixture("seed_resumed_session"))
    assert [(e.section, e.sign, e.text) for e in diff.entries] == [
        ("paths", "+", "setup.sessionResumption.handle")
    ]


def test_diff_text_vs_audio_reports_inline_data_paths() -> None:
    diff = diff_captures(
        _fixture("seed_resumable_session"),
        _fixture("seed_audio_turns"),
        a_name="text.jsonl",
        b_name="audio.jsonl",
    )
    assert not diff.same
    paths = {(e.sign, e.direction, e.text) for e in diff.entries if e.section == "paths"}
    assert ("+", "server", "serverContent.modelTurn.parts[].inlineData.mimeType") in paths
    assert ("+", "server", "serverContent.modelTurn.parts[].inlineData.data") in paths
    assert ("-", "server", "serverContent.modelTurn.parts[].text") in paths
    values = {(e.sign, e.text) for e in diff.entries if e.section == "values"}
    assert ("-", 'setup.generationConfig.responseModalities[] = "TEXT"') in values
    assert ("+", 'setup.generationConfig.responseModalities[] = "AUDIO"') in values
    assert (
        "+",
        'serverContent.modelTurn.parts[].inlineData.mimeType = "audio/pcm;rate=24000"',
    ) in values
    kinds = {(e.sign, e.direction, e.text) for e in diff.entries if e.section == "kinds"}
    assert kinds == {("-", "server", "sessionResumptionUpdate")}

    text = format_diff(diff)
    assert text.startswith("--- text.jsonl\n+++ audio.jsonl\n")
    assert "  + server serverContent.modelTurn.parts[].inlineData.mimeType" in text
    assert "  - server serverContent.modelTurn.parts[].text" in text
    assert (
        "  - server sessionResumptionUpdate, serverContent.modelTurn x N, "
        "serverContent.generationComplete, serverContent.turnComplete+usageMetadata, "
        "sessionResumptionUpdate"
    ) in text


def _split_usage(capture: Capture) -> Capture:
    """Copy ``capture`` with turnComplete and usageMetadata in separate frames."""
    records: list[CaptureRecord] = []
    for record in capture.records:
        if isinstance(record, FrameRecord) and record.dir == "server":
            msg = orjson.loads(record.text)
            if "usageMetadata" in msg and "serverContent" in msg:
                usage = {"usageMetadata": msg.pop("usageMetadata")}
                records.append(dataclasses.replace(record, data=orjson.dumps(msg).decode()))
                records.append(
                    dataclasses.replace(
                        record, t=record.t + 0.001, data=orjson.dumps(usage).decode()
                    )
                )
                continue
        records.append(record)
    return Capture(meta=capture.meta, records=tuple(records))


def test_diff_reports_bundling_difference() -> None:
    original = _fixture("seed_text_session")
    split = _split_usage(original)
    diff = diff_captures(original, split)
    assert not diff.same
    bundles = {(e.sign, e.direction, e.text) for e in diff.entries if e.section == "bundles"}
    assert bundles == {
        ("-", "server", "serverContent+usageMetadata"),
        ("+", "server", "usageMetadata"),
    }
    assert not [e for e in diff.entries if e.section in ("kinds", "paths", "values")]
    order = {(e.sign, e.text) for e in diff.entries if e.section == "order"}
    assert (
        "+",
        "serverContent.modelTurn x N, serverContent.generationComplete, "
        "serverContent.turnComplete, usageMetadata",
    ) in order
    text = format_diff(diff)
    assert "kinds bundled in one frame:\n  - server serverContent+usageMetadata\n" in text

    # A usage report on its own right after turnComplete still counts for that turn.
    summary = summarize(split)
    assert summary.turns[0].total_tokens == 27
    assert summary.total_tokens == 27


def test_diff_flags_type_spelling_and_close_changes(tmp_path: Path) -> None:
    def write(path: Path, usage: str, close: int, content_key: str) -> Capture:
        with CaptureWriter(path, source="test") as cw:
            cw.frame(1, "client", f'{{"{content_key}":{{"turns":[],"turnComplete":true}}}}', t=0.0)
            cw.frame(1, "server", f'{{"sessionResumptionUpdate":{usage}}}'.encode(), t=0.1)
            cw.close_conn(1, close, "", "server", t=0.2)
        return read_capture(path)

    a = write(tmp_path / "a.jsonl", '{"newHandle":"x","resumable":true}', 1000, "clientContent")
    b = write(
        tmp_path / "b.jsonl",
        '{"newHandle":"x","resumable":true,"lastConsumedClientMessageIndex":"5"}',
        1011,
        "client_content",
    )
    diff = diff_captures(a, b)
    found = {(e.section, e.sign, e.text) for e in diff.entries}
    assert ("paths", "+", "sessionResumptionUpdate.lastConsumedClientMessageIndex") in found
    assert ("spelling", "+", "clientContent as client_content") in found
    assert ("closes", "-", "by server 1000") in found
    assert ("closes", "+", "by server 1011") in found
    # Opaque tool arguments are not descended into.
    tool_paths = capture_shape(_fixture("real_messages")).paths["server"]["toolCall"]
    assert "toolCall.functionCalls[].args" in tool_paths
    assert not any(p.startswith("toolCall.functionCalls[].args.") for p in tool_paths)
