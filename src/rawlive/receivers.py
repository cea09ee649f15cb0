"""The receiving side of :class:`~rawlive.client.Session`: messages, turns, handles.

The reader of each connection (:mod:`rawlive.engine`) fills the inbox; these
methods drain it for the application, one reader at a time. A turn cut by a
reconnect is discarded here (reported on the
:class:`~rawlive.resilience.Reconnected` event, cut out of a WAV being
written), so :meth:`Receivers.receive_turn` returns only answers that
completed, each paired with its question.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator

from rawlive.audio.pcm import parse_pcm_mime
from rawlive.audio.wav import WavWriter
from rawlive.engine import _EMPTY, Engine, _Raise
from rawlive.errors import ConcurrentReadError, ConnectionClosedError, TurnTimeoutError
from rawlive.protocol.codec import chunk_message
from rawlive.protocol.messages import ServerMessage, Setup
from rawlive.protocol.session import SessionState, Turn, TurnAssembler
from rawlive.resilience import Reconnected

__all__ = ["Receivers"]


class Receivers:
    """Mixin: :meth:`receive`, iteration, :meth:`receive_turn`, :meth:`wait_for_handle`."""

    _engine: Engine
    _handle_wait: float
    _reading: bool
    setup: Setup
    state: SessionState

    @property
    def reconnects(self) -> list[Reconnected]:
        """Every reconnect so far, in order."""
        resilience = self._engine.resilience
        return resilience.reconnects if resilience is not None else []

    async def _next(self, timeout: float | None = None) -> ServerMessage | Reconnected:
        item = await self._next_item(timeout)
        if isinstance(item, tuple):
            return chunk_message(item)
        return item

    async def _next_item(
        self, timeout: float | None = None
    ) -> ServerMessage | Reconnected | tuple[str, bytes]:
        """The next inbox item: a message, an event, or an audio chunk as ``(mime, pcm)``."""
        inbox = self._engine.inbox
        item = inbox.get_nowait()
        if item is _EMPTY:
            try:
                item = await inbox.get(timeout)
            except ConnectionClosedError as exc:
                raise _fresh(exc) from None
        if type(item) is _Raise:
            raise item.error
        return item  # type: ignore[no-any-return]

    def _delivered(self, message: ServerMessage) -> int | None:
        """Note a delivered turnComplete; return the turn number it ends."""
        sc = message.server_content
        if sc is not None and sc.turn_complete:
            engine = self._engine
            marks = engine.turn_marks
            if not marks:
                return None
            number = marks.popleft()
            if not marks:
                engine.turn_marks = None
            return number
        return None

    async def receive(self) -> ServerMessage | Reconnected:
        """Return the next server message (or a :class:`Reconnected` event when a
        reconnect policy moved the session to a new connection).

        Raises:
            ConnectionClosedError: the connection closed (code, reason and
                explanation attached).
            RemoteProtocolError: the server sent an undecodable frame.
            ConcurrentReadError: another task is reading.
        """
        self._take_reader()
        try:
            message = await self._next()
        finally:
            self._reading = False
        if not isinstance(message, Reconnected):
            self._delivered(message)
        return message

    async def wait_for_handle(self, timeout: float = 5.0) -> str | None:
        """Wait for the resumable handle of the last completed turn; return the latest handle.

        The service sends the handle for a turn just after ``turnComplete`` (or
        bundled with it). :meth:`receive_turn` already waits for it briefly
        (``handle_wait``); call this to wait longer. Returns the current handle
        (possibly None) when none arrives in time.
        """
        state = self.state
        await self._engine.wait_for(
            lambda: not state.handle_pending and state.handle is not None, timeout
        )
        return state.handle

    async def _wait_for_turn_handle(self, turn_number: int | None) -> None:
        if turn_number is None or self._handle_wait <= 0 or self.setup.session_resumption is None:
            return
        state, engine = self.state, self._engine
        conn = engine.conn
        if state.handle_turns >= turn_number:
            return
        await engine.wait_for(
            lambda: (
                state.handle_turns >= turn_number
                or engine.conn is not conn
                or (conn is not None and conn.ended)
            ),
            self._handle_wait,
        )

    def _take_reader(self) -> None:
        """Become the one reader (release with ``self._reading = False``)."""
        # A plain flag and try/finally, not a context manager: nothing is
        # allocated per read (objects alive at scale are what the GC walks).
        if self._reading:
            raise ConcurrentReadError(
                "another task is already reading this session; use one reader and fan out"
            )
        self._reading = True

    def __aiter__(self) -> AsyncIterator[ServerMessage | Reconnected]:
        return _MessageIterator(self)

    async def receive_turn(
        self,
        *,
        wav: WavWriter | str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        keep_messages: bool = False,
    ) -> Turn:
        """Receive messages until ``turnComplete`` and return them as a :class:`Turn`.

        With a reconnect policy, a turn cut by a reconnect is discarded (the
        :class:`Reconnected` event in :attr:`reconnects` reports it in
        ``discarded``) and the answer that completes on the new connection is
        returned; a WAV being written is cut back to where the turn began.
        With resumption on, it then waits up to ``handle_wait`` seconds for
        the turn's handle, so :attr:`handle` covers the turn.

        Args:
            wav: stream the audio into this WAV writer or new file (constant
                memory; ``Turn.audio`` is then empty). A path is opened at the
                first audio chunk's sample rate and closed at the end of the turn
                (also when the connection closes mid-turn: the partial file is
                still valid).
            timeout: seconds to wait for the whole turn.
            keep_messages: keep every decoded message in ``Turn.messages``
                (default: no). The messages hold the audio a second time
                (``Turn.audio`` has it already) and stay tracked by the cyclic
                GC; ask for them when you need the frames themselves.

        Raises:
            ConnectionClosedError: the connection closed before ``turnComplete``;
                ``exc.partial_turn`` holds what arrived.
            TurnTimeoutError: the turn did not complete in ``timeout`` seconds
                (a ``TimeoutError`` on every Python version); ``exc.partial_turn``
                holds what arrived.
        """
        out = _TurnWav(wav) if wav is not None else None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        assembler = TurnAssembler(audio_sink=out, keep_messages=keep_messages)
        get_nowait = self._engine.inbox.get_nowait
        self._take_reader()
        try:
            while True:
                message = get_nowait()  # the fast path: no coroutine per frame
                if message is _EMPTY:
                    try:
                        message = await self._next_item(
                            None if deadline is None else max(0.0, deadline - loop.time())
                        )
                    except ConnectionClosedError as exc:
                        exc.partial_turn = assembler.build()
                        raise
                    except asyncio.TimeoutError:
                        raise TurnTimeoutError(
                            f"the turn did not complete within {timeout} s",
                            partial_turn=assembler.build(),
                        ) from None
                kind = type(message)
                if kind is tuple:  # an audio chunk of the model's turn: (mime, pcm)
                    mime, pcm = message
                    if out is not None and out.rate_unknown and mime.startswith("audio/"):
                        out.set_rate(mime)
                    if not keep_messages:
                        assembler.feed_chunk(mime, pcm)
                        continue
                    message = chunk_message(message)
                elif kind is not ServerMessage:
                    if kind is _Raise:
                        raise message.error
                    if kind is Reconnected:
                        if message.cut_turn and assembler.started:
                            self._report_discarded(message, assembler.build())
                            assembler = TurnAssembler(audio_sink=out, keep_messages=keep_messages)
                            if out is not None:
                                out.truncate()
                        continue
                if out is not None and out.rate_unknown:
                    for blob in message.audio_chunks():
                        out.set_rate(blob.mime_type)
                        break
                if assembler.feed(message):
                    turn_number = self._delivered(message)
                    turn = assembler.build()
                    await self._wait_for_turn_handle(turn_number)
                    return turn
        finally:
            self._reading = False
            if out is not None:
                out.close()

    def _report_discarded(self, event: Reconnected, partial: Turn) -> None:
        reconnects = self.reconnects
        updated = dataclasses.replace(event, discarded=partial)
        for i, known in enumerate(reconnects):
            if known is event:
                reconnects[i] = updated


def _fresh(error: ConnectionClosedError) -> ConnectionClosedError:
    """A copy of the session's end error, so each raise has its own partial_turn."""
    copy = type(error).__new__(type(error))
    copy.__dict__.update(error.__dict__)
    copy.args = error.args
    copy.partial_turn = None
    return copy


