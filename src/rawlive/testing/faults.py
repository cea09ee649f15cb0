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
from typing import TYPE_CHECKING, Any, TypeVar

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

import rawlive.testing.fault_records as _records
from rawlive.protocol import encode_json
from rawlive.protocol.codec import to_wire
from rawlive.protocol.messages import (
    ServerMessage,
    ServerPayload,
    SessionResumptionUpdate,
    Setup,
)
from rawlive.testing.fake_connection import FakeConnection
from rawlive.testing.fault_records import *  # noqa: F403  (re-exported: see __all__)
from rawlive.testing.fault_records import (
    ArmedFault,
    BundleFields,
    CancelToolCall,
    DelayFrames,
    DelayTurnComplete,
    Fault,
    InterruptedWithAudio,
    NeverCompleteTurn,
    NotResumableUpdates,
    Point,
    PointFault,
    TextFrames,
    UnknownTopLevelKeys,
)
from rawlive.testing.records import ConnectionRecord, ReplyTurn

if TYPE_CHECKING:
    from rawlive.testing.fake_server import FakeLiveServer


# The connection that applies the faults, then every fault record.
__all__ = ["FaultyConnection", "with_faults"]
__all__ += _records.__all__


_F = TypeVar("_F", bound=Fault)


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
