"""The codec against frames the official SDKs put on the wire (fixtures/sdk_corpus).

Every corpus frame goes through decode -> encode and is compared with the
original, guided by the message schema: key spelling (camelCase or snake_case)
and key order may differ; every value must be equal with the same JSON type
(an int64 sent as ``"1000"`` stays a string), base64 text must be identical
(so the alphabet and padding are kept), and free-form JSON (function
arguments, schemas, unknown keys) must be byte-equal, key order included.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from rawlive import ClientMessage, RemoteProtocolError, ServerMessage, decode_client, decode_server
from rawlive import encode as encode_message

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "sdk_corpus" / "frames.jsonl"
RECORDS = [orjson.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
FREE_FORM = {"json", "object"}


def _kinds(cls: Any) -> dict[str, tuple[str, str, Any]]:
    """wire key (either spelling) -> (camelCase key, kind, sub class)."""
    by_name = {}
    for name, key, _enc, _arg in cls._ENC:
        field = cls.__dataclass_fields__[name]
        by_name[name] = (key, field.metadata["kind"], field.metadata["sub"])
    return {wire: by_name[entry[0]] for wire, entry in cls._DEC.items()}


def _exact(a: Any, b: Any) -> bool:
    """Equal as JSON text: same types, same key order, same everything."""
    return bool(orjson.dumps(a) == orjson.dumps(b))


def assert_same_wire(original: Any, again: Any, cls: Any, path: str = "") -> None:
    assert type(original) is dict and type(again) is dict, path
    kinds = _kinds(cls)
    seen: dict[str, Any] = {}
    for key, value in original.items():
        camel, kind, sub = kinds.get(key, (key, "extra", None))
        if value is None:
            kind = "extra"  # explicit nulls are kept verbatim under their own spelling
            camel = key
        seen[camel] = (kind, sub, value)
    assert set(seen) == set(again), f"{path}: keys {sorted(seen)} != {sorted(again)}"
    for camel, (kind, sub, value) in seen.items():
        where = f"{path}.{camel}" if path else camel
        out = again[camel]
        if kind in FREE_FORM or kind == "extra":
            assert _exact(value, out), f"{where}: free-form JSON changed"
        elif kind == "message":
            assert_same_wire(value, out, sub, where)
        elif kind == "messages":
            assert type(out) is list and len(out) == len(value), where
            for i, (a, b) in enumerate(zip(value, out, strict=True)):
                assert_same_wire(a, b, sub, f"{where}[{i}]")
        else:
            assert type(value) is type(out), f"{where}: JSON type {value!r} -> {out!r}"
            assert value == out, f"{where}: {value!r} -> {out!r}"


def _ids(record: dict[str, Any]) -> str:
    return f"{record['origin']}:{record['source'].rsplit('/', 1)[-1]}"


def test_the_corpus_covers_both_sdks_and_every_message_kind() -> None:
    origins = {r["origin"] for r in RECORDS}
    assert {"python-test", "python-generated", "js-recording", "js-test", "js-generated"} <= origins
    kinds: set[str] = set()
    for r in RECORDS:
        value = orjson.loads(r["data"])
        kinds |= set(value)
        content = value.get("serverContent") or {}
        kinds |= {f"serverContent.{k}" for k in content}
    for kind in (
        "setup",
        "clientContent",
        "client_content",
        "realtime_input",
        "tool_response",
        "contextUpdate",
        "setupComplete",
        "serverContent",
        "toolCall",
        "toolCallCancellation",
        "goAway",
        "sessionResumptionUpdate",
        "usageMetadata",
        "voiceActivity",
        "serverContent.interrupted",
        "serverContent.urlContextMetadata",
    ):
        assert kind in kinds, kind
    for r in RECORDS:
        assert r["source"], r
        if r["origin"] == "reconstructed":
            assert "reconstructed" in r["note"]


@pytest.mark.parametrize("record", RECORDS, ids=_ids)
def test_every_corpus_frame_reencodes_as_it_came(record: dict[str, Any]) -> None:
    client = record["dir"] == "client"
    decode = decode_client if client else decode_server
    if record["expect"] != "decode":
        with pytest.raises(RemoteProtocolError):
            decode(record["data"])
        return
    message = decode(record["data"])
    again = encode_message(message)
    cls = ClientMessage if client else ServerMessage
    assert_same_wire(orjson.loads(record["data"]), orjson.loads(again), cls)
    assert decode(again) == message


def test_the_comparison_catches_what_it_promises() -> None:
    """The checker must fail on the very changes the codec used to make."""
    setup = {"setup": {"contextWindowCompression": {"triggerTokens": "1000"}}}
    with pytest.raises(AssertionError, match="JSON type"):
        bad = {"setup": {"contextWindowCompression": {"triggerTokens": 1000}}}
        assert_same_wire(setup, bad, ClientMessage)
    audio = {"realtime_input": {"audio": {"data": "-_8A"}}}
    with pytest.raises(AssertionError):
        assert_same_wire(audio, {"realtimeInput": {"audio": {"data": "+/8A"}}}, ClientMessage)
    call = {"toolCall": {"functionCalls": [{"args": {"b": 1, "a": 2}}]}}
    with pytest.raises(AssertionError, match="free-form"):
        assert_same_wire(call, {"toolCall": {"functionCalls": [{"args": {"a": 2, "b": 1}}]}},
                         ServerMessage)  # fmt: skip
    # ...and accepts the changes it allows: spelling and order of schema keys.
    assert_same_wire(
        {"tool_response": {"function_responses": [{"name": "f", "id": "1"}]}},
        {"toolResponse": {"functionResponses": [{"id": "1", "name": "f"}]}},
        ClientMessage,
    )


def test_the_sdk_spellings_the_codec_must_keep_are_in_the_corpus() -> None:
    texts = [r["data"] for r in RECORDS]
    # The JS SDK's int64 as strings, and the Python SDK's URL-safe base64.
    assert any('"triggerTokens":"1000"' in t.replace(" ", "") for t in texts)
    urlsafe = [
        t
        for t, r in zip(texts, RECORDS, strict=True)
        if r["origin"] == "python-generated" and ("-" in t or "_" in t) and '"data"' in t
    ]
    assert urlsafe


def test_the_build_script_reproduces_the_python_sdk_test_frames(tmp_path: Path) -> None:
    """Where the same google-genai is installed, the committed frames are what it holds."""
    genai = pytest.importorskip("google.genai", reason="the official SDK is not installed")
    label = f"google-genai {genai.__version__} google/genai/tests/live/"
    committed = [r for r in RECORDS if r["origin"].startswith("python-") and label in r["source"]]
    if not committed:
        pytest.skip(f"the corpus was not built from google-genai {genai.__version__}")
    script = Path(__file__).resolve().parent.parent / "scripts" / "build_sdk_corpus.py"
    out = tmp_path / "frames.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(script),
            "--no-generate",
            "--js-repo",
            str(tmp_path),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    rebuilt = [orjson.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r for r in rebuilt if label in r["source"]] == committed


def _capture_frames() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted(CORPUS.parent.parent.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = orjson.loads(line)
            if record.get("kind") == "frame" and "data" in record:
                out.append((path.name, record["dir"], record["data"]))
    return out


@pytest.mark.parametrize(("name", "direction", "data"), _capture_frames())
def test_capture_fixture_frames_meet_the_same_guarantee(
    name: str, direction: str, data: str
) -> None:
    client = direction == "client"
    message = (decode_client if client else decode_server)(data)
    again = orjson.loads(encode_message(message))
    assert_same_wire(orjson.loads(data), again, ClientMessage if client else ServerMessage)
