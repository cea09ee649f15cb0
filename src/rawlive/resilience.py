"""Reconnect policy, the events a resilient session yields, and the reconnect engine.

A Live connection lasts about ten minutes. With a :class:`ReconnectPolicy`,
:class:`~rawlive.client.Session` keeps the conversation going across
connections: on ``goAway`` it hands over to a new connection (resumed with the
latest handle) before the deadline, on drops and transient closes it
reconnects with backoff within a budget, and codes a retry cannot help stop it
at once. The classification is the one table in :mod:`rawlive.closecodes`.

Theory of operation
-------------------
:class:`Resilience` owns the moves between connections; the ledger
(:class:`~rawlive.protocol.ledger.Ledger`) owns what is sent again, and the
reader of each connection (:mod:`rawlive.engine`) reports the facts.

* A reconnect starts only when the reader of the old connection has read
  its last frame, so it resumes with the newest handle the service sent.
* A goAway starts a timer on arrival. At ``handover_delay`` the handover
  waits (until ``min_margin`` before the deadline) for an idle moment, then
  closes the old connection with 1000 and resumes on a new one. A handover,
  and a close that follows a goAway, is not an attempt.
* An *outage* starts with a drop or a transient close and lasts until a turn
  completes on a new connection or one has stayed up ``stable_after``
  seconds. Attempts, backoff and the budget count over the whole outage, so
  a server that accepts and drops at once cannot make the client spin.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rawlive.errors import (
    ConnectionClosedError,
    HandleRefusedError,
    LiveError,
    QueueFullError,
    ResumptionError,
    SetupTimeoutError,
)

if TYPE_CHECKING:
    import asyncio

    from rawlive.engine import Connection, Engine
    from rawlive.protocol.messages import ServerMessage
    from rawlive.protocol.session import Turn

__all__ = ["ReconnectPolicy", "Reconnected", "Resilience"]

logger = logging.getLogger("rawlive")

DUPLICATE_WAIT = 15.0
"""Seconds to hold new input back while waiting for a re-sent turn's second answer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectPolicy:
    """When and how a session reconnects. The defaults suit the Gemini API.

    Attributes:
        handover_margin: start the goAway handover this many seconds before the
            deadline (at most half the announced time left).
        min_margin: never wait for an idle moment (a turn finishing, a tool
            call being answered) closer than this to the deadline.
        wait_for_tool_calls: delay the handover while a tool call is unanswered.
        max_attempts: connection attempts per outage before giving up.
        backoff_initial, backoff_factor, backoff_max: delays between attempts
            (0.5 s, 1 s, 2 s, ... capped at 8 s); the first attempt is immediate.
        budget: give up when an outage has lasted this many seconds.
        queue_limit: messages sent while reconnecting are queued up to this
            many; one more raises :class:`~rawlive.errors.QueueFullError`.
        stable_after: an outage ends when a turn completes on the new
            connection, or when it has stayed up this many seconds.
    """

    handover_margin: float = 5.0
    min_margin: float = 0.5
    wait_for_tool_calls: bool = True
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_factor: float = 2.0
    backoff_max: float = 8.0
    budget: float = 60.0
    queue_limit: int = 1000
    stable_after: float = 30.0

    def delays(self) -> Iterator[float]:
        """Yield the delay before each attempt: 0, then exponential backoff."""
        yield 0.0
        delay = self.backoff_initial
        while True:
            yield min(delay, self.backoff_max)
            delay *= self.backoff_factor

    def handover_delay(self, time_left: float) -> float:
        """Seconds to wait after a goAway before starting the handover."""
        margin = min(self.handover_margin, time_left / 2)
        return max(0.0, time_left - margin)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnected:
    """The session moved to a new connection; yielded in the message stream.

    Attributes:
        cause: ``"goAway"`` (a planned handover), ``"drop"`` (no close frame)
            or ``"close"`` (a transient close code).
        code: the close code that caused it (None for a handover).
        reason: the close reason, if any.
        connection: the new connection's number (the first is 1).
        attempts: connection attempts it took.
        resent: client messages sent again because the service had not consumed them.
        queued: messages sent while reconnecting, delivered after the new setupComplete.
        handle: the handle the session resumed with.
        cut_turn: a model turn was under way when the old connection ended; it
            is discarded (its input is sent again and answered afresh), so a
            voice application should stop playing it.
        discarded: when :meth:`~rawlive.client.Session.receive_turn` was
            collecting that turn, what it had of it (``Turn.text``,
            ``Turn.audio_bytes``); None otherwise.
    """

    cause: str
    code: int | None
    reason: str
    connection: int
    attempts: int
    resent: int
    queued: int
    handle: str
    cut_turn: bool = False
    discarded: Turn | None = None


