"""``rawlive proxy``: relay any Live API client to the service, and watch it.

A :class:`LiveProxy` listens on loopback and accepts any Live client pointed
at it by base URL (the official SDKs' ``base_url``, pipecat, livekit, a
browser). For each client connection it opens one upstream connection with
the same path and query, and relays every frame both ways unchanged: a text
frame stays text, a binary frame stays binary, byte for byte.

Theory of operation
-------------------

The upstream connection is opened inside the client's WebSocket handshake
(``process_request``), so an upstream that refuses the handshake (a wrong key
answered with HTTP 403, an unknown path with 404) gives the client the same
HTTP status, as if there were no proxy. Then two pumps run per connection,
one each way. Each awaits the other side's ``send``, so a slow reader slows
its own writer (back-pressure) and nothing else: every connection is
independent and buffers at most ``max_size`` bytes per frame plus websockets'
small queues.

When one side closes, the other side is closed with the same code and
reason. 1005 (a close frame without a code) is sent as such; 1006 (a drop)
and 1015 (a TLS failure) cannot be sent, so the other side is aborted, and
sees a drop too.

Observers get every frame as it passes (``on_open``, ``on_frame``,
``on_close``, as a :class:`rawlive.client.FrameObserver`); ``record=`` adds a
:class:`SessionRecorder`, which writes one capture per client *session*: a
connection whose setup resumes a handle issued on an earlier connection joins
that connection's capture, so ``rawlive serve`` can replay the resumption.

Faults (:mod:`rawlive.testing.faults`, the fake server's vocabulary) act on
the server-to-client stream: see :class:`_FaultState`.

Keys: ``inject_key`` adds ``x-goog-api-key`` to a client connection that
brings no credentials of its own; otherwise the client's header or query
credentials pass through unchanged. No key reaches an observer, a capture or
a log (:mod:`rawlive.redact`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.http11 import Request, Response

from rawlive._compat import ws_connect
from rawlive.auth import RedactingLogger, is_loopback_host, redact_url
from rawlive.capture.format import Direction
from rawlive.capture.recorder import Recorder
from rawlive.engine import FrameObserver
from rawlive.errors import ConfigurationError, RemoteProtocolError
from rawlive.protocol.codec import decode_json, encode_json
from rawlive.serving import DEFAULT_MAX_SIZE, Serving, listen, server_url
from rawlive.testing.fault_records import (
    CloseWith,
    DelayFrames,
    DropConnection,
    Fault,
    GoAwayThenClose,
    Point,
    PointFault,
    SlowPongs,
    stall_reading,
)

__all__ = ["UPSTREAMS", "FrameObserver", "LiveProxy", "SessionRecorder", "upstream_base"]

logger = logging.getLogger("rawlive.proxy")

UPSTREAMS = {
    "google": "wss://generativelanguage.googleapis.com",
    "vertex": "wss://aiplatform.googleapis.com",
}
"""Named upstreams; any ``ws://`` or ``wss://`` URL is accepted too."""

# Request headers that belong to one hop (the WebSocket handshake itself).
_HOP_HEADERS = frozenset(
    {
        "host",
        "connection",
        "upgrade",
        "content-length",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-accept",
        "sec-websocket-protocol",
    }
)
_CREDENTIAL_HEADERS = frozenset({"x-goog-api-key", "authorization"})
_CREDENTIAL_PARAMS = frozenset({"key", "access_token"})
_UNSENDABLE = frozenset({1004, 1005, 1006, 1015})


