"""What the fake Live server keeps: connection records, conversations, reply turns.

Plain data and small pure helpers shared by :mod:`rawlive.testing.fake_connection`,
:mod:`rawlive.testing.turns`, :mod:`rawlive.testing.faults` and
:mod:`rawlive.testing.fake_server`. Nothing here does I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from rawlive.auth import LIVE_PATH
from rawlive.errors import RemoteProtocolError
from rawlive.protocol import camel, encode_json
from rawlive.protocol.codec import decode_server
from rawlive.protocol.messages import (
    ClientMessage,
    Content,
    FunctionCall,
    FunctionResponse,
    Handle,
    ModalityTokenCount,
    ServerMessage,
    Setup,
)
from rawlive.testing.fake_model import words
from rawlive.vertex import vertex_live_path

__all__ = [
    "LIVE_PATH",
    "MAX_RECORD_MESSAGES",
    "VERTEX_LIVE_PATH",
    "ConnectionRecord",
    "Conversation",
    "ReplyTurn",
    "Snapshot",
    "TurnInterrupted",
]

VERTEX_LIVE_PATH = vertex_live_path("v1beta1")
"""The path :attr:`FakeLiveServer.url` points at (any path is served)."""

MAX_RECORD_MESSAGES = 10_000
"""Received and sent entries a connection record keeps (the newest), unless the
server keeps every record (``keep_records=None``)."""

SPEECH_PEAK = 1000  # |sample| above this in a chunk counts as speech (barge-in)

ClosedBy = Literal["server", "client"]

# ------------------------------------------------------------------ records


@dataclass(slots=True, kw_only=True, eq=False)
class ConnectionRecord:
    """What one connection did, for tests to inspect. Secrets are redacted.

    Attributes:
        index: the connection's number on its server, from 0.
        path: the request path without the query string.
        target: the path with the query, ``key``/``access_token`` values
            replaced by ``REDACTED``.
        query: the query parameters (last value wins), secrets redacted.
        headers: the request headers, names lowercased, values of
            ``x-goog-api-key`` and the credentials of ``authorization``
            replaced by ``REDACTED``.
        setup: the accepted (or last rejected) ``setup`` message.
        resumed_from: the handle this connection resumed, if any.
        received: every decoded client message, in order (the newest
            :data:`MAX_RECORD_MESSAGES` when the server bounds its records).
        sent: every frame the server sent, as bytes, in order (bounded alike).
        handles: the resumption handles issued on this connection.
        close_code: the close code, once closed (1006 when no close frame).
        close_reason: the close reason, once closed.
        closed_by: ``"server"`` or ``"client"``; None while open or when the
            connection dropped.
        dropped_messages: how many of the oldest received and sent entries
            were let go to keep the record bounded.
    """

    index: int
    path: str
    target: str
    query: dict[str, str]
    headers: dict[str, str]
    setup: Setup | None = None
    resumed_from: Handle | None = None
    received: list[ClientMessage] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    handles: list[Handle] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str | None = None
    closed_by: ClosedBy | None = None
    dropped_messages: int = 0

    @property
    def sent_messages(self) -> list[ServerMessage]:
        """The sent frames decoded (frames that are not valid messages are skipped)."""
        out: list[ServerMessage] = []
        for frame in self.sent:
            with contextlib.suppress(RemoteProtocolError):
                out.append(decode_server(frame))
        return out

    def received_count(self, kind: str) -> int:
        """Count received messages of ``kind``; see :meth:`FakeLiveServer.received_count`."""
        return sum(1 for m in self.received if _has_kind(m, kind))


def _has_kind(message: ClientMessage, kind: str) -> bool:
    top, _, sub = kind.partition(".")
    top = camel(top)
    for payload in message.payloads:
        if top != payload.ENVELOPE:
            continue
        return not sub or camel(sub) in payload.to_wire()
    return top in message.extra


# ----------------------------------------------------------- conversation


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A conversation at one point: what a resumption handle restores."""

    turns: tuple[Content, ...]
    tokens: tuple[tuple[tuple[str, int], ...], ...]


class Conversation:
    """The turns of a session with the token cost of each (by modality)."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self.turns: list[Content] = list(snapshot.turns) if snapshot else []
        self.tokens: list[dict[str, int]] = [dict(t) for t in snapshot.tokens] if snapshot else []

    def add(self, content: Content, tokens: Mapping[str, int]) -> None:
        self.turns.append(content)
        self.tokens.append(dict(tokens))

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in self.tokens:
            for modality, count in entry.items():
                out[modality] = out.get(modality, 0) + count
        return out

    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(self.turns), tuple(tuple(sorted(t.items())) for t in self.tokens))


@dataclass(slots=True, eq=False)
class ReplyTurn:
    """One model turn in progress (owned by the reply task)."""

    kind: Literal["user", "tool"]
    user_text: str
    history: tuple[Content, ...]
    prompt: dict[str, int]
    input_transcript: str | None = None
    calls: tuple[tuple[FunctionCall, FunctionResponse], ...] = ()
    interrupt: asyncio.Event = field(default_factory=asyncio.Event)
    reply_text: str = ""
    spoken_chars: int = 0
    audio_seconds: float = 0.0


class TurnInterrupted(Exception):
    """Raised inside the reply task when new input interrupts it."""


def json_size(value: object) -> int:
    """Return about how many characters ``value`` takes as compact JSON.

    Iterative, so a part nested as deep as the decoder allows (1,024 levels)
    costs tokens instead of a RecursionError.
    """
    size = 0
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            size += 1 + len(node)
            for key, item in node.items():
                size += len(str(key)) + 3
                stack.append(item)
        elif isinstance(node, (list, tuple)):
            size += 1 + len(node)
            stack.extend(node)
        elif isinstance(node, str):
            size += len(node) + 2
        else:
            size += len(encode_json(node))
    return size


def last_user_words(turns: list[Content], start: int) -> int | None:
    """Return the index of the last user turn from ``start`` on that has words."""
    for i in range(len(turns) - 1, start - 1, -1):
        if turns[i].role == "user" and words(turns[i].text):
            return i
    return None


def token_details(tokens: Mapping[str, int]) -> tuple[ModalityTokenCount, ...]:
    order = {"TEXT": 0, "AUDIO": 1}
    return tuple(
        ModalityTokenCount(modality=m, token_count=c)
        for m, c in sorted(tokens.items(), key=lambda kv: (order.get(kv[0], 9), kv[0]))
    )


def has_speech(pcm: bytes) -> bool:
    usable = len(pcm) & ~1
    if not usable:
        return False
    view = memoryview(pcm)[:usable].cast("h")
    return max(max(view), -min(view)) > SPEECH_PEAK
