"""``rawlive chat`` keeps the conversation across connections, and Ctrl-C leaves at once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from rawlive.testing import FakeLiveServer
from rawlive.testing.faults import GoAwayThenClose

SRC = Path(__file__).resolve().parent.parent / "src"


async def start_chat(*args: str, cwd: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env["PYTHONPATH"] = str(SRC)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rawlive",
        "chat",
        "--modality",
        "text",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def ask(chat: asyncio.subprocess.Process, text: str) -> str:
    assert chat.stdin is not None and chat.stdout is not None
    chat.stdin.write(text.encode() + b"\n")
    await chat.stdin.drain()
    return (await asyncio.wait_for(chat.stdout.readline(), 20)).decode().strip()


async def test_chat_idle_past_a_go_away_keeps_the_conversation(tmp_path: Path) -> None:
    fault = GoAwayThenClose("0.8s", after_turn=1)  # then the service closes with 1011
    async with FakeLiveServer(faults=[fault]) as server:
        chat = await start_chat("--server", server.url, cwd=tmp_path)
        try:
            assert await ask(chat, "What is the capital of Brazil?") == (
                "The capital of Brazil is **Brasília**."
            )
            await asyncio.sleep(1.5)  # the person is typing: goAway and deadline pass
            recall = await ask(chat, "what was the last question I asked?")
            assert chat.stdin is not None
            chat.stdin.close()
            _, err = await asyncio.wait_for(chat.communicate(), 20)
        finally:
            if chat.returncode is None:
                chat.kill()
                await chat.wait()
    assert recall == 'The last question you asked was: "What is the capital of Brazil?"', err
    assert chat.returncode == 0, err.decode()
    assert len(server.connections) == 2 and server.connections[0].closed_by == "client"


async def test_ctrl_c_at_the_prompt_leaves_at_once_and_prints_the_handle(tmp_path: Path) -> None:
    chat = await start_chat("--server", "demo", cwd=tmp_path)
    try:
        assert await ask(chat, "Hello") == "Hello there! How can I help you today?"
        await asyncio.sleep(0.3)  # now waiting at the prompt
        chat.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(chat.communicate(), 10)  # no Enter needed
    finally:
        if chat.returncode is None:
            chat.kill()
            await chat.wait()
    assert chat.returncode == 130
    assert "resume handle: " in err.decode()
    assert "Traceback" not in err.decode()
