"""Replay a capture as a Live API server, for tests and for ``rawlive serve``.

:class:`ReplayServer` listens on a loopback port and plays the *server* side of
a capture (see ``docs/capture-format.md``) to whatever client connects: rawlive
itself, the official SDK, or any other Live API client. Connection *k* of the
capture is played to the *k*-th incoming connection, whatever URL path it asks
for (the SDK's ``//ws/...`` included).

Theory of operation: each connection walks its capture records in file order::

    client frame  wait for the client's next frame and compare its *shape*
    server frame  send it with the recorded frame type and exact payload
                  (redaction markers become zero bytes of the recorded length)
    close         by the server: close with the recorded code and reason;
                  dropped: abort the TCP connection, no close frame;
                  by the client: stop and wait for the client to close
    (end)         keep the socket open until the client closes

Client frames are compared by shape, not bytes (:func:`client_frame_shape`),
so casing, key order, base64 alphabet, resumption handles and audio bytes may
all differ. Consecutive ``realtimeInput.audio`` frames of the capture form one
*audio run*: any number (at least one) of audio frames from the client matches
it, until a frame that is not audio arrives. The first audio frame matches the
whole run; the server frames recorded between the run's chunks then follow at
once (``pace="fast"``) or at their recorded offsets from the run's first chunk
(``pace="original"``), so a client that streams in real time hears them about
when it did during the recording.

Before matching, each client frame goes through the rules of the outgoing
lint (:data:`rawlive.protocol.rules.RULES`, ``rules="service"``, the default):
a frame the service would refuse (a second setup, ``mediaChunks``, a Live URL
on API version ``v1``, ...) closes the connection with the service's own code
and reason, as the real service would have, whatever the capture says next.

A frame that does not match is a *mismatch*: the server records a
:class:`~rawlive.errors.ReplayMismatchError` in :attr:`ReplayServer.mismatches`
and, when ``strict`` (the default), closes the connection with code 1007
(:data:`MISMATCH_CLOSE_CODE`) and the reason ``replay mismatch: expected X,
got Y``. When a setup differs, the reason leads with the first difference and
its fix (``the capture expects model M: pass --model M; expected ...``), since
close reasons are cut at 123 bytes. 1007 is what the real service sends for a
payload it will not accept, so clients exercise the error path they need anyway, and it is never
retryable: sending the same frames again cannot help.

:class:`BackgroundReplayServer` runs a replay server on its own event loop in
a thread, for synchronous tests and for the pytest plugin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias

from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed

from rawlive.auth import LIVE_PATH  # the path in ReplayServer.url (any path is served)
from rawlive.capture.format import Capture, CaptureWriter, read_capture
from rawlive.capture.markers import unredact_audio
from rawlive.capture.replay_connection import Closed, ConnectionLog, Replayer, secrets_of
from rawlive.capture.replay_match import (
    MISMATCH_CLOSE_CODE,
    FrameShape,
    Script,
    client_frame_shape,
    close_reason,
    scripts,
)
from rawlive.errors import (
    ConfigurationError,
    LiveError,
    ReplayMismatchError,
    ServerNotStartedError,
    shorten,
)
from rawlive.protocol.rules import RULE_MODES, RuleMode
from rawlive.redact import RedactingLogger, redact
from rawlive.serving import DEFAULT_MAX_SIZE, BackgroundServer, Serving, listen, server_url

__all__ = [
    "DEFAULT_MAX_SIZE",
    "LIVE_PATH",
    "MAX_MISMATCHES",
    "MISMATCH_CLOSE_CODE",
    "BackgroundReplayServer",
    "FrameShape",
    "Pace",
    "ReplayServer",
    "client_frame_shape",
    "replay_server",
    "serve_capture_forever",
    "unredact_audio",
]

logger = logging.getLogger("rawlive.replay")

Pace: TypeAlias = Literal["fast", "original"]
"""``"fast"`` sends server frames at once; ``"original"`` keeps the recorded gaps."""


_TEXT_LIMIT = 2000  # characters of a frame description kept in a mismatch or a log line

MAX_MISMATCHES = 100
"""How many mismatches a replay server keeps; later ones are only counted."""
_PACES: frozenset[str] = frozenset(("fast", "original"))


# -- the server -----------------------------------------------------------------------


class ReplayServer(Serving):
    """A WebSocket server that plays the server side of a capture.

    Use it as an async context manager, or call :meth:`start` and then
    :meth:`close`::

        async with ReplayServer("fixtures/seed_text_session.jsonl") as server:
            async with rawlive.connect("gemini-2.0-flash-live-001",
                                       endpoint=server.url) as session:
                ...
        server.raise_for_mismatch()

    Args:
        capture: a capture file path, or a :class:`~rawlive.capture.Capture`.
        host: the address to listen on (loopback by default).
        port: the port; 0 picks a free one (read it back from :attr:`port`).
        ssl_context: a server-side TLS context; the URL is then ``wss://``
            (see :mod:`rawlive.capture.tls` for a test certificate).
        pace: ``"fast"`` (default) sends server frames as soon as they are
            due; ``"original"`` keeps the recorded gaps, measured from the
            last matched client frame.
        strict: on a mismatch, close the connection with 1007 (default).
            When false, mismatches are still recorded but the replay goes on
            as if the frame had matched, and extra client frames are ignored.
        repeat: after the capture's last connection, play its first one
            again to the next client (for ``rawlive serve``); by default an
            extra connection is a mismatch.
        on_mismatch: called with each mismatch as it happens (in the server's
            event loop).
        record: write what really crossed the wire to this capture file
            (mode 0600): the client's frames as received and the frames
            served, per connection. Headers, and so API keys, are never
            recorded; ``key``/``access_token`` query values are redacted.
            Use it to see exactly what a client under test sends.
        max_size: the largest client frame accepted, in bytes (default
            :data:`DEFAULT_MAX_SIZE`, 16 MiB; ``None``: no limit). A larger
            frame closes that connection with 1009; others are unaffected.
        rules: ``"service"`` (default) closes on a frame the service would
            refuse, with its code and reason (see :mod:`rawlive.protocol.rules`);
            ``"lenient"`` only compares shapes. Independent of ``strict``.

    Attributes:
        capture: the capture being played.
        mismatches: the first :data:`MAX_MISMATCHES` mismatches, in order;
            each description is cut to 2,000 characters.
        dropped_mismatches: how many later mismatches were counted, not kept.
        served: how many connections were accepted.

    Raises:
        ConfigurationError: ``pace`` is not ``"fast"`` or ``"original"``.
        CaptureFormatError: the capture file is malformed.
        OSError: the capture file cannot be read.
    """

    def __init__(
        self,
        capture: str | os.PathLike[str] | Capture,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        pace: Pace = "fast",
        strict: bool = True,
        repeat: bool = False,
        on_mismatch: Callable[[ReplayMismatchError], None] | None = None,
        record: str | os.PathLike[str] | None = None,
        max_size: int | None = DEFAULT_MAX_SIZE,
        rules: RuleMode = "service",
    ) -> None:
        if pace not in _PACES:
            raise ConfigurationError(f"pace must be 'fast' or 'original', got {pace!r}")
        if rules not in RULE_MODES:
            raise ConfigurationError(f"rules must be 'service' or 'lenient', got {rules!r}")
        self.rules: RuleMode = rules
        if isinstance(capture, Capture):
            self.capture = capture
            self._name = "<capture>"
        else:
            self.capture = read_capture(capture)
            self._name = os.fspath(capture)
        self._scripts = scripts(self.capture)
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self.pace: Pace = pace
        self.strict = strict
        self.repeat = repeat
        self._on_mismatch = on_mismatch
        self.mismatches: list[ReplayMismatchError] = []
        self.served = 0
        self._server: Server | None = None
        self._url: str | None = None
        self._record = record
        self._writer: CaptureWriter | None = None
        self._max_size = max_size
        self.dropped_mismatches = 0

    def __repr__(self) -> str:
        where = self._url or "not started"
        return f"<ReplayServer {self._name!r} {where} mismatches={len(self.mismatches)}>"

    # ----------------------------------------------------------- lifecycle

    async def start(self) -> ReplayServer:
        """Start listening; return ``self``.

        Raises:
            LiveError: the server is already started.
            OSError: the address cannot be bound.
        """
        if self._server is not None:
            raise LiveError("replay server is already started")
        if self._record is not None:
            self._writer = CaptureWriter(self._record, source=f"rawlive replay of {self._name}")
        self._server = await listen(
            self._handle,
            self._host,
            self._port,
            ssl=self._ssl,
            max_size=self._max_size,
            logger=RedactingLogger(logging.getLogger("websockets.server")),
        )
        self._url = self._url_of(self._server)
        logger.debug("replaying %s at %s", self._name, self.url)
        return self

    async def close(self) -> None:
        """Close every connection (1001) and stop listening. Calling it again does nothing."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await server.wait_closed()
        if self._writer is not None:
            self._writer.close()

    # ----------------------------------------------------------- addresses

    @property
    def url(self) -> str:
        """The ``ws://`` or ``wss://`` URL to connect to (path :data:`LIVE_PATH`).

        It stays readable after :meth:`close`.

        Raises:
            LiveError: the server was never started.
        """
        if self._url is None:
            raise ServerNotStartedError("replay server is not started: call start() first")
        return self._url

    @property
    def port(self) -> int:
        """The port listened on.

        Raises:
            LiveError: the server was never started.
        """
        return int(self.url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])

    def _url_of(self, server: Server) -> str:
        port = server.sockets[0].getsockname()[1]
        return server_url(self._host, port, tls=self._ssl is not None, path=LIVE_PATH)

    @property
    def base_url(self) -> str:
        """The ``http(s)://host:port/`` form the official SDK takes as ``base_url``."""
        scheme, rest = self.url.split("://", 1)
        host = rest.split("/", 1)[0]
        return f"{'https' if scheme == 'wss' else 'http'}://{host}/"

    # ------------------------------------------------------------- results

    def raise_for_mismatch(self) -> None:
        """Raise the first mismatch, if there was one.

        Raises:
            ReplayMismatchError: a client frame did not match the capture.
        """
        if self.mismatches:
            raise self.mismatches[0]

    def report(self) -> str:
        """Return a readable summary of every mismatch (empty when there were none)."""
        if not self.mismatches:
            return ""
        count = len(self.mismatches) + self.dropped_mismatches
        lines = [f"replay of {self._name}: {count} mismatch{'es' if count > 1 else ''}"]
        lines.extend(f"  {m}" for m in self.mismatches)
        if self.dropped_mismatches:
            lines.append(f"  ... and {self.dropped_mismatches} more not kept")
        return "\n".join(lines)

    # ---------------------------------------------------------- connection

    def _script_for(self, index: int) -> Script | None:
        if not self._scripts:
            return None
        if self.repeat:
            return self._scripts[index % len(self._scripts)]
        return self._scripts[index] if index < len(self._scripts) else None

    def _mismatch(
        self,
        where: str,
        expected: str,
        got: str,
        lead: str = "",
        secrets: tuple[str, ...] = (),
    ) -> ReplayMismatchError:
        lead = f"{lead}; " if lead else ""
        # The client's own key may be in what it sent: never in reports or logs.
        expected, got = shorten(expected, _TEXT_LIMIT), shorten(redact(got, *secrets), _TEXT_LIMIT)
        error = ReplayMismatchError(
            f"{where}: {lead}expected {expected}, got {got}", expected=expected, got=got
        )
        if len(self.mismatches) < MAX_MISMATCHES:
            self.mismatches.append(error)
        else:
            self.dropped_mismatches += 1
        logger.info("replay mismatch: %s", error)
        if self._on_mismatch is not None:
            self._on_mismatch(error)
        return error

    async def _handle(self, ws: ServerConnection) -> None:
        index = self.served
        self.served += 1
        log = ConnectionLog(self._writer, index + 1, self._endpoint(ws), secrets_of(ws))
        script = self._script_for(index)
        try:
            if script is None:
                got = "a connection"
                with contextlib.suppress(asyncio.TimeoutError, ConnectionClosed):
                    # Say what the client sent first, when it says it quickly.
                    first = await asyncio.wait_for(ws.recv(), 1.0)
                    log.frame("client", first)
                    got = f"a connection sending {client_frame_shape(first)}"
                expected = f"at most {len(self._scripts)} connection(s)"
                error = self._mismatch(
                    f"connection #{index + 1}", expected, got, secrets=log.secrets
                )
                await ws.close(MISMATCH_CLOSE_CODE, close_reason(expected, error.got))
                return
            await Replayer(self, ws, index + 1, script, log).run()
        except (Closed, ConnectionClosed):
            pass
        finally:
            await log.finish(ws)

    def _endpoint(self, ws: ServerConnection) -> str:
        base = self._url.split("/ws/", 1)[0] if self._url else ""
        path = ws.request.path if ws.request is not None else "/"
        return f"{base}{path}"


