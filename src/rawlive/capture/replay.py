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
import base64
import contextlib
import hashlib
import logging
import os
import re
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, TypeAlias, cast

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from rawlive.auth import normalize_model
from rawlive.capture.format import (
    MAX_REDACTED_BYTES,
    Capture,
    CaptureWriter,
    CloseRecord,
    FrameRecord,
    OpenRecord,
    parse_redaction_marker,
    read_capture,
)
from rawlive.errors import (
    ConfigurationError,
    LiveError,
    LocalProtocolError,
    RemoteProtocolError,
    ReplayMismatchError,
    shorten,
)
from rawlive.protocol.codec import decode_client, decode_server
from rawlive.protocol.lint import lint_message, lint_request
from rawlive.protocol.messages import ClientMessage, RealtimeInput
from rawlive.protocol.rules import (
    RULE_MODES,
    RULES,
    RuleMode,
    live_path_version,
    offered_credentials,
)
from rawlive.protocol.session import SessionState
from rawlive.redact import RedactingLogger, redact, redact_bytes, url_secrets

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


MISMATCH_CLOSE_CODE = 1007
"""The close code sent when a client frame does not match the capture."""

LIVE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
"""The path in :attr:`ReplayServer.url` (any path is served)."""

_REASON_LIMIT = 123  # bytes in a close frame's reason
_TEXT_LIMIT = 2000  # characters of a frame description kept in a mismatch or a log line

DEFAULT_MAX_SIZE = 2**24
"""The largest frame a replay server accepts (16 MiB, as the fake server)."""

MAX_MISMATCHES = 100
"""How many mismatches a replay server keeps; later ones are only counted."""
_MARKER_IN_JSON = re.compile(r'"(<redacted \d{1,10} bytes sha256=[0-9a-f]{64}>)"')
_PACES: frozenset[str] = frozenset(("fast", "original"))
# Server frames that change what the rules check (setup state, pending calls).
_STATE_KEYS: tuple[bytes, ...] = (b"setupComplete", b"setup_complete", b"toolCall", b"tool_call")
# Realtime fields in their wire spelling, in the order they are described.
_REALTIME_FIELDS: tuple[tuple[str, str], ...] = (
    ("audio", "audio"),
    ("video", "video"),
    ("text", "text"),
    ("activity_start", "activityStart"),
    ("activity_end", "activityEnd"),
    ("audio_stream_end", "audioStreamEnd"),
    ("media_chunks", "mediaChunks"),
)


# -- shapes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrameShape:
    """What replay compares of a client frame.

    Two frames match when their ``key`` values are equal; ``description`` is
    for people (mismatch reports and close reasons).

    Attributes:
        key: the compared features (see :func:`client_frame_shape`).
        description: a short readable summary such as
            ``clientContent('Hello')``.
        audio: the frame carries realtime audio and nothing else; such frames
            form audio runs.
    """

    key: tuple[Hashable, ...]
    description: str = field(compare=False)
    audio: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return self.description


def _quote(text: str, limit: int | None = None) -> str:
    # Descriptions keep texts whole so that two long texts that differ late
    # still read differently in the report; close reasons are cut separately.
    return repr(text if limit is None else shorten(text, limit))


def _is_audio_only(ri: RealtimeInput) -> bool:
    present = [name for name, _ in _REALTIME_FIELDS if getattr(ri, name) is not None]
    if ri.extra:
        return False
    if present == ["audio"]:
        return True
    # The deprecated mediaChunks form, when every chunk is audio.
    if present == ["media_chunks"] and ri.media_chunks:
        return all((c.mime_type or "").startswith("audio/") for c in ri.media_chunks)
    return False


