"""Session flags for what the library does, and the refusals that protect the user."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import websockets

from cli_support import cli_env, run_cli
from rawlive.testing import FakeLiveServer


def test_text_modality_with_audio_refuses_and_writes_nothing(tmp_path: Path) -> None:
    result = run_cli(
        "say", "Hello", "--modality", "text", "--audio", "x.wav", "--server", "demo",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "rawlive: error: --audio needs audio replies: drop --modality text (the default is audio)"
    )
    assert not (tmp_path / "x.wav").exists()
    chat = run_cli(
        "chat", "Hello", "--modality", "text", "--audio-dir", "out", "--server", "demo",
        cwd=tmp_path,
    )  # fmt: skip
    assert chat.returncode == 1 and "--audio-dir needs audio replies" in chat.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_env_file_is_an_error(tmp_path: Path) -> None:
    result = run_cli("say", "Hello", "--env-file", "nope.env", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "rawlive: error: --env-file nope.env: no such file"


def test_a_key_of_only_spaces_is_not_a_key(tmp_path: Path) -> None:
    flag = run_cli("say", "Hello", "--api-key", "   ", "--server", "demo", cwd=tmp_path)
    assert flag.returncode == 1
    assert flag.stderr.strip() == (
        "rawlive: error: --api-key is empty or only spaces: give a key, or leave it out"
    )
    # From the environment or a .env file, a blank key counts as no key: the demo is used.
    (tmp_path / ".env").write_text("GEMINI_API_KEY='  '\n")
    env = run_cli(
        "say", "Hello", "--modality", "text", cwd=tmp_path, env_extra={"GOOGLE_API_KEY": " \t"}
    )
    assert env.returncode == 0, env.stderr
    assert "no API key found" in env.stderr and "bundled fake server" in env.stderr


async def test_allow_insecure_is_needed_for_plain_ws_off_loopback(tmp_path: Path) -> None:
    async with FakeLiveServer(host="0.0.0.0") as server:
        # a client dialling the wildcard address itself: not a loopback name
        url = server.url.replace("ws://127.0.0.1:", "ws://0.0.0.0:")
        assert url.startswith("ws://0.0.0.0:")
        refused = await run_async("say", "Hi", "--modality", "text", "--server", url, cwd=tmp_path)
        assert refused[0] == 1
        assert refused[2].strip() == (
            "rawlive: error: refusing plain ws:// to 0.0.0.0: the API key would travel in "
            "clear text; use wss:// or pass --allow-insecure"
        )
        allowed = await run_async(
            "say", "Hi", "--modality", "text", "--server", url, "--allow-insecure", cwd=tmp_path
        )
        assert allowed[0] == 0, allowed[2]
        assert allowed[1] == "Hello there! How can I help you today?\n"


async def test_setup_timeout_is_passed_to_connect(tmp_path: Path) -> None:
    async def silent(ws: websockets.asyncio.server.ServerConnection) -> None:
        await ws.recv()  # the setup, never answered
        await ws.wait_closed()

    async with websockets.serve(silent, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        code, _, err = await run_async(
            "say", "Hi", "--server", f"ws://127.0.0.1:{port}", "--setup-timeout", "0.2",
            cwd=tmp_path,
        )  # fmt: skip
    assert code == 1
    assert err.startswith("rawlive: error: ") and "setupComplete" in err
    assert "Traceback" not in err


def test_bad_timeouts_are_refused(tmp_path: Path) -> None:
    for flag in ("--setup-timeout", "--timeout"):
        result = run_cli("say", "Hi", "--server", "demo", flag, "0", cwd=tmp_path)
        assert result.returncode == 1
        assert f"{flag} must be a positive number of seconds" in result.stderr


async def run_async(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run the CLI while this test's event loop keeps serving."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rawlive", *args,
        cwd=cwd, env=cli_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()
