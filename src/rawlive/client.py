"""The asyncio client: :func:`connect` and :class:`Session`.

A thin layer over the sans-I/O core: frames go through
:mod:`rawlive.protocol.codec`, state through
:class:`~rawlive.protocol.session.SessionState`, and the network through
``websockets``. Errors from websockets are re-raised as rawlive's own.

Usage::

    async with rawlive.connect("gemini-2.0-flash-live-001", response_modalities=["TEXT"]) as s:
        await s.send_text("Hello? Gemini are you there?")
        turn = await s.receive_turn()
        print(turn.text)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.protocol import State

from rawlive import __version__
from rawlive._compat import ws_connect
from rawlive.audio.pcm import INPUT_RATE, pcm_mime
from rawlive.audio.wav import WavWriter, read_wav_chunks
from rawlive.auth import (
    Credentials,
    RedactingLogger,
    check_endpoint,
    live_url,
    normalize_model,
    redact,
    redact_url,
    resolve_credentials,
)
from rawlive.closecodes import explain_close
from rawlive.errors import (
    ConcurrentReadError,
    ConfigurationError,
    ConnectionClosedError,
    HandleRefusedError,
    LiveError,
    LocalProtocolError,
    QueueFullError,
    RemoteProtocolError,
    ResumptionError,
    SetupRejectedError,
    SetupTimeoutError,
    TurnTimeoutError,
)
from rawlive.protocol.codec import decode_client, decode_server, encode
from rawlive.protocol.ledger import Ledger
from rawlive.protocol.lint import check_message, check_request
from rawlive.protocol.messages import (
    AudioTranscriptionConfig,
    Blob,
    ClientContent,
    ClientMessage,
    ClientPayload,
    Content,
    ContextUpdate,
    ContextWindowCompression,
    FunctionCall,
    FunctionResponse,
    GenerationConfig,
    Part,
    RealtimeInput,
    ServerMessage,
    SessionResumptionConfig,
    SetupComplete,
    SlidingWindow,
    SpeechConfig,
    Tool,
    ToolResponse,
    ToolsUpdate,
)
from rawlive.protocol.messages import Setup as SetupMessage
from rawlive.protocol.session import SessionState, Turn, TurnAssembler, UsageTotals
from rawlive.resilience import Reconnected, ReconnectPolicy

if TYPE_CHECKING:
    import ssl

__all__ = [
    "FrameObserver",
    "ReconnectPolicy",
    "Reconnected",
    "Session",
    "ToolHandler",
    "Turn",
    "connect",
]

logger = logging.getLogger("rawlive")

DEFAULT_OPEN_TIMEOUT = 10.0
DEFAULT_PING_INTERVAL = 20.0
# The service's pongs have been seen to take 8 to 30 s; websockets' 20 s default
# gives false "keepalive ping timeout" closes.
DEFAULT_PING_TIMEOUT = 60.0
DEFAULT_MAX_SIZE = 64 * 1024 * 1024

ToolHandler = Callable[[FunctionCall], "Awaitable[Mapping[str, Any]] | Mapping[str, Any]"]
"""Answers one function call with the ``response`` object (``{"output": ...}``)."""


class FrameObserver(Protocol):
    """Sees every frame and connection event (the recorder and ``--frames`` use it)."""

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None: ...

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None: ...

    def on_close(
        self, conn: int, code: int, reason: str, by: str | None, dropped: bool
    ) -> None: ...


def build_setup(
    model: str | None,
    *,
    setup: SetupMessage | Mapping[str, Any] | None = None,
    response_modalities: Sequence[str] | None = None,
    system_instruction: str | Content | None = None,
    voice: str | None = None,
    tools: Sequence[Tool | Mapping[str, Any]] | None = None,
    session_resumption: bool | str | None = None,
    input_audio_transcription: bool = False,
    output_audio_transcription: bool = False,
    context_window_compression: bool | int | ContextWindowCompression | None = None,
    generation_config: GenerationConfig | None = None,
    extra_setup: Mapping[str, Any] | None = None,
) -> SetupMessage:
    """Return the setup message for the given options.

    Keyword options override the same fields of ``setup``; ``extra_setup`` is a
    raw dict merged last at the top level of the setup object (the escape hatch
    for fields newer than this library).
    """
    if setup is None:
        base = SetupMessage()
    elif isinstance(setup, SetupMessage):
        base = setup
    else:
        try:
            base = decode_client(encode_raw({"setup": dict(setup)})).setup or SetupMessage()
        except RemoteProtocolError as exc:
            raise ConfigurationError(f"invalid setup mapping: {exc}") from exc
    changes: dict[str, Any] = {}
    chosen_model = model or base.model
    if not chosen_model:
        raise ConfigurationError("a model is required (e.g. 'gemini-2.0-flash-live-001')")
    changes["model"] = normalize_model(chosen_model)
    gc = generation_config or base.generation_config or GenerationConfig()
    gc_changes: dict[str, Any] = {}
    if response_modalities is not None:
        gc_changes["response_modalities"] = tuple(m.upper() for m in response_modalities)
    if voice is not None:
        gc_changes["speech_config"] = SpeechConfig.voice(voice)
    if gc_changes or generation_config is not None:
        changes["generation_config"] = _replace(gc, gc_changes)
    if system_instruction is not None:
        changes["system_instruction"] = (
            Content(parts=(Part(text=system_instruction),))
            if isinstance(system_instruction, str)
            else system_instruction
        )
    if tools is not None:
        changes["tools"] = tuple(tools)  # mappings pass through as raw wire dicts
    if session_resumption is True:
        changes["session_resumption"] = SessionResumptionConfig()
    elif isinstance(session_resumption, str):
        changes["session_resumption"] = SessionResumptionConfig(handle=session_resumption)
    if input_audio_transcription:
        changes["input_audio_transcription"] = AudioTranscriptionConfig()
    if output_audio_transcription:
        changes["output_audio_transcription"] = AudioTranscriptionConfig()
    if context_window_compression is True:
        changes["context_window_compression"] = ContextWindowCompression(
            sliding_window=SlidingWindow()
        )
    elif isinstance(context_window_compression, int) and context_window_compression:
        changes["context_window_compression"] = ContextWindowCompression(
            trigger_tokens=context_window_compression, sliding_window=SlidingWindow()
        )
    elif isinstance(context_window_compression, ContextWindowCompression):
        changes["context_window_compression"] = context_window_compression
    result: SetupMessage = _replace(base, changes)
    if extra_setup:
        merged = {**dict(result.extra), **dict(extra_setup)}
        result = _replace(result, {"extra": merged})
    return result


def _replace(obj: Any, changes: Mapping[str, Any]) -> Any:
    import dataclasses

    return dataclasses.replace(obj, **changes) if changes else obj


def encode_raw(value: Mapping[str, Any]) -> bytes:
    """Encode a raw JSON mapping (used for the dict escape hatch)."""
    import orjson

    return orjson.dumps(value)


class Session:
    """One Live conversation over one WebSocket connection.

    Obtain it from :func:`connect`. Only one task may read at a time (iterating,
    :meth:`receive` or :meth:`receive_turn`); a second concurrent reader gets
    :class:`~rawlive.errors.ConcurrentReadError`. Sending is safe from any task.

    Attributes:
        setup: the setup message this session sent.
        setup_complete: the server's ``setupComplete``.
        state: the protocol state (handle, goAway, usage, pending calls).
    """

    def __init__(
        self,
        ws: ClientConnection,
        *,
        setup: SetupMessage,
        endpoint: str,
        secrets: tuple[str, ...] = (),
        tool_handler: ToolHandler | None = None,
        observers: Sequence[FrameObserver] = (),
        conn: int = 1,
        lint: bool = True,
        reconnect: ReconnectPolicy | None = None,
        dial: Callable[[], Awaitable[ClientConnection]] | None = None,
        setup_timeout: float | None = DEFAULT_OPEN_TIMEOUT,
    ) -> None:
        self._ws = ws
        self._lint = lint
        self._policy = reconnect
        self._dial = dial
        self._setup_timeout = setup_timeout
        self._ledger = Ledger()
        self._outbox: list[tuple[ClientMessage, bytes]] = []
        self._reconnecting = False
        self._reconnect_task: asyncio.Task[Reconnected] | None = None
        self._handover_task: asyncio.Task[None] | None = None
        self._turn_open = False
        self._turn_handle_pending = False
        self._early: list[ServerMessage] = []
        self._background: set[asyncio.Task[None]] = set()
        self.reconnects: list[Reconnected] = []
        self.setup = setup
        self.endpoint = endpoint
        self._secrets = secrets
        self._tool_handler = tool_handler
        self._observers = list(observers)
        self._conn = conn
        self.state = SessionState()
        self.setup_complete: SetupComplete | None = None
        self._reading = False
        self._closed_error: ConnectionClosedError | None = None
        self._closed_by_us = False
        self._send_lock = asyncio.Lock()
        self._go_away_at: float | None = None
        self._buffer: collections.deque[ServerMessage | Reconnected] = collections.deque()

    def __repr__(self) -> str:
        return (
            f"<Session model={self.setup.model!r} endpoint={self.endpoint!r} "
            f"state={self.state.state.value} handle={'yes' if self.handle else 'no'}>"
        )

    # ------------------------------------------------------------ properties

    @property
    def handle(self) -> str | None:
        """The latest resumable handle (only updates marked resumable count)."""
        return self.state.handle

    @property
    def usage(self) -> UsageTotals:
        """Token usage totals over the turns so far."""
        return self.state.usage

    @property
    def go_away_time_left(self) -> float | None:
        """Seconds left before the server closes, from the last goAway (None if none)."""
        if self._go_away_at is None:
            return None
        return max(0.0, self._go_away_at - time.monotonic())

    @property
    def closed(self) -> bool:
        """Whether the connection is closed."""
        return self._closed_error is not None or self._closed_by_us

    # --------------------------------------------------------------- sending

    async def send(self, message: ClientPayload | ClientMessage | Mapping[str, Any]) -> None:
        """Send one client message.

        Args:
            message: a payload (``ClientContent(...)``), an envelope, or a raw
                mapping in wire form (``{"realtimeInput": {...}}``) for fields
                newer than this library.

        Raises:
            ConnectionClosedError: the connection is closed.
            LocalProtocolError: the message is not allowed now (e.g. a second setup).
        """
        if isinstance(message, Mapping):
            data = encode_raw(message)
            envelope = decode_client(data)
        else:
            envelope = (
                message if isinstance(message, ClientMessage) else ClientMessage.wrap(message)
            )
            data = encode(envelope)
        await self._send_frame(envelope, data)

    async def _send_frame(self, envelope: ClientMessage, data: bytes) -> None:
        if self._closed_error is not None:
            raise self._closed_error
        if self._closed_by_us:
            raise LocalProtocolError("the session is closed")
        if self._lint:
            check_message(envelope, setup=self.state.setup, pending_calls=self.state.pending_calls)
        if self._policy is not None and self._reconnecting and envelope.setup is None:
            if len(self._outbox) >= self._policy.queue_limit:
                raise QueueFullError(
                    f"{len(self._outbox)} messages are already queued while reconnecting "
                    f"(queue_limit={self._policy.queue_limit}); slow down or raise the limit"
                )
            self._outbox.append((envelope, data))
            return
        self.state.on_send(envelope)
        if self._policy is not None and envelope.setup is None:
            self._ledger.record(envelope, data)
        ws = self._ws
        try:
            await self._write(ws, data)
        except ConnectionClosed as exc:
            if self._policy is None or ws is not self._ws:
                if ws is self._ws:
                    raise self._finish(self._close_error(exc)) from exc
                return  # swapped meanwhile: the ledger re-sends it
            error = self._close_error(exc)
            if not (error.retryable or self._handing_over):
                raise self._finish(error) from exc
            # The message stays in the ledger and goes out after the reconnect,
            # which the reader (or this task, when nobody reads) drives.
            self._start_reconnect(error)

    async def _write(self, ws: ClientConnection, data: bytes) -> None:
        text = data.decode("utf-8")
        conn = self._conn
        for observer in self._observers:
            observer.on_frame(conn, "client", text)
        async with self._send_lock:
            await ws.send(text)

    async def send_text(self, text: str, *, turn_complete: bool = True) -> None:
        """Send a user text turn as ``clientContent`` (the seed's flow)."""
        await self.send(
            ClientContent(turns=(Content.user_text(text),), turn_complete=turn_complete)
        )

    async def send_client_content(
        self, turns: Iterable[Content] | Content | None = None, *, turn_complete: bool = True
    ) -> None:
        """Send ``clientContent`` with the given turns (e.g. history seeding)."""
        if isinstance(turns, Content):
            turns = (turns,)
        await self.send(
            ClientContent(
                turns=tuple(turns) if turns is not None else None, turn_complete=turn_complete
            )
        )

    async def send_realtime_text(self, text: str) -> None:
        """Send ``realtimeInput.text`` (what 3.x models expect mid-session)."""
        await self.send(RealtimeInput(text=text))

    async def send_audio(self, pcm: bytes, *, rate: int = INPUT_RATE) -> None:
        """Send one chunk of 16-bit mono PCM as ``realtimeInput.audio``."""
        await self.send(RealtimeInput(audio=Blob(mime_type=pcm_mime(rate), data=pcm)))

    async def send_video(self, frame: bytes, *, mime_type: str = "image/jpeg") -> None:
        """Send one video frame (an encoded image) as ``realtimeInput.video``."""
        await self.send(RealtimeInput(video=Blob(mime_type=mime_type, data=frame)))

    async def send_activity_start(self) -> None:
        """Mark the start of user activity (only with automatic VAD disabled)."""
        await self.send(RealtimeInput(activity_start={}))

    async def send_activity_end(self) -> None:
        """Mark the end of user activity (only with automatic VAD disabled)."""
        await self.send(RealtimeInput(activity_end={}))

    async def send_audio_stream_end(self) -> None:
        """Say the microphone closed (automatic VAD on; Gemini API only)."""
        await self.send(RealtimeInput(audio_stream_end=True))

    async def send_tool_response(
        self, responses: FunctionResponse | Sequence[FunctionResponse]
    ) -> None:
        """Answer function calls; each response must carry its call's ``id``."""
        if isinstance(responses, FunctionResponse):
            responses = (responses,)
        await self.send(ToolResponse(function_responses=tuple(responses)))

    async def send_context_update(
        self,
        *,
        system_instruction: str | Content | None = None,
        tools: Sequence[Tool] | None = None,
    ) -> None:
        """Replace the system instruction and/or tools mid-session (newer models)."""
        si = (
            Content(parts=(Part(text=system_instruction),))
            if isinstance(system_instruction, str)
            else system_instruction
        )
        await self.send(
            ContextUpdate(
                system_instruction=si,
                tools=ToolsUpdate(tools=tuple(tools)) if tools is not None else None,
            )
        )

    async def stream_wav(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_ms: float = 100,
        realtime: bool = False,
        end: bool = True,
    ) -> float:
        """Send a 16-bit mono WAV file as realtime audio; return its duration.

        Args:
            chunk_ms: chunk duration (ADK recommends 50 to 100 ms).
            realtime: sleep between chunks to pace the audio at real time.
            end: send ``audioStreamEnd`` afterwards, or ``activityEnd`` when
                automatic VAD is disabled (after an ``activityStart`` first).
        """
        manual = not self.setup.vad_enabled
        if manual:
            await self.send_activity_start()
        total = 0.0
        for chunk in read_wav_chunks(path, chunk_ms=chunk_ms):
            await self.send(RealtimeInput(audio=Blob(mime_type=chunk.mime_type, data=chunk.data)))
            total += chunk.duration
            if realtime:
                await asyncio.sleep(chunk.duration)
        if end:
            if manual:
                await self.send_activity_end()
            else:
                await self.send_audio_stream_end()
        return total

    # ------------------------------------------------------------- receiving

    @property
    def _buffer_full(self) -> bool:
        return len(self._buffer) >= 10_000

    @property
    def _handing_over(self) -> bool:
        return self._reconnecting or self._handover_task is not None

    def _close_error(
        self, exc: ConnectionClosed, *, during_setup: bool = False
    ) -> ConnectionClosedError:
        """Build the error for a close (no side effects)."""
        rcvd, sent = exc.rcvd, exc.sent
        if rcvd is not None:
            code, reason, by = rcvd.code, rcvd.reason, "server"
        elif sent is not None:
            code, reason, by = sent.code, sent.reason, "client"
        else:
            code, reason, by = 1006, "", None
        dropped = by is None
        reason = redact(reason, *self._secrets)
        info = explain_close(code, reason)
        who = {"server": "the server", "client": "the client", None: "nobody"}[by]
        if dropped:
            text = "connection dropped with no close frame (1006)"
        else:
            shown = f"{reason!r}" + (" (cut at 123 bytes)" if info.truncated else "")
            text = f"connection closed by {who} with {code} {shown}"
        error_class: type[ConnectionClosedError] = ConnectionClosedError
        if during_setup or self.setup_complete is None:
            error_class = SetupRejectedError
            if code == 1008 and "session not found" in reason.lower():
                error_class = HandleRefusedError
        error = error_class(
            f"{text}: {info.title}: {info.meaning}",
            code=code,
            reason=reason,
            explanation=info.meaning,
            retryable=info.retryable,
            truncated=info.truncated,
            by_server=None if dropped else by == "server",
            dropped=dropped,
        )
        return error

    def _finish(self, error: ConnectionClosedError) -> ConnectionClosedError:
        """The session is over: remember why and tell the observers once."""
        if self._closed_error is None:
            self._closed_error = error
            self.state.on_close()
            by = None if error.by_server is None else ("server" if error.by_server else "client")
            dropped = bool(error.dropped)
            for observer in self._observers:
                observer.on_close(self._conn, error.code, error.reason, by, dropped)
            self._cancel_background()
        return self._closed_error

    def _cancel_background(self) -> None:
        for task in (self._handover_task, self._reconnect_task):
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()

    async def _recv_frame(self) -> ServerMessage | Reconnected:
        while True:
            if self._buffer:
                return self._buffer.popleft()
            ws = self._ws
            try:
                data = await ws.recv()
            except ConnectionClosed as exc:
                if ws is not self._ws:
                    continue  # a handover swapped the connection: read the new one
                error = self._close_error(exc)
                if self._policy is None or self._closed_by_us:
                    raise self._finish(error) from exc
                if not (error.retryable or self._handing_over):
                    raise self._finish(error) from exc
                self._observe_close(self._conn, error)
                try:
                    await asyncio.shield(self._start_reconnect(error))
                except LiveError as failure:
                    if isinstance(failure, ConnectionClosedError):
                        raise self._finish(failure) from exc
                    self._finish(error)
                    raise
                continue  # the Reconnected event is now in the buffer
            return self._accept_frame(data)

    async def _read_wire(self, ws: ClientConnection) -> ServerMessage:
        """Read and accept one frame of ``ws`` (no reconnect handling)."""
        return self._accept_frame(await ws.recv())

    def _accept_frame(self, data: str | bytes) -> ServerMessage:
        """Observe, decode and account for one received frame."""
        for observer in self._observers:
            observer.on_frame(self._conn, "server", data)
        message = decode_server(data)
        self._on_server_message(message)
        return message

    def _observe_close(self, conn: int, error: ConnectionClosedError) -> None:
        by = None if error.by_server is None else ("server" if error.by_server else "client")
        dropped = bool(error.dropped)
        for observer in self._observers:
            observer.on_close(conn, error.code, error.reason, by, dropped)

    def _on_server_message(self, message: ServerMessage) -> None:
        self.state.on_receive(message)
        sc = message.server_content
        if sc is not None:
            if sc.model_turn is not None or sc.output_transcription is not None:
                self._turn_open = True
            if sc.turn_complete:
                self._turn_open = False
                self._turn_handle_pending = True
                self._ledger.mark_turn_end()
        sru = message.session_resumption_update
        if sru is not None and sru.resumable and sru.new_handle:
            self._turn_handle_pending = False
            self._ledger.on_resumable_handle(sru.last_consumed_client_message_index)
        if message.go_away is not None:
            left = message.go_away.time_left_seconds
            if left is not None:
                self._go_away_at = time.monotonic() + left
                if self._policy is not None:
                    if self._handover_task is not None:
                        self._handover_task.cancel()  # a newer goAway supersedes it
                    self._handover_task = asyncio.ensure_future(self._handover(self._ws, left))

    # ----------------------------------------------------------- reconnecting

    def _start_reconnect(self, cause: ConnectionClosedError | None) -> asyncio.Task[Reconnected]:
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.ensure_future(self._reconnect(cause))
        return self._reconnect_task

    async def _handover(self, ws: ClientConnection, time_left: float) -> None:
        """After a goAway on ``ws``: move to a new connection before the deadline."""
        try:
            await self._handover_steps(ws, time_left)
        finally:
            if self._handover_task is asyncio.current_task():
                self._handover_task = None

    async def _handover_steps(self, ws: ClientConnection, time_left: float) -> None:
        policy = self._policy
        assert policy is not None
        # Never wait for an idle moment past this point (scaled for short goAways).
        deadline = time.monotonic() + time_left - min(policy.min_margin, time_left / 10)
        await asyncio.sleep(policy.handover_delay(time_left))
        # Wait for an idle moment (the turn finished, tool calls answered) while
        # there is time: a handover mid-turn cuts the model off mid-sentence.
        # The handle for a finished turn arrives just after turnComplete: wait for
        # it too, or the turn's input would be sent again and answered twice.
        while (
            self._ws is ws
            and time.monotonic() < deadline
            and (
                self._turn_open
                or self._ledger.awaiting_handle
                or (policy.wait_for_tool_calls and self.state.pending_calls)
            )
        ):
            if self._reading or self._buffer_full:
                await asyncio.sleep(0.02)
                continue
            # Nobody is reading: read for the user, into the buffer they drain next.
            with self._reader():
                try:
                    message = await asyncio.wait_for(
                        self._read_wire(ws), max(0.01, deadline - time.monotonic())
                    )
                except (asyncio.TimeoutError, ConnectionClosed, LiveError):
                    break
            self._buffer.append(message)
        if self.closed or self._ws is not ws:
            return  # closed, or already moved on (a drop or close came first)
        with contextlib.suppress(LiveError):  # the reader sees a failure when it next reads
            await asyncio.shield(self._start_reconnect(None))

    async def _reconnect(self, cause: ConnectionClosedError | None) -> Reconnected:
        """Open a new connection with the latest handle and continue the session.

        Raises:
            ResumptionError: there is no handle, or the service refused it.
            ConnectionClosedError: a close a retry cannot help, or the attempts
                or the time budget ran out.
        """
        policy = self._policy
        assert policy is not None
        self._reconnecting = True
        old_ws, old_conn = self._ws, self._conn
        try:
            handle = self.state.handle
            if handle is None:
                raise ResumptionError(
                    "cannot reconnect: the service has not sent a resumable handle yet"
                    + (f" (the connection ended: {cause})" if cause is not None else "")
                )
            started = time.monotonic()
            attempts = 0
            last_error: LiveError | None = cause
            ws: ClientConnection | None = None
            for delay in policy.delays():
                if attempts >= policy.max_attempts or (
                    attempts and time.monotonic() - started + delay > policy.budget
                ):
                    break
                await asyncio.sleep(delay)
                attempts += 1
                try:
                    ws = await self._open_resumed(handle, old_conn + attempts)
                    break
                except HandleRefusedError:
                    raise
                except ConnectionClosedError as exc:
                    if not exc.retryable:
                        raise
                    last_error = exc
                except SetupTimeoutError as exc:
                    last_error = exc
            if ws is None:
                raise ConnectionClosedError(
                    f"gave up reconnecting after {attempts} attempts in "
                    f"{time.monotonic() - started:.1f} s: {last_error}",
                    code=getattr(last_error, "code", 1006),
                    reason=getattr(last_error, "reason", ""),
                    explanation="the service could not be reached again within the budget",
                    retryable=False,
                )
            new_conn = old_conn + attempts
            self._ws, self._conn = ws, new_conn
            for message in self._early:
                self._on_server_message(message)
                self._buffer.append(message)
            self._early = []
            if old_ws.state is not State.CLOSED:
                closing = asyncio.ensure_future(self._close_quietly(old_ws, old_conn))
                self._background.add(closing)
                closing.add_done_callback(self._background.discard)
            # Re-send what the service had not consumed, then what was queued.
            self._ledger.new_connection()
            resent = self._ledger.take_unconsumed()
            queued, self._outbox = self._outbox, []
            for entry in resent:
                self.state.on_send(entry.message)
                self._ledger.record(entry.message, entry.frame)
                await self._write(ws, entry.frame)
            for envelope, frame in queued:
                self.state.on_send(envelope)
                self._ledger.record(envelope, frame)
                await self._write(ws, frame)
            if cause is None:
                kind, code, reason = "goAway", None, ""
            else:
                kind = "drop" if cause.dropped else "close"
                code, reason = cause.code, cause.reason
            event = Reconnected(
                cause=kind,
                code=code,
                reason=reason,
                connection=new_conn,
                attempts=attempts,
                resent=len(resent),
                queued=len(queued),
                handle=handle,
            )
            self.reconnects.append(event)
            self._buffer.append(event)  # the reader yields it in the message stream
            self._go_away_at = None
            logger.info("reconnected: %s", event)
            return event
        finally:
            self._reconnecting = False

    async def _close_quietly(self, ws: ClientConnection, conn: int) -> None:
        with contextlib.suppress(Exception):
            await ws.close(1000, "handover to a new connection")
        for observer in self._observers:
            observer.on_close(conn, 1000, "handover to a new connection", "client", False)

    async def _open_resumed(self, handle: str, conn: int) -> ClientConnection:
        """Dial, send the setup with ``handle``, wait for setupComplete; return the socket."""
        assert self._dial is not None
        ws = await self._dial()
        for observer in self._observers:
            observer.on_open(conn, self.endpoint, self.setup.model)
        resumption = self.setup.session_resumption or SessionResumptionConfig()
        setup = dataclasses.replace(
            self.setup, session_resumption=dataclasses.replace(resumption, handle=handle)
        )
        envelope = ClientMessage(setup=setup)
        try:
            complete = await self._handshake_on(ws, envelope, conn)
        except BaseException:
            with contextlib.suppress(Exception):
                await ws.close()
            raise
        self.state.reset_connection()
        self.state.on_send(envelope)
        self.state.on_receive(complete)
        self.setup_complete = complete.setup_complete
        return ws

    async def _handshake_on(
        self, ws: ClientConnection, envelope: ClientMessage, conn: int
    ) -> ServerMessage:
        """Send ``envelope`` (a setup) on ``ws`` and return the setupComplete frame.

        Frames that arrive before setupComplete are kept in the read buffer.
        """
        data = encode(envelope).decode("utf-8")
        for observer in self._observers:
            observer.on_frame(conn, "client", data)
        early: list[ServerMessage] = []

        async def wait() -> ServerMessage:
            await ws.send(data)
            while True:
                try:
                    frame = await ws.recv()
                except ConnectionClosed as exc:
                    error = self._close_error(exc, during_setup=True)
                    self._observe_close(conn, error)
                    raise error from exc
                for observer in self._observers:
                    observer.on_frame(conn, "server", frame)
                message = decode_server(frame)
                if message.setup_complete is not None:
                    return message
                logger.debug("%s arrived before setupComplete", message.kinds)
                early.append(message)

        try:
            complete = await asyncio.wait_for(wait(), self._setup_timeout)
        except asyncio.TimeoutError:
            raise SetupTimeoutError(
                f"no setupComplete within {self._setup_timeout} s after sending setup "
                f"for {self.setup.model}"
            ) from None
        self._early = early
        return complete

    async def receive(self) -> ServerMessage | Reconnected:
        """Return the next server message (or a :class:`Reconnected` event when a
        reconnect policy moved the session to a new connection).

        Raises:
            ConnectionClosedError: the connection closed (code, reason and
                explanation attached).
            RemoteProtocolError: the server sent an undecodable frame.
            ConcurrentReadError: another task is reading.
        """
        with self._reader():
            return await self._receive_one()

    async def wait_for_handle(self, timeout: float = 5.0) -> str | None:
        """Wait for the resumable handle of the last completed turn; return the latest handle.

        The service sends the handle for a turn just after ``turnComplete`` (or
        bundled with it), so call this after :meth:`receive_turn` when you want
        to store it. It returns at once when that handle already arrived.
        Messages read meanwhile are not lost: the next reads return them first.
        Returns the current handle (possibly None) when none arrives in time.
        """
        with self._reader():
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while self._turn_handle_pending or self.state.handle is None:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    message = await asyncio.wait_for(self._recv_frame(), left)
                except asyncio.TimeoutError:
                    break
                self._buffer.append(message)
            return self.state.handle

    async def _receive_one(self) -> ServerMessage | Reconnected:
        message = await self._recv_frame()
        if isinstance(message, Reconnected):
            return message
        if message.tool_call is not None and self._tool_handler is not None:
            await self._answer_tool_calls(message.tool_call.function_calls or ())
        return message

    @contextlib.contextmanager
    def _reader(self) -> Any:
        if self._reading:
            raise ConcurrentReadError(
                "another task is already reading this session; use one reader and fan out"
            )
        self._reading = True
        try:
            yield
        finally:
            self._reading = False

    def __aiter__(self) -> AsyncIterator[ServerMessage | Reconnected]:
        return _MessageIterator(self)

    async def receive_turn(
        self,
        *,
        wav: WavWriter | str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        keep_messages: bool | None = None,
    ) -> Turn:
        """Receive messages until ``turnComplete`` and return them as a :class:`Turn`.

        Args:
            wav: stream the audio into this WAV writer or new file (constant
                memory; ``Turn.audio`` is then empty). A path is opened at the
                first audio chunk's sample rate and closed at the end of the turn
                (also when the connection closes mid-turn: the partial file is
                still valid).
            timeout: seconds to wait for the whole turn.
            keep_messages: keep every decoded message in ``Turn.messages``.
                Default: yes, except when ``wav`` is given, since the messages
                hold the audio and would undo the constant memory of a WAV.

        Raises:
            ConnectionClosedError: the connection closed before ``turnComplete``;
                ``exc.partial_turn`` holds what arrived.
            TurnTimeoutError: the turn did not complete in ``timeout`` seconds
                (a ``TimeoutError`` on every Python version); ``exc.partial_turn``
                holds what arrived.
        """
        keep = wav is None if keep_messages is None else keep_messages
        with self._reader():
            return await self._receive_turn(wav, keep, timeout)

    async def _receive_turn(
        self,
        wav: WavWriter | str | os.PathLike[str] | None,
        keep_messages: bool,
        timeout: float | None,
    ) -> Turn:
        writer: WavWriter | None = wav if isinstance(wav, WavWriter) else None
        own_writer = wav is not None and writer is None

        def sink(pcm: bytes) -> None:
            nonlocal writer
            if writer is None:
                assert wav is not None and not isinstance(wav, WavWriter)
                writer = WavWriter(wav, rate=assembler_rate[0])
            writer.write(pcm)

        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        assembler_rate = [24000]
        assembler = TurnAssembler(
            audio_sink=sink if wav is not None else None, keep_messages=keep_messages
        )
        try:
            while True:
                try:
                    if deadline is None:
                        message = await self._recv_frame()
                    else:
                        message = await asyncio.wait_for(
                            self._recv_frame(), max(0.0, deadline - loop.time())
                        )
                except ConnectionClosedError as exc:
                    exc.partial_turn = assembler.build()
                    raise
                except asyncio.TimeoutError:
                    raise TurnTimeoutError(
                        f"the turn did not complete within {timeout} s",
                        partial_turn=assembler.build(),
                    ) from None
                if isinstance(message, Reconnected):
                    continue  # the turn (and its WAV) continues on the new connection
                if message.tool_call is not None and self._tool_handler is not None:
                    await self._answer_tool_calls(message.tool_call.function_calls or ())
                if wav is not None and writer is None:
                    for blob in message.audio_chunks():
                        from rawlive.audio.pcm import parse_pcm_mime

                        assembler_rate[0] = parse_pcm_mime(blob.mime_type)
                        break
                if assembler.feed(message):
                    return assembler.build()
        finally:
            if own_writer and writer is not None:
                writer.close()
            elif own_writer and writer is None:
                # No audio arrived: still leave a valid (empty) file behind.
                WavWriter(wav, rate=assembler_rate[0]).close()  # type: ignore[arg-type]

    async def _answer_tool_calls(self, calls: Sequence[FunctionCall]) -> None:
        handler = self._tool_handler
        assert handler is not None
        responses = []
        for call in calls:
            try:
                result = handler(call)
                if inspect.isawaitable(result):
                    result = await result
                response = dict(result)
            except Exception as exc:  # the model gets the error, the session goes on
                logger.warning("tool handler for %s failed: %r", call.name, exc)
                response = {"error": f"{type(exc).__name__}: {exc}"}
            responses.append(FunctionResponse(id=call.id, name=call.name, response=response))
        if responses:
            await self.send_tool_response(responses)

    # --------------------------------------------------------------- closing

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent)."""
        if self._closed_by_us or self._closed_error is not None:
            return
        self._closed_by_us = True
        self._cancel_background()
        await self._ws.close(code, reason)
        self.state.on_close()
        for observer in self._observers:
            observer.on_close(self._conn, code, reason, "client", False)

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---------------------------------------------------------------- setup

    async def _handshake(self) -> None:
        envelope = ClientMessage(setup=self.setup)
        if self._lint:
            check_message(envelope, setup=None)
        try:
            complete = await self._handshake_on(self._ws, envelope, self._conn)
        except SetupTimeoutError:
            with contextlib.suppress(Exception):
                await self._ws.close(1000, "setup timeout")
            raise
        self.state.on_send(envelope)
        self.setup_complete = complete.setup_complete
        self.state.on_receive(complete)
        for message in self._early:
            self._on_server_message(message)
            self._buffer.append(message)
        self._early = []


class _MessageIterator:
    """``async for message in session``: every message, across turns and reconnects.

    The reader slot is taken per message, not for the whole loop, so breaking
    out of the loop frees it at once (an async generator would hold it until
    it is garbage-collected). Iteration ends when the session is closed by
    this client; any other close raises :class:`ConnectionClosedError`.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def __aiter__(self) -> _MessageIterator:
        return self

    async def __anext__(self) -> ServerMessage | Reconnected:
        session = self._session
        if session._closed_by_us:
            raise StopAsyncIteration
        with session._reader():
            try:
                return await session._receive_one()
            except ConnectionClosedError as exc:
                if session._closed_by_us or (exc.code == 1000 and exc.by_server is False):
                    raise StopAsyncIteration from None
                raise


