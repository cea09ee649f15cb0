"""The official JavaScript SDK (``@google/genai`` 3.3.0) as a client of rawlive's servers.

Each flow is a small script under ``tests/js/`` run with Node against the fake
server (``FakeLiveServer``) and the replay server (``ReplayServer``): the seed
tutorial's four flows (text to text, text to a 24 kHz WAV, three turns with one
WAV each, resumption with recall), realtime audio with both transcriptions, and
a tool round trip. Configuration only: ``httpOptions.baseUrl`` points the SDK at
the server and ``apiVersion: "v1beta"`` is the Live endpoint's version.

The SDK is installed with npm into a cache outside the repository:
``$RAWLIVE_JS_CACHE``, else ``~/.cache/rawlive-js`` (``.ci/run`` installs it; the
first test run installs it when npm is there). 3.3.0 is pinned: later 3.x
releases want Node 22, and an unpinned install on Node 20 falls back to 2.x.
Without node or npm the module is skipped, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rawlive.capture.format import CaptureWriter
from rawlive.capture.replay import ReplayServer
from rawlive.protocol.codec import encode
from rawlive.testing import ConnectionRecord, FakeLiveServer

JS_SDK = "@google/genai@3.3.0"
SCRIPTS = Path(__file__).resolve().parent / "js"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KEY = "js-test-key-5e4d3c2b1a"
LAST_HANDLE = "CihrNGZyMjh4dXY3cXFkYzVmMjR5cnlmZ2w5bnBvNTRhcmoxNW1lN2Fi"
SCRIPT_TIMEOUT = 60.0  # seconds for one node process (each step inside waits 10 s at most)


def js_cache() -> Path:
    return Path(os.environ.get("RAWLIVE_JS_CACHE") or Path.home() / ".cache" / "rawlive-js")


def installed_version(cache: Path) -> str | None:
    package = cache / "node_modules" / "@google" / "genai" / "package.json"
    try:
        return str(json.loads(package.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="module")
def sdk_cache() -> Path:
    """The npm cache holding the pinned SDK; installed on first use when npm is there."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the JavaScript SDK conformance tests need Node 20+")
    cache = js_cache()
    wanted = JS_SDK.rsplit("@", 1)[1]
    if installed_version(cache) != wanted:
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip(f"npm is not installed and {cache} has no {JS_SDK}")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", JS_SDK],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or installed_version(cache) != wanted:
            pytest.skip(f"could not install {JS_SDK} into {cache}: {done.stderr.strip()[-300:]}")
    return cache


async def run_js(cache: Path, script: str, *args: str, **env: str) -> dict[str, Any]:
    """Run ``tests/js/SCRIPT.mjs ARGS`` and return the JSON line it prints."""
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPTS / f"{script}.mjs"),
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "RAWLIVE_JS_CACHE": str(cache), "RAWLIVE_JS_KEY": KEY, **env},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), SCRIPT_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"{script}.mjs did not finish within {SCRIPT_TIMEOUT} s")
    if process.returncode != 0:
        raise JsFailed(err.decode("utf-8", "replace").strip())
    result: dict[str, Any] = json.loads(out.decode("utf-8").strip().splitlines()[-1])
    return result


class JsFailed(Exception):
    """A script exited with an error (its stderr is the message)."""


def base_url(server_url: str) -> str:
    """``ws://127.0.0.1:PORT/ws/...`` -> ``http://127.0.0.1:PORT``, the SDK's baseUrl form."""
    root = server_url.split("/ws/", 1)[0]
    return root.replace("wss://", "https://", 1).replace("ws://", "http://", 1)


