"""What every server rawlive ships shares: how it listens, ``async with``, a thread of its own.

The fake server, the replay server and the proxy each start listening in
``start()`` with :func:`listen` and stop in ``close()``; :class:`Serving`
turns that pair into an async context manager, so the three cannot drift apart.
:class:`BackgroundServer` runs any of them on a private event loop in a daemon
thread (``BackgroundFakeServer``, ``BackgroundReplayServer``, the pytest
plugin's relay).

A pytest fixture cannot share the test's event loop in every setup: a
synchronous test has none, pytest-asyncio's strict mode and anyio each make
their own, and a function-scoped loop may not exist yet when the fixture
runs. Running the server on a private loop in a thread works under all of
them, and for clients on any other thread (the official SDK, a subprocess).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import ipaddress
import ssl as _ssl
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from websockets.asyncio.server import Server, ServerConnection
from websockets.typing import LoggerLike

from rawlive._compat import ws_serve
from rawlive.errors import LiveError, ServerNotStartedError

__all__ = ["BackgroundServer", "Serving", "server_url"]

_S = TypeVar("_S", bound="Serving")

DEFAULT_MAX_SIZE = 2**24
"""The largest frame a rawlive server accepts unless told otherwise (16 MiB)."""


async def listen(
    handler: Callable[[ServerConnection], Awaitable[None]],
    host: str,
    port: int,
    *,
    ssl: _ssl.SSLContext | None,
    max_size: int | None,
    logger: LoggerLike,
    process_request: Any = None,
) -> Server:
    """Start a WebSocket server as every rawlive server listens: without compression.

    base64 audio barely compresses and inflating it costs CPU, so no
    permessage-deflate is offered (the client does not ask for it by default).

    Args:
        handler: called with each accepted connection.
        host / port: the address; port 0 picks a free one.
        ssl: serve ``wss://`` with this context; None: ``ws://``.
        max_size: the largest frame accepted, in bytes; None: no limit.
        logger: the websockets server's logger.
        process_request: websockets' hook run on each handshake request, if any.

    Raises:
        OSError: the address cannot be bound.
    """
    return await ws_serve(
        handler,
        host,
        port,
        ssl=ssl,
        process_request=process_request,
        compression=None,
        max_size=max_size,
        logger=logger,
    )


def server_url(host: str, port: int, *, tls: bool, http: bool = False, path: str = "") -> str:
    """The URL a client uses to reach a rawlive server listening on ``host:port``.

    A wildcard bind address is no destination, so ``0.0.0.0`` (or ``""``)
    becomes ``127.0.0.1`` and ``::`` (however spelt: ``::0``...) becomes
    ``::1``; an IPv6 host is put in brackets. ``http=True`` gives the
    ``http(s)://`` form the official SDKs take as ``base_url``, else ``ws(s)://``.
    """
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif ":" in host and _unspecified(host):
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    scheme = ("https" if tls else "http") if http else ("wss" if tls else "ws")
    return f"{scheme}://{host}:{port}{path}"


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


class Serving:
    """Base of a server used as ``async with server: ...`` (start on entry, close on exit)."""

    async def start(self) -> Any:
        """Start listening (overridden)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stop listening and release everything (overridden)."""
        raise NotImplementedError

    async def __aenter__(self: _S) -> _S:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Startable(Protocol):
    async def close(self) -> None: ...


S = TypeVar("S", bound=_Startable)
B = TypeVar("B", bound="BackgroundServer[Any]")


class BackgroundServer(Generic[S]):
    """Start a server on a private loop; stop it with :meth:`stop`.

    Args:
        start: a coroutine function that builds and starts the server (it runs
            on the private loop) and returns it; the server's ``close()`` stops it.

    Attributes:
        server: the server (valid after :meth:`start`); read its records from
            any thread, call its coroutines with :meth:`call`.
    """

    def __init__(self, start: Callable[[], Any]) -> None:
        self._begin = start
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: S | None = None

    def __repr__(self) -> str:
        state = "started" if self._server is not None else "not started"
        return f"<{type(self).__name__} {state}>"

    @property
    def server(self) -> S:
        """The running server.

        Raises:
            LiveError: :meth:`start` was not called.
        """
        if self._server is None:
            raise ServerNotStartedError("the background server is not started: call start() first")
        return self._server

    def start(self: B, timeout: float = 10.0) -> B:
        """Start the thread and wait until the server listens; return ``self``.

        Raises:
            LiveError: already started, or the server did not start in time.
            OSError: the address cannot be bound.
            TypeError: an option the server does not take.
        """
        if self._thread is not None:
            raise LiveError("the background server is already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="rawlive-background-server", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._begin(), loop)
        try:
            self._server = future.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            self.stop()
            raise LiveError(f"the server did not start within {timeout} s") from exc
        except BaseException:
            self.stop()
            raise
        return self

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
        """Run ``fn(*args)`` on the server's loop and return its result.

        A coroutine function is awaited there (``call(server.go_away)``).

        Raises:
            LiveError: the server is not running, or the call took longer than ``timeout``.
        """
        loop = self._loop
        if loop is None or not loop.is_running():
            raise LiveError("the background server is not running")

        async def run() -> Any:
            result = fn(*args)
            return await result if inspect.isawaitable(result) else result

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise LiveError(f"call to {fn!r} did not finish within {timeout} s") from exc

    def stop(self, timeout: float = 10.0) -> None:
        """Close the server, stop the loop and join the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = None
        if loop.is_running():
            if self._server is not None:
                closing = asyncio.run_coroutine_threadsafe(self._server.close(), loop)
                try:
                    closing.result(timeout)
                except (concurrent.futures.TimeoutError, LiveError, OSError):
                    closing.cancel()
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()

    def __enter__(self: B) -> B:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
