"""Declarative fault injection for :class:`~rawlive.testing.FakeLiveServer`.

A fault is a frozen record of something the Live API service does that a
client must survive: a goAway and its deadline close, a close code with a
reason cut at 123 bytes, a dropped TCP connection, a turn that never
completes, slow pongs, a handle marked not resumable, keys from a newer API
version, payloads bundled into one frame, a tool call cancelled. Pass faults
to the server, or inject them while it runs, and each test needs one line::

    async with FakeLiveServer(faults=[DropConnection(after_chunks=3)]) as server:
        ...  # the first reply is cut after its third audio chunk

    armed = server.inject(CloseWith(1011, "Internal error encountered.", on_turn=2))
    ...
    assert armed.fired == [(1, 2)]  # (connection, turn)

Theory of operation
-------------------

Every connection of a :class:`FakeLiveServer` is served by the server's
connection class with :class:`FaultyConnection` mixed in front of it, so
faults compose with ``FakeLiveServer(connection_class=...)``. The mixin counts
model turns (``turn_number``: 0 during setup, then 1, 2, ... as replies
start) and the output chunks of the current turn (``turn_chunks``: audio
chunks, or text pieces in TEXT mode), and consults the server's faults at
the steps of :class:`FakeConnection`::

    step                       faults consulted
    -------------------------  -------------------------------------------------
    setupComplete sent         point faults at after_turn=0 / on_turn=0
    produce_turn starts        point faults at on_turn=N (no after_chunks)
    send(message)              InterruptedWithAudio, UnknownTopLevelKeys,
                               BundleFields, CancelToolCall (after a toolCall)
    an output chunk was sent   point faults at after_chunks=K
    send_turn_complete         NeverCompleteTurn, DelayTurnComplete; then point
                               faults at after_complete=N (before the handle)
    send_resumption_handle     NotResumableUpdates
    send_frame                 TextFrames
    the turn's last frame      point faults at after_turn=N

*Point faults* (:class:`GoAwayThenClose`, :class:`CloseWith`,
:class:`DropConnection`, :class:`SlowPongs`) act once at one moment.
*Turn faults* (all the others) change the frames of a whole turn. Triggers,
common to all faults (all keyword-only):

``connection``
    the connection's number, 1 for the first the server accepted (as in
    :attr:`rawlive.Reconnected.connection`); None (default) for any.
``on_turn``
    the Nth model turn of a connection (1-based; 0 is the setup phase);
    None (default) for any turn.
``after_turn``
    point faults only: act after the last frame of turn N (the resumption
    handle, if any); ``after_turn=0`` acts right after ``setupComplete``.
``after_complete``
    point faults only: act right after the ``turnComplete`` of turn N,
    before its resumption handle (the moment a client cannot tell whether
    the service kept the turn).
``after_chunks``
    point faults: act right after the Kth output chunk of the turn.
    :class:`InterruptedWithAudio`: the chunk after the Kth carries
    ``interrupted``.
``after_frames``
    point faults: act right after the Nth server frame of the connection
    (``setupComplete`` is frame 1).
``after_seconds``
    point faults: act this many seconds after ``setupComplete``.
``once``
    True (default): a point fault acts once; a turn fault changes one turn,
    the first it matches. False: every match.

Without ``on_turn``, ``after_turn`` or ``after_chunks``, a point fault acts
at the start of a turn (:class:`SlowPongs`: right after ``setupComplete``).
What each fault sends is in its docstring and in docs/faults.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from rawlive.closecodes import cut_reason
from rawlive.protocol import SERVER_ENVELOPES, encode_json, snake
from rawlive.protocol.codec import to_wire
from rawlive.protocol.messages import (
    GoAway,
    ServerMessage,
    ServerPayload,
    SessionResumptionUpdate,
    Setup,
)
from rawlive.protocol.rules import DEADLINE_EXPIRED
from rawlive.testing.fake_connection import FakeConnection
from rawlive.testing.records import ConnectionRecord, ReplyTurn

if TYPE_CHECKING:
    from rawlive.testing.fake_server import FakeLiveServer

__all__ = [
    "ArmedFault",
    "BundleFields",
    "CancelToolCall",
    "CloseWith",
    "DelayFrames",
    "DelayTurnComplete",
    "DropConnection",
    "ExpireHandles",
    "Fault",
    "FaultyConnection",
    "GoAwayThenClose",
    "InterruptedWithAudio",
    "NeverCompleteTurn",
    "NotResumableUpdates",
    "PointFault",
    "SlowPongs",
    "TextFrames",
    "UnknownTopLevelKeys",
    "with_faults",
]

Point = Literal["setup", "start", "chunk", "complete", "end", "frame"]
"""Where in a connection a point fault can act."""

_F = TypeVar("_F", bound="Fault")
_READ_WINDOW = 0.01  # seconds SlowPongs lets the transport read between stalls
# Both spellings are known: the decoder accepts snake_case too.
_ENVELOPES = frozenset(SERVER_ENVELOPES + tuple(snake(k) for k in SERVER_ENVELOPES))


# ------------------------------------------------------------------ faults


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """Base of every fault: the trigger fields (see the module docstring).

    Attributes:
        on_turn: the model turn of a connection (1-based, 0 = setup), None for any.
        after_turn: point faults: act after the last frame of this turn.
        after_complete: point faults: act after this turn's turnComplete, before its handle.
        after_chunks: point faults: act after this many output chunks of the turn.
        after_frames: point faults: act after this many server frames of the connection.
        after_seconds: point faults: act this many seconds after ``setupComplete``.
        connection: the connection's number (1 = first accepted), None for any.
        once: act (or change a turn) only once.

    Raises:
        ValueError: a trigger is negative, or not meaningful for the fault.
    """

    on_turn: int | None = None
    after_turn: int | None = None
    after_chunks: int | None = None
    after_frames: int | None = None
    after_seconds: float | None = None
    connection: int | None = None
    after_complete: int | None = None
    once: bool = True

    _TRIGGERS: ClassVar[frozenset[str]] = frozenset()  # optional triggers it accepts
    _FIRST_TURN: ClassVar[int] = 1  # on_turn=None matches turns from this one on

    def __post_init__(self) -> None:
        triggers = (
            "on_turn",
            "after_turn",
            "after_chunks",
            "after_frames",
            "after_seconds",
            "after_complete",
        )
        for name in triggers:
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be 0 or more, got {value}")
        if self.connection is not None and self.connection < 1:
            raise ValueError(f"connection numbers start at 1, got {self.connection}")
        for name in triggers[1:]:
            if getattr(self, name) is not None and name not in self._TRIGGERS:
                raise ValueError(f"{type(self).__name__} does not take {name}")
        if self.after_turn is not None and (
            self.on_turn is not None or self.after_chunks is not None
        ):
            raise ValueError("after_turn cannot be combined with on_turn or after_chunks")
        if self.after_complete is not None:
            others = [n for n in triggers if n != "after_complete" and getattr(self, n) is not None]
            if others:
                raise ValueError(f"after_complete cannot be combined with {' or '.join(others)}")
        timed = [n for n in ("after_frames", "after_seconds") if getattr(self, n) is not None]
        if timed and (
            len(timed) > 1
            or self.on_turn is not None
            or self.after_turn is not None
            or self.after_chunks is not None
        ):
            raise ValueError(f"{timed[0]} cannot be combined with another trigger")
        self._check()

    def _check(self) -> None:
        """Validate the fault's own fields (overridden; raise ValueError)."""

    def matches(self, connection: int, turn: int) -> bool:
        """Whether the fault applies to ``turn`` of connection number ``connection``."""
        if self.connection is not None and self.connection != connection:
            return False
        if self.on_turn is None:
            return turn >= self._FIRST_TURN
        return self.on_turn == turn


