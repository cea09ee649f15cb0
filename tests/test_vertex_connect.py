"""Each way to reach the Live API, end to end against the fake server through ``base_url``.

For the Gemini API key, a minted ephemeral token, Vertex AI with a bearer
token and Vertex express mode, the tests show the exact path, auth header,
model name and usage reading, and that no key or token leaks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import rawlive
from rawlive.errors import VertexAuthError
from rawlive.testing import FakeLiveServer
from rawlive.testing.faults import DropConnection
from rawlive.tokens import create_ephemeral_token
from rawlive.vertex import AccessTokenSource

KEY = "AIzaVertexConnectKey0123456789"
TOKEN = "ya29.vertex-bearer-token-0123456789"
MODEL = "rawlive-demo"
GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
CONSTRAINED_PATH = (
    "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
)
VERTEX_PATH = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"


async def one_turn(fake: FakeLiveServer, tmp_path: Path, **options: Any) -> tuple[Any, str]:
    capture = tmp_path / "session.jsonl"
    async with rawlive.connect(MODEL, base_url=fake.base_url, record=capture, **options) as s:
        await s.send_text("Hello")
        turn = await s.receive_turn(timeout=10)
        shown = repr(s)
        usage = s.usage
    assert turn.turn_complete
    assert usage.response_tokens > 0 and usage.total_tokens > usage.prompt_tokens
    return fake.connections[-1], capture.read_text(encoding="utf-8") + shown


async def test_gemini_api_key(tmp_path: Path) -> None:
    async with FakeLiveServer(api_key=KEY) as fake:
        record, text = await one_turn(fake, tmp_path, api_key=KEY, response_modalities=["TEXT"])
    assert record.path == GEMINI_PATH
    assert record.headers["x-goog-api-key"] == "REDACTED"
    assert record.setup is not None and record.setup.model == f"models/{MODEL}"
    assert KEY not in text


async def test_minted_ephemeral_token(tmp_path: Path) -> None:
    async with FakeLiveServer(api_key=KEY, mint_tokens=True) as fake:
        token = await asyncio.to_thread(create_ephemeral_token, KEY, base_url=fake.token_url)
        record, text = await one_turn(
            fake, tmp_path, api_key=token.name, response_modalities=["TEXT"]
        )
    assert record.path == CONSTRAINED_PATH
    assert record.headers["authorization"] == "Token REDACTED"
    assert record.setup is not None and record.setup.model == f"models/{MODEL}"
    assert token.name not in text and KEY not in text


async def test_vertex_with_a_bearer_token(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeLiveServer(vertex=True, access_token=TOKEN) as fake:
        record, text = await one_turn(
            fake, tmp_path, vertex=True, project="p", location="us-central1", access_token=TOKEN
        )
    assert record.path == VERTEX_PATH
    assert record.headers["authorization"] == "Bearer REDACTED"
    assert record.setup is not None
    assert (
        record.setup.model == f"projects/p/locations/us-central1/publishers/google/models/{MODEL}"
    )
    # The SDKs fill in AUDIO for Vertex AI when no modality is given.
    assert record.setup.generation_config is not None
    assert list(record.setup.generation_config.response_modalities or ()) == ["AUDIO"]
    assert b"candidatesTokenCount" in record.sent[-2] + record.sent[-1]
    assert TOKEN not in text and TOKEN not in caplog.text


async def test_vertex_express_mode(tmp_path: Path) -> None:
    async with FakeLiveServer(vertex=True, api_key=KEY) as fake:
        record, text = await one_turn(
            fake, tmp_path, vertex=True, api_key=KEY, response_modalities=["TEXT"]
        )
    assert record.path == VERTEX_PATH
    assert record.headers["x-goog-api-key"] == "REDACTED"
    assert record.setup is not None and record.setup.model == f"publishers/google/models/{MODEL}"
    assert KEY not in text


async def test_vertex_from_the_sdks_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    async with FakeLiveServer(vertex=True, access_token=TOKEN) as fake:
        record, _ = await one_turn(fake, tmp_path, access_token=TOKEN, response_modalities=["TEXT"])
    assert record.setup is not None
    assert record.setup.model.startswith("projects/env-project/locations/europe-west4/")


async def test_an_old_vertex_token_is_refreshed_for_the_next_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    tokens = iter(["ya29.first-token-000", "ya29.second-token-00"])
    calls: list[str] = []

    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(next(tokens))
        return subprocess.CompletedProcess(args, 0, calls[-1] + "\n", "")

    def find(access_token: str | None = None, **kwargs: Any) -> AccessTokenSource:
        source = AccessTokenSource("gcloud", _run=run, _clock=lambda: now[0])
        source()
        return source

    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/gcloud")
    monkeypatch.setattr("rawlive.vertex.find_access_token", find)
    async with FakeLiveServer(vertex=True, faults=[DropConnection(after_turn=1)]) as fake:
        async with rawlive.connect(
            MODEL, vertex=True, project="p", location="us-central1", base_url=fake.base_url,
            response_modalities=["TEXT"], reconnect=True,
        ) as session:  # fmt: skip
            await session.send_text("Hello")
            await session.receive_turn(timeout=10)
            now[0] += 3600  # an hour later the token is old
            await session.send_text("What is the capital of Brazil?")
            turn = await session.receive_turn(timeout=10)
    assert "Brasília" in turn.text
    assert len(fake.connections) == 2
    assert calls == ["ya29.first-token-000", "ya29.second-token-00"]


async def test_cli_vertex_flags(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "GOOGLE"))}
    async with FakeLiveServer(vertex=True, access_token=TOKEN) as fake:
        done = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable, "-m", "rawlive", "say", "Hello", "--modality", "text",
                "--vertex", "--project", "p", "--location", "us-central1",
                "--access-token", TOKEN, "--base-url", fake.base_url, "--frames",
                "--model", MODEL,
            ],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hello there! How can I help you today?"
    assert TOKEN not in done.stdout + done.stderr
    assert fake.connections[0].path == VERTEX_PATH


def test_no_vertex_token_anywhere_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json")
    with pytest.raises(VertexAuthError) as info:
        rawlive.connect(MODEL, vertex=True, project="p", location="us-central1")
    assert "gcloud" in str(info.value) and "Application Default Credentials" in str(info.value)
