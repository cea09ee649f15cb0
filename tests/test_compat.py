"""What rawlive needs from its dependencies holds on every declared version.

.ci/run runs this file (with the rest of the suite) on the lowest declared
versions of websockets, orjson and python-dotenv, and on the newest.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from rawlive._compat import WEBSOCKETS_VERSION, ws_connect, ws_serve
from rawlive.auth import resolve_credentials

KEY = "AIzaFAKE-compat-0123456789"


async def test_messages_received_before_a_close_are_not_lost() -> None:
    # websockets 13.0-14.0 dropped frames still queued when the close arrived;
    # the shim in rawlive._compat keeps them (the 14.1 behaviour).
    async def handler(ws: ServerConnection) -> None:
        for i in range(3):
            await ws.send(f'{{"n":{i}}}'.encode())
        await ws.close(1011, "Deadline expired before operation could complete.")

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await ws_connect(f"ws://127.0.0.1:{port}", headers={"x-goog-api-key": KEY})
        # Let the frames and the close arrive before reading anything.
        await asyncio.wait_for(ws.wait_closed(), 5)
        received = [await asyncio.wait_for(ws.recv(), 5) for _ in range(3)]
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
    assert received == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert info.value.rcvd is not None and info.value.rcvd.code == 1011


async def test_a_server_keeps_what_the_client_sent_before_closing() -> None:
    # The same on the server side (fake, replay and proxy servers use ws_serve).
    got: list[object] = []
    done = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await asyncio.wait_for(ws.wait_closed(), 5)
        try:
            for _ in range(3):
                got.append(await asyncio.wait_for(ws.recv(), 5))
            await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed as exc:
            got.append(exc.rcvd.code if exc.rcvd else None)
        finally:
            done.set()

    async with await ws_serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await ws_connect(f"ws://127.0.0.1:{port}", headers={})
        for i in range(3):
            await ws.send(f'{{"n":{i}}}')
        await ws.close(1000)
        await asyncio.wait_for(done.wait(), 5)
    assert got == ['{"n":0}', '{"n":1}', '{"n":2}', 1000]


async def test_ws_connect_sends_the_headers() -> None:
    seen: list[str | None] = []

    async def handler(ws: ServerConnection) -> None:
        seen.append(ws.request.headers.get("x-goog-api-key") if ws.request else None)
        await ws.close()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await ws_connect(f"ws://127.0.0.1:{port}", headers={"x-goog-api-key": KEY})
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert seen == [KEY]
    assert WEBSOCKETS_VERSION >= (13, 0)


# The .env forms people write; every python-dotenv from the declared floor reads them.
ENV_FORMS = {
    "plain": f"GEMINI_API_KEY={KEY}\n",
    "export": f"export GEMINI_API_KEY={KEY}\n",
    "double-quoted": f'GEMINI_API_KEY="{KEY}"\n',
    "single-quoted": f"GEMINI_API_KEY='{KEY}'\n",
    "comment-after": f"# the key\nGEMINI_API_KEY={KEY} # from AI Studio\n",
    "spaces": f"GEMINI_API_KEY = {KEY}\n",
    "crlf": f"OTHER=1\r\nGEMINI_API_KEY={KEY}\r\n",
    "no-final-newline": f"GEMINI_API_KEY={KEY}",
}


@pytest.mark.parametrize("text", ENV_FORMS.values(), ids=ENV_FORMS.keys())
def test_env_file_forms(tmp_path: Path, text: str) -> None:
    path = tmp_path / ".env"
    path.write_bytes(text.encode())
    credentials = resolve_credentials(environ={}, env_file=path)
    assert credentials.secret == KEY