def _shape_of(message: ClientMessage) -> FrameShape:
    keys: list[tuple[Hashable, ...]] = []
    parts: list[str] = []
    audio = False
    setup = message.setup
    if setup is not None:
        model = normalize_model(setup.model) if setup.model and setup.model.strip() else ""
        # The service answers in AUDIO when no modality is asked for, and the
        # SDK fills that in, so an absent list and ["AUDIO"] are the same.
        modalities = tuple(m.upper() for m in setup.response_modalities) or ("AUDIO",)
        resumption = setup.session_resumption
        has_handle = resumption is not None and bool(resumption.handle)
        keys.append(("setup", model, modalities, has_handle))
        parts.append(
            f"setup(model={model!r}, modalities={'+'.join(modalities)}"
            + (", handle)" if has_handle else ")")
        )
    content = message.client_content
    if content is not None:
        text = "".join(turn.text for turn in content.turns or ())
        done = bool(content.turn_complete)
        keys.append(("clientContent", text, done))
        parts.append(f"clientContent({_quote(text)}" + (")" if done else ", turnComplete=false)"))
    ri = message.realtime_input
    if ri is not None:
        names = tuple(wire for name, wire in _REALTIME_FIELDS if getattr(ri, name) is not None)
        names += tuple(sorted(ri.extra))
        keys.append(("realtimeInput", names, ri.text))
        audio = _is_audio_only(ri)
        shown = "+".join(names) or "{}"
        parts.append(
            f"realtimeInput.{shown}" + (f"({_quote(ri.text)})" if ri.text is not None else "")
        )
    tr = message.tool_response
    if tr is not None:
        responses = tr.function_responses or ()
        ids = frozenset(r.id for r in responses if r.id is not None)
        names_ = tuple(sorted(r.name or "" for r in responses))
        keys.append(("toolResponse", ids, names_))
        parts.append(f"toolResponse(ids={sorted(ids)!r}, names={list(names_)!r})")
    cu = message.context_update
    if cu is not None:
        fields = tuple(
            wire
            for name, wire in (("system_instruction", "systemInstruction"), ("tools", "tools"))
            if getattr(cu, name) is not None
        )
        keys.append(("contextUpdate", fields))
        parts.append(f"contextUpdate({', '.join(fields)})")
    for unknown in sorted(message.extra):
        keys.append((unknown,))
        parts.append(unknown)
    keys.sort(key=repr)
    return FrameShape(
        key=tuple(keys),
        description=" + ".join(parts) or "an empty object",
        audio=audio and len(keys) == 1,
    )


def unredact_audio(text: str) -> str:
    """Replace every audio redaction marker in a JSON frame with base64 silence.

    A marker ``"<redacted N bytes sha256=HEX>"`` (see
    :func:`~rawlive.capture.format.redaction_marker`) becomes the standard
    base64 of ``N`` zero bytes, which is silence in PCM16. Everything else in
    the text is kept byte for byte.

    Silence is bounded: one marker stands for at most
    :data:`~rawlive.capture.format.MAX_REDACTED_BYTES` (a larger claim is not
    a marker and stays as it is), and one frame gets at most that many bytes
    of silence in all; markers past that budget become empty audio.

    Args:
        text: the frame text (from a capture file, never from the wire).

    Returns:
        The text with markers replaced (the same object when there are none).
    """
    if "<redacted " not in text:
        return text
    budget = MAX_REDACTED_BYTES

    def silence(m: re.Match[str]) -> str:
        nonlocal budget
        parsed = parse_redaction_marker(m.group(1))
        if parsed is None:
            return m.group(0)
        nbytes = min(parsed[0], budget)
        budget -= nbytes
        return '"' + base64.b64encode(bytes(nbytes)).decode("ascii") + '"'

    return _MARKER_IN_JSON.sub(silence, text)


def _neutral_markers(text: str) -> str:
    """Replace redaction markers by empty audio: the shape never looks at audio bytes,
    and a marker that came from the wire must never be expanded."""
    if "<redacted " not in text:
        return text
    return _MARKER_IN_JSON.sub('""', text)