@dataclass(frozen=True, slots=True, kw_only=True)
class PointFault(Fault):
    """A fault that acts once, at one moment of a connection."""

    _TRIGGERS: ClassVar[frozenset[str]] = frozenset(
        {"after_turn", "after_chunks", "after_frames", "after_seconds", "after_complete"}
    )
    _DEFAULT_POINT: ClassVar[Point] = "start"

    def fires_at(
        self, point: Point, connection: int, turn: int, chunks: int, frames: int = 0
    ) -> bool:
        """Whether the fault acts at ``point`` (``chunks`` output chunks into ``turn``,
        ``frames`` server frames into the connection)."""
        if self.connection is not None and self.connection != connection:
            return False
        if self.after_seconds is not None:
            return False  # the connection's timer strikes it
        if self.after_frames is not None:
            return point == "frame" and frames == self.after_frames
        if self.after_turn is not None:
            if self.after_turn == 0:
                return point == "setup"
            return point == "end" and turn == self.after_turn
        if self.after_complete is not None:
            return point == "complete" and turn == self.after_complete
        if self.after_chunks is not None:
            return (
                point == "chunk"
                and chunks == self.after_chunks
                and (self.on_turn is None or self.on_turn == turn)
            )
        if self.on_turn is not None:
            if self.on_turn == 0:
                return point == "setup"
            return point == "start" and turn == self.on_turn
        return point == self._DEFAULT_POINT

    async def strike(self, connection: FaultyConnection) -> None:
        """Do the fault on ``connection`` (called by the connection at the trigger)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class GoAwayThenClose(PointFault):
    """Send ``{"goAway":{"timeLeft":...}}``, then close when the time is up.

    This is the normal end of a connection (about 10 minutes in): a goAway
    ``"50s"``, then close 1011 "Deadline expired before operation could
    complete." A client with a reconnect policy hands over before the deadline.

    Attributes:
        time_left: the Duration text announced (``"50s"``, ``"0.5s"``).
        close_after: seconds until the close; None: the seconds of ``time_left``.
        code: the close code.
        reason: the close reason (cut at 123 bytes).
    """

    time_left: str = "50s"
    close_after: float | None = None
    code: int = 1011
    reason: str = DEADLINE_EXPIRED

    def _check(self) -> None:
        try:
            seconds = GoAway(time_left=self.time_left).time_left_seconds
        except ValueError:
            seconds = None
        if seconds is None or seconds < 0:
            raise ValueError(f"time_left must be a Duration such as '50s', got {self.time_left!r}")
        if self.close_after is not None and self.close_after < 0:
            raise ValueError(f"close_after must be 0 or more, got {self.close_after}")
        _check_code(self.code)

    @property
    def close_delay(self) -> float:
        """Seconds between the goAway and the close."""
        if self.close_after is not None:
            return self.close_after
        return GoAway(time_left=self.time_left).time_left_seconds or 0.0

    async def strike(self, connection: FaultyConnection) -> None:
        await connection.send(GoAway(time_left=self.time_left))
        connection.spawn(_close_later(connection, self.close_delay, self.code, self.reason))


@dataclass(frozen=True, slots=True)
class CloseWith(PointFault):
    """Close the connection with ``code`` and ``reason``, as the service reports errors.

    A reason longer than 123 bytes is cut at 123 bytes without splitting a
    UTF-8 character (:attr:`wire_reason`), as the service's reasons arrive.

    Attributes:
        code: the close code (1007, 1008 and 1011 are the service's).
        reason: the reason text, before cutting.
    """

    code: int = 1011
    reason: str = ""

    def _check(self) -> None:
        _check_code(self.code)

    @property
    def wire_reason(self) -> str:
        """The reason as it travels: at most 123 bytes of UTF-8."""
        return cut_reason(self.reason)

    async def strike(self, connection: FaultyConnection) -> None:
        await connection.close(self.code, self.reason)


@dataclass(frozen=True, slots=True)
class DropConnection(PointFault):
    """Abort the TCP connection with no close frame (the client sees 1006).

    Use ``after_chunks=K`` to cut a reply mid-stream.
    """

    async def strike(self, connection: FaultyConnection) -> None:
        connection.ws.transport.abort()
        await connection.ws.wait_closed()


@dataclass(frozen=True, slots=True)
class ExpireHandles(PointFault):
    """Forget the resumption handles the connection has issued so far.

    The service forgets a handle when it expires; resuming with one is then
    closed 1008 "BidiGenerateContent session not found". Combine with a drop
    at the same trigger (``[ExpireHandles(after_turn=1), DropConnection(after_turn=1)]``,
    in that order) to make a reconnect meet a refused handle.
    """

    async def strike(self, connection: FaultyConnection) -> None:
        for handle in connection.record.handles:
            connection.server.forget_handle(handle)


@dataclass(frozen=True, slots=True)
class SlowPongs(PointFault):
    """Answer pings (and read everything else) up to ``delay`` seconds late.

    The websockets server answers pings as soon as it reads them, so the
    fault stalls reading instead: the transport is paused for ``delay``
    seconds, reads for a moment, and is paused again. A client ping sent
    during a stall gets its pong when the stall ends; client messages wait
    too, as behind a congested link. By default it starts right after
    ``setupComplete``.

    Attributes:
        delay: the longest a ping waits for its pong, in seconds.
        duration: stop after this many seconds; None: until the connection closes.
    """

    delay: float = 1.0
    duration: float | None = None

    _DEFAULT_POINT: ClassVar[Point] = "setup"

    def _check(self) -> None:
        if self.delay <= 0:
            raise ValueError(f"delay must be positive, got {self.delay}")

    async def strike(self, connection: FaultyConnection) -> None:
        connection.spawn(_stall_reading(connection, self.delay, self.duration))


@dataclass(frozen=True, slots=True)
class DelayTurnComplete(Fault):
    """Send ``turnComplete`` (with its ``usageMetadata``) ``seconds`` late.

    ``generationComplete`` goes out on time, as native-audio models do while
    the user's playback finishes. New client input ends the wait early.

    Attributes:
        seconds: the delay between ``generationComplete`` and ``turnComplete``.
    """

    seconds: float = 1.0

    def _check(self) -> None:
        if self.seconds < 0:
            raise ValueError(f"seconds must be 0 or more, got {self.seconds}")


@dataclass(frozen=True, slots=True)
class NeverCompleteTurn(Fault):
    """Never send ``turnComplete``: the turn stops after ``generationComplete``.

    Its ``usageMetadata`` and resumption handle, which come with and after
    ``turnComplete``, are not sent either. The connection stays open and
    answers later input.
    """


@dataclass(frozen=True, slots=True)
class NotResumableUpdates(Fault):
    """End the turn with ``{"sessionResumptionUpdate":{"newHandle":..,"resumable":false}}``.

    The handle is new and present, but not resumable: the server does not
    keep it (resuming with it is refused with 1008), and a client must keep
    its previous resumable handle. Needs ``sessionResumption`` in the setup.
    """


@dataclass(frozen=True, slots=True)
class UnknownTopLevelKeys(Fault):
    """Add top-level keys that no version of the protocol knows (yet).

    In the matching turn, the keys first arrive alone, as a frame of their own
    (``separate``), and are then added to every frame of the turn next to the
    known payload (``bundled``).

    Attributes:
        keys: the unknown keys and their JSON values, e.g.
            ``{"someFutureKey": {"level": 1}}``.
        separate: send one frame with only these keys before the turn's first frame.
        bundled: add the keys to every frame of the turn.
    """

    keys: Mapping[str, object] = field(default_factory=dict, hash=False)
    separate: bool = True
    bundled: bool = True

    def _check(self) -> None:
        if not self.keys:
            raise ValueError("give at least one key")
        known = sorted(_ENVELOPES & set(self.keys))
        if known:
            raise ValueError(f"these top-level keys are known ones: {known}")
        if not (self.separate or self.bundled):
            raise ValueError("separate and bundled cannot both be False")


@dataclass(frozen=True, slots=True)
class BundleFields(Fault):
    """Bundle consecutive payloads of a turn into as few frames as possible.

    Frames are merged while their top-level keys, and the fields inside
    ``serverContent``, do not collide. A reply then arrives as frames like
    ``{"serverContent":{"modelTurn":..,"outputTranscription":..}}`` and ends
    with one frame carrying the last chunk, ``generationComplete``,
    ``turnComplete``, ``usageMetadata`` and the ``sessionResumptionUpdate``.
    """


@dataclass(frozen=True, slots=True)
class InterruptedWithAudio(Fault):
    """Put ``interrupted: true`` in the same ``serverContent`` as an audio chunk.

    After ``after_chunks`` chunks (default 1), the next audio chunk carries
    ``"interrupted": true`` next to its ``modelTurn`` (Gemini 3.x bundles
    them), and the turn ends there: ``turnComplete`` follows with no
    ``generationComplete``; the rest of the reply is not sent.
    """

    _TRIGGERS: ClassVar[frozenset[str]] = frozenset({"after_chunks"})

    @property
    def chunk_index(self) -> int:
        """How many chunks go out before the interrupted one."""
        return 1 if self.after_chunks is None else self.after_chunks


@dataclass(frozen=True, slots=True)
class CancelToolCall(Fault):
    """Right after a ``toolCall``, send ``toolCallCancellation`` with its ids.

    The server forgets the calls (a late response for them is ignored, as the
    service does when the client races the cancellation).
    """


@dataclass(frozen=True, slots=True)
class TextFrames(Fault):
    """Send frames as WebSocket text frames instead of binary ones.

    By default every frame of every connection, ``setupComplete`` included.
    """

    once: bool = False

    _FIRST_TURN: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class DelayFrames(Fault):
    """Send every server frame of the matching turns ``seconds`` late (network latency).

    By default every frame of every turn, as behind a slow link; with
    ``on_turn=N`` only the frames of that turn.

    Attributes:
        seconds: the delay added before each frame.
    """

    seconds: float = 0.1
    once: bool = False

    def _check(self) -> None:
        if self.seconds < 0:
            raise ValueError(f"seconds must be 0 or more, got {self.seconds}")


def _check_code(code: int) -> None:
    if not (1000 <= code < 5000) or code in (1004, 1005, 1006, 1015):
        hint = " (use DropConnection for a drop)" if code == 1006 else ""
        raise ValueError(f"{code} cannot be sent in a close frame{hint}")


async def _close_later(connection: FakeConnection, delay: float, code: int, reason: str) -> None:
    await asyncio.sleep(delay)
    await connection.close(code, reason)


async def _stall_reading(connection: FakeConnection, delay: float, duration: float | None) -> None:
    transport = connection.ws.transport
    loop = asyncio.get_running_loop()
    end = None if duration is None else loop.time() + duration
    try:
        while connection.ws.state is not State.CLOSED and (end is None or loop.time() < end):
            transport.pause_reading()
            await asyncio.sleep(delay if end is None else max(0.0, min(delay, end - loop.time())))
            transport.resume_reading()
            await asyncio.sleep(_READ_WINDOW)
    finally:
        if not transport.is_closing():
            transport.resume_reading()


# ------------------------------------------------------------------ arming


@dataclass(slots=True, eq=False)
class ArmedFault:
    """A fault injected into one server, with where it fired.

    :meth:`FakeLiveServer.inject` returns it; :attr:`FakeLiveServer.faults`
    lists them.

    Attributes:
        fault: the fault.
        fired: ``(connection, turn)`` of each time it acted (point faults) or
            of each turn it changed (turn faults), in order.
        active: False after :meth:`disarm`.
    """

    fault: Fault
    fired: list[tuple[int, int]] = field(default_factory=list)
    active: bool = True

    def disarm(self) -> None:
        """Stop the fault from acting again (a running effect such as SlowPongs goes on)."""
        self.active = False

    async def wait_fired(self, timeout: float = 5.0) -> tuple[int, int]:
        """Wait until the fault has fired; return where it fired first.

        Raises:
            TimeoutError: it did not fire within ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.fired:
            if loop.time() > deadline:
                raise TimeoutError(f"{self.fault!r} did not fire within {timeout} s")
            await asyncio.sleep(0.005)
        return self.fired[0]

    def may_change(self, connection: int, turn: int) -> bool:
        """Whether a turn fault may change ``turn`` (``once``: only its first turn)."""
        if not self.active:
            return False
        return not self.fault.once or not self.fired or self.fired[0] == (connection, turn)

    def changed_already(self, connection: int, turn: int) -> bool:
        """Whether the fault already changed (or acted in) this turn."""
        return (connection, turn) in self.fired

    def mark(self, connection: int, turn: int) -> None:
        """Record that the fault acted in ``turn`` of ``connection``."""
        if (connection, turn) not in self.fired:
            self.fired.append((connection, turn))


# -------------------------------------------------------------- connection


class FaultyConnection(FakeConnection):
    """A :class:`FakeConnection` that applies its server's faults.

    :class:`FakeLiveServer` puts it in front of its ``connection_class``
    (:func:`with_faults`); you do not need to use it directly.

    Attributes:
        turn_number: model turns started on this connection (0 during setup).
        turn_chunks: output chunks (audio chunks or text pieces) sent in the
            current turn.
    """

    def __init__(
        self, server: FakeLiveServer, ws: ServerConnection, record: ConnectionRecord
    ) -> None:
        super().__init__(server, ws, record)
        self.turn_number = 0
        self.turn_chunks = 0
        self.frames_sent = 0
        self._reply: ReplyTurn | None = None
        self._bundle: dict[str, Any] | None = None
        self._interrupted_sent = False  # InterruptedWithAudio: drop the rest of the reply
        self._stalled = False  # NeverCompleteTurn: no handle either

    @property
    def number(self) -> int:
        """The connection's number on its server, 1 for the first."""
        return self.record.index + 1

    def _changing(self, kind: type[_F]) -> Iterator[tuple[ArmedFault, _F]]:
        """The armed turn faults of ``kind`` that may change the current turn."""
        conn, turn = self.number, self.turn_number
        for armed in self.server.faults:
            fault = armed.fault
            if (
                isinstance(fault, kind)
                and fault.matches(conn, turn)
                and armed.may_change(conn, turn)
            ):
                yield armed, fault

    async def _strike_at(self, point: Point) -> None:
        conn, turn = self.number, self.turn_number
        for armed in list(self.server.faults):
            fault = armed.fault
            if not isinstance(fault, PointFault) or not armed.active:
                continue
            if fault.once and armed.fired:
                continue
            if not fault.fires_at(point, conn, turn, self.turn_chunks, self.frames_sent):
                continue
            armed.mark(conn, turn)
            await self.flush_bundle()
            await fault.strike(self)

    # ------------------------------------------------------ turn boundaries

    async def accept_setup(self, setup: Setup) -> bool:
        accepted = await super().accept_setup(setup)
        if accepted:
            await self.flush_bundle()
            await self._strike_at("setup")
            for armed in self.server.faults:
                fault = armed.fault
                if (
                    fault.after_seconds is not None
                    and isinstance(fault, PointFault)
                    and fault.connection in (None, self.number)
                ):
                    self.spawn(self._strike_later(armed, fault, fault.after_seconds))
        return accepted

    async def strike_now(self, armed: ArmedFault) -> bool:
        """Do the point fault of ``armed`` here and now (see :meth:`FakeLiveServer.strike`).

        Returns:
            False when the fault is not a point fault for this connection, or
            the connection is not set up or no longer open.
        """
        fault = armed.fault
        if (
            not isinstance(fault, PointFault)
            or self.setup is None
            or self.ws.state is not State.OPEN
            or fault.connection not in (None, self.number)
        ):
            return False
        armed.mark(self.number, self.turn_number)
        await self.flush_bundle()
        await fault.strike(self)
        return True

    async def _strike_later(self, armed: ArmedFault, fault: PointFault, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.ws.state is not State.OPEN or not armed.active or (fault.once and armed.fired):
            return
        armed.mark(self.number, self.turn_number)
        await self.flush_bundle()
        await fault.strike(self)

    async def produce_turn(self, turn: ReplyTurn) -> None:
        self.turn_number += 1
        self.turn_chunks = 0
        self._reply = turn
        self._interrupted_sent = self._stalled = False
        await self._strike_at("start")
        await super().produce_turn(turn)
        await self._end_turn()

    async def finish_interrupted(self, turn: ReplyTurn) -> None:
        await super().finish_interrupted(turn)
        await self._end_turn()

    async def _end_turn(self) -> None:
        await self.flush_bundle()
        self._interrupted_sent = False
        await self._strike_at("end")

    # --------------------------------------------------------------- frames

    async def send(self, message: ServerMessage | ServerPayload) -> None:
        msg = message if isinstance(message, ServerMessage) else ServerMessage.bundle(message)
        sc = msg.server_content
        chunk = sc is not None and sc.model_turn is not None and bool(sc.model_turn.parts)
        if not self.server.faults:
            await super().send(message)
            if chunk:
                self.turn_chunks += 1
            return
        sru = msg.session_resumption_update
        if self._interrupted_sent and not (
            (sc is not None and sc.turn_complete) or (sru is not None and sru.new_handle)
        ):
            return  # the reply ended with the interrupted chunk
        conn, turn = self.number, self.turn_number
        wire: dict[str, Any] | None = None  # None: the message goes out unchanged
        if chunk and any(True for _ in msg.audio_chunks()):
            for armed, cut in self._changing(InterruptedWithAudio):
                if self.turn_chunks == cut.chunk_index and not armed.changed_already(conn, turn):
                    armed.mark(conn, turn)
                    wire = to_wire(msg)
                    wire["serverContent"]["interrupted"] = True
                    self._interrupted_sent = True
                    if self._reply is not None:
                        self._reply.interrupt.set()  # stop the reply at its next chunk
                    break
        for armed, unknown in self._changing(UnknownTopLevelKeys):
            first = not armed.changed_already(conn, turn)
            armed.mark(conn, turn)
            if first and unknown.separate:
                await self._emit(dict(unknown.keys))
            if unknown.bundled:
                wire = wire if wire is not None else to_wire(msg)
                wire.update(unknown.keys)
        await self._emit(wire if wire is not None else msg)
        tc = msg.tool_call
        if tc is not None:
            for armed, _ in self._changing(CancelToolCall):
                armed.mark(conn, turn)
                await self.cancel_calls(c.id for c in tc.function_calls or () if c.id)
        if chunk:
            self.turn_chunks += 1
            await self._strike_at("chunk")

    async def _emit(self, message: ServerMessage | dict[str, Any]) -> None:
        """Send one frame, or merge it into the pending bundle (BundleFields)."""
        bundling = False
        for armed, _ in self._changing(BundleFields):
            armed.mark(self.number, self.turn_number)
            bundling = True
        if not bundling:
            await self.flush_bundle()
            if isinstance(message, dict):
                await self.send_frame(_dumps(message))
            else:
                await super().send(message)
            return
        wire = message if isinstance(message, dict) else to_wire(message)
        pending = self._bundle
        if pending is not None and _collides(pending, wire):
            await self.flush_bundle()
            pending = None
        if pending is None:
            self._bundle = {k: dict(v) if k == "serverContent" else v for k, v in wire.items()}
            return
        for key, value in wire.items():
            if key == "serverContent" and key in pending:
                pending[key].update(value)
            else:
                pending[key] = value

    async def flush_bundle(self) -> None:
        """Send the frame BundleFields is holding, if any."""
        pending, self._bundle = self._bundle, None
        if pending is not None:
            await self.send_frame(_dumps(pending))

    async def send_frame(self, frame: bytes | str) -> None:
        if not self.server.faults:
            await super().send_frame(frame)
            return
        if isinstance(frame, bytes):
            for armed, _ in self._changing(TextFrames):
                armed.mark(self.number, self.turn_number)
                frame = frame.decode("utf-8")
                break
        for armed, delay in self._changing(DelayFrames):
            armed.mark(self.number, self.turn_number)
            await asyncio.sleep(delay.seconds)
        await super().send_frame(frame)
        self.frames_sent += 1
        await self._strike_at("frame")

    # ---------------------------------------------------------- turn ends

    async def send_turn_complete(self, turn: ReplyTurn, response: Mapping[str, int]) -> None:
        conn, number = self.number, self.turn_number
        for armed, _ in self._changing(NeverCompleteTurn):
            armed.mark(conn, number)
            self._stalled = True
            await self.flush_bundle()
            return
        for armed, delay in self._changing(DelayTurnComplete):
            if armed.changed_already(conn, number):
                continue
            armed.mark(conn, number)
            await self.flush_bundle()  # generationComplete goes out now
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(turn.interrupt.wait(), delay.seconds)
            break
        await super().send_turn_complete(turn, response)
        await self._strike_at("complete")

    async def send_resumption_handle(self) -> None:
        if not self.resumable or self._stalled:
            return
        for armed, _ in self._changing(NotResumableUpdates):
            armed.mark(self.number, self.turn_number)
            # A fresh handle the server never stores: resuming with it is refused.
            await self.send(
                SessionResumptionUpdate(new_handle=self.server.new_handle(), resumable=False)
            )
            return
        await super().send_resumption_handle()


def _collides(pending: Mapping[str, Any], wire: Mapping[str, Any]) -> bool:
    for key, value in wire.items():
        if key not in pending:
            continue
        if key != "serverContent" or set(pending[key]) & set(value):
            return True
    return False


def _dumps(wire: Mapping[str, Any]) -> bytes:
    return encode_json(wire)


_FAULTY: dict[type[FakeConnection], type[FaultyConnection]] = {}


def with_faults(connection_class: type[FakeConnection]) -> type[FaultyConnection]:
    """Return ``connection_class`` with :class:`FaultyConnection` mixed in front.

    The server's faults then apply on top of whatever the class overrides.
    """
    if issubclass(connection_class, FaultyConnection):
        return connection_class
    mixed = _FAULTY.get(connection_class)
    if mixed is None:
        mixed = type(f"Faulty{connection_class.__name__}", (FaultyConnection, connection_class), {})
        _FAULTY[connection_class] = mixed
    return mixed
