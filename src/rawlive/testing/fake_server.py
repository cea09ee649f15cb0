"""A loopback fake of the Live API service, speaking the real wire protocol.

:class:`FakeLiveServer` listens on ``127.0.0.1`` (port 0 by default), accepts
WebSocket connections on any path and answers like the BidiGenerateContent
service (https://ai.google.dev/api/live): binary frames of compact
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

Fault injection: describe faults with the records of
:mod:`rawlive.testing.faults` (``FakeLiveServer(faults=[...])``,
:meth:`FakeLiveServer.inject`, or :meth:`FakeLiveServer.strike` for *now*);
:meth:`FakeLiveServer.go_away` is a thin wrapper over ``strike``. A
``connection_class`` subclass of :class:`FakeConnection` changes what the
fake is, for behaviour no fault describes: every outgoing frame goes through
:meth:`FakeConnection.send_frame`, every incoming one through
:meth:`FakeConnection.receive`, and each protocol step is its own method.
The open connections are listed in :attr:`FakeLiveServer.open_connections`.

Modules: :mod:`~rawlive.testing.records` (what the server keeps),
:mod:`~rawlive.testing.fake_connection` (reading, rules, setup, dispatch),
:mod:`~rawlive.testing.turns` (producing a model turn), this one (listening,
lifecycle, handles, faults).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import ssl
from base64 import urlsafe_b64encode
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote

from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed

from rawlive.errors import ServerNotStartedError
from rawlive.protocol.messages import (
    Content,
    Handle,
)
from rawlive.protocol.rules import (
    API_KEY_INVALID,
    DEADLINE_EXPIRED,
    INTERNAL_ERROR,
    INVALID_ARGUMENT,
    MEDIA_CHUNKS_DEPRECATED,
    RULE_MODES,
    SESSION_NOT_FOUND,
    RuleMode,
    split_target,
)
from rawlive.redact import (
    REDACTED,
    SECRET_QUERY_NAMES,
    RedactingLogger,
    redact,
    redact_header,
)
from rawlive.serving import DEFAULT_MAX_SIZE, Serving, listen, server_url
from rawlive.testing.fake_connection import FakeConnection
from rawlive.testing.fake_model import FakeModel
from rawlive.testing.faults import (
    ArmedFault,
    Fault,
    FaultyConnection,
    GoAwayThenClose,
    PointFault,
    with_faults,
)
from rawlive.testing.records import (
    LIVE_PATH,
    MAX_RECORD_MESSAGES,
    VERTEX_LIVE_PATH,
    ConnectionRecord,
    Snapshot,
)
from rawlive.testing.token_endpoint import TokenEndpoint, TokenRegistry

__all__ = [
    "API_KEY_INVALID",
    "DEADLINE_EXPIRED",
    "INTERNAL_ERROR",
    "INVALID_ARGUMENT",
    "LIVE_PATH",
    "MAX_RECORD_MESSAGES",
    "MEDIA_CHUNKS_DEPRECATED",
    "SESSION_NOT_FOUND",
    "ConnectionRecord",
    "FakeConnection",
    "FakeLiveServer",
    "fake_server",
]

logger = logging.getLogger("rawlive.testing")

_HANDLE_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

# ------------------------------------------------------------------ server


class FakeLiveServer(Serving):
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
        self._sessions: dict[Handle, Snapshot] = {}
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
        self._server = await listen(
            self._handle,
            self.host,
            self._requested_port,
            ssl=self.ssl_context,
            max_size=DEFAULT_MAX_SIZE,
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

    # ---------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The TCP port the server listens on.

        Raises:
            ServerNotStartedError: the server has not been started (a RuntimeError).
        """
        if self._port is None:
            raise ServerNotStartedError("the fake server is not started: call start() first")
        return self._port

    @property
    def url(self) -> str:
        """``ws(s)://HOST:PORT/ws/google.ai.generativelanguage.v1beta...BidiGenerateContent``.

        In Vertex mode, the Vertex AI path (``.../google.cloud.aiplatform.v1beta1.
        LlmBidiService/BidiGenerateContent``). The server answers any path.
        """
        path = VERTEX_LIVE_PATH if self.vertex else LIVE_PATH
        return server_url(self.host, self.port, tls=self.ssl_context is not None, path=path)

    @property
    def base_url(self) -> str:
        """``http(s)://HOST:PORT/``: the ``base_url`` of the official SDKs and of
        ``rawlive.connect(base_url=...)``, which keep the service's path."""
        return server_url(
            self.host, self.port, tls=self.ssl_context is not None, http=True, path="/"
        )

    @property
    def token_url(self) -> str:
        """``http://HOST:PORT`` of the ``v1alpha/auth_tokens`` listener (``mint_tokens=True``).

        Raises:
            ServerNotStartedError: the server mints no tokens, or is not started
                (a RuntimeError).
        """
        if self.token_endpoint is None or not self.token_endpoint.port:
            raise ServerNotStartedError("this fake server mints no tokens: pass mint_tokens=True")
        return self.token_endpoint.base_url

    # ------------------------------------------------------- observability

    @property
    def histories(self) -> dict[str, tuple[Content, ...]]:
        """The conversation each issued resumption handle restores, by handle."""
        return {handle: snap.turns for handle, snap in self._sessions.items()}

    def forget_handle(self, handle: str) -> None:
        """Make ``handle`` unknown, as an expired handle is (resuming then closes 1008).

        The server-side step of :class:`~rawlive.testing.faults.ExpireHandles`;
        in tests, prefer the fault record (it says when).
        """
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
        """Send ``{"goAway":{"timeLeft":...}}`` to every open session, now.

        A thin wrapper over the fault records: ``strike(GoAwayThenClose(...))``.

        Args:
            time_left: the Duration text to announce.
            close_after: when set, close each of them that many seconds later
                with 1011 "Deadline expired before operation could complete.";
                None keeps them open.

        Returns:
            How many connections were told.
        """
        fault = GoAwayThenClose(
            time_left=time_left, close_after=math.inf if close_after is None else close_after
        )
        return len((await self.strike(fault)).fired)

    async def strike(self, fault: Fault) -> ArmedFault:
        """Do the point fault ``fault`` now, on every open session it names.

        The immediate trigger: the fault is armed (listed in :attr:`faults`),
        acts once on each open connection that is set up (all of them, or
        ``fault.connection``), and is then disarmed. Its other trigger fields
        are not consulted.

        Returns:
            The armed fault: ``fired`` lists ``(connection, turn)`` of each
            connection it acted on.

        Raises:
            ValueError: ``fault`` is a turn fault (it changes a turn; inject it).
        """
        if not isinstance(fault, PointFault):
            raise ValueError(f"{type(fault).__name__} changes turns: use inject(), not strike()")
        armed = ArmedFault(fault, active=False)  # the triggers stay out of it
        self.faults.append(armed)
        for connection in list(self.open_connections):
            if isinstance(connection, FaultyConnection):
                with contextlib.suppress(ConnectionClosed):
                    await connection.strike_now(armed)
        return armed

    def inject(self, fault: Fault) -> ArmedFault:
        """Arm ``fault`` on this server, from now on (open connections included).

        Triggers count per connection from its start, so a fault injected
        mid-session with ``on_turn=2`` acts in the second turn of the
        connections that have not reached it yet.

        Returns:
            The armed fault: its ``fired`` list says where it acted.
        """
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
        record = self._new_record(ws)
        connection = with_faults(self.connection_class)(self, ws, record)
        self.connections.append(record)
        self.open_connections.append(connection)
        try:
            await connection.run()
        finally:
            self.open_connections.remove(connection)
            self._trim_records()

    def _keep_session(self, handle: Handle, snapshot: Snapshot) -> None:
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
