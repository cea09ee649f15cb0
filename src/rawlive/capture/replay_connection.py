"""One served replay connection: play its script, apply the service rules, record it.

:class:`Replayer` walks one connection's :class:`~rawlive.capture.replay_match.Script`
(send server frames, wait for and compare client frames, close as recorded)
for a :class:`~rawlive.capture.replay.ReplayServer`; :class:`ConnectionLog`
writes what crossed the wire to the server's own capture when it records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Literal, cast

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from rawlive.capture.jsonio import spellings
from rawlive.capture.markers import decode_received_client
from rawlive.capture.records import CloseRecord, FrameRecord
from rawlive.capture.replay_match import (
    MISMATCH_CLOSE_CODE,
    FrameShape,
    Script,
    client_frame_shape,
    close_reason,
    first_difference,
    server_payload,
)
from rawlive.capture.writer import CaptureWriter
from rawlive.closecodes import CLOSE_REASON_LIMIT, cut_reason
from rawlive.errors import LocalProtocolError, RemoteProtocolError
from rawlive.protocol.codec import decode_server
from rawlive.protocol.lint import lint_message, lint_request
from rawlive.protocol.rules import RULES, backend_of, live_path_version, offered_credentials
from rawlive.protocol.session import SessionState
from rawlive.redact import redact, redact_bytes, url_secrets

if TYPE_CHECKING:
    from rawlive.capture.replay import ReplayServer

__all__ = ["Closed", "ConnectionLog", "Replayer", "secrets_of"]

logger = logging.getLogger("rawlive.replay")

# Server frames that change what the rules check (setup state, pending calls).
_STATE_KEYS: tuple[bytes, ...] = tuple(
    key.encode() for kind in ("setupComplete", "toolCall") for key in spellings(kind)
)


class Closed(Exception):
    """The client went away (internal)."""


class ConnectionLog:
    """Writes one served connection to the server's own capture (when recording)."""

    def __init__(
        self, writer: CaptureWriter | None, conn: int, endpoint: str, secrets: tuple[str, ...]
    ) -> None:
        self._writer = writer
        self.secrets = secrets
        self._conn = conn
        self._endpoint = endpoint
        self._t_open = writer.elapsed() if writer is not None else 0.0
        self._opened = False

    def _open(self, model: str | None) -> None:
        if self._writer is not None and not self._opened:
            self._opened = True
            self._writer.open_conn(self._conn, self._endpoint, model, t=self._t_open)

    def frame(self, direction: Literal["client", "server"], payload: str | bytes) -> None:
        if self._writer is None or self._writer.closed:
            return
        if not self._opened:
            model = None
            with contextlib.suppress(RemoteProtocolError, RecursionError):
                setup = decode_received_client(payload).setup
                model = setup.model if setup is not None else None
            self._open(model)
        if self.secrets:  # a client may send its own key inside a frame
            if isinstance(payload, str):
                payload = redact(payload, *self.secrets)
            else:
                payload = redact_bytes(payload, *self.secrets)
        self._writer.frame(self._conn, direction, payload)

    async def finish(self, ws: ServerConnection) -> None:
        if self._writer is None or self._writer.closed:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ws.wait_closed(), 2.0)
        self._open(None)
        protocol = ws.protocol
        rcvd, sent = protocol.close_rcvd, protocol.close_sent
        if rcvd is not None and (sent is None or protocol.close_rcvd_then_sent):
            self._writer.close_conn(
                self._conn, rcvd.code, redact(rcvd.reason, *self.secrets), "client"
            )
        elif sent is not None:
            self._writer.close_conn(self._conn, sent.code, sent.reason, "server")
        else:
            self._writer.close_conn(self._conn, 1006, "", None, dropped=True)


def secrets_of(ws: ServerConnection) -> tuple[str, ...]:
    """The keys and tokens a client's request carried (never recorded)."""
    request = ws.request
    if request is None:
        return ()
    offered = offered_credentials(request.path, request.headers.raw_items())
    return tuple(s for s in (*offered, *url_secrets(request.path)) if len(s) >= 8)


