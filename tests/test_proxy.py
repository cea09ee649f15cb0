"""rawlive proxy: frames relayed unchanged, closes mirrored, keys kept out, faults applied.

Every test puts a :class:`LiveProxy` between a real client (rawlive's own, raw
websockets, or the official SDK in tests/test_proxy_sdk.py) and a real
upstream on loopback: the bundled fake server, the replay server, or a
scripted websockets server where exact bytes matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

import rawlive
from rawlive._compat import ws_connect as keeping_connect
from rawlive.capture.format import read_capture
from rawlive.capture.replay import ReplayServer
from rawlive.cli._session import FramePrinter
from rawlive.errors import ConfigurationError, ConnectionClosedError
from rawlive.proxy import LiveProxy, upstream_base
from rawlive.testing import FakeLiveServer
from rawlive.testing.fake_server import DEADLINE_EXPIRED, LIVE_PATH
from rawlive.testing.faults import (
    CloseWith,
    DelayFrames,
    DropConnection,
    GoAwayThenClose,
    SlowPongs,
)
from rawlive.testing.faultspec import parse_fault

KEY = "AIzaTestKeyForTheProxy0123456789"
MODEL = "rawlive-demo"


def upstream_of(fake: FakeLiveServer) -> str:
    return f"ws://127.0.0.1:{fake.port}"


@contextlib.asynccontextmanager
async def relay(fake: FakeLiveServer, **kwargs: Any) -> AsyncIterator[LiveProxy]:
    async with LiveProxy(upstream=upstream_of(fake), **kwargs) as proxy:
        yield proxy


async def ask(session: Any, text: str) -> str:
    await session.send_text(text)
    turn = await session.receive_turn(timeout=10)
    return str(turn.text)


# ----------------------------------------------------------------- relaying


async def test_rawlive_flows_pass_through_and_the_capture_replays(tmp_path: Path) -> None:
    capture = tmp_path / "through_proxy.jsonl"
    async with FakeLiveServer() as fake, relay(fake, record=capture) as proxy:
        async with rawlive.connect(
            MODEL, endpoint=proxy.url + LIVE_PATH, response_modalities=["TEXT"]
        ) as session:
            assert await ask(session, "Hello") == "Hello there! How can I help you today?"
            assert "Brasília" in await ask(session, "What is the capital of Brazil?")
    assert proxy.recorder is not None and proxy.recorder.paths == [capture]
    recorded = read_capture(capture)
    kinds = [next(iter(orjson.loads(f.text))) for f in recorded.frames(dir="client")]
    assert kinds == ["setup", "clientContent", "clientContent"]
    assert recorded.closes()[-1].by == "client"

    # Record through the proxy, replay in CI: the same client is satisfied again.
    async with ReplayServer(capture) as replay:
        async with rawlive.connect(
            MODEL, endpoint=replay.url, response_modalities=["TEXT"]
        ) as session:
            assert await ask(session, "Hello") == "Hello there! How can I help you today?"
            assert "Brasília" in await ask(session, "What is the capital of Brazil?")
    replay.raise_for_mismatch()


async def test_audio_reply_to_a_wav_through_the_proxy(tmp_path: Path) -> None:
    import wave

    async with FakeLiveServer() as fake, relay(fake) as proxy:
        async with rawlive.connect(MODEL, endpoint=proxy.url + LIVE_PATH) as session:
            await session.send_text("Hello? Gemini are you there?")
            await session.receive_turn(wav=tmp_path / "hello.wav", timeout=10)
    with wave.open(str(tmp_path / "hello.wav"), "rb") as w:
        assert w.getframerate() == 24000 and w.getnframes() > 0


async def test_text_and_binary_frames_are_relayed_byte_for_byte(
    scripted_server: Callable[[Callable[[Any], Awaitable[None]]], Any],
) -> None:
    got_by_upstream: list[str | bytes] = []
    weird_text = '{"serverContent":{"modelTurn":{"parts":[{"text":"é \\u00e9  x"}]}}}'
    weird_binary = b'{ "setupComplete" : {} }'

    async def upstream(ws: Any) -> None:
        got_by_upstream.append(await ws.recv())
        got_by_upstream.append(await ws.recv())
        await ws.send(weird_binary)
        await ws.send(weird_text)
        await ws.close(1000, "bye")

    async with scripted_server(upstream) as url:
        base = url.split("/ws/")[0]
        async with LiveProxy(upstream=base) as proxy:
            async with ws_connect(proxy.url + LIVE_PATH) as ws:
                await ws.send('{"setup" :{}}')
                await ws.send(b"\x00\x01binary")
                first, second = await ws.recv(), await ws.recv()
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.protocol.close_code == 1000 and ws.protocol.close_reason == "bye"
    assert got_by_upstream == ['{"setup" :{}}', b"\x00\x01binary"]
    assert first == weird_binary and isinstance(first, bytes)
    assert second == weird_text and isinstance(second, str)


async def test_path_and_query_are_kept(
    scripted_server: Callable[[Callable[[Any], Awaitable[None]]], Any],
) -> None:
    seen: list[str] = []

    async def upstream(ws: Any) -> None:
        seen.append(ws.request.path)
        await ws.close()

    path = "//ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained?access_token=auth_tokens/abc123456789"
    async with scripted_server(upstream) as url:
        async with LiveProxy(upstream=url.split("/ws/")[0]) as proxy:
            async with ws_connect(proxy.url + path) as ws:
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
    assert seen == [path]


# ------------------------------------------------------------------- closes


async def test_the_upstream_close_code_and_reason_reach_the_client() -> None:
    async with FakeLiveServer(api_key=KEY) as fake, relay(fake) as proxy:
        with pytest.raises(ConnectionClosedError) as info:
            async with rawlive.connect(
                MODEL, endpoint=proxy.url + LIVE_PATH, api_key="AIzaWrongKey000000000000"
            ) as session:
                await ask(session, "Hello")
    assert info.value.code == 1008
    assert "API key not valid" in info.value.reason


async def test_the_client_close_reaches_the_upstream() -> None:
    async with FakeLiveServer() as fake, relay(fake) as proxy:
        async with ws_connect(proxy.url + LIVE_PATH) as ws:
            await ws.send(orjson.dumps({"setup": {"model": f"models/{MODEL}"}}).decode())
            await ws.recv()
            await ws.close(4001, "client went away")
        for _ in range(200):
            if fake.connections and fake.connections[0].close_code is not None:
                break
            await asyncio.sleep(0.01)
    assert fake.connections[0].close_code == 4001
    assert fake.connections[0].close_reason == "client went away"


async def test_an_upstream_drop_becomes_a_drop_for_the_client() -> None:
    async with FakeLiveServer(faults=[DropConnection(after_turn=0)]) as fake, relay(fake) as proxy:
        async with ws_connect(proxy.url + LIVE_PATH) as ws:
            await ws.send(orjson.dumps({"setup": {"model": f"models/{MODEL}"}}).decode())
            assert "setupComplete" in orjson.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.protocol.close_rcvd is None  # no close frame: 1006, as from the upstream


async def test_an_upstream_refusing_the_handshake_gives_the_client_its_status() -> None:
    from websockets.http11 import Response

    def refuse(connection: Any, request: Any) -> Response:
        return connection.respond(403, "forbidden\n")

    async with serve(lambda ws: ws.close(), "127.0.0.1", 0, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        async with LiveProxy(upstream=f"ws://127.0.0.1:{port}") as proxy:
            with pytest.raises(InvalidStatus) as info:
                async with ws_connect(proxy.url + LIVE_PATH):
                    pass
    assert info.value.response.status_code == 403


async def test_an_unreachable_upstream_is_a_502() -> None:
    async with LiveProxy(upstream="ws://127.0.0.1:9") as proxy:
        with pytest.raises(InvalidStatus) as info:
            async with ws_connect(proxy.url + LIVE_PATH):
                pass
    assert info.value.response.status_code == 502
    assert b"upstream unreachable" in info.value.response.body


# --------------------------------------------------------------------- keys


async def test_inject_key_lets_a_keyless_client_in_and_never_shows_the_key(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    capture = tmp_path / "injected.jsonl"
    async with (
        FakeLiveServer(api_key=KEY) as fake,
        relay(fake, inject_key=KEY, record=capture, observers=[FramePrinter(out)]) as proxy,
        ws_connect(proxy.url + LIVE_PATH) as ws,
    ):
        setup = {"setup": {"model": f"models/{MODEL}", "systemInstruction": {
            "parts": [{"text": f"The key is {KEY}"}]}}}  # fmt: skip
        await ws.send(orjson.dumps(setup).decode())
        assert "setupComplete" in orjson.loads(await ws.recv())
        await ws.send(orjson.dumps({"realtimeInput": {"text": f"Hello {KEY}"}}).decode())
        reply = b""
        for _ in range(100):
            frame = await asyncio.wait_for(ws.recv(), 5)
            reply += frame if isinstance(frame, bytes) else frame.encode()
            if b"turnComplete" in reply:
                break
    assert b"turnComplete" in reply  # a keyless client would have been closed 1008
    assert fake.connections[0].headers["x-goog-api-key"] == "REDACTED"
    assert KEY not in out.getvalue() and "REDACTED" in out.getvalue()
    assert KEY not in capture.read_text(encoding="utf-8")


@pytest.mark.parametrize("where", ["header", "query"])
async def test_client_credentials_pass_through_and_stay_out_of_captures(
    tmp_path: Path, where: str
) -> None:
    capture = tmp_path / "passed.jsonl"
    async with FakeLiveServer(api_key=KEY) as fake, relay(fake, record=capture) as proxy:
        if where == "header":
            options: dict[str, Any] = {"api_key": KEY, "endpoint": proxy.url + LIVE_PATH}
        else:
            options = {"endpoint": f"{proxy.url}{LIVE_PATH}?key={KEY}", "api_key": KEY}
        async with rawlive.connect(MODEL, response_modalities=["TEXT"], **options) as session:
            assert await ask(session, "Hello") == "Hello there! How can I help you today?"
    text = capture.read_text(encoding="utf-8")
    assert KEY not in text
    assert read_capture(capture).opens()[0].endpoint.startswith("ws://127.0.0.1:")


def test_inject_key_on_a_public_address_needs_allow_remote() -> None:
    with pytest.raises(ConfigurationError, match="--allow-remote"):
        LiveProxy(upstream="ws://127.0.0.1:1", host="0.0.0.0", inject_key=KEY)
    LiveProxy(upstream="ws://127.0.0.1:1", host="0.0.0.0", inject_key=KEY, allow_remote=True)
    LiveProxy(upstream="ws://127.0.0.1:1", host="0.0.0.0")  # no key: nothing to spend


@pytest.mark.parametrize(
    "upstream", ["http://example.com", "ws://", "ws://host:notaport", "ws://h/x?key=1", "nope"]
)
def test_bad_upstreams_are_refused(upstream: str) -> None:
    with pytest.raises(ConfigurationError):
        upstream_base(upstream)


def test_named_upstreams() -> None:
    assert upstream_base("google") == "wss://generativelanguage.googleapis.com"
    assert upstream_base("ws://127.0.0.1:8765/prefix/") == "ws://127.0.0.1:8765/prefix"


# ------------------------------------------------------------------ session


async def test_a_resumed_connection_joins_its_sessions_capture(tmp_path: Path) -> None:
    capture = tmp_path / "s.jsonl"
    async with FakeLiveServer() as fake, relay(fake, record=capture) as proxy:
        endpoint = proxy.url + LIVE_PATH
        async with rawlive.connect(
            MODEL, endpoint=endpoint, response_modalities=["TEXT"], session_resumption=True
        ) as first:
            await ask(first, "What is the capital of Brazil?")
            handle = await first.wait_for_handle(timeout=5)
        assert handle
        async with rawlive.connect(
            MODEL, endpoint=endpoint, response_modalities=["TEXT"], session_resumption=handle
        ) as second:
            assert "Brazil" in await ask(second, "what was the last question I asked?")
        async with rawlive.connect(MODEL, endpoint=endpoint, response_modalities=["TEXT"]) as other:
            await ask(other, "Hello")
    assert proxy.recorder is not None
    assert proxy.recorder.paths == [capture, tmp_path / "s-2.jsonl"]
    joined = read_capture(capture)
    assert joined.connections() == (1, 2)
    assert read_capture(tmp_path / "s-2.jsonl").connections() == (1,)

    # The joined capture replays resumption.
    async with ReplayServer(capture) as replay:
        async with rawlive.connect(
            MODEL, endpoint=replay.url, response_modalities=["TEXT"], session_resumption=True
        ) as again:
            await ask(again, "What is the capital of Brazil?")
            handle = await again.wait_for_handle(timeout=5)
        async with rawlive.connect(
            MODEL, endpoint=replay.url, response_modalities=["TEXT"], session_resumption=handle
        ) as again:
            assert "Brazil" in await ask(again, "what was the last question I asked?")
    replay.raise_for_mismatch()


# --------------------------------------------------------------------- lint


async def test_lint_flags_what_the_service_would_reject_before_its_close() -> None:
    findings: list[tuple[int, str]] = []
    async with (
        FakeLiveServer() as fake,
        relay(fake, lint=True, on_lint=lambda c, f: findings.append((c, f))) as proxy,
        ws_connect(proxy.url + LIVE_PATH) as ws,
    ):
        await ws.send(orjson.dumps({"setup": {"model": f"models/{MODEL}"}}).decode())
        await ws.recv()
        await ws.send('{"realtimeInput":{"text":"a"},"clientContent":{"turnComplete":true}}')
        for _ in range(50):
            if findings:
                break
            await asyncio.sleep(0.01)
    assert findings and findings[0][0] == 1
    assert "one-key" in findings[0][1]


# ------------------------------------------------------------------- faults


async def _first_turn(proxy: LiveProxy, stay: bool = True) -> tuple[list[dict[str, Any]], Any]:
    """Run one turn through the proxy with raw websockets; return frames and the socket.

    With ``stay``, read on until the connection closes (a fault closes it).
    """
    frames: list[dict[str, Any]] = []
    # rawlive's connect keeps frames received just before a drop on websockets < 14.1.
    ws = await keeping_connect(proxy.url + LIVE_PATH, headers={})
    setup = {"setup": {"model": f"models/{MODEL}", "sessionResumption": {}}}
    await ws.send(orjson.dumps(setup).decode())
    await ws.send(orjson.dumps({"realtimeInput": {"text": "Hello"}}).decode())
    completed = False
    with contextlib.suppress(ConnectionClosed):
        for _ in range(200):
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            frames.append(frame)
            if frame.get("serverContent", {}).get("turnComplete"):
                completed = True
            elif completed and "sessionResumptionUpdate" in frame and not stay:
                break
    return frames, ws


async def test_goaway_fault_sends_goaway_then_the_deadline_close() -> None:
    fault = GoAwayThenClose(after_turn=1, time_left="0.2s")
    async with FakeLiveServer() as fake, relay(fake, faults=[fault]) as proxy:
        frames, ws = await _first_turn(proxy)
    assert frames[-1] == {"goAway": {"timeLeft": "0.2s"}}
    assert any("sessionResumptionUpdate" in f for f in frames[:-1])
    assert ws.protocol.close_code == 1011 and ws.protocol.close_reason == DEADLINE_EXPIRED
    assert proxy.fired == [("GoAwayThenClose", 1, 1)]


async def test_drop_between_turn_complete_and_its_handle() -> None:
    async with (
        FakeLiveServer() as fake,
        relay(fake, faults=[parse_fault("drop:after-complete=1")]) as proxy,
    ):
        frames, ws = await _first_turn(proxy)
    assert frames[-1]["serverContent"]["turnComplete"] is True  # the handle never came
    assert ws.protocol.close_rcvd is None
    assert proxy.fired == [("DropConnection", 1, 1)]


async def test_close_fault_after_seconds_closes_with_the_code() -> None:
    fault = parse_fault("close:code=1011,reason=Internal error encountered.,after-seconds=0.05")
    async with FakeLiveServer(response_delay=5) as fake, relay(fake, faults=[fault]) as proxy:
        frames, ws = await _first_turn(proxy)
    assert "setupComplete" in frames[0]
    assert (
        ws.protocol.close_code == 1011 and ws.protocol.close_reason == "Internal error encountered."
    )
    assert proxy.fired == [("CloseWith", 1, 0)]


async def test_drop_fault_after_frames_is_a_drop_mid_reply() -> None:
    async with (
        FakeLiveServer() as fake,
        relay(fake, faults=[DropConnection(after_frames=3)]) as proxy,
    ):
        frames, ws = await _first_turn(proxy)
    assert len(frames) == 3
    assert ws.protocol.close_rcvd is None
    assert not any(f.get("serverContent", {}).get("turnComplete") for f in frames)


async def test_close_fault_on_a_turn_reaches_rawlive_as_the_service_error() -> None:
    fault = CloseWith(code=1007, reason="Request contains an invalid argument.", on_turn=1)
    async with FakeLiveServer() as fake, relay(fake, faults=[fault]) as proxy:
        with pytest.raises(ConnectionClosedError) as info:
            async with rawlive.connect(
                MODEL, endpoint=proxy.url + LIVE_PATH, response_modalities=["TEXT"]
            ) as session:
                await ask(session, "Hello")
    assert info.value.code == 1007
    assert info.value.reason == "Request contains an invalid argument."


async def test_delay_fault_holds_each_frame_of_the_turn() -> None:
    async with (
        FakeLiveServer() as fake,
        relay(fake, faults=[DelayFrames(seconds=0.05)]) as proxy,
    ):
        loop = asyncio.get_running_loop()
        start = loop.time()
        frames, ws = await _first_turn(proxy, stay=False)
        await ws.close()
        elapsed = loop.time() - start
    replies = [f for f in frames if "serverContent" in f]
    assert replies
    # A lower bound only: every frame of the turn waited at least its delay.
    assert elapsed >= 0.05 * len(replies)


async def test_slow_pongs_fault_delays_the_pong() -> None:
    async with (
        FakeLiveServer() as fake,
        relay(fake, faults=[SlowPongs(delay=0.3, duration=1.0)]) as proxy,
        ws_connect(proxy.url + LIVE_PATH) as ws,
    ):
        await ws.send(orjson.dumps({"setup": {"model": f"models/{MODEL}"}}).decode())
        await ws.recv()
        await asyncio.sleep(0.05)  # the stall starts right after setupComplete
        loop = asyncio.get_running_loop()
        start = loop.time()
        pong = await ws.ping()
        await asyncio.wait_for(pong, 5)
        waited = loop.time() - start
    assert proxy.fired == [("SlowPongs", 1, 0)]
    assert waited >= 0.1  # lower bound: the pong came late


def test_fault_specs() -> None:
    assert parse_fault("goaway:after-seconds=5s") == GoAwayThenClose(after_seconds=5.0)
    assert parse_fault("drop:after-turn=2") == DropConnection(after_turn=2)
    assert parse_fault("delay:seconds=0.2") == DelayFrames(seconds=0.2)
    assert parse_fault("slow-pongs:delay=2") == SlowPongs(delay=2.0)
    for bad, words in [
        ("teleport", "unknown fault kind"),
        ("drop:speed=1", "unknown field 'speed'"),
        ("close:code=1006", "cannot be sent"),
        ("drop:after-frames=two", "whole number"),
        ("drop:after-frames=2,after-turn=1", "cannot be combined"),
        ("drop:after-frames", "FIELD=VALUE"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_fault(bad)


async def test_the_fake_server_honours_the_same_new_triggers() -> None:
    # One fault vocabulary: after_frames and after_seconds work on the fake too.
    async with FakeLiveServer(faults=[DropConnection(after_frames=2)]) as fake:
        async with ws_connect(fake.url) as ws:
            await ws.send(orjson.dumps({"setup": {"model": f"models/{MODEL}"}}).decode())
            await ws.send(orjson.dumps({"realtimeInput": {"text": "Hello"}}).decode())
            got = []
            with contextlib.suppress(ConnectionClosed):
                for _ in range(50):
                    got.append(await asyncio.wait_for(ws.recv(), 5))
    assert len(got) == 2 and ws.protocol.close_rcvd is None
    async with FakeLiveServer(
        faults=[GoAwayThenClose(after_seconds=0.05, time_left="0s")], response_delay=5
    ) as fake:
        async with ws_connect(fake.url) as ws:
            await ws.send(orjson.dumps({"setup": {"model": f"models/{MODEL}"}}).decode())
            await ws.recv()
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 5)) == {
                "goAway": {"timeLeft": "0s"}
            }


# ---------------------------------------------------------------------- CLI


def _rawlive(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    return subprocess.Popen(
        [sys.executable, "-m", "rawlive", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


async def test_cli_proxy_prints_its_url_and_records(tmp_path: Path) -> None:
    capture = tmp_path / "cli.jsonl"
    async with FakeLiveServer() as fake:
        proc = _rawlive(
            "proxy", "--port", "0", "--upstream", upstream_of(fake), "--record", str(capture),
            "--frames",
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            url = (await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)).strip()
            assert url.startswith("ws://127.0.0.1:")
            async with rawlive.connect(
                MODEL, endpoint=url + LIVE_PATH, response_modalities=["TEXT"]
            ) as session:
                assert await ask(session, "Hello") == "Hello there! How can I help you today?"
        finally:
            proc.terminate()
            _, err = await asyncio.to_thread(proc.communicate, timeout=20)
    assert "-> {" in err and "<- {" in err
    assert "Traceback" not in err
    assert read_capture(capture).frames(dir="client")


def test_cli_bad_fault_is_one_line() -> None:
    proc = _rawlive("proxy", "--port", "0", "--fault", "drop:after-frames=x")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.strip().splitlines() == [
        "rawlive: error: --fault 'drop:after-frames=x': drop: after_frames takes a whole "
        "number, got 'x'"
    ]


async def test_a_slow_client_slows_only_its_own_upstream() -> None:
    setup = orjson.dumps({"setup": {"model": f"models/{MODEL}"}}).decode()
    ask_long = orjson.dumps({"realtimeInput": {"text": "Tell me a joke"}}).decode()
    async with FakeLiveServer(chunk_ms=10) as fake, relay(fake) as proxy:
        # The slow client asks for a long audio reply and reads nothing for a while.
        slow = await ws_connect(proxy.url + LIVE_PATH, max_queue=1)
        await slow.send(setup)
        await slow.send(ask_long)
        await asyncio.sleep(0.2)
        # Meanwhile another client is served in full.
        async with rawlive.connect(
            MODEL, endpoint=proxy.url + LIVE_PATH, response_modalities=["TEXT"]
        ) as session:
            assert await ask(session, "Hello") == "Hello there! How can I help you today?"
        # The slow client's reply is held back, not dropped: it arrives whole.
        frames = []
        for _ in range(2000):
            frame = orjson.loads(await asyncio.wait_for(slow.recv(), 5))
            frames.append(frame)
            if frame.get("serverContent", {}).get("turnComplete"):
                break
        await slow.close()
    chunks = [f for f in frames if f.get("serverContent", {}).get("modelTurn")]
    assert len(chunks) > 50
    assert frames[-1]["serverContent"]["turnComplete"] is True