class _TurnWav:
    """Where :meth:`Receivers.receive_turn` streams a turn's audio (``wav=``).

    A given :class:`WavWriter` is written to and left open; a path is opened
    at the first audio chunk's rate and closed with the turn (an empty but
    valid file when no audio came).
    """

    __slots__ = ("_owned", "_path", "_start", "rate", "rate_unknown", "writer")

    def __init__(self, wav: WavWriter | str | os.PathLike[str]) -> None:
        self._owned = not isinstance(wav, WavWriter)
        self._path = wav
        self.writer: WavWriter | None = None if self._owned else wav  # type: ignore[assignment]
        self._start = self.writer.bytes_written if self.writer is not None else 0
        self.rate = 24000
        self.rate_unknown = True

    def set_rate(self, mime: str | None) -> None:
        self.rate = parse_pcm_mime(mime)
        self.rate_unknown = False

    def __call__(self, pcm: bytes) -> None:
        writer = self.writer
        if writer is None:
            writer = self.writer = WavWriter(self._path, rate=self.rate)  # type: ignore[arg-type]
        writer.write(pcm)

    def truncate(self) -> None:
        """Cut the file back to where the turn began (the turn was discarded)."""
        if self.writer is not None:
            self.writer.truncate(self._start)

    def close(self) -> None:
        if not self._owned:
            return
        if self.writer is None:  # no audio arrived: still leave a valid (empty) file
            self.writer = WavWriter(self._path, rate=self.rate)  # type: ignore[arg-type]
        self.writer.close()


class _MessageIterator:
    """``async for message in session``: every message, across turns and reconnects.

    The reader slot is taken per message, not for the whole loop, so breaking
    out of the loop frees it at once (an async generator would hold it until
    it is garbage-collected). Iteration ends when the session is closed by
    this client; any other close raises :class:`ConnectionClosedError`.
    """

    def __init__(self, session: Receivers) -> None:
        self._session = session

    def __aiter__(self) -> _MessageIterator:
        return self

    async def __anext__(self) -> ServerMessage | Reconnected:
        session = self._session
        if session._engine.closed_by_us:
            raise StopAsyncIteration
        try:
            return await session.receive()
        except ConnectionClosedError as exc:
            if session._engine.closed_by_us or (exc.code == 1000 and exc.by_server is False):
                raise StopAsyncIteration from None
            raise