class connect:
    """Open a Live session: connect, send ``setup``, wait for ``setupComplete``.

    ``async with connect(model, ...) as session:`` yields a :class:`Session`
    and closes it on exit. ``session = await connect(...)`` also works; then
    call ``await session.close()`` yourself.

    Args:
        model: the model id (``models/`` is added when missing; full Vertex
            resource names are kept as given).
        setup: a :class:`~rawlive.Setup` or a raw setup mapping to start from.
        response_modalities, system_instruction, voice, tools,
        session_resumption, input_audio_transcription,
        output_audio_transcription, context_window_compression,
        generation_config: setup fields (see :func:`build_setup`).
            ``session_resumption=True`` asks for handles; a string resumes.
        extra_setup: raw fields merged into the setup object.
        api_key: the key or ephemeral token; else ``GEMINI_API_KEY``, then
            ``GOOGLE_API_KEY``, from the environment or ``.env``.
        env_file: the ``.env`` file to read (default: nearest one upwards).
        endpoint: any ws:// or wss:// URL, used as given (fake or replay
            servers, proxies). When it is given, a key is optional.
        api_version: ``v1beta`` (default) or ``v1alpha``.
        allow_insecure: allow plain ws:// to a non-loopback host.
        tool_handler: answers function calls automatically (ids are echoed).
        open_timeout: seconds for the WebSocket handshake (default 10).
        setup_timeout: seconds to wait for ``setupComplete`` (default 10).
        ping_interval / ping_timeout: keepalive (defaults 20 s / 60 s, since
            the service's pongs can take 30 s).
        max_size: largest incoming frame in bytes (default 64 MiB).
        compression: ``"deflate"`` or None (default None: base64 audio barely
            compresses and inflating it costs CPU).
        ssl: an SSL context for wss:// (e.g. trusting a test certificate).
        record: a capture file path to record every frame to (see
            docs/capture-format.md), or a :class:`FrameObserver`.
        observers: more frame observers (e.g. a printer for ``--frames``).
        reconnect: ``True`` or a :class:`~rawlive.resilience.ReconnectPolicy`
            to keep the conversation going across connections: a goAway hands
            over to a new connection before the deadline, drops and transient
            closes reconnect with backoff, unconsumed messages are sent again.
            A reconnect shows up as a :class:`~rawlive.resilience.Reconnected`
            event in the message stream. It turns session resumption on.
        lint: check every outgoing frame for what the service would reject
            with 1007/1008 and raise :class:`~rawlive.errors.LintError` instead
            of sending it (see :mod:`rawlive.protocol.lint`). Default True.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        setup: SetupMessage | Mapping[str, Any] | None = None,
        response_modalities: Sequence[str] | None = None,
        system_instruction: str | Content | None = None,
        voice: str | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        session_resumption: bool | str | None = None,
        input_audio_transcription: bool = False,
        output_audio_transcription: bool = False,
        context_window_compression: bool | int | ContextWindowCompression | None = None,
        generation_config: GenerationConfig | None = None,
        extra_setup: Mapping[str, Any] | None = None,
        api_key: str | None = None,
        env_file: str | os.PathLike[str] | None = None,
        endpoint: str | None = None,
        api_version: str = "v1beta",
        allow_insecure: bool = False,
        tool_handler: ToolHandler | None = None,
        open_timeout: float = DEFAULT_OPEN_TIMEOUT,
        setup_timeout: float | None = DEFAULT_OPEN_TIMEOUT,
        ping_interval: float | None = DEFAULT_PING_INTERVAL,
        ping_timeout: float | None = DEFAULT_PING_TIMEOUT,
        max_size: int | None = DEFAULT_MAX_SIZE,
        compression: str | None = None,
        ssl: ssl.SSLContext | None = None,
        record: str | os.PathLike[str] | FrameObserver | None = None,
        observers: Sequence[FrameObserver] = (),
        lint: bool = True,
        reconnect: bool | ReconnectPolicy = False,
    ) -> None:
        self._lint = lint
        self._policy = (
            ReconnectPolicy() if reconnect is True else (reconnect if reconnect else None)
        )
        if self._policy is not None and session_resumption is None and setup is None:
            session_resumption = True  # reconnecting needs handles
        self._setup = build_setup(
            model,
            setup=setup,
            response_modalities=response_modalities,
            system_instruction=system_instruction,
            voice=voice,
            tools=tools,
            session_resumption=session_resumption,
            input_audio_transcription=input_audio_transcription,
            output_audio_transcription=output_audio_transcription,
            context_window_compression=context_window_compression,
            generation_config=generation_config,
            extra_setup=extra_setup,
        )
        credentials: Credentials | None
        if endpoint is not None:
            self._url = check_endpoint(endpoint, allow_insecure=allow_insecure)
            try:
                credentials = resolve_credentials(api_key, env_file=env_file)
            except LiveError:
                credentials = None  # fake and replay servers need no key
        else:
            credentials = resolve_credentials(api_key, env_file=env_file)
            self._url = live_url(api_version=api_version, ephemeral=credentials.ephemeral)
        self._credentials = credentials
        if lint:
            check_request(self._url, ephemeral=credentials is not None and credentials.ephemeral)
        self._tool_handler = tool_handler
        self._open_timeout = open_timeout
        self._setup_timeout = setup_timeout
        self._ws_options: dict[str, Any] = {
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "max_size": max_size,
            "compression": compression,
            "open_timeout": open_timeout,
            "user_agent_header": f"rawlive/{__version__}",
        }
        if ssl is not None:
            self._ws_options["ssl"] = ssl
        self._observers = list(observers)
        self._recorder: Any = None
        if record is not None:
            if isinstance(record, (str, os.PathLike)):
                from rawlive.capture.recorder import Recorder

                self._recorder = Recorder(record, secrets=self._secrets())
                self._observers.append(self._recorder)
            else:
                self._observers.append(record)
        self._session: Session | None = None

    def __repr__(self) -> str:
        return f"<connect model={self._setup.model!r} endpoint={redact_url(self._url)!r}>"

    def _secrets(self) -> tuple[str, ...]:
        from rawlive.redact import url_secrets  # a key in the URL is a secret too

        key = (self._credentials.secret,) if self._credentials is not None else ()
        return key + url_secrets(self._url)

    async def _dial(self) -> ClientConnection:
        headers = self._credentials.headers() if self._credentials is not None else {}
        shown_url = redact_url(self._url)
        try:
            return await ws_connect(
                self._url,
                headers=headers,
                logger=RedactingLogger(logging.getLogger("websockets.client"), self._secrets()),
                **self._ws_options,
            )
        except InvalidURI:
            raise ConfigurationError(f"invalid endpoint {shown_url!r}") from None
        except InvalidHandshake as exc:
            raise ConnectionClosedError(
                f"WebSocket handshake with {shown_url} failed: "
                f"{redact(str(exc), *self._secrets())}",
                code=1006,
                reason=redact(str(exc), *self._secrets()),
                explanation="the server refused the WebSocket upgrade (wrong path, proxy or auth)",
            ) from None
        except (OSError, asyncio.TimeoutError) as exc:
            detail = redact(str(exc), *self._secrets()) or type(exc).__name__
            raise ConnectionClosedError(
                f"could not connect to {shown_url}: {detail}",
                code=1006,
                explanation="the server could not be reached",
                retryable=True,
            ) from None

    async def _open(self) -> Session:
        shown_url = redact_url(self._url)
        ws = await self._dial()
        for observer in self._observers:
            observer.on_open(1, shown_url, self._setup.model)
        session = Session(
            ws,
            setup=self._setup,
            endpoint=shown_url,
            secrets=self._secrets(),
            tool_handler=self._tool_handler,
            observers=self._observers,
            lint=self._lint,
            reconnect=self._policy,
            dial=self._dial,
            setup_timeout=self._setup_timeout,
        )
        try:
            await session._handshake()
        except BaseException:
            with contextlib.suppress(Exception):
                await ws.close()
            self._close_recorder()
            raise
        return session

    def _close_recorder(self) -> None:
        if self._recorder is not None:
            self._recorder.close()

    def __await__(self) -> Any:
        return self._open().__await__()

    async def __aenter__(self) -> Session:
        self._session = await self._open()
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            with contextlib.suppress(ConnectionClosedError, OSError):
                await self._session.close()
        self._close_recorder()
