"""Minting ephemeral tokens against the fake ``v1alpha/auth_tokens`` endpoint on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from rawlive.errors import ConfigurationError, TokenRequestError
from rawlive.testing.token_endpoint import TokenEndpoint, TokenRegistry
from rawlive.tokens import create_ephemeral_token, parse_duration

KEY = "AIzaMintingKey0123456789abcdef"


@pytest.fixture
async def endpoint() -> AsyncIterator[TokenEndpoint]:
    server = TokenEndpoint(TokenRegistry(), api_key=KEY, host="127.0.0.1")
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def test_mint_a_token(endpoint: TokenEndpoint) -> None:
    token = await asyncio.to_thread(
        create_ephemeral_token, KEY, uses=2, expire_time="10m", base_url=endpoint.base_url
    )
    assert token.name.startswith("auth_tokens/")
    assert token.name not in repr(token) and KEY not in repr(token)
    minted = endpoint.registry.tokens[token.name]
    assert minted.uses == 2
    assert endpoint.registry.accepts(token.name, resuming=False)
    assert endpoint.registry.accepts(token.name, resuming=True)  # resuming spends nothing
    assert endpoint.registry.accepts(token.name, resuming=False)
    assert not endpoint.registry.accepts(token.name, resuming=False)  # both uses spent
    assert not endpoint.registry.accepts("auth_tokens/forged", resuming=False)


async def test_constraints_and_unlimited_uses(endpoint: TokenEndpoint) -> None:
    setup = {"model": "models/gemini-3.8-live", "generationConfig": {"temperature": 0.2}}
    token = await asyncio.to_thread(
        create_ephemeral_token, KEY, uses=0, live_constraints=setup, lock_fields=["temperature"],
        base_url=endpoint.base_url,
    )  # fmt: skip
    minted = endpoint.registry.tokens[token.name]
    assert minted.uses is None and minted.constraints == setup


async def test_a_wrong_key_is_one_clear_error_without_the_key(endpoint: TokenEndpoint) -> None:
    wrong = "AIzaWrongKeyWrongKeyWrongKey00"
    with pytest.raises(TokenRequestError) as info:
        await asyncio.to_thread(create_ephemeral_token, wrong, base_url=endpoint.base_url)
    assert info.value.status == 400
    assert str(info.value) == (
        "the token endpoint refused: HTTP 400 API key not valid. Please pass a valid API key."
    )
    assert wrong not in str(info.value)


def test_an_unreachable_endpoint_is_one_clear_error() -> None:
    with pytest.raises(TokenRequestError, match="could not reach the token endpoint"):
        create_ephemeral_token(KEY, base_url="http://127.0.0.1:9", timeout=5)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"uses": -1}, "uses must be"),
        ({"expire_time": "21h"}, "less than 20 hours"),
        ({"expire_time": "soon"}, "a duration looks like"),
        ({"new_session_expire_time": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)}, "future"),
        ({"base_url": "ftp://x"}, "http"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        create_ephemeral_token(KEY, **kwargs)  # type: ignore[arg-type]


def test_durations() -> None:
    assert parse_duration("30m") == dt.timedelta(minutes=30)
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration("1.5h") == dt.timedelta(minutes=90)
    assert parse_duration("90s") == dt.timedelta(seconds=90)
    for bad in ("", "m", "5", "5x", "1h 30m"):
        with pytest.raises(ConfigurationError):
            parse_duration(bad)


async def test_the_endpoint_bounds_and_refuses_bad_requests(endpoint: TokenEndpoint) -> None:
    async def raw(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 15)
        writer.close()
        return data

    assert b" 404 " in await raw(b"POST /v1beta/other HTTP/1.1\r\n\r\n")
    assert b" 405 " in await raw(b"GET /v1alpha/auth_tokens HTTP/1.1\r\n\r\n")
    huge = b"POST /v1alpha/auth_tokens HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"
    assert b" 400 " in await raw(huge)
    assert b" 400 " in await raw(b"X" * 20000 + b"\r\n\r\n")
    bad_json = (
        b"POST /v1alpha/auth_tokens HTTP/1.1\r\nx-goog-api-key: " + KEY.encode()
        + b"\r\nContent-Length: 3\r\n\r\n[1]"
    )  # fmt: skip
    assert b"JSON object" in await raw(bad_json)
    # Still serving after all that.
    token = await asyncio.to_thread(create_ephemeral_token, KEY, base_url=endpoint.base_url)
    assert token.name.startswith("auth_tokens/")


async def test_cli_token_create(endpoint: TokenEndpoint) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env["GEMINI_API_KEY"] = KEY
    command = [sys.executable, "-m", "rawlive", "token", "create", "--base-url", endpoint.base_url]
    done = await asyncio.to_thread(
        subprocess.run, [*command, "--uses", "3", "--json"], capture_output=True, text=True,
        env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["uses"] == 3 and printed["name"] in endpoint.registry.tokens
    assert KEY not in done.stdout + done.stderr

    env["GEMINI_API_KEY"] = "AIzaWrongKeyWrongKeyWrongKey00"
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "rawlive: error: the token endpoint refused: HTTP 400 API key not valid. "
        "Please pass a valid API key."
    ]
