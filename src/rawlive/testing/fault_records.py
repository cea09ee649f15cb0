"""The fault records: what the fake (or the proxy) does wrong, and when.

Each record is frozen and says its trigger (see :mod:`rawlive.testing.faults`
for the triggers and the theory of operation); a point fault's
:meth:`~PointFault.strike` does it on a connection. :class:`ArmedFault` is a
fault armed on one server, with where it fired. The connection that consults
them is :class:`rawlive.testing.faults.FaultyConnection`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from rawlive.closecodes import cut_reason
from rawlive.protocol import SERVER_ENVELOPES, snake
from rawlive.protocol.messages import (
    GoAway,
)
from rawlive.protocol.rules import DEADLINE_EXPIRED

if TYPE_CHECKING:
    from rawlive.testing.fake_connection import FakeConnection
    from rawlive.testing.faults import FaultyConnection


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
    "GoAwayThenClose",
    "InterruptedWithAudio",
    "NeverCompleteTurn",
    "NotResumableUpdates",
    "Point",
    "PointFault",
    "SlowPongs",
    "TextFrames",
    "UnknownTopLevelKeys",
]

Point = Literal["setup", "start", "chunk", "complete", "end", "frame"]
"""Where in a connection a point fault can act."""

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
        connection.spawn(stall_reading(connection.ws.transport, self.delay, self.duration))


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


async def stall_reading(transport: asyncio.Transport, delay: float, duration: float | None) -> None:
    """Stall reading from ``transport`` as :class:`SlowPongs` says (the fake's and the proxy's).

    Pause reading for ``delay`` seconds, read for a moment, pause again,
    until the transport closes or ``duration`` seconds have passed.
    """
    loop = asyncio.get_running_loop()
    end = None if duration is None else loop.time() + duration
    try:
        while not transport.is_closing() and (end is None or loop.time() < end):
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