class Replayer:
    """Plays one script to one connection."""

    def __init__(
        self,
        server: ReplayServer,
        ws: ServerConnection,
        number: int,
        script: Script,
        log: ConnectionLog,
    ) -> None:
        self._server = server
        self._log = log
        self._ws = ws
        self._number = number
        self._script = script
        self._loop = asyncio.get_running_loop()
        self._anchor_real = self._loop.time()
        self._anchor_t = script.t0
        self._absorbing = False  # inside an audio run: audio frames are absorbed
        self._received = 0
        request = ws.request
        self._path = request.path if request is not None else "/"
        offered = offered_credentials(self._path, request.headers.raw_items() if request else ())
        self._ephemeral = any(c.startswith("auth_tokens/") for c in offered)
        self._state = SessionState()  # what the rules need: the setup, pending calls
        self._cancelled: set[str] = set()

    async def run(self) -> None:
        steps = self._script.steps
        for step in steps:
            record = step.record
            if isinstance(record, FrameRecord):
                if record.dir == "server":
                    await self._pace(record.t)
                    payload = server_payload(record)
                    await self._ws.send(payload)
                    self._log.frame("server", payload)
                    self._track(payload)
                elif not step.skip:
                    assert step.shape is not None
                    if not await self._expect(step.shape, record.t):
                        return
            else:
                if record.by == "client":
                    break  # the client closes; wait for it below
                await self._pace(record.t)
                await self._close_as_recorded(record)
                return
        # The capture has no more client frames for this connection: wait for
        # the client to close; anything else it sends is a mismatch.
        while True:
            shape = await self._receive()
            expected = "no more client frames"
            error = self._server._mismatch(
                self._where(), expected, shape.description, secrets=self._log.secrets
            )
            if self._server.strict:
                await self._ws.close(MISMATCH_CLOSE_CODE, close_reason(expected, error.got))
                return

    def _where(self) -> str:
        return f"connection #{self._number}, client frame #{self._received}"

    async def _pace(self, t: float) -> None:
        if self._server.pace != "original":
            return
        delay = self._anchor_real + (t - self._anchor_t) - self._loop.time()
        if delay <= 0:
            return
        # Sleep, but wake up when the connection closes (the client left or
        # the server is shutting down): a recorded gap can be minutes long.
        try:
            await asyncio.wait_for(self._ws.wait_closed(), delay)
        except asyncio.TimeoutError:
            return
        raise Closed

    async def _receive(self) -> FrameShape:
        """Return the client's next frame that is not absorbed by an audio run."""
        while True:
            try:
                frame = await self._ws.recv()
            except ConnectionClosed as exc:
                raise Closed from exc
            self._log.frame("client", frame)
            self._received += 1
            await self._apply_rules(frame)
            shape = client_frame_shape(frame)
            if self._absorbing and shape.audio:
                continue
            self._absorbing = False
            return shape

    def _track(self, payload: str | bytes) -> None:
        """Follow the server frames the rules depend on (setupComplete, tool calls)."""
        raw = payload.encode("utf-8") if isinstance(payload, str) else payload
        if self._server.rules != "service" or not any(k in raw for k in _STATE_KEYS):
            return
        state = self._state
        before = set(state.pending_calls)
        with contextlib.suppress(RemoteProtocolError, LocalProtocolError):
            state.on_receive(decode_server(raw))
        # A response to a call the server cancelled is a race the service forgives.
        self._cancelled |= before - set(state.pending_calls)

    async def _apply_rules(self, frame: str | bytes) -> None:
        """Close as the service would when ``frame`` breaks one of its rules.

        Raises:
            Closed: the frame broke a rule and the connection was closed.
        """
        if self._server.rules != "service":
            return
        state = self._state
        try:
            message = decode_received_client(frame)
        except (RemoteProtocolError, RecursionError):
            await self._refuse("undecodable", "")
            return
        pending = set(state.pending_calls) | self._cancelled
        issues = lint_message(
            message, setup=state.setup, pending_calls=pending, backend=backend_of(self._path)
        )
        if state.setup is None and message.setup is not None:
            issues += lint_request(self._path, ephemeral=self._ephemeral)
        model = message.setup.model if message.setup is not None else None
        if issues:
            await self._refuse(issues[0].rule, model or "")
        with contextlib.suppress(LocalProtocolError):
            state.on_send(message)

    async def _refuse(self, rule: str, model: str) -> None:
        spec = RULES[rule]
        parsed = live_path_version(self._path)
        reason = spec.close_reason(model=model, version=parsed[0] if parsed else "v1beta")
        logger.info("%s: refused by the service rule %s", self._where(), rule)
        await self._ws.close(spec.code, reason)
        raise Closed

    async def _expect(self, expected: FrameShape, t: float) -> bool:
        got = await self._receive()
        self._anchor_real, self._anchor_t = self._loop.time(), t
        matched = got.audio if expected.audio else got == expected
        if expected.audio and got.audio:
            self._absorbing = True
        if matched:
            return True
        lead = first_difference(expected, got)
        error = self._server._mismatch(
            self._where(), expected.description, got.description, lead, self._log.secrets
        )
        if not self._server.strict:
            self._absorbing = expected.audio
            return True
        short = first_difference(expected, got, CLOSE_REASON_LIMIT - len("replay mismatch: "))
        await self._ws.close(MISMATCH_CLOSE_CODE, close_reason(str(expected), error.got, short))
        return False

    async def _close_as_recorded(self, record: CloseRecord) -> None:
        code = record.code
        if record.dropped or code in (1006, 1015):
            self._abort()
            return
        if code == 1005:
            # A close frame without a code: websockets' protocol layer sends
            # one when the code is None.
            await self._ws.close(cast(int, None))
            return
        reason = cut_reason(record.reason)
        try:
            Close(code, reason).check()
        except Exception:  # a code that cannot travel in a close frame
            self._abort()
            return
        await self._ws.close(code, reason)

    def _abort(self) -> None:
        self._ws.transport.abort()
