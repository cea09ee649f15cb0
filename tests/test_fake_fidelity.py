"""The fake answers as the service does where frameworks depend on it.

Frameworks built on the official SDKs seed the history and then nudge the
model with a content-free turn: livekit's ``generate_reply()`` adds a ``"."``
user turn, pipecat sends ``realtimeInput.text " "``. A real model answers the
pending question, so the fake must too. Frames here are written by hand, as
those frameworks put them on the wire.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from rawlive.testing import FakeLiveServer

MODEL = "models/gemini-2.0-flash-live-001"
QUESTION = "What is the capital of Brazil?"
ANSWER = "The capital of Brazil is **Brasília**."


def setup(*, seeded: bool) -> bytes:
    body: dict[str, Any] = {"model": MODEL, "generationConfig": {"responseModalities": ["TEXT"]}}
    if seeded:
        body["historyConfig"] = {"initialHistoryInClientContent": True}
    return orjson.dumps({"setup": body})


def content(*texts: str, roles: tuple[str, ...] = ()) -> bytes:
    roles = roles or ("user",) * len(texts)
    turns = [{"role": r, "parts": [{"text": t}]} for r, t in zip(roles, texts, strict=True)]
    return orjson.dumps({"clientContent": {"turns": turns, "turnComplete": True}})


async def open_session(server: FakeLiveServer, *, seeded: bool) -> ClientConnection:
    ws = await connect(server.url, open_timeout=5)
    await ws.send(setup(seeded=seeded))
    assert orjson.loads(await ws.recv()) == {"setupComplete": {}}
    return ws


async def next_turn(ws: ClientConnection) -> tuple[str, bool]:
    """Return the text of the next model turn and whether it was interrupted."""
    text, interrupted = "", False
    async with asyncio.timeout(10):
        while True:
            message = orjson.loads(await ws.recv())
            sc = message.get("serverContent", {})
            interrupted = interrupted or bool(sc.get("interrupted"))
            for part in sc.get("modelTurn", {}).get("parts", []):
                text += part.get("text", "")
            if sc.get("turnComplete"):
                return text, interrupted


@pytest.mark.parametrize(
    "nudge",
    [
        pytest.param(content("."), id="livekit-dot-turn"),
        pytest.param(b'{"realtimeInput":{"text":" "}}', id="pipecat-space-text"),
        pytest.param(b'{"clientContent":{"turnComplete":true}}', id="empty-turn-complete"),
    ],
)
async def test_seeded_history_then_a_nudge_gets_the_pending_answer(nudge: bytes) -> None:
    async with FakeLiveServer() as server:
        ws = await open_session(server, seeded=True)
        # Seeding does not trigger a reply (historyConfig.initialHistoryInClientContent)...
        await ws.send(content("Hi there", "Hello! How can I help?", QUESTION,
                              roles=("user", "model", "user")))  # fmt: skip
        # ... the nudge does, and it answers the seeded question, not the nudge.
        await ws.send(nudge)
        assert await next_turn(ws) == (ANSWER, False)
        await ws.close()
        await server.wait_idle()
    sent = server.connections[0].sent_messages
    completes = [m for m in sent if m.server_content and m.server_content.turn_complete]
    assert len(completes) == 1  # the seeding produced no turn of its own


async def test_a_nudge_after_the_question_in_one_frame_answers_the_question() -> None:
    async with FakeLiveServer() as server:
        ws = await open_session(server, seeded=False)
        await ws.send(content(QUESTION, "."))
        assert await next_turn(ws) == (ANSWER, False)
        await ws.close()


async def test_a_nudge_after_an_answered_question_answers_it_again() -> None:
    # Nothing unanswered has words: the last real user turn of the history wins.
    async with FakeLiveServer() as server:
        ws = await open_session(server, seeded=False)
        await ws.send(content(QUESTION))
        assert await next_turn(ws) == (ANSWER, False)
        await ws.send(b'{"realtimeInput":{"text":"."}}')
        assert await next_turn(ws) == (ANSWER, False)
        await ws.close()


async def test_a_nudge_with_no_history_gets_the_listening_reply() -> None:
    async with FakeLiveServer() as server:
        ws = await open_session(server, seeded=False)
        await ws.send(content("."))
        text, _ = await next_turn(ws)
        assert text == "I'm listening. What would you like to talk about?"
        await ws.close()


async def test_a_new_real_question_still_wins_over_the_history() -> None:
    async with FakeLiveServer() as server:
        ws = await open_session(server, seeded=True)
        await ws.send(content(QUESTION))
        await ws.send(content("Tell me a joke"))
        text, _ = await next_turn(ws)
        assert "atoms" in text
        await ws.close()


async def test_the_path_of_a_double_slash_url_is_recorded_whole() -> None:
    # The JS SDK always sends //ws/..., the Python SDK when base_url ends in /.
    async with FakeLiveServer() as server:
        base, path = server.url.split("/ws/", 1)
        async with connect(f"{base}//ws/{path}?key=secret-key-123") as ws:
            await ws.send(setup(seeded=False))
            await ws.recv()
        await server.wait_idle()
    record = server.connections[0]
    assert record.path == "//ws/" + path
    assert record.target == f"//ws/{path}?key=REDACTED"
    assert record.query == {"key": "REDACTED"}


async def test_v1_is_refused_with_the_model_not_found_close() -> None:
    async with FakeLiveServer() as server:
        url = server.url.replace(".v1beta.", ".v1.")
        async with connect(url) as ws:
            await ws.send(setup(seeded=False))
            await ws.wait_closed()
    assert (ws.close_code, ws.close_reason) == (
        1008,
        f"{MODEL} is not found for API version v1, or is not supported for bidiGenerateContent",
    )


async def test_a_keyless_server_takes_any_key_and_none() -> None:
    async with FakeLiveServer() as server:
        base, path = server.url.split("/ws/", 1)
        for suffix in ("", "?key=anything"):
            async with connect(f"{base}/ws/{path}{suffix}") as ws:
                await ws.send(setup(seeded=False))
                assert orjson.loads(await ws.recv()) == {"setupComplete": {}}


async def test_a_server_with_a_key_refuses_a_wrong_one() -> None:
    async with FakeLiveServer(api_key="the-right-key") as server:
        async with connect(server.url + "?key=the-wrong-key") as ws:
            await ws.send(setup(seeded=False))
            await ws.wait_closed()
        assert (ws.close_code, ws.close_reason) == (
            1008,
            "API key not valid. Please pass a valid API key.",
        )
        async with connect(server.url + "?key=the-right-key") as ws:
            await ws.send(setup(seeded=False))
            assert orjson.loads(await ws.recv()) == {"setupComplete": {}}


def test_the_seed_then_nudge_example_of_the_docs_runs() -> None:
    import subprocess
    import sys
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text("utf-8")
    (block,) = [b for b in text.split("```")[1::2] if "pipecat's nudge" in b and "rawlive" in b]
    done = subprocess.run(
        [sys.executable, "-c", block.split("\n", 1)[1]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "The capital of Brazil is **Brasília**.\n"