def read_wav(path: Path) -> tuple[int, int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.getframerate(), w.getnframes()


def assert_sdk_paths(server: FakeLiveServer) -> None:
    """What the SDK really sent: //ws/... on v1beta, the key in the query (redacted)."""
    assert server.connections
    for record in server.connections:
        assert record.path == (
            "//ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
        )
        assert record.query == {"key": "REDACTED"}
        assert KEY not in record.target


def capture_of(record: ConnectionRecord, path: Path) -> None:
    """Write what one fake connection did as a capture the replay server can play.

    Server frames go after the client frame that caused them: setupComplete
    after the setup, each turn (up to its turnComplete) after the frame that
    started it. Audio chunks start nothing; ``audioStreamEnd`` ends them.
    """
    groups: list[list[bytes]] = [[]]
    for frame in record.sent:
        groups[-1].append(frame)
        if b"setupComplete" in frame or b'"turnComplete":true' in frame:
            groups.append([])
    t = 0.0
    with CaptureWriter(path) as cw:
        cw.open_conn(1, "ws://127.0.0.1/ws/x", None, t=t)
        for message in record.received:
            t += 0.01
            cw.frame(1, "client", encode(message).decode(), t=t)
            ri = message.realtime_input
            if ri is not None and ri.audio is not None and not ri.audio_stream_end:
                continue  # one chunk of a stream: the turn starts at its end
            for frame in groups.pop(0) if groups else ():
                t += 0.01
                cw.frame(1, "server", frame, t=t)
        cw.close_conn(1, 1000, "", "client", t=t + 0.01)


@contextlib.contextmanager
def certificate(tmp_path: Path) -> Iterator[Any]:
    pytest.importorskip("cryptography", reason="the test certificate needs cryptography")
    from rawlive.capture.tls import generate_self_signed_cert

    yield generate_self_signed_cert(tmp_path / "tls")


# ------------------------------------------------------------------ the fake


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
async def test_text_to_text_against_the_fake(sdk_cache: Path, tmp_path: Path, tls: bool) -> None:
    env: dict[str, str] = {}
    ssl_context = None
    if tls:
        with certificate(tmp_path) as cert:
            ssl_context = cert.server_context()
            env["NODE_EXTRA_CA_CERTS"] = str(cert.cert_file)
    async with FakeLiveServer(ssl_context=ssl_context) as server:
        result = await run_js(sdk_cache, "text", base_url(server.url), **env)
        await server.wait_idle()
    assert result == {"text": "Yes, I am here! How can I help you today?"}
    assert_sdk_paths(server)


async def test_text_to_wav_against_the_fake(sdk_cache: Path, tmp_path: Path) -> None:
    async with FakeLiveServer() as server:
        result = await run_js(sdk_cache, "audio", base_url(server.url), str(tmp_path / "a.wav"))
    assert result["mime"] == "audio/pcm;rate=24000"
    rate, frames = read_wav(tmp_path / "a.wav")
    assert rate == 24000 and frames > 0


async def test_three_turns_one_wav_each_against_the_fake(sdk_cache: Path, tmp_path: Path) -> None:
    async with FakeLiveServer() as server:
        result = await run_js(sdk_cache, "turns", base_url(server.url), str(tmp_path))
    lengths = [read_wav(Path(p)) for p in result["files"]]
    assert len(lengths) == 3 and all(rate == 24000 and n > 0 for rate, n in lengths)
    assert len({n for _, n in lengths}) == 3  # three different answers, three lengths
    assert server.received_count("clientContent") == 3


async def test_resumption_with_recall_against_the_fake(sdk_cache: Path) -> None:
    async with FakeLiveServer() as server:
        result = await run_js(sdk_cache, "resume", base_url(server.url))
        await server.wait_idle()
    assert result["texts"] == [
        "Hello there! How can I help you today?",
        "The capital of Brazil is **Brasília**.",
    ]
    assert result["recall"] == 'The last question you asked was: "What is the capital of Brazil?"'
    assert server.connections[1].resumed_from == result["handle"]


async def test_realtime_audio_with_transcription_against_the_fake(
    sdk_cache: Path, tmp_path: Path
) -> None:
    async with FakeLiveServer() as server:
        result = await run_js(sdk_cache, "realtime", base_url(server.url), str(tmp_path / "r.wav"))
        await server.wait_idle()
    assert result["input"] == "(1.0 s of audio)"  # 10 chunks of 100 ms at 16 kHz
    assert result["output"] == 'You said: "(1.0 s of audio)".'
    assert read_wav(tmp_path / "r.wav")[0] == 24000
    assert server.received_count("realtimeInput.audio") == 10
    assert server.received_count("realtimeInput.audioStreamEnd") == 1


async def test_a_tool_round_trip_against_the_fake(sdk_cache: Path) -> None:
    async with FakeLiveServer() as server:
        result = await run_js(sdk_cache, "tools", base_url(server.url))
        await server.wait_idle()
    assert result["call"]["name"] == "get_weather"
    assert result["text"] == 'Done: {"output":"sunny, 21 C"}'
    (response,) = [m.tool_response for m in server.connections[0].received if m.tool_response]
    assert response.function_responses is not None
    assert response.function_responses[0].id == result["call"]["id"]


async def test_the_sdk_default_api_version_is_refused_as_the_service_does(
    sdk_cache: Path,
) -> None:
    # Both official SDKs default to v1, where the Gemini API serves no Live endpoint.
    async with FakeLiveServer() as server:
        with pytest.raises(JsFailed) as info:
            await run_js(sdk_cache, "text", base_url(server.url), RAWLIVE_JS_API_VERSION="v1")
        await server.wait_idle()
    assert "not found for API version v1" in str(info.value)
    assert server.connections[0].close_code == 1008


async def test_a_server_with_a_key_accepts_the_sdk_key(sdk_cache: Path) -> None:
    async with FakeLiveServer(api_key=KEY) as server:
        assert (await run_js(sdk_cache, "text", base_url(server.url)))["text"]
        with pytest.raises(JsFailed) as info:
            await run_js(sdk_cache, "text", base_url(server.url), RAWLIVE_JS_KEY="wrong")
    assert "API key not valid" in str(info.value)


# ---------------------------------------------------------------- the replay


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
async def test_text_to_text_against_the_replay(sdk_cache: Path, tmp_path: Path, tls: bool) -> None:
    env: dict[str, str] = {}
    ssl_context = None
    if tls:
        with certificate(tmp_path) as cert:
            ssl_context = cert.server_context()
            env["NODE_EXTRA_CA_CERTS"] = str(cert.cert_file)
    async with ReplayServer(
        FIXTURES / "seed_text_session.jsonl", ssl_context=ssl_context
    ) as server:
        result = await run_js(sdk_cache, "text", base_url(server.url), **env)
    server.raise_for_mismatch()
    assert result == {"text": "Yes, I amhere! How can I help you today?"}


async def test_text_to_wav_against_the_replay(sdk_cache: Path, tmp_path: Path) -> None:
    async with ReplayServer(FIXTURES / "seed_audio_turns.jsonl") as server:
        await run_js(sdk_cache, "audio", base_url(server.url), str(tmp_path / "a.wav"))
    server.raise_for_mismatch()
    assert read_wav(tmp_path / "a.wav") == (24000, 9600)  # ten 40 ms chunks


async def test_three_turns_one_wav_each_against_the_replay(sdk_cache: Path, tmp_path: Path) -> None:
    async with ReplayServer(FIXTURES / "seed_audio_turns.jsonl") as server:
        result = await run_js(sdk_cache, "turns", base_url(server.url), str(tmp_path))
    server.raise_for_mismatch()
    assert [read_wav(Path(p)) for p in result["files"]] == [(24000, 9600)] * 3


async def test_resumption_with_recall_against_the_replay(sdk_cache: Path) -> None:
    async with (
        ReplayServer(FIXTURES / "seed_resumable_session.jsonl") as first,
        ReplayServer(FIXTURES / "seed_resumed_session.jsonl") as second,
    ):
        result = await run_js(sdk_cache, "resume", base_url(first.url), base_url(second.url))
    first.raise_for_mismatch()
    second.raise_for_mismatch()
    assert result["handle"] == LAST_HANDLE
    assert "What is the capital of Brazil?" in result["recall"]


@pytest.mark.parametrize("flow", ["realtime", "tools"])
async def test_fake_sessions_replay_to_the_sdk(sdk_cache: Path, tmp_path: Path, flow: str) -> None:
    # Record what the SDK and the fake said to each other, then replay it.
    extra = [str(tmp_path / "r.wav")] if flow == "realtime" else []
    async with FakeLiveServer() as fake:
        live = await run_js(sdk_cache, flow, base_url(fake.url), *extra)
        await fake.wait_idle()
    capture_of(fake.connections[0], tmp_path / f"{flow}.jsonl")
    async with ReplayServer(tmp_path / f"{flow}.jsonl") as server:
        replayed = await run_js(sdk_cache, flow, base_url(server.url), *extra)
    server.raise_for_mismatch()
    if flow == "tools":  # the call id is the recorded one: the SDK echoes it back
        assert replayed == live
    else:
        assert (replayed["input"], replayed["output"]) == (live["input"], live["output"])


async def test_the_js_snippet_of_the_docs_runs(sdk_cache: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text("utf-8")
    (block,) = [b for b in text.split("```")[1::2] if "// conformance: js-sdk" in b]
    # In the cache folder, so that "@google/genai" resolves from its node_modules.
    script = sdk_cache / "docs-snippet.mjs"
    script.write_text(block.split("\n", 1)[1], encoding="utf-8")
    async with FakeLiveServer() as server:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(script),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "FAKE_URL": base_url(server.url)},
        )
        out, err = await asyncio.wait_for(process.communicate(), SCRIPT_TIMEOUT)
    assert process.returncode == 0, err.decode()
    assert out.decode() == "Yes, I am here! How can I help you today?\n"


