"""The connection reader and the turn pairing under :class:`~rawlive.client.Session`.

Theory of operation
-------------------
Every frame a connection receives is read when it arrives, whether or not
the application reads: :class:`~rawlive.wire.SinkConnection` hands each
message to :meth:`Engine.on_data` in the callback that read it from the
socket (no reader task, no hand-off between tasks). For every frame it:

* updates :class:`~rawlive.protocol.session.SessionState` (handle, goAway,
  usage, pending calls, whether a turn is open) and the
  :class:`~rawlive.protocol.ledger.Ledger` (turn ends, handles) at once, in
  arrival order, so a reconnect always starts from the newest handle,
  including frames the application has not read yet;
* acts on control frames: a goAway starts the handover timer on arrival, a
  tool call goes to the ``tool_handler`` at once;
* drops the frames of a turn the ledger knows is a duplicate (its input was
  sent again after a reconnect, and its answer was delivered already);
* puts everything else into the :class:`Inbox`, a buffer bounded in bytes;
  when it is full, the connection stops reading the socket (backpressure)
  until the application drains it.

When the connection ends (:meth:`Engine.on_lost`), the engine hands it to
the reconnect engine (:mod:`rawlive.resilience`) or ends the inbox with the
error. Writes go through :meth:`Engine.flush`, from the ledger, in order. No
task of this module lets an exception go unretrieved.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from websockets.exceptions import ConnectionClosed

from rawlive.auth import redact
from rawlive.closecodes import explain_close
from rawlive.errors import (
    ConnectionClosedError,
    HandleRefusedError,
    LiveError,
    LocalProtocolError,
    RemoteProtocolError,
    SetupRejectedError,
    SetupTimeoutError,
)
from rawlive.protocol.codec import decode_server, decode_server_chunk, encode, encode_json
from rawlive.protocol.ledger import Ledger
from rawlive.protocol.lint import check_message
from rawlive.protocol.messages import (
    ClientMessage,
    FunctionCall,
    FunctionResponse,
    ServerMessage,
    Setup,
    SetupComplete,
    ToolResponse,
)
from rawlive.protocol.session import SessionState
from rawlive.wire import SinkConnection

if TYPE_CHECKING:
    from rawlive.resilience import Resilience

__all__ = ["DEFAULT_BUFFER_BYTES", "Connection", "Engine", "FrameObserver", "Inbox", "ToolHandler"]

logger = logging.getLogger("rawlive")

DEFAULT_BUFFER_BYTES = 16 * 1024 * 1024
"""Default bound of the receive buffer: 16 MiB of frames (about four minutes of audio)."""

ToolHandler = Callable[[FunctionCall], "Awaitable[Mapping[str, Any]] | Mapping[str, Any]"]
"""Answers one function call with the ``response`` object (``{"output": ...}``)."""


class FrameObserver(Protocol):
    """Sees every frame and connection event (the recorder and ``--frames`` use it)."""

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None: ...

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None: ...

    def on_close(
        self, conn: int, code: int, reason: str, by: str | None, dropped: bool
    ) -> None: ...


class _Raise:
    """An inbox item that raises ``error`` when read (the stream goes on)."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


_EMPTY: Any = object()
_deque_len = collections.deque.__len__
_NO_DETAILS = SetupComplete()  # setupComplete with no fields, as the Gemini API sends it

_CLOSED_BY_US = LocalProtocolError("the session is closed")  # a marker, never raised


