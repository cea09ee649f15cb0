"""The one place that knows how the supported dependency versions differ.

rawlive declares ``websockets>=13.0``. The asyncio implementation it uses
(``websockets.asyncio``) exists since 13.0, but its ``connect`` changed:

* ``websockets.connect`` is the *legacy* client before 14.0 (its headers
  keyword is ``extra_headers``), so rawlive always calls
  ``websockets.asyncio.client.connect`` (``additional_headers``).
* Before 14.1, a frame that arrived just before the close was dropped: the
  close cleared the queue of received frames, so the last ``turnComplete``
  or a ``goAway`` followed by a close was lost ("nothing lost" is rawlive's
  promise). On those versions the connection's frame queue gets the 14.1
  behaviour: complete messages received before the close are still returned.
  The shim touches private attributes, which is safe only because it applies
  to releases that no longer change (13.0 to 14.0), and CI runs the tests on
  13.0.
* ``send(data, text=True)`` (bytes sent as a text frame) exists since 14.0;
  on 13.x the shim sends the decoded text instead.
* Before 14.0, a text frame that is not UTF-8 made ``recv`` raise
  ``UnicodeDecodeError`` and left the connection open; on 13.x the same shim
  fails the connection with 1007, as 14.0 does.
* ``proxy=`` exists since 15.0, which also started to read proxies from the
  environment (``HTTPS_PROXY``...) by default. rawlive passes ``proxy=None``
  there so every version connects directly, as 13.x and 14.x always do.

Python: ``asyncio.timeout`` is 3.11+; :func:`timeout` is it, or the same on 3.10.

``orjson`` and ``python-dotenv`` need no shims: the calls rawlive
makes (``orjson.loads/dumps``, ``OPT_APPEND_NEWLINE``, ``dotenv_values``)
exist unchanged in every supported version. When one does need a shim, put
it here, next to a test run on the lowest declared versions (``.ci/run``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as _connect
from websockets.asyncio.messages import Assembler
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as _serve
from websockets.version import version as _websockets_version

__all__ = ["WEBSOCKETS_VERSION", "ClientConnectionBase", "timeout", "ws_connect", "ws_serve"]


def _major_minor(version: str) -> tuple[int, int]:
    major, _, rest = version.partition(".")
    minor = "".join(ch for ch in rest.partition(".")[0] if ch.isdigit())
    return int(major), int(minor or 0)


WEBSOCKETS_VERSION = _major_minor(_websockets_version)
"""``(major, minor)`` of the installed websockets."""

_HAS_PROXY = WEBSOCKETS_VERSION >= (15, 0)
_DROPS_FRAMES_ON_CLOSE = WEBSOCKETS_VERSION < (14, 1)
_RAISES_ON_BAD_UTF8 = WEBSOCKETS_VERSION < (14, 0)
_SEND_HAS_TEXT = WEBSOCKETS_VERSION >= (14, 0)

_AssemblerBase: Any = Assembler


class _KeepFramesAssembler(_AssemblerBase):  # type: ignore[misc]
    """websockets 13.0 to 14.0: keep complete messages received before the close."""

    closed: bool

    def _complete_message_queued(self) -> bool:
        return any(frame.fin for frame in self.frames.queue)

    def close(self) -> None:
        if self.closed:
            return
        if not self._complete_message_queued():
            super().close()  # nothing to keep: wake a waiting reader with EOFError
            return
        # No reader is waiting while frames are queued, so nothing needs waking;
        # get() hands out the queued messages, then raises EOFError.
        self.closed = True

    async def get(self, decode: bool | None = None) -> Any:
        if not (self.closed and self._complete_message_queued()):
            return await super().get(decode)
        # The whole message is queued, so the base get() returns it without
        # suspending: nothing else runs while ``closed`` is briefly False.
        self.closed = False
        try:
            return await super().get(decode)
        finally:
            self.closed = True


_MixinBase: Any = object


class _KeepFrames(_MixinBase):  # type: ignore[misc]
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.recv_messages.__class__ = _KeepFramesAssembler

    async def send(self, message: Any, text: bool | None = None) -> None:
        if text is None:
            return await super().send(message)  # type: ignore[no-any-return]
        if _SEND_HAS_TEXT:
            return await super().send(message, text=text)  # type: ignore[no-any-return]
        # 13.x: the frame type follows the Python type of the message.
        if text and isinstance(message, bytes | bytearray | memoryview):
            message = bytes(message).decode("utf-8")
        elif not text and isinstance(message, str):
            message = message.encode("utf-8")
        return await super().send(message)  # type: ignore[no-any-return]

    async def recv(self, decode: bool | None = None) -> Any:
        if not _RAISES_ON_BAD_UTF8:
            return await super().recv(decode)
        try:
            return await super().recv(decode)
        except UnicodeDecodeError as exc:
            # What 14.0 does: a text frame that is not UTF-8 fails the connection
            # with 1007 and recv raises ConnectionClosedError.
            async with self.send_context():
                self.protocol.fail(1007, f"{exc.reason} at position {exc.start}")
            await asyncio.shield(self.connection_lost_waiter)
            raise self.protocol.close_exc from exc


class _KeepFramesConnection(_KeepFrames, ClientConnection):
    pass


class _KeepFramesServerConnection(_KeepFrames, ServerConnection):
    pass


ClientConnectionBase: Any = ClientConnection if _SEND_HAS_TEXT else _KeepFramesConnection
"""The base of rawlive's own client connection class (:mod:`rawlive.wire`).

