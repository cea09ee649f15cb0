"""Hostile bytes through the pure decoding paths: only rawlive errors come out.

Every fixture frame is mutated a bounded number of times (seeded, so a failure
reproduces) and fed to the decoders and to the helpers that read frames
(audio redaction, replay shapes, the timeline). Decoding may fail, but only
with ``RemoteProtocolError``; the helpers never fail at all.
"""

from __future__ import annotations

import base64
import contextlib
import random
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from rawlive.capture.format import (
    MAX_REDACTED_BYTES,
    Capture,
    FrameRecord,
    read_capture,
    redaction_marker,
)
from rawlive.capture.recorder import redact_audio_payloads
from rawlive.capture.replay import client_frame_shape, unredact_audio
from rawlive.capture.tools import format_timeline
from rawlive.errors import RemoteProtocolError
from rawlive.protocol._schema import parse_duration
from rawlive.protocol.codec import decode_client, decode_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MUTATIONS_PER_FRAME = 12  # bounded: ~100 frames x 12 mutations


def _fixture_frames() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in sorted(FIXTURES.glob("*.jsonl")):
        for record in read_capture(path).frames():
            payload = record.payload
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            out.append((record.dir, text))
    return out


FRAMES = _fixture_frames()


def _mutants(text: str, rng: random.Random) -> Iterator[str]:
    """Byte flips, cuts, duplications, type swaps and deep wrapping of one frame."""
    for _ in range(MUTATIONS_PER_FRAME):
        choice = rng.randrange(7)
        if choice == 0 and text:
            i = rng.randrange(len(text))
            yield text[:i] + chr(rng.randrange(0x20, 0x7F)) + text[i + 1 :]
        elif choice == 1:
            yield text[: rng.randrange(len(text) + 1)]
        elif choice == 2:
            i = rng.randrange(len(text) + 1)
            yield text[:i] + text[i:] + text[i:]
        elif choice == 3:
            swap = rng.choice(['"x"', "1e300", "18446744073709551616", "null", "[]", "{}", "true"])
            yield text.replace('"', swap, 1) if '"' in text else swap
        elif choice == 4:
            depth = rng.choice([50, 300, 900, 1023, 1100])
            yield "[" * depth + text + "]" * depth
        elif choice == 5:
            value = orjson.loads(text) if text.startswith("{") else {}
            key = rng.choice(["serverContent", "setupComplete", "goAway", "toolCall", "setup"])
            value[key] = rng.choice([None, 1, "s", [], {"parts": 5}, {"timeLeft": "50s\n"}])
            yield orjson.dumps(value).decode()
        else:
            yield text.encode("utf-8")[: rng.randrange(1, 40)].decode("utf-8", "ignore") + "\udcff"


def _deep(key: str, depth: int) -> str:
    inner = '{"a":' * depth + "1" + "}" * depth
    return f'{{"{key}":{inner}}}'


def _check_decoders(text: str) -> None:
    for decode in (decode_server, decode_client):
        with contextlib.suppress(RemoteProtocolError):
            decode(text)


def _check_helpers(text: str) -> None:
    redact_audio_payloads(text)
    redact_audio_payloads(text.encode("utf-8", "surrogatepass"))
    shape = client_frame_shape(text)
    assert len(shape.description) < 10_000


@pytest.mark.parametrize("index", range(len(FRAMES)))
def test_mutated_fixture_frames_raise_only_remote_protocol_error(index: int) -> None:
    _direction, text = FRAMES[index]
    rng = random.Random(index)
    for mutant in _mutants(text, rng):
        _check_decoders(mutant)
        _check_helpers(mutant)


@pytest.mark.parametrize("depth", [250, 300, 980, 1023, 1024, 5000])
def test_deep_nesting_is_a_remote_protocol_error_or_decodes(depth: int) -> None:
    for key in ("serverContent", "toolCall", "clientContent", "toolResponse", "unknownField"):
        text = _deep(key, depth)
        _check_decoders(text)
        _check_helpers(text)


def test_duration_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="duration"):
        decode_server('{"goAway":{"timeLeft":"50s\\n"}}')
    with pytest.raises(ValueError, match="not a protobuf duration"):
        parse_duration("50s\n")
    assert parse_duration("50s") == 50.0
    assert decode_server('{"goAway":{"timeLeft":"1.5s"}}').go_away is not None


def _audio_frame(data: str, depth: int = 0) -> str:
    tail = ',"deep":' + "[" * depth + "]" * depth if depth else ""
    return (
        '{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=16000","data":"'
        + data
        + '"}}'
        + tail
        + "}"
    )


def test_audio_redaction_survives_nesting_deeper_than_the_encoder_writes() -> None:
    data = base64.b64encode(b"\x01\x02" * 100).decode()
    out = redact_audio_payloads(_audio_frame(data, depth=400))
    assert isinstance(out, str)
    assert data not in out and "<redacted 200 bytes sha256=" in out


@pytest.mark.parametrize(
    "marker",
    [
        "<redacted 500000000 bytes sha256=" + "0" * 64 + ">",
        "<redacted " + str(10**15) + " bytes sha256=" + "0" * 64 + ">",
        "<redacted " + "9" * 5000 + " bytes sha256=" + "0" * 64 + ">",
    ],
)
def test_a_marker_from_the_wire_is_never_expanded(marker: str) -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        shape = client_frame_shape(_audio_frame(marker))
        silence = unredact_audio(_audio_frame(marker))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert shape.audio or "undecodable" in shape.description
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MiB for one marker"
    assert len(silence) < 30 * 2**20


def _timeline_peak(markers: int) -> int:
    import tracemalloc

    marker = f"<redacted {MAX_REDACTED_BYTES} bytes sha256=" + "0" * 64 + ">"
    blobs = ",".join(
        '{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"' + marker + '"}}'
        for _ in range(markers)
    )
    frame = '{"serverContent":{"modelTurn":{"parts":[' + blobs + "]}}}"
    capture = Capture(
        meta=None,
        records=(FrameRecord(conn=1, t=0.0, dir="server", type="text", data=frame),),
    )
    tracemalloc.start()
    try:
        text = format_timeline(capture)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "serverContent" in text
    return peak


def test_markers_in_a_capture_are_bounded_per_frame() -> None:
    # 40 markers at the limit claim 160 MiB; a frame gets at most
    # MAX_REDACTED_BYTES of silence in all, so the cost is that of one marker.
    one, many = _timeline_peak(1), _timeline_peak(40)
    assert many < one * 1.5, f"1 marker: {one / 2**20:.0f} MiB, 40: {many / 2**20:.0f} MiB"


def test_redaction_marker_round_trip_is_unchanged() -> None:
    marker = redaction_marker(b"\x00" * 10)
    out = unredact_audio(_audio_frame(marker))
    assert base64.b64encode(bytes(10)).decode() in out
