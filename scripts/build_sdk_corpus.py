#!/usr/bin/env python3
"""Rebuild ``fixtures/sdk_corpus/frames.jsonl``: frames the official SDKs put on the wire.

Usage::

    python scripts/build_sdk_corpus.py [--js-repo PATH] [--js-sdk PATH] [--no-generate]
                                       [--out PATH]

The corpus holds frames that nobody on this project wrote, to check that
rawlive's codec gives back what the official SDKs send and receive. Sources,
read where they are present (each is skipped, with a line on stderr, if not):

python-genai test suite
    ``google/genai/tests/live/*.py`` inside the installed ``google-genai``
    wheel (the ``[sdk]`` extra; 3.6.1 when this was written). Every string or
    bytes literal that parses as a JSON object with a Live message key at the
    top (``'{"serverContent": {"turnComplete": true}}'``) is a frame, verbatim;
    every dict literal of that shape (an expected frame) is a frame written
    with ``json.dumps`` (its ``origin`` says ``python-literal``).
js-genai recordings and unit tests
    A clone of github.com/googleapis/js-genai (``--js-repo``, a bare repository
    or a checkout; read with ``git show HEAD:path``; commit 6e9b35c4 when this
    was written).
    ``test/system/recordings/live_*.websocket.log`` record each frame as
    ``>LEN text`` (sent) or ``<LEN text`` (received), LEN characters, verbatim.
    ``test/unit/live_test.ts``: JSON string literals verbatim, and object
    literals with a Live message key at the top, written with ``json.dumps``.
python-genai send_* methods
    Frames generated here: the installed SDK's ``client.aio.live.connect`` with
    several configs and every ``send_*`` method (and the deprecated ``send``),
    pointed at a loopback wss:// server that records what arrives. Needs
    ``google-genai`` and ``cryptography``; ``--no-generate`` skips it.
js-genai send* methods
    Frames generated here with the published ``@google/genai`` package
    (``--js-sdk``: a folder whose ``node_modules`` holds it, e.g. after
    ``npm install @google/genai@3.3.0``, the version .ci/run pins), run by
    ``node`` (``scripts/build_sdk_corpus_driver.js``): ``live.connect`` with
    several configs and every ``send*`` method, pointed at a loopback ws://
    server. Skipped without ``--js-sdk``.
reconstructed
    Message kinds no SDK test contains (``toolCallCancellation``,
    ``voiceActivity``, ``interrupted``, ``urlContextMetadata``), built from the
    public API reference (https://ai.google.dev/api/live); each says so.

Every record is one JSON object per line: ``dir`` (client/server), ``data`` (the
frame text), ``source`` (file and line, or the generating call), ``origin``,
and ``expect``: ``"decode"``, or the reason rawlive rejects the frame on
purpose. The output is sorted and deduplicated (same direction and text), so a
rebuild from the same sources gives the same bytes. CI never runs this script:
it reads the committed corpus (``tests/test_protocol_sdk_corpus.py``).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "sdk_corpus" / "frames.jsonl"

CLIENT_KEYS = {
    "setup",
    "clientContent",
    "client_content",
    "realtimeInput",
    "realtime_input",
    "toolResponse",
    "tool_response",
    "contextUpdate",
    "context_update",
}
SERVER_KEYS = {
    "setupComplete",
    "setup_complete",
    "serverContent",
    "server_content",
    "toolCall",
    "tool_call",
    "toolCallCancellation",
    "tool_call_cancellation",
    "goAway",
    "go_away",
    "sessionResumptionUpdate",
    "session_resumption_update",
    "usageMetadata",
    "usage_metadata",
    "voiceActivity",
    "voice_activity",
    "voiceActivityDetectionSignal",
    "voice_activity_detection_signal",
}

# Frames rawlive rejects on purpose, by the reason in the docs.
REJECTED = {
    '"resumable": "true"': "resumable must be a JSON boolean (docs/capture-format.md)",
}


def direction(value: Any) -> str | None:
    """``client``/``server`` for a JSON object whose top keys are Live messages, else None."""
    if not isinstance(value, dict) or not value:
        return None
    keys = set(value)
    if keys <= CLIENT_KEYS:
        return "client"
    if keys <= SERVER_KEYS:
        return "server"
    return None


def record(dir_: str, data: str, source: str, origin: str, note: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"dir": dir_, "data": data, "source": source, "origin": origin}
    if note:
        out["note"] = note
    return out


# ----------------------------------------------------------- python-genai tests


def python_sdk_tests() -> list[dict[str, Any]]:
    try:
        from importlib.metadata import version

        import google.genai
    except ImportError:
        print("skip: google-genai is not installed", file=sys.stderr)
        return []
    folder = Path(google.genai.__file__).parent / "tests" / "live"
    label = f"google-genai {version('google-genai')} google/genai/tests/live"
    out: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{label}/{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
                try:
                    text = node.value.decode() if isinstance(node.value, bytes) else node.value
                    value = json.loads(text)
                except ValueError:  # UnicodeDecodeError is a ValueError
                    continue
                d = direction(value)
                if d:
                    out.append(record(d, text, where, "python-test"))
            elif isinstance(node, ast.Dict):
                try:
                    value = ast.literal_eval(node)
                    d = direction(value)
                    text = json.dumps(value) if d else ""
                except (ValueError, TypeError, SyntaxError):
                    continue
                if d:
                    note = "a dict literal in the test, written with json.dumps"
                    out.append(record(d, text, where, "python-literal", note))
    return out


# ------------------------------------------------------------------ js-genai


def git_show(repo: Path, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "show", f"HEAD:{path}"],
        capture_output=True,
        text=True,
        check=True,
        encoding="utf-8",
    ).stdout


def js_files(repo: Path) -> tuple[str, list[str]]:
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    names = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "HEAD", "--name-only"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return commit, names


def js_recordings(repo: Path, commit: str, names: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in names:
        if not (name.startswith("test/system/recordings/live_") and name.endswith(".log")):
            continue
        text = git_show(repo, name)
        i = 0
        while i < len(text):
            if text[i] == "\n":
                i += 1
                continue
            mark = text[i]
            space = text.index(" ", i)
            length = int(text[i + 1 : space])
            data = text[space + 1 : space + 1 + length]
            line = text.count("\n", 0, i) + 1
            if mark not in "<>" or not data.strip():
                raise SystemExit(f"{name}:{line}: unexpected record {text[i : i + 20]!r}")
            d = "client" if mark == ">" else "server"
            value = json.loads(data)
            if direction(value) != d:
                raise SystemExit(f"{name}:{line}: {d} frame with keys {list(value)}")
            source = f"github.com/googleapis/js-genai/blob/{commit}/{name}#L{line}"
            out.append(record(d, data, source, "js-recording"))
            i = space + 1 + length
    return out


class _JsParser:
    """Just enough of JavaScript to read object literals made of constants."""

    def __init__(self, text: str) -> None:
        self.text = text

    def skip(self, i: int) -> int:
        t = self.text
        while i < len(t):
            if t[i].isspace():
                i += 1
            elif t.startswith("//", i):
                i = t.index("\n", i)
            else:
                break
        return i

    def value(self, i: int) -> tuple[Any, int]:
        t = self.text
        i = self.skip(i)
        c = t[i]
        if c == "{":
            obj: dict[str, Any] = {}
            i = self.skip(i + 1)
            while t[i] != "}":
                if t[i] in "'\"":
                    key, i = self.string(i)
                else:
                    j = i
                    while t[j].isalnum() or t[j] in "_$":
                        j += 1
                    if j == i:
                        raise ValueError("not a key")
                    key, i = t[i:j], j
                i = self.skip(i)
                if t[i] != ":":
                    raise ValueError("shorthand property")
                obj[key], i = self.value(i + 1)
                i = self.skip(i)
                if t[i] == ",":
                    i = self.skip(i + 1)
                elif t[i] != "}":
                    raise ValueError("expected , or }")
            return obj, i + 1
        if c == "[":
            arr: list[Any] = []
            i = self.skip(i + 1)
            while t[i] != "]":
                item, i = self.value(i)
                arr.append(item)
                i = self.skip(i)
                if t[i] == ",":
                    i = self.skip(i + 1)
                elif t[i] != "]":
                    raise ValueError("expected , or ]")
            return arr, i + 1
        if c in "'\"":
            return self.string(i)
        for word, val in (("true", True), ("false", False), ("null", None)):
            if t.startswith(word, i) and not t[i + len(word)].isalnum():
                return val, i + len(word)
        j = i
        while t[j] in "-+.0123456789eE":
            j += 1
        if j == i:
            raise ValueError("not a constant")
        text = t[i:j]
        return (float(text) if any(ch in text for ch in ".eE") else int(text)), j

    def string(self, i: int) -> tuple[str, int]:
        t = self.text
        quote = t[i]
        out = []
        i += 1
        escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "/": "/"}
        while t[i] != quote:
            if t[i] == "\\":
                nxt = t[i + 1]
                if nxt == "u":
                    out.append(chr(int(t[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                if nxt not in escapes:
                    raise ValueError("escape")
                out.append(escapes[nxt])
                i += 2
            elif t[i] == "\n":
                raise ValueError("newline in string")
            else:
                out.append(t[i])
                i += 1
        return "".join(out), i + 1


def js_unit_tests(repo: Path, commit: str, names: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in names:
        if name != "test/unit/live_test.ts":
            continue
        text = git_show(repo, name)
        parser = _JsParser(text)
        for i, ch in enumerate(text):
            line = text.count("\n", 0, i) + 1
            source = f"github.com/googleapis/js-genai/blob/{commit}/{name}#L{line}"
            if ch in "'\"" and text.startswith("{", i + 1):
                try:
                    literal, _ = parser.string(i)
                    value = json.loads(literal)
                except (ValueError, IndexError):
                    continue
                d = direction(value)
                if d:
                    out.append(record(d, literal, source, "js-test"))
            elif ch == "{":
                try:
                    value, _ = parser.value(i)
                except (ValueError, IndexError):
                    continue
                d = direction(value)
                if d:
                    note = "an object literal in the test, written with json.dumps"
                    out.append(record(d, json.dumps(value), source, "js-literal", note))
    return out


# ------------------------------------------------- python-genai send_* methods


async def _generate() -> list[dict[str, Any]]:
    import websockets
    from google import genai
    from google.genai import types

    from rawlive.capture.tls import generate_self_signed_cert

    received: list[str] = []

    async def handler(ws: Any) -> None:
        async for frame in ws:
            text = frame if isinstance(frame, str) else frame.decode()
            received.append(text)
            if text.startswith('{"setup"'):
                await ws.send(b'{"setupComplete": {}}')

    import tempfile

    version = genai.__version__
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cert = generate_self_signed_cert(Path(tmp))
        async with websockets.serve(handler, "127.0.0.1", 0, ssl=cert.server_context()) as srv:
            port = srv.sockets[0].getsockname()[1]
            client = genai.Client(
                api_key="corpus-key",
                http_options=types.HttpOptions(
                    api_version="v1beta",
                    base_url=f"https://127.0.0.1:{port}/",
                    async_client_args={"ssl": cert.client_context()},
                ),
            )
            pcm = bytes([0xFB, 0xFF, 0x00, 0x01, 0xFF, 0xFE]) * 3
            jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00?>"
            fd = types.FunctionDeclaration(
                name="get_weather",
                description="Weather for a city",
                parameters=types.Schema(
                    type="OBJECT",
                    properties={"city_name": types.Schema(type="STRING")},
                    required=["city_name"],
                ),
            )
            configs: list[tuple[str, Any]] = [
                ("LiveConnectConfig()", types.LiveConnectConfig()),
                (
                    "LiveConnectConfig(response_modalities=TEXT, session_resumption={})",
                    types.LiveConnectConfig(
                        response_modalities=["TEXT"],
                        session_resumption=types.SessionResumptionConfig(),
                    ),
                ),
                (
                    "LiveConnectConfig(session_resumption=handle)",
                    types.LiveConnectConfig(
                        session_resumption=types.SessionResumptionConfig(handle="h-123"),
                    ),
                ),
                (
                    "LiveConnectConfig(context_window_compression=...)",
                    types.LiveConnectConfig(
                        context_window_compression=types.ContextWindowCompressionConfig(
                            trigger_tokens=1000,
                            sliding_window=types.SlidingWindow(target_tokens=10),
                        )
                    ),
                ),
                (
                    "LiveConnectConfig(voice, transcription, VAD, system_instruction, ...)",
                    types.LiveConnectConfig(
                        response_modalities=["AUDIO"],
                        speech_config=types.SpeechConfig(
                            voice_config=types.VoiceConfig(
                                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore")
                            ),
                            language_code="en-US",
                        ),
                        input_audio_transcription=types.AudioTranscriptionConfig(),
                        output_audio_transcription=types.AudioTranscriptionConfig(),
                        realtime_input_config=types.RealtimeInputConfig(
                            automatic_activity_detection=types.AutomaticActivityDetection(
                                disabled=False,
                                start_of_speech_sensitivity="START_SENSITIVITY_LOW",
                                prefix_padding_ms=20,
                                silence_duration_ms=100,
                            ),
                            activity_handling="NO_INTERRUPTION",
                        ),
                        system_instruction="You are terse.",
                        temperature=0.5,
                        max_output_tokens=256,
                        thinking_config=types.ThinkingConfig(thinking_budget=0),
                        enable_affective_dialog=True,
                        proactivity=types.ProactivityConfig(proactive_audio=True),
                    ),
                ),
                (
                    "LiveConnectConfig(tools=[functions, google_search, code_execution, ...])",
                    types.LiveConnectConfig(
                        tools=[
                            types.Tool(function_declarations=[fd]),
                            types.Tool(google_search=types.GoogleSearch()),
                            types.Tool(code_execution=types.ToolCodeExecution()),
                            types.Tool(url_context=types.UrlContext()),
                        ],
                    ),
                ),
            ]
            sends: list[tuple[str, Any]] = [
                ("send_client_content(turns=Content)", lambda s: s.send_client_content(
                    turns=types.Content(role="user", parts=[types.Part(text="Hello")]))),
                ("send_client_content(turns=[...], turn_complete=False)",
                 lambda s: s.send_client_content(turns=[
                     types.Content(role="user", parts=[types.Part(text="Hi")]),
                     types.Content(role="model", parts=[types.Part(text="Hello!")]),
                 ], turn_complete=False)),
                ("send_client_content(turns=inline_data)", lambda s: s.send_client_content(
                    turns=types.Content(role="user", parts=[
                        types.Part(inline_data=types.Blob(data=jpeg, mime_type="image/jpeg"))]))),
                ("send_client_content()", lambda s: s.send_client_content()),
                ("send_realtime_input(audio=Blob)", lambda s: s.send_realtime_input(
                    audio=types.Blob(data=pcm, mime_type="audio/pcm;rate=16000"))),
                ("send_realtime_input(video=Blob)", lambda s: s.send_realtime_input(
                    video=types.Blob(data=jpeg, mime_type="image/jpeg"))),
                ("send_realtime_input(media=Blob)", lambda s: s.send_realtime_input(
                    media=types.Blob(data=pcm, mime_type="audio/pcm"))),
                ("send_realtime_input(text=...)", lambda s: s.send_realtime_input(text="Hi")),
                ("send_realtime_input(activity_start=...)", lambda s: s.send_realtime_input(
                    activity_start=types.ActivityStart())),
                ("send_realtime_input(activity_end=...)", lambda s: s.send_realtime_input(
                    activity_end=types.ActivityEnd())),
                ("send_realtime_input(audio_stream_end=True)", lambda s: s.send_realtime_input(
                    audio_stream_end=True)),
                ("send_tool_response(function_responses=...)", lambda s: s.send_tool_response(
                    function_responses=types.FunctionResponse(
                        id="function-call-1", name="get_weather",
                        response={"result": {"temp_c": 21, "sky": "clear"}}))),
                ("send_tool_response(function_responses=[..., ...])",
                 lambda s: s.send_tool_response(function_responses=[
                     types.FunctionResponse(id="a", name="f", response={"output": [1, 2.5, None]}),
                     types.FunctionResponse(id="b", name="g", response={}),
                 ])),
                ("send_context_update(system_instruction=..., tools=[...])",
                 lambda s: s.send_context_update(
                     system_instruction="Answer in French.",
                     tools=[types.Tool(function_declarations=[fd])])),
                ("send_context_update(tools=[])", lambda s: s.send_context_update(tools=[])),
                ("send(input='text', end_of_turn=True)", lambda s: s.send(
                    input="Hello", end_of_turn=True)),
                ("send(input=LiveClientContent)", lambda s: s.send(
                    input=types.LiveClientContent(turns=[types.Content(
                        role="user", parts=[types.Part(text="Hi")])], turn_complete=True))),
                ("send(input=Blob)", lambda s: s.send(
                    input=types.Blob(data=pcm, mime_type="audio/pcm"))),
                ("send(input=LiveClientRealtimeInput)", lambda s: s.send(
                    input=types.LiveClientRealtimeInput(
                        media_chunks=[types.Blob(data=pcm, mime_type="audio/pcm")]))),
                ("send(input=FunctionResponse)", lambda s: s.send(
                    input=types.FunctionResponse(id="c", name="h", response={"ok": True}))),
            ]  # fmt: skip
            model = "gemini-2.0-flash-live-001"
            for label, config in configs:
                start = len(received)
                async with client.aio.live.connect(model=model, config=config) as session:
                    if label == "LiveConnectConfig()":
                        for send_label, call in sends:
                            at = len(received)
                            try:
                                await call(session)
                            except ValueError as exc:  # the SDK refuses this input
                                print(f"skip: {send_label}: {exc}"[:200], file=sys.stderr)
                                continue
                            while len(received) == at:
                                await asyncio.sleep(0.01)
                            source = f"google-genai {version} AsyncSession.{send_label}"
                            out.append(record("client", received[at], source, "python-generated"))
                for text in received[start : start + 1]:
                    source = f"google-genai {version} live.connect(config={label})"
                    out.append(record("client", text, source, "python-generated"))
    return out


def python_sdk_generated() -> list[dict[str, Any]]:
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)  # send() is deprecated: that is the point
    try:
        import cryptography  # noqa: F401
        import google.genai  # noqa: F401
    except ImportError:
        print("skip: generating needs google-genai and cryptography", file=sys.stderr)
        return []
    return asyncio.run(asyncio.wait_for(_generate(), 120))


# ---------------------------------------------------- js-genai send* methods

_JS_DRIVER = Path(__file__).with_name("build_sdk_corpus_driver.js")


async def _generate_js(js_sdk: Path) -> list[dict[str, Any]]:
    import os

    import websockets

    received: list[str] = []

    async def handler(ws: Any) -> None:
        async for frame in ws:
            text = frame if isinstance(frame, str) else frame.decode()
            received.append(text)
            if text.startswith('{"setup"'):
                await ws.send(b'{"setupComplete": {}}')

    package = json.loads(
        (js_sdk / "node_modules" / "@google" / "genai" / "package.json").read_text("utf-8")
    )
    version = package["version"]
    async with websockets.serve(handler, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        env = dict(os.environ, NODE_PATH=str(js_sdk / "node_modules"))
        proc = await asyncio.create_subprocess_exec(
            "node", str(_JS_DRIVER), str(port), env=env, stdout=asyncio.subprocess.PIPE
        )
        stdout, _ = await asyncio.wait_for(proc.communicate(), 60)
    labels = json.loads(stdout.decode().strip().splitlines()[-1])
    if len(labels) != len(received):
        raise SystemExit(f"node sent {len(received)} frames for {len(labels)} calls")
    return [
        record("client", text, f"@google/genai {version} {label}", "js-generated")
        for label, text in zip(labels, received, strict=True)
    ]


def js_sdk_generated(js_sdk: Path | None) -> list[dict[str, Any]]:
    if js_sdk is None or not (js_sdk / "node_modules" / "@google" / "genai").is_dir():
        print("skip: no --js-sdk folder with node_modules/@google/genai", file=sys.stderr)
        return []
    return asyncio.run(asyncio.wait_for(_generate_js(js_sdk), 120))


# ------------------------------------------------------------- reconstructed

_DOCS = "https://ai.google.dev/api/live"
RECONSTRUCTED = [
    (
        "server",
        '{"toolCallCancellation":{"ids":["function-call-5831923424298605773"]}}',
        "BidiGenerateContentToolCallCancellation: ids[] of calls to cancel",
    ),
    (
        "server",
        '{"serverContent":{"interrupted":true}}',
        "BidiGenerateContentServerContent.interrupted: client input interrupted generation",
    ),
    (
        "server",
        '{"voiceActivity":{"type":"ACTIVITY_START","audioOffset":"1.200s"}}',
        "VoiceActivity: type ACTIVITY_START/ACTIVITY_END and audioOffset (Duration)",
    ),
    (
        "server",
        '{"voiceActivity":{"type":"ACTIVITY_END","audioOffset":"3.5s"}}',
        "VoiceActivity: type ACTIVITY_START/ACTIVITY_END and audioOffset (Duration)",
    ),
    (
        "server",
        '{"serverContent":{"urlContextMetadata":{"urlMetadata":[{"retrievedUrl":'
        '"https://example.com/","urlRetrievalStatus":"URL_RETRIEVAL_STATUS_SUCCESS"}]}}}',
        "BidiGenerateContentServerContent.urlContextMetadata: UrlContextMetadata.urlMetadata[]",
    ),
    (
        "server",
        '{"sessionResumptionUpdate":{"newHandle":"h-123","resumable":true,'
        '"lastConsumedClientMessageIndex":"7"}}',
        "SessionResumptionUpdate.lastConsumedClientMessageIndex: int64, a string in proto3 JSON",
    ),
]


def reconstructed() -> list[dict[str, Any]]:
    return [
        record(d, data, f"{_DOCS} ({what})", "reconstructed", "reconstructed from the public "
               "API reference: no SDK test or recording contains this message kind")
        for d, data, what in RECONSTRUCTED
    ]  # fmt: skip


# --------------------------------------------------------------------- main


def expectation(rec: dict[str, Any]) -> str:
    for needle, reason in REJECTED.items():
        if needle in rec["data"]:
            return reason
    return "decode"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--js-repo", type=Path, help="a clone of googleapis/js-genai (bare is fine)"
    )
    parser.add_argument("--js-sdk", type=Path, help="folder whose node_modules has @google/genai")
    parser.add_argument("--no-generate", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    records = python_sdk_tests()
    js_repo = args.js_repo
    if js_repo is not None and ((js_repo / "HEAD").exists() or (js_repo / ".git").exists()):
        commit, names = js_files(js_repo)
        records += js_recordings(js_repo, commit, names)
        records += js_unit_tests(js_repo, commit, names)
    else:
        print(f"skip: no js-genai repository at {args.js_repo}", file=sys.stderr)
    if not args.no_generate:
        records += python_sdk_generated()
        records += js_sdk_generated(args.js_sdk)
    records += reconstructed()

    seen: set[tuple[str, str]] = set()
    unique = []
    for rec in records:
        key = (rec["dir"], rec["data"])
        if key in seen:
            continue
        seen.add(key)
        rec["expect"] = expectation(rec)
        unique.append(rec)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for rec in unique:
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    by_origin: dict[str, int] = {}
    for rec in unique:
        by_origin[rec["origin"]] = by_origin.get(rec["origin"], 0) + 1
    print(f"{len(unique)} unique frames ({len(records)} found) -> {args.out}")
    for origin, count in sorted(by_origin.items()):
        print(f"  {origin}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