def client_frame_shape(frame: str | bytes) -> FrameShape:
    """Return what replay compares of one client frame.

    Both sides are decoded with :func:`~rawlive.protocol.codec.decode_client`,
    so camelCase and snake_case keys and standard and URL-safe base64 are
    equal. The shape keeps, per top-level key:

    * ``setup``: the model (``models/`` added when missing), the response
      modalities (absent counts as ``["AUDIO"]``, the service default) and
      whether a resumption handle is present (not its value);
    * ``clientContent``: the text of all turns concatenated, and turnComplete
      (absent counts as false);
    * ``realtimeInput``: which fields are set, and the text of ``text``; never
      audio or video bytes;
    * ``toolResponse``: the set of response ids and the names;
    * ``contextUpdate``: which fields are set;
    * any other key: its name.

    A frame that does not decode is compared by its exact text.

    Args:
        frame: a client frame as sent (``str``) or received (``bytes``).

    Returns:
        The frame's shape.
    """
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    text = _neutral_markers(text)
    try:
        message = decode_client(text)
    except (RemoteProtocolError, RecursionError):
        # Long text is compared by hash, so a shape never holds a huge frame.
        key = text if len(text) <= 4096 else hashlib.sha256(text.encode()).hexdigest()
        return FrameShape(
            key=(("undecodable", key),), description=f"undecodable {_quote(text, 200)}"
        )
    return _shape_of(message)


def _first_difference(expected: FrameShape, got: FrameShape, limit: int | None = None) -> str:
    """Say which setup field differs first and how to fix it ("" when not a setup mismatch).

    A close reason is cut at 123 bytes, so this lead goes first: it names the
    difference and the flag that fixes it, e.g. ``the capture expects model
    rawlive-demo, got gemini-3.8-live: pass --model rawlive-demo``. With
    ``limit``, the longest wording of at most that many UTF-8 bytes is chosen
    (the shortest, ``the capture expects --model M``, when none fits).
    """
    # The setup key is ("setup", model, modalities, has_handle); see _shape_of.
    keys = (
        [cast("tuple[object, ...]", k) for k in expected.key],
        [cast("tuple[object, ...]", k) for k in got.key],
    )
    want = next((k for k in keys[0] if k[0] == "setup"), None)
    have = next((k for k in keys[1] if k[0] == "setup"), None)
    if want is None or have is None:
        return ""
    if want[1] != have[1]:
        w, h = str(want[1]).removeprefix("models/"), str(have[1]).removeprefix("models/")
        wordings = [
            f"the capture expects model {w}, got {h}: pass --model {w}",
            f"the capture expects model {w}: pass --model {w}",
            f"the capture expects --model {w}",
        ]
    elif want[2] != have[2]:
        w = "+".join(str(m) for m in cast("tuple[str, ...]", want[2]))
        h = "+".join(str(m) for m in cast("tuple[str, ...]", have[2]))
        wordings = [f"the capture expects modality {w}, got {h}: pass --modality {w.lower()}"]
    elif want[3] != have[3]:
        wordings = [
            "the capture resumes a session: pass --resume with a handle"
            if want[3]
            else "the capture starts a new session: do not pass --resume"
        ]
    else:
        return ""
    if limit is not None:
        return next((t for t in wordings if len(t.encode("utf-8")) <= limit), wordings[-1])
    return wordings[0]


def _close_reason(expected: str, got: str, lead: str = "") -> str:
    """Return ``replay mismatch: [LEAD; ]expected X, got Y`` in at most 123 UTF-8 bytes."""

    def cut(text: str, limit: int) -> str:
        raw = text.encode("utf-8")
        if len(raw) <= limit:
            return text
        return raw[: limit - 3].decode("utf-8", "ignore") + "..."

    if lead:  # the difference and its fix come first; the rest as room allows
        return cut(f"replay mismatch: {lead}; expected {expected}, got {got}", _REASON_LIMIT)
    head = "replay mismatch: expected "
    mid = ", got "
    room = _REASON_LIMIT - len(head) - len(mid)
    exp_b, got_b = len(expected.encode("utf-8")), len(got.encode("utf-8"))
    if exp_b + got_b > room:
        half = room // 2
        if exp_b <= half:
            got = cut(got, room - exp_b)
        elif got_b <= half:
            expected = cut(expected, room - got_b)
        else:
            expected, got = cut(expected, half), cut(got, room - half)
    reason = f"{head}{expected}{mid}{got}"
    return reason.encode("utf-8")[:_REASON_LIMIT].decode("utf-8", "ignore")


