"""One connection of the fake Live server: read, check the rules, set up, dispatch.

:class:`FakeConnection` serves one WebSocket connection as the service does
(the state machine is drawn in :mod:`rawlive.testing.fake_server`). Its turn
production comes from :class:`~rawlive.testing.turns.TurnProducer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from rawlive.audio.pcm import INPUT_RATE, parse_pcm_mime
from rawlive.closecodes import cut_reason
from rawlive.errors import AudioFormatError, RemoteProtocolError
from rawlive.protocol.codec import decode_client, encode
from rawlive.protocol.lint import lint_message, lint_request
from rawlive.protocol.messages import (
    Blob,
    ClientContent,
    ClientMessage,
    Content,
    ContextUpdate,
    FunctionCall,
    FunctionResponse,
    Handle,
    Part,
    RealtimeInput,
    ServerMessage,
    ServerPayload,
    Setup,
    SetupComplete,
    Tool,
    ToolResponse,
)
from rawlive.protocol.rules import (
    INTERNAL_ERROR,
    RULES,
    live_path_version,
    offered_credentials,
)
from rawlive.testing.records import (
    MAX_RECORD_MESSAGES,
    ConnectionRecord,
    Conversation,
    ReplyTurn,
    has_speech,
)
from rawlive.testing.turns import TurnProducer

if TYPE_CHECKING:
    from rawlive.testing.fake_server import FakeLiveServer

__all__ = ["FakeConnection"]

logger = logging.getLogger("rawlive.testing")

# -------------------------------------------------------------- connection


class FakeConnection(TurnProducer):
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
        self.conversation = Conversation()
        self.pending_calls: dict[str, FunctionCall] = {}
        self._cancelled_calls: set[str] = set()
        self._unanswered = 0  # index of the first turn not answered yet
        self._seeding = False
        self._audio_seconds = 0.0
        self._vad_timer: asyncio.TimerHandle | None = None
        self._turn_lock = asyncio.Lock()
        self._reply_task: asyncio.Task[None] | None = None
        self._turn: ReplyTurn | None = None
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
            self.conversation = Conversation(snapshot)
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
        if self.vad_enabled and self.barge_in and self.replying and has_speech(data):
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
            turn = ReplyTurn(
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