def upstream_base(upstream: str) -> str:
    """Return the ``ws(s)://host[:port][/prefix]`` the proxy connects to.

    Args:
        upstream: ``"google"``, ``"vertex"`` or a ``ws://``/``wss://`` URL
            (its path, if any, is put before the client's path).

    Raises:
        ConfigurationError: ``upstream`` is neither a name nor a WebSocket URL.
    """
    named = UPSTREAMS.get(upstream)
    if named is not None:
        return named
    parts = urlsplit(upstream)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("ws", "wss") or not parts.hostname or port == -1:
        raise ConfigurationError(
            f"--upstream must be google, vertex or a ws:// or wss:// URL with a host, "
            f"got {redact_url(upstream)!r}"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError("--upstream takes no query or fragment: the client's are kept")
    return upstream.rstrip("/")


def _json(payload: str | bytes) -> dict[str, Any] | None:
    try:
        return decode_json(payload)
    except RemoteProtocolError:
        return None


def _get(d: dict[str, Any], camel: str, snake: str) -> Any:
    value = d.get(camel)
    return d.get(snake) if value is None else value


def _setup_of(payload: str | bytes) -> dict[str, Any] | None:
    frame = _json(payload)
    if frame is None:
        return None
    setup = frame.get("setup")
    return setup if isinstance(setup, dict) else None


def _resumed_handle(setup: dict[str, Any] | None) -> str | None:
    if setup is None:
        return None
    sr = _get(setup, "sessionResumption", "session_resumption")
    handle = sr.get("handle") if isinstance(sr, dict) else None
    return handle if isinstance(handle, str) and handle else None


def _new_handle(frame: dict[str, Any]) -> str | None:
    sru = _get(frame, "sessionResumptionUpdate", "session_resumption_update")
    if not isinstance(sru, dict):
        return None
    handle = _get(sru, "newHandle", "new_handle")
    return handle if isinstance(handle, str) and handle else None


# ------------------------------------------------------------- recording


class SessionRecorder:
    """An observer that writes one capture per client session.

    The first session writes ``path``; later sessions write ``NAME-2.jsonl``,
    ``NAME-3.jsonl``, ... beside it. A connection whose setup resumes a handle
    issued on an earlier connection is recorded in that connection's capture,
    as connection 2, 3, ... of it.

    Args:
        path: the first capture's path.
        secrets: strings that must never reach a capture (keys, tokens).
        redact_audio: store audio payloads as length and hash only.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        secrets: Sequence[str] = (),
        redact_audio: bool = False,
    ) -> None:
        self.path = Path(path)
        self.secrets = tuple(s for s in secrets if s)
        self.redact_audio = redact_audio
        self.paths: list[Path] = []
        self._recorders: list[Recorder] = []
        self._conns: dict[int, tuple[Recorder, int]] = {}  # proxy conn -> (capture, its conn)
        self._pending: dict[int, tuple[str, str | None]] = {}  # conn -> (endpoint, model)
        self._handles: dict[str, Recorder] = {}
        self._next_conn: dict[int, int] = {}  # id(recorder) -> next conn number

    def _new_path(self) -> Path:
        n = len(self._recorders) + 1
        if n == 1:
            return self.path
        return self.path.with_name(f"{self.path.stem}-{n}{self.path.suffix or '.jsonl'}")

    def on_open(self, conn: int, endpoint: str, model: str | None) -> None:
        self._pending[conn] = (endpoint, model)

    def _attach(self, conn: int, payload: str | bytes) -> tuple[Recorder, int] | None:
        entry = self._conns.get(conn)
        if entry is not None:
            return entry
        pending = self._pending.pop(conn, None)
        if pending is None:
            return None
        endpoint, model = pending
        setup = _setup_of(payload)
        recorder = self._handles.get(_resumed_handle(setup) or "")
        if recorder is None:
            recorder = Recorder(
                self._new_path(),
                secrets=self.secrets,
                redact_audio=self.redact_audio,
                source="rawlive proxy",
            )
            self._recorders.append(recorder)
            self.paths.append(Path(recorder.path))
        number = self._next_conn.get(id(recorder), 1)
        self._next_conn[id(recorder)] = number + 1
        if setup is not None and isinstance(setup.get("model"), str):
            model = setup["model"]
        recorder.on_open(number, endpoint, model)
        self._conns[conn] = (recorder, number)
        return recorder, number

    def on_frame(self, conn: int, direction: str, payload: str | bytes) -> None:
        entry = self._attach(conn, payload)
        if entry is None:
            return
        recorder, number = entry
        recorder.on_frame(number, direction, payload)
        if direction == "server":
            frame = _json(payload) if b"ewHandle" in _as_bytes(payload) else None
            handle = _new_handle(frame) if frame is not None else None
            if handle is not None:
                self._handles[handle] = recorder

    def on_close(self, conn: int, code: int, reason: str, by: str | None, dropped: bool) -> None:
        self._pending.pop(conn, None)
        entry = self._conns.pop(conn, None)
        if entry is not None:
            recorder, number = entry
            recorder.on_close(number, code, reason, by, dropped)

    def close(self) -> None:
        """Close every capture file (idempotent)."""
        for recorder in self._recorders:
            recorder.close()


def _as_bytes(payload: str | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode("utf-8", "surrogatepass")


# -------------------------------------------------------------------- lint


class _LintWatch:
    """The outgoing lint over one relayed connection (``--lint``).

    Server frames keep its state current (pending tool calls); each client
    frame is checked before it is forwarded, so a finding is reported before
    the service's close arrives.
    """

    def __init__(self, connection: _Connection) -> None:
        from rawlive.capture.lint import ConnectionLint
        from rawlive.protocol.rules import backend_of

        self.connection = connection
        self.lint = ConnectionLint(backend_of(connection.endpoint))

    def client(self, payload: str | bytes) -> None:
        for rule, message in self.lint.client(payload):
            self.connection.proxy._report_lint(self.connection.number, f"[{rule}] {message}")

    def server(self, payload: str | bytes) -> None:
        self.lint.server(payload)


# ------------------------------------------------------------------ faults


@dataclass
class _FaultState:
    """Where a connection's server-to-client stream is, for the fault triggers.

    The proxy counts as the fake server does: a model turn starts with the
    first ``serverContent`` or ``toolCall`` after the previous turn's end;
    output chunks are ``modelTurn`` frames with parts; a turn ends with
    ``turnComplete`` and, when the setup asked for resumption, the
    ``sessionResumptionUpdate`` right after it. ``after_frames`` counts every
    server frame forwarded, ``setupComplete`` included; ``after_seconds``
    counts from ``setupComplete``.
    """

    number: int
    resumable: bool = False
    turn: int = 0
    chunks: int = 0
    frames: int = 0
    in_turn: bool = False
    awaiting_handle: bool = False
    fired: set[int] = field(default_factory=set)


class _Connection:
    """One relayed client connection and its upstream."""

    def __init__(
        self,
        proxy: LiveProxy,
        number: int,
        client: ServerConnection,
        upstream: ClientConnection,
        endpoint: str,
    ) -> None:
        self.proxy = proxy
        self.number = number
        self.client = client
        self.upstream = upstream
        self.endpoint = endpoint
        self.faults = _FaultState(number)
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed_by: str | None = None
        self.opened = False
        self.lint = _LintWatch(self) if proxy.lint else None

    # --------------------------------------------------------------- pumps

    async def run(self) -> None:
        up = asyncio.create_task(self._pump("client"))
        down = asyncio.create_task(self._pump("server"))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            # The side that ended closes the other; give the closing handshake
            # a moment, then stop both pumps.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(up, down, return_exceptions=True), 10)
        finally:
            for task in (up, down, *self.tasks):
                task.cancel()
            await asyncio.gather(up, down, *self.tasks, return_exceptions=True)
            self.client.transport.abort() if self.client.transport else None
            self.upstream.transport.abort() if self.upstream.transport else None
            self._notify_close()

    async def _pump(self, side: Direction) -> None:
        """Relay what the ``side`` peer sends to the other peer, until it closes.

        Every frame is observed and linted on the way; server frames also
        pass the fault triggers.
        """
        server = side == "server"
        source, sink = (self.upstream, self.client) if server else (self.client, self.upstream)
        lint = None if self.lint is None else (self.lint.server if server else self.lint.client)
        faults = server and bool(self.proxy.faults)
        try:
            async for message in source:
                if not self.opened:
                    self._open(None if server else message)
                if faults:
                    await self._before_server_frame(message)
                    if sink.state.name != "OPEN":
                        break
                self.proxy._observe(self.number, side, message)
                if lint is not None:
                    lint(message)
                await sink.send(message)
                if faults:
                    await self._after_server_frame(message)
        except ConnectionClosed:
            pass
        self._mirror_close(source, sink, side)

    def _open(self, first_client_frame: str | bytes | None) -> None:
        self.opened = True
        setup = _setup_of(first_client_frame) if first_client_frame is not None else None
        model = setup.get("model") if setup is not None else None
        if setup is not None:
            self.faults.resumable = isinstance(
                _get(setup, "sessionResumption", "session_resumption"), dict
            )
        self.proxy._notify_open(
            self.number, self.endpoint, model if isinstance(model, str) else None
        )

    def _mirror_close(self, ended: Any, other: Any, side: str) -> None:
        """``ended`` (the ``side`` peer's connection) closed: close ``other`` the same way."""
        if self.closed_by is None:
            self.closed_by = side
        received = ended.protocol.close_rcvd
        if received is None:
            if other.transport is not None:
                other.transport.abort()  # a drop stays a drop
            return
        code, reason = int(received.code), received.reason
        if code in _UNSENDABLE and code != 1005:
            if other.transport is not None:
                other.transport.abort()
            return
        self.tasks.add(asyncio.ensure_future(other.close(None if code == 1005 else code, reason)))

    def _notify_close(self) -> None:
        if not self.opened:
            return
        side = self.client if self.closed_by == "client" else self.upstream
        received = side.protocol.close_rcvd
        if received is None:
            self.proxy._notify_closed(self.number, 1006, "", None, True)
        else:
            self.proxy._notify_closed(
                self.number, int(received.code), received.reason, self.closed_by, False
            )

    # -------------------------------------------------------------- faults

    def _due(self, point: Point) -> list[Fault]:
        """The point faults that act at ``point`` now (the fake's rules: ``fires_at``)."""
        state = self.faults
        due: list[Fault] = []
        for index, fault in enumerate(self.proxy.faults):
            if fault.once and index in state.fired:
                continue
            if isinstance(fault, PointFault) and fault.fires_at(
                point, state.number, state.turn, state.chunks, state.frames
            ):
                state.fired.add(index)
                due.append(fault)
        return due

    async def _before_server_frame(self, message: str | bytes) -> None:
        state = self.faults
        frame = _json(message) or {}
        starts = (
            "serverContent" in frame or "server_content" in frame or "toolCall" in frame
        ) and (not state.in_turn)
        if starts:
            state.turn += 1
            state.chunks = 0
            state.in_turn = True
            for fault in self._due("start"):
                await self._strike(fault)
        for index, fault in enumerate(self.proxy.faults):
            if (
                isinstance(fault, DelayFrames)
                and state.in_turn
                and fault.matches(state.number, state.turn)
            ):
                await asyncio.sleep(fault.seconds)
                state.fired.add(index)

    async def _after_server_frame(self, message: str | bytes) -> None:
        state = self.faults
        state.frames += 1
        frame = _json(message) or {}
        for fault in self._due("frame"):
            await self._strike(fault)
        if "setupComplete" in frame or "setup_complete" in frame:
            for fault in self._due("setup"):
                await self._strike(fault)
            for index, fault in enumerate(self.proxy.faults):
                seconds = fault.after_seconds
                if seconds is not None:
                    self.tasks.add(asyncio.ensure_future(self._strike_later(index, seconds)))
        sc = _get(frame, "serverContent", "server_content")
        if isinstance(sc, dict):
            mt = _get(sc, "modelTurn", "model_turn")
            if isinstance(mt, dict) and mt.get("parts"):
                state.chunks += 1
                for fault in self._due("chunk"):
                    await self._strike(fault)
            if _get(sc, "turnComplete", "turn_complete"):
                state.in_turn = False
                for fault in self._due("complete"):
                    await self._strike(fault)
                if state.resumable:
                    state.awaiting_handle = True
                    return
                await self._end_turn()
                return
        if state.awaiting_handle and _new_handle(frame) is not None:
            state.awaiting_handle = False
            await self._end_turn()

    async def _end_turn(self) -> None:
        for fault in self._due("end"):
            await self._strike(fault)

    async def _strike_later(self, index: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        fault = self.proxy.faults[index]
        if self.client.state.name != "OPEN" or (fault.once and index in self.faults.fired):
            return
        self.faults.fired.add(index)
        await self._strike(fault)

    async def _strike(self, fault: Fault) -> None:
        self.proxy.fired.append((type(fault).__name__, self.number, self.faults.turn))
        logger.info("fault %s fires on connection %d", type(fault).__name__, self.number)
        client = self.client
        if isinstance(fault, GoAwayThenClose):
            frame = encode_json({"goAway": {"timeLeft": fault.time_left}})
            self.proxy._observe(self.number, "server", frame)
            with contextlib.suppress(ConnectionClosed):
                await client.send(frame)
            self.tasks.add(
                asyncio.ensure_future(
                    self._close_later(fault.close_delay, fault.code, fault.reason)
                )
            )
        elif isinstance(fault, CloseWith):
            await self._close_both(fault.code, fault.wire_reason)
        elif isinstance(fault, DropConnection):
            if client.transport is not None:
                client.transport.abort()
            with contextlib.suppress(Exception):
                await self.upstream.close()
        elif isinstance(fault, SlowPongs):
            stall = stall_reading(client.transport, fault.delay, fault.duration)
            self.tasks.add(asyncio.ensure_future(stall))

    async def _close_both(self, code: int, reason: str) -> None:
        self.closed_by = "server"
        with contextlib.suppress(Exception):
            await self.client.close(code, reason)
        with contextlib.suppress(Exception):
            await self.upstream.close()

    async def _close_later(self, delay: float, code: int, reason: str) -> None:
        await asyncio.sleep(delay)
        await self._close_both(code, reason)


# ------------------------------------------------------------------- proxy


class LiveProxy(Serving):
    """Relay Live API clients to an upstream, frame for frame, and watch the traffic.

    Use it as an async context manager, or call :meth:`start` and :meth:`close`.
    Point a client at :attr:`base_url` (SDKs) or :attr:`url` (a full Live URL).

    Args:
        upstream: ``"google"`` (default), ``"vertex"`` or a ``ws(s)://`` URL.
        host: the address to listen on (loopback by default).
        port: the TCP port; 0 picks a free one.
        observers: frame observers (``on_open``/``on_frame``/``on_close``).
        record: write captures here, one per client session (see :class:`SessionRecorder`).
        redact_audio: with ``record``: store audio as length and hash only.
        lint: check every client frame against what the service rejects;
            findings go to ``on_lint`` (and the ``rawlive.proxy`` logger).
        on_lint: called with ``(conn, finding)`` for each finding.
        inject_key: add this key (``x-goog-api-key``) to connections that bring
            no credentials of their own.
        allow_remote: with ``inject_key``, allow listening on a non-loopback address.
        faults: faults to apply to the server-to-client stream.
        ssl_context: serve ``wss://`` with this server-side TLS context.
        upstream_ssl: TLS context for a ``wss://`` upstream (default: the system's).
        max_size: the largest frame relayed, in bytes, each way.
        open_timeout: seconds to wait for the upstream handshake.

    Raises:
        ConfigurationError: a bad upstream, or ``inject_key`` on a public address
            without ``allow_remote``.
    """

    def __init__(
        self,
        *,
        upstream: str = "google",
        host: str = "127.0.0.1",
        port: int = 0,
        observers: Iterable[FrameObserver] = (),
        record: str | os.PathLike[str] | None = None,
        redact_audio: bool = False,
        lint: bool = False,
        on_lint: Callable[[int, str], None] | None = None,
        inject_key: str | None = None,
        allow_remote: bool = False,
        faults: Iterable[Fault] = (),
        ssl_context: ssl.SSLContext | None = None,
        upstream_ssl: ssl.SSLContext | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
        open_timeout: float = 10.0,
    ) -> None:
        self.upstream = upstream_base(upstream)
        if inject_key is not None and not inject_key.strip():
            raise ConfigurationError("the key to inject is empty")
        if inject_key and not is_loopback_host(host) and not allow_remote:
            raise ConfigurationError(
                f"refusing to listen on {host} with --inject-key: anyone who can reach the "
                "port would spend the key; pass --allow-remote to do it anyway"
            )
        self.host = host
        self.inject_key = inject_key
        self.lint = lint
        self.on_lint = on_lint
        self.faults: tuple[Fault, ...] = tuple(faults)
        self.fired: list[tuple[str, int, int]] = []
        self.ssl_context = ssl_context
        self.upstream_ssl = upstream_ssl
        self.max_size = max_size
        self.open_timeout = open_timeout
        self.secrets: list[str] = [inject_key] if inject_key else []
        self.recorder = (
            SessionRecorder(record, secrets=self.secrets, redact_audio=redact_audio)
            if record is not None
            else None
        )
        self.observers: list[FrameObserver] = list(observers)
        if self.recorder is not None:
            self.observers.append(self.recorder)
        self.connections = 0
        self._requested_port = port
        self._port: int | None = None
        self._server: Server | None = None
        self._pending: dict[int, tuple[ClientConnection, str]] = {}
        self._log = RedactingLogger(logging.getLogger("rawlive.proxy.websockets"), self.secrets)

    # ----------------------------------------------------------- lifecycle

    async def start(self) -> LiveProxy:
        """Start listening; :attr:`url` and :attr:`port` are valid afterwards.

        Raises:
            OSError: the address is in use or cannot be bound.
        """
        if self._server is None:
            self._server = await listen(
                self._handle,
                self.host,
                self._requested_port,
                ssl=self.ssl_context,
                process_request=self._open_upstream,
                max_size=self.max_size,
                logger=self._log,
            )
            self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        """Stop listening, close every relayed connection and the captures."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        for upstream, _ in self._pending.values():
            await upstream.close()
        self._pending.clear()
        if self.recorder is not None:
            self.recorder.close()

    @property
    def port(self) -> int:
        """The TCP port the proxy listens on."""
        if self._port is None:
            raise ConfigurationError("the proxy is not started: call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """``http(s)://HOST:PORT/``: the ``base_url`` to give an official SDK."""
        return server_url(
            self.host, self.port, tls=self.ssl_context is not None, http=True, path="/"
        )

    @property
    def url(self) -> str:
        """``ws(s)://HOST:PORT``: prefix a Live path to it (rawlive's ``endpoint=``)."""
        return server_url(self.host, self.port, tls=self.ssl_context is not None)

    # --------------------------------------------------------- handshake

    def _upstream_headers(self, request: Request) -> tuple[list[tuple[str, str]], bool]:
        headers: list[tuple[str, str]] = []
        has_credentials = False
        for name, value in request.headers.raw_items():
            lower = name.lower()
            if lower in _HOP_HEADERS:
                continue
            if lower in _CREDENTIAL_HEADERS:
                has_credentials = True
                self._add_secret(value.split(" ", 1)[-1] if lower == "authorization" else value)
            headers.append((name, value))
        for key, value in parse_qsl(urlsplit(request.path).query):
            if key in _CREDENTIAL_PARAMS:
                has_credentials = True
                self._add_secret(value)
        return headers, has_credentials

    def _add_secret(self, secret: str) -> None:
        secret = secret.strip()
        if len(secret) >= 8 and secret not in self.secrets:
            self.secrets.append(secret)
            self._log.secrets = tuple(self.secrets)

    async def _open_upstream(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        headers, has_credentials = self._upstream_headers(request)
        if not has_credentials and self.inject_key:
            headers.append(("x-goog-api-key", self.inject_key))
        url = self.upstream + request.path
        secure = url.startswith("wss://")
        try:
            upstream = await ws_connect(
                url,
                headers=headers,
                env_proxy=True,
                ssl=(self.upstream_ssl or True) if secure else None,
                compression=None,
                max_size=self.max_size,
                open_timeout=self.open_timeout,
                logger=self._log,
                user_agent_header=None,
            )
        except InvalidStatus as exc:
            logger.info("upstream refused %s: HTTP %s", redact_url(url), exc.response.status_code)
            return exc.response
        except (OSError, InvalidHandshake, asyncio.TimeoutError) as exc:
            logger.warning("upstream %s unreachable: %s", redact_url(url), exc)
            return connection.respond(
                HTTPStatus.BAD_GATEWAY, f"rawlive proxy: upstream unreachable: {exc}\n"
            )
        self._pending[id(connection)] = (upstream, redact_url(url))
        return None

    async def _handle(self, client: ServerConnection) -> None:
        pending = self._pending.pop(id(client), None)
        if pending is None:  # pragma: no cover - process_request always runs first
            await client.close(1011, "rawlive proxy: no upstream")
            return
        upstream, endpoint = pending
        self.connections += 1
        relay = _Connection(self, self.connections, client, upstream, endpoint)
        await relay.run()

    # --------------------------------------------------------- observing

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "REDACTED")
        return text

    def _notify_open(self, conn: int, endpoint: str, model: str | None) -> None:
        for observer in self.observers:
            observer.on_open(conn, endpoint, model)

    def _observe(self, conn: int, direction: str, payload: str | bytes) -> None:
        if not self.observers:
            return
        if self.secrets:
            payload = _scrub_payload(payload, self.secrets)
        for observer in self.observers:
            observer.on_frame(conn, direction, payload)

    def _notify_closed(
        self, conn: int, code: int, reason: str, by: str | None, dropped: bool
    ) -> None:
        reason = self._scrub(reason)
        for observer in self.observers:
            observer.on_close(conn, code, reason, by, dropped)

    def _report_lint(self, conn: int, finding: str) -> None:
        logger.info("lint: connection %d: %s", conn, finding)
        if self.on_lint is not None:
            self.on_lint(conn, finding)


def _scrub_payload(payload: str | bytes, secrets: Sequence[str]) -> str | bytes:
    if isinstance(payload, str):
        for secret in secrets:
            if secret in payload:
                payload = payload.replace(secret, "REDACTED")
        return payload
    raw = payload
    for secret in secrets:
        encoded = secret.encode("utf-8")
        if encoded in raw:
            raw = raw.replace(encoded, b"REDACTED")
    return raw
