"""The asyncio client: :func:`connect` and :class:`Session`.

A thin layer over the sans-I/O core: frames go through
:mod:`rawlive.protocol.codec`, state through
:class:`~rawlive.protocol.session.SessionState`, the reader of each
connection through :mod:`rawlive.engine`, reconnects through
:mod:`rawlive.resilience`, and the network through ``websockets``. Errors
from websockets are re-raised as rawlive's own.

Usage::

    async with rawlive.connect("gemini-2.0-flash-live-001", response_modalities=["TEXT"]) as s:
        await s.send_text("Hello? Gemini are you there?")
        turn = await s.receive_turn()
        print(turn.text)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from rawlive import __version__
from rawlive._compat import ws_connect
from rawlive.auth import redact, redact_url
from rawlive.engine import (
    DEFAULT_BUFFER_BYTES,
    Connection,
    Engine,
    FrameObserver,
    ToolHandler,
)
from rawlive.errors import (
    ConfigurationError,
    ConnectionClosedError,
    unexpected_keyword,
)
from rawlive.protocol.codec import decode_client, encode
from rawlive.protocol.lint import check_message, check_request
from rawlive.protocol.messages import (
    ClientMessage,
    ClientPayload,
    ServerMessage,
    SessionResumptionConfig,
    SetupComplete,
)
from rawlive.protocol.messages import Setup as SetupMessage
from rawlive.protocol.rules import backend_of
from rawlive.protocol.session import Turn, UsageTotals
from rawlive.receivers import Receivers
from rawlive.redact import redacting_logger
from rawlive.resilience import Reconnected, ReconnectPolicy, Resilience
from rawlive.senders import Senders
from rawlive.setup import SETUP_OPTIONS, SetupOptions, build_setup, encode_raw
from rawlive.vertex import TARGET_OPTIONS, TargetOptions, resolve_target
from rawlive.wire import SinkConnection

if TYPE_CHECKING:
    import ssl

    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

__all__ = [
    "ConnectOptions",
    "FrameObserver",
    "ReconnectPolicy",
    "Reconnected",
    "Session",
    "ToolHandler",
    "Turn",
    "build_setup",
    "connect",
]

logger = logging.getLogger("rawlive")

DEFAULT_OPEN_TIMEOUT = 10.0
DEFAULT_PING_INTERVAL = 20.0
# The service's pongs have been seen to take 8 to 30 s; websockets' 20 s default
# gives false "keepalive ping timeout" closes.
DEFAULT_PING_TIMEOUT = 60.0
DEFAULT_MAX_SIZE = 64 * 1024 * 1024
DEFAULT_HANDLE_WAIT = 1.5
"""Seconds :meth:`Session.receive_turn` waits for the turn's resumption handle."""


