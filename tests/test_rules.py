"""One table of what the service rejects: the lint and both servers agree on it.

Every rule the outgoing lint checks has a scenario here: the request path and
the client frames, the last of which (or the request itself) breaks the rule.
For each, the lint names exactly that rule, and the fake and the replay
server (``rules="service"``) close with the code and reason the table gives.
A rule added to the table without a scenario fails ``test_every_lint_rule_has_a_scenario``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rawlive._compat import timeout
from rawlive.capture.format import CaptureWriter, read_capture
from rawlive.capture.lint import lint_capture
from rawlive.capture.replay import ReplayServer
from rawlive.protocol.codec import decode_client
from rawlive.protocol.lint import lint_message, lint_request
from rawlive.protocol.rules import RULES, Rule, live_path_version, offered_credentials
from rawlive.testing import FakeLiveServer

MODEL = "models/gemini-2.0-flash-live-001"
V1BETA = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
V1 = "/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent"
SETUP = orjson.dumps({"setup": {"model": MODEL}}).decode()
SETUP_NO_VAD = orjson.dumps(
    {
        "setup": {
            "model": MODEL,
            "realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}},
        }
    }
).decode()
TEXT_SETUP = orjson.dumps(
    {"setup": {"model": MODEL, "generationConfig": {"responseModalities": ["TEXT"]}}}
).decode()
TEXT = '{"clientContent":{"turns":[{"role":"user","parts":[{"text":"Hi"}]}],"turnComplete":true}}'


@dataclass(frozen=True)
class Scenario:
    frames: tuple[str, ...]  # client frames; the last one breaks the rule (unless the path does)
    path: str = V1BETA


SCENARIOS: dict[str, Scenario] = {
    "undecodable": Scenario((SETUP, "{not json")),
    "one-key": Scenario((SETUP, '{"clientContent":{},"realtimeInput":{"text":"x"}}')),
    "setup-first": Scenario((TEXT,)),
    "second-setup": Scenario((SETUP, SETUP)),
    "setup-model": Scenario(('{"setup":{}}',)),
    "media-chunks": Scenario(
        (SETUP, '{"realtimeInput":{"mediaChunks":[{"mimeType":"audio/pcm","data":"AAAA"}]}}')
    ),
    "activity-with-vad": Scenario((SETUP, '{"realtimeInput":{"activityStart":{}}}')),
    "stream-end-without-vad": Scenario((SETUP_NO_VAD, '{"realtimeInput":{"audioStreamEnd":true}}')),
    "tool-response-id": Scenario(
        (SETUP, '{"toolResponse":{"functionResponses":[{"id":"nope","name":"f","response":{}}]}}')
    ),
    "vertex-only-field": Scenario(
        (
            orjson.dumps(
                {"setup": {"model": MODEL, "sessionResumption": {"transparent": True}}}
            ).decode(),
        )
    ),
    "api-version": Scenario((SETUP,), path=V1),
    "ephemeral-endpoint": Scenario((SETUP,), path=V1BETA + "?access_token=auth_tokens/abc"),
}

LINT_RULES = [rule for rule in RULES.values() if rule.lint]


def expected_close(rule: Rule, scenario: Scenario) -> tuple[int, str]:
    parsed = live_path_version(scenario.path)
    return rule.code, rule.close_reason(model=MODEL, version=parsed[0] if parsed else "")


def lint_rules(scenario: Scenario) -> list[str]:
    """The rules the lint finds in the scenario (frames through rawlive lint's path)."""
    found = [i.rule for i in lint_request(scenario.path, ephemeral="auth_tokens/" in scenario.path)]
    setup = None
    for frame in scenario.frames:
        try:
            message = decode_client(frame)
        except Exception:
            found.append("undecodable")
            continue
        found += [i.rule for i in lint_message(message, setup=setup, pending_calls=())]
        setup = setup or message.setup
    return found


async def close_of(url: str, frames: tuple[str, ...]) -> tuple[int | None, str | None]:
    async with timeout(10):
        async with connect(url, open_timeout=5) as ws:
            for frame in frames:
                await ws.send(frame)
            with contextlib.suppress(ConnectionClosed):
                async for _ in ws:  # whatever comes before the close (setupComplete)
                    pass
        return ws.protocol.close_code, ws.protocol.close_reason


def write_capture(path: Path, scenario: Scenario) -> None:
    """A capture whose client frames match the scenario's up to the bad one."""
    good = scenario.frames[:-1] if len(scenario.frames) > 1 else (SETUP,)
    with CaptureWriter(path) as cw:
        cw.open_conn(1, "wss://example.invalid" + V1BETA, MODEL, t=0.0)
        for n, frame in enumerate(good):
            cw.frame(1, "client", frame, t=n * 0.1)
            if n == 0:
                cw.frame(1, "server", b'{"setupComplete":{}}', t=n * 0.1 + 0.05)
        cw.close_conn(1, 1000, "", "client", t=1.0)


def test_every_lint_rule_has_a_scenario() -> None:
    assert set(SCENARIOS) == {rule.id for rule in LINT_RULES}


@pytest.mark.parametrize("rule", LINT_RULES, ids=lambda r: r.id)
def test_the_lint_names_the_rule(rule: Rule) -> None:
    assert lint_rules(SCENARIOS[rule.id]) == [rule.id]


@pytest.mark.parametrize("rule", LINT_RULES, ids=lambda r: r.id)
async def test_the_fake_server_refuses_what_the_lint_refuses(rule: Rule) -> None:
    scenario = SCENARIOS[rule.id]
    async with FakeLiveServer() as server:
        base = server.url.split("/ws/", 1)[0]
        assert await close_of(base + scenario.path, scenario.frames) == expected_close(
            rule, scenario
        )


@pytest.mark.parametrize("rule", LINT_RULES, ids=lambda r: r.id)
async def test_the_replay_server_refuses_what_the_lint_refuses(rule: Rule, tmp_path: Path) -> None:
    scenario = SCENARIOS[rule.id]
    write_capture(tmp_path / "c.jsonl", scenario)
    async with ReplayServer(tmp_path / "c.jsonl") as server:
        base = server.url.split("/ws/", 1)[0]
        assert await close_of(base + scenario.path, scenario.frames) == expected_close(
            rule, scenario
        )
    assert not server.mismatches  # refused by the rule, before any comparison


LENIENT_GOES_ON = ["one-key", "second-setup", "media-chunks", "activity-with-vad",
                   "stream-end-without-vad", "tool-response-id", "api-version",
                   "ephemeral-endpoint", "undecodable", "setup-model"]  # fmt: skip


@pytest.mark.parametrize("rule_id", LENIENT_GOES_ON)
async def test_a_lenient_fake_lets_it_through(rule_id: str) -> None:
    scenario = SCENARIOS[rule_id]
    async with FakeLiveServer(rules="lenient") as server:
        base = server.url.split("/ws/", 1)[0]
        async with timeout(10), connect(base + scenario.path) as ws:
            for frame in scenario.frames:
                await ws.send(frame)
            await ws.send(TEXT)  # still served: the answer comes
            async for frame in ws:
                if b"turnComplete" in (frame if isinstance(frame, bytes) else frame.encode()):
                    break
        assert ws.protocol.close_code == 1000  # we closed it, not the server


async def test_a_lenient_replay_compares_shapes_only(tmp_path: Path) -> None:
    scenario = SCENARIOS["api-version"]
    write_capture(tmp_path / "c.jsonl", scenario)
    async with ReplayServer(tmp_path / "c.jsonl", rules="lenient") as server:
        base = server.url.split("/ws/", 1)[0]
        async with timeout(10), connect(base + scenario.path) as ws:
            await ws.send(SETUP)
            assert orjson.loads(await ws.recv()) == {"setupComplete": {}}
    server.raise_for_mismatch()


async def test_the_rule_of_the_service_goes_into_the_replay_record(tmp_path: Path) -> None:
    scenario = SCENARIOS["media-chunks"]
    write_capture(tmp_path / "c.jsonl", scenario)
    async with ReplayServer(tmp_path / "c.jsonl", record=tmp_path / "seen.jsonl") as server:
        base = server.url.split("/ws/", 1)[0]
        await close_of(base + scenario.path, scenario.frames)
    (close,) = read_capture(tmp_path / "seen.jsonl").closes()
    assert (close.code, close.reason, close.by) == (1007, RULES["media-chunks"].reason, "server")


def test_a_clean_session_breaks_no_rule(tmp_path: Path) -> None:
    write_capture(tmp_path / "c.jsonl", Scenario((SETUP, TEXT)))
    assert lint_capture(read_capture(tmp_path / "c.jsonl")) == []


def test_live_path_version_reads_double_slashes_and_ignores_other_paths() -> None:
    assert live_path_version("//ws/" + V1BETA.removeprefix("/ws/")) == (
        "v1beta",
        "BidiGenerateContent",
    )
    assert live_path_version(V1) == ("v1", "BidiGenerateContent")
    assert (
        live_path_version("/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent")
        is None
    )
    assert live_path_version("/") is None


def test_offered_credentials_reads_every_place_the_service_does() -> None:
    headers = [
        ("X-Goog-Api-Key", "k1"),
        ("Authorization", "Token t2"),
        ("Authorization", "Basic x"),
    ]
    assert offered_credentials("//ws/x?key=k3&access_token=t4&other=5", headers) == [
        "k1",
        "t2",
        "k3",
        "t4",
    ]


async def test_the_client_lint_and_the_fake_refuse_v1_alike() -> None:
    import rawlive
    from rawlive.errors import LintError, LiveError

    async with FakeLiveServer() as server:
        url = server.url.replace(".v1beta.", ".v1.")
        with pytest.raises(LintError) as linted:
            async with rawlive.connect("gemini-2.0-flash-live-001", endpoint=url):
                pass
        assert linted.value.rule == "api-version"
        with pytest.raises(LiveError) as closed:
            async with rawlive.connect("gemini-2.0-flash-live-001", endpoint=url, lint=False):
                pass
    assert "not found for API version v1" in str(closed.value)
    assert server.connections[0].close_code == RULES["api-version"].code


@pytest.mark.parametrize("rules", ["service", "lenient"])
async def test_rawlive_serve_takes_the_rules(rules: str) -> None:
    import sys

    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "seed_text_session.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rawlive", "serve", str(fixture), "--port", "0", "--rules", rules,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        async with timeout(20):
            url = (await process.stdout.readline()).decode().strip()
            async with connect(url.replace(".v1beta.", ".v1.")) as ws:
                await ws.send(TEXT_SETUP)  # the capture's own setup
                first = b""
                with contextlib.suppress(ConnectionClosed):
                    first = await ws.recv()
        if rules == "lenient":
            assert orjson.loads(first) == {"setupComplete": {}}
        else:
            assert (ws.protocol.close_code, ws.protocol.close_reason) == expected_close(
                RULES["api-version"], SCENARIOS["api-version"]
            )
    finally:
        process.terminate()
        await process.wait()


def test_the_docs_table_says_what_the_rules_table_says() -> None:
    import re

    text = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text("utf-8")
    rows = re.findall(r"^\| `([a-z-]+)` \| .*? \| (\d{4}) `(.*?)` \|$", text, re.M)
    documented = {rule: (int(code), reason) for rule, code, reason in rows}
    assert set(documented) == {rule.id for rule in LINT_RULES}
    for rule in LINT_RULES:
        code, reason = documented[rule.id]
        assert code == rule.code
        assert reason == rule.close_reason(model="MODEL", version="v1")


async def test_vertex_only_fields_pass_on_vertex_ai() -> None:
    setup = {"model": MODEL, "sessionResumption": {"transparent": True}, "explicitVadSignal": True}
    message = decode_client(orjson.dumps({"setup": setup}))
    assert [i.rule for i in lint_message(message, setup=None)] == ["vertex-only-field"]
    assert lint_message(message, setup=None, backend="vertex") == []
    async with FakeLiveServer(vertex=True) as server, connect(server.url, open_timeout=5) as ws:
        await ws.send(orjson.dumps({"setup": setup}).decode())
        reply = await asyncio.wait_for(ws.recv(), 5)
    assert "setupComplete" in orjson.loads(reply)  # served, not refused
