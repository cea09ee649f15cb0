"""The command line, run as a user would: a subprocess, offline, no key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import wave
from pathlib import Path

import orjson
import pytest

SRC = Path(__file__).resolve().parent.parent / "src"


def run(
    *args: str, cwd: Path, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "rawlive", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_say_without_a_key_uses_the_demo_server_and_writes_a_wav(tmp_path: Path) -> None:
    result = run("say", "Hello? Gemini are you there?", "--audio", "hello.wav", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bundled fake server" in result.stderr
    assert result.stdout.strip() == "Yes, I am here! How can I help you today?"
    assert "usage: prompt" in result.stderr and "resume handle:" in result.stderr
    with wave.open(str(tmp_path / "hello.wav"), "rb") as w:
        assert w.getframerate() == 24000 and w.getnframes() > 0


def test_say_text_with_frames(tmp_path: Path) -> None:
    result = run("say", "Hello", "--modality", "text", "--server", "demo", "--frames", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Hello there! How can I help you today?"
    lines = result.stderr.splitlines()
    assert any(line.startswith('-> {"setup":') for line in lines)
    assert any(line.startswith('<- {"setupComplete":{}}') for line in lines)
    assert any('"turnComplete":true' in line and "usageMetadata" in line for line in lines)


def test_frames_shorten_audio(tmp_path: Path) -> None:
    result = run("say", "Hi", "--modality", "audio", "--server", "demo", "--frames", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    audio_lines = [line for line in result.stderr.splitlines() if "inlineData" in line]
    assert audio_lines and all("<redacted" in line and len(line) < 400 for line in audio_lines)


def test_chat_three_turns_three_wavs(tmp_path: Path) -> None:
    result = run(
        "chat",
        "Hello? Gemini are you there?",
        "Can you tell me a joke?",
        "What is the weather like today?",
        "--audio-dir",
        "out",
        "--server",
        "demo",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for i in range(3):
        with wave.open(str(tmp_path / "out" / f"audio_response_{i}.wav"), "rb") as w:
            assert w.getnframes() > 0
    assert len(result.stdout.strip().splitlines()) == 3


def test_chat_reads_stdin_and_recalls(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env["PYTHONPATH"] = str(SRC)
    result = subprocess.run(
        [sys.executable, "-m", "rawlive", "chat", "--modality", "text", "--server", "demo"],
        input="Hello\nWhat is the capital of Brazil?\nwhat was the last question I asked?\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1]
        == 'The last question you asked was: "What is the capital of Brazil?"'
    )


def test_record_writes_an_owner_only_capture(tmp_path: Path) -> None:
    result = run(
        "say",
        "Hello",
        "--modality",
        "text",
        "--server",
        "demo",
        "--record",
        "s.jsonl",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    path = tmp_path / "s.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    records = [orjson.loads(line) for line in path.read_text().splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "meta" and "open" in kinds and kinds[-1] == "close"
    frames = [r for r in records if r["kind"] == "frame"]
    assert frames[0]["dir"] == "client" and frames[0]["data"].startswith('{"setup"')
    assert frames[1]["type"] == "binary"


def test_explain(tmp_path: Path) -> None:
    result = run("explain", "1008", "BidiGenerateContent", "session", "not", "found", cwd=tmp_path)
    assert result.returncode == 0
    assert "resumption handle refused" in result.stdout
    assert "will not help" in result.stdout


@pytest.mark.parametrize("server", ["google"])
def test_missing_key_is_a_clear_error(tmp_path: Path, server: str) -> None:
    result = run("say", "Hello", "--server", server, cwd=tmp_path)
    assert result.returncode == 1
    assert "no API key found" in result.stderr
    assert "GEMINI_API_KEY" in result.stderr and "--server demo" in result.stderr
    assert "Traceback" not in result.stderr


def test_key_never_printed(tmp_path: Path) -> None:
    secret = "AIzaSy-cli-secret-value-987"
    result = run(
        "say",
        "Hello",
        "--server",
        "demo",
        "--frames",
        "--api-key",
        secret,
        "--record",
        "k.jsonl",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    assert secret not in (tmp_path / "k.jsonl").read_text()


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_lint_a_clean_capture(tmp_path: Path) -> None:
    result = run("lint", str(FIXTURES / "seed_resumable_session.jsonl"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 problems found"


def test_lint_finds_what_the_service_would_reject(tmp_path: Path) -> None:
    from rawlive.capture.format import CaptureWriter

    path = tmp_path / "bad.jsonl"
    with CaptureWriter(path) as writer:
        writer.frame(1, "client", '{"setup":{"model":"models/m"}}')
        writer.frame(1, "server", b'{"setupComplete":{}}')
        writer.frame(
            1,
            "client",
            '{"realtime_input":{"media_chunks":[{"mime_type":"audio/pcm","data":"AAAA"}]}}',
        )
        writer.frame(1, "client", '{"realtimeInput":{"activityStart":{}}}')
        writer.frame(
            1, "server", b'{"toolCall":{"functionCalls":[{"id":"a","name":"f","args":{}}]}}'
        )
        writer.frame(
            1,
            "client",
            '{"toolResponse":{"functionResponses":[{"id":"a","name":"f","response":{}}]}}',
        )
        writer.frame(
            1,
            "client",
            '{"toolResponse":{"functionResponses":[{"id":"a","name":"f","response":{}}]}}',
        )
        writer.frame(1, "client", '{"setup":{"model":"models/m"}}')
    result = run("lint", str(path), cwd=tmp_path)
    assert result.returncode == 1
    rules = [line.split("[")[1].split("]")[0] for line in result.stdout.splitlines() if "[" in line]
    assert rules == ["media-chunks", "activity-with-vad", "tool-response-id", "second-setup"]
    assert result.stdout.strip().endswith("4 problems found")


def test_lint_flags_the_real_setup_without_a_model(tmp_path: Path) -> None:
    result = run("lint", str(FIXTURES / "real_messages.jsonl"), cwd=tmp_path)
    assert result.returncode == 1
    assert "[setup-model]" in result.stdout


def test_show_wav_and_diff_commands(tmp_path: Path) -> None:
    show = run("show", str(FIXTURES / "close_goaway.jsonl"), cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "goAway" in show.stdout and "1011" in show.stdout
    wav_result = run("wav", str(FIXTURES / "seed_audio_turns.jsonl"), "out.wav", cwd=tmp_path)
    assert wav_result.returncode == 0, wav_result.stderr
    with wave.open(str(tmp_path / "out.wav"), "rb") as w:
        assert w.getframerate() == 24000 and w.getnframes() == 3 * 10 * 960
    no_input = run(
        "wav", str(FIXTURES / "seed_audio_turns.jsonl"), "in.wav", "--input", cwd=tmp_path
    )
    assert no_input.returncode == 1 and "rawlive: error:" in no_input.stderr
    same = run(
        "diff",
        str(FIXTURES / "seed_text_session.jsonl"),
        str(FIXTURES / "seed_text_session.jsonl"),
        cwd=tmp_path,
    )
    assert same.returncode == 0, same.stderr
    drift = run(
        "diff",
        str(FIXTURES / "seed_text_session.jsonl"),
        str(FIXTURES / "seed_audio_turns.jsonl"),
        cwd=tmp_path,
    )
    assert drift.returncode == 1
    assert "+ server serverContent.modelTurn.parts[].inlineData.mimeType" in drift.stdout


def test_record_then_show_a_demo_session(tmp_path: Path) -> None:
    said = run(
        "say",
        "Hello",
        "--server",
        "demo",
        "--modality",
        "audio",
        "--record",
        "demo.jsonl",
        "--redact-audio",
        cwd=tmp_path,
    )
    assert said.returncode == 0, said.stderr
    capture_text = (tmp_path / "demo.jsonl").read_text()
    assert "<redacted" in capture_text
    shown = run("show", "demo.jsonl", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "turn 1" in shown.stdout and "last resumable handle" in shown.stdout


async def test_serve_replays_a_capture_to_a_client(tmp_path: Path) -> None:
    import asyncio

    import rawlive

    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env["PYTHONPATH"] = str(SRC)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rawlive", "serve", str(FIXTURES / "seed_resumable_session.jsonl"), "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        assert url.startswith("ws://127.0.0.1:")
        async with rawlive.connect(
            "gemini-2.0-flash-live-001",
            endpoint=url,
            response_modalities=["TEXT"],
            session_resumption=True,
        ) as session:
            await session.send_text("Hello")
            first = await session.receive_turn()
            await session.send_text("What is the capital of Brazil?")
            second = await session.receive_turn()
        assert first.text == "Hello there! How can I help you today?\n"
        assert second.text == "The capital of Brazil is **Brasília**.\n"
    finally:
        proc.terminate()
        await proc.wait()


def test_default_modality_is_audio_printed_through_its_transcript(tmp_path: Path) -> None:
    result = run("say", "Hello", "--server", "demo", "--frames", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Hello there! How can I help you today?"
    setup_line = next(line for line in result.stderr.splitlines() if line.startswith('-> {"setup"'))
    assert (
        '"responseModalities":["AUDIO"]' in setup_line
        and '"outputAudioTranscription":{}' in setup_line
    )
    assert "of audio not saved: pass --audio OUT.wav" in result.stderr