replay_server = ReplayServer
"""``async with replay_server(capture, ...) as server:`` is ``async with ReplayServer(...)``.

The old name of the context manager, kept as an alias so that it can never
drift from :class:`ReplayServer`'s signature.
"""


class BackgroundReplayServer(BackgroundServer[ReplayServer]):
    """A :class:`ReplayServer` running on its own event loop in a daemon thread.

    Any test can use it, synchronous or not, whatever event loop the test
    runs on. After use you must call :meth:`stop` (or use it as a context
    manager); read :attr:`mismatches` after stopping::

        with BackgroundReplayServer("fixtures/seed_text_session.jsonl") as replay:
            run_my_client(replay.url)
        replay.raise_for_mismatch()

    Args:
        capture: the capture to play, as for :class:`ReplayServer`.
        options: keyword arguments for :class:`ReplayServer` (``host``,
            ``port``, ``ssl_context``, ``pace``, ``strict``, ``repeat``,
            ``record``, ``rules``, ...).

    Attributes:
        server: the :class:`ReplayServer` (its methods belong to the
            server's thread; read its results after :meth:`stop`).

    Raises:
        ConfigurationError, CaptureFormatError, OSError: as :class:`ReplayServer`
            raises them, here (not in :meth:`start`).
    """

    def __init__(self, capture: str | os.PathLike[str] | Capture, **options: Any) -> None:
        server = ReplayServer(capture, **options)

        async def begin() -> ReplayServer:
            await server.start()
            return server

        super().__init__(begin)
        self._server = server  # there before start(): its results stay readable after stop()

    def __repr__(self) -> str:
        return f"<BackgroundReplayServer {self.server!r}>"

    @property
    def url(self) -> str:
        """The server's URL (see :attr:`ReplayServer.url`)."""
        return self.server.url

    @property
    def mismatches(self) -> Sequence[ReplayMismatchError]:
        """The mismatches so far."""
        return tuple(self.server.mismatches)

    def raise_for_mismatch(self) -> None:
        """Raise the first mismatch, if any (see :meth:`ReplayServer.raise_for_mismatch`)."""
        self.server.raise_for_mismatch()