class Session(Senders, Receivers):
    """One Live conversation, over one connection or, with a reconnect policy, several.

    Obtain it from :func:`connect`. Only one task may read at a time (iterating,
    :meth:`receive` or :meth:`receive_turn`); a second concurrent reader gets
    :class:`~rawlive.errors.ConcurrentReadError`. Sending is safe from any task.
    A reader task per connection runs whether or not you read (see
    :mod:`rawlive.engine`): handles, goAway and tool calls are acted on as
    they arrive, and other messages wait in a buffer bounded in bytes.

    Attributes:
        setup: the setup message this session sent.
        setup_complete: the server's ``setupComplete``.
        state: the protocol state (handle, goAway, usage, pending calls).
        reconnects: every :class:`~rawlive.resilience.Reconnected` so far.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        handle_wait: float = DEFAULT_HANDLE_WAIT,
    ) -> None:
        self._engine = engine
        self._handle_wait = handle_wait
        self._reading = False
        self.setup = engine.setup
        self.endpoint = engine.endpoint
        self.state = engine.state
        self.setup_complete: SetupComplete | None = None

    def __repr__(self) -> str:
        return (
            f"<Session model={self.setup.model!r} endpoint={self.endpoint!r} "
            f"state={self.state.phase.value} handle={'yes' if self.handle else 'no'}>"
        )

    # ------------------------------------------------------------ properties

    @property
    def handle(self) -> str | None:
        """The latest resumable handle (only updates marked resumable count).

        After :meth:`receive_turn` (with resumption on) it covers that turn
        when the service sent its handle within ``handle_wait`` seconds.
        """
        return self.state.handle

    @property
    def usage(self) -> UsageTotals:
        """Token usage totals over the turns so far."""
        return self.state.usage

    @property
    def go_away_time_left(self) -> float | None:
        """Seconds left before the server closes, from the last goAway (None if none)."""
        conn = self._engine.conn
        if conn is None or conn.go_away_at is None:
            return None
        return max(0.0, conn.go_away_at - time.monotonic())

    @property
    def closed(self) -> bool:
        """Whether the session is over (closed by us, or ended for good)."""
        return self._engine.closed_error is not None or self._engine.closed_by_us

    @property
    def _ws(self) -> ClientConnection:
        """The current WebSocket connection (for tests and debugging)."""
        conn = self._engine.conn
        assert conn is not None
        return conn.ws

    # --------------------------------------------------------------- sending

    async def send(self, message: ClientPayload | ClientMessage | Mapping[str, Any]) -> None:
        """Send one client message.

        With a reconnect policy, a message that cannot go out now (the
        connection is being replaced) is queued and sent on the next one.

        Args:
            message: a payload (``ClientContent(...)``), an envelope, or a raw
                mapping in wire form (``{"realtimeInput": {...}}``) for fields
                newer than this library.

        Raises:
            ConnectionClosedError: the connection is closed.
            LocalProtocolError: the message is not allowed now (e.g. a second setup).
            QueueFullError: too many messages are queued during a reconnect.
        """
        if isinstance(message, Mapping):
            data = encode_raw(message)
            envelope = decode_client(data)
        else:
            envelope = (
                message if isinstance(message, ClientMessage) else ClientMessage.wrap(message)
            )
            data = encode(envelope)
        await self._engine.send(envelope, data)

    # --------------------------------------------------------------- closing

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent)."""
        engine = self._engine
        if engine.closed_by_us:
            return
        ended = engine.closed_error is not None  # the close was observed already
        await engine.close(code, reason)
        conn = engine.conn
        if conn is not None and not ended:
            for observer in engine.observers:
                observer.on_close(conn.number, code, reason, "client", False)

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ConnectOptions(SetupOptions, TargetOptions, total=False):
    """The keywords :func:`connect` passes on: setup fields and where to connect."""


def _split_options(options: ConnectOptions) -> tuple[SetupOptions, TargetOptions]:
    """``connect``'s keywords, as the setup's and the target's (TypeError for others)."""
    setup: dict[str, Any] = {}
    target: dict[str, Any] = {}
    for name, value in options.items():
        if name in SETUP_OPTIONS:
            setup[name] = value
        elif name in TARGET_OPTIONS:
            target[name] = value
        else:
            raise unexpected_keyword("connect", name, SETUP_OPTIONS | TARGET_OPTIONS)
    return cast("SetupOptions", setup), cast("TargetOptions", target)


def _model_of(setup: SetupMessage | Mapping[str, Any] | None) -> str | None:
    if isinstance(setup, SetupMessage):
        return setup.model
    value = setup.get("model") if setup is not None else None
    return value if isinstance(value, str) else None


