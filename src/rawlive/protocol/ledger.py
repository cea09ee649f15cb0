"""The ledger of client messages a resumed session may still need.

Theory of operation
-------------------
Every client message after ``setup`` is recorded here first, as the exact
bytes to send, and written to a connection from here, in order. The entries
form three runs, oldest first::

    | answered ........ | written ......... | queued .......... |
      a turn completed    sent on this         not sent yet
      after they were     connection, no
      sent, no handle     answer yet
      covers them yet

* ``setup`` is index 0 on each connection and the next message 1, 2, ...;
  :meth:`Ledger.written` assigns the index.
* :meth:`Ledger.on_turn_complete`: the written run becomes answered (a turn
  whose own input is in the ledger counts as one *answered turn*).
* :meth:`Ledger.on_handle`: a resumable handle covers what the service had
  consumed. With ``lastConsumedClientMessageIndex`` (Vertex ``transparent``
  mode) that is every entry up to the index; without it, the answered run.
  Covered entries are dropped: they are never sent again.
* :meth:`Ledger.new_connection`: every remaining entry is to be written
  again on the new connection. Answered entries go first, and their turns
  will be answered a second time: :attr:`Ledger.duplicates` counts those
  turns, and :meth:`Ledger.next_to_write` holds back everything else
  until :meth:`Ledger.on_turn_complete` has seen them all (it returns True
  for each duplicate, whose frames the client drops). So an answer is never
  delivered twice, and a question covered by a handle is never sent twice.

The ledger decides from facts the reader of a connection reports (turn
ends and handles, in the order they arrived), so a failed send and the
reader cannot disagree about what to send again. No I/O happens here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rawlive.protocol.messages import ClientMessage

__all__ = ["Ledger", "LedgerEntry", "Resend"]


@dataclass(slots=True)
class LedgerEntry:
    """One client message the service may not have consumed yet.

    Attributes:
        message: the decoded message.
        frame: the exact bytes sent.
        index: its index on the connection it was last written to; None while queued.
    """

    message: ClientMessage
    frame: bytes
    index: int | None = None


@dataclass(frozen=True, slots=True)
class Resend:
    """What a new connection must send (from :meth:`Ledger.new_connection`).

    Attributes:
        resent: entries that had been written on an earlier connection.
        queued: entries never written yet.
        duplicates: turns that will be answered a second time (their answers
            were delivered already).
    """

    resent: int
    queued: int
    duplicates: int


class Ledger:
    """Client messages no resumable handle covers yet (see the module docstring)."""

    def __init__(self) -> None:
        self._entries: deque[LedgerEntry] = deque()
        self._written = 0  # entries[:written] were written on the current connection
        self._answered = 0  # entries[:answered] belong to completed turns (<= written)
        self._answered_turns = 0  # completed turns whose input is in the answered run
        self._next_index = 1
        self.duplicates = 0
        """Turns still to be answered a second time on this connection (dropped)."""
        self._held = 0  # while duplicates > 0, only entries[:held] may be written

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def queued(self) -> int:
        """Entries not written on the current connection yet."""
        return len(self._entries) - self._written

    @property
    def answered(self) -> int:
        """Entries whose turn completed but that no handle covers yet."""
        return self._answered

    @property
    def unanswered(self) -> int:
        """Entries written on this connection whose turn has not completed."""
        return self._written - self._answered

    @property
    def awaiting_handle(self) -> bool:
        """A turn completed after input that no resumable handle covers yet."""
        return self._answered > 0

    def entries(self) -> list[LedgerEntry]:
        """Every entry, oldest first (a copy)."""
        return list(self._entries)

    def record(self, message: ClientMessage, frame: bytes) -> LedgerEntry:
        """Queue a message (not ``setup``) to be written."""
        entry = LedgerEntry(message, frame)
        self._entries.append(entry)
        return entry

    def next_to_write(self) -> LedgerEntry | None:
        """The next entry to write on the current connection, or None.

        While duplicate turns are outstanding only the answered entries being
        sent again are released, so nothing new can be taken for their answer.
        """
        if self._written >= len(self._entries):
            return None
        if self.duplicates and self._written >= self._held:
            return None
        return self._entries[self._written]

    def written(self, entry: LedgerEntry) -> int:
        """``entry`` (from :meth:`next_to_write`) was written; return its index."""
        if self.next_to_write() is not entry:
            raise ValueError("entries must be written in order, from next_to_write()")
        entry.index = self._next_index
        self._next_index += 1
        self._written += 1
        return entry.index

    def on_turn_complete(self) -> bool:
        """A ``turnComplete`` arrived; return True when it ends a duplicate turn."""
        if self.duplicates:
            self.duplicates -= 1
            return True
        if self._written > self._answered:
            self._answered_turns += 1
        self._answered = self._written
        return False

    def on_handle(self, last_consumed_index: int | None = None) -> int:
        """A resumable handle arrived; drop what it covers and return how many."""
        if last_consumed_index is None:
            dropped = self._answered
        else:
            dropped = 0
            for entry in self._entries:
                if dropped >= self._written or (entry.index or 0) > last_consumed_index:
                    break
                dropped += 1
        for _ in range(dropped):
            self._entries.popleft()
        self._written -= dropped
        self._answered = max(0, self._answered - dropped)
        self._held = max(0, self._held - dropped)
        if not self._answered:
            self._answered_turns = 0
        return dropped

    def give_up_duplicates(self) -> None:
        """Expect no more second answers (the service did not give them)."""
        self.duplicates = 0
        self._held = 0

    def new_connection(self) -> Resend:
        """A new connection starts: every entry is to be written again on it."""
        resent, queued = self._written, len(self._entries) - self._written
        self._written = 0
        self._next_index = 1
        for entry in self._entries:
            entry.index = None
        if self._answered:
            self.duplicates = self._answered_turns
            self._held = self._answered
        else:
            self.duplicates = self._held = 0
        return Resend(resent=resent, queued=queued, duplicates=self.duplicates)