It takes received frames itself (no ``recv()`` queue), so only the 13.x
``send(text=)`` shim applies to it.
"""


def ws_connect(
    uri: str,
    *,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    env_proxy: bool = False,
    **options: Any,
) -> Awaitable[ClientConnection]:
    """Open a client connection with the new asyncio API on any supported websockets.

    Await the result (websockets' own ``connect`` object, returned as it is:
    no coroutine of rawlive's own per connection).

    Args:
        uri: The ws:// or wss:// URL.
        headers: Extra HTTP headers for the handshake (the API key goes here).
        env_proxy: Use the proxy the environment names (``HTTPS_PROXY``...);
            only websockets 15+ can, older versions always connect directly.
        **options: Any other keyword of ``websockets.asyncio.client.connect``
            that exists since 13.0 (``ping_interval``, ``max_size``, ``ssl``...).

    Returns:
        An awaitable of the open connection.
    """
    if _HAS_PROXY:
        options.setdefault("proxy", True if env_proxy else None)
    if _DROPS_FRAMES_ON_CLOSE:
        options.setdefault("create_connection", _KeepFramesConnection)
    return _connect(uri, additional_headers=headers, **options)


def ws_serve(handler: Any, host: str | None, port: int | None, **options: Any) -> Awaitable[Server]:
    """``websockets.asyncio.server.serve`` that keeps messages received before a close.

    Await the result to get the listening :class:`Server`.
    """
    if _DROPS_FRAMES_ON_CLOSE:
        options.setdefault("create_connection", _KeepFramesServerConnection)
    return _serve(handler, host, port, **options)


@contextlib.asynccontextmanager
async def _timeout_310(delay: float) -> AsyncIterator[None]:
    """``asyncio.timeout(delay)`` for Python 3.10: cancel the block, raise TimeoutError."""
    task = asyncio.current_task()
    assert task is not None, "timeout() must be used inside a task"
    fired = False

    def fire() -> None:
        nonlocal fired
        fired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(delay, fire)
    try:
        yield
    except asyncio.CancelledError:
        if fired:
            raise asyncio.TimeoutError from None
        raise
    finally:
        handle.cancel()


if sys.version_info >= (3, 11):
    timeout = asyncio.timeout
else:
    timeout = _timeout_310