# -- the per-connection script ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    record: FrameRecord | CloseRecord
    shape: FrameShape | None = None  # client frames
    skip: bool = False  # later chunks of an audio run: matched by the run's first


@dataclass(frozen=True, slots=True)
class _Script:
    conn: int
    t0: float
    steps: tuple[_Step, ...]


def _scripts(capture: Capture) -> tuple[_Script, ...]:
    scripts: list[_Script] = []
    for conn in capture.connections():
        steps: list[_Step] = []
        t0: float | None = None
        previous_audio = False
        for record in capture.records:
            if not isinstance(record, (OpenRecord, FrameRecord, CloseRecord)):
                continue
            if record.conn != conn:
                continue
            if t0 is None:
                t0 = record.t
            if isinstance(record, OpenRecord):
                continue
            if isinstance(record, FrameRecord) and record.dir == "client":
                shape = client_frame_shape(record.payload if record.data is None else record.data)
                steps.append(_Step(record, shape, skip=shape.audio and previous_audio))
                previous_audio = shape.audio
            else:
                steps.append(_Step(record))
        scripts.append(_Script(conn, t0 or 0.0, tuple(steps)))
    return tuple(scripts)


def _server_payload(record: FrameRecord) -> str | bytes:
    if record.data is None:
        return record.payload  # binary that is not UTF-8: send as recorded
    data = unredact_audio(record.data)
    return data if record.type == "text" else data.encode("utf-8")


class _Closed(Exception):
    """The client went away (internal)."""


# -- the server -----------------------------------------------------------------------


class ReplayServer:
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
        self._scripts = _scripts(self.capture)
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
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            ssl=self._ssl,
            compression=None,
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

    async def __aenter__(self) -> ReplayServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ----------------------------------------------------------- addresses

    @property
    def url(self) -> str:
        """The ``ws://`` or ``wss://`` URL to connect to (path :data:`LIVE_PATH`).

        It stays readable after :meth:`close`.

        Raises:
            LiveError: the server was never started.
        """
        if self._url is None:
            raise LiveError("replay server is not started")
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
        host = self._host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "wss" if self._ssl is not None else "ws"
        return f"{scheme}://{host}:{port}{LIVE_PATH}"

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

    def _script_for(self, index: int) -> _Script | None:
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
        log = _ConnectionLog(self._writer, index + 1, self._endpoint(ws), _secrets_of(ws))
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
                await ws.close(MISMATCH_CLOSE_CODE, _close_reason(expected, error.got))
                return
            await _Replayer(self, ws, index + 1, script, log).run()
        except (_Closed, ConnectionClosed):
            pass
        finally:
            await log.finish(ws)

    def _endpoint(self, ws: ServerConnection) -> str:
        base = self._url.split("/ws/", 1)[0] if self._url else ""
        path = ws.request.path if ws.request is not None else "/"
        return f"{base}{path}"


class _ConnectionLog:
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
                setup = decode_client(_neutral_markers(_as_text(payload))).setup
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


def _secrets_of(ws: ServerConnection) -> tuple[str, ...]:
    """The keys and tokens a client's request carried (never recorded)."""
    request = ws.request
    if request is None:
        return ()
    offered = offered_credentials(request.path, request.headers.raw_items())
    return tuple(s for s in (*offered, *url_secrets(request.path)) if len(s) >= 8)


def _as_text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode("utf-8", "replace")