class connect:
    """Open a Live session: connect, send ``setup``, wait for ``setupComplete``.

    ``async with connect(model, ...) as session:`` yields a :class:`Session`
    and closes it on exit. ``session = await connect(...)`` also works; then
    call ``await session.close()`` yourself.

    Args:
        model: the model id (``models/`` is added when missing; full Vertex
            resource names are kept as given).
        setup: a :class:`~rawlive.Setup` or a raw setup mapping to start from.
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
        handle_wait: with resumption on, seconds :meth:`Session.receive_turn`
            waits for the turn's handle after ``turnComplete`` (default 1.5;
            0 turns the wait off).
        receive_buffer: bytes of received frames buffered while the
            application does not read (default 16 MiB); when full, rawlive
            stops reading the socket until the application catches up.
        **options: by keyword, the setup fields
            (:class:`rawlive.SetupOptions`: ``response_modalities``,
            ``system_instruction``, ``voice``, ``tools``, ``session_resumption``,
            ``input_audio_transcription``, ``output_audio_transcription``,
            ``context_window_compression``, ``generation_config``,
            ``extra_setup``) and where to connect
            (:class:`rawlive.TargetOptions`: ``api_key``, ``env_file``,
            ``endpoint``, ``base_url``, ``api_version``, ``allow_insecure``,
            ``vertex``, ``project``, ``location``, ``access_token``). Each is
            documented there once; any other keyword is a ``TypeError``.
            Without ``api_key`` the key is ``GEMINI_API_KEY``, then
            ``GOOGLE_API_KEY``, from the environment or ``.env``; with
            ``endpoint`` (a fake, replay server or proxy) a key is optional.
            On Vertex AI the reply defaults to AUDIO, as the SDKs do.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        setup: SetupMessage | Mapping[str, Any] | None = None,
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
        handle_wait: float = DEFAULT_HANDLE_WAIT,
        receive_buffer: int = DEFAULT_BUFFER_BYTES,
        **options: Unpack[ConnectOptions],
    ) -> None:
        setup_options, target_options = _split_options(options)
        if receive_buffer < 1:
            raise ConfigurationError(
                f"receive_buffer must be at least 1 byte, got {receive_buffer}"
            )
        self._handle_wait = handle_wait
        self._receive_buffer = receive_buffer
        self._lint = lint
        self._policy = (
            ReconnectPolicy() if reconnect is True else (reconnect if reconnect else None)
        )
        reconnecting = self._policy is not None and setup is None
        if reconnecting and setup_options.get("session_resumption") is None:
            setup_options["session_resumption"] = True  # reconnecting needs handles
        target = resolve_target(model or _model_of(setup), **target_options)
        if (
            target.vertex
            and setup is None
            and setup_options.get("response_modalities") is None
            and not setup_options.get("generation_config")
        ):
            # what the official SDKs fill in for Vertex AI
            setup_options["response_modalities"] = ["AUDIO"]
        self._setup = build_setup(target.model, setup=setup, **setup_options)
        self._target = target
        self._url = target.url
        self._url_secrets: tuple[str, ...] | None = None
        self._shown_url = redact_url(self._url)  # how logs and errors name the endpoint
        credentials = target.credentials
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
        return f"<connect model={self._setup.model!r} endpoint={self._shown_url!r}>"

    def _secrets(self) -> tuple[str, ...]:
        # the target's secrets can change (a Vertex token is refreshed); the URL's cannot
        if self._url_secrets is None:
            from rawlive.redact import url_secrets  # a key in the URL is a secret too

            self._url_secrets = url_secrets(self._url)
        return self._target.secrets() + self._url_secrets

    async def _dial(self) -> SinkConnection:
        headers = self._target.headers()  # a Vertex token is refreshed here when old
        shown_url = self._shown_url
        try:
            ws = await ws_connect(
                self._url,
                create_connection=SinkConnection,
                headers=headers,
                logger=redacting_logger("websockets.client", self._secrets()),
                **self._ws_options,
            )
            assert isinstance(ws, SinkConnection)
            return ws
        except InvalidURI:
            raise ConfigurationError(f"invalid endpoint {shown_url!r}") from None
        except (InvalidHandshake, ConnectionClosed) as exc:
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
        shown_url = self._shown_url
        engine = Engine(
            setup=self._setup,
            endpoint=shown_url,
            secrets=self._secrets(),
            observers=self._observers,
            tool_handler=self._tool_handler,
            lint=self._lint,
            buffer_bytes=self._receive_buffer,
            setup_timeout=self._setup_timeout,
            resumable=self._policy is not None,
        )
        if self._lint:
            check_message(
                ClientMessage(setup=self._setup), setup=None, backend=backend_of(self._url)
            )
        try:
            conn, early = await self._open_connection(engine, self._setup, 1)
        except BaseException:
            self._close_recorder()
            raise
        session = Session(engine, handle_wait=self._handle_wait)
        session.setup_complete = engine.setup_complete
        if self._policy is not None:

            async def open_resumed(
                handle: str, number: int
            ) -> tuple[Connection, list[tuple[ServerMessage, int]]]:
                resumption = self._setup.session_resumption or SessionResumptionConfig()
                setup = dataclasses.replace(
                    self._setup,
                    session_resumption=dataclasses.replace(resumption, handle=handle),
                )
                opened = await self._open_connection(engine, setup, number)
                session.setup_complete = engine.setup_complete
                return opened

            engine.resilience = Resilience(engine, self._policy, open_resumed)
        engine.start(conn, early)
        return session

    async def _open_connection(
        self, engine: Engine, setup: SetupMessage, number: int
    ) -> tuple[Connection, list[tuple[ServerMessage, int]]]:
        """Dial, send ``setup``, wait for setupComplete (nothing is started yet)."""
        ws = await self._dial()
        for observer in self._observers:
            observer.on_open(number, engine.endpoint, setup.model)
        try:
            early = await engine.handshake(ws, number, setup)
        except BaseException:
            with contextlib.suppress(Exception):
                await ws.close(1000, "setup failed")
            raise
        return Connection(ws, number), early

    def _close_recorder(self) -> None:
        if self._recorder is not None:
            self._recorder.close()

    def __await__(self) -> Any:
        return self._open().__await__()

    async def __aenter__(self) -> Session:
        self._session = await self._open()
        return self._session

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            with contextlib.suppress(ConnectionClosedError, OSError):
                await self._session.close()
        self._close_recorder()
