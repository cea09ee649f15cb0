"""The ledger of client messages a resumed session may still need.

Theory of operation
-------------------
Every client message sent after ``setup`` is recorded with its index on the
current connection (``setup`` is index 0, the next message 1, ...). The
service's resumption handle covers a prefix of them; the rest must be sent
again on the next connection, exactly once:

* when a resumable ``sessionResumptionUpdate`` carries
  ``lastConsumedClientMessageIndex`` (Vertex ``transparent`` mode), entries up
  to that index are dropped;
* otherwise a handle covers what the service had consumed by the end of the
  last completed turn: entries recorded before the last ``turnComplete``
  arrived are dropped (:meth:`Ledger.mark_turn_end` remembers that point),
  and messages sent after it stay.

After a reconnect the unconsumed entries are sent again and re-recorded with
their new indices. The ledger holds frames as encoded bytes so a re-send is
byte-identical to the first send.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rawlive.protocol.messages import ClientMessage

__all__ = ["Ledger", "LedgerEntry"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One client message that the service may not have consumed yet."""

    index: int
    message: ClientMessage
    frame: bytes


class Ledger:
    """Client messages since the last resumable handle (see the module docstring)."""

    def __init__(self) -> None:
        self._entries: deque[LedgerEntry] = deque()
        self._next_index = 1
        self._turn_mark = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def awaiting_handle(self) -> bool:
        """A turn ended after messages that no resumable handle covers yet."""
        return self._turn_mark > 0

    def new_connection(self) -> None:
        """A new connection starts: indices restart after its ``setup``."""
        self._next_index = 1

    def record(self, message: ClientMessage, frame: bytes) -> LedgerEntry:
        """Record a message sent on the current connection (not ``setup``)."""
        entry = LedgerEntry(self._next_index, message, frame)
        self._next_index += 1
        self._entries.append(entry)
        return entry

    def mark_turn_end(self) -> None:
        """A ``turnComplete`` arrived: what was sent so far belongs to finished turns."""
        self._turn_mark = len(self._entries)

    def on_resumable_handle(self, last_consumed_index: int | None = None) -> int:
        """A new resumable handle arrived; drop what it covers and return how many."""
        if last_consumed_index is not None:
            dropped = 0
            while self._entries and self._entries[0].index <= last_consumed_index:
                self._entries.popleft()
                dropped += 1
            self._turn_mark = max(0, self._turn_mark - dropped)
            return dropped
        dropped = self._turn_mark
        for _ in range(dropped):
            self._entries.popleft()
        self._turn_mark = 0
        return dropped

    def take_unconsumed(self) -> list[LedgerEntry]:
        """Remove and return every entry, for sending again on a new connection."""
        entries = list(self._entries)
        self._entries.clear()
        self._turn_mark = 0
        return entries