class _Replayer:
    """Plays one script to one connection."""

    def __init__(
        self,
        server: ReplayServer,
        ws: ServerConnection,
        number: int,
        script: _Script,
        log: _ConnectionLog,
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
                    payload = _server_payload(record)
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
                await self._ws.close(MISMATCH_CLOSE_CODE, _close_reason(expected, error.got))
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
        raise _Closed

    async def _receive(self) -> FrameShape:
        """Return the client's next frame that is not absorbed by an audio run."""
        while True:
            try:
                frame = await self._ws.recv()
            except ConnectionClosed as exc:
                raise _Closed from exc
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
            _Closed: the frame broke a rule and the connection was closed.
        """
        if self._server.rules != "service":
            return
        state = self._state
        try:
            message = decode_client(_neutral_markers(_as_text(frame)))
        except (RemoteProtocolError, RecursionError):
            await self._refuse("undecodable", "")
            return
        pending = set(state.pending_calls) | self._cancelled
        issues = lint_message(message, setup=state.setup, pending_calls=pending)
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
        raise _Closed

    async def _expect(self, expected: FrameShape, t: float) -> bool:
        got = await self._receive()
        self._anchor_real, self._anchor_t = self._loop.time(), t
        matched = got.audio if expected.audio else got == expected
        if expected.audio and got.audio:
            self._absorbing = True
        if matched:
            return True
        lead = _first_difference(expected, got)
        error = self._server._mismatch(
            self._where(), expected.description, got.description, lead, self._log.secrets
        )
        if not self._server.strict:
            self._absorbing = expected.audio
            return True
        short = _first_difference(expected, got, _REASON_LIMIT - len("replay mismatch: "))
        await self._ws.close(MISMATCH_CLOSE_CODE, _close_reason(str(expected), error.got, short))
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
        reason = record.reason.encode("utf-8")[:_REASON_LIMIT].decode("utf-8", "ignore")
        try:
            Close(code, reason).check()
        except Exception:  # a code that cannot travel in a close frame
            self._abort()
            return
        await self._ws.close(code, reason)

    def _abort(self) -> None:
        self._ws.transport.abort()


@contextlib.asynccontextmanager
async def replay_server(
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
    rules: RuleMode = "service",
) -> AsyncIterator[ReplayServer]:
    """Run a :class:`ReplayServer` for the duration of an ``async with`` block.

    Args:
        capture, host, port, ssl_context, pace, strict, repeat, on_mismatch,
        record, rules: as for :class:`ReplayServer`.

    Returns:
        An async context manager yielding the started server.
    """
    server = ReplayServer(
        capture,
        host=host,
        port=port,
        ssl_context=ssl_context,
        pace=pace,
        strict=strict,
        repeat=repeat,
        on_mismatch=on_mismatch,
        record=record,
        rules=rules,
    )
    async with server:
        yield server


class BackgroundReplayServer:
    """A :class:`ReplayServer` running on its own event loop in a daemon thread.

    Any test can use it, synchronous or not, whatever event loop the test
    runs on. After use you must call :meth:`stop` (or use it as a context
    manager); read :attr:`mismatches` after stopping::

        with BackgroundReplayServer("fixtures/seed_text_session.jsonl") as replay:
            run_my_client(replay.url)
        replay.raise_for_mismatch()

    Args:
        capture, host, port, ssl_context, pace, strict, repeat, record, rules: as
            for :class:`ReplayServer`.

    Attributes:
        server: the :class:`ReplayServer` (its methods belong to the
            server's thread; read its results after :meth:`stop`).
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
        record: str | os.PathLike[str] | None = None,
        rules: RuleMode = "service",
    ) -> None:
        self.server = ReplayServer(
            capture,
            host=host,
            port=port,
            ssl_context=ssl_context,
            pace=pace,
            strict=strict,
            repeat=repeat,
            record=record,
            rules=rules,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

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

    def start(self, timeout: float = 10.0) -> BackgroundReplayServer:
        """Start the thread and wait until the server listens; return ``self``.

        Raises:
            LiveError: already started, or the server did not start in time.
            OSError: the address cannot be bound.
        """
        if self._thread is not None:
            raise LiveError("background replay server is already started")
        loop = asyncio.new_event_loop()
        ready: asyncio.Future[None] = loop.create_future()

        async def begin() -> None:
            try:
                await self.server.start()
            except BaseException as exc:
                ready.set_exception(exc)
                raise
            ready.set_result(None)

        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(begin())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=main, name="rawlive-replay", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise LiveError(f"replay server did not start within {timeout} s")
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection, stop the server and join the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.server.close(), loop)
        with contextlib.suppress(Exception):
            future.result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    def __enter__(self) -> BackgroundReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


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