async def serve_capture_forever(
    path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    pace: Pace = "fast",
    strict: bool = True,
    on_ready: Callable[[str], None] | None = None,
    on_mismatch: Callable[[ReplayMismatchError], None] | None = None,
    rules: RuleMode = "service",
) -> None:
    """Serve a capture until cancelled (the ``rawlive serve`` command).

    Connections wrap around: after the capture's last connection, the next
    client gets the first one again, so an app can be restarted against the
    same server.

    Args:
        path: the capture file.
        host: the address to listen on.
        port: the port (0 picks a free one; ``on_ready`` gets the URL).
        tls_cert: a PEM certificate chain; with ``tls_key``, serve ``wss://``.
        tls_key: the PEM private key of ``tls_cert``.
        pace: ``"fast"`` or ``"original"`` (see :class:`ReplayServer`).
        strict: close a connection on a mismatch (see :class:`ReplayServer`).
        on_ready: called once with the URL when the server listens.
        on_mismatch: called with each mismatch as it happens.
        rules: ``"service"`` or ``"lenient"`` (see :class:`ReplayServer`).

    Raises:
        ConfigurationError: only one of ``tls_cert`` and ``tls_key`` is given,
            or ``pace`` is invalid.
        CaptureFormatError: the capture is malformed.
        OSError: a file cannot be read or the address cannot be bound.
    """
    from rawlive.capture.tls import server_ssl_context

    if (tls_cert is None) != (tls_key is None):
        raise ConfigurationError("give both a TLS certificate and its key, or neither")
    context = None
    if tls_cert is not None and tls_key is not None:
        try:
            context = server_ssl_context(tls_cert, tls_key)
        except ssl.SSLError as exc:
            raise ConfigurationError(
                f"cannot use TLS certificate {os.fspath(tls_cert)!r} with key "
                f"{os.fspath(tls_key)!r}: {exc.reason or exc}"
            ) from None
    server = ReplayServer(
        path,
        host=host,
        port=port,
        ssl_context=context,
        pace=pace,
        strict=strict,
        repeat=True,
        on_mismatch=on_mismatch,
        rules=rules,
    )
    async with server:
        if on_ready is not None:
            on_ready(server.url)
        await asyncio.Future()  # until cancelled