class Resilience:
    """Moves an :class:`~rawlive.engine.Engine` from connection to connection."""

    def __init__(
        self,
        engine: Engine,
        policy: ReconnectPolicy,
        open_resumed: Callable[
            [str, int], Awaitable[tuple[Connection, list[tuple[ServerMessage, int]]]]
        ],
    ) -> None:
        self._engine = engine
        self._policy = policy
        self._open_resumed = open_resumed
        self._task: asyncio.Task[None] | None = None
        self._handover: asyncio.Task[None] | None = None
        self._stable: asyncio.TimerHandle | None = None
        self._outage_started: float | None = None
        self._attempts = 0
        self._delays: Iterator[float] = iter(())
        self._last_number = 1
        self.reconnects: list[Reconnected] = []

    # ------------------------------------------------------ reader reports

    def check_queue(self, queued: int) -> None:
        """Refuse one more queued message past ``queue_limit`` while reconnecting."""
        if not self._engine.writable() and queued >= self._policy.queue_limit:
            raise QueueFullError(
                f"{queued} messages are already queued while reconnecting "
                f"(queue_limit={self._policy.queue_limit}); slow down or raise the limit"
            )

    def on_turn_complete(self, conn: Connection) -> None:
        """A turn completed on ``conn``: the outage, if any, is over."""
        self._end_outage()

    def on_go_away(self, conn: Connection, time_left: float) -> None:
        """A goAway arrived on ``conn``: schedule the handover (a newer one replaces it)."""
        if self._handover is not None:
            self._handover.cancel()
        self._handover = self._engine.spawn(self._hand_over(conn, time_left), "the handover")

    def take_over(self, conn: Connection, error: ConnectionClosedError) -> bool:
        """``conn`` ended with ``error``: reconnect when that can help."""
        import asyncio  # here, so that `import rawlive` stays free of asyncio

        planned = conn.handing_over or conn.go_away_at is not None
        if not (error.retryable or planned):
            return False
        if self._stable is not None:
            self._stable.cancel()
        if self._engine.state.handle is None:
            self._engine.observe_close(conn.number, error)
            self._engine.finish(
                ResumptionError(
                    "cannot reconnect: the service has not sent a resumable handle yet "
                    f"(the connection ended: {error})"
                )
            )
            return True
        self._engine.observe_close(conn.number, error)
        cause = None if conn.handing_over else error
        self._task = asyncio.ensure_future(self._reconnect(conn, cause, planned))
        self._task.add_done_callback(_retrieve)
        return True

    def stop(self) -> None:
        import asyncio

        for task in (self._task, self._handover):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if self._stable is not None:
            self._stable.cancel()

    # ------------------------------------------------------------ handover

    async def _hand_over(self, conn: Connection, time_left: float) -> None:
        import asyncio

        policy, engine = self._policy, self._engine
        deadline = time.monotonic() + time_left - min(policy.min_margin, time_left / 10)
        await asyncio.sleep(policy.handover_delay(time_left))
        # An idle moment: the turn finished and its handle arrived, tool calls
        # answered. A handover mid-turn would cut the model off.
        while conn is engine.conn and not conn.ended and time.monotonic() < deadline:
            if not self._busy():
                break
            await engine.wait_changed(0.02)
        if conn is not engine.conn or conn.ended or engine.closed_by_us:
            return
        engine.hand_over(conn)  # read the old connection to its end
        with contextlib.suppress(Exception):
            await conn.ws.close(1000, "handover to a new connection")

    def _busy(self) -> bool:
        engine, policy = self._engine, self._policy
        state, ledger = engine.state, engine.ledger
        if state.turn_open or state.handle_pending:
            return True
        if policy.wait_for_tool_calls and state.pending_calls:
            return True
        return ledger is not None and (ledger.unanswered > 0 or ledger.duplicates > 0)

    # ----------------------------------------------------------- reconnect

    def _end_outage(self) -> None:
        self._outage_started = None
        self._attempts = 0

    async def _reconnect(
        self, old: Connection, cause: ConnectionClosedError | None, planned: bool
    ) -> None:
        import asyncio

        engine = self._engine
        try:
            event = await self._reconnect_steps(old, cause, planned)
        except asyncio.CancelledError:
            raise
        except LiveError as exc:
            engine.finish(exc)
            return
        except Exception as exc:
            logger.exception("rawlive: reconnecting failed")
            engine.finish(exc)
            return
        logger.info("reconnected: %s", event)

    async def _reconnect_steps(
        self, old: Connection, cause: ConnectionClosedError | None, planned: bool
    ) -> Reconnected:
        import asyncio

        policy, engine = self._policy, self._engine
        handle = engine.state.handle
        assert handle is not None
        if not planned and self._outage_started is None:
            self._outage_started = time.monotonic()
            self._attempts = 0
            self._delays = policy.delays()
        attempts = 0
        last_error: LiveError | None = cause
        conn: Connection | None = None
        early: list[tuple[ServerMessage, int]] = []
        while conn is None:
            if self._outage_started is not None:
                delay = next(self._delays)
                spent = time.monotonic() - self._outage_started
                if self._attempts >= policy.max_attempts or (
                    self._attempts and spent + delay > policy.budget
                ):
                    raise ConnectionClosedError(
                        f"gave up reconnecting after {self._attempts} attempts in "
                        f"{spent:.1f} s: {last_error}",
                        code=getattr(last_error, "code", 1006),
                        reason=getattr(last_error, "reason", ""),
                        explanation="the service could not be reached again within the budget",
                        retryable=False,
                    )
                await asyncio.sleep(delay)
                self._attempts += 1
            attempts += 1
            self._last_number = max(self._last_number, old.number) + 1
            try:
                conn, early = await self._open_resumed(handle, self._last_number)
            except HandleRefusedError:
                raise
            except ConnectionClosedError as exc:
                if not exc.retryable:
                    raise
                last_error = exc
            except SetupTimeoutError as exc:
                last_error = exc
            if conn is None and self._outage_started is None:
                # a handover whose dial failed: from now on it is an outage
                self._outage_started = time.monotonic()
                self._attempts = 1
                self._delays = policy.delays()
                next(self._delays)
        assert engine.ledger is not None
        resend = engine.ledger.new_connection()
        if cause is None:
            kind, code, reason = "goAway", None, ""
        else:
            kind = "drop" if cause.dropped else "close"
            code, reason = cause.code, cause.reason
        event = Reconnected(
            cause=kind,
            code=code,
            reason=reason,
            connection=conn.number,
            attempts=attempts,
            resent=resend.resent,
            queued=resend.queued,
            handle=handle,
            cut_turn=old.turn_cut,
        )
        self.reconnects.append(event)
        engine.inbox.put(event)
        engine.start(conn, early)
        loop = asyncio.get_running_loop()
        self._stable = loop.call_later(policy.stable_after, self._end_outage)
        await engine.flush()
        if resend.duplicates:
            loop.call_later(DUPLICATE_WAIT, self._give_up_duplicates, conn)
        return event

    def _give_up_duplicates(self, conn: Connection) -> None:
        """The service did not answer the re-sent turns again: stop holding back."""
        import asyncio

        engine = self._engine
        ledger = engine.ledger
        if conn is not engine.conn or conn.ended or ledger is None:
            return
        if not ledger.duplicates:
            return
        if engine.state.turn_open:  # a duplicate is streaming: look again later
            asyncio.get_running_loop().call_later(DUPLICATE_WAIT, self._give_up_duplicates, conn)
            return
        logger.warning("rawlive: no second answer to %d re-sent turn(s)", ledger.duplicates)
        ledger.give_up_duplicates()
        engine.spawn(engine.flush(), "sending after the duplicates")


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