class Inbox(collections.deque):  # type: ignore[type-arg]
    """The buffer between a connection's reader and the application.

    Bounded in bytes (the frames' wire sizes): :meth:`put` never refuses; the
    engine stops reading the connection while it is :attr:`full`, and
    ``on_room`` (set while it waits) is called once it is not.

    It is itself the deque of its items, each followed by its size: an
    (item, size) pair per frame, or a deque beside the inbox, would each be
    one more object per frame or per session for the cyclic GC to walk. Use
    :meth:`put` and :meth:`get_nowait`, never the deque's own methods.
    """

    __slots__ = ("_end", "_waiter", "bytes", "limit", "on_room")

    def __init__(self, limit: int = DEFAULT_BUFFER_BYTES) -> None:
        super().__init__()
        self.bytes = 0
        self.limit = limit
        self._waiter: asyncio.Future[None] | None = None
        self._end: BaseException | None = None
        self.on_room: Callable[[], None] | None = None

    def __len__(self) -> int:
        return _deque_len(self) // 2

    def __repr__(self) -> str:
        return f"<Inbox {len(self)} items, {self.bytes} bytes>"

    @property
    def full(self) -> bool:
        return self.bytes >= self.limit

    @property
    def ended(self) -> BaseException | None:
        return self._end

    def put(self, item: Any, size: int = 0) -> None:
        self.append(item)
        self.append(size)
        self.bytes += size
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def end(self, error: BaseException) -> None:
        """No more items will come; reads past the last one raise ``error``."""
        if self._end is None:
            self._end = error
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> Any:
        """The next item, or ``_EMPTY``."""
        if not _deque_len(self):
            return _EMPTY
        item = self.popleft()
        size: int = self.popleft()
        if size:
            self.bytes -= size
            on_room = self.on_room
            if on_room is not None and self.bytes < self.limit:
                self.on_room = None
                on_room()
        return item

    async def get(self, timeout: float | None = None) -> Any:
        """The next item; raise the end error when there is none and never will be."""
        item = self.get_nowait()
        while item is _EMPTY:
            if self._end is not None:
                raise self._end
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            if timeout is None:
                await waiter
            else:
                await asyncio.wait_for(waiter, timeout)
            item = self.get_nowait()
        return item


