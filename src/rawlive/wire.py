"""The client connection class: each received message goes to a sink as it arrives.

websockets' own client queues received frames until a task calls ``recv()``.
A rawlive session must see every frame when it arrives, whether or not the
application reads (a handle or a goAway must not wait for the next read), so
the first design ran one reader task per connection that called ``recv()`` in
a loop and buffered for the application. That cost a task per session and a
task wake-up plus a future for every frame.

:class:`SinkConnection` removes both. It is ``create_connection=`` for
``websockets.asyncio.client.connect``: its ``process_event`` (where websockets
puts a parsed frame into the ``recv()`` queue) assembles each data message
itself and calls the attached sink at once, in the callback that read it from
the socket. Control frames (ping, pong, close) go on to websockets unchanged,
so keepalive and the closing handshake are websockets' own. When the
connection is lost the ``on_lost`` callback gets websockets' close exception.

Messages that arrive while no sink is attached (between the HTTP upgrade and
the handshake, or between ``setupComplete`` and the session's start) are held
and handed over, in order, when one is attached. Reading is bounded by the
sink's owner: it calls :meth:`SinkConnection.pause` when its buffer is full
(the transport stops reading the socket, TCP pushes back on the server) and
:meth:`SinkConnection.resume` when there is room again.

websockets' ``recv()`` queue (its ``Assembler``, a queue and two bound methods
per connection) is replaced by one shared stand-in as the connection is made:
nothing is ever queued there, and a session holds five fewer objects for the
cyclic GC to scan. ``recv()`` on a :class:`SinkConnection` raises.

``connection_made``, ``process_event``, ``connection_lost``, ``recv_messages``
and ``protocol`` are the same in every
websockets release rawlive supports (13.0 to the newest); CI runs the tests on
13.0 and on the newest release.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Protocol

from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from rawlive._compat import ClientConnectionBase

__all__ = ["Sink", "SinkConnection"]


class Sink(Protocol):
    """What takes a connection's messages (an engine's connection, a handshake)."""

    def on_data(self, data: bytes, text: bool) -> None:
        """One whole message: its payload, and whether it came as a text frame."""

    def on_lost(self, exc: ConnectionClosed) -> None:
        """The connection is lost (after its last message): websockets' close exception."""


_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT


class _NoQueue:
    """Stands for websockets' ``recv()`` queue: a sink takes every message instead."""

    __slots__ = ()

    def close(self) -> None:
        pass  # nothing queued, nobody waiting

    def put(self, frame: Frame) -> None:
        raise RuntimeError("a SinkConnection hands messages to its sink, never to recv()")

    async def get(self, decode: bool | None = None) -> Any:
        raise RuntimeError("a SinkConnection hands messages to its sink: recv() is not available")

    def get_iter(self, decode: bool | None = None) -> Any:
        raise RuntimeError("a SinkConnection hands messages to its sink: recv() is not available")


_NO_QUEUE = _NoQueue()


class SinkConnection(ClientConnectionBase):  # type: ignore[misc]
    """A websockets client connection that pushes messages to a sink (never ``recv()``)."""

    _NOTHING_HELD: ClassVar[list[tuple[bytes, bool]]] = []  # shared, never appended to

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sink: Sink | None = None
        self.held = self._NOTHING_HELD  # messages no sink has taken yet
        self.lost: ConnectionClosed | None = None
        self._lost_told = False
        self._parts: list[bytes] | None = None  # fragments of a message in progress
        self._text = False
        self._failed = False

    # ------------------------------------------------------------ the sink

    def attach(self, sink: Sink) -> None:
        """Hand every message to ``sink`` from now on, the held ones first.

        Its ``on_lost`` is called once, when the connection is lost (at once if
        it was lost already and every held message was handed over).
        """
        self.sink = sink
        held = self.held
        while held and self.sink is sink:
            data, text = held.pop(0)
            sink.on_data(data, text)
        if not held and self.held is held:
            self.held = self._NOTHING_HELD  # the emptied list goes (one object fewer)
        if self.sink is sink:
            self._report_lost()

    def detach(self) -> None:
        """Hold messages from now on, until the next :meth:`attach`."""
        self.sink = None

    def pause(self) -> None:
        """Stop reading the socket (the sink's buffer is full)."""
        self.transport.pause_reading()

    def resume(self) -> None:
        """Read the socket again."""
        transport = self.transport
        if not transport.is_closing():
            transport.resume_reading()

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection (close ``code``, e.g. 1007); later messages are dropped."""
        if self._failed:
            return
        self._failed = True
        self.held = self._NOTHING_HELD
        task = asyncio.ensure_future(self._fail(code, reason))
        task.add_done_callback(_retrieve)

    async def _fail(self, code: int, reason: str) -> None:
        # What websockets' recv() does on a bad frame: close with the code,
        # then abort if the peer does not answer within close_timeout.
        async with self.send_context():
            self.protocol.fail(code, reason)

    # ------------------------------------------------ websockets callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.recv_messages = _NO_QUEUE  # websockets' queue is dropped at once, unused

    def process_event(self, event: Any) -> None:
        if type(event) is not Frame or self.response is None:
            super().process_event(event)
            return
        opcode = event.opcode
        if opcode is _TEXT or opcode is _BINARY:
            if not event.fin:
                self._parts, self._text = [bytes(event.data)], opcode is _TEXT
                return
            data = event.data
            text = opcode is _TEXT
        elif opcode is _CONT and self._parts is not None:
            self._parts.append(bytes(event.data))
            if not event.fin:
                return
            data, text, self._parts = b"".join(self._parts), self._text, None
        else:
            super().process_event(event)  # ping, pong, close
            return
        if self._failed:
            return
        if type(data) is not bytes:
            data = bytes(data)
        sink = self.sink
        if sink is not None and not self.held:
            sink.on_data(data, text)
        elif self.held:
            self.held.append((data, text))
        else:
            self.held = [(data, text)]

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.lost = self.protocol.close_exc
        self._report_lost()

    def _report_lost(self) -> None:
        sink, lost = self.sink, self.lost
        if lost is not None and sink is not None and not self.held and not self._lost_told:
            self._lost_told = True
            sink.on_lost(lost)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a failure while failing: the connection ends anyway
