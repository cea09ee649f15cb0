"""Reconnect policy and the events a resilient session yields.

A Live connection lasts about ten minutes. With a :class:`ReconnectPolicy`,
:class:`~rawlive.client.Session` keeps the conversation going across
connections: on ``goAway`` it hands over to a new connection (resumed with the
latest handle) before the deadline, on drops and transient closes it
reconnects with backoff within a budget, and codes a retry cannot help stop it
at once. The classification is the one table in :mod:`rawlive.closecodes`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ReconnectPolicy", "Reconnected"]


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
    """

    cause: str
    code: int | None
    reason: str
    connection: int
    attempts: int
    resent: int
    queued: int
    handle: str
