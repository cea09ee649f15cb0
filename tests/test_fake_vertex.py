"""The fake server's Vertex AI mode and its minted ephemeral tokens, over raw frames."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from rawlive.testing import FakeLiveServer
from rawlive.tokens import create_ephemeral_token

KEY = "AIzaFakeVertexKey0123456789abc"
TOKEN = "ya29.a-vertex-access-token-for-tests"
MODEL = "projects/p/locations/us-central1/publishers/google/models/rawlive-demo"
CONSTRAINED = (
    "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
)


async def one_turn(url: str, headers: dict[str, str], setup: dict[str, Any]) -> list[Any]:
    frames: list[Any] = []
    async with ws_connect(url, additional_headers=headers) as ws:
        await ws.send(orjson.dumps({"setup": setup}).decode())
        await ws.send(orjson.dumps({"realtimeInput": {"text": "Hello"}}).decode())
        try:
            for _ in range(200):
                frame = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
                frames.append(frame)
                if frame.get("serverContent", {}).get("turnComplete"):
                    break
        except ConnectionClosed:
            frames.append(("closed", ws.close_code, ws.close_reason))
    return frames


async def test_vertex_mode_path_bearer_and_usage_names() -> None:
    async with FakeLiveServer(vertex=True, access_token=TOKEN) as fake:
        assert fake.url.endswith(
            "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
        )
        frames = await one_turn(fake.url, {"Authorization": f"Bearer {TOKEN}"}, {"model": MODEL})
        refused = await one_turn(fake.url, {"Authorization": "Bearer ya29.wrong"}, {"model": MODEL})
    usage = frames[-1]["usageMetadata"]
    assert "candidatesTokenCount" in usage and "responseTokenCount" not in usage
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert usage["candidatesTokensDetails"][0]["modality"] in ("AUDIO", "TEXT")
    assert refused[-1][0] == "closed" and refused[-1][1] == 1008
    assert fake.connections[0].headers["authorization"] == "Bearer REDACTED"


async def test_vertex_express_mode_takes_the_api_key() -> None:
    async with FakeLiveServer(vertex=True, api_key=KEY) as fake:
        frames = await one_turn(
            fake.url, {"x-goog-api-key": KEY}, {"model": "publishers/google/models/rawlive-demo"}
        )
    assert frames[-1]["serverContent"]["turnComplete"] is True


async def test_minted_tokens_open_sessions_until_their_uses_run_out() -> None:
    async with FakeLiveServer(api_key=KEY, mint_tokens=True) as fake:
        token = await asyncio.to_thread(
            create_ephemeral_token, KEY, uses=1, base_url=fake.token_url
        )
        url = f"ws://127.0.0.1:{fake.port}{CONSTRAINED}?access_token={token.name}"
        setup = {"model": "models/rawlive-demo", "sessionResumption": {}}
        first = await one_turn(url, {}, setup)
        handles = [
            f["sessionResumptionUpdate"]["newHandle"]
            for c in fake.connections
            for f in (orjson.loads(b) for b in c.sent)
            if f.get("sessionResumptionUpdate", {}).get("newHandle")
        ]
        spent = await one_turn(url, {}, {"model": "models/rawlive-demo"})
        resumed = await one_turn(
            url, {}, {"model": "models/rawlive-demo", "sessionResumption": {"handle": handles[-1]}}
        )
        by_header = await one_turn(
            f"ws://127.0.0.1:{fake.port}{CONSTRAINED}",
            {"Authorization": "Token auth_tokens/forged"},
            {"model": "models/rawlive-demo"},
        )
    assert first[-1]["serverContent"]["turnComplete"] is True
    assert spent[-1][:2] == ("closed", 1008)  # its one use is spent
    assert resumed[-1]["serverContent"]["turnComplete"] is True  # resuming spends none
    assert by_header[-1][:2] == ("closed", 1008)
    assert all(token.name not in c.target for c in fake.connections)


async def test_token_url_needs_mint_tokens() -> None:
    async with FakeLiveServer() as fake:
        with pytest.raises(RuntimeError, match="mint_tokens=True"):
            _ = fake.token_url