# ----------------------------------------------------------------- the proxy


async def test_the_sdk_through_rawlive_proxy_then_replayed(sdk_cache: Path, tmp_path: Path) -> None:
    """Record a JS app's session through ``rawlive proxy``, then replay it to the same app."""
    from rawlive.capture.format import read_capture
    from rawlive.proxy import LiveProxy

    capture = tmp_path / "js.jsonl"
    async with (
        FakeLiveServer(api_key=KEY) as fake,
        LiveProxy(upstream=f"ws://127.0.0.1:{fake.port}", record=capture) as proxy,
    ):
        proxied = await run_js(sdk_cache, "resume", base_url(proxy.url + "/ws/x"))
    assert "Brazil" in proxied["recall"]
    assert proxy.recorder is not None and proxy.recorder.paths == [capture]
    recorded = read_capture(capture)
    assert recorded.connections() == (1, 2)  # the resumed connection joined its session
    assert KEY not in capture.read_text(encoding="utf-8")
    assert "//ws/google.ai.generativelanguage.v1beta" in recorded.opens()[0].endpoint

    async with ReplayServer(capture) as replay:
        again = await run_js(sdk_cache, "resume", base_url(replay.url))
    replay.raise_for_mismatch()
    assert again["texts"] == proxied["texts"] and again["recall"] == proxied["recall"]
