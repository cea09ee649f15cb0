"""A loopback fake of the Live API service, speaking the real wire protocol.

:class:`FakeLiveServer` listens on ``127.0.0.1`` (port 0 by default), accepts
WebSocket connections on any path and answers like the BidiGenerateContent
service (../shared/PROTOCOL.md sections 2 to 4): binary frames of compact
camelCase JSON, close codes and reason texts copied from real traffic, turn
output in the order the service uses, usage metadata that grows with the
context, and session resumption that really restores the conversation.

Theory of operation
-------------------

Each connection is served by one :class:`FakeConnection`, a small state
machine driven by the client's frames::

    state       client frame                      effect
    ---------   -------------------------------   ----------------------------------------
    OPENED      setup (valid, authorized)         -> setupComplete; ACTIVE
    OPENED      anything else / bad JSON          close 1007 "Request contains an invalid..."
    OPENED      setup, key does not match         close 1008 "API key not valid..."
    OPENED      setup, unknown resumption handle  close 1008 "BidiGenerateContent session..."
    ACTIVE      clientContent                     interrupt any reply; append turns;
                                                  turnComplete -> answer
    ACTIVE      realtimeInput.text                interrupt any reply; answer
    ACTIVE      realtimeInput.audio               buffer; answer on activityEnd,
                                                  audioStreamEnd, or VAD silence
    ACTIVE      toolResponse (pending id)         answer using the response
    any         a frame that breaks a rule        close with the service's code and
                                                  reason (rules="service")

The rules are those of the outgoing lint, from one table
(:data:`rawlive.protocol.rules.RULES`): a setup without model (1011), a second
setup, several keys, ``mediaChunks``, a response to no pending call (1007), a
Live URL on API version ``v1`` or an ephemeral token on the wrong method
(1008). ``rules="lenient"`` lets them through where the fake can go on.

The answer goes to the last unanswered user turn with words: content-free
nudges (``"."``, ``" "``) never win, and when nothing unanswered has words the
last real question of the history is answered. History seeded with
``historyConfig.initialHistoryInClientContent`` is not answered by itself (the
documented rule); a nudge after it gets the answer to the seeded question.

An answer runs in its own task (the *reply task*) so the reader keeps reading
while audio streams; the reader interrupts it cooperatively (an event checked
between frames), then the reply task itself sends ``interrupted`` and
``turnComplete``, so frames of one turn never interleave with the next.

Fault injection: describe faults declaratively with the records of
:mod:`rawlive.testing.faults` (``FakeLiveServer(faults=[...])`` or
:meth:`FakeLiveServer.inject`), or subclass :class:`FakeConnection` and pass it
as ``FakeLiveServer(connection_class=...)``. Every outgoing frame goes through
:meth:`FakeConnection.send_frame`, every incoming one through
:meth:`FakeConnection.receive`, and each protocol step is its own method.
The open connections are listed in :attr:`FakeLiveServer.open_connections`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import random
import ssl
from base64 import urlsafe_b64encode
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, quote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from rawlive.audio.pcm import INPUT_RATE, OUTPUT_RATE, parse_pcm_mime, pcm_mime
from rawlive.closecodes import cut_reason
from rawlive.errors import AudioFormatError, RemoteProtocolError
from rawlive.protocol._schema import camel
from rawlive.protocol.codec import decode_client, decode_server, encode
from rawlive.protocol.lint import lint_message, lint_request
from rawlive.protocol.messages import (
    Blob,
    ClientContent,
    ClientMessage,
    Content,
    ContextUpdate,
    FunctionCall,
    FunctionDeclaration,
    FunctionResponse,
    GoAway,
    Handle,
    ModalityTokenCount,
    Part,
    RealtimeInput,
    ServerContent,
    ServerMessage,
    ServerPayload,
    SessionResumptionUpdate,
    Setup,
    SetupComplete,
    Tool,
    ToolCall,
    ToolCallCancellation,
    ToolResponse,
    Transcription,
    UsageMetadata,
)
from rawlive.protocol.rules import (
    API_KEY_INVALID,
    DEADLINE_EXPIRED,
    INTERNAL_ERROR,
    INVALID_ARGUMENT,
    MEDIA_CHUNKS_DEPRECATED,
    RULE_MODES,
    RULES,
    SESSION_NOT_FOUND,
    RuleMode,
    live_path_version,
    offered_credentials,
    split_target,
)
from rawlive.redact import (
    REDACTED,
    SECRET_QUERY_NAMES,
    RedactingLogger,
    redact,
    redact_header,
)
from rawlive.testing.fake_model import FakeModel, split_text, words
from rawlive.testing.token_endpoint import TokenEndpoint, TokenRegistry

if TYPE_CHECKING:
    from rawlive.testing.faults import ArmedFault, Fault

__all__ = [
    "API_KEY_INVALID",
    "DEADLINE_EXPIRED",
    "INTERNAL_ERROR",
    "INVALID_ARGUMENT",
    "LIVE_PATH",
    "MEDIA_CHUNKS_DEPRECATED",
    "SESSION_NOT_FOUND",
    "ConnectionRecord",
    "FakeConnection",
    "FakeLiveServer",
    "fake_server",
]

logger = logging.getLogger("rawlive.testing")

LIVE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
VERTEX_LIVE_PATH = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
"""The path :attr:`FakeLiveServer.url` points at (any path is served)."""

MAX_RECORD_MESSAGES = 10_000
"""Received and sent entries a connection record keeps (the newest), unless the
server keeps every record (``keep_records=None``)."""

_SPEECH_PEAK = 1000  # |sample| above this in a chunk counts as speech (barge-in)
_HANDLE_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

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
class _Snapshot:
    """A conversation at one point: what a resumption handle restores."""

    turns: tuple[Content, ...]
    tokens: tuple[tuple[tuple[str, int], ...], ...]


class _Conversation:
    """The turns of a session with the token cost of each (by modality)."""

    def __init__(self, snapshot: _Snapshot | None = None) -> None:
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

    def snapshot(self) -> _Snapshot:
        return _Snapshot(tuple(self.turns), tuple(tuple(sorted(t.items())) for t in self.tokens))


@dataclass(slots=True, eq=False)
class _Turn:
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


class _Interrupted(Exception):
    """Raised inside the reply task when new input interrupts it."""


# -------------------------------------------------------------- connection


class FakeConnection:
    """Serve one WebSocket connection as the Live API service does.

    The server creates one per accepted connection and calls :meth:`run`.
    Override the small steps to inject faults; keep :meth:`send_frame` as
    the single exit for outgoing frames so :attr:`record` stays complete.

    Attributes:
        server: the server that accepted the connection.
        ws: the websockets connection.
        record: the observable record of this connection.
        setup: the accepted setup, once accepted.
        pending_calls: function calls sent and not yet answered, by id.
    """

    def __init__(
        self, server: FakeLiveServer, ws: ServerConnection, record: ConnectionRecord
    ) -> None:
        self.server = server
        self.ws = ws
        self.record = record
        self.setup: Setup | None = None
        self.tools: tuple[Tool, ...] = ()
        self.system_instruction: Content | None = None
        self.conversation = _Conversation()
        self.pending_calls: dict[str, FunctionCall] = {}
        self._cancelled_calls: set[str] = set()
        self._unanswered = 0  # index of the first turn not answered yet
        self._seeding = False
        self._audio_seconds = 0.0
        self._vad_timer: asyncio.TimerHandle | None = None
        self._turn_lock = asyncio.Lock()
        self._reply_task: asyncio.Task[None] | None = None
        self._turn: _Turn | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False
        self.dispatched = 0  # client messages after setup fully handled

    # ----------------------------------------------------------- lifecycle

    async def run(self) -> None:
        """Serve the connection until it closes; record how it closed."""
        try:
            if await self.open():
                await self.serve()
        except ConnectionClosed:
            pass
        finally:
            await self.cleanup()
            self._record_close()

    async def open(self) -> bool:
        """Read and check the first frame; answer ``setupComplete`` if it is a good setup.

        Returns:
            True when the session is active, False when the connection was closed.
        """
        message = await self.receive()
        if message is None or await self.check_rules(message):
            return False
        if message.setup is None:  # even a lenient server cannot serve without a setup
            await self.close(RULES["setup-first"].code, RULES["setup-first"].reason)
            return False
        self.record.setup = message.setup
        if not self.authorized():
            await self.refuse("api-key")
            return False
        return await self.accept_setup(message.setup)

    async def serve(self) -> None:
        """Read, check and dispatch client frames until the connection closes."""
        while not self._closing:
            message = await self.receive()
            if message is None:
                return
            if await self.check_rules(message):
                return
            await self.dispatch(message)
            self.dispatched += 1

    async def check_rules(self, message: ClientMessage) -> bool:
        """Apply the outgoing lint's rules to a received frame, as the service would.

        Returns:
            True when the frame broke a rule and the connection was closed.
        """
        # A response to a call we cancelled is a race the service forgives.
        pending = set(self.pending_calls) | self._cancelled_calls
        backend = "vertex" if self.server.vertex else "gemini"
        for issue in lint_message(
            message, setup=self.setup, pending_calls=pending, backend=backend
        ):
            if await self.refuse(issue.rule):
                return True
        return False

    async def refuse(self, rule: str, *, model: str = "") -> bool:
        """Close the connection with the code and reason the service uses for ``rule``.

        With ``rules="lenient"``, the rules of the outgoing lint are let
        through; the rules that come from the server's configuration (a key,
        known models, resumption handles) always apply.

        Returns:
            True when the connection was closed.
        """
        spec = RULES[rule]
        if spec.lint and self.server.rules == "lenient":
            logger.debug("connection %d: lenient about %s", self.record.index, rule)
            return False
        parsed = live_path_version(self.record.path)
        reason = spec.close_reason(model=model, version=parsed[0] if parsed else "v1beta")
        await self.close(spec.code, reason)
        return True

    async def cleanup(self) -> None:
        """Stop timers and tasks of this connection (called once, at the end)."""
        if self._vad_timer is not None:
            self._vad_timer.cancel()
        tasks = [t for t in (self._reply_task, *self._background) if t is not None]
        for task in tasks:
            if not task.done():
                task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def _record_close(self) -> None:
        if self.record.closed_by == "server":
            return
        protocol = self.ws.protocol
        sent, rcvd = protocol.close_sent, protocol.close_rcvd
        if sent is not None and not protocol.close_rcvd_then_sent:
            # Closed by us outside close(), e.g. FakeLiveServer.close() (1001).
            self.record.close_code, self.record.close_reason = sent.code, sent.reason
            self.record.closed_by = "server"
        elif rcvd is not None:
            self.record.close_code, self.record.close_reason = rcvd.code, rcvd.reason
            self.record.closed_by = "client"
        else:
            self.record.close_code, self.record.close_reason = 1006, ""
        logger.info(
            "connection %d: closed by %s %s %s",
            self.record.index,
            self.record.closed_by or "nobody (dropped)",
            self.record.close_code,
            self.record.close_reason,
        )

    async def close(self, code: int, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason`` (cut to 123 bytes)."""
        if self._closing:
            return
        self._closing = True
        reason = cut_reason(reason)
        self.record.close_code, self.record.close_reason = code, reason
        self.record.closed_by = "server"
        logger.info("connection %d: closing %d %s", self.record.index, code, reason)
        await self.ws.close(code, reason)

    async def go_away(self, time_left: str = "50s", *, close_after: float | None = None) -> None:
        """Send ``goAway``; optionally close 1011 "Deadline expired..." later.

        Args:
            time_left: the Duration text to announce (``"50s"``, ``"1.5s"``).
            close_after: seconds after which to close the connection the way
                the service does when the time is up; None keeps it open.
        """
        await self.send(GoAway(time_left=time_left))
        if close_after is not None:
            self.spawn(self._close_later(close_after, 1011, DEADLINE_EXPIRED))

    async def _close_later(self, delay: float, code: int, reason: str) -> None:
        await asyncio.sleep(delay)
        await self.close(code, reason)

    def spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        """Run ``coro`` in a task owned by this connection (cancelled when it closes).

        A closed connection ends the task quietly; any other exception is
        logged and closes the connection with 1011, as a server fault would.
        """
        task = asyncio.create_task(self._guard(coro))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _guard(self, coro: Coroutine[object, object, None]) -> None:
        try:
            await coro
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("connection %d: background task failed", self.record.index)
            with contextlib.suppress(ConnectionClosed):
                await self.close(1011, INTERNAL_ERROR)

    # ------------------------------------------------------------- frames

    async def receive(self) -> ClientMessage | None:
        """Return the next client message, or None after closing for a bad frame.

        A frame that does not decode as a client message, or holds only
        unknown keys, closes the connection with 1007 (``undecodable``); a
        lenient server skips it.

        Raises:
            ConnectionClosed: the connection closed.
        """
        while True:
            frame = await self.ws.recv()
            try:
                message = decode_client(frame)
            except (RemoteProtocolError, RecursionError):
                if await self.refuse("undecodable"):
                    return None
                continue
            self.record.received.append(message)
            self._bound(self.record.received)
            if message.extra and not message.payloads:  # nothing this server can read
                if await self.refuse("undecodable"):
                    return None
                continue
            return message

    async def send(self, message: ServerMessage | ServerPayload) -> None:
        """Encode ``message`` (a bare payload gets its envelope) and send it."""
        await self.send_frame(encode(message))

    async def send_frame(self, frame: bytes | str) -> None:
        """Send one raw frame: ``bytes`` as a binary frame (as the service does), ``str`` as text.

        Every outgoing frame passes here; it is appended to ``record.sent``
        once sent.

        Raises:
            ConnectionClosed: the connection is closed.
        """
        await self.ws.send(frame)
        self.record.sent.append(frame.encode() if isinstance(frame, str) else frame)
        self._bound(self.record.sent)

    def _bound(self, entries: list[Any]) -> None:
        # A connection that streams audio for hours must not grow without end.
        if self.server.keep_records is not None and len(entries) > MAX_RECORD_MESSAGES:
            del entries[0]
            self.record.dropped_messages += 1

    # -------------------------------------------------------------- setup

    def authorized(self) -> bool:
        """Whether the request carries a credential the server accepts (always true without one).

        A key may come as ``x-goog-api-key``, ``?key=``, ``?access_token=``
        or ``Authorization: Token <key>`` (``Bearer`` is accepted too). The
        server's ``access_token`` (Vertex AI) is accepted the same ways, and so
        is an ephemeral token it minted, while it is valid: a new session
        spends one of its uses, a resumed one none.
        """
        server = self.server
        if server.api_key is None and server.access_token is None and not server.tokens.tokens:
            return True
        expected = [s.encode() for s in (server.api_key, server.access_token) if s is not None]
        setup = self.record.setup
        resuming = bool(setup and setup.session_resumption and setup.session_resumption.handle)
        for value in self.offered_credentials():
            if any(hmac.compare_digest(value.encode(), e) for e in expected):
                return True
            if value.startswith("auth_tokens/") and server.tokens.accepts(value, resuming=resuming):
                return True
        return False

    def offered_credentials(self) -> list[str]:
        """Return the keys or tokens the request carries, wherever they are."""
        request = self.ws.request
        if request is None:
            return []
        return offered_credentials(request.path, request.headers.raw_items())

    async def accept_setup(self, setup: Setup) -> bool:
        """Validate ``setup``, restore a resumed session, then send ``setupComplete``.

        Returns:
            True when the session is active, False when the connection was closed.
        """
        ephemeral = any(c.startswith("auth_tokens/") for c in self.offered_credentials())
        for issue in lint_request(self.record.path, ephemeral=ephemeral):
            if await self.refuse(issue.rule, model=setup.model or ""):
                return False
        known = self.server.known_models
        if known is not None and setup.model not in known:
            await self.refuse("model-not-found", model=setup.model or "")
            return False
        resumption = setup.session_resumption
        if resumption is not None and resumption.handle:
            snapshot = self.server._sessions.get(Handle(resumption.handle))
            if snapshot is None:
                await self.refuse("session-not-found")
                return False
            self.conversation = _Conversation(snapshot)
            self._unanswered = len(self.conversation.turns)
            self.record.resumed_from = Handle(resumption.handle)
        self.setup = setup
        self.tools = tuple(setup.tools or ())
        self.system_instruction = setup.system_instruction
        hc = setup.history_config
        self._seeding = bool(hc is not None and hc.initial_history_in_client_content)
        await self.send(SetupComplete())
        return True

    # ----------------------------------------------------------- dispatch

    async def dispatch(self, message: ClientMessage) -> None:
        """Route one client message to its handler (the first payload, when several).

        Call :meth:`check_rules` first: a second setup and a lenient server's
        other oddities are ignored here.
        """
        if message.setup is not None:
            return
        if message.client_content is not None:
            await self.on_client_content(message.client_content)
        elif message.realtime_input is not None:
            await self.on_realtime_input(message.realtime_input)
        elif message.tool_response is not None:
            await self.on_tool_response(message.tool_response)
        elif message.context_update is not None:
            await self.on_context_update(message.context_update)

    async def on_client_content(self, content: ClientContent) -> None:
        """Interrupt any reply, append the turns; answer when ``turnComplete`` is true."""
        await self.interrupt()
        for turn in content.turns or ():
            self.remember(turn, self.content_tokens(turn))
        if not content.turn_complete:
            return
        if self._seeding:  # historyConfig.initialHistoryInClientContent: seed only
            self._seeding = False
            self._unanswered = len(self.conversation.turns)
            return
        await self.begin_user_turn()

    async def on_realtime_input(self, realtime: RealtimeInput) -> None:
        """Handle streaming input: text turns, audio buffering, activity signals."""
        self._seeding = False
        if realtime.activity_start is not None and self.barge_in:
            await self.interrupt()
        if realtime.audio is not None:
            await self.on_audio(realtime.audio)
        for chunk in realtime.media_chunks or ():  # only a lenient server gets here
            if (chunk.mime_type or "").startswith("audio/"):
                await self.on_audio(chunk)
        if realtime.text is not None:
            await self.begin_user_turn(Content.user_text(realtime.text))
        if realtime.activity_end is not None or realtime.audio_stream_end:
            await self.end_audio_turn()

    async def on_audio(self, blob: Blob) -> None:
        """Buffer an input audio chunk; with VAD on, restart the silence timer.

        A chunk that carries speech interrupts a streaming reply (barge-in),
        unless ``activityHandling`` is ``NO_INTERRUPTION`` or VAD is off.
        """
        data = blob.data or b""
        try:
            rate = parse_pcm_mime(blob.mime_type, default_rate=INPUT_RATE)
        except AudioFormatError:
            rate = INPUT_RATE  # other encodings: assume the documented input rate
        self._audio_seconds += len(data) / (2 * rate)
        if self.vad_enabled and self.barge_in and self.replying and _has_speech(data):
            await self.interrupt()
        if self.vad_enabled:
            if self._vad_timer is not None:
                self._vad_timer.cancel()
            loop = asyncio.get_running_loop()
            self._vad_timer = loop.call_later(
                self.server.vad_silence, lambda: self.spawn(self.end_audio_turn())
            )

    async def end_audio_turn(self) -> None:
        """Answer the buffered audio as one user turn (no-op when nothing is buffered)."""
        if self._vad_timer is not None:
            self._vad_timer.cancel()
            self._vad_timer = None
        seconds, self._audio_seconds = self._audio_seconds, 0.0
        if seconds <= 0:
            return
        text = f"({seconds:.1f} s of audio)"
        await self.begin_user_turn(
            Content.user_text(text),
            tokens={"AUDIO": self.server.model.count_audio_tokens(seconds)},
            input_transcript=text,
        )

    async def on_tool_response(self, response: ToolResponse) -> None:
        """Answer pending calls (:meth:`check_rules` refuses an id that matches none)."""
        answered: list[tuple[FunctionCall, FunctionResponse]] = []
        for fr in response.function_responses or ():
            if fr.id is not None and fr.id in self._cancelled_calls:
                continue  # the client raced our toolCallCancellation: ignore
            call = self.pending_calls.get(fr.id) if fr.id is not None else None
            if call is None:
                continue  # a lenient server ignores it (check_rules refused it otherwise)
            answered.append((call, fr))
        if not answered:
            return
        async with self._turn_lock:
            await self._stop_reply(interrupt=False)
            for call, _ in answered:
                self.pending_calls.pop(call.id or "", None)
            content = Content(
                role="user", parts=tuple(Part(function_response=fr) for _, fr in answered)
            )
            self.remember(content, self.content_tokens(content))
            self._unanswered = len(self.conversation.turns)
            if self.pending_calls:
                return  # wait for the other responses of this tool call
            turn = _Turn(
                kind="tool",
                user_text="",
                history=tuple(self.conversation.turns),
                prompt=self.context_tokens(),
                calls=tuple(answered),
            )
            self._start(turn)

    async def on_context_update(self, update: ContextUpdate) -> None:
        """Replace the system instruction and/or tools for the rest of the session."""
        if update.system_instruction is not None:
            self.system_instruction = update.system_instruction
        if update.tools is not None:
            self.tools = tuple(update.tools.tools or ())

    # -------------------------------------------------------------- turns

    async def begin_user_turn(
        self,
        content: Content | None = None,
        *,
        tokens: Mapping[str, int] | None = None,
        input_transcript: str | None = None,
    ) -> None:
        """Interrupt any reply, append ``content``, and start answering.

        The user's text is that of the last user turn *with words* among the
        turns not answered yet: content-free nudges (``"."``, ``" "``, which
        frameworks send after seeding history) never win. When no unanswered
        turn has words, the last user turn with words in the whole history is
        answered (the pending question of a seeded history). The history
        given to the model is everything before the chosen turn. Pending
        function calls are cancelled.

        Args:
            content: the user turn to append first, if any.
            tokens: its token cost by modality (computed from it when None).
            input_transcript: text to send as ``inputTranscription`` (audio
                turns; only when the setup asked for input transcription).
        """
        async with self._turn_lock:
            await self._stop_reply(interrupt=True)
            await self.cancel_calls()
            turns = self.conversation.turns
            if content is not None:
                self.remember(content, tokens or self.content_tokens(content))
            current = _last_user_words(turns, self._unanswered)
            if current is None:
                current = _last_user_words(turns, 0)
            user_text = turns[current].text if current is not None else ""
            history = tuple(turns[:current] if current is not None else turns)
            self._unanswered = len(turns)
            turn = _Turn(
                kind="user",
                user_text=user_text,
                history=history,
                prompt=self.context_tokens(),
                input_transcript=input_transcript,
            )
            self._start(turn)

    async def cancel_calls(self, ids: Iterable[str] | None = None) -> tuple[str, ...]:
        """Cancel pending function calls and send ``toolCallCancellation`` for them.

        A later response for a cancelled call is ignored, as the service does.

        Args:
            ids: the calls to cancel; None cancels every pending call.

        Returns:
            The ids cancelled (nothing is sent when there are none).
        """
        wanted = tuple(self.pending_calls) if ids is None else tuple(ids)
        cancelled = tuple(i for i in wanted if self.pending_calls.pop(i, None) is not None)
        if cancelled:
            self._cancelled_calls.update(cancelled)
            await self.send(ToolCallCancellation(ids=cancelled))
        return cancelled

    def _start(self, turn: _Turn) -> None:
        self._turn = turn
        self._reply_task = asyncio.create_task(self._run_turn(turn))

    async def interrupt(self) -> bool:
        """Interrupt the reply being streamed, if any, and wait until it has stopped.

        Returns:
            True when a reply was interrupted.
        """
        async with self._turn_lock:
            return await self._stop_reply(interrupt=True)

    async def _stop_reply(self, *, interrupt: bool) -> bool:
        task = self._reply_task
        if task is None or task.done():
            return False
        if interrupt and self._turn is not None:
            self._turn.interrupt.set()
        await asyncio.wait([task])
        return interrupt

    @property
    def replying(self) -> bool:
        """Whether a reply task is running."""
        return self._reply_task is not None and not self._reply_task.done()

    async def _run_turn(self, turn: _Turn) -> None:
        try:
            try:
                await self.produce_turn(turn)
            except _Interrupted:
                await self.finish_interrupted(turn)
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("connection %d: the fake model failed", self.record.index)
            await self.close(1011, INTERNAL_ERROR)

    async def produce_turn(self, turn: _Turn) -> None:
        """Send the whole output of one model turn, in the service's order.

        ``sessionResumptionUpdate {}`` (with resumption on), input
        transcription (audio turns), then either a tool call or the reply
        (text pieces or audio chunks with output transcription),
        ``generationComplete``, ``turnComplete`` with ``usageMetadata`` and
        a new resumption handle.

        Raises:
            _Interrupted: new input interrupted the turn (checked between frames).
        """
        if self.resumable:
            await self.send(SessionResumptionUpdate())
        setup = self.setup
        if (
            turn.input_transcript
            and setup is not None
            and setup.input_audio_transcription is not None
        ):
            for piece in split_text(turn.input_transcript):
                await self.send(ServerContent(input_transcription=Transcription(text=piece)))
        await self.pace(turn, self.server.response_delay, always=True)
        model = self.server.model
        if turn.kind == "tool":
            text = " ".join(
                model.tool_reply(turn.history, call, response) for call, response in turn.calls
            )
        else:
            declarations = self.function_declarations
            decl = model.match_function(declarations, turn.user_text) if declarations else None
            if decl is not None:
                await self.send_tool_call(turn, decl)
                return
            text = model.reply(turn.history, turn.user_text)
        turn.reply_text = text
        if self.text_output:
            await self.stream_text(turn, text)
        else:
            await self.stream_audio(turn, text)
        await self.send(ServerContent(generation_complete=True))
        response_tokens = self._reply_tokens(turn, text)
        self.remember(Content(role="model", parts=(Part(text=text),)), response_tokens)
        await self.send_turn_complete(turn, response_tokens)
        await self.send_resumption_handle()

    async def send_tool_call(self, turn: _Turn, declaration: FunctionDeclaration) -> None:
        """Send a ``toolCall`` for ``declaration`` and end the turn; the call stays pending."""
        model = self.server.model
        call = FunctionCall(
            name=declaration.name,
            args=model.function_args(declaration, turn.user_text),
            id=self.server.new_call_id(),
        )
        self.pending_calls[call.id or ""] = call
        content = Content(role="model", parts=(Part(function_call=call),))
        tokens = self.content_tokens(content)
        self.remember(content, tokens)
        await self.send(ToolCall(function_calls=(call,)))
        await self.send_turn_complete(turn, tokens)
        await self.send_resumption_handle()

    async def stream_text(self, turn: _Turn, text: str) -> None:
        """Send ``text`` as a few ``modelTurn`` text pieces."""
        for piece in split_text(text):
            await self.pace(turn, self.server.chunk_ms / 1000)
            await self.send(ServerContent(model_turn=Content(parts=(Part(text=piece),))))
            turn.spoken_chars += len(piece)

    async def stream_audio(self, turn: _Turn, text: str) -> None:
        """Send ``text`` spoken, as 24 kHz PCM ``inlineData`` chunks of ``chunk_ms``.

        With ``outputAudioTranscription`` configured, transcript pieces follow
        the audio that covers them. In realtime mode, chunks are paced at
        playback speed.
        """
        pcm = self.server.model.speak(text, OUTPUT_RATE)
        step = max(2, OUTPUT_RATE * self.server.chunk_ms // 1000 * 2)
        setup = self.setup
        pieces = split_text(text) if setup and setup.output_audio_transcription else []
        piece_ends: list[int] = []
        for piece in pieces:
            piece_ends.append((piece_ends[-1] if piece_ends else 0) + len(piece))
        next_piece = 0
        mime = pcm_mime(OUTPUT_RATE)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for offset in range(0, len(pcm), step):
            chunk = pcm[offset : offset + step]
            await self.pace(turn, started + turn.audio_seconds - loop.time())
            await self.send(
                ServerContent(
                    model_turn=Content(parts=(Part(inline_data=Blob(mime_type=mime, data=chunk)),))
                )
            )
            sent = offset + len(chunk)
            turn.audio_seconds = sent / (2 * OUTPUT_RATE)
            turn.spoken_chars = len(text) * sent // len(pcm)
            while next_piece < len(pieces) and piece_ends[next_piece] <= turn.spoken_chars:
                await self.send_output_transcription(pieces[next_piece])
                next_piece += 1
        for piece in pieces[next_piece:]:
            await self.send_output_transcription(piece)

    async def send_output_transcription(self, text: str) -> None:
        """Send one ``outputTranscription`` piece."""
        await self.send(ServerContent(output_transcription=Transcription(text=text)))

    async def finish_interrupted(self, turn: _Turn) -> None:
        """Keep what was said so far, then send ``interrupted`` and ``turnComplete``."""
        partial = turn.reply_text[: turn.spoken_chars]
        tokens = self._reply_tokens(turn, partial) if partial else {}
        if partial:
            self.remember(Content(role="model", parts=(Part(text=partial),)), tokens)
        await self.send(ServerContent(interrupted=True))
        await self.send_turn_complete(turn, tokens)
        await self.send_resumption_handle()

    async def send_turn_complete(self, turn: _Turn, response: Mapping[str, int]) -> None:
        """Send the frame ``{"serverContent":{"turnComplete":true},"usageMetadata":{...}}``."""
        prompt_total = sum(turn.prompt.values())
        response_total = sum(response.values())
        details = _details(response) if response else None
        if self.server.vertex:  # Vertex AI's names for the response's share
            usage = UsageMetadata(
                prompt_token_count=prompt_total,
                candidates_token_count=response_total,
                total_token_count=prompt_total + response_total,
                prompt_tokens_details=_details(turn.prompt),
                candidates_tokens_details=details,
            )
        else:
            usage = UsageMetadata(
                prompt_token_count=prompt_total,
                response_token_count=response_total,
                total_token_count=prompt_total + response_total,
                prompt_tokens_details=_details(turn.prompt),
                response_tokens_details=details,
            )
        await self.send(ServerMessage.bundle(ServerContent(turn_complete=True), usage))

    async def send_resumption_handle(self) -> None:
        """With resumption on, store the conversation under a new handle and send it."""
        if not self.resumable:
            return
        handle = self.server.new_handle()
        self.server._keep_session(handle, self.conversation.snapshot())
        self.record.handles.append(handle)
        resumption = self.setup.session_resumption if self.setup is not None else None
        consumed = None
        if resumption is not None and resumption.transparent:
            # Vertex's transparent mode: the index of the last client message the
            # handle covers (setup is 0 on each connection, the next message 1).
            consumed = self.dispatched
        await self.send(
            SessionResumptionUpdate(
                new_handle=handle, resumable=True, last_consumed_client_message_index=consumed
            )
        )

    async def pace(self, turn: _Turn, delay: float, *, always: bool = False) -> None:
        """Wait ``delay`` seconds (in realtime mode, or ``always``), then check for interruption.

        Outside realtime mode this only yields to the event loop, so input
        that is already waiting can interrupt the turn between two frames.

        Raises:
            _Interrupted: the turn was interrupted (now or during the wait).
        """
        if (always or self.server.realtime) and delay > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(turn.interrupt.wait(), delay)
        else:
            await asyncio.sleep(0)
        if turn.interrupt.is_set():
            raise _Interrupted

    # ------------------------------------------------------------- config

    @property
    def resumable(self) -> bool:
        """Whether the setup asked for session resumption."""
        return self.setup is not None and self.setup.session_resumption is not None

    @property
    def text_output(self) -> bool:
        """Whether replies are text (``TEXT`` requested without ``AUDIO``)."""
        modalities = {m.upper() for m in self.setup.response_modalities} if self.setup else set()
        return "TEXT" in modalities and "AUDIO" not in modalities

    @property
    def vad_enabled(self) -> bool:
        """Whether automatic activity detection is on (the default)."""
        return self.setup is None or self.setup.vad_enabled

    @property
    def barge_in(self) -> bool:
        """Whether user activity interrupts the model (``activityHandling``)."""
        ric = self.setup.realtime_input_config if self.setup else None
        return ric is None or ric.activity_handling != "NO_INTERRUPTION"

    @property
    def function_declarations(self) -> list[FunctionDeclaration]:
        """The functions declared by the setup (or the latest contextUpdate)."""
        return [d for tool in self.tools for d in tool.function_declarations or ()]

    # ------------------------------------------------------------- tokens

    def remember(self, content: Content, tokens: Mapping[str, int]) -> None:
        """Append ``content`` to the conversation; it costs ``tokens`` plus the turn overhead."""
        cost = dict(tokens)
        overhead = self.server.model.turn_overhead_tokens
        if overhead:
            cost["TEXT"] = cost.get("TEXT", 0) + overhead
        self.conversation.add(content, cost)

    def content_tokens(self, content: Content) -> dict[str, int]:
        """Return the token cost of a turn by modality (audio blobs count as AUDIO)."""
        model = self.server.model
        out: dict[str, int] = {}
        text_chars = 0
        for part in content.parts or ():
            blob = part.inline_data
            if blob is not None and (blob.mime_type or "").startswith("audio/"):
                try:
                    rate = parse_pcm_mime(blob.mime_type, default_rate=INPUT_RATE)
                except AudioFormatError:
                    rate = INPUT_RATE
                seconds = len(blob.data or b"") / (2 * rate)
                out["AUDIO"] = out.get("AUDIO", 0) + model.count_audio_tokens(seconds)
            elif part.text is not None:
                text_chars += len(part.text)
            else:  # function calls and responses, files: their JSON size
                text_chars += _json_size(part.to_wire())
        if text_chars or not out:
            out["TEXT"] = model.count_text_tokens("x" * text_chars)
        return out

    def context_tokens(self) -> dict[str, int]:
        """Return the size of the context by modality: instructions, tools, conversation."""
        totals = self.conversation.totals()
        fixed = 0
        model = self.server.model
        if self.system_instruction is not None:
            fixed += model.count_text_tokens(self.system_instruction.text)
        if self.tools:
            tools = json.dumps([t.to_wire() for t in self.tools], separators=(",", ":"))
            fixed += model.count_text_tokens(tools)
        if fixed:
            totals["TEXT"] = totals.get("TEXT", 0) + fixed
        return totals

    def _reply_tokens(self, turn: _Turn, text: str) -> dict[str, int]:
        model = self.server.model
        if self.text_output:
            return {"TEXT": model.count_text_tokens(text)}
        seconds = model.speech_ms(text) / 1000 if text == turn.reply_text else turn.audio_seconds
        return {"AUDIO": model.count_audio_tokens(seconds)}


def _json_size(value: object) -> int:
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
            size += len(json.dumps(node))
    return size


def _last_user_words(turns: list[Content], start: int) -> int | None:
    """Return the index of the last user turn from ``start`` on that has words."""
    for i in range(len(turns) - 1, start - 1, -1):
        if turns[i].role == "user" and words(turns[i].text):
            return i
    return None


def _details(tokens: Mapping[str, int]) -> tuple[ModalityTokenCount, ...]:
    order = {"TEXT": 0, "AUDIO": 1}
    return tuple(
        ModalityTokenCount(modality=m, token_count=c)
        for m, c in sorted(tokens.items(), key=lambda kv: (order.get(kv[0], 9), kv[0]))
    )


def _has_speech(pcm: bytes) -> bool:
    usable = len(pcm) & ~1
    if not usable:
        return False
    view = memoryview(pcm)[:usable].cast("h")
    return max(max(view), -min(view)) > _SPEECH_PEAK


# ------------------------------------------------------------------ server


class FakeLiveServer:
    """A fake Live API service on loopback, for offline tests and demos.

    Use it as an async context manager (``async with FakeLiveServer() as
    server:``) or call :meth:`start` and :meth:`close`. Connect clients to
    :attr:`url`. After :meth:`close`, the records stay readable.

    Args:
        host: the interface to listen on.
        port: the TCP port; 0 picks a free one (read it from :attr:`port`).
        ssl_context: serve ``wss://`` with this server-side TLS context.
        api_key: when set, connections must present this key (header
            ``x-goog-api-key``, ``?key=``, ``?access_token=`` or
            ``Authorization: Token``) or be closed 1008 after setup.
        model: the scripted model; a new :class:`FakeModel` by default.
        chunk_ms: duration of each output audio chunk, in milliseconds.
        realtime: pace audio at playback speed (and text pieces every
            ``chunk_ms``) instead of sending as fast as possible.
        vad_silence: with automatic VAD on, seconds without a new audio chunk
            that end an audio turn.
        response_delay: seconds the model "thinks" before its first output
            frame (after the input transcription).
        known_models: when set, a setup naming another model is closed 1008
            "... is not found for API version ...".
        seed: seed for handles and call ids, for reproducible runs.
        connection_class: the :class:`FakeConnection` subclass serving each
            connection (the fault-injection seam); the server mixes
            :class:`~rawlive.testing.faults.FaultyConnection` in front of it.
        faults: faults to inject from the start (see :mod:`rawlive.testing.faults`);
            :attr:`faults` lists them armed, with where each fired.
        keep_records: how many records of *closed* connections
            :attr:`connections` keeps (default 256); older ones are dropped
            and counted in :attr:`dropped_records`, so a long-running server
            stays bounded; the server also keeps only the newest
            ``4 * keep_records`` resumption handles (an older one is refused
            like an expired one). ``None`` keeps every record and handle.
        rules: ``"service"`` (default) closes on what the service refuses,
            with its code and reason: every rule of the outgoing lint
            (:data:`rawlive.protocol.rules.RULES`), including a Live URL on
            API version ``v1``. ``"lenient"`` lets those through, for
            exploratory work. A key is checked only when ``api_key`` is set.
        vertex: speak as Vertex AI: :attr:`url` has the Vertex path, and
            usage metadata says ``candidatesTokenCount`` /
            ``candidatesTokensDetails`` where the Gemini API says
            ``responseTokenCount`` / ``responseTokensDetails``.
        access_token: a Vertex AI access token the server accepts
            (``Authorization: Bearer``), as it accepts ``api_key`` (which, with
            ``vertex``, is Vertex express mode).
        mint_tokens: also listen for ``POST /v1alpha/auth_tokens`` on a port of
            its own (:attr:`token_url`), minting ephemeral tokens that this
            server then accepts while they are valid (see
            :mod:`rawlive.testing.token_endpoint`).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        api_key: str | None = None,
        model: FakeModel | None = None,
        chunk_ms: int = 40,
        realtime: bool = False,
        vad_silence: float = 0.3,
        response_delay: float = 0.0,
        known_models: Iterable[str] | None = None,
        seed: int | None = None,
        connection_class: type[FakeConnection] = FakeConnection,
        faults: Iterable[Fault] = (),
        rules: RuleMode = "service",
        keep_records: int | None = 256,
        vertex: bool = False,
        access_token: str | None = None,
        mint_tokens: bool = False,
    ) -> None:
        if chunk_ms <= 0:
            raise ValueError(f"chunk_ms must be positive, got {chunk_ms}")
        if rules not in RULE_MODES:
            raise ValueError(f"rules must be 'service' or 'lenient', got {rules!r}")
        self.rules: RuleMode = rules
        self.host = host
        self.ssl_context = ssl_context
        self.api_key = api_key
        self.vertex = vertex
        self.access_token = access_token
        self.tokens = TokenRegistry()
        self.token_endpoint = (
            TokenEndpoint(self.tokens, api_key=api_key, host=host) if mint_tokens else None
        )
        self.model = model if model is not None else FakeModel()
        self.chunk_ms = chunk_ms
        self.realtime = realtime
        self.vad_silence = vad_silence
        self.response_delay = response_delay
        self.known_models = frozenset(known_models) if known_models is not None else None
        self.connection_class = connection_class
        self.connections: list[ConnectionRecord] = []
        self.keep_records = keep_records
        self.dropped_records = 0
        self._accepted = 0
        self.open_connections: list[FakeConnection] = []
        self.faults: list[ArmedFault] = []
        for fault in faults:
            self.inject(fault)
        self._requested_port = port
        self._port: int | None = None
        self._server: Server | None = None
        self._sessions: dict[Handle, _Snapshot] = {}
        self._rng = random.Random(seed)
        self._ws_logger = RedactingLogger(
            logging.getLogger("rawlive.testing.websockets"), [api_key or "", access_token or ""]
        )

    # ----------------------------------------------------------- lifecycle

    async def start(self) -> FakeLiveServer:
        """Start listening. After this, :attr:`url` and :attr:`port` are valid.

        Returns:
            The server itself.
        """
        if self._server is not None:
            return self
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            ssl=self.ssl_context,
            compression=None,
            max_size=2**24,
            logger=self._ws_logger,
        )
        self._port = int(self._server.sockets[0].getsockname()[1])
        if self.token_endpoint is not None:
            await self.token_endpoint.start()
        return self

    async def close(self) -> None:
        """Close open connections (code 1001), stop listening and wait for the handlers."""
        server, self._server = self._server, None
        if server is None:
            return
        if self.token_endpoint is not None:
            await self.token_endpoint.close()
        server.close()
        await server.wait_closed()

    async def __aenter__(self) -> FakeLiveServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The TCP port the server listens on.

        Raises:
            RuntimeError: the server has not been started.
        """
        if self._port is None:
            raise RuntimeError("the fake server is not started: call start() first")
        return self._port

    @property
    def url(self) -> str:
        """``ws(s)://HOST:PORT/ws/google.ai.generativelanguage.v1beta...BidiGenerateContent``.

        In Vertex mode, the Vertex AI path (``.../google.cloud.aiplatform.v1beta1.
        LlmBidiService/BidiGenerateContent``). The server answers any path.
        """
        scheme = "wss" if self.ssl_context is not None else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}" + (VERTEX_LIVE_PATH if self.vertex else LIVE_PATH)

    @property
    def base_url(self) -> str:
        """``http(s)://HOST:PORT/``: the ``base_url`` of the official SDKs and of
        ``rawlive.connect(base_url=...)``, which keep the service's path."""
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/"

    @property
    def token_url(self) -> str:
        """``http://HOST:PORT`` of the ``v1alpha/auth_tokens`` listener (``mint_tokens=True``).

        Raises:
            RuntimeError: the server mints no tokens, or is not started.
        """
        if self.token_endpoint is None or not self.token_endpoint.port:
            raise RuntimeError("this fake server mints no tokens: pass mint_tokens=True")
        return self.token_endpoint.base_url

    # ------------------------------------------------------- observability

    @property
    def histories(self) -> dict[str, tuple[Content, ...]]:
        """The conversation each issued resumption handle restores, by handle."""
        return {handle: snap.turns for handle, snap in self._sessions.items()}

    def forget_handle(self, handle: str) -> None:
        """Make ``handle`` unknown, as an expired handle is (resuming then closes 1008)."""
        self._sessions.pop(Handle(handle), None)

    def received_count(self, kind: str) -> int:
        """Count the client messages of ``kind`` received on all connections.

        Args:
            kind: a top-level key (``"clientContent"``, or ``"client_content"``),
                optionally with a field of that payload (``"realtimeInput.audio"``).
        """
        return sum(record.received_count(kind) for record in self.connections)

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no connection is open (their records are then final).

        Raises:
            TimeoutError: connections are still open after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.open_connections:
            if loop.time() > deadline:
                raise TimeoutError(f"{len(self.open_connections)} connections still open")
            await asyncio.sleep(0.005)

    # -------------------------------------------------------------- faults

    async def go_away(self, time_left: str = "50s", *, close_after: float | None = None) -> int:
        """Send ``{"goAway":{"timeLeft":...}}`` to every open session.

        Args:
            time_left: the Duration text to announce.
            close_after: when set, close each of them that many seconds later
                with 1011 "Deadline expired before operation could complete."

        Returns:
            How many connections were told.
        """
        targets = [c for c in self.open_connections if c.setup is not None]
        for connection in targets:
            with contextlib.suppress(ConnectionClosed):
                await connection.go_away(time_left, close_after=close_after)
        return len(targets)

    def inject(self, fault: Fault) -> ArmedFault:
        """Arm ``fault`` on this server, from now on (open connections included).

        Triggers count per connection from its start, so a fault injected
        mid-session with ``on_turn=2`` acts in the second turn of the
        connections that have not reached it yet.

        Returns:
            The armed fault: its ``fired`` list says where it acted.
        """
        from rawlive.testing.faults import ArmedFault

        armed = ArmedFault(fault)
        self.faults.append(armed)
        return armed

    # ------------------------------------------------------------ identity

    def new_handle(self) -> Handle:
        """Return a new opaque resumption handle (base64url, like the service's)."""
        token = "".join(self._rng.choice(_HANDLE_ALPHABET) for _ in range(40))
        raw = b"\n" + bytes([len(token)]) + token.encode()
        return Handle(urlsafe_b64encode(raw).decode().rstrip("="))

    def new_call_id(self) -> str:
        """Return a new function call id (``function-call-<digits>``)."""
        return f"function-call-{self._rng.randrange(10**18, 2**64)}"

    # ------------------------------------------------------------- handler

    async def _handle(self, ws: ServerConnection) -> None:
        from rawlive.testing.faults import with_faults

        record = self._new_record(ws)
        connection = with_faults(self.connection_class)(self, ws, record)
        self.connections.append(record)
        self.open_connections.append(connection)
        try:
            await connection.run()
        finally:
            self.open_connections.remove(connection)
            self._trim_records()

    def _keep_session(self, handle: Handle, snapshot: _Snapshot) -> None:
        # Bounded with the records: the oldest handles expire (resuming one is
        # then refused as an unknown handle, as the service does after expiry).
        self._sessions[handle] = snapshot
        if self.keep_records is not None:
            while len(self._sessions) > 4 * max(self.keep_records, 1):
                del self._sessions[next(iter(self._sessions))]

    def _trim_records(self) -> None:
        if self.keep_records is None:
            return
        open_records = {id(c.record) for c in self.open_connections}
        closed = [r for r in self.connections if id(r) not in open_records]
        excess = len(closed) - self.keep_records
        if excess > 0:
            drop = {id(r) for r in closed[:excess]}
            self.connections = [r for r in self.connections if id(r) not in drop]
            self.dropped_records += excess

    def _new_record(self, ws: ServerConnection) -> ConnectionRecord:
        request = ws.request
        path, query_text = split_target(request.path if request is not None else "/")
        query: dict[str, str] = {}
        pairs: list[str] = []
        for name, value in parse_qsl(query_text, keep_blank_values=True):
            clean = REDACTED if name.lower() in SECRET_QUERY_NAMES else self._scrub(value)
            query[name] = clean
            pairs.append(f"{quote(name, safe='')}={quote(clean, safe='')}")
        headers: dict[str, str] = {}
        if request is not None:
            for name, value in request.headers.raw_items():
                lname = name.lower()
                clean = redact_header(lname, value, self.api_key)
                headers[lname] = f"{headers[lname]}, {clean}" if lname in headers else clean
        target = path + ("?" + "&".join(pairs) if pairs else "")
        return ConnectionRecord(
            index=self._next_index(),
            path=path,
            target=target,
            query=query,
            headers=headers,
        )

    def _next_index(self) -> int:
        self._accepted += 1
        return self._accepted - 1

    def _scrub(self, text: str) -> str:
        return redact(text, self.api_key)


fake_server = FakeLiveServer
"""``async with fake_server(...) as server``: the server is its own async context
manager, so this alias takes the same keyword arguments and yields it started."""