class Connection:
    """One WebSocket connection of a session, and what happened to it.

    It is the connection's :class:`~rawlive.wire.Sink` once :meth:`Engine.start`
    attached it: each message goes on to the engine with the connection.
    """

    __slots__ = (
        "_waiter",
        "completed_turns",
        "ended",
        "engine",
        "error",
        "go_away_at",
        "handing_over",
        "number",
        "opened",
        "paused",
        "turn_cut",
        "ws",
    )

    def __init__(self, ws: SinkConnection, number: int) -> None:
        self.ws = ws
        self.number = number
        self.engine: Engine | None = None
        self.opened = time.monotonic()
        self.paused = False  # not reading the socket: the inbox is full
        self.ended = False
        self._waiter: asyncio.Future[None] | None = None
        self.error: ConnectionClosedError | None = None
        self.handing_over = False  # we are closing it to move to a new connection
        self.go_away_at: float | None = None
        self.turn_cut = False  # a turn was open when it ended
        self.completed_turns = 0  # turns completed on this connection

    @property
    def writable(self) -> bool:
        return not self.handing_over and not self.ended

    def on_data(self, data: bytes, text: bool) -> None:
        assert self.engine is not None
        self.engine.on_data(self, data, text)

    def on_lost(self, exc: ConnectionClosed) -> None:
        assert self.engine is not None
        self.engine.on_lost(self, exc)

    def end(self) -> None:
        """Mark the connection ended (once) and wake whoever waits for it."""
        self.ended = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_ended(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the connection to end."""
        if self.ended:
            return
        if self._waiter is None:
            self._waiter = asyncio.get_running_loop().create_future()
        await asyncio.wait([self._waiter], timeout=timeout)


def _utf8_error(data: bytes) -> str | None:
    """Why ``data`` is not UTF-8 (websockets' wording), or None when it is."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{exc.reason} at position {exc.start}"
    return None


def close_error(
    exc: ConnectionClosed, secrets: Sequence[str], *, during_setup: bool
) -> ConnectionClosedError:
    """The rawlive error for a websockets close (no side effects)."""
    rcvd, sent = exc.rcvd, exc.sent
    ours_first = sent is not None and (rcvd is None or exc.rcvd_then_sent is False)
    if ours_first and sent is not None:
        code, reason, by = sent.code, sent.reason, "client"
    elif rcvd is not None:
        code, reason, by = rcvd.code, rcvd.reason, "server"
    else:
        code, reason, by = 1006, "", None
    dropped = by is None
    reason = redact(reason, *secrets)
    info = explain_close(code, reason)
    meaning = info.meaning
    if dropped:
        text = "connection dropped with no close frame (1006)"
    elif by == "client" and code == 1007:
        meaning = (
            "the server sent a frame rawlive cannot accept (a text frame that is not "
            "valid UTF-8), so rawlive closed the connection; your messages were not at fault"
        )
        text = f"rawlive closed the connection with 1007 {reason!r}"
    else:
        shown = f"{reason!r}" + (" (cut at 123 bytes)" if info.truncated else "")
        who = "the server" if by == "server" else "the client"
        text = f"connection closed by {who} with {code} {shown}"
    error_class: type[ConnectionClosedError] = ConnectionClosedError
    if during_setup:
        error_class = SetupRejectedError
        if code == 1008 and "session not found" in reason.lower():
            error_class = HandleRefusedError
    title = info.title if meaning is info.meaning else "invalid frame from the server"
    return error_class(
        f"{text}: {title}: {meaning}",
        code=code,
        reason=reason,
        explanation=meaning,
        retryable=info.retryable,
        truncated=info.truncated,
        by_server=None if dropped else by == "server",
        dropped=dropped,
    )


class _SetupWait:
    """The sink of a connection during its handshake: waits for setupComplete.

    Frames before it are kept in ``early``; at setupComplete it detaches, so
    what follows stays held on the connection until :meth:`Engine.start`.
    """

    __slots__ = ("complete", "early", "engine", "model", "number", "ws")

    def __init__(self, engine: Engine, ws: SinkConnection, number: int, model: str | None) -> None:
        self.engine, self.ws, self.number, self.model = engine, ws, number, model
        self.early: list[tuple[ServerMessage, int]] = []
        self.complete: asyncio.Future[ServerMessage] = asyncio.get_running_loop().create_future()

    def on_data(self, frame: bytes, text: bool) -> None:
        ws, complete = self.ws, self.complete
        try:
            message = decode_server(self.engine._observed(self.number, ws, frame, text))
        except UnicodeDecodeError:
            return  # the connection fails with 1007: on_lost says so
        except RemoteProtocolError as exc:
            bad_utf8 = _utf8_error(frame) if text else None
            if bad_utf8 is not None:
                ws.fail(1007, bad_utf8)  # on_lost says so
                return
            ws.detach()
            if not complete.done():
                complete.set_exception(exc)
            return
        if message.setup_complete is not None:
            ws.detach()  # what follows waits for start()
            if not complete.done():
                complete.set_result(message)
            return
        logger.debug("%s arrived before setupComplete", message.kinds)
        self.early.append((message, len(frame)))

    def on_lost(self, exc: ConnectionClosed) -> None:
        engine = self.engine
        error = close_error(exc, engine.secrets, during_setup=True)
        engine.observe_close(self.number, error)
        if not self.complete.done():
            self.complete.set_exception(error)

    def time_out(self) -> None:
        if not self.complete.done():
            self.complete.set_exception(
                SetupTimeoutError(
                    f"no setupComplete within {self.engine.setup_timeout} s after sending "
                    f"setup for {self.model}"
                )
            )


class Engine:
    """The per-session core: state, ledger, inbox, the reader of each connection.

    :class:`~rawlive.client.Session` is its public face;
    :class:`~rawlive.resilience.Resilience` (when a reconnect policy is set)
    moves it from connection to connection.
    """

    def __init__(
        self,
        *,
        setup: Setup,
        endpoint: str,
        secrets: tuple[str, ...] = (),
        observers: Sequence[FrameObserver] = (),
        tool_handler: ToolHandler | None = None,
        lint: bool = True,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        setup_timeout: float | None = 10.0,
        resumable: bool = False,
    ) -> None:
        self.setup = setup
        self.endpoint = endpoint
        self.secrets = secrets
        self.observers = tuple(observers)
        self.tool_handler = tool_handler
        self.lint = lint
        self.setup_timeout = setup_timeout
        self.state = SessionState()
        self.ledger: Ledger | None = Ledger() if resumable else None
        self.inbox = Inbox(buffer_bytes)
        self.conn: Connection | None = None
        self.resilience: Resilience | None = None
        self.closed_error: LiveError | None = None
        self.closed_by_us = False
        self.setup_complete: SetupComplete | None = None
        # Made when first needed: most sessions never wait for a change, never
        # send through the ledger, never spawn a task (objects per session are
        # what the cyclic GC walks; see docs/benchmarks.md).
        self._changed: asyncio.Event | None = None  # set on every handle and connection change
        # turns_completed at each turnComplete the application has not read yet
        # (None while there is none: a session holds no empty deque between turns)
        self.turn_marks: collections.deque[int] | None = None
        self._send_lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] | None = None

    # -------------------------------------------------------------- tasks

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``coro`` in a tracked task whose failure is logged, never lost."""

        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = set()

        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                logger.error("rawlive: %s failed", name, exc_info=task.exception())

        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(done)
        return task

    def cancel_tasks(self) -> None:
        if not self._tasks:
            return
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    def notify(self) -> None:
        """Something :meth:`wait_for` may wait on changed (a handle, the connection)."""
        if self._changed is not None:
            self._changed.set()

    async def wait_changed(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the next :meth:`notify`."""
        if self._changed is None:
            self._changed = asyncio.Event()
        self._changed.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    # -------------------------------------------------------------- setup

    async def handshake(
        self, ws: SinkConnection, number: int, setup: Setup
    ) -> list[tuple[ServerMessage, int]]:
        """Send ``setup`` on ``ws``, wait for setupComplete; return the frames before it.

        Frames after setupComplete stay held on ``ws`` until :meth:`start`.
        """
        envelope = ClientMessage(setup=setup)
        data = encode(envelope)
        if self.observers:
            text = data.decode("utf-8")
            for observer in self.observers:
                observer.on_frame(number, "client", text)
        wait = _SetupWait(self, ws, number, setup.model)
        complete = wait.complete
        ws.attach(wait)
        # one timer, not wait_for(): its extra future and callbacks cost every session
        timer = None
        if self.setup_timeout is not None:
            timer = asyncio.get_running_loop().call_later(self.setup_timeout, wait.time_out)
        try:
            try:
                await ws.send(data, text=True)
            except ConnectionClosed as exc:
                # on_lost reports the close, once the connection is lost
                await asyncio.wait([complete], timeout=5.0)
                if not complete.done():
                    error = close_error(exc, self.secrets, during_setup=True)
                    self.observe_close(number, error)
                    raise error from None
            message = await complete
        except BaseException:
            ws.detach()
            if complete.done() and not complete.cancelled():
                complete.exception()  # retrieved: the error raised is this one or another
            raise
        finally:
            if timer is not None:
                timer.cancel()
        self.state.reset_connection()
        self.state.on_send(envelope)
        self.state.on_receive(message)
        payload = message.setup_complete
        # The usual empty one is shared: a session keeps one object fewer. (No
        # field set means an empty instance dict: tests/test_record_layout.py.)
        self.setup_complete = payload if payload is None or payload.__dict__ else _NO_DETAILS
        return wait.early

    def start(self, conn: Connection, early: Sequence[tuple[ServerMessage, int]] = ()) -> None:
        """Make ``conn`` the current connection and read it from now on."""
        self.conn = conn
        for message, size in early:
            self.on_message(conn, message, size)
        self.notify()
        conn.engine = self
        conn.ws.attach(conn)

    # ------------------------------------------------------------ reading

    def _observed(self, number: int, ws: SinkConnection, data: bytes, text: bool) -> bytes | str:
        """Show ``data`` to the observers; a text frame that is not UTF-8 fails ``ws`` (1007)."""
        if not self.observers:
            return data
        payload: bytes | str = data
        if text:
            try:
                payload = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                ws.fail(1007, f"{exc.reason} at position {exc.start}")
                raise
        for observer in self.observers:
            observer.on_frame(number, "server", payload)
        return payload

    def on_data(self, conn: Connection, data: bytes, text: bool) -> None:
        """Take one message of ``conn`` as it arrives (called by the connection)."""
        inbox = self.inbox
        try:
            payload = self._observed(conn.number, conn.ws, data, text) if self.observers else data
            try:
                message = decode_server_chunk(payload)
            except RemoteProtocolError as exc:
                bad_utf8 = _utf8_error(data) if text else None
                if bad_utf8 is not None:
                    conn.ws.fail(1007, bad_utf8)  # on_lost says so
                else:
                    inbox.put(_Raise(exc))
                return
            ledger = self.ledger
            if isinstance(message, tuple):
                # the commonest frame, an audio chunk of the model's turn:
                # buffered as (mime, pcm), no records (see decode_server_chunk)
                if ledger is None or not ledger.duplicates:
                    self.state.turn_open = True
                    inbox.put(message, len(data))
            else:
                # Depends on the records' __dict__ layout: tests/test_record_layout.py.
                attrs = message.__dict__
                sc = attrs.get("server_content") if len(attrs) == 1 else None
                if sc is not None and len(sc.__dict__) == 1 and sc.model_turn is not None:
                    # the commonest frame, a chunk of the model's turn
                    if ledger is None or not ledger.duplicates:
                        self.state.turn_open = True
                        inbox.put(message, len(data))
                else:
                    self.on_message(conn, message, len(data))
        except UnicodeDecodeError:
            return  # the connection fails with 1007: on_lost says so
        except Exception as exc:  # a bug or an observer failing: end, never lose it
            logger.exception("rawlive: reading connection %d failed", conn.number)
            conn.ws.detach()
            self._ended(conn, exc)
            return
        if inbox.bytes >= inbox.limit and not conn.handing_over and not conn.paused:
            conn.paused = True
            conn.ws.pause()
            inbox.on_room = functools.partial(self.read_on, conn)  # rare: the inbox is full

    def read_on(self, conn: Connection) -> None:
        """Read ``conn`` again (the inbox has room, or the connection is ending)."""
        if conn.paused:
            conn.paused = False
            conn.ws.resume()

    def hand_over(self, conn: Connection) -> None:
        """``conn`` is being closed: read it to its end, past the inbox's bound."""
        conn.handing_over = True
        self.read_on(conn)

    def on_lost(self, conn: Connection, exc: ConnectionClosed) -> None:
        """``conn`` is gone (called by the connection, after its last message)."""
        if self.closed_by_us:  # close() reports it; no error to explain
            self._ended(conn, _CLOSED_BY_US)
            return
        self._ended(conn, close_error(exc, self.secrets, during_setup=False))

    def on_message(self, conn: Connection, message: ServerMessage, size: int) -> None:
        """Act on one received message and buffer it (the reader's general path)."""
        state, ledger = self.state, self.ledger
        duplicate = ledger is not None and ledger.duplicates > 0
        try:
            state.on_receive(message)
        except RemoteProtocolError as exc:
            exc.frame = exc.frame or str(message.kinds)
            self.inbox.put(_Raise(exc))
            return
        sc = message.server_content
        if sc is not None and sc.turn_complete:
            conn.completed_turns += 1
            if ledger is not None:
                ledger.on_turn_complete()
            if not duplicate:
                marks = self.turn_marks
                if marks is None:
                    marks = self.turn_marks = collections.deque()
                marks.append(state.turns_completed)
            if self.resilience is not None:
                self.resilience.on_turn_complete(conn)
            if ledger is not None and duplicate and not ledger.duplicates:
                self.spawn(self.flush(), "sending after a duplicate turn")
        sru = message.session_resumption_update
        if sru is not None and sru.resumable and sru.new_handle:
            if ledger is not None:
                ledger.on_handle(sru.last_consumed_client_message_index)
            self.notify()
        go_away = message.go_away
        if go_away is not None and go_away.time_left_seconds is not None:
            left = go_away.time_left_seconds
            conn.go_away_at = time.monotonic() + left
            if self.resilience is not None:
                self.resilience.on_go_away(conn, left)
        if duplicate:
            # A frame of a turn answered twice (delivered once already): only its
            # handle or goAway, if it carries one, goes on to the application.
            state.turn_open = False
            control = tuple(p for p in (sru, go_away) if p is not None)
            if not control:
                return
            message = ServerMessage.bundle(*control)
        tc = message.tool_call
        if tc is not None and self.tool_handler is not None and not duplicate:
            self.spawn(self._answer_tool_calls(tc.function_calls or ()), "the tool handler")
        self.inbox.put(message, size)

    def _ended(self, conn: Connection, error: BaseException) -> None:
        if conn.ended:
            return
        conn.turn_cut = self.state.turn_open
        if isinstance(error, ConnectionClosedError):
            conn.error = error
        conn.end()
        self.notify()
        if self.closed_by_us or conn is not self.conn:
            return
        if (
            isinstance(error, ConnectionClosedError)
            and self.resilience is not None
            and self.resilience.take_over(conn, error)
        ):
            return
        self.finish(error)

    def finish(self, error: BaseException) -> None:
        """The session is over: remember why, tell the observers, end the inbox."""
        if self.closed_error is not None:
            return
        self.closed_error = (
            error if isinstance(error, LiveError) else LiveError(f"the session failed: {error!r}")
        )
        self.state.on_close()
        conn = self.conn
        if conn is not None and conn.error is error:  # not observed yet
            self.observe_close(conn.number, error)
        self.cancel_tasks()
        self.inbox.end(error)
        self.notify()

    def observe_close(self, number: int, error: ConnectionClosedError) -> None:
        by = None if error.by_server is None else ("server" if error.by_server else "client")
        for observer in self.observers:
            observer.on_close(number, error.code, error.reason, by, bool(error.dropped))

    # ------------------------------------------------------------ sending

    def writable(self) -> bool:
        conn = self.conn
        return conn is not None and conn.writable and self.closed_error is None

    async def send(self, envelope: ClientMessage, data: bytes) -> None:
        """Send one client message (through the ledger when reconnecting is on)."""
        if self.closed_error is not None:
            raise self.closed_error
        if self.closed_by_us:
            raise LocalProtocolError("the session is closed")
        if self.lint:
            check_message(envelope, setup=self.state.setup, pending_calls=self.state.pending_calls)
        ledger = self.ledger
        if ledger is None:
            conn = self.conn
            assert conn is not None
            self.state.on_send(envelope)
            try:
                await self.write(conn, data)
            except ConnectionClosed as exc:
                await self.write_failed(conn, exc)
            return
        if self.resilience is not None:
            self.resilience.check_queue(ledger.queued)
        ledger.record(envelope, data)
        await self.flush()

    async def flush(self) -> None:
        """Write what the ledger releases, in order, while the connection takes it."""
        ledger = self.ledger
        assert ledger is not None
        if self._send_lock is None:
            self._send_lock = asyncio.Lock()
        async with self._send_lock:
            while self.writable():
                entry = ledger.next_to_write()
                if entry is None:
                    return
                conn = self.conn
                assert conn is not None
                self.state.on_send(entry.message)
                ledger.written(entry)
                try:
                    await self.write(conn, entry.frame)
                except ConnectionClosed:
                    return  # the reader sees the close; the ledger sends it again

    def direct_route(self) -> Connection | None:
        """The connection a media chunk or a text turn may be written to directly, or None.

        The direct route (:meth:`~rawlive.senders.Senders.send_audio`,
        ``send_video`` and ``send_text``) skips the envelope records, the
        encoder and the lint pass: of the lint rules only ``setup-first`` can
        apply to a media chunk or to a ``clientContent`` of one user text
        turn, and it holds once setup was sent. It is taken when no ledger
        (reconnect policy) must record the message and the session is open;
        otherwise, None: the caller takes the general route (:meth:`send`),
        which records, queues or raises as usual. On a direct route this
        counts the message as sent (the state machine's ``send:other``).
        """
        conn = self.conn
        if (
            conn is None
            or self.ledger is not None
            or self.closed_error is not None
            or self.closed_by_us
            or self.state.setup is None
        ):
            return None
        self.state.on_send_other()
        return conn

    async def write(self, conn: Connection, data: bytes) -> None:
        """Write one encoded client frame (UTF-8 JSON) as a text frame."""
        if self.observers:
            text = data.decode("utf-8")
            for observer in self.observers:
                observer.on_frame(conn.number, "client", text)
        await conn.ws.send(data, text=True)

    async def write_failed(self, conn: Connection, exc: ConnectionClosed) -> NoReturn:
        """Raise the rawlive error for a write that found ``conn`` closed."""
        await conn.wait_ended(1.0)
        if self.closed_error is not None:
            raise self.closed_error from None
        raise close_error(exc, self.secrets, during_setup=False) from None

    async def _answer_tool_calls(self, calls: Sequence[FunctionCall]) -> None:
        handler = self.tool_handler
        assert handler is not None
        responses = []
        for call in calls:
            try:
                result = handler(call)
                if inspect.isawaitable(result):
                    result = await result
                response = dict(result)
                encode_json(response)  # a value JSON cannot carry (bytes, a set) fails here
            except Exception as exc:  # the model gets the error, the session goes on
                logger.warning("tool handler for %s failed: %r", call.name, exc)
                response = {"error": f"{type(exc).__name__}: {exc}"}
            responses.append(FunctionResponse(id=call.id, name=call.name, response=response))
        if responses:
            envelope = ClientMessage.wrap(ToolResponse(function_responses=tuple(responses)))
            with contextlib.suppress(ConnectionClosedError):  # the reader reports the close
                await self.send(envelope, encode(envelope))

    # ----------------------------------------------------------- handles

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait up to ``timeout`` s for ``condition`` (re-checked on every change)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            left = deadline - loop.time()
            if left <= 0 or self.closed_error is not None:
                return condition()
            await self.wait_changed(left)
        return True

    # ----------------------------------------------------------- closing

    async def close(self, code: int, reason: str) -> None:
        self.closed_by_us = True
        if self.resilience is not None:
            self.resilience.stop()
        self.cancel_tasks()
        conn = self.conn
        if conn is None:
            return
        self.hand_over(conn)  # read on to the close, past the bound
        with contextlib.suppress(Exception):
            await conn.ws.close(code, reason)
        if not conn.ended:  # the close returned before the connection was lost
            with contextlib.suppress(Exception):
                await conn.wait_ended(5.0)
        conn.ws.detach()
        self.state.on_close()
        self.inbox.end(
            ConnectionClosedError(
                f"connection closed by the client with {code} {reason!r}",
                code=code,
                reason=reason,
                by_server=False,
            )
        )
        self.notify()
