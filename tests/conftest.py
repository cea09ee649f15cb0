"""Shared test helpers: fixture paths and capture loading."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


# ------------------------------------------------------- scripted servers
# A tiny loopback WebSocket server whose behaviour is the test's own handler:
# for faults the bundled fake server does not script (or to pin exact bytes).

import contextlib  # noqa: E402
from collections.abc import AsyncIterator, Awaitable, Callable  # noqa: E402
from typing import Any  # noqa: E402


@pytest.fixture
def scripted_server() -> Callable[[Callable[[Any], Awaitable[None]]], Any]:
    """Return a factory: ``async with scripted_server(handler) as url``."""
    return _scripted_server


@contextlib.asynccontextmanager
async def _scripted_server(
    handler: Callable[[Any], Awaitable[None]],
) -> AsyncIterator[str]:
    """Serve ``handler(connection)`` on 127.0.0.1:0 and yield its ws:// URL."""
    from websockets.asyncio.server import serve

    async def guarded(ws: Any) -> None:
        with contextlib.suppress(Exception):
            await handler(ws)

    async with serve(guarded, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
